//! Shared test support: configs from TOML text, a fleet under paused tokio time, and the real
//! daemon binary.

#![allow(dead_code)]

use actix::prelude::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use vigie::actors::{ApplyConfig, Deps, EquipmentLookup, Fleet, SiteQuery};
use vigie::alert::Alert;
use vigie::book::AlertBook;
use vigie::clock::Clock;
use vigie::collector::ScriptedCollector;
use vigie::config::{Config, EquipmentId, SiteId, Sources, load_sources};
use vigie::status::{EquipmentDetail, SiteDetail};
use vigie::store::{AlertIds, Store};

/// An observation's status as `up`, `down: REASON` or `unknown: REASON`.
pub fn reason(o: &vigie::observation::Observation) -> String {
    o.status.to_string()
}

/// Main file with one client `c`, plus `extra`.
pub fn main_file(extra: &str) -> String {
    format!("[clients.c]\nname = \"Client\"\n{extra}")
}

/// The API token of test account `id`.
pub fn token_of(id: &str) -> String {
    format!("vigie_test-token-of-{id}")
}

/// Config lines (to end a main file) giving account `id` the `role` and the token
/// [`token_of`]`(id)`.
pub fn account(id: &str, role: &str) -> String {
    format!("[accounts.{id}]\nrole = \"{role}\"\n{}", token_line(id))
}

/// Config lines giving account `id` access to `client`'s objects, with the token
/// [`token_of`]`(id)`.
pub fn client_account(id: &str, client: &str) -> String {
    format!("[accounts.{id}]\nclient = \"{client}\"\n{}", token_line(id))
}

/// The config line listing the token of test account `id`.
pub fn token_line(id: &str) -> String {
    format!(
        "tokens = [\"{}\"]\n",
        vigie::config::token_digest_text(&vigie::config::token_digest(&token_of(id)))
    )
}

/// Validates a config given as text.
pub fn config(main: &str, sites: &[(&str, &str)]) -> Arc<Config> {
    let sources = Sources {
        main: Some(main.to_string()),
        sites: sites
            .iter()
            .map(|(n, t)| (PathBuf::from(format!("sites/{n}.toml")), t.to_string()))
            .collect(),
        unreadable: Vec::new(),
        dir: None,
    };
    match load_sources(&sources) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("test config is invalid:\n{e}"),
    }
}

/// The one equipment of a config made of `main` and a single site file.
pub fn single_equipment(main: &str, site: &str) -> Arc<vigie::config::EquipmentConfig> {
    let cfg = config(main, &[("s", site)]);
    let site = cfg.sites.values().next().expect("site");
    Arc::clone(site.equipment.values().next().expect("equipment"))
}

/// A `[site]` header for client `c`.
pub fn site_head(tz: &str, tolerance: &str) -> String {
    format!(
        "[site]\nname = \"Site\"\nclient = \"c\"\ntimezone = \"{tz}\"\ncamera_tolerance = {tolerance}\n"
    )
}

/// One `[[equipment]]` entry.
pub fn equipment(id: &str, kind: &str, parent: Option<&str>) -> String {
    let parent = parent
        .map(|p| format!("parent = \"{p}\"\n"))
        .unwrap_or_default();
    format!("\n[[equipment]]\nid = \"{id}\"\nkind = \"{kind}\"\naddress = \"127.0.0.1\"\n{parent}")
}

/// A fleet of real actors with a scripted collector and a real redb store, under paused
/// tokio time. Must be created inside an actix system.
pub struct Fleetbed {
    pub fleet: Addr<Fleet>,
    pub book: AlertBook,
    pub sim: ScriptedCollector,
    pub store: Store,
    pub clock: Clock,
    pub dir: tempfile::TempDir,
}

impl Fleetbed {
    /// Pauses time at `at` (RFC 3339) and starts a fleet on `cfg`.
    pub async fn start(cfg: Arc<Config>, at: &str) -> Fleetbed {
        tokio::time::pause();
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(cfg, at, dir).await
    }

    /// Starts a fleet on an existing data directory.
    pub async fn start_in(cfg: Arc<Config>, at: &str, dir: tempfile::TempDir) -> Fleetbed {
        let clock = Clock::tokio_at(at.parse().expect("instant"));
        let (store, restored) = Store::open(dir.path()).expect("store");
        let book = AlertBook::default();
        let sim = ScriptedCollector::default();
        let deps = Deps::new(
            store.clone(),
            Arc::new(sim.clone()),
            clock,
            AlertIds::starting_at(restored.next_alert_id),
            book.clone(),
            64,
        );
        let fleet = Fleet::new(deps, restored, Vec::new()).start();
        fleet.send(ApplyConfig(cfg)).await.expect("apply");
        Fleetbed {
            fleet,
            book,
            sim,
            store,
            clock,
            dir,
        }
    }

    /// Lets `d` of virtual time pass: timers fire in order, nothing waits for real. Then
    /// waits (blocking, so virtual time stays still) until what the actors decided is
    /// committed and published to the live book.
    pub async fn pass(&self, d: Duration) {
        tokio::time::sleep_until(tokio::time::Instant::now() + d).await;
        self.store.flush_blocking().expect("commit");
    }

    /// Every committed alert event so far, in sequence order.
    pub fn alert_events(&self) -> Vec<vigie::alert::AlertEvent> {
        self.store.flush_blocking().expect("commit");
        self.store
            .reader()
            .events_after(0, usize::MAX)
            .expect("events")
            .into_iter()
            .filter_map(|e| match e.body {
                vigie::events::EventBody::Alert(a) => Some(*a),
                _ => None,
            })
            .collect()
    }

    /// Lets `mins` minutes of virtual time pass.
    pub async fn minutes(&self, mins: u64) {
        self.pass(Duration::from_secs(mins * 60)).await;
    }

    pub async fn apply(&self, cfg: Arc<Config>) {
        self.fleet.send(ApplyConfig(cfg)).await.expect("apply");
        self.pass(Duration::from_millis(1)).await;
    }

    pub async fn site(&self, id: &str) -> SiteDetail {
        self.fleet
            .send(SiteQuery(SiteId::new(id)))
            .await
            .expect("mailbox")
            .expect("site exists")
    }

    pub async fn equipment(&self, id: &str) -> Option<EquipmentDetail> {
        self.fleet
            .send(EquipmentLookup(EquipmentId::new(id)))
            .await
            .expect("mailbox")
    }

    /// Live alerts, as (rule, owner text) pairs sorted.
    pub fn live(&self) -> Vec<Alert> {
        self.book.live()
    }

    pub fn live_rules(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .book
            .live()
            .iter()
            .map(|a| format!("{}:{}", a.owner, a.rule))
            .collect();
        v.sort();
        v
    }
}

/// Path of the built `vigie` binary.
pub fn vigie_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vigie"))
}

/// A `vigie run` process started on port 0; its API address is read from its first line.
pub struct DaemonProcess {
    pub child: Child,
    pub api: String,
    /// The daemon's local token (from its data directory).
    pub token: String,
}

impl DaemonProcess {
    pub fn spawn(config: &Path, data: &Path, simulate: &Path) -> DaemonProcess {
        let mut child = Command::new(vigie_bin())
            .args(["run", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data")
            .arg(data)
            .arg("--simulate")
            .arg(simulate)
            .env("VIGIE_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start vigie");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read first line");
        let api = line
            .trim()
            .strip_prefix("vigie listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        let token = vigie::client::local_token(data).expect("the daemon's local token");
        DaemonProcess { child, api, token }
    }

    /// A client of its API with its local token.
    pub fn client(&self) -> vigie::client::ApiClient {
        vigie::client::ApiClient::new(&self.api).with_token(&self.token)
    }

    /// A client of its API as test account `id` (see [`account`]).
    pub fn client_as(&self, id: &str) -> vigie::client::ApiClient {
        vigie::client::ApiClient::new(&self.api).with_token(token_of(id))
    }

    /// Asks the process to stop (SIGTERM) and waits for it: it must exit successfully within
    /// a minute (a hang fails the test).
    pub fn sigterm(mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = exit_within(
            &mut self.child,
            Duration::from_secs(60),
            "vigie after SIGTERM",
        );
        assert!(status.success(), "vigie exited with {status}");
    }

    /// Kills the process without letting it shut down (SIGKILL).
    pub fn kill9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit, at most `limit`: a thread blocks in `waitpid` and the test
/// waits on its answer (no polling); past the limit the child is killed and the test fails.
pub fn exit_within(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    // Kills the child if the wait below gives up, so `child.wait()` returns.
    let guard = std::thread::spawn(move || {
        if done_rx.recv_timeout(limit).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let _ = tx.send(());
        }
    });
    let status = child.wait().expect("wait");
    let timed_out = rx.try_recv().is_ok();
    let _ = done_tx.send(());
    let _ = guard.join();
    assert!(!timed_out, "{what} did not end within {limit:?}");
    status
}

/// The `vigie` package's directory, as cargo gives it to the test at run time. Not
/// `env!`: a test binary reused from another checkout (a shared target dir) would read that
/// checkout's files.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .expect("cargo test sets CARGO_MANIFEST_DIR")
}

/// Where the wasm plugins of the workspace are built for the tests.
fn wasm_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../target"));
    target.join("wasm-plugins")
}

static WASM: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();

/// Every plugin of the workspace (vendors and test plugins), built once per test run for
/// `wasm32-wasip2`; returns the `.wasm` of crate `vigie-plugin-NAME`.
pub fn plugin_wasm(name: &str) -> PathBuf {
    let dir = WASM.get_or_init(|| {
        let target = wasm_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(manifest_dir().join(".."))
            .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
            .arg("--target-dir")
            .arg(&target);
        for p in [
            "hikvision",
            "dahua",
            "axis",
            "onvif",
            "testbed",
            "foreign-import",
            "future-api",
        ] {
            cmd.args(["-p", &format!("vigie-plugin-{p}")]);
        }
        let out = cmd.output().map_err(|e| format!("cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "building the plugins failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(target.join("wasm32-wasip2/plugin"))
    });
    match dir {
        Ok(d) => d.join(format!("vigie_plugin_{}.wasm", name.replace('-', "_"))),
        Err(e) => panic!("{e}"),
    }
}

/// The live alerts once `done` holds, following the API's long poll; fails the test after two
/// minutes in all rather than waiting forever.
pub fn alerts_until(
    api: &vigie::client::ApiClient,
    what: &str,
    done: impl Fn(&vigie::api::AlertList) -> bool,
) -> vigie::api::AlertList {
    let start = std::time::Instant::now();
    let mut list = api.alerts().expect("alerts");
    while !done(&list) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}: {:?}",
            list.alerts
        );
        list = api
            .alerts_after(list.version, Duration::from_secs(10))
            .expect("alerts");
    }
    list
}

/// The text of a PDF file as poppler's `pdftotext` extracts it, in reading order (a table
/// cell's lines follow each other).
pub fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext (poppler-utils, installed by .ci/run): {e}"));
    assert!(
        out.status.success(),
        "pdftotext {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Renders each page of a PDF to PNG files `PREFIX-N.png` with poppler's `pdftoppm`; answers
/// the files, in page order.
pub fn pdf_pages(pdf: &Path, prefix: &Path) -> Vec<PathBuf> {
    let out = Command::new("pdftoppm")
        .args(["-png", "-r", "60"])
        .arg(pdf)
        .arg(prefix)
        .output()
        .unwrap_or_else(|e| panic!("pdftoppm (poppler-utils, installed by .ci/run): {e}"));
    assert!(
        out.status.success(),
        "pdftoppm {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = prefix.parent().unwrap_or(Path::new("."));
    let stem = prefix
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("pages")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{stem}-")))
                && p.extension().is_some_and(|x| x == "png")
        })
        .collect();
    pages.sort();
    pages
}

/// Runs the `vigie` binary with `args` to its end and asserts it succeeded (its standard error
/// shown otherwise).
pub fn vigie_ok(args: &[&str]) -> std::process::Output {
    let out = Command::new(vigie_bin())
        .args(args)
        .output()
        .expect("vigie");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A frame of an event stream: id, event name, data.
pub type Frame = (u64, String, serde_json::Value);

/// `curl -N` on the event stream, its frames parsed by a thread as they arrive.
pub struct Stream {
    pub child: std::process::Child,
    pub frames: std::sync::mpsc::Receiver<Frame>,
}

impl Stream {
    pub fn open(api: &str, token: &str, last_id: Option<u64>) -> Stream {
        let mut cmd = Command::new("curl");
        cmd.args(["-sN", "-H", &format!("Authorization: Bearer {token}")]);
        if let Some(id) = last_id {
            cmd.args(["-H", &format!("Last-Event-ID: {id}")]);
        }
        let mut child = cmd
            .arg(format!("{api}/api/v1/stream?after=0"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("curl");
        let out = child.stdout.take().expect("stdout");
        let (tx, frames) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let (mut id, mut name, mut data) = (None, String::new(), None);
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).ok();
                } else if line.is_empty()
                    && let Some(d) = data.take()
                    && tx
                        .send((id.take().unwrap_or(0), std::mem::take(&mut name), d))
                        .is_err()
                {
                    break;
                }
            }
        });
        Stream { child, frames }
    }

    /// Frames until one satisfies `done` (included); fails the test after a minute.
    pub fn until(&self, what: &str, done: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        let mut seen = Vec::new();
        loop {
            let f = self
                .frames
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no {what} in the stream: {seen:?}"));
            let stop = done(&f);
            seen.push(f);
            if stop {
                return seen;
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
