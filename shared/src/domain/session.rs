//! Session ids and the rule that keeps a user's sessions under the cap.
//!
//! A user has at most `MAX_SESSIONS_PER_USER` session *slots*. A login takes a slot (a free
//! one, else one holding a dead session, else the oldest) and overwrites whatever was
//! there. Parallel logins can only overwrite each other, never add an item, so the cap holds
//! by construction without reading or deleting anything under a lock.

use std::fmt;

use uuid::Uuid;

use super::Timestamp;

/// `<slot>-<uuid v7>`: the slot says which item to read, the uuid which login made it (so a
/// token of a session that was overwritten names a session that no longer exists).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId {
    slot: u32,
    unique: Uuid,
}

impl SessionId {
    pub fn new(slot: u32) -> Self {
        Self {
            slot,
            unique: Uuid::now_v7(),
        }
    }

    pub fn slot(&self) -> u32 {
        self.slot
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (slot, unique) = raw.split_once('-')?;
        if slot.is_empty() || !slot.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            slot: slot.parse().ok()?,
            unique: Uuid::try_parse(unique).ok()?,
        })
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.slot, self.unique.hyphenated())
    }
}

/// What the slot rule needs to know of a stored session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occupant {
    pub slot: u32,
    pub created_at: Timestamp,
    /// Not expired, and created under the user's current authority.
    pub live: bool,
}

/// The slot a new login takes among `max` slots: a free one, else one holding a dead
/// session, else the one holding the oldest session. `spread` (any number, e.g. random)
/// picks among equally good slots, so that parallel logins rarely take the same one.
pub fn pick_slot(occupants: &[Occupant], max: u32, spread: u32) -> u32 {
    let in_range = || occupants.iter().filter(|o| o.slot < max);
    let free: Vec<u32> = (0..max)
        .filter(|s| !in_range().any(|o| o.slot == *s))
        .collect();
    let dead: Vec<u32> = in_range().filter(|o| !o.live).map(|o| o.slot).collect();
    for candidates in [free, dead] {
        if !candidates.is_empty() {
            return candidates[spread as usize % candidates.len()];
        }
    }
    in_range()
        .min_by_key(|o| (o.created_at, o.slot))
        .map_or(0, |o| o.slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000 + secs * 1000).unwrap()
    }

    fn live(slot: u32, secs: i64) -> Occupant {
        Occupant {
            slot,
            created_at: at(secs),
            live: true,
        }
    }

    #[test]
    fn ids_round_trip_and_reject_other_shapes() {
        let id = SessionId::new(7);
        assert_eq!(SessionId::parse(&id.to_string()), Some(id.clone()));
        assert_eq!(id.slot(), 7);
        for bad in [
            "",
            "7",
            "-0193",
            "x-0193a6f0-0000-7000-8000-000000000000",
            "+1-0193a6f0-0000-7000-8000-000000000000",
            "0193a6f0-0000-7000-8000-000000000000",
            "1-not-a-uuid",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn free_slots_first_then_dead_then_oldest() {
        assert_eq!(pick_slot(&[], 3, 0), 0);
        assert_eq!(pick_slot(&[], 3, 5), 2);
        assert_eq!(pick_slot(&[live(0, 1), live(2, 2)], 3, 7), 1);
        let mut full = vec![live(0, 5), live(1, 3), live(2, 4)];
        for spread in 0..4 {
            assert_eq!(pick_slot(&full, 3, spread), 1);
        }
        full[2].live = false;
        assert_eq!(pick_slot(&full, 3, 1), 2);
    }

    #[test]
    fn slots_past_the_cap_are_ignored() {
        // Left from a larger MAX_SESSIONS_PER_USER: they never count as a place to take.
        let occupants = [live(0, 9), live(1, 8), live(5, 1)];
        assert_eq!(pick_slot(&occupants, 2, 0), 1);
        assert_eq!(pick_slot(&occupants, 1, 0), 0);
    }
}
