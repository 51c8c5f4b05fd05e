//! Operator and staff work that spans every workspace: key rotation today. One of the few places
//! allowed to use `Store::cross_tenant_unscoped`.

pub mod keys;
