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
    std::fs::write(
        cfg.path().join("vigie.toml"),
        main_file(
            "[daemon]\ncollection_interval = \"1s\"\n[thresholds]\ncamera_offline = { after = \"1s\" }\ndisk = { for = \"0s\" }\n",
        ),
    )
    .expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let mut site = site_head("Europe/Paris", "0");
    site.push_str(&equipment("sw", "switch", None));
    site.push_str(&equipment("nvr", "nvr", Some("sw")));
    site.push_str(&equipment("cam-1", "camera", Some("sw")));
    site.push_str(&equipment("cam-2", "camera", Some("sw")));
    std::fs::write(cfg.path().join("sites/depot.toml"), site).expect("write");
    let world = cfg.path().join("world.toml");
    std::fs::write(&world, WORLD).expect("write");

    let daemon = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = ApiClient::new(&daemon.api);
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
