//! Optional HorizontalPodAutoscaler on CPU. The bot is stateless, so scaling out is how a busy
//! marketplace outgrows one pod.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};

use super::Context;
use crate::names::Component;

pub fn build(ctx: &Context) -> Option<HorizontalPodAutoscaler> {
    let autoscaling = ctx.cr.spec.autoscaling.as_ref()?;
    if ctx.inputs.bot_stopped {
        // A restore holds the bot at zero; the autoscaler would scale it back up.
        return None;
    }
    let owner = ctx.owner;
    Some(HorizontalPodAutoscaler {
        metadata: owner.metadata(owner.bot(), Component::Bot),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: owner.bot(),
            },
            min_replicas: Some(autoscaling.min_replicas),
            max_replicas: autoscaling.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(autoscaling.target_cpu_utilization_percent),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: None,
        },
        ..HorizontalPodAutoscaler::default()
    })
}
