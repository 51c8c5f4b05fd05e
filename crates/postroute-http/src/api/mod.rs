//! The JSON API's handlers, one file per resource. Each reads as its policy: the extractors in
//! its signature authenticate and authorise, the service decides, and a refusal leaves as
//! problem+json through `crate::problem`.

pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod channels;
pub(crate) mod health;
pub(crate) mod me;
pub(crate) mod media;
pub(crate) mod posts;
pub(crate) mod slots;
pub(crate) mod webhooks;
pub(crate) mod well_known;
pub(crate) mod workspaces;
