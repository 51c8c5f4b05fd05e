//! A channel's weekly posting slots: `GET`/`PUT .../channels/{channel_id}/slots`.

use axum::Json;
use axum::extract::State;
use postroute_app::channels::{ChannelSlots, RequestedSlot};
use postroute_domain::ChannelId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::PathId;
use crate::extract::guard::{Permit, can};
use crate::extract::json::JsonBody;
use crate::openapi::schemas;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// One weekly posting time, wall-clock in the workspace's time zone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotView {
    /// The day of the week.
    #[schema(value_type = schemas::Weekday)]
    weekday: String,
    /// `HH:MM`, 24-hour.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "09:30")]
    time: String,
}

/// A channel's posting slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotsView {
    /// The workspace's IANA time zone, which the times are read in.
    timezone: String,
    /// The slots, Monday first, each once.
    slots: Vec<SlotView>,
}

impl From<ChannelSlots> for SlotsView {
    fn from(channel: ChannelSlots) -> Self {
        let slots = channel
            .slots
            .slots()
            .iter()
            .map(|slot| SlotView {
                weekday: slot.weekday_name().to_owned(),
                time: slot.time_text(),
            })
            .collect();
        Self { timezone: channel.timezone, slots }
    }
}

/// The slots a channel is to have: all of them, replacing what it had.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotsRequest {
    /// At most 168; repeats count once.
    slots: Vec<SlotView>,
}

/// A channel's weekly posting slots (any member).
#[utoipa::path(get, operation_id = "get_channel_slots", path = "/v1/workspaces/{workspace_id}/channels/{channel_id}/slots", tag = "channels", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("channel_id" = String, Path)),
    responses((status = 200, description = "The slots and the zone they are read in", body = SlotsView),
              (status = 404, description = "No such channel in this workspace", body = Problem)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    permit: Permit<can::ListChannels>,
    PathId(channel): PathId<ChannelId>,
) -> Result<Json<SlotsView>, ApiError> {
    Ok(Json(state.channels.slots(&permit.member.caller, channel).await?.into()))
}

/// Replace a channel's weekly posting slots (owner, admin). Times are wall-clock in the
/// workspace's time zone: a slot in a daylight-saving gap moves to the first minute after it,
/// and one in a repeated hour happens once.
#[utoipa::path(put, operation_id = "set_channel_slots", path = "/v1/workspaces/{workspace_id}/channels/{channel_id}/slots", tag = "channels", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("channel_id" = String, Path)), request_body = SlotsRequest,
    responses((status = 200, description = "The slots as kept", body = SlotsView),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = Problem),
              (status = 404, description = "No such channel in this workspace", body = Problem),
              (status = 422, description = "A weekday or time that does not parse, or too many slots (`validation_failed`)", body = Problem)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    permit: Permit<can::SetChannelSlots>,
    PathId(channel): PathId<ChannelId>,
    JsonBody(request): JsonBody<SlotsRequest>,
) -> Result<Json<SlotsView>, ApiError> {
    let requested: Vec<RequestedSlot> = request
        .slots
        .into_iter()
        .map(|slot| RequestedSlot { weekday: slot.weekday, time: slot.time })
        .collect();
    Ok(Json(state.channels.set_slots(&permit.member.caller, channel, &requested).await?.into()))
}
