//! Telemetry of the real daemon: the Prometheus exposition at `/metrics`, read back with a
//! Prometheus text parser and checked by Prometheus' own `promtool check metrics`.

use crate::support::{DaemonProcess, alerts_until, equipment, main_file, site_head};
use std::io::Write as _;
use std::process::{Command, Stdio};
use vigie::client::ApiClient;

const WORLD: &str = r#"
[default]
status = "up"

[equipment.cam-2]
status = "down"
reason = "no answer"

[equipment.nvr]
status = "up"
metrics = [
  { name = "system.filesystem.utilization", attributes = [["mountpoint", "/hdd"]], value = 0.97 },
  { name = "hw.temperature", attributes = [["sensor", "board \"A\" \\ left"], ["site", "attribute named site"]], value = 41.5 },
  { name = "acme.fan-speed", value = 1200 },
]
"#;

/// A config directory in `dir`: one site with a switch, an NVR and `cameras` behind it,
/// collected every second, with `extra` in the main file; returns the simulation file
/// ([`WORLD`]).
fn fleet(dir: &std::path::Path, extra: &str, cameras: &[&str]) -> std::path::PathBuf {
    std::fs::write(
        dir.join("vigie.toml"),
        main_file(&format!("[daemon]\ncollection_interval = \"1s\"\n{extra}")),
    )
    .expect("write");
    std::fs::create_dir_all(dir.join("sites")).expect("mkdir");
    let mut site = site_head("Europe/Paris", "0");
    site.push_str(&equipment("sw", "switch", None));
    site.push_str(&equipment("nvr", "nvr", Some("sw")));
    for cam in cameras {
        site.push_str(&equipment(cam, "camera", Some("sw")));
    }
    std::fs::write(dir.join("sites/depot.toml"), site).expect("write");
    let world = dir.join("world.toml");
    std::fs::write(&world, WORLD).expect("write");
    world
}

/// The daemon's `/metrics` text.
fn scrape(api: &ApiClient) -> String {
    let (status, text) = api.raw("GET", "/metrics", &[], None).expect("scrape");
    assert_eq!(status, 200, "{text}");
    text
}

/// The samples of `text`, parsed as Prometheus parses them.
fn parse(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("a Prometheus text exposition")
}

/// The value of the sample `name` whose labels include `labels`.
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let s = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| {
            panic!(
                "no {name} {labels:?} in {:?}",
                scrape
                    .samples
                    .iter()
                    .filter(|s| s.metric == name)
                    .collect::<Vec<_>>()
            )
        });
    match s.value {
        prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: {other:?}"),
    }
}

/// `promtool check metrics` on `text`: its success and what it printed.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn metrics_are_a_prometheus_exposition_that_promtool_accepts_with_equipment_labelled() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let world = fleet(
        cfg.path(),
        "[thresholds]\ncamera_offline = { after = \"1s\" }\ndisk = { for = \"0s\" }\n",
        &["cam-1", "cam-2"],
    );

    let daemon = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = daemon.client();
    // The disk and the camera alerts open once both were collected.
    alerts_until(&api, "disk and camera alerts", |l| l.alerts.len() >= 2);

    let text = scrape(&api);
    let (ok, printed) = promtool(&text);
    assert!(ok && printed.trim().is_empty(), "{printed}\n{text}");
    let first = parse(&text);
    let nvr = [
        ("client", "c"),
        ("site", "depot"),
        ("equipment", "nvr"),
        ("kind", "nvr"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut l = nvr.to_vec();
        l.extend_from_slice(extra);
        l
    };
    assert_eq!(
        value(
            &first,
            "vigie_system_filesystem_utilization_ratio",
            &with(&[("mountpoint", "/hdd")])
        ),
        0.97
    );
    // Quotes and backslashes in a label value are escaped (promtool read them above; this
    // parser keeps the escapes as written); an attribute named like a base label is kept
    // apart.
    assert_eq!(
        value(
            &first,
            "vigie_hw_temperature_celsius",
            &with(&[
                ("sensor", r#"board \"A\" \\ left"#),
                ("attr_site", "attribute named site")
            ])
        ),
        41.5
    );
    assert_eq!(value(&first, "vigie_acme_fan_speed", &nvr), 1200.0);
    assert_eq!(value(&first, "vigie_equipment_up", &nvr), 1.0);
    let cam2 = [("equipment", "cam-2")];
    assert_eq!(value(&first, "vigie_equipment_up", &cam2), 0.0);
    assert_eq!(
        value(
            &first,
            "vigie_equipment_status",
            &[("equipment", "cam-2"), ("status", "down")]
        ),
        1.0
    );
    // The daemon's own metrics.
    assert_eq!(
        value(
            &first,
            "vigie_alerts_open",
            &[("severity", "critical"), ("state", "open")]
        ) + value(
            &first,
            "vigie_alerts_open",
            &[("severity", "warning"), ("state", "open")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &first,
            "vigie_config_reloads_total",
            &[("result", "accepted")]
        ),
        1.0
    );
    assert_eq!(value(&first, "vigie_actors", &[("kind", "equipment")]), 4.0);
    assert_eq!(value(&first, "vigie_actors", &[("kind", "site")]), 1.0);
    let up = value(&first, "vigie_probes_total", &[("outcome", "up")]);
    let down = value(&first, "vigie_probes_total", &[("outcome", "down")]);
    assert!(up >= 3.0 && down >= 1.0, "up {up}, down {down}");
    assert!(value(&first, "vigie_store_commit_duration_seconds_count", &[]) >= 1.0);
    assert!(text.contains("# TYPE vigie_probe_duration_seconds histogram"));
    // Every scheduled collection says how late it started.
    assert!(text.contains("# TYPE vigie_collection_start_lateness_seconds histogram"));
    assert!(value(&first, "vigie_collection_start_lateness_seconds_count", &[]) >= 1.0);

    // Counters only grow from one scrape to the next.
    let next_alerts = api.alerts().expect("alerts").version;
    let _ = api.alerts_after(next_alerts, std::time::Duration::from_millis(1500));
    let second = parse(&scrape(&api));
    let total = |s: &prometheus_parse::Scrape| {
        ["up", "down", "unknown", "timeout", "failed"]
            .iter()
            .map(|o| value(s, "vigie_probes_total", &[("outcome", o)]))
            .sum::<f64>()
    };
    assert!(total(&second) >= total(&first));
    daemon.sigterm();

    // promtool does catch a broken exposition: a counter without its suffix.
    let (ok, _) = promtool("# HELP x_seconds X\n# TYPE x_seconds counter\nx_seconds 1\n");
    assert!(!ok);
}

/// One request the OTLP receiver got.
struct Received {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// A real OTLP/HTTP receiver on loopback (hyper), decoding nothing itself: it hands each
/// request to the test, and answers 200, or 503 while `refuse` is set.
struct Receiver {
    addr: std::net::SocketAddr,
    requests: std::sync::mpsc::Receiver<Received>,
    refuse: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        use http_body_util::{BodyExt as _, Full};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (tx, requests) = std::sync::mpsc::channel();
        let refuse = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let refusing = std::sync::Arc::clone(&refuse);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (tx, refusing) = (tx.clone(), std::sync::Arc::clone(&refusing));
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(
                            move |req: hyper::Request<hyper::body::Incoming>| {
                                let (tx, refusing) = (tx.clone(), std::sync::Arc::clone(&refusing));
                                async move {
                                    let path = req.uri().path().to_string();
                                    let content_type = req
                                        .headers()
                                        .get("content-type")
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or_default()
                                        .to_string();
                                    let body = req
                                        .into_body()
                                        .collect()
                                        .await
                                        .map(|b| b.to_bytes().to_vec())
                                        .unwrap_or_default();
                                    let _ = tx.send(Received {
                                        path,
                                        content_type,
                                        body,
                                    });
                                    let mut answer =
                                        hyper::Response::new(Full::new(hyper::body::Bytes::new()));
                                    if refusing.load(std::sync::atomic::Ordering::SeqCst) {
                                        *answer.status_mut() =
                                            hyper::StatusCode::SERVICE_UNAVAILABLE;
                                    }
                                    Ok::<_, std::convert::Infallible>(answer)
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Receiver {
            addr,
            requests,
            refuse,
        }
    }

    /// The next request on `path` (fails the test after 60 s without one).
    fn next(&self, path: &str) -> Received {
        loop {
            let r = self
                .requests
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no OTLP request on {path} within 60 s"));
            if r.path == path {
                return r;
            }
        }
    }
}

fn attr<'a>(
    attrs: &'a [opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<&'a str> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
}

#[test]
fn otlp_exports_metrics_and_probe_spans_to_a_real_receiver_and_a_refusing_one_costs_only_counted_drops()
 {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value};
    use prost::Message as _;

    let receiver = Receiver::start();
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let world = fleet(
        cfg.path(),
        &format!(
            "[telemetry]\notlp_endpoint = \"http://{}/\"\ninterval = \"300ms\"\ninstance = \"supervision-test\"\nbuffer = 16\n",
            receiver.addr
        ),
        &["cam-2"],
    );
    let daemon = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = daemon.client();

    // Metrics: the resource names the instance; the NVR's disk arrives with its place in the
    // fleet once collected; the daemon's own counters and latencies are there.
    let metrics = loop {
        let r = receiver.next("/v1/metrics");
        assert_eq!(r.content_type, "application/x-protobuf");
        let req = ExportMetricsServiceRequest::decode(r.body.as_slice()).expect("OTLP metrics");
        let rm = &req.resource_metrics[0];
        let res = rm.resource.as_ref().expect("resource");
        assert_eq!(attr(&res.attributes, "service.name"), Some("vigie"));
        assert_eq!(
            attr(&res.attributes, "service.instance.id"),
            Some("supervision-test")
        );
        let all: Vec<_> = rm
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .cloned()
            .collect();
        if all
            .iter()
            .any(|m| m.name == "system.filesystem.utilization")
        {
            break all;
        }
    };
    let disk = metrics
        .iter()
        .find(|m| m.name == "system.filesystem.utilization")
        .expect("disk");
    let Some(Data::Gauge(g)) = &disk.data else {
        panic!("{disk:?}")
    };
    let p = &g.data_points[0];
    assert_eq!(attr(&p.attributes, "equipment"), Some("nvr"));
    assert_eq!(attr(&p.attributes, "site"), Some("depot"));
    assert_eq!(attr(&p.attributes, "client"), Some("c"));
    assert_eq!(attr(&p.attributes, "mountpoint"), Some("/hdd"));
    assert_eq!(p.value, Some(Value::AsDouble(0.97)));
    let temp = metrics
        .iter()
        .find(|m| m.name == "hw.temperature")
        .expect("temperature");
    assert_eq!(temp.unit, "Cel");
    let probes = metrics
        .iter()
        .find(|m| m.name == "vigie.probes")
        .expect("probes");
    let Some(Data::Sum(sum)) = &probes.data else {
        panic!("{probes:?}")
    };
    assert!(sum.is_monotonic);
    let up = sum
        .data_points
        .iter()
        .find(|p| attr(&p.attributes, "outcome") == Some("up"))
        .and_then(|p| p.value);
    assert!(matches!(up, Some(Value::AsDouble(v)) if v >= 1.0), "{up:?}");
    let latency = metrics
        .iter()
        .find(|m| m.name == "vigie.probe.duration")
        .expect("latency");
    let Some(Data::Histogram(h)) = &latency.data else {
        panic!("{latency:?}")
    };
    assert!(h.data_points[0].count >= 1);
    assert_eq!(
        h.data_points[0].bucket_counts.len(),
        h.data_points[0].explicit_bounds.len() + 1
    );

    // Traces: each probe run a span, the camera's saying why it is down.
    let down = loop {
        let r = receiver.next("/v1/traces");
        let req = ExportTraceServiceRequest::decode(r.body.as_slice()).expect("OTLP traces");
        let spans: Vec<_> = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .cloned()
            .collect();
        assert!(
            spans.len() <= 16,
            "more spans than the buffer: {}",
            spans.len()
        );
        for s in &spans {
            assert_eq!(s.name, "probe");
            assert_eq!(s.trace_id.len(), 16);
            assert_eq!(s.span_id.len(), 8);
            assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
        }
        if let Some(s) = spans
            .iter()
            .find(|s| attr(&s.attributes, "equipment") == Some("cam-2"))
        {
            break s.clone();
        }
    };
    assert_eq!(attr(&down.attributes, "outcome"), Some("down"));
    assert_eq!(attr(&down.attributes, "reason"), Some("no answer"));

    // The receiver refuses everything: the exports fail, the spans they carried are dropped
    // and counted, and collection goes on.
    receiver
        .refuse
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let before = parse(&scrape(&api));
    let probes_before = value(&before, "vigie_probes_total", &[("outcome", "up")]);
    // Each export is a moment to look (no sleeping): until the refusals are counted and a
    // collection ran meanwhile, within 200 exports.
    for n in 0.. {
        receiver.next("/v1/metrics");
        let after = parse(&scrape(&api));
        let failed = value(&after, "vigie_otlp_exports_total", &[("result", "failed")]);
        let dropped = value(&after, "vigie_otlp_dropped_total", &[]);
        let probes = value(&after, "vigie_probes_total", &[("outcome", "up")]);
        if failed >= 1.0 && dropped >= 1.0 && probes > probes_before {
            break;
        }
        assert!(
            n < 200,
            "failed {failed}, dropped {dropped}, probes {probes} (before {probes_before})"
        );
    }
    daemon.sigterm();
}
