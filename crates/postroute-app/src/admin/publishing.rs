//! The operator's hand on publishing across the deployment: `postroute admin
//! resume-publishing PROVIDER` ends a pause the publisher set (X's 402, once the app's credits
//! are topped up) before it would run out.

use postroute_domain::{NewSystemEvent, Provider, SystemEventKind};
use postroute_store::Store;
use serde_json::json;

use crate::{Refusal, clock, system_events};

/// Resumes `provider`'s publishing now; `false` when it was not paused. Recorded as a system
/// event either way it ends a pause.
pub async fn resume_publishing(store: &Store, provider: &str) -> Result<bool, Refusal> {
    let provider: Provider = provider.parse().map_err(|_| {
        Refusal::invalid("provider", "must be one of x, facebook, instagram".to_owned())
    })?;
    let resumed =
        store.cross_tenant_unscoped().publishing().resume_provider(provider, clock::now()).await?;
    if resumed {
        let event = NewSystemEvent::new(SystemEventKind::PublishingResumed)
            .details(json!({ "provider": provider.as_str(), "via": "command line" }));
        system_events::record(store, event).await;
    }
    Ok(resumed)
}
