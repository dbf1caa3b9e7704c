//! The marketplace's pure logic, free of I/O: the offer state machine, input validation, money,
//! pickup windows and the offer card. Handlers and jobs call it; the customer side reuses it.

pub mod card;
pub mod geo;
pub mod input;
pub mod invoice_limits;
pub mod money;
pub mod offer;
pub mod payment;
pub mod permissions;
pub mod quiet_hours;
pub mod reservation;
pub mod window;

pub use input::{Field, Invalid, Problem};
pub use offer::{Category, OfferState, TransitionError};
pub use reservation::ReservationState;
