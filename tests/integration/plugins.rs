//! The plugin host with real plugins built for wasm32-wasip2: loading and version checks,
//! hostile plugins, host capabilities, the watched plugins directory, recorder channels and
//! vendor plugins through the real daemon.

use crate::support::{main_file, plugin_wasm, single_equipment, site_head};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use vigie::clock::Clock;
use vigie::config::EquipmentConfig;
use vigie::observation::{Observation, ProbeStatus};
use vigie::plugins::{Limits, PluginError, PluginHost};

fn host(deadline: Duration) -> PluginHost {
    let limits = Limits {
        deadline,
        concurrency: 8,
        ..Limits::default()
    };
    PluginHost::new(Clock::System, limits, None).expect("plugin host")
}

/// An equipment `e` at `address` collected by `plugin:NAME` with `params` (TOML inline
/// table body) and extra TOML lines.
fn plugin_equipment(
    plugin: &str,
    address: &str,
    params: &str,
    extra: &str,
) -> Arc<EquipmentConfig> {
    let site = site_head("UTC", "0")
        + &format!(
            "\n[[equipment]]\nid = \"e\"\nkind = \"nvr\"\naddress = \"{address}\"\nprobes = [\"plugin:{plugin}\"]\nplugin_params = {{ {params} }}\n{extra}"
        );
    single_equipment(&main_file(""), &site)
}

fn reason(o: &Observation) -> String {
    match &o.status {
        ProbeStatus::Up => "up".into(),
        ProbeStatus::Down { reason } => format!("down: {reason}"),
        ProbeStatus::Unknown { reason } => format!("unknown: {reason}"),
    }
}

fn loaded(host: &PluginHost, file: &Path) -> PluginHost {
    host.load(file).expect("plugin loads");
    host.clone()
}

#[test]
fn a_plugin_is_described_and_foreign_or_future_plugins_are_refused() {
    let h = host(Duration::from_secs(2));
    let info = h.inspect(&plugin_wasm("testbed")).expect("testbed loads");
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("testbed", "1.2.3")
    );
    assert_eq!(info.api_version, vigie::plugins::API_VERSION);
    assert_eq!(info.kinds, ["nvr", "other"]);
    let mode = info.params.iter().find(|p| p.name == "mode").expect("mode");
    assert_eq!(mode.default.as_deref(), Some("ok"));
    assert!(info.size > 1000, "{}", info.size);

    let future = h
        .inspect(&plugin_wasm("future-api"))
        .expect_err("future API");
    assert!(
        matches!(future, PluginError::Version(_, ref v) if v == "0.2.0"),
        "{future}"
    );
    let text = future.to_string();
    assert!(
        text.contains("vigie:probe@0.2.0") && text.contains("vigie:probe@0.1.0"),
        "{text}"
    );

    let foreign = h
        .inspect(&plugin_wasm("foreign-import"))
        .expect_err("foreign import");
    assert!(matches!(foreign, PluginError::Imports(..)), "{foreign}");
    assert!(
        foreign.to_string().contains("vigie-test:foreign/shell"),
        "{foreign}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm not really").expect("write");
    let err = h.inspect(&junk).expect_err("junk");
    assert!(matches!(err, PluginError::Invalid(..)), "{err}");
    assert!(
        err.to_string().starts_with(&junk.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_stopped_with_a_clear_reason_and_others_keep_running() {
    let h = loaded(&host(Duration::from_secs(2)), &plugin_wasm("testbed"));
    let t = Duration::from_secs(1);
    let run = |mode: &str| {
        let eq = plugin_equipment("testbed", "127.0.0.1", &format!("mode = \"{mode}\""), "");
        h.collect("testbed", &eq, t)
    };
    // Every hostile call runs at once, with a well-behaved one beside them.
    let modes = ["loop", "alloc", "huge", "many", "panic", "other-host", "ok"];
    let outcomes = futures::future::join_all(modes.iter().map(|m| run(m))).await;
    let got: Vec<(String, String)> = modes
        .iter()
        .zip(&outcomes)
        .map(|(m, o)| (m.to_string(), reason(&o.observation)))
        .collect();
    let expect = |mode: &str, needles: &[&str]| {
        let (_, r) = got.iter().find(|(m, _)| m == mode).expect("mode");
        for n in needles {
            assert!(r.contains(n), "{mode}: `{r}` lacks `{n}`");
        }
    };
    expect(
        "loop",
        &["unknown: plugin `testbed` ran past its deadline of 2s"],
    );
    expect(
        "alloc",
        &["unknown: plugin `testbed` exceeded its memory limit of 32 MiB"],
    );
    expect(
        "huge",
        &["unknown: plugin `testbed` exceeded its memory limit of 32 MiB"],
    );
    expect(
        "many",
        &["unknown: plugin `testbed` returned too much: 100000 metrics (at most 4096)"],
    );
    expect(
        "panic",
        &[
            "unknown: plugin `testbed` crashed",
            "the testbed panics on purpose",
        ],
    );
    expect(
        "other-host",
        &[
            "192.0.2.1",
            "is not the address of equipment `e` (127.0.0.1)",
        ],
    );
    expect("ok", &["up"]);
    let ok = &outcomes[6].observation;
    assert!(
        ok.metrics
            .iter()
            .any(|m| m.name == "hw.temperature" && m.value == 41.0)
    );
    assert!(
        ok.facts
            .contains(&("model".to_string(), "TB-1".to_string()))
    );

    // After all that, the host still runs plugins, each in a fresh instance.
    for _ in 0..3 {
        let o = run("state").await.observation;
        let calls = o
            .metrics
            .iter()
            .find(|m| m.name == "plugin.calls")
            .expect("calls");
        assert_eq!(calls.value, 1.0, "state leaked between calls");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_checked_against_what_the_plugin_declares() {
    let h = loaded(&host(Duration::from_secs(2)), &plugin_wasm("testbed"));
    let eq = plugin_equipment("testbed", "127.0.0.1", "colour = \"blue\"", "");
    let o = h.collect("testbed", &eq, Duration::from_secs(1)).await;
    let r = reason(&o.observation);
    assert!(
        r.contains("plugin `testbed` does not take parameter `colour` (it takes: mode, path, url, port, channels, temperature)"),
        "{r}"
    );
    let eq = plugin_equipment("missing", "127.0.0.1", "", "");
    let o = h.collect("missing", &eq, Duration::from_secs(1)).await;
    assert!(
        reason(&o.observation).contains("plugin `missing` is not loaded"),
        "{}",
        reason(&o.observation)
    );
}
