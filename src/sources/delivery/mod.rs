//! Delivery tables every source with deployments shares: deployments and releases, which
//! production deployment first shipped each merged pull request, and the four DORA keys
//! computed from them and from incidents.

pub mod dora;
pub mod drill;
pub mod rows;
pub mod shipping;
