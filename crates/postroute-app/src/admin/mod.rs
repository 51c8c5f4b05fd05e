//! Operator and staff work that spans every workspace: key rotation, backups, and what staff
//! may see and do. One of the few places allowed to use `Store::cross_tenant_unscoped`.

pub mod backup;
pub mod keys;
pub mod publishing;
pub mod staff;
