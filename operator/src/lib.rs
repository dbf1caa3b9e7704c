//! Kubernetes operator for the TooGoodToGo bot platform.
//!
//! One `TooGoodToGo` resource is reconciled into the bot Deployment, its configuration and
//! secrets, the database migration Job, networking, and optionally a managed PostgreSQL and Redis.
//! The reconcile is a pipeline of verbs, one module each:
//! [`dereference`] -> [`validate`] -> [`build`] -> [`apply`] -> [`status`].

pub mod build;
pub mod cache;
pub mod cnpg;
pub mod crd;
pub mod credentials_sync;
pub mod cron;
pub mod dereference;
pub mod digest;
pub mod exclusive;
pub mod final_backup;
pub mod generator;
pub mod names;
pub mod resources;
pub mod validate;
pub mod webhook_token;

pub mod analysis;
#[cfg(test)]
mod analysis_double_tests;
pub mod apply;
pub mod backups;
#[cfg(test)]
mod bench_operator;
#[cfg(test)]
mod cnpg_double_tests;
pub mod controller;
#[cfg(test)]
mod controller_double_tests;
pub mod db_rotation;
#[cfg(test)]
mod double_tests;
#[cfg(test)]
pub mod fixtures;
pub mod install;
pub mod leader;
pub mod metrics;
pub mod monitoring;
pub mod observe;
pub mod offline;
#[cfg(test)]
mod one_shot_double_tests;
pub mod payments;
#[cfg(test)]
mod payments_double_tests;
pub mod rbac;
#[cfg(test)]
mod redis_double_tests;
#[cfg(test)]
mod restore_double_tests;
pub mod restores;
pub mod retention;
pub mod rollback;
pub mod rotation;
pub mod scope;
#[cfg(test)]
mod scope_double_tests;
pub mod secret_key;
pub mod server;
pub mod status;
pub mod telemetry;
#[cfg(test)]
pub mod testing;
pub mod watch_health;
