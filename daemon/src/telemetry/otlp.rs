//! OTLP/HTTP export (protobuf, the messages of `opentelemetry-proto`) to the receiver of
//! `[telemetry] otlp_endpoint`: every `interval`, the daemon's own metrics and each
//! equipment's last metrics to `/v1/metrics`, and the probe runs' spans to `/v1/traces`,
//! under a resource naming the instance. The export runs on its own task: a receiver that is
//! down or slow costs a failed request per interval and the spans past the buffer's bound
//! (dropped and counted), never collection time or unbounded memory.

use super::{ProbeOutcome, ProbeSpan, Snapshot, Telemetry};
use crate::actors::Fleet;
use crate::config::{Config, Otlp};
use actix::Addr;
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;
use vigie_core::histogram::{BOUNDS, HistogramSnapshot};

/// Largest answer body read from the receiver.
const MAX_ANSWER: usize = 64 * 1024;

/// Nanoseconds since the Unix epoch.
fn unix_nanos(t: DateTime<Utc>) -> u64 {
    t.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// The host name, for `service.instance.id` when the config names none.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "vigie".into())
}

/// The resource every export names: the service and its instance.
fn resource(instance: &str) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", "vigie"),
            kv("service.version", env!("CARGO_PKG_VERSION")),
            kv("service.instance.id", instance),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "vigie".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

/// Builds metric families as data points arrive.
struct Metrics {
    start: u64,
    now: u64,
    out: Vec<Metric>,
    /// Where each family is in `out`, by name.
    index: std::collections::HashMap<String, usize>,
}

impl Metrics {
    fn point(&self, attrs: Vec<KeyValue>, v: f64, start: u64) -> NumberDataPoint {
        NumberDataPoint {
            attributes: attrs,
            start_time_unix_nano: start,
            time_unix_nano: self.now,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        }
    }

    /// The family `name`, created with `data` if missing.
    fn family(&mut self, name: &str, unit: &str, help: &str, data: metric::Data) -> &mut Metric {
        let i = match self.index.get(name) {
            Some(i) => *i,
            None => {
                self.out.push(Metric {
                    name: name.into(),
                    unit: unit.into(),
                    description: help.into(),
                    data: Some(data),
                    ..Default::default()
                });
                self.index.insert(name.to_string(), self.out.len() - 1);
                self.out.len() - 1
            }
        };
        &mut self.out[i]
    }

    fn gauge(&mut self, name: &str, unit: &str, help: &str, attrs: Vec<KeyValue>, v: f64) {
        let p = self.point(attrs, v, 0);
        let m = self.family(name, unit, help, metric::Data::Gauge(Gauge::default()));
        if let Some(metric::Data::Gauge(g)) = &mut m.data {
            g.data_points.push(p);
        }
    }

    fn counter(&mut self, name: &str, unit: &str, help: &str, attrs: Vec<KeyValue>, v: f64) {
        let p = self.point(attrs, v, self.start);
        let m = self.family(
            name,
            unit,
            help,
            metric::Data::Sum(Sum {
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
                ..Default::default()
            }),
        );
        if let Some(metric::Data::Sum(s)) = &mut m.data {
            s.data_points.push(p);
        }
    }

    fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot) {
        let point = HistogramDataPoint {
            start_time_unix_nano: self.start,
            time_unix_nano: self.now,
            count: h.count(),
            sum: Some(h.sum),
            bucket_counts: h.counts.clone(),
            explicit_bounds: BOUNDS.to_vec(),
            ..Default::default()
        };
        self.out.push(Metric {
            name: name.into(),
            unit: "s".into(),
            description: help.into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![point],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        });
    }
}

/// The unit (UCUM, as OpenTelemetry writes it) of an equipment metric.
fn unit_of(name: &str) -> &'static str {
    match name {
        "hw.temperature" => "Cel",
        "system.filesystem.usage" | "system.filesystem.limit" => "By",
        "device.uptime"
        | "device.clock.offset"
        | "network.icmp.rtt"
        | "network.tcp.connect_time" => "s",
        _ => "1",
    }
}

/// The metrics request of a snapshot.
pub fn metrics_request(
    s: &Snapshot,
    outbox: Option<&crate::outbox::OutboxStatus>,
    instance: &str,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ExportMetricsServiceRequest {
    let mut m = Metrics {
        start: unix_nanos(started),
        now: unix_nanos(now),
        out: Vec::new(),
        index: std::collections::HashMap::new(),
    };
    let c = &s.counters;
    for (outcome, n) in &c.probes {
        m.counter(
            "vigie.probes",
            "{run}",
            "Probe runs, by outcome",
            vec![kv("outcome", outcome.as_str())],
            *n as f64,
        );
    }
    m.histogram(
        "vigie.probe.duration",
        "How long probe runs took",
        &c.probe_latency,
    );
    m.histogram(
        "vigie.collection.start_lateness",
        "How late scheduled collections started after the instant they were due",
        &c.start_lateness,
    );
    for (result, n) in [
        ("accepted", c.reloads_accepted),
        ("refused", c.reloads_refused),
    ] {
        m.counter(
            "vigie.config.reloads",
            "{load}",
            "Config loads, accepted or refused",
            vec![kv("result", result)],
            n as f64,
        );
    }
    for (kind, n) in s.actors() {
        m.gauge(
            "vigie.actors",
            "{actor}",
            "Site and equipment actors running",
            vec![kv("kind", kind)],
            n,
        );
    }
    let open = s.open_alerts();
    for ((sev, st), n) in open {
        m.gauge(
            "vigie.alerts.open",
            "{alert}",
            "Alerts not closed, by severity and state",
            vec![kv("severity", &sev), kv("state", &st)],
            n as f64,
        );
    }
    m.histogram(
        "vigie.store.commit.duration",
        "How long the data store's commits took",
        &s.commits,
    );
    if let Some(h) = &s.fleet.store {
        m.counter(
            "vigie.store.commit.failures",
            "{commit}",
            "Data store commits that failed",
            Vec::new(),
            h.failed_total as f64,
        );
    }
    if let Some(o) = outbox {
        m.gauge(
            "vigie.outbox.pending",
            "{notification}",
            "Notifications waiting for their channel",
            Vec::new(),
            o.pending as f64,
        );
    }
    m.counter(
        "vigie.otlp.dropped",
        "{item}",
        "Telemetry items dropped because the exporter's buffer was full",
        Vec::new(),
        c.export_dropped as f64,
    );
    for eq in &s.equipment {
        let base = || {
            vec![
                kv("client", &eq.client),
                kv("site", &eq.site),
                kv("equipment", &eq.equipment),
                kv("kind", eq.kind.name()),
            ]
        };
        m.gauge(
            "vigie.equipment.up",
            "1",
            "Whether the equipment answers (1) or not (0)",
            base(),
            if eq.status == crate::rules::Status::Up {
                1.0
            } else {
                0.0
            },
        );
        for metric in &eq.metrics {
            let mut attrs = base();
            for (k, v) in &metric.attributes {
                attrs.push(kv(&super::attribute_label(k, "attr."), v));
            }
            m.gauge(
                &metric.name,
                unit_of(&metric.name),
                "Equipment metric, as its probe reports it",
                attrs,
                metric.value,
            );
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(instance)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: m.out,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Identifiers of traces and spans: a splitmix64 sequence seeded from the clock and the
/// process, unique within and across runs for all practical purposes.
struct Ids(AtomicU64);

impl Ids {
    fn new(now: DateTime<Utc>) -> Ids {
        let seed = unix_nanos(now) ^ (u64::from(std::process::id()) << 32);
        Ids(AtomicU64::new(seed))
    }

    fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).max(1)
    }
}

/// The traces request of probe spans, each a trace of its own.
fn traces_request(spans: &[ProbeSpan], instance: &str, ids: &Ids) -> ExportTraceServiceRequest {
    let spans = spans
        .iter()
        .map(|p| {
            let start = unix_nanos(p.start);
            let mut trace_id = ids.next().to_be_bytes().to_vec();
            trace_id.extend_from_slice(&ids.next().to_be_bytes());
            let mut attributes = vec![
                kv("equipment", &p.equipment),
                kv("site", &p.site),
                kv("kind", p.kind),
                kv("outcome", p.outcome.as_str()),
            ];
            if let Some(r) = &p.reason {
                attributes.push(kv("reason", r));
            }
            let error = matches!(
                p.outcome,
                ProbeOutcome::Timeout | ProbeOutcome::Failed | ProbeOutcome::Unknown
            );
            Span {
                trace_id,
                span_id: ids.next().to_be_bytes().to_vec(),
                name: "probe".into(),
                kind: span::SpanKind::Client as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start
                    .saturating_add(u64::try_from(p.took.as_nanos()).unwrap_or(u64::MAX)),
                attributes,
                status: Some(Status {
                    code: if error {
                        status::StatusCode::Error as i32
                    } else {
                        status::StatusCode::Ok as i32
                    },
                    message: if error {
                        p.reason.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(instance)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Why an export request failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The endpoint is not a URL the client can use.
    #[error("the OTLP endpoint {0} is not usable: {1}")]
    Endpoint(String, String),
    /// The request did not go through.
    #[error("{0}")]
    Http(#[from] vigie_collectors::http::HttpError),
    /// The receiver refused it.
    #[error("the OTLP receiver answered {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
}

/// Posts one protobuf request to `endpoint` + `path`.
async fn post(otlp: &Otlp, path: &str, body: Vec<u8>) -> Result<(), ExportError> {
    let url = url::Url::parse(&format!("{}{path}", otlp.endpoint))
        .map_err(|e| ExportError::Endpoint(otlp.endpoint.clone(), e.to_string()))?;
    let host = url
        .host_str()
        .ok_or_else(|| ExportError::Endpoint(otlp.endpoint.clone(), "no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| ExportError::Endpoint(otlp.endpoint.clone(), "no port".into()))?;
    let tls = (url.scheme() == "https").then_some(crate::config::TlsTrust::System);
    let answer = vigie_collectors::http::exchange(vigie_collectors::http::HttpRequest {
        address: &host,
        port,
        method: hyper::Method::POST,
        path: url.path(),
        headers: vec![("content-type".into(), "application/x-protobuf".into())],
        body,
        timeout: otlp.timeout,
        max_body: MAX_ANSWER,
        tls,
    })
    .await?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        Err(ExportError::Refused {
            status: answer.status,
            body: String::from_utf8_lossy(&answer.body)
                .chars()
                .take(200)
                .collect(),
        })
    }
}

/// What the export task reads.
pub struct Sources {
    /// The fleet, for the snapshot.
    pub fleet: Addr<Fleet>,
    /// The counters and spans.
    pub telemetry: Arc<Telemetry>,
    /// The store, for its commit latencies.
    pub store: crate::store::Store,
    /// The outbox, for its depth.
    pub outbox: Option<crate::outbox::Outbox>,
    /// Time.
    pub clock: crate::clock::Clock,
}

/// Follows the config in force and exports while it names an endpoint.
pub async fn run(mut config: watch::Receiver<Option<Arc<Config>>>, src: Sources) {
    let ids = Ids::new(src.clock.now());
    let mut failing = false;
    loop {
        let otlp = config
            .borrow_and_update()
            .as_ref()
            .and_then(|c| c.telemetry.otlp.clone());
        let Some(otlp) = otlp else {
            src.telemetry.set_span_capacity(0);
            if config.changed().await.is_err() {
                return;
            }
            continue;
        };
        src.telemetry
            .set_span_capacity(if otlp.traces { otlp.buffer } else { 0 });
        tokio::select! {
            () = tokio::time::sleep(otlp.interval) => {}
            changed = config.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        }
        let ok = export_once(&otlp, &src, &ids).await;
        match (&ok, failing) {
            (Err(e), false) => {
                tracing::warn!(endpoint = %otlp.endpoint, "OTLP export failed (collection goes on; said again once it works): {e}");
                failing = true;
            }
            (Ok(()), true) => {
                tracing::info!(endpoint = %otlp.endpoint, "OTLP export works again");
                failing = false;
            }
            _ => {}
        }
    }
}

/// One export: the metrics, then the spans waiting.
async fn export_once(otlp: &Otlp, src: &Sources, ids: &Ids) -> Result<(), ExportError> {
    let instance = otlp.instance.clone().unwrap_or_else(host_name);
    let mut result = Ok(());
    match tokio::time::timeout(
        otlp.timeout,
        super::snapshot(&src.fleet, &src.telemetry, &src.store),
    )
    .await
    {
        Ok(Ok(snap)) => {
            let outbox = src.outbox.as_ref().map(|o| o.status());
            let started = src.telemetry.started();
            let inst = instance.clone();
            let now = src.clock.now();
            // Encoding a large fleet is CPU work: off the runtime's threads.
            let body = tokio::task::spawn_blocking(move || {
                metrics_request(&snap, outbox.as_ref(), &inst, started, now).encode_to_vec()
            })
            .await
            .unwrap_or_default();
            let sent = post(otlp, "/v1/metrics", body).await;
            src.telemetry.export_done(sent.is_ok());
            result = sent;
        }
        _ => tracing::warn!("OTLP export: the fleet did not answer in time; metrics skipped"),
    }
    let spans = src.telemetry.take_spans();
    if !spans.is_empty() {
        let n = spans.len() as u64;
        let body = traces_request(&spans, &instance, ids).encode_to_vec();
        let sent = post(otlp, "/v1/traces", body).await;
        src.telemetry.export_done(sent.is_ok());
        if let Err(e) = sent {
            // Not kept for a retry: the buffer's bound holds whatever the receiver does.
            src.telemetry.export_dropped(n);
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    result
}
