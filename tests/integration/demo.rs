//! `vigie demo`: the real binary on its simulated fleet with a short scenario — an alert
//! opens and resolves, the control API sets a fault, Ctrl-C (SIGINT) stops everything — and
//! the demo's config written out as a starting point.

use crate::support::{exit_within, vigie_bin, vigie_ok};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use vigie::alert::Change;
use vigie::events::EventBody;

/// Follows the daemon's event log until an alert event of `equipment` with `change` arrives.
fn until_alert(
    client: &vigie::client::ApiClient,
    after: &mut u64,
    equipment: &str,
    change: Change,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no {change:?} alert of {equipment} within 90 s"
        );
        let page = client
            .events(*after, 100, Duration::from_secs(5))
            .expect("events");
        for e in &page.events {
            *after = e.seq;
            if let EventBody::Alert(a) = &e.body
                && a.change == change
                && a.alert.owner.to_string() == format!("equipment {equipment}")
            {
                return;
            }
        }
    }
}

/// `vigie demo` on free ports with `scenario`.
fn demo(scenario: &std::path::Path) -> Command {
    let mut c = Command::new(vigie_bin());
    c.args([
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--control",
        "127.0.0.1:0",
        "--scenario",
    ])
    .arg(scenario);
    c
}

/// Kills the demo if the test fails before it stops it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_opens_and_resolves_an_alert_takes_faults_by_api_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().expect("tmp");
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        "[[event]]\nat = \"1s\"\ndevice = \"depot-vms\"\naction = \"disk\"\nvalue = 97\n\n[[event]]\nat = \"20s\"\ndevice = \"depot-vms\"\naction = \"disk\"\nvalue = 70\n",
    )
    .expect("scenario");
    let mut child = demo(&scenario)
        .env("VIGIE_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vigie demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut child = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        let done = line.starts_with("The scenario plays");
        banner.push(line);
        if done {
            break;
        }
    }
    let field = |name: &str| {
        banner
            .iter()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{name} in {banner:?}"))
    };
    let api = field("API").trim_end_matches("/api/v1/status").to_string();
    let faults = field("faults");
    assert!(
        banner[0].contains("21 equipment in 4 sites of 3 clients"),
        "{banner:?}"
    );
    let client = vigie::client::ApiClient::new(&api);
    let mut after = 0;
    // The scenario fills the depot's disk, then frees it.
    until_alert(&client, &mut after, "depot-vms", Change::Opened);
    until_alert(&client, &mut after, "depot-vms", Change::Resolved);
    // A fault set over the control API: the recording service of the depot stops.
    let control = faults
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("control url")
        .split("/devices")
        .next()
        .expect("base")
        .to_string();
    let out = Command::new("curl")
        .args(["-s", "-X", "POST"])
        .arg(format!("{control}/devices/depot-vms/recording-stopped"))
        .output()
        .expect("curl");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("RecordingStopped"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    until_alert(&client, &mut after, "depot-vms", Change::Opened);
    let bad = Command::new("curl")
        .args(["-s", "-X", "POST"])
        .arg(format!("{control}/devices/ghost/down"))
        .output()
        .expect("curl");
    assert!(String::from_utf8_lossy(&bad.stdout).contains("no simulated equipment `ghost`"));
    // Ctrl-C: the demo stops, and nothing keeps listening.
    let sent = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = exit_within(
        &mut child.0,
        Duration::from_secs(60),
        "vigie demo after SIGINT",
    );
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("vigie demo stopped")),
        "{rest:?}"
    );
    assert!(
        std::net::TcpStream::connect(api.trim_start_matches("http://")).is_err(),
        "the API still answers"
    );
    assert!(
        std::net::TcpStream::connect("127.0.4.2:9100").is_err(),
        "a simulated device still answers"
    );
}

#[test]
fn the_demo_writes_its_config_and_refuses_a_bad_scenario_naming_the_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().to_string_lossy();
    vigie_ok(&["demo", "--write-config", &path]);
    vigie_ok(&["check-config", &path]);
    let scenario = dir.path().join("scenario.toml");
    assert!(scenario.is_file());
    std::fs::write(
        &scenario,
        "[[event]]\nat = \"1s\"\ndevice = \"lyon-sw\"\naction = \"explode\"\n",
    )
    .expect("write");
    let out = demo(&scenario).output().expect("vigie");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scenario.toml:4:10: action: `explode` is not an action"),
        "{err}"
    );
}
