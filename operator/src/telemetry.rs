//! Logging: JSON lines (or text) through `tracing`. Every reconcile runs in a span with the
//! resource's `namespace` and `resource` (its name), so each JSON line carries them under
//! `span`. (The field is not called `name`: the JSON span object already uses that key for the
//! span's own name.) Secret values are never logged.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Default filter: our info logs, kube's warnings.
pub const DEFAULT_FILTER: &str = "info,kube=warn";

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// The JSON subscriber the operator runs with, writing to `writer`.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// Install the global subscriber: JSON lines, or human-readable text.
pub fn init(json: bool) {
    if json {
        let _ = tracing::subscriber::set_global_default(json_subscriber(filter(), std::io::stdout));
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter())
            .try_init();
    }
}
