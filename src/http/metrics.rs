//! Requests counted and timed for the metrics, and the metrics listener's one route.
//!
//! A request is labelled by its face, its route template (axum's [`MatchedPath`],
//! `/scim/v2/Users/{id}`, never the path with its ids), its method and its status.
//! Every label takes few values, so that a scanner asking for a million paths makes
//! no new series: a path no route matches is `unmatched`, a method no route serves
//! is `other`, and statuses are the few the server answers. The time is to the
//! response's head; a streamed list's body may take longer.

use std::hash::{Hash, Hasher};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::face::Face;
use crate::metrics::Metrics;

/// The route label of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the request-duration buckets, in seconds: point reads take about
/// a millisecond, sign-ins tens (Argon2), exports and imports seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route template a request matched, or none.
#[derive(Debug, Clone)]
struct Route(Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    face: &'static str,
    route: Route,
    method: &'static str,
    status: u16,
}

/// The method's label: the methods some route serves, else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The requests served so far: how many, and how long each took.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
        }
    }
}

impl RequestMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "roster_http_requests",
            "HTTP requests answered, by face, route template, method and status",
            self.requests.clone(),
        );
        registry.register(
            "roster_http_request_duration_seconds",
            "Time from a request's arrival to its response's head, by face, route template, \
             method and status",
            self.durations.clone(),
        );
    }

    fn observe(&self, labels: RequestLabels, started: Instant) {
        let seconds = started.elapsed().as_secs_f64();
        self.requests.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(seconds);
    }
}

/// The middleware that counts and times every request. Layered with
/// `Router::layer`, it runs after routing, so the route template is known.
pub async fn count_requests(
    State(metrics): State<RequestMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let face = Face::of(request.uri().path()).name();
    let route = Route(request.extensions().get::<MatchedPath>().cloned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let labels = RequestLabels {
        face,
        route,
        method,
        status: response.status().as_u16(),
    };
    metrics.observe(labels, started);
    response
}

/// The metrics listener's router: `GET /metrics` in the Prometheus text format,
/// and 404 for anything else.
pub fn exposition_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(exposition))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(metrics)
}

async fn exposition(State(metrics): State<Metrics>) -> Response {
    match metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                ),
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "the metrics could not be encoded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_no_route_serves_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::TRACE), "other");
        assert_eq!(method_label(&Method::from_bytes(b"SCAN").unwrap()), "other");
    }

    #[test]
    fn requests_no_route_matched_share_one_series() {
        let metrics = RequestMetrics::default();
        for _ in 0..3 {
            let labels = RequestLabels {
                face: "native",
                route: Route(None),
                method: "GET",
                status: 404,
            };
            metrics.observe(labels, Instant::now());
        }
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        let line = "roster_http_requests_total{face=\"native\",route=\"unmatched\",method=\"GET\",\
                    status=\"404\"} 3";
        assert!(text.contains(line), "{text}");
    }
}
