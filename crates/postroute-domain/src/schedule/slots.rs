//! Posting slots: the weekly wall-clock times a channel's queue fills, kept in the workspace's
//! time zone so that "Monday 09:30" stays 09:30 for the audience across daylight-saving changes.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Most slots one channel's week holds: one an hour, every hour of the week. More would not be a
/// posting rhythm but a firehose, and every queue lookup walks them.
pub const MAX_SLOTS_PER_WEEK: usize = 7 * 24;

/// Weekday names as api.md spells them, Monday first.
const WEEKDAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// The longest stretch of wall-clock time a zone has ever skipped: Samoa left out a whole day in
/// 2011. Resolving a time inside a gap never searches further than this.
const LONGEST_GAP_MINUTES: u32 = 24 * 60 + 1;

/// Why a slot or a week of slots is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// Not one of mon, tue, wed, thu, fri, sat, sun.
    #[error("weekday must be one of mon, tue, wed, thu, fri, sat, sun")]
    Weekday,
    /// Not a 24-hour `HH:MM` time.
    #[error("time must be HH:MM, from 00:00 to 23:59")]
    Time,
    /// More than [`MAX_SLOTS_PER_WEEK`].
    #[error("a channel has at most {MAX_SLOTS_PER_WEEK} slots a week")]
    TooMany,
}

/// One weekly posting time: a weekday and a wall-clock minute in the workspace's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    // Ordered by day of the week from Monday, then time: the order `WeeklySlots` keeps.
    day_from_monday: u8,
    time: NaiveTime,
}

impl Slot {
    /// The slot at `hour:minute` on `weekday`; `None` outside 00:00 to 23:59. Whole minutes only,
    /// because a time that falls in a daylight-saving gap is moved to the first whole minute
    /// after it.
    pub fn at(weekday: Weekday, hour: u32, minute: u32) -> Option<Self> {
        let time = NaiveTime::from_hms_opt(hour, minute, 0)?;
        let day_from_monday = u8::try_from(weekday.num_days_from_monday()).ok()?;
        Some(Self { day_from_monday, time })
    }

    /// Parses api.md's `{weekday: "mon", time: "09:30"}`.
    pub fn parse(weekday: &str, time: &str) -> Result<Self, SlotError> {
        let weekday = WEEKDAY_NAMES
            .iter()
            .find(|(name, _)| *name == weekday)
            .map(|(_, day)| *day)
            .ok_or(SlotError::Weekday)?;
        // Exactly two digits each side: "9:30" or "09:30:00" would round-trip differently.
        let (hour, minute) = time.split_once(':').ok_or(SlotError::Time)?;
        let two_digits = |part: &str| {
            (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u32>().ok())
                .flatten()
        };
        let (Some(hour), Some(minute)) = (two_digits(hour), two_digits(minute)) else {
            return Err(SlotError::Time);
        };
        Self::at(weekday, hour, minute).ok_or(SlotError::Time)
    }

    /// Its weekday.
    pub fn weekday(&self) -> Weekday {
        WEEKDAY_NAMES[usize::from(self.day_from_monday)].1
    }

    /// Its weekday as api.md spells it (`mon`).
    pub fn weekday_name(&self) -> &'static str {
        WEEKDAY_NAMES[usize::from(self.day_from_monday)].0
    }

    /// Its wall-clock time.
    pub fn time(&self) -> NaiveTime {
        self.time
    }

    /// Its time as api.md spells it (`09:30`).
    pub fn time_text(&self) -> String {
        self.time.format("%H:%M").to_string()
    }
}

/// A channel's week of slots, in order from Monday morning, each at most once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeeklySlots(Vec<Slot>);

impl WeeklySlots {
    /// The week these slots make, sorted and without repeats (a repeated slot is still one
    /// posting time); at most [`MAX_SLOTS_PER_WEEK`].
    pub fn new(slots: impl IntoIterator<Item = Slot>) -> Result<Self, SlotError> {
        let unique: BTreeSet<Slot> = slots.into_iter().collect();
        if unique.len() > MAX_SLOTS_PER_WEEK {
            return Err(SlotError::TooMany);
        }
        Ok(Self(unique.into_iter().collect()))
    }

    /// The slots, Monday first.
    pub fn slots(&self) -> &[Slot] {
        &self.0
    }

    /// No slots: the channel has no queue.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The instants this week's slots fall on for the local `date` in `zone`, earliest first and
    /// each once (a slot moved out of a gap can land on another slot's time).
    pub fn instants_on(&self, zone: Tz, date: NaiveDate) -> Vec<DateTime<Utc>> {
        let weekday = date.weekday();
        let instants: BTreeSet<DateTime<Utc>> = self
            .0
            .iter()
            .filter(|slot| slot.weekday() == weekday)
            .filter_map(|slot| local_instant(zone, date, slot.time))
            .collect();
        instants.into_iter().collect()
    }
}

/// When the wall-clock `time` of `date` happens in `zone`, as people expect of a posting slot:
/// - a time skipped by a spring-forward change moves to the first valid local time after the gap
///   (02:30 in New York on 8 March 2026 becomes 03:00 EDT), rather than vanishing or shifting by
///   the gap's length to 03:30;
/// - a time repeated by a fall-back change happens once, at its first occurrence, so a post is
///   not sent twice and goes out before the clocks turn back, as a phone alarm would ring.
///
/// `None` only for a zone that skips more than a day, which the time zone database has never held.
pub fn local_instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let mut local = date.and_time(time);
    for _ in 0..=LONGEST_GAP_MINUTES {
        if let Some(instant) = zone.from_local_datetime(&local).earliest() {
            return Some(instant.with_timezone(&Utc));
        }
        local += TimeDelta::minutes(1);
    }
    None
}

/// The first slot instant strictly after `after` that is not in `taken` (the times of posts
/// already queued on the channel), or `None` when the channel has no slots.
///
/// To queue a post for several channels at once, pass the union of their slots and of their
/// taken times: the answer is then a slot of one of them that none of them has taken.
pub fn next_free_slot(
    slots: &WeeklySlots,
    zone: Tz,
    after: DateTime<Utc>,
    taken: &BTreeSet<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if slots.is_empty() {
        return None;
    }
    // Every week holds at least one slot instant, and each taken time blocks at most one, so a
    // free one lies within one week more than there are taken times. The extra days cover the
    // start: the day before `after` (its slot may have moved past midnight out of a gap) and
    // the partial first week.
    let weeks = taken.len().saturating_add(2);
    let days = weeks.saturating_mul(7).saturating_add(1);
    let first_day = after.with_timezone(&zone).date_naive().pred_opt()?;
    first_day
        .iter_days()
        .take(days)
        .flat_map(|date| slots.instants_on(zone, date))
        .find(|instant| *instant > after && !taken.contains(instant))
}

#[cfg(test)]
mod tests {
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::London;

    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn utc(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0).unwrap()
    }

    fn time(hour: u32, minute: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hour, minute, 0).unwrap()
    }

    fn week(slots: &[(Weekday, u32, u32)]) -> WeeklySlots {
        WeeklySlots::new(
            slots.iter().map(|&(day, hour, minute)| Slot::at(day, hour, minute).unwrap()),
        )
        .unwrap()
    }

    #[test]
    fn a_slot_in_the_new_york_spring_forward_gap_moves_to_three_oclock() {
        // 8 March 2026: 02:00 EST jumps to 03:00 EDT (UTC-4).
        assert_eq!(local_instant(New_York, date(2026, 3, 8), time(2, 30)), Some(utc(3, 8, 7, 0)));
        assert_eq!(local_instant(New_York, date(2026, 3, 8), time(2, 0)), Some(utc(3, 8, 7, 0)));
        assert_eq!(local_instant(New_York, date(2026, 3, 8), time(3, 0)), Some(utc(3, 8, 7, 0)));
        assert_eq!(local_instant(New_York, date(2026, 3, 8), time(1, 59)), Some(utc(3, 8, 6, 59)));
    }

    #[test]
    fn a_slot_in_the_london_spring_forward_gap_moves_to_the_end_of_the_gap() {
        // 29 March 2026: 01:00 GMT jumps to 02:00 BST (UTC+1).
        assert_eq!(local_instant(London, date(2026, 3, 29), time(1, 30)), Some(utc(3, 29, 1, 0)));
        assert_eq!(local_instant(London, date(2026, 3, 29), time(2, 30)), Some(utc(3, 29, 1, 30)));
        assert_eq!(local_instant(London, date(2026, 3, 29), time(0, 59)), Some(utc(3, 29, 0, 59)));
    }

    #[test]
    fn a_slot_repeated_by_the_new_york_fall_back_happens_once_at_its_first_occurrence() {
        // 1 November 2026: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let slots = week(&[(Weekday::Sun, 1, 30)]);
        assert_eq!(slots.instants_on(New_York, date(2026, 11, 1)), [utc(11, 1, 5, 30)]);
        assert_eq!(
            local_instant(New_York, date(2026, 11, 1), time(2, 30)),
            Some(utc(11, 1, 7, 30))
        );
    }

    #[test]
    fn a_slot_repeated_by_the_london_fall_back_happens_once_at_its_first_occurrence() {
        // 25 October 2026: 02:00 BST falls back to 01:00 GMT; 01:30 happens twice.
        let slots = week(&[(Weekday::Sun, 1, 30)]);
        assert_eq!(slots.instants_on(London, date(2026, 10, 25)), [utc(10, 25, 0, 30)]);
        let after = utc(10, 25, 0, 30);
        let next = next_free_slot(&slots, London, after, &BTreeSet::new());
        assert_eq!(next, Some(utc(11, 1, 1, 30)), "the second 01:30 is not a second slot");
    }

    #[test]
    fn a_slot_keeps_its_wall_clock_time_across_both_changes() {
        let monday_nine = week(&[(Weekday::Mon, 9, 0)]);
        // London: GMT in January and November, BST in between.
        assert_eq!(monday_nine.instants_on(London, date(2026, 3, 23)), [utc(3, 23, 9, 0)]);
        assert_eq!(monday_nine.instants_on(London, date(2026, 3, 30)), [utc(3, 30, 8, 0)]);
        assert_eq!(monday_nine.instants_on(London, date(2026, 10, 19)), [utc(10, 19, 8, 0)]);
        assert_eq!(monday_nine.instants_on(London, date(2026, 10, 26)), [utc(10, 26, 9, 0)]);
        // New York: EST (UTC-5), then EDT (UTC-4) from 8 March to 1 November.
        assert_eq!(monday_nine.instants_on(New_York, date(2026, 3, 2)), [utc(3, 2, 14, 0)]);
        assert_eq!(monday_nine.instants_on(New_York, date(2026, 3, 9)), [utc(3, 9, 13, 0)]);
        assert_eq!(monday_nine.instants_on(New_York, date(2026, 10, 26)), [utc(10, 26, 13, 0)]);
        assert_eq!(monday_nine.instants_on(New_York, date(2026, 11, 2)), [utc(11, 2, 14, 0)]);
    }

    #[test]
    fn two_slots_that_a_gap_merges_are_one_posting_time() {
        let slots = week(&[(Weekday::Sun, 2, 30), (Weekday::Sun, 3, 0)]);
        assert_eq!(slots.instants_on(New_York, date(2026, 3, 8)), [utc(3, 8, 7, 0)]);
        assert_eq!(slots.instants_on(New_York, date(2026, 3, 15)).len(), 2, "an ordinary Sunday");
    }

    #[test]
    fn the_next_free_slot_is_the_first_one_after_the_time_that_nobody_has_taken() {
        let slots = week(&[(Weekday::Mon, 9, 0), (Weekday::Wed, 9, 0), (Weekday::Wed, 17, 0)]);
        // Monday 4 May 2026, London summer time (UTC+1).
        let monday_noon = utc(5, 4, 11, 0);
        let none = BTreeSet::new();
        assert_eq!(next_free_slot(&slots, London, monday_noon, &none), Some(utc(5, 6, 8, 0)));
        let taken = BTreeSet::from([utc(5, 6, 8, 0), utc(5, 6, 16, 0)]);
        assert_eq!(next_free_slot(&slots, London, monday_noon, &taken), Some(utc(5, 11, 8, 0)));
        assert_eq!(
            next_free_slot(&slots, London, utc(5, 4, 8, 0), &none),
            Some(utc(5, 6, 8, 0)),
            "a slot at exactly the given time has come, not to come"
        );
    }

    #[test]
    fn the_next_free_slot_is_found_however_many_weeks_are_taken() {
        let slots = week(&[(Weekday::Fri, 12, 0)]);
        let start = utc(1, 1, 0, 0);
        let fridays: BTreeSet<DateTime<Utc>> =
            (0..60).map(|weeks| utc(1, 2, 12, 0) + TimeDelta::weeks(weeks)).collect();
        let next = next_free_slot(&slots, Tz::UTC, start, &fridays);
        assert_eq!(next, Some(utc(1, 2, 12, 0) + TimeDelta::weeks(60)));
    }

    #[test]
    fn a_channel_without_slots_has_no_next_slot() {
        assert_eq!(
            next_free_slot(&WeeklySlots::default(), London, utc(1, 1, 0, 0), &BTreeSet::new()),
            None
        );
    }

    #[test]
    fn the_queue_on_a_spring_forward_night_takes_the_moved_slot() {
        let slots = week(&[(Weekday::Sun, 2, 30)]);
        let saturday_night = utc(3, 8, 4, 0);
        assert_eq!(
            next_free_slot(&slots, New_York, saturday_night, &BTreeSet::new()),
            Some(utc(3, 8, 7, 0))
        );
    }

    #[test]
    fn slots_parse_as_api_md_spells_them_and_nothing_looser() {
        let slot = Slot::parse("mon", "09:30").unwrap();
        assert_eq!(
            (slot.weekday(), slot.weekday_name(), slot.time_text()),
            (Weekday::Mon, "mon", "09:30".to_owned())
        );
        assert_eq!(Slot::parse("sun", "23:59").unwrap().weekday(), Weekday::Sun);
        assert_eq!(Slot::parse("monday", "09:30"), Err(SlotError::Weekday));
        assert_eq!(Slot::parse("Mon", "09:30"), Err(SlotError::Weekday));
        for bad in ["9:30", "09:30:00", "24:00", "12:60", "ab:cd", "0930", "+1:30"] {
            assert_eq!(Slot::parse("mon", bad), Err(SlotError::Time), "{bad}");
        }
    }

    #[test]
    fn a_week_of_slots_is_sorted_without_repeats_and_bounded() {
        let slots = week(&[
            (Weekday::Wed, 9, 0),
            (Weekday::Mon, 17, 0),
            (Weekday::Mon, 9, 0),
            (Weekday::Wed, 9, 0),
        ]);
        let listed: Vec<(Weekday, String)> =
            slots.slots().iter().map(|slot| (slot.weekday(), slot.time_text())).collect();
        assert_eq!(
            listed,
            [
                (Weekday::Mon, "09:00".to_owned()),
                (Weekday::Mon, "17:00".to_owned()),
                (Weekday::Wed, "09:00".to_owned())
            ]
        );
        let every_hour = WEEKDAY_NAMES
            .iter()
            .flat_map(|(_, day)| (0..24).map(move |hour| Slot::at(*day, hour, 0).unwrap()));
        assert!(WeeklySlots::new(every_hour.clone()).is_ok());
        let one_more = every_hour.chain(Slot::at(Weekday::Mon, 0, 30));
        assert_eq!(WeeklySlots::new(one_more), Err(SlotError::TooMany));
    }
}
