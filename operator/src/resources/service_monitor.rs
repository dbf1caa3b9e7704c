//! prometheus-operator ServiceMonitor for the bot's `/metrics`, when asked for. It is a dynamic
//! object because its CRD is optional; the apply step skips it when the kind is not installed.

use kube::api::DynamicObject;
use serde_json::json;

use super::Context;
use crate::build::service_monitor_resource;
use crate::names::Component;

pub fn build(ctx: &Context) -> Option<DynamicObject> {
    let monitoring = ctx.cr.spec.monitoring.as_ref()?;
    if !monitoring.service_monitor {
        return None;
    }
    let owner = ctx.owner;
    let resource = service_monitor_resource();
    let mut object = DynamicObject::new(&owner.bot(), &resource);
    object.metadata = owner.metadata(owner.bot(), Component::Bot);
    object.data = json!({
        "spec": {
            "selector": { "matchLabels": owner.selector_labels(Component::Bot) },
            "endpoints": [{
                "port": "http",
                "path": "/metrics",
                "interval": monitoring.interval.clone().unwrap_or_else(|| "30s".to_owned()),
            }],
        }
    });
    Some(object)
}
