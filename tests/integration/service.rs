//! Running as a service: the systemd unit passes `systemd-analyze verify`, and the real daemon
//! talks to a service manager as systemd expects (readiness, watchdog, reload on SIGHUP, stop)
//! with its logs in journald's format, or JSON with `--log-format json`.

use crate::support::{equipment, exit_within, main_file, manifest_dir, site_head, vigie_bin};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vigie::client::ApiClient;

/// The unit the Debian package installs.
fn unit_text() -> String {
    std::fs::read_to_string(manifest_dir().join("../packaging/debian/vigie.service"))
        .expect("packaging/debian/vigie.service")
}

/// `systemd-analyze verify` on `text` saved as `vigie.service`, with the binary the unit runs
/// replaced by the one just built (the verification checks it is executable): its status
/// and everything it printed.
fn verify(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let unit = dir.path().join("vigie.service");
    let text = text.replace("/usr/bin/vigie ", &format!("{} ", vigie_bin().display()));
    std::fs::write(&unit, text).expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_says_what_the_service_needs() {
    let text = unit_text();
    let (ok, printed) = verify(&text);
    assert!(ok && printed.trim().is_empty(), "{printed}");
    for line in [
        "Type=notify",
        "ExecStart=/usr/bin/vigie run --config /etc/vigie --data /var/lib/vigie",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=",
        "User=vigie",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/vigie",
        "NoNewPrivileges=yes",
        "AmbientCapabilities=CAP_NET_RAW",
        "CapabilityBoundingSet=CAP_NET_RAW",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "the unit lacks {line}"
        );
    }
    // The verification does catch a mistake: a misspelt directive is reported.
    let (_, printed) = verify(&text.replace("WatchdogSec=", "WatchdogSek="));
    assert!(printed.contains("WatchdogSek"), "{printed}");
}

/// A config with one site, collected from a simulation file.
fn config(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("vigie.toml"),
        main_file("[daemon]\ncollection_interval = \"1s\"\n"),
    )
    .expect("write");
    std::fs::create_dir_all(dir.join("sites")).expect("mkdir");
    let mut site = site_head("Europe/Paris", "0");
    site.push_str(&equipment("sw", "switch", None));
    site.push_str(&equipment("cam-1", "camera", Some("sw")));
    std::fs::write(dir.join("sites/depot.toml"), site).expect("write");
    let world = dir.join("world.toml");
    std::fs::write(&world, "[default]\nstatus = \"up\"\n").expect("write");
    world
}

/// Starts `vigie run` on port 0 with `env` and extra `args`, its stderr written to `log`;
/// returns the process and the API address from its first line.
fn spawn(
    cfg: &Path,
    data: &Path,
    world: &Path,
    log: &Path,
    args: &[&str],
    env: &[(&str, String)],
) -> (Running, String) {
    let stderr = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(vigie_bin());
    cmd.args(args)
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(cfg)
        .arg("--data")
        .arg(data)
        .arg("--simulate")
        .arg(world)
        .env("VIGIE_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM")
        .env_remove("VIGIE_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start vigie");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let api = line
        .trim()
        .strip_prefix("vigie listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (Running(child), api)
}

/// A daemon started by a test, killed if the test fails before it stops it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `signal` to the process.
fn signal(child: &Running, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// The service manager's side of `NOTIFY_SOCKET`.
struct Manager {
    socket: UnixDatagram,
}

impl Manager {
    fn bind(path: &Path) -> Manager {
        let socket = UnixDatagram::bind(path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Manager { socket }
    }

    /// The next notification's lines (fails the test after 30 s without one).
    fn next(&self) -> Vec<String> {
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notification within 30 s");
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Reads notifications until one holds `line`, skipping watchdog feeds; returns it.
    fn until(&self, line: &str) -> Vec<String> {
        loop {
            let got = self.next();
            if got.iter().any(|l| l == line) {
                return got;
            }
            assert!(
                got.iter().all(|l| l == "WATCHDOG=1"),
                "unexpected notification before {line}: {got:?}"
            );
        }
    }
}

#[test]
fn under_systemd_the_daemon_notifies_ready_reload_and_stop_feeds_the_watchdog_and_logs_for_the_journal()
 {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let world = config(cfg.path());
    // The socket and the log live outside the config directory: a file changing there is a
    // config change.
    let run = tempfile::tempdir().expect("tmp");
    let socket_path = run.path().join("notify.sock");
    let manager = Manager::bind(&socket_path);
    let log = run.path().join("journal.log");
    // systemd's JOURNAL_STREAM names the stream it gave the service: here, the log file.
    std::fs::File::create(&log).expect("log");
    let meta = std::fs::metadata(&log).expect("stat");
    let (mut child, api) = spawn(
        cfg.path(),
        data.path(),
        &world,
        &log,
        &[],
        &[
            ("NOTIFY_SOCKET", socket_path.display().to_string()),
            ("WATCHDOG_USEC", "400000".into()),
            ("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino())),
        ],
    );
    // Ready: the API listens and the first config is applied.
    let ready = manager.until("READY=1");
    let status_line = ready
        .iter()
        .find_map(|l| l.strip_prefix("STATUS="))
        .expect("a status line");
    assert!(status_line.contains(&api), "{status_line}");
    let client = ApiClient::new(&api)
        .with_token(vigie::client::local_token(data.path()).expect("local token"));
    let status = client.status().expect("status");
    assert!(status.generation >= 1);
    assert_eq!(status.sites.len(), 1);
    // The watchdog is fed at half its interval while the actors answer.
    for _ in 0..3 {
        assert_eq!(manager.next(), vec!["WATCHDOG=1".to_string()]);
    }

    // `systemctl reload`: RELOADING=1 with the monotonic time, then READY=1 once the config
    // directory was read again.
    let before = client.status().expect("status").generation;
    signal(&child, "HUP");
    let reloading = manager.until("RELOADING=1");
    assert!(
        reloading.iter().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    manager.until("READY=1");
    assert_eq!(client.status().expect("status").generation, before + 1);

    // `systemctl stop`.
    signal(&child, "TERM");
    manager.until("STOPPING=1");
    let status = exit_within(&mut child.0, Duration::from_secs(60), "vigie after SIGTERM");
    assert!(status.success(), "{status}");

    // The journal's format: each line with its priority, no colour, no timestamp.
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.lines()
            .any(|l| l.starts_with("<6>") && l.contains("vigie is running")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("<6>") && l.contains("vigie stopped"))
    );
    for line in text.lines() {
        let rest = ["<3>", "<4>", "<6>", "<7>"]
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .unwrap_or_else(|| panic!("a line without its priority: {line:?}"));
        assert!(!line.contains('\u{1b}'), "colour in {line:?}");
        assert!(
            !rest.starts_with(|c: char| c.is_ascii_digit()),
            "a timestamp in {line:?}"
        );
    }
}

#[test]
fn log_format_json_writes_one_object_per_line_and_a_redirected_stderr_is_plain_text() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let world = config(cfg.path());

    let run = tempfile::tempdir().expect("tmp");
    let log = run.path().join("json.log");
    let (mut child, api) = spawn(
        cfg.path(),
        data.path(),
        &world,
        &log,
        &["--log-format", "json"],
        &[],
    );
    signal(&child, "TERM");
    assert!(exit_within(&mut child.0, Duration::from_secs(60), "vigie").success());
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let running = lines
        .iter()
        .find(|v| v["message"] == "vigie is running")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(running["level"], "INFO");
    assert_eq!(
        running["api"],
        format!("http://{}", api.trim_start_matches("http://"))
    );
    assert!(running["timestamp"].is_string());

    // A JOURNAL_STREAM that is not this stderr (a redirected service) keeps the plain text
    // format: time stamped, no priorities, no colour in a file.
    let log = run.path().join("text.log");
    let (mut child, _) = spawn(
        cfg.path(),
        data.path(),
        &world,
        &log,
        &[],
        &[("JOURNAL_STREAM", "1:1".into())],
    );
    signal(&child, "TERM");
    assert!(exit_within(&mut child.0, Duration::from_secs(60), "vigie").success());
    let text = std::fs::read_to_string(&log).expect("log");
    let running = text
        .lines()
        .find(|l| l.contains("vigie is running"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(running.starts_with("20"), "{running}");
    assert!(!text.contains('\u{1b}'), "{text}");
}
