//! Jobs that act across workspaces on their own schedule. They are among the few callers of
//! `Store::cross_tenant_unscoped`: they find due work in every workspace, then act on each item
//! through that item's tenant scope.

pub mod purge;
pub mod retention;
pub mod token_refresh;
