//! The offer state machine. Every state change of an offer goes through [`OfferState::can_become`]
//! (the database enforces the same edges with a trigger).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OfferState {
    Active,
    Paused,
    SoldOut,
    Expired,
    ExpiredEarly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an offer cannot go from {from} to {to}")]
pub struct TransitionError {
    pub from: OfferState,
    pub to: OfferState,
}

impl OfferState {
    pub const ALL: [Self; 5] = [
        Self::Active,
        Self::Paused,
        Self::SoldOut,
        Self::Expired,
        Self::ExpiredEarly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Paused => "PAUSED",
            Self::SoldOut => "SOLD_OUT",
            Self::Expired => "EXPIRED",
            Self::ExpiredEarly => "EXPIRED_EARLY",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// EXPIRED and EXPIRED_EARLY are final: nothing leaves them.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Expired | Self::ExpiredEarly)
    }

    /// The one place that says which transitions exist.
    pub fn can_become(self, next: Self) -> bool {
        use OfferState::*;
        matches!(
            (self, next),
            (Active, Paused)
                | (Paused, Active)
                | (Active, SoldOut)
                | (SoldOut, Active)
                | (Active | Paused | SoldOut, Expired | ExpiredEarly)
        )
    }

    pub fn transition(self, next: Self) -> Result<Self, TransitionError> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(TransitionError {
                from: self,
                to: next,
            })
        }
    }

    /// The state after the units still available changed to `units` (an edit, a reservation, a
    /// cancellation): ACTIVE with nothing left is SOLD_OUT, SOLD_OUT with units back is ACTIVE;
    /// PAUSED stays PAUSED and final states stay final. The result always satisfies the stored
    /// invariant (ACTIVE has units, SOLD_OUT has none), also after the pickup window: an ACTIVE
    /// offer past its window cannot be reserved, and the expiry job ends it with its summary.
    pub fn after_units_change(self, units: i32) -> Self {
        match self {
            Self::Active if units <= 0 => Self::SoldOut,
            Self::SoldOut if units > 0 => Self::Active,
            other => other,
        }
    }

    /// The stored invariant between a state and its units (the offers table's CHECKs).
    pub fn allows_units(self, units: i32) -> bool {
        match self {
            Self::Active => units > 0,
            Self::SoldOut => units == 0,
            _ => units >= 0,
        }
    }
}

impl std::fmt::Display for OfferState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of food a deal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ReadyMeals,
    Bakery,
    Produce,
    Groceries,
    Other,
}

impl Category {
    pub const ALL: [Self; 5] = [
        Self::ReadyMeals,
        Self::Bakery,
        Self::Produce,
        Self::Groceries,
        Self::Other,
    ];

    /// The value stored in `offers.category`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadyMeals => "ready_meals",
            Self::Bakery => "bakery",
            Self::Produce => "produce",
            Self::Groceries => "groceries",
            Self::Other => "other",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::OfferState::*;
    use super::*;

    const ALLOWED: &[(OfferState, OfferState)] = &[
        (Active, Paused),
        (Paused, Active),
        (Active, SoldOut),
        (SoldOut, Active),
        (Active, Expired),
        (Paused, Expired),
        (SoldOut, Expired),
        (Active, ExpiredEarly),
        (Paused, ExpiredEarly),
        (SoldOut, ExpiredEarly),
    ];

    #[test]
    fn exactly_the_documented_transitions_are_allowed() {
        for from in OfferState::ALL {
            for to in OfferState::ALL {
                if from == to {
                    continue;
                }
                let allowed = ALLOWED.contains(&(from, to));
                assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
                assert_eq!(from.transition(to).is_ok(), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in [Expired, ExpiredEarly] {
            assert!(from.is_final());
            assert!(OfferState::ALL.iter().all(|to| !from.can_become(*to)));
        }
        assert_eq!(
            Expired.transition(Active),
            Err(TransitionError {
                from: Expired,
                to: Active
            })
        );
    }

    #[test]
    fn paused_to_sold_out_is_forbidden() {
        assert!(!Paused.can_become(SoldOut));
        assert!(!SoldOut.can_become(Paused));
    }

    #[test]
    fn units_changes_move_between_active_and_sold_out_only() {
        assert_eq!(Active.after_units_change(0), SoldOut);
        assert_eq!(Active.after_units_change(3), Active);
        assert_eq!(SoldOut.after_units_change(2), Active);
        assert_eq!(Paused.after_units_change(0), Paused);
        assert_eq!(Paused.after_units_change(5), Paused);
        assert_eq!(Expired.after_units_change(5), Expired);
        assert_eq!(ExpiredEarly.after_units_change(0), ExpiredEarly);
    }

    #[test]
    fn a_units_change_never_leaves_a_state_the_database_refuses() {
        for state in OfferState::ALL {
            for units in 0..4 {
                let next = state.after_units_change(units);
                assert!(
                    next.allows_units(units),
                    "{state} with {units} units became {next}"
                );
                assert!(next == state || state.can_become(next), "{state} -> {next}");
            }
        }
    }

    #[test]
    fn states_and_categories_round_trip_their_stored_names() {
        for state in OfferState::ALL {
            assert_eq!(OfferState::parse(state.as_str()), Some(state));
        }
        for category in Category::ALL {
            assert_eq!(Category::parse(category.as_str()), Some(category));
        }
        assert_eq!(OfferState::parse("active"), None);
    }
}
