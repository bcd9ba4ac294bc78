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

/// The demo's devices listen on fixed loopback addresses: one demo at a time.
static ONE_DEMO: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds the demo lock for a test, even after another test failed holding it.
fn one_demo() -> std::sync::MutexGuard<'static, ()> {
    ONE_DEMO.lock().unwrap_or_else(|p| p.into_inner())
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
    let _one = one_demo();
    let dir = tempfile::tempdir().expect("tmp");
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        "[[event]]\nat = \"1s\"\ndevice = \"depot-vms\"\naction = \"disk\"\nvalue = 97\n\n[[event]]\nat = \"50s\"\ndevice = \"depot-vms\"\naction = \"disk\"\nvalue = 70\n",
    )
    .expect("scenario");
    let (mut child, api, token, control, lines) = start_demo(&scenario);
    let client = vigie::client::ApiClient::new(&api).with_token(token);
    let mut after = 0;
    // The scenario fills the depot's disk, then frees it 50 s later (the alert opens within
    // about 15 s: its first collection, then the threshold's 10 s).
    until_alert(&client, &mut after, "depot-vms", Change::Opened);
    until_alert(&client, &mut after, "depot-vms", Change::Resolved);
    // A fault set over the control API: the recording service of the depot stops.
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

/// The rest of the demo's standard output, after its banner.
type Output = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// Starts `vigie demo` with `scenario` and reads its banner: the API's and the control API's
/// base URLs, and the rest of its output.
fn start_demo(scenario: &std::path::Path) -> (Running, String, String, String, Output) {
    let mut child = demo(scenario)
        .env("VIGIE_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vigie demo");
    let stdout = child.stdout.take().expect("stdout");
    let child = Running(child);
    let mut banner = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
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
    // The command line and curl authenticate with the daemon's local token, in its data
    // directory as the banner says.
    let data = field("status")
        .rsplit(' ')
        .next()
        .expect("data directory")
        .to_string();
    let token = vigie::client::local_token(std::path::Path::new(&data)).expect("local token");
    assert!(
        banner
            .iter()
            .any(|l| l.contains(&format!("{data}/local-token"))),
        "{banner:?}"
    );
    let control = field("faults")
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("control url")
        .split("/devices")
        .next()
        .expect("base")
        .to_string();
    assert!(
        banner[0].contains("24 equipment in 4 sites of 3 clients"),
        "{banner:?}"
    );
    (child, api, token, control, lines)
}

/// A fact of an equipment, as the daemon shows it.
fn fact(e: &vigie::status::EquipmentDetail, name: &str) -> Option<String> {
    e.facts
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn the_simulated_vendor_devices_are_read_by_their_built_in_plugins_and_follow_faults() {
    let _one = one_demo();
    let dir = tempfile::tempdir().expect("tmp");
    let scenario = dir.path().join("scenario.toml");
    // Nothing scripted within the test's time: the faults come from the control API.
    std::fs::write(
        &scenario,
        "[[event]]\nat = \"1h\"\ndevice = \"depot-vms\"\naction = \"reboot\"\n",
    )
    .expect("scenario");
    let (mut child, api, token, control, _) = start_demo(&scenario);
    let client = vigie::client::ApiClient::new(&api).with_token(token);

    // Each vendor's device answers its plugin, through its authentication, with what the
    // vendor's API says; the event log paces the checks.
    let expected = [
        ("mus-nvr", "model", "DS-7608NXI-K2"),
        ("nantes-nvr", "model", "DHI-NVR5216-16P-4KS2E"),
        ("nantes-cam-03", "model", "AXIS P3265-LVE"),
        ("depot-cam-03", "vendor", "Bosch"),
    ];
    let mut after = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let read: Vec<bool> = expected
            .iter()
            .map(|(id, key, value)| {
                client.equipment(id).is_ok_and(|e| {
                    e.summary.status.to_string() == "up" && fact(&e, key).as_deref() == Some(*value)
                })
            })
            .collect();
        if read.iter().all(|r| *r) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not read within 90 s: {:?}",
            expected
                .iter()
                .zip(&read)
                .filter(|(_, r)| !**r)
                .map(|(e, _)| client.equipment(e.0).map(|d| (
                    d.summary.status,
                    d.summary.reason,
                    d.facts
                )))
                .collect::<Vec<_>>()
        );
        after = client
            .events(after, 100, Duration::from_secs(2))
            .expect("events")
            .last;
    }
    let onvif = client.equipment("depot-cam-03").expect("onvif");
    let offset = onvif
        .metrics
        .iter()
        .find(|m| m.name == "device.clock.offset")
        .expect("clock offset")
        .value;
    assert!(
        offset.abs() < 5.0,
        "the simulated clock is on time: {offset}"
    );

    // Faults by the control API: the Dahua NVR and the Axis camera degrade, a camera flaps,
    // the ONVIF camera's clock drifts.
    for action in [
        "nantes-nvr/degraded",
        "nantes-cam-03/degraded",
        "nantes-cam-02/flap?value=5",
        "depot-cam-03/clock?value=600",
    ] {
        let out = Command::new("curl")
            .args(["-s", "-f", "-X", "POST"])
            .arg(format!("{control}/devices/{action}"))
            .output()
            .expect("curl");
        assert!(out.status.success(), "{action}: {out:?}");
    }
    until_alert(&client, &mut after, "nantes-nvr", Change::Opened);
    until_alert(&client, &mut after, "nantes-cam-03", Change::Opened);
    // The flapping camera goes down and up again, several times.
    let (mut downs, mut ups) = (0, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while downs < 2 || ups < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the flapping camera went down {downs} and up {ups} times in 90 s"
        );
        let page = client
            .events(after, 100, Duration::from_secs(5))
            .expect("events");
        for e in &page.events {
            after = e.seq;
            if let EventBody::Transition(t) = &e.body
                && t.equipment.as_str() == "nantes-cam-02"
            {
                match t.to.to_string().as_str() {
                    "down" => downs += 1,
                    "up" => ups += 1,
                    _ => {}
                }
            }
        }
    }
    let onvif = client.equipment("depot-cam-03").expect("onvif");
    let offset = onvif
        .metrics
        .iter()
        .find(|m| m.name == "device.clock.offset")
        .expect("clock offset")
        .value;
    assert!((offset - 600.0).abs() < 5.0, "the drifted clock: {offset}");

    let sent = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = exit_within(&mut child.0, Duration::from_secs(60), "vigie demo");
    assert!(status.success(), "{status}");
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
