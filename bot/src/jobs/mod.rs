//! Background jobs: the outbound sender, retention, offer expiry, pickup reminders and no-shows. Jobs that must run on one replica at a
//! time hold a PostgreSQL advisory lock (see [`leader`]).

pub mod application_expiry;
pub mod leader;
pub mod offer_expiry;
pub mod outbound;
pub mod pickups;
pub mod retention;
