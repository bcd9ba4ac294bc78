//! The event log through the real daemon process: a reader following `vigie events` across a
//! kill -9 in the middle of a burst sees every committed event exactly once, in order, with
//! every confirmed operator action; a data directory whose file system fills up delays
//! commits without losing a confirmed action, refuses actions truthfully, and never stops
//! SIGTERM from stopping the daemon.

use crate::support::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use vigie::alert::{Change, Owner};
use vigie::client::{ApiClient, ClientError};
use vigie::events::{Event, EventBody};
use vigie::store::StoreReader;

/// NVRs whose disk the world file makes flip between full and fine.
const NVRS: usize = 40;

fn fleet_dir(dir: &Path) {
    let main = main_file(
        &("[daemon]\ncollection_interval = \"1s\"\n[thresholds]\ndisk = { for = \"0s\" }\n"
            .to_string()
            + &account("marie", "operator")
            + &account("paul", "operator")),
    );
    std::fs::write(dir.join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(dir.join("sites")).expect("mkdir");
    let mut site = site_head("Europe/Paris", "0");
    for i in 0..NVRS {
        site.push_str(&equipment(&format!("nvr-{i}"), "nvr", None));
    }
    std::fs::write(dir.join("sites/depot.toml"), site).expect("write");
}

/// The simulated world: every NVR's disk at `fill`, but `nvr-0`'s when `keep` is set.
fn world_with(path: &Path, fill: f64, keep: Option<f64>) {
    let mut text = String::from("[default]\nstatus = \"up\"\n");
    for i in 0..NVRS {
        let fill = if i == 0 { keep.unwrap_or(fill) } else { fill };
        text.push_str(&format!(
            "\n[equipment.nvr-{i}]\nstatus = \"up\"\nmetrics = [{{ name = \"system.filesystem.utilization\", attributes = [[\"mountpoint\", \"/hdd\"]], value = {fill} }}]\n"
        ));
    }
    // Written aside then renamed, so the daemon never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write world");
    std::fs::rename(&tmp, path).expect("rename world");
}

/// The simulated world: every NVR's disk at `fill`.
fn world(path: &Path, fill: f64) {
    world_with(path, fill, None);
}

/// The simulated world, its NVR disks flipped between full and fine at each call.
struct Flips {
    path: PathBuf,
    full: bool,
    keep: Option<f64>,
}

impl Flips {
    /// Flips every NVR, but `nvr-0` when `keep` holds its disk's fill.
    fn new(path: PathBuf, keep: Option<f64>) -> Flips {
        Flips {
            path,
            full: false,
            keep,
        }
    }

    /// Rewrites the world with the other fill. The file is in the config directory, so the
    /// daemon also reloads: every flip is followed by committed events.
    fn flip(&mut self) {
        self.full = !self.full;
        world_with(&self.path, if self.full { 0.97 } else { 0.5 }, self.keep);
    }
}

/// Acknowledges live alerts not yet acknowledged; returns the numbers the daemon confirmed.
fn ack_some(api: &ApiClient, by: &str, want: usize) -> Vec<u64> {
    let mut confirmed = Vec::new();
    let api = api.clone().with_token(token_of(by));
    let Ok(list) = api.alerts() else {
        return confirmed;
    };
    for a in list.alerts.iter().filter(|a| a.acknowledged.is_none()) {
        if confirmed.len() >= want {
            break;
        }
        match api.ack(a.id, Some("on it")) {
            Ok(acked) => {
                assert_eq!(acked.id, a.id);
                confirmed.push(a.id);
            }
            // Resolved meanwhile by the next flip: not confirmed, nothing to check.
            Err(ClientError::Refused { status: 409, .. })
            | Err(ClientError::Refused { status: 404, .. }) => {}
            // The daemon was killed under it: an error, never a false "ok".
            Err(ClientError::Unreachable { .. }) => break,
            Err(e) => panic!("ack #{}: {e}", a.id),
        }
    }
    confirmed
}

/// `vigie events --follow --json`, its output collected line by line.
struct Follower {
    child: std::process::Child,
    /// What it printed, and a signal at each new line.
    events: Arc<(Mutex<Vec<Event>>, Condvar)>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    fn start(data: &Path) -> Follower {
        let mut child = Command::new(vigie_bin())
            .args(["events", "--follow", "--json", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("vigie events");
        let stdout = child.stdout.take().expect("stdout");
        let events = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = Arc::clone(&events);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let e: Event = serde_json::from_str(&line)
                    .unwrap_or_else(|err| panic!("bad line {line:?}: {err}"));
                sink.0.lock().expect("lock").push(e);
                sink.1.notify_all();
            }
        });
        Follower {
            child,
            events,
            reader: Some(reader),
        }
    }

    fn last_seq(&self) -> u64 {
        self.events
            .0
            .lock()
            .expect("lock")
            .last()
            .map_or(0, |e| e.seq)
    }

    fn len(&self) -> usize {
        self.events.0.lock().expect("lock").len()
    }

    /// Waits until the follower has printed event `seq`, woken at each line it prints
    /// (bounded: a hang fails the test).
    fn wait_for(&self, seq: u64) {
        let (lock, printed) = &*self.events;
        let seen = lock.lock().expect("lock");
        let (seen, waited) = printed
            .wait_timeout_while(seen, Duration::from_secs(120), |v| {
                v.last().map_or(0, |e| e.seq) < seq
            })
            .expect("lock");
        assert!(
            !waited.timed_out(),
            "the follower is stuck at #{} (waiting for #{seq})",
            seen.last().map_or(0, |e| e.seq)
        );
    }

    fn stop(mut self) -> Vec<Event> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            r.join().expect("reader");
        }
        std::mem::take(&mut *self.events.0.lock().expect("lock"))
    }
}

/// Waits until `cond` holds, calling `tick` between two looks (it flips the world and waits
/// on the daemon's next commit), for at most `limit` (a hang fails the test).
fn wait_until(what: &str, limit: Duration, mut tick: impl FnMut(), mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting until {what}");
        tick();
    }
}

/// Flips the world, then waits (2 s at most) for the daemon to commit past what it had:
/// while the disk refuses writes nothing commits, and the wait is the long poll's.
fn flip_and_wait(flips: &mut Flips, api: &ApiClient) {
    let last = api
        .health()
        .ok()
        .and_then(|h| h.store)
        .map_or(0, |s| s.last_seq);
    flips.flip();
    let _ = api.events(last, 1, Duration::from_secs(2));
}

fn acknowledged_by(events: &[Event], by: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Alert(a)
                if a.change == Change::Acknowledged
                    && a.alert.acknowledged.as_ref().is_some_and(|x| x.by == by) =>
            {
                Some(a.alert.id)
            }
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_follower_across_kill_9_sees_every_committed_event_once_in_order_with_every_confirmed_action() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    fleet_dir(cfg.path());
    let world_file = cfg.path().join("world.toml");
    world(&world_file, 0.5);

    let first = DaemonProcess::spawn(cfg.path(), data.path(), &world_file);
    let follower = Follower::start(data.path());
    let mut flips = Flips::new(world_file.clone(), None);
    let api = first.client();
    let mut confirmed = Vec::new();
    // A burst: alerts opening and resolving on every NVR, acknowledgements among them; each
    // flip waits for the follower to print what it caused.
    while confirmed.len() < 10 || follower.len() < 400 {
        let seen = follower.last_seq();
        flips.flip();
        follower.wait_for(seen + 1);
        confirmed.extend(ack_some(&api, "marie", 3));
    }
    // In the middle of the burst, with acknowledgements in flight.
    flips.flip();
    let (started, going) = std::sync::mpsc::channel();
    let racing = {
        let api = first.client();
        std::thread::spawn(move || {
            let mut ok = Vec::new();
            for i in 0..20 {
                ok.extend(ack_some(&api, "paul", 2));
                if i == 0 {
                    let _ = started.send(());
                }
            }
            ok
        })
    };
    going.recv().expect("racing acks started");
    first.kill9();
    // Actions confirmed before the kill count; the others got an error, never a false "ok".
    confirmed.extend(racing.join().expect("racing acks"));

    let second = DaemonProcess::spawn(cfg.path(), data.path(), &world_file);
    let api = second.client();
    let mut after_restart = Vec::new();
    while after_restart.len() < 5 {
        let seen = follower.last_seq();
        flips.flip();
        follower.wait_for(seen + 1);
        after_restart.extend(ack_some(&api, "marie", 2));
    }
    confirmed.extend(after_restart);
    let status = api.status().expect("status");
    let last = status.store.as_ref().expect("store health").last_seq;
    follower.wait_for(last);
    second.sigterm();
    let seen = follower.stop();

    // Every event exactly once, in order, from the first.
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(
        seqs, expected,
        "gaps or duplicates in what the follower saw"
    );
    // What it saw is what was committed, event for event.
    let log = StoreReader::open(data.path())
        .expect("reader")
        .events_after(0, usize::MAX)
        .expect("log");
    assert!(log.len() >= seen.len());
    assert_eq!(&log[..seen.len()], &seen[..]);
    // Every confirmed acknowledgement is in the log.
    let mut acked = acknowledged_by(&seen, "marie");
    acked.extend(acknowledged_by(&seen, "paul"));
    acked.sort();
    for id in &confirmed {
        assert!(
            acked.binary_search(id).is_ok(),
            "confirmed ack of #{id} missing"
        );
    }
    // Transitions and config loads are in the log too, with their site and client.
    assert!(seen.iter().any(|e| matches!(
        &e.body,
        EventBody::Config(c) if c.accepted && c.equipment == NVRS
    )));
    assert!(seen.iter().any(|e| matches!(
        &e.body,
        EventBody::Transition(t) if t.site.as_str() == "depot" && t.client.as_str() == "c"
    )));

    // With the daemon down, `vigie events` reads the data directory: one line per event.
    let out = Command::new(vigie_bin())
        .args(["events", "--since", "5", "--data"])
        .arg(data.path())
        .output()
        .expect("vigie events");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), log.len() - 5);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.trim_start().starts_with("6 ")),
        "{text}"
    );
    // A reader that stops reading (`| head -1`) ends the command quietly, with success.
    let mut child = Command::new(vigie_bin())
        .args(["events", "--data"])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigie events");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    assert!(first.trim_start().starts_with("1 "), "{first}");
    let done = child.wait_with_output().expect("wait");
    assert!(done.status.success(), "{:?}", done.status);
    assert!(
        !String::from_utf8_lossy(&done.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// A small file system mounted for the data directory, unmounted when dropped.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().expect("tmp");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs for the data directory and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallFs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system with a filler file until it refuses more.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).expect("filler");
        let block = vec![0x5A_u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).expect("free");
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn store_error(api: &ApiClient) -> Option<String> {
    let health = api.health().expect("health");
    assert_eq!(
        health.ok,
        health.store.as_ref().is_some_and(|h| h.error.is_none())
    );
    health.store.and_then(|h| h.error)
}

/// The open alert of an NVR, not yet acknowledged.
fn open_alert(api: &ApiClient, nvr: &str) -> u64 {
    let open = |a: &vigie::alert::Alert| {
        a.acknowledged.is_none() && matches!(&a.owner, Owner::Equipment(e) if e.as_str() == nvr)
    };
    let list = alerts_until(api, "an open alert", |l| l.alerts.iter().any(open));
    list.alerts
        .iter()
        .find(|a| open(a))
        .map(|a| a.id)
        .expect("open alert")
}

#[test]
fn a_full_disk_delays_commits_loses_no_confirmed_action_and_never_blocks_sigterm() {
    let cfg = tempfile::tempdir().expect("tmp");
    fleet_dir(cfg.path());
    let world_file = cfg.path().join("world.toml");
    // Disks full and staying full: alerts stay open to be acted on.
    world(&world_file, 0.97);
    let fs = SmallFs::mount("24m");
    let data = fs.path().join("data");

    let daemon = DaemonProcess::spawn(cfg.path(), &data, &world_file);
    let api = daemon.client_as("marie");
    let before = open_alert(&api, "nvr-1");
    api.ack(before, Some("before the disk filled"))
        .expect("ack while the disk has room");
    // nvr-0's disk stays full: its alert stays open through the outage.
    let target = open_alert(&api, "nvr-0");

    // Fill the file system, and keep the daemon writing (alerts of the other NVRs).
    fs.fill();
    let mut flips = Flips::new(world_file.clone(), Some(0.97));
    wait_until(
        "the daemon reports failing commits",
        Duration::from_secs(120),
        || flip_and_wait(&mut flips, &api),
        || store_error(&api).is_some(),
    );
    let text = Command::new(vigie_bin())
        .args(["status", "--data"])
        .arg(&data)
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("data store: FAILING"), "{text}");

    // An action that cannot be committed is refused, and leaves the alert as it was: asked
    // again, it is refused the same way (503), never "already acknowledged" (409).
    for _ in 0..2 {
        match api.ack(target, Some("during the outage")) {
            Err(ClientError::Refused {
                status: 503,
                message,
            }) => {
                assert!(message.contains("could not be recorded"), "{message}")
            }
            other => panic!("expected a refusal while the disk is full, got {other:?}"),
        }
    }
    let live = api.alerts().expect("alerts");
    let still = live.alerts.iter().find(|a| a.id == target);
    assert!(still.is_some_and(|a| a.acknowledged.is_none()), "{still:?}");

    // Room again: commits resume, nothing pending was dropped, the action goes through.
    fs.free();
    wait_until(
        "commits resume",
        Duration::from_secs(60),
        || flip_and_wait(&mut flips, &api),
        || store_error(&api).is_none(),
    );
    let after = api
        .ack(target, Some("after the outage"))
        .expect("ack once the disk has room");
    assert_eq!(
        after.acknowledged.as_ref().map(|a| a.by.as_str()),
        Some("marie")
    );

    // SIGTERM while the disk is full again: the daemon stops, promptly.
    fs.fill();
    wait_until(
        "commits fail again",
        Duration::from_secs(120),
        || flip_and_wait(&mut flips, &api),
        || store_error(&api).is_some(),
    );
    daemon.sigterm();
    fs.free();

    // Nothing confirmed is lost, and the log has no gap.
    let reader = StoreReader::open(&data).expect("reader");
    let log = reader.events_after(0, usize::MAX).expect("log");
    let seqs: Vec<u64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=log.len() as u64).collect::<Vec<_>>());
    let acked = acknowledged_by(&log, "marie");
    assert!(acked.contains(&before), "{acked:?}");
    assert!(acked.contains(&target), "{acked:?}");
    assert_eq!(
        reader
            .alert(target)
            .expect("alert")
            .and_then(|a| a.acknowledged)
            .and_then(|a| a.note),
        Some("after the outage".to_string())
    );
    drop(reader);
    // And the daemon starts again on the same data.
    let again = DaemonProcess::spawn(cfg.path(), &data, &world_file);
    let api = again.client_as("marie");
    let a = api.alert(target).expect("alert");
    assert_eq!(a.acknowledged.map(|x| x.by), Some("marie".to_string()));
    again.sigterm();
}
