//! The simulated Azure DevOps organization (`/sim-org`): Boards work items generated from
//! the issue population, with their revisions, and Repos pull requests generated from the
//! pull request population, over Azure's REST shapes.

pub mod pulls;
pub mod repos_routes;
pub mod routes;
pub mod site;
