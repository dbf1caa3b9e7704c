//! Background jobs: the outbound sender and retention. Jobs that must run on one replica at a
//! time hold a PostgreSQL advisory lock (see [`leader`]).

pub mod leader;
pub mod offer_expiry;
pub mod outbound;
pub mod retention;
