//! ClusterIP Service in front of the bot (webhook, metrics).

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
use crate::names::{BOT_PORT, Component};

pub fn build(ctx: &Context) -> Service {
    let owner = ctx.owner;
    Service {
        metadata: owner.metadata(owner.bot(), Component::Bot),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(owner.selector_labels(Component::Bot)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: BOT_PORT,
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
