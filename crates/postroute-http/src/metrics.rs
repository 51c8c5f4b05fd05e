//! Prometheus metrics: one recorder per process, the request metrics the edge records, and the
//! `GET /metrics` route. Counters and histograms are written with the `metrics` macros wherever
//! something happens (the worker's jobs too); this module only installs the recorder and
//! renders what it holds.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Request durations, in seconds: from a cache-warm read to the upload deadline's order.
const SECONDS_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The Prometheus text format's media type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. Several apps in one process (the tests)
/// share it, as they share the process.
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only its own");
        }
        handle
    })
}

/// `GET /metrics`, for a listener of its own or the public ones.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/metrics", get(render))
}

async fn render() -> Response {
    let recorder = recorder();
    // Histograms keep their samples until upkeep folds them in.
    recorder.run_upkeep();
    let mut response = recorder.render().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT));
    response
}

/// The route a response answered, put on it by [`label_route`] for the request metrics.
#[derive(Clone, Debug)]
pub(crate) struct RouteLabel(pub String);

/// Route middleware: carries the matched route's template (never the raw path, whose ids would
/// make a series per resource) out to the edge on the response.
pub(crate) async fn label_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteLabel(route));
    }
    response
}

/// Counts one served request and its duration. Unmatched paths share one label, and unusual
/// methods another, so a prober cannot make series without end.
pub(crate) fn record_request(method: &Method, response: &Response, duration: std::time::Duration) {
    let method = match *method {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS => method.as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or_else(|| "unmatched".to_owned(), |RouteLabel(route)| route.clone());
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(duration.as_secs_f64());
}
