//! A channel's weekly posting slots (`GET`/`PUT .../channels/{id}/slots`): wall-clock times in
//! the workspace's zone that "add to queue" fills.

use chrono_tz::Tz;
use postroute_domain::schedule::{Slot, WeeklySlots};
use postroute_domain::{Action, AuditAction, ChannelId, role_allows};

use super::ChannelService;
use crate::workspaces::Caller;
use crate::{Refusal, clock};

/// A channel's slots, with the zone they are read in.
#[derive(Clone, Debug)]
pub struct ChannelSlots {
    /// The workspace's IANA time zone.
    pub timezone: String,
    /// The slots, Monday first, each once.
    pub slots: WeeklySlots,
}

/// A slot as a client sends it: api.md's `{weekday: "mon", time: "09:30"}`.
#[derive(Clone, Debug)]
pub struct RequestedSlot {
    /// `mon` … `sun`.
    pub weekday: String,
    /// `HH:MM`, 24-hour.
    pub time: String,
}

impl ChannelService {
    /// The slots of `channel`.
    pub async fn slots(
        &self,
        caller: &Caller,
        channel: ChannelId,
    ) -> Result<ChannelSlots, Refusal> {
        let stored = self
            .store
            .tenant(caller.workspace.id)
            .channel_slots(channel)
            .await?
            .ok_or(Refusal::NotFound)?;
        Ok(ChannelSlots {
            timezone: caller.workspace.timezone.clone(),
            slots: stored_week(&stored)?,
        })
    }

    /// Replaces the slots of `channel` (owners and admins).
    pub async fn set_slots(
        &self,
        caller: &Caller,
        channel: ChannelId,
        requested: &[RequestedSlot],
    ) -> Result<ChannelSlots, Refusal> {
        if !role_allows(caller.role, Action::SetChannelSlots) {
            return Err(Refusal::Forbidden(format!(
                "Your role ({}) may not change posting slots.",
                caller.role
            )));
        }
        let mut problems = Vec::new();
        let mut slots = Vec::new();
        for (index, slot) in requested.iter().enumerate() {
            match Slot::parse(&slot.weekday, &slot.time) {
                Ok(slot) => slots.push(slot),
                Err(error) => problems.push((format!("slots[{index}]"), error.to_string())),
            }
        }
        if !problems.is_empty() {
            return Err(Refusal::invalid_fields(problems));
        }
        let slots = WeeklySlots::new(slots)
            .map_err(|error| Refusal::invalid("slots", error.to_string()))?;
        let stored: Vec<(String, String)> = slots
            .slots()
            .iter()
            .map(|slot| (slot.weekday_name().to_owned(), slot.time_text()))
            .collect();
        let audit = caller
            .audit(AuditAction::ChannelSlotsChanged)
            .target("channel", channel)
            .details(serde_json::json!({ "slots": stored.len() }));
        let tenant = self.store.tenant(caller.workspace.id);
        if !tenant.replace_channel_slots(channel, &stored, &audit, clock::now()).await? {
            return Err(Refusal::NotFound);
        }
        Ok(ChannelSlots { timezone: caller.workspace.timezone.clone(), slots })
    }
}

/// Slots as the store keeps them, as a week; they were checked on the way in, so one that does
/// not parse is a fault of ours.
pub(crate) fn stored_week(stored: &[(String, String)]) -> Result<WeeklySlots, Refusal> {
    let slots = stored
        .iter()
        .map(|(weekday, time)| Slot::parse(weekday, time))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| Refusal::internal(format!("a stored slot does not parse: {error}")))?;
    WeeklySlots::new(slots).map_err(|error| Refusal::internal(format!("stored slots: {error}")))
}

/// The workspace's zone, which its settings already checked.
pub(crate) fn zone_of(caller: &Caller) -> Result<Tz, Refusal> {
    caller.workspace.timezone.parse().map_err(|_| {
        Refusal::internal(format!(
            "workspace time zone `{}` does not parse",
            caller.workspace.timezone
        ))
    })
}
