//! When things go out: posting slots in the workspace's time zone, and the rules for a time that
//! has passed (a missed target, a lapsed approval). Pure: the caller passes `now`.

mod due;
mod slots;

pub use due::{MissedAfter, MissedAfterTooShort, approval_lapse, is_missed};
pub use slots::{MAX_SLOTS_PER_WEEK, Slot, SlotError, WeeklySlots, local_instant, next_free_slot};
