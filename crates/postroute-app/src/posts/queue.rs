//! "Add to queue": a post takes the earliest slot time free on all of its channels.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use postroute_domain::PostId;
use postroute_domain::schedule::next_free_slot;
use postroute_store::Post;

use super::PostService;
use crate::channels::{stored_week, zone_of};
use crate::workspaces::Caller;
use crate::{Refusal, clock};

impl PostService {
    /// Schedules the post at the earliest slot time of its channels that none of them has given
    /// to another post yet, under the same rules as [`PostService::schedule`].
    pub async fn queue(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
    ) -> Result<Post, Refusal> {
        let post = self.get(caller, id).await?;
        let channels = post.channel_ids();
        let tenant = self.store.tenant(caller.workspace.id);
        let stored = tenant.slots_of_channels(&channels).await?;
        let slots = stored_week(&stored)?;
        let now = clock::now();
        let taken: BTreeSet<DateTime<Utc>> =
            tenant.times_taken_on(&channels, id, now).await?.into_iter().collect();
        let Some(at) = next_free_slot(&slots, zone_of(caller)?, now, &taken) else {
            return Err(Refusal::Unprocessable {
                code: "no_slots",
                detail: "None of this post's channels has posting slots; set some, or schedule \
                         it at a time."
                    .to_owned(),
            });
        };
        self.schedule(caller, id, seen, at).await
    }
}
