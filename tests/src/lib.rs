//! Test support for the TooGoodToGo platform: a fake Telegram Bot API over real HTTP, an update
//! driver, a fake of Stripe's refunds API and webhook signing, and a harness that runs the real bot binary against real PostgreSQL and Redis.
//! The end-to-end suites live in this crate's `tests/` folder.

pub mod bench;
pub mod driver;
pub mod harness;
pub mod market;
pub mod paying;
pub mod replication;
pub mod stripe_fake;
pub mod telegram_fake;
