//! The simulated Azure DevOps organization (`/sim-org`): Boards work items generated from
//! the issue population, with their revisions, over Azure's REST shapes.

pub mod routes;
pub mod site;
