//! One file per job. Billing's jobs will be further files here.
//!
//! The cross-workspace jobs are among the few callers of `Store::cross_tenant_unscoped`: they
//! find due work in every workspace, then act on each item through that item's tenant scope.

pub mod mail_delivery;
pub mod publish;
pub mod purge;
pub mod retention;
pub mod token_refresh;
