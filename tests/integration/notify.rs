//! Notifications of a daemon started in-process: a real SMTP server on loopback (Debian's
//! aiosmtpd, writing a Maildir) and a local HTTP receiver standing in for the webhook
//! endpoint; the SMTP server stopped and started again while a notification is pending.

use crate::reload::{options, wait_status};
use crate::support::*;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use vigie::collector::ScriptedCollector;
use vigie::observation::{Metric, Observation};
use vigie::server;

/// A real SMTP server (aiosmtpd) delivering into a Maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Smtp {
    /// Starts the server on `port` (0: a free one) and returns once it listens.
    fn start(port: u16, maildir: &Path) -> Smtp {
        Self::start_with(port, maildir, &[])
    }

    /// Same, with more options for aiosmtpd (its TLS certificate and key).
    fn start_with(port: u16, maildir: &Path, options: &[&std::ffi::OsStr]) -> Smtp {
        let port = if port == 0 {
            std::net::TcpListener::bind("127.0.0.1:0")
                .expect("bind")
                .local_addr()
                .expect("addr")
                .port()
        } else {
            port
        };
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        let mut child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-d", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(options)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aiosmtpd (apt-get install python3-aiosmtpd)");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        // Its log is read to the end, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut told = false;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if !told && line.contains("Server is listening") {
                    told = tx.send(()).is_ok();
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("aiosmtpd listening within 30 s");
        Smtp {
            child,
            port,
            maildir: maildir.to_path_buf(),
        }
    }

    /// The messages delivered so far, as text.
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in entries.flatten() {
                    if let Ok(t) = std::fs::read_to_string(e.path()) {
                        out.push(t);
                    }
                }
            }
        }
        out
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP endpoint recording each request (head and body) and answering 200.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        Self::failing_first(0).await
    }

    /// Answers 503 to the first `fail` requests (recording them too), then 200.
    async fn failing_first(fail: usize) -> Receiver {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        let seen_heads = Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                let seen_heads = Arc::clone(&seen_heads);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    loop {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        let text = String::from_utf8_lossy(&buf).to_string();
                        let Some(end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let length: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.split_once(':')
                                    .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                                    .and_then(|(_, v)| v.trim().parse().ok())
                            })
                            .unwrap_or(0);
                        if buf.len() < end + 4 + length {
                            continue;
                        }
                        let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]);
                        seen_heads
                            .lock()
                            .expect("heads")
                            .push(text[..end].to_string());
                        let n = {
                            let mut all = seen.lock().expect("bodies");
                            all.push(body.into_owned());
                            all.len()
                        };
                        let answer: &[u8] = if n <= fail {
                            b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"
                        } else {
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        };
                        let _ = s.write_all(answer).await;
                        return;
                    }
                });
            }
        });
        Receiver {
            port,
            bodies,
            heads,
        }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("bodies").clone()
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("heads").clone()
    }
}

/// Waits (at most 60 s) on the outbox's changes until `done` holds.
async fn until(outbox: &vigie::outbox::Outbox, what: &str, done: impl Fn() -> bool) {
    let mut changes: watch::Receiver<u64> = outbox.changes();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for {what}: {:?}\n{:?}",
            outbox.status(),
            outbox.view(10).map(|v| v
                .sent
                .iter()
                .map(|r| (r.delivery.alert.id, r.delivery.step.name()))
                .collect::<Vec<_>>())
        );
        let _ = tokio::time::timeout(left, changes.changed()).await;
    }
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

#[actix_rt::test]
async fn alerts_reach_the_technician_by_email_and_the_client_by_webhook_and_survive_an_smtp_outage()
{
    let mail = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(0, mail.path());
    let hook = Receiver::start().await;
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = format!(
        r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = {{ for = "0s" }}
[clients.c]
name = "Client"
contract = {{ direct_critical_alerts = true, contacts = ["client-pc"] }}
[contacts.jd]
name = "Julien Dupont"
email = "jd@example.org"
[contacts.client-pc]
name = "Client PC"
channels = ["webhook"]
language = "en"
[on_call]
technicians = ["jd"]
rotation = "7d"
rotation_start = "2026-01-05T08:00:00+01:00"
manager = "jd"
technical_manager = "jd"
[notifications]
retry_initial = "100ms"
retry_max = "300ms"
attempts_per_channel = 100
[channels.email]
smtp_host = "127.0.0.1"
smtp_port = {}
security = "none"
from = "vigie@example.org"
[channels.webhook]
url = "http://127.0.0.1:{}/alertmanager"
"#,
        smtp.port, hook.port
    );
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0") + &equipment("nvr-1", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let sim = ScriptedCollector::default();
    let full = |ratio: f64| {
        Observation::up().with_metric(
            Metric::new("system.filesystem.utilization", ratio).with("mountpoint", "/hdd"),
        )
    };
    sim.answer("nvr-1", full(0.97));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    wait_status(&d, "one site", |s| s.sites.len() == 1).await;

    // The critical disk alert: the technician on call by email (French), the client's
    // contact by webhook (its contract asks for critical alerts).
    until(&d.outbox, "the first notifications", || {
        smtp.messages().len() == 1 && hook.bodies().len() == 1
    })
    .await;
    let alert = d.book.live().into_iter().next().expect("the disk alert");
    let m = &smtp.messages()[0];
    assert_eq!(
        header(m, "To"),
        Some("\"Julien Dupont\" <jd@example.org>"),
        "{m}"
    );
    assert!(
        header(m, "Subject").is_some_and(|s| s.contains("CRITIQUE")),
        "{m}"
    );
    let id = header(m, "Message-ID").expect("Message-ID");
    assert!(
        id.starts_with(&format!("<vigie-{}-opened-", alert.id)) && id.ends_with("-jd@vigie>"),
        "{id}"
    );
    assert_eq!(
        header(m, "In-Reply-To"),
        Some(format!("<vigie-alert-{}@vigie>", alert.id).as_str())
    );
    assert!(m.contains("multipart/alternative"), "{m}");
    assert!(m.contains("text/html"), "{m}");
    let payload: serde_json::Value = serde_json::from_str(&hook.bodies()[0]).expect("webhook JSON");
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["status"], "firing");
    assert_eq!(payload["receiver"], "client-pc");
    let a = &payload["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "disk.usage");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["mountpoint"], "/hdd");
    for key in ["startsAt", "endsAt", "generatorURL", "fingerprint"] {
        assert!(a[key].is_string(), "{key}: {payload}");
    }

    // The SMTP server goes away; the alert resolves meanwhile: the resolution waits in the
    // outbox, retried, and arrives once the server is back, exactly once.
    let port = smtp.stop();
    sim.answer("nvr-1", full(0.50));
    until(&d.outbox, "a failed email attempt", || {
        d.outbox
            .status()
            .last_failures
            .iter()
            .any(|(c, _, _)| *c == vigie::config::ChannelKind::Email)
    })
    .await;
    let waiting = d.outbox.view(0).expect("outbox").pending;
    assert!(
        waiting
            .iter()
            .any(|p| p.channel == vigie::config::ChannelKind::Email
                && p.step == vigie::notify::Step::Resolved
                && p.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("Connection refused"))),
        "{waiting:?}"
    );
    let smtp = Smtp::start(port, mail.path());
    until(&d.outbox, "the resolution by email", || {
        smtp.messages().len() == 2 && d.outbox.status().pending == 0
    })
    .await;
    let resolved: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| header(m, "Message-ID").is_some_and(|i| i.contains("-resolved-")))
        .collect();
    assert_eq!(resolved.len(), 1, "exactly once");
    // The webhook got the resolution too, as `resolved`.
    until(&d.outbox, "the webhook resolution", || {
        hook.bodies().len() == 2 && d.outbox.status().sent == 4
    })
    .await;
    let payload: serde_json::Value = serde_json::from_str(&hook.bodies()[1]).expect("webhook JSON");
    assert_eq!(payload["status"], "resolved");
    // The sent history says who got what.
    let view = d.outbox.view(10).expect("outbox");
    assert!(view.pending.is_empty());
    assert_eq!(view.sent.len(), 4);
    assert!(view.sent.iter().all(|r| r.accepted));
    d.stop().await;
}

#[actix_rt::test]
async fn an_unhandled_alert_escalates_to_the_managers_and_opens_one_intervention_ticket() {
    // The external ticketing tool refuses the first request, then takes them all.
    let tool = Receiver::failing_first(1).await;
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let token = cfg.path().join("tool-token");
    std::fs::write(&token, "s3cret-token\n").expect("write");
    let main = r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = { for = "0s" }
[clients.c]
name = "Client"
[contacts.jd]
name = "Julien"
channels = ["log"]
[contacts.boss]
name = "Manager"
channels = ["log"]
[contacts.tech]
name = "Technical manager"
channels = ["log"]
[on_call]
technicians = ["jd"]
rotation = "7d"
rotation_start = "2026-01-05T08:00:00+01:00"
manager = "boss"
technical_manager = "tech"
[escalation]
after = "1s"
then_after = "1s"
[notifications]
retry_initial = "100ms"
retry_max = "200ms"
[channels.log]
[credentials.tool]
password_file = "TOKEN"
[channels.tickets]
url = "http://127.0.0.1:PORT/api/tickets"
credentials = "tool"
"#
    .replace("TOKEN", &token.display().to_string())
    .replace("PORT", &tool.port.to_string());
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0") + &equipment("nvr-1", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let sim = ScriptedCollector::default();
    sim.answer(
        "nvr-1",
        Observation::up().with_metric(
            Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"),
        ),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    let reader = d.store.reader();
    let told = |who: &str| {
        d.outbox
            .view(100)
            .expect("outbox")
            .sent
            .iter()
            .filter(|r| r.delivery.contact.as_str() == who && r.accepted)
            .count()
    };
    until(&d.outbox, "both escalation levels told", || {
        told("boss") == 1 && told("tech") == 1
    })
    .await;
    assert_eq!(told("jd"), 1, "the technician was told once, at opening");
    let tickets = reader.tickets().expect("tickets");
    assert_eq!(tickets.len(), 1, "one ticket per alert: {tickets:?}");
    let t = &tickets[0];
    assert_eq!((t.level, t.role.as_str()), (2, "technical manager"));
    assert_eq!(t.assigned_to.as_ref().map(|c| c.as_str()), Some("tech"));
    assert_eq!(t.client.as_ref().map(|c| c.as_str()), Some("c"));
    let alert = d.book.live().into_iter().next().expect("alert");
    assert_eq!(t.alert, alert.id);
    assert_eq!(alert.escalation_level, 2);

    // Closed by an operator through the API; the log says all of it.
    let api = d.client();
    let number = t.number;
    let closed = tokio::task::spawn_blocking(move || {
        let t = api.close_ticket(number, "disk replaced").expect("close");
        let again = api.close_ticket(number, "twice");
        (t, again, api.tickets(false).expect("open tickets"))
    })
    .await
    .expect("client");
    assert_eq!(closed.0.status, vigie::ticket::TicketStatus::Closed);
    assert!(
        matches!(
            closed.1,
            Err(vigie::client::ClientError::Refused { status: 409, .. })
        ),
        "{:?}",
        closed.1
    );
    assert!(closed.2.is_empty());
    let kinds: Vec<String> = reader
        .events_after(0, 10_000)
        .expect("events")
        .into_iter()
        .filter(|e| matches!(e.body, vigie::events::EventBody::Ticket(_)))
        .map(|e| e.to_string())
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(
        kinds[0].contains("opened") && kinds[0].contains("on-call manager boss"),
        "{kinds:?}"
    );
    assert!(kinds[1].contains("reassigned") && kinds[1].contains("technical manager tech"));
    assert!(kinds[2].contains("closed by local: disk replaced"));

    // The ticketing tool was told of each change, in order, once each after its refusal.
    until(&d.outbox, "the ticketing tool told of the closure", || {
        tool.bodies().iter().any(|b| b.contains("\"closed\""))
    })
    .await;
    let told: Vec<serde_json::Value> = tool
        .bodies()
        .iter()
        .map(|b| serde_json::from_str(b).expect("JSON"))
        .collect();
    let changes: Vec<&str> = told.iter().filter_map(|p| p["change"].as_str()).collect();
    assert_eq!(
        changes,
        ["opened", "opened", "reassigned", "closed"],
        "{told:?}"
    );
    let last = &told[3];
    assert_eq!(last["ticket"]["number"], number);
    assert_eq!(last["ticket"]["status"], "closed");
    assert_eq!(last["ticket"]["resolution"], "disk replaced");
    assert_eq!(last["ticket"]["assigned_to"], "tech");
    assert_eq!(last["alert"]["id"], alert.id);
    assert_eq!(last["alert"]["site"], "s");
    assert_eq!(told[0]["idempotency_key"], told[1]["idempotency_key"]);
    for head in tool.heads() {
        assert!(
            head.lines()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer s3cret-token")),
            "{head}"
        );
        assert!(head.starts_with("POST /api/tickets "), "{head}");
    }

    // The audit trail tells it all, in order: the alert opened, the technician told, two
    // escalations each told to its role, the ticket opened, reassigned and closed.
    let api = d.client();
    let id = alert.id;
    let trail = tokio::task::spawn_blocking(move || api.audit(id).expect("audit"))
        .await
        .expect("client")
        .render();
    let order = [
        "opened",
        "notification #",
        "escalated",
        "ticket #",
        "to boss by log accepted",
        "ticket #",
        "to tech by log accepted",
        "closed by local: disk replaced",
    ];
    let mut from = 0;
    for needle in order {
        let at = trail[from..]
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing after byte {from} of:\n{trail}"));
        from += at + needle.len();
    }
    d.stop().await;
}

/// Waits (at most 60 s) on a daemon's outbox through its API until `done` holds.
fn outbox_until(
    api: &vigie::client::ApiClient,
    what: &str,
    done: impl Fn(&vigie::outbox::OutboxView) -> bool,
) -> vigie::outbox::OutboxView {
    let start = std::time::Instant::now();
    let mut view = api.outbox(100).expect("outbox");
    while !done(&view) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {view:?}"
        );
        view = api
            .outbox_after(100, view.version, Duration::from_secs(10))
            .expect("outbox");
    }
    view
}

#[test]
fn a_daemon_killed_with_notifications_pending_sends_them_after_its_restart_once() {
    let mail = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = format!(
        r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = {{ for = "0s" }}
[clients.c]
name = "Client"
[contacts.jd]
name = "Julien"
email = "jd@example.org"
[on_call]
technicians = ["jd"]
manager = "jd"
technical_manager = "jd"
[notifications]
retry_initial = "100ms"
retry_max = "200ms"
attempts_per_channel = 100
[channels.email]
smtp_host = "127.0.0.1"
smtp_port = {port}
security = "none"
from = "vigie@example.org"
"#
    );
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0") + &equipment("nvr-1", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let world = cfg.path().join("world.toml");
    std::fs::write(
        &world,
        "[default]\nstatus = \"up\"\n\n[equipment.nvr-1]\nstatus = \"up\"\nmetrics = [{ name = \"system.filesystem.utilization\", attributes = [[\"mountpoint\", \"/hdd\"]], value = 0.97 }]\n",
    )
    .expect("write");

    // The SMTP server is down: the alert's email waits in the outbox, failing.
    let first = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = first.client();
    let view = outbox_until(&api, "a failing email", |v| {
        v.pending.iter().any(|d| {
            d.last_error
                .as_deref()
                .is_some_and(|e| e.contains("refused"))
        })
    });
    let key = view.pending[0].idempotency_key();
    first.kill9();

    // Restarted with the server up: the pending email goes out, once.
    let smtp = Smtp::start(port, mail.path());
    let second = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let api = second.client();
    outbox_until(&api, "the email accepted", |v| {
        v.pending.is_empty() && v.sent.iter().any(|r| r.accepted)
    });
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        header(&messages[0], "Message-ID"),
        Some(format!("<{key}@vigie>").as_str())
    );
    second.sigterm();
}

#[actix_rt::test]
async fn new_alerts_of_a_site_within_the_grouping_window_go_out_as_one_message() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = { for = "0s" }
[clients.c]
name = "Client"
[contacts.jd]
name = "Julien"
channels = ["log"]
[on_call]
technicians = ["jd"]
manager = "jd"
technical_manager = "jd"
[notifications]
group_window = "3s"
[channels.log]
"#;
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let mut site = site_head("UTC", "0");
    for id in ["nvr-1", "nvr-2", "nvr-3"] {
        site += &equipment(id, "nvr", None);
    }
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let sim = ScriptedCollector::default();
    for id in ["nvr-1", "nvr-2", "nvr-3"] {
        sim.answer(
            id,
            Observation::up().with_metric(
                Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"),
            ),
        );
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    until(&d.outbox, "the grouped message", || {
        d.outbox.status().sent >= 1 && d.outbox.status().pending == 0
    })
    .await;
    let view = d.outbox.view(10).expect("outbox");
    assert_eq!(view.sent.len(), 1, "{:?}", view.sent);
    let message = &view.sent[0];
    assert!(message.accepted);
    let mut ids: Vec<u64> = std::iter::once(message.delivery.alert.id)
        .chain(message.delivery.also.iter().map(|a| a.id))
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 3, "{:?}", message.delivery);
    let text = vigie::notify::render(&message.delivery);
    assert!(
        text.subject.contains("3 nouvelles alertes sur le site s"),
        "{}",
        text.subject
    );
    d.stop().await;
}

#[actix_rt::test]
async fn a_flapping_alert_is_told_at_most_max_per_hour_times() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = { for = "0s", recovery = 1 }
[clients.c]
name = "Client"
[contacts.jd]
name = "Julien"
channels = ["log"]
[on_call]
technicians = ["jd"]
manager = "jd"
technical_manager = "jd"
[notifications]
max_per_hour = 2
[channels.log]
"#;
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0") + &equipment("nvr-1", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let sim = ScriptedCollector::default();
    let disk = |ratio: f64| {
        Observation::up().with_metric(
            Metric::new("system.filesystem.utilization", ratio).with("mountpoint", "/hdd"),
        )
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    // Three times: the disk fills up, then frees.
    let mut observed = d.observations();
    for _ in 0..3 {
        for (ratio, live) in [(0.97, true), (0.50, false)] {
            sim.answer("nvr-1", disk(ratio));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while d.book.live().is_empty() == live {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the alert did not follow the disk"
                );
                let _ = tokio::time::timeout(Duration::from_secs(5), observed.changed()).await;
            }
        }
    }
    until(&d.outbox, "the messages settled", || {
        d.outbox.status().pending == 0 && d.outbox.status().sent >= 4
    })
    .await;
    let sent = d.outbox.view(100).expect("outbox").sent;

    let steps: Vec<&str> = sent.iter().map(|r| r.delivery.step.name()).collect();
    // Two openings and their resolutions; the third flap is held back, opening and end.
    assert_eq!(
        steps,
        ["opened", "resolved", "opened", "resolved"],
        "{sent:?}"
    );
    d.stop().await;
}

#[actix_rt::test]
async fn sms_go_through_the_gateway_template_and_are_retried_until_it_accepts() {
    let gateway = Receiver::failing_first(2).await;
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = format!(
        r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = {{ for = "0s" }}
[clients.c]
name = "Client"
[contacts.jd]
name = "Julien"
phone = "+33612345678"
[on_call]
technicians = ["jd"]
manager = "jd"
technical_manager = "jd"
[notifications]
retry_initial = "100ms"
retry_max = "200ms"
[channels.sms]
gateway_url = "http://127.0.0.1:{}/send"
body = '{{"number": "{{to}}", "message": "{{text}}", "ref": "{{reference}}"}}'
"#,
        gateway.port
    );
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0") + &equipment("nvr-1", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let sim = ScriptedCollector::default();
    sim.answer(
        "nvr-1",
        Observation::up().with_metric(
            Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"),
        ),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    until(&d.outbox, "the SMS accepted", || {
        d.outbox.status().sent == 1
    })
    .await;
    // Refused twice (503), accepted the third time: three requests, the same message.
    let bodies = gateway.bodies();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    let sms: serde_json::Value = serde_json::from_str(&bodies[0]).expect("JSON body");
    assert_eq!(sms["number"], "+33612345678");
    let text = sms["message"].as_str().expect("text");
    assert!(
        text.starts_with("vigie #") && text.contains("CRITIQUE s nvr-1"),
        "{text}"
    );
    assert!(text.chars().count() <= 160);
    assert!(
        sms["ref"].as_str().is_some_and(|r| r.ends_with("-jd")),
        "{sms}"
    );
    let record = &d.outbox.view(10).expect("outbox").sent[0];
    assert!(record.accepted);
    assert_eq!(record.delivery.attempts, 2, "two failures before");
    d.stop().await;
}

#[actix_rt::test]
async fn a_contact_whose_first_channel_keeps_failing_is_reached_on_its_next_one() {
    let hook = Receiver::failing_first(1000).await;
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = format!(
        r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = {{ for = "0s" }}
[clients.c]
name = "Client"
[contacts.jd]
name = "Julien"
channels = ["webhook", "log"]
[on_call]
technicians = ["jd"]
manager = "jd"
technical_manager = "jd"
[notifications]
retry_initial = "100ms"
retry_max = "200ms"
attempts_per_channel = 2
[channels.webhook]
url = "http://127.0.0.1:{}/hook"
[channels.log]
"#,
        hook.port
    );
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0") + &equipment("nvr-1", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let sim = ScriptedCollector::default();
    sim.answer(
        "nvr-1",
        Observation::up().with_metric(
            Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"),
        ),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    until(&d.outbox, "the fallback", || d.outbox.status().sent == 1).await;
    let record = &d.outbox.view(10).expect("outbox").sent[0];
    assert!(record.accepted);
    assert_eq!(record.delivery.channel, vigie::config::ChannelKind::Log);
    assert_eq!(record.delivery.failed_channels.len(), 1);
    assert_eq!(
        record.delivery.failed_channels[0].0,
        vigie::config::ChannelKind::Webhook
    );
    assert!(
        record.delivery.failed_channels[0].1.contains("HTTP 503"),
        "{:?}",
        record.delivery.failed_channels
    );
    assert_eq!(hook.bodies().len(), 2, "two attempts on the webhook");
    // The alert's timeline says so.
    let mut observed = d.observations();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let noted = loop {
        let line = d.book.live().into_iter().find_map(|a| {
            a.timeline
                .into_iter()
                .find(|t| t.event == vigie::alert::TimelineEvent::Noted)
        });
        if let Some(l) = line {
            break l;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no note on the timeline"
        );
        let _ = tokio::time::timeout(Duration::from_secs(5), observed.changed()).await;
    };
    assert!(
        noted
            .detail
            .contains("notification to jd failed on webhook")
            && noted.detail.contains("sent by log instead"),
        "{}",
        noted.detail
    );
    d.stop().await;
}

/// A certificate authority and a certificate it signed for 127.0.0.1, as PEM files.
fn relay_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Relay test CA");
    let ca = ca.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("relay.pem"),
        dir.join("relay.key"),
    );
    std::fs::write(&paths.0, ca.pem()).expect("write");
    std::fs::write(&paths.1, leaf.pem()).expect("write");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write");
    paths
}

#[actix_rt::test]
async fn email_reaches_a_relay_over_starttls_and_over_implicit_tls_trusting_the_channel_ca_file() {
    let certs = tempfile::tempdir().expect("tmp");
    let (ca, cert, key) = relay_certificates(certs.path());
    for (security, cert_flag, key_flag, trusted) in [
        ("starttls", "--tlscert", "--tlskey", true),
        ("tls", "--smtpscert", "--smtpskey", true),
        ("tls", "--smtpscert", "--smtpskey", false),
    ] {
        let mail = tempfile::tempdir().expect("tmp");
        let smtp = Smtp::start_with(
            0,
            mail.path(),
            &[
                cert_flag.as_ref(),
                cert.as_os_str(),
                key_flag.as_ref(),
                key.as_os_str(),
            ],
        );
        let cfg = tempfile::tempdir().expect("tmp");
        let data = tempfile::tempdir().expect("tmp");
        let ca_line = if trusted {
            format!("ca_file = \"{}\"\n", ca.display())
        } else {
            String::new()
        };
        let main = format!(
            r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = {{ for = "0s" }}
[clients.c]
name = "Client"
[contacts.jd]
name = "Julien"
email = "jd@example.org"
[on_call]
technicians = ["jd"]
manager = "jd"
technical_manager = "jd"
[notifications]
retry_initial = "100ms"
retry_max = "200ms"
[channels.email]
smtp_host = "127.0.0.1"
smtp_port = {}
security = "{security}"
from = "vigie@example.org"
{ca_line}"#,
            smtp.port
        );
        std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
        std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
        let site = site_head("UTC", "0") + &equipment("nvr-1", "nvr", None);
        std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
        let sim = ScriptedCollector::default();
        sim.answer(
            "nvr-1",
            Observation::up().with_metric(
                Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"),
            ),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let d = server::start(options(cfg.path(), data.path(), &sim), listener)
            .await
            .expect("start");
        if trusted {
            until(&d.outbox, "the email", || d.outbox.status().sent == 1).await;
            let messages = smtp.messages();
            assert_eq!(messages.len(), 1, "{security}: {messages:?}");
            assert!(
                header(&messages[0], "Subject").is_some_and(|s| s.contains("#1 CRITIQUE")),
                "{}",
                messages[0]
            );
        } else {
            // Without the CA, the relay's certificate is refused: said, never sent in clear.
            until(&d.outbox, "a refused certificate", || {
                d.outbox
                    .status()
                    .last_failures
                    .iter()
                    .any(|(_, _, e)| e.contains("certificate"))
            })
            .await;
            assert_eq!(d.outbox.status().sent, 0);
            assert!(smtp.messages().is_empty());
        }
        d.stop().await;
        drop(smtp);
    }
}

#[actix_rt::test]
async fn an_unacknowledged_alert_is_recalled_to_the_technician_until_acknowledged() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = r#"
[daemon]
collection_interval = "1s"
[thresholds]
disk = { for = "0s" }
[clients.c]
name = "Client"
[contacts.jd]
name = "Julien"
channels = ["log"]
[on_call]
technicians = ["jd"]
manager = "jd"
technical_manager = "jd"
[escalation]
after = "1d"
remind_every = "1s"
[channels.log]
"#;
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site =
        site_head("UTC", "0") + &equipment("nvr-1", "nvr", None) + &equipment("nvr-2", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let full = || {
        Observation::up().with_metric(
            Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/hdd"),
        )
    };
    let sim = ScriptedCollector::default();
    sim.answer("nvr-1", full());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    let reminders = |alert: u64| {
        d.outbox
            .view(1000)
            .expect("outbox")
            .sent
            .iter()
            .filter(|r| {
                r.delivery.alert.id == alert
                    && r.delivery.step == vigie::notify::Step::Reminder
                    && r.delivery.contact.as_str() == "jd"
            })
            .count()
    };
    until(&d.outbox, "two reminders", || {
        d.book.live().first().is_some_and(|a| reminders(a.id) >= 2)
    })
    .await;
    let first = d.book.live()[0].id;
    // Acknowledged: the reminders stop.
    let api = d.client();
    let acked = tokio::task::spawn_blocking(move || api.ack(first, None))
        .await
        .expect("client")
        .expect("ack");
    assert_eq!(acked.remind_at, None);
    let told = reminders(first);
    // A second alert is reminded twice meanwhile; the first one is not reminded again.
    sim.answer("nvr-2", full());
    until(&d.outbox, "two reminders of the second alert", || {
        d.book
            .live()
            .iter()
            .find(|a| a.id != first)
            .is_some_and(|a| reminders(a.id) >= 2)
    })
    .await;
    assert!(
        reminders(first) <= told + 1,
        "at most the reminder already in flight at the acknowledgement"
    );
    let after_second: usize = reminders(first);
    until(&d.outbox, "two more reminders of the second alert", || {
        d.book
            .live()
            .iter()
            .find(|a| a.id != first)
            .is_some_and(|a| reminders(a.id) >= 4)
    })
    .await;
    assert_eq!(
        reminders(first),
        after_second,
        "no reminder after the acknowledgement"
    );
    d.stop().await;
}

#[actix_rt::test]
async fn the_monthly_report_is_emailed_once_caught_up_after_downtime_and_not_again_after_a_restart()
{
    let mail = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(0, mail.path());
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = format!(
        r#"
[daemon]
collection_interval = "1s"
[clients.c]
name = "Client SA"
[clients.c.contract]
contacts = ["cl"]
report_language = "fr"
[clients.d]
name = "Client sans contact"
[contacts.cl]
name = "Claire"
email = "claire@client.example"
[channels.email]
smtp_host = "127.0.0.1"
smtp_port = {}
security = "none"
from = "vigie@example.org"
"#,
        smtp.port
    );
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("Europe/Paris", "0") + &equipment("nvr-1", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let site_d = site_head("Europe/Paris", "0").replace("client = \"c\"", "client = \"d\"")
        + &equipment("nvr-d", "nvr", None);
    std::fs::write(cfg.path().join("sites/t.toml"), site_d).expect("write");
    let sim = ScriptedCollector::default();
    let run = |at: &str| {
        let mut o = options(cfg.path(), data.path(), &sim);
        o.clock = vigie::clock::Clock::tokio_at(at.parse().expect("t"));
        o
    };
    // The daemon runs on the evening of 31 March (Paris), then is down at 08:00 on 1 April,
    // when March's reports are due.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(run("2026-03-31T18:00:00Z"), listener)
        .await
        .expect("start");
    d.store.flush().await.expect("commit");
    d.stop().await;
    assert!(smtp.messages().is_empty(), "nothing due yet");
    // Started again at 08:05: caught up once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(run("2026-04-01T06:05:00Z"), listener)
        .await
        .expect("start");
    until(&d.outbox, "the report sent", || d.outbox.status().sent == 1).await;
    d.stop().await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert!(
        header(m, "Subject").is_some_and(|s| s.contains("2026-03")),
        "{m}"
    );
    assert!(m.contains("claire@client.example"), "{m}");
    assert!(
        m.contains("multipart/mixed")
            && m.contains("vigie-c-2026-03.pdf")
            && m.contains("application/pdf"),
        "{m}"
    );
    // Archived as a PDF and as the same page in HTML.
    let text = crate::support::pdf_text(&data.path().join("reports/c/2026-03.pdf"));
    assert!(
        text.contains("Client SA") && text.contains("mars 2026"),
        "{text}"
    );
    let page =
        std::fs::read_to_string(data.path().join("reports/c/2026-03.html")).expect("archived page");
    assert!(
        page.contains("Client SA") && page.contains("mars 2026"),
        "{page}"
    );
    // The client without report contacts has its report archived, and sent to nobody.
    let text = crate::support::pdf_text(&data.path().join("reports/d/2026-03.pdf"));
    assert!(text.contains("Client sans contact"), "{text}");
    // Restarted the same morning: not sent again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(run("2026-04-01T07:00:00Z"), listener)
        .await
        .expect("start");
    let due: chrono::DateTime<chrono::Utc> = "2026-04-01T06:00:00Z".parse().expect("t");
    until(&d.outbox, "the reports looked at", || {
        d.outbox.status().reports_checked == Some(due)
    })
    .await;
    let view = d.outbox.view(10).expect("outbox");
    assert!(view.pending.is_empty(), "{:?}", view.pending);
    d.stop().await;
    assert_eq!(smtp.messages().len(), 1);
    // Running through 08:00 on 1 May: April's report goes out then, while the daemon runs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(run("2026-05-01T05:59:54Z"), listener)
        .await
        .expect("start");
    until(&d.outbox, "the reports looked at", || {
        d.outbox.status().reports_checked.is_some()
    })
    .await;
    // Looked at before 08:00 (unless the start itself took six seconds): nothing new then.
    if d.outbox.status().reports_checked == Some(due) {
        assert_eq!(smtp.messages().len(), 1, "nothing new before 08:00");
    }
    until(&d.outbox, "April's report sent at 08:00", || {
        smtp.messages().len() == 2
    })
    .await;
    d.stop().await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| header(m, "Subject").is_some_and(|s| s.contains("2026-04"))),
        "{messages:?}"
    );
}
