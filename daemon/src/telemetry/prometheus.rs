//! The Prometheus text exposition (format 0.0.4) of a [`Snapshot`], served at `/metrics`: the
//! daemon's own metrics under `vigie_`, and each equipment's last metrics under
//! `vigie_` + their OpenTelemetry name with dots as underscores and the unit as a suffix
//! (`hw.temperature` → `vigie_hw_temperature_celsius`), labelled by client, site, equipment and
//! kind, plus the metric's own attributes.

use super::Snapshot;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use vigie_core::histogram::HistogramSnapshot;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Known equipment metrics: OpenTelemetry name, Prometheus suffix (unit), help.
const KNOWN: &[(&str, &str, &str)] = &[
    ("hw.temperature", "celsius", "Temperature of a sensor"),
    ("hw.status", "", "State of a hardware part: 1 ok, 0 failed"),
    (
        "system.filesystem.utilization",
        "ratio",
        "Used share of a volume (0 to 1)",
    ),
    ("system.filesystem.usage", "bytes", "Used space of a volume"),
    ("system.filesystem.limit", "bytes", "Size of a volume"),
    ("system.cpu.utilization", "ratio", "CPU use (0 to 1)"),
    ("system.memory.utilization", "ratio", "Memory use (0 to 1)"),
    (
        "device.uptime",
        "seconds",
        "Time since the equipment booted",
    ),
    (
        "device.clock.offset",
        "seconds",
        "Equipment clock minus the daemon's clock",
    ),
    ("network.icmp.rtt", "seconds", "Mean ICMP echo round trip"),
    (
        "network.icmp.loss",
        "ratio",
        "Share of ICMP echo requests without an answer (0 to 1)",
    ),
    (
        "network.tcp.connect_time",
        "seconds",
        "Time to open a TCP connection to the probed port",
    ),
    (
        "network.interface.up",
        "",
        "Operational state of a network interface: 1 up, 0 down",
    ),
    ("video.recording", "", "Recording state: 1 recording, 0 not"),
    (
        "video.streaming",
        "",
        "Stream state: 1 delivers video, 0 does not",
    ),
    (
        "service.up",
        "",
        "State of a watched service: 1 running, 0 not",
    ),
    ("camera.online", "", "Camera online as its recorder sees it"),
];

/// A metric or label name made of `[a-zA-Z0-9_]`, not starting with a digit.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// The Prometheus name and help of an equipment metric.
fn equipment_family(name: &str) -> (String, String) {
    match KNOWN.iter().find(|(n, _, _)| *n == name) {
        Some((n, unit, help)) => {
            let base = format!("vigie_{}", sanitize(n));
            let full = if unit.is_empty() {
                base
            } else {
                format!("{base}_{unit}")
            };
            (full, format!("{help} ({n})"))
        }
        None => (
            format!("vigie_{}", sanitize(name)),
            format!("Equipment metric {name} as its probe reports it"),
        ),
    }
}

/// A label value with `\`, `"` and line ends escaped.
fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A help text with `\` and line ends escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A float as the exposition writes it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// One family: its type, help and samples (suffix, labels, value), samples of the same
/// labels keeping the last.
struct Family {
    kind: &'static str,
    help: String,
    samples: BTreeMap<(String, String), f64>,
}

/// The exposition being written.
#[derive(Default)]
struct Exposition {
    families: BTreeMap<String, Family>,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &'static str, help: &str) -> &mut Family {
        self.families
            .entry(name.to_string())
            .or_insert_with(|| Family {
                kind,
                help: help.to_string(),
                samples: BTreeMap::new(),
            })
    }

    fn sample(
        &mut self,
        name: &str,
        kind: &'static str,
        help: &str,
        labels: &[(&str, &str)],
        v: f64,
    ) {
        let labels = render_labels(labels);
        self.family(name, kind, help)
            .samples
            .insert((String::new(), labels), v);
    }

    fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot) {
        let f = self.family(name, "histogram", help);
        for (i, (le, c)) in h.cumulative().into_iter().enumerate() {
            // Zero-padded so that the buckets keep their order.
            f.samples.insert(
                (
                    format!("_bucket{i:02}"),
                    render_labels(&[("le", &number(le))]),
                ),
                c as f64,
            );
        }
        f.samples.insert(
            ("_bucket99".into(), render_labels(&[("le", "+Inf")])),
            h.count() as f64,
        );
        f.samples.insert(("_sum".into(), String::new()), h.sum);
        f.samples
            .insert(("_count".into(), String::new()), h.count() as f64);
    }

    fn write(self) -> String {
        let mut out = String::new();
        for (name, f) in self.families {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {name} {}", f.kind);
            for ((suffix, labels), v) in f.samples {
                let suffix = suffix.trim_end_matches(|c: char| c.is_ascii_digit());
                let _ = writeln!(out, "{name}{suffix}{labels} {}", number(v));
            }
        }
        out
    }
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_value(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Writes the snapshot as Prometheus text.
pub fn render(s: &Snapshot, outbox: Option<&crate::outbox::OutboxStatus>) -> String {
    let mut e = Exposition::default();
    e.sample(
        "vigie_build_info",
        "gauge",
        "The running vigie's version (always 1)",
        &[("version", &s.fleet.version)],
        1.0,
    );
    let c = &s.counters;
    for (outcome, n) in &c.probes {
        e.sample(
            "vigie_probes_total",
            "counter",
            "Probe runs since the daemon started, by outcome",
            &[("outcome", outcome.as_str())],
            *n as f64,
        );
    }
    e.histogram(
        "vigie_probe_duration_seconds",
        "How long probe runs took, timeouts included",
        &c.probe_latency,
    );
    e.histogram(
        "vigie_collection_start_lateness_seconds",
        "How late scheduled collections started after the instant they were due",
        &c.start_lateness,
    );
    for (result, n) in [
        ("accepted", c.reloads_accepted),
        ("refused", c.reloads_refused),
    ] {
        e.sample(
            "vigie_config_reloads_total",
            "counter",
            "Config loads since the daemon started, accepted or refused",
            &[("result", result)],
            n as f64,
        );
    }
    e.sample(
        "vigie_config_last_reload_success",
        "gauge",
        "Whether the last config load was accepted (1) or refused (0)",
        &[],
        if s.fleet.last_reload.as_ref().is_none_or(|r| r.accepted) {
            1.0
        } else {
            0.0
        },
    );
    e.sample(
        "vigie_config_on_last_good",
        "gauge",
        "1 while the daemon runs on its last good config because the files do not load",
        &[],
        if s.fleet.on_last_good.is_some() {
            1.0
        } else {
            0.0
        },
    );
    for (kind, n) in s.actors() {
        e.sample(
            "vigie_actors",
            "gauge",
            "Site and equipment actors running",
            &[("kind", kind)],
            n,
        );
    }
    let open = s.open_alerts();
    for ((sev, st), n) in &open {
        e.sample(
            "vigie_alerts_open",
            "gauge",
            "Alerts not closed, by severity and state",
            &[("severity", sev), ("state", st)],
            *n as f64,
        );
    }
    e.histogram(
        "vigie_store_commit_duration_seconds",
        "How long the data store's commits took, failed ones included",
        &s.commits,
    );
    if let Some(h) = &s.fleet.store {
        e.sample(
            "vigie_store_commit_failures_total",
            "counter",
            "Data store commits that failed since the daemon started",
            &[],
            h.failed_total as f64,
        );
        e.sample(
            "vigie_store_pending_events",
            "gauge",
            "Events waiting for a successful commit",
            &[],
            h.pending_events as f64,
        );
    }
    if let Some(o) = outbox {
        e.sample(
            "vigie_outbox_pending",
            "gauge",
            "Notifications waiting for their channel",
            &[],
            o.pending as f64,
        );
        e.sample(
            "vigie_notifications_sent_total",
            "counter",
            "Notifications accepted by their channel since the daemon started",
            &[],
            o.sent as f64,
        );
    }
    for (result, n) in [("sent", c.exports_sent), ("failed", c.exports_failed)] {
        e.sample(
            "vigie_otlp_exports_total",
            "counter",
            "OTLP export requests, sent or failed",
            &[("result", result)],
            n as f64,
        );
    }
    e.sample(
        "vigie_otlp_dropped_total",
        "counter",
        "Telemetry items dropped because the OTLP exporter's buffer was full",
        &[],
        c.export_dropped as f64,
    );

    for eq in &s.equipment {
        let kind = eq.kind.name();
        let base = [
            ("client", eq.client.as_str()),
            ("site", eq.site.as_str()),
            ("equipment", eq.equipment.as_str()),
            ("kind", kind),
        ];
        e.sample(
            "vigie_equipment_up",
            "gauge",
            "Whether the equipment answers (1) or not (0: down, unreachable or unknown)",
            &base,
            if eq.status == crate::rules::Status::Up {
                1.0
            } else {
                0.0
            },
        );
        let status = eq.status.to_string();
        let mut with_status = base.to_vec();
        with_status.push(("status", &status));
        e.sample(
            "vigie_equipment_status",
            "gauge",
            "The equipment's status as a label (always 1): up, down, unreachable or unknown",
            &with_status,
            1.0,
        );
        e.sample(
            "vigie_equipment_maintenance",
            "gauge",
            "1 while a maintenance window covers the equipment",
            &base,
            if eq.maintenance { 1.0 } else { 0.0 },
        );
        for m in &eq.metrics {
            let (name, help) = equipment_family(&m.name);
            let attrs: Vec<(String, &str)> = m
                .attributes
                .iter()
                .map(|(k, v)| {
                    let k = sanitize(k);
                    // `le` is the histograms' own label.
                    let k = if k == "le" {
                        "attr_le".to_string()
                    } else {
                        super::attribute_label(&k, "attr_")
                    };
                    (k, v.as_str())
                })
                .collect();
            let mut labels = base.to_vec();
            labels.extend(attrs.iter().map(|(k, v)| (k.as_str(), *v)));
            e.sample(&name, "gauge", &help, &labels, m.value);
        }
    }
    e.write()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        assert_eq!(
            equipment_family("hw.temperature").0,
            "vigie_hw_temperature_celsius"
        );
        assert_eq!(
            equipment_family("system.filesystem.utilization").0,
            "vigie_system_filesystem_utilization_ratio"
        );
        assert_eq!(
            equipment_family("video.recording").0,
            "vigie_video_recording"
        );
        assert_eq!(equipment_family("acme.fan-speed").0, "vigie_acme_fan_speed");
        assert_eq!(sanitize("3d"), "_3d");
        assert_eq!(escape_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
    }
}
