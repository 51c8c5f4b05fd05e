//! The one way system events are written (S-LOG-2): to the staff-only log table, and to the
//! process log so that an operator tailing it sees security events at once.

use postroute_domain::{NewSystemEvent, Severity};
use postroute_store::Store;

use crate::clock;

/// Records `event`. A failure to record is logged, never turned into a different answer to the
/// client: a refused login stays refused whether or not its event could be written.
pub async fn record(store: &Store, event: NewSystemEvent) {
    let kind = event.kind.as_str();
    let ip = event.ip.map(|ip| ip.to_string());
    match event.kind.severity() {
        Severity::Critical => {
            tracing::warn!(event = kind, ip, security = event.kind.is_security(), "system event")
        }
        Severity::Warning | Severity::Info => {
            tracing::info!(event = kind, ip, security = event.kind.is_security(), "system event")
        }
    }
    if let Err(error) = store.system_events().record(&event, clock::now()).await {
        tracing::error!(event = kind, error = display(&error), "could not record a system event");
    }
}
