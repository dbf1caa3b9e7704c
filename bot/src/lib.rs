//! The TooGoodToGo bot service: a Telegram surplus-food marketplace.
//!
//! Updates arrive by webhook (or long polling), are stored in a durable PostgreSQL inbox, and
//! are processed exactly once, in order per chat, by workers that may run on several replicas.

pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod handlers;
pub mod health;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod marketplace;
pub mod metrics;
pub mod ratelimit;
pub mod reconcile;
pub mod refunds;
pub mod replies;
pub mod store;
pub mod stripe;
pub mod telegram;
pub mod texts;
pub mod workers;
