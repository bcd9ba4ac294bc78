//! Live reload through the watched config directory of a daemon started in-process on
//! port 0: edits are applied by diff, a broken edit is refused and the last good config stays.

use crate::support::*;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use vigie::actors::FleetQuery;
use vigie::clock::Clock;
use vigie::collector::ScriptedCollector;
use vigie::server::{self, Daemon, Options};
use vigie::status::FleetStatus;

pub fn options(config: &Path, data: &Path, sim: &ScriptedCollector) -> Options {
    Options {
        config_dir: config.to_path_buf(),
        data_dir: data.to_path_buf(),
        collector: Arc::new(sim.clone()),
        clock: Clock::System,
        arbiters: 1,
        http_workers: 1,
        max_probes_in_flight: 16,
        heartbeats: vigie::collectors::heartbeat::HeartbeatBook::new(chrono::Utc::now()),
        plugins: None,
        start_config: None,
    }
}

/// Waits (on config-load events, at most 20 s) until the status satisfies `cond`.
pub async fn wait_status(
    d: &Daemon,
    what: &str,
    cond: impl Fn(&FleetStatus) -> bool,
) -> FleetStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let g = d.generation();
        let status = d.fleet.send(FleetQuery).await.expect("fleet");
        if cond(&status) {
            return status;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            tokio::time::timeout(left, d.wait_generation(g + 1))
                .await
                .is_ok(),
            "timed out waiting for: {what}; last status:\n{}",
            status.render()
        );
    }
}

async fn lookup(d: &Daemon, id: &str) -> vigie::status::EquipmentDetail {
    let query = vigie::actors::EquipmentLookup(vigie::config::EquipmentId::new(id));
    d.fleet
        .send(query)
        .await
        .expect("fleet")
        .expect("equipment exists")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn site(name: &str, extra_equipment: &[&str]) -> String {
    let mut s = format!("[site]\nname = \"{name}\"\nclient = \"c\"\ntimezone = \"UTC\"\n");
    let switch = format!("{}-sw", name.to_lowercase());
    s.push_str(&equipment(&switch, "switch", None));
    for e in extra_equipment {
        s.push_str(&equipment(e, "camera", Some(&switch)));
    }
    s
}

#[actix_rt::test]
async fn edits_reload_live_and_a_broken_edit_keeps_the_last_good_config() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    write(&cfg.path().join("vigie.toml"), &main_file(""));
    write(
        &cfg.path().join("sites/alpha.toml"),
        &site("Alpha", &["a-cam-1"]),
    );
    write(
        &cfg.path().join("sites/beta.toml"),
        &site("Beta", &["b-cam-1", "b-cam-2"]),
    );
    let sim = ScriptedCollector::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    wait_status(&d, "two sites", |s| s.sites.len() == 2).await;
    let untouched = lookup(&d, "b-cam-1").await;

    // Add an equipment to alpha and a third site.
    write(
        &cfg.path().join("sites/alpha.toml"),
        &site("Alpha", &["a-cam-1", "a-cam-2"]),
    );
    write(&cfg.path().join("sites/gamma.toml"), &site("Gamma", &[]));
    let s = wait_status(&d, "three sites, 7 equipment", |s| {
        s.sites.len() == 3 && s.by_status.values().sum::<usize>() == 7
    })
    .await;
    assert!(s.last_reload.as_ref().is_some_and(|r| r.accepted));

    // A broken edit: refused with located errors; everything keeps running.
    write(
        &cfg.path().join("sites/beta.toml"),
        "[site]\nname = \"Beta\"\nclient = \"c\"\ntimezone = \"Mars/Olympus\"\n",
    );
    let s = wait_status(&d, "refused reload", |s| {
        s.last_reload.as_ref().is_some_and(|r| !r.accepted)
    })
    .await;
    let errors = &s.last_reload.as_ref().expect("report").errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("sites/beta.toml:4:12: `Mars/Olympus` is not a known time zone"),
        "{errors:?}"
    );
    assert_eq!(s.sites.len(), 3);
    assert_eq!(s.by_status.values().sum::<usize>(), 7);

    // Remove a site and repair beta: accepted again; untouched equipment kept its state.
    std::fs::remove_file(cfg.path().join("sites/gamma.toml")).expect("rm");
    write(
        &cfg.path().join("sites/beta.toml"),
        &site("Beta", &["b-cam-1", "b-cam-2"]),
    );
    wait_status(&d, "two sites again", |s| {
        s.sites.len() == 2 && s.last_reload.as_ref().is_some_and(|r| r.accepted)
    })
    .await;
    let after = lookup(&d, "b-cam-1").await;
    assert_eq!(after.summary.since, untouched.summary.since);
    assert!(after.collections >= untouched.collections);
    d.stop().await;
}
