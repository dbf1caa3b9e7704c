//! PodDisruptionBudget, only when more than one bot pod runs: with one pod it would block node
//! drains forever.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
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
