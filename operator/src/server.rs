//! HTTP endpoints of the operator: `/healthz` (the process serves and the controller's watches
//! work, [`crate::watch_health`]), `/readyz` (the replica has joined the election and, when
//! leading, started its controller) and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct Health {
    pub ready: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
    pub watches: Arc<crate::watch_health::WatchHealth>,
}

async fn healthz(State(health): State<Health>) -> impl IntoResponse {
    if health.watches.healthy(std::time::Instant::now()) {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the controller's watches have failed for five minutes",
        )
    }
}

async fn readyz(State(health): State<Health>) -> impl IntoResponse {
    if health.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        health.metrics.render(),
    )
}

pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get_status(router: Router, path: &str) -> (StatusCode, String) {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let addr = listener.local_addr().ok();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let Some(addr) = addr else {
            panic!("no local address")
        };
        let mut stream = match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => panic!("connect: {e}"),
        };
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(request.as_bytes()).await;
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response).await;
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, response)
    }

    #[tokio::test]
    async fn readiness_follows_the_flag_and_metrics_are_exposed() {
        let health = Health {
            ready: Arc::new(AtomicBool::new(false)),
            metrics: Arc::new(Metrics::default()),
            watches: Arc::default(),
        };
        let (code, _) = get_status(router(health.clone()), "/healthz").await;
        assert_eq!(code, StatusCode::OK);
        let (code, _) = get_status(router(health.clone()), "/readyz").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        health.ready.store(true, Ordering::Relaxed);
        let (code, _) = get_status(router(health.clone()), "/readyz").await;
        assert_eq!(code, StatusCode::OK);
        let (code, body) = get_status(router(health), "/metrics").await;
        assert_eq!(code, StatusCode::OK);
        assert!(body.contains("toogoodtogo_operator_leader"), "{body}");
    }

    #[tokio::test]
    async fn healthz_fails_while_the_watches_keep_failing() {
        let health = Health {
            ready: Arc::new(AtomicBool::new(true)),
            metrics: Arc::new(Metrics::default()),
            watches: Arc::default(),
        };
        let now = std::time::Instant::now();
        let Some(start) = now.checked_sub(std::time::Duration::from_secs(400)) else {
            return;
        };
        let mut at = start;
        while at <= now {
            health.watches.error(at);
            at += std::time::Duration::from_secs(30);
        }
        let (code, body) = get_status(router(health), "/healthz").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
}
