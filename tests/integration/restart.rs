//! Restarts of the real daemon process on the same data directory: kill -9 loses no open
//! alert, no acknowledgement and no offline time; a corrupt database is reported, not replaced.

use crate::support::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn fleet_dir(dir: &Path) {
    let main = main_file(
        &("[daemon]\ncollection_interval = \"1s\"\n[thresholds]\ncamera_offline = { after = \"1s\" }\ndisk = { for = \"0s\" }\n".to_string()
            + &account("marie", "operator")),
    );
    std::fs::write(dir.join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(dir.join("sites")).expect("mkdir");
    let mut site = site_head("Europe/Paris", "0");
    site.push_str(&equipment("sw", "switch", None));
    site.push_str(&equipment("nvr", "nvr", Some("sw")));
    site.push_str(&equipment("cam-1", "camera", Some("sw")));
    site.push_str(&equipment("cam-2", "camera", Some("sw")));
    std::fs::write(dir.join("sites/depot.toml"), site).expect("write");
}

const WORLD: &str = r#"
[default]
status = "up"

[equipment.cam-2]
status = "down"
reason = "no answer"

[equipment.nvr]
status = "up"
metrics = [{ name = "system.filesystem.utilization", attributes = [["mountpoint", "/hdd"]], value = 0.97 }]
"#;

/// Output of `vigie status --data DIR`, which must succeed.
fn vigie_status(data: &Path) -> String {
    let out = Command::new(vigie_bin())
        .args(["status", "--data"])
        .arg(data)
        .output()
        .expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kill_9_and_restart_keep_open_alerts_acknowledgements_and_offline_times() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    fleet_dir(cfg.path());
    let world = cfg.path().join("world.toml");
    std::fs::write(&world, WORLD).expect("write");

    let first = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = first.client();
    let list = alerts_until(&api, "two alerts", |l| l.alerts.len() >= 2);
    let mut ids: Vec<u64> = list.alerts.iter().map(|a| a.id).collect();
    ids.sort();
    let camera_alert = list
        .alerts
        .iter()
        .find(|a| a.rule == "cameras.offline")
        .expect("camera alert")
        .clone();
    first
        .client_as("marie")
        .ack(camera_alert.id, Some("technician sent"))
        .expect("ack");
    let offline_since = api
        .equipment("cam-2")
        .expect("cam-2")
        .summary
        .offline_since
        .expect("offline since");
    first.kill9();

    let second = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = second.client();
    // Restored alerts are live before the first collection.
    let list = api.alerts().expect("alerts");
    let mut again: Vec<u64> = list.alerts.iter().map(|a| a.id).collect();
    again.sort();
    assert_eq!(again, ids);
    let cam = list
        .alerts
        .iter()
        .find(|a| a.id == camera_alert.id)
        .expect("camera alert");
    assert_eq!(
        cam.acknowledged.as_ref().map(|a| a.by.as_str()),
        Some("marie")
    );
    let status = api
        .status_after(0, Duration::from_secs(30))
        .expect("status");
    assert_eq!(status.generation, 1);
    assert_eq!(
        api.equipment("cam-2").expect("cam-2").summary.offline_since,
        Some(offline_since)
    );
    // Collections go on and the conditions persist: still the same two alerts, no duplicate.
    let later = api
        .alerts_after(list.version, Duration::from_secs(3))
        .expect("alerts");
    let mut after: Vec<u64> = later.alerts.iter().map(|a| a.id).collect();
    after.sort();
    assert_eq!(after, ids);
    // `vigie status` reads the running daemon.
    let text = vigie_status(data.path());
    assert!(text.contains("live alerts: 2"), "{text}");
    second.kill9();

    // With the daemon gone, `vigie status` reads the saved state.
    let text = vigie_status(data.path());
    assert!(text.contains("vigie is not running"), "{text}");
    assert!(
        text.contains(&format!("#{} critical acknowledged", camera_alert.id)),
        "{text}"
    );
    // --equipment and --site narrow the saved state; an unknown one is an error.
    let narrowed = |args: &[&str]| {
        Command::new(vigie_bin())
            .arg("status")
            .args(args)
            .arg("--data")
            .arg(data.path())
            .output()
            .expect("status")
    };
    let cam = narrowed(&["--equipment", "cam-2"]);
    assert!(cam.status.success());
    let cam = String::from_utf8_lossy(&cam.stdout);
    assert!(cam.contains("equipment cam-2: down since"), "{cam}");
    let site = narrowed(&["--site", "depot"]);
    assert!(site.status.success());
    let site = String::from_utf8_lossy(&site.stdout);
    assert!(site.contains("site depot"), "{site}");
    assert!(site.contains("live alerts: 2"), "{site}");
    for args in [["--site", "nowhere"], ["--equipment", "cam-9"]] {
        let out = narrowed(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[1]), "{err}");
    }
}

#[test]
fn a_corrupt_database_stops_the_start_with_a_clear_message_and_is_left_untouched() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    fleet_dir(cfg.path());
    let db = data.path().join("vigie.redb");
    let garbage = vec![0xAB_u8; 8192];
    std::fs::write(&db, &garbage).expect("write");
    let out = Command::new(vigie_bin())
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(cfg.path())
        .arg("--data")
        .arg(data.path())
        .env("VIGIE_LOG", "off")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be opened"), "{err}");
    assert!(err.contains("left untouched"), "{err}");
    assert_eq!(std::fs::read(&db).expect("read"), garbage);
}

/// `vigie run` with the given dirs, expected to exit by itself: its status and stderr.
fn run_expecting_exit(cfg: &Path, data: &Path, world: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(vigie_bin())
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(cfg)
        .arg("--data")
        .arg(data)
        .arg("--simulate")
        .arg(world)
        .env("VIGIE_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start vigie");
    let status = exit_within(&mut child, Duration::from_secs(60), "vigie run");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    (status.code(), err)
}

#[test]
fn a_broken_config_at_start_runs_on_the_last_good_one_and_without_one_the_start_is_refused() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    fleet_dir(cfg.path());
    let world = cfg.path().join("world.toml");
    std::fs::write(&world, WORLD).expect("write");
    let site_file = cfg.path().join("sites/depot.toml");
    let good = std::fs::read_to_string(&site_file).expect("read");
    let broken = format!("{good}\n[[equipment]\nid = \"cam-3\"\n");

    // Never loaded, broken: no config to run on, the start is refused with the errors.
    std::fs::write(&site_file, &broken).expect("write");
    let (code, err) = run_expecting_exit(cfg.path(), data.path(), &world);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("sites/depot.toml:"), "{err}");
    assert!(err.contains("no last good config"), "{err}");

    // A good start saves the config; its alerts are raised.
    std::fs::write(&site_file, &good).expect("write");
    let first = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = first.client();
    let list = alerts_until(&api, "disk and camera alerts", |l| l.alerts.len() >= 2);
    let disk = list
        .alerts
        .iter()
        .find(|a| a.rule.to_string().starts_with("disk.usage"))
        .expect("nvr disk alert")
        .id;
    first.sigterm();
    // Saved by then: a stop waits for the copy being written.
    let saved = data.path().join("last-good-config/sites/depot.toml");
    assert_eq!(std::fs::read_to_string(&saved).expect("saved"), good);

    // The NVR leaves the config while the daemon is down: its restored alert is closed with
    // the reason at the next start, not left open.
    let without_nvr: String = good.replace("id = \"nvr\"", "id = \"nvr-gone\"");
    std::fs::write(&site_file, &without_nvr).expect("write");
    let second = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = second.client();
    alerts_until(&api, "the NVR's alert closed", |l| {
        !l.alerts.iter().any(|a| a.id == disk)
    });
    let gone = api.alert(disk).expect("alert");
    assert_eq!(gone.state.to_string(), "closed");
    assert_eq!(
        gone.closed.as_ref().and_then(|c| c.note.as_deref()),
        Some("removed from the configuration")
    );
    second.sigterm();

    // Broken at start with a last good config: the daemon runs on it and says so.
    std::fs::write(&site_file, &broken).expect("write");
    let third = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = third.client();
    // Generation 1 applies the saved copy, 2 records the refusal of the files.
    let status = api
        .status_after(1, Duration::from_secs(30))
        .expect("status");
    let fallback = status
        .on_last_good
        .as_ref()
        .expect("running on the last good config");
    assert!(
        fallback
            .errors
            .iter()
            .any(|e| e.contains("sites/depot.toml")),
        "{fallback:?}"
    );
    assert_eq!(status.sites.len(), 1, "the site is supervised");
    assert!(api.equipment("nvr-gone").is_ok());
    let text = vigie_status(data.path());
    assert!(
        text.contains("CONFIG FILES DO NOT LOAD: running on the last good config"),
        "{text}"
    );
    assert!(text.contains("sites/depot.toml"), "{text}");
    // The broken files did not replace the saved copy.
    assert_eq!(std::fs::read_to_string(&saved).expect("saved"), without_nvr);
    // The files are still watched: once fixed, they are applied and the warning goes.
    std::fs::write(&site_file, &good).expect("write");
    let mut generation = status.generation;
    let fixed = loop {
        let s = api
            .status_after(generation, Duration::from_secs(30))
            .expect("status");
        assert!(s.generation > generation, "no reload after the fix");
        generation = s.generation;
        if s.on_last_good.is_none() {
            break s;
        }
    };
    assert!(fixed.last_reload.expect("reload").accepted);
    assert!(api.equipment("nvr").is_ok());
    third.sigterm();
    // The fixed files are the new last good copy: written off the reload's path, so read
    // once the stop, which waits for the copy, is over.
    assert_eq!(std::fs::read_to_string(&saved).expect("saved"), good);
}
