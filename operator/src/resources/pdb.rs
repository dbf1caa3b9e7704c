//! PodDisruptionBudgets: the bot's only when more than one bot pod runs (with one pod it would
//! block node drains forever); the managed database's unless `disruptionBudget: false`, because
//! its one pod going away stops the platform, and a drain should wait for someone to decide that.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
use crate::crd::ManagedDatabase;
use crate::names::Component;

pub fn build(ctx: &Context) -> Option<PodDisruptionBudget> {
    if !ctx.cr.is_scaled_out() {
        return None;
    }
    let owner = ctx.owner;
    Some(PodDisruptionBudget {
        metadata: owner.metadata(owner.bot(), Component::Bot),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(owner.selector(Component::Bot)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}

/// The managed database's budget: its one pod is not evicted while it is in place.
pub fn database(ctx: &Context, managed: &ManagedDatabase) -> Option<PodDisruptionBudget> {
    if !managed.disruption_budget() {
        return None;
    }
    let owner = ctx.owner;
    Some(PodDisruptionBudget {
        metadata: owner.metadata(owner.postgres(), Component::Database),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(owner.selector(Component::Database)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
