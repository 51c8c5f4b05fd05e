//! What every handler can reach: the application's services, shared by one cheap clone.

use std::sync::Arc;

use postroute_app::Services;

/// What every handler can reach: the application's services, shared by one cheap clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The state over `services`.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}
