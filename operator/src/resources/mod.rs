//! One module per kind of object the operator owns. Each `build` is a pure function of the
//! resource and the dereferenced [`Inputs`](crate::build::Inputs).

pub mod backup;
pub mod cnpg_cluster;
pub mod configmap;
pub mod db_rotation;
pub mod deployment;
pub mod hpa;
pub mod ingress;
pub mod migration_job;
pub mod network_policy;
pub mod payments_check;
pub mod pdb;
pub mod pod;
pub mod postgres;
pub mod redis;
pub mod restore;
pub mod secret;
pub mod service;
pub mod service_monitor;

use crate::build::Inputs;
use crate::crd::TooGoodToGo;
use crate::names::Owner;

/// What every builder reads.
pub struct Context<'a> {
    pub cr: &'a TooGoodToGo,
    pub inputs: &'a Inputs,
    pub owner: &'a Owner,
}
