//! What `/metrics` reports, kept by `prometheus-client`: counters, and
//! latency histograms for HTTP requests (by route template, not by id),
//! recompiles, rotation publishes and ingest groups. Delivery's own
//! counters (any [`CounterSource`]: `push::DeliveryMetrics`) are read at
//! each scrape.
//!
//! Bottom layer: it knows nothing of HTTP handlers or the store; they
//! record into it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Counters kept elsewhere (delivery's atomics), read at each scrape.
pub trait CounterSource: Send + Sync + std::fmt::Debug {
    /// Every counter as `(name, help, value)`.
    fn counters(&self) -> Vec<(&'static str, &'static str, u64)>;
}

/// One HTTP request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// `GET`, `POST`, …
    pub method: String,
    /// The route template (`/api/v1/screens/{id}`), or `unmatched`.
    pub route: String,
    /// `2xx`, `4xx`, …
    pub status: String,
}

/// What an ingest group held.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    /// `plays` or `states`.
    pub kind: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The server's metrics. One per process, shared through `AppState`.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    /// HTTP request durations.
    pub http: Histograms<HttpLabels>,
    /// Rotation versions stored.
    pub rotations_stored: Counter,
    /// Screenshots accepted.
    pub screenshots_accepted: Counter,
    /// Device-signed uploads refused.
    pub uploads_refused: Counter,
    /// Failed logins.
    pub login_failures: Counter,
    /// Whole recompiles (every affected screen), seconds.
    pub recompile: Histogram,
    /// Publishing one rotation to the broker (queued to the connection), seconds.
    pub publish: Histogram,
    /// Storing and acking one group of agent messages, seconds.
    pub ingest: Histograms<IngestLabels>,
    /// Delivery's counters, once delivery runs.
    delivery: Arc<OnceLock<Arc<dyn CounterSource>>>,
}

/// Buckets from 1 ms to 16 s (requests, ingest groups).
fn millis_to_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Telemetry {
    fn default() -> Telemetry {
        let mut registry = Registry::with_prefix("ledcast");
        let http: Histograms<HttpLabels> = Family::new_with_constructor(millis_to_seconds);
        registry.register(
            "http_request_duration_seconds",
            "HTTP requests by method, route template and status class",
            http.clone(),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let rotations_stored = counter(
            &mut registry,
            "rotations_stored",
            "Rotation versions stored",
        );
        let screenshots_accepted = counter(
            &mut registry,
            "screenshots_accepted",
            "Screenshots accepted",
        );
        let uploads_refused = counter(
            &mut registry,
            "uploads_refused",
            "Device-signed uploads refused",
        );
        let login_failures = counter(&mut registry, "login_failures", "Failed logins");
        // 10 ms … 160 s: a fleet's compile runs for seconds.
        let recompile = Histogram::new(exponential_buckets(0.01, 2.0, 15));
        registry.register(
            "recompile_duration_seconds",
            "Recompiles of every affected screen, from start to the last rotation stored",
            recompile.clone(),
        );
        // 0.1 ms … 1.6 s.
        let publish = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register(
            "rotation_publish_duration_seconds",
            "Handing one signed rotation to the MQTT connection",
            publish.clone(),
        );
        let ingest: Histograms<IngestLabels> = Family::new_with_constructor(millis_to_seconds);
        registry.register(
            "ingest_duration_seconds",
            "Verifying, storing and acking one group of agent messages",
            ingest.clone(),
        );
        let delivery: Arc<OnceLock<Arc<dyn CounterSource>>> = Arc::default();
        registry.register_collector(Box::new(DeliveryCollector(delivery.clone())));
        Telemetry {
            registry,
            http,
            rotations_stored,
            screenshots_accepted,
            uploads_refused,
            login_failures,
            recompile,
            publish,
            ingest,
            delivery,
        }
    }
}

impl Telemetry {
    /// Reports `metrics` from now on (the first delivery of the process).
    pub fn watch_delivery(&self, metrics: Arc<dyn CounterSource>) {
        let _ = self.delivery.set(metrics);
    }

    /// Records one HTTP request.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.http
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: format!("{}xx", (status / 100).min(5)),
            })
            .observe(took.as_secs_f64());
    }

    /// Records one ingest group of `kind` (`plays`, `states`).
    pub fn ingest_group(&self, kind: &'static str, took: Duration) {
        self.ingest
            .get_or_create(&IngestLabels { kind })
            .observe(took.as_secs_f64());
    }

    /// The OpenMetrics text of everything.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Delivery's atomics, read at each scrape.
#[derive(Debug)]
struct DeliveryCollector(Arc<OnceLock<Arc<dyn CounterSource>>>);

impl Collector for DeliveryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(metrics) = self.0.get() else {
            return Ok(());
        };
        for (name, help, value) in metrics.counters() {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}
