//! Network collectors against real peers: a TCP listener and an RTSP responder written here,
//! a real node_exporter (Debian's prometheus-node-exporter), HTTP servers answering garbage,
//! and pushed heartbeats through the daemon's API.

use crate::reload::{options, wait_status};
use crate::support::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vigie::clock::Clock;
use vigie::collector::Collector;
use vigie::collectors::heartbeat::HeartbeatBook;
use vigie::collectors::{NetCollector, tcp};
use vigie::config::EquipmentConfig;
use vigie::observation::{Observation, ProbeStatus};
use vigie::rules::RuleId;
use vigie::server;

const T: Duration = Duration::from_secs(3);

/// Accepts one connection, reads the request head and writes `answer`.
async fn answer_once(answer: Vec<u8>) -> u16 {
    answer_once_on("127.0.0.1:0", answer).await
}

/// Accepts one connection on `bind`, reads the request head and writes `answer`.
async fn answer_once_on(bind: &str, answer: Vec<u8>) -> u16 {
    let listener = TcpListener::bind(bind).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    actix_rt::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&answer).await;
            let _ = s.shutdown().await;
        }
    });
    port
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

#[actix_rt::test]
async fn tcp_and_rtsp_heartbeats_tell_up_down_and_garbage_apart() {
    let open = answer_once(Vec::new()).await;
    assert_eq!(reason(&tcp::tcp_probe("127.0.0.1", open, T).await), "up");
    let closed = free_port().await;
    let o = tcp::tcp_probe("127.0.0.1", closed, T).await;
    assert!(
        reason(&o).starts_with(&format!("down: TCP port {closed}: Connection refused")),
        "{}",
        reason(&o)
    );

    let rtsp = answer_once(
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
            .to_vec(),
    )
    .await;
    assert_eq!(reason(&tcp::rtsp_probe("127.0.0.1", rtsp, T).await), "up");
    let unauthorized = answer_once(b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n".to_vec()).await;
    assert_eq!(
        reason(&tcp::rtsp_probe("127.0.0.1", unauthorized, T).await),
        "unknown: RTSP server answered 401 to OPTIONS: RTSP/1.0 401 Unauthorized"
    );
    let ssh = answer_once(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".to_vec()).await;
    assert_eq!(
        reason(&tcp::rtsp_probe("127.0.0.1", ssh, T).await),
        "unknown: not an RTSP answer: \"SSH-2.0-OpenSSH_9.2p1 Debian-2\""
    );
    // A device streaming an endless header and keeping the connection open: only the first
    // 8 KiB are read, so the probe decides from them instead of waiting for the end (without
    // the cap it would wait until its deadline and say the server did not answer).
    let endless = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        actix_rt::spawn(async move {
            if let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let mut head = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n".to_vec();
                head.extend(std::iter::repeat_n(b'A', 1024 * 1024));
                let _ = s.write_all(&head).await;
                std::future::pending::<()>().await;
            }
        });
        port
    };
    assert_eq!(
        reason(&tcp::rtsp_probe("127.0.0.1", endless, T).await),
        "up"
    );
    let flood = answer_once(vec![b'A'; 1024 * 1024]).await;
    let o = tcp::rtsp_probe("127.0.0.1", flood, T).await;
    assert!(
        reason(&o).starts_with("unknown: not an RTSP answer"),
        "{}",
        reason(&o)
    );
    let silent = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        actix_rt::spawn(async move {
            let kept = l.accept().await;
            std::future::pending::<()>().await;
            drop(kept);
        });
        port
    };
    // The same over IPv6.
    let v6 = answer_once_on("[::1]:0", b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n".to_vec()).await;
    assert_eq!(reason(&tcp::rtsp_probe("::1", v6, T).await), "up");
    let v6 = answer_once_on("[::1]:0", Vec::new()).await;
    assert_eq!(reason(&tcp::tcp_probe("::1", v6, T).await), "up");
    let o = tcp::rtsp_probe("127.0.0.1", silent, Duration::from_millis(300)).await;
    assert_eq!(
        reason(&o),
        "unknown: RTSP server accepted the connection but did not answer OPTIONS in time"
    );
}

/// The daemon in-process on port 0 with the real network collectors.
async fn start_with_network_collectors(cfg: &Path, data: &Path) -> server::Daemon {
    let clock = Clock::System;
    let heartbeats = HeartbeatBook::new(clock.now());
    let mut opts = options(cfg, data, &vigie::collector::ScriptedCollector::default());
    opts.collector = Arc::new(NetCollector::new(clock, heartbeats.clone()).with_budget_cap(T));
    opts.heartbeats = heartbeats;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    server::start(opts, listener).await.expect("start")
}

fn agent_equipment(url: &str, recording: Option<&str>) -> Arc<EquipmentConfig> {
    let mut site = site_head("UTC", "0");
    site.push_str(&format!(
        "\n[[equipment]]\nid = \"vms\"\nkind = \"vms-server\"\naddress = \"127.0.0.1\"\nprobes = [\"agent\"]\nagent_url = \"{url}\"\n"
    ));
    if let Some(r) = recording {
        site.push_str(&format!("recording_service = \"{r}\"\n"));
    }
    single_equipment(&main_file(""), &site)
}

fn collector() -> NetCollector {
    NetCollector::new(Clock::System, HeartbeatBook::new(chrono::Utc::now())).with_budget_cap(T)
}

/// A real node_exporter on loopback, with a textfile directory for service states.
struct NodeExporter {
    child: Child,
    url: String,
}

impl NodeExporter {
    fn start(textfiles: &Path, port: u16) -> NodeExporter {
        let mut child = Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--collector.textfile.directory={}",
                textfiles.display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start prometheus-node-exporter (Debian package prometheus-node-exporter)");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        loop {
            let line = lines.next().expect("node_exporter exited").expect("read");
            if line.contains("Listening on") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        NodeExporter {
            child,
            url: format!("http://127.0.0.1:{port}/metrics"),
        }
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn service_state(dir: &Path, active: bool) {
    let (a, f) = if active { (1, 0) } else { (0, 1) };
    let text = format!(
        "# TYPE node_systemd_unit_state gauge\nnode_systemd_unit_state{{name=\"nx-mediaserver.service\",state=\"active\",type=\"simple\"}} {a}\nnode_systemd_unit_state{{name=\"nx-mediaserver.service\",state=\"failed\",type=\"simple\"}} {f}\n"
    );
    std::fs::write(dir.join("services.prom.tmp"), text).expect("write");
    std::fs::rename(dir.join("services.prom.tmp"), dir.join("services.prom")).expect("rename");
}

#[actix_rt::test]
async fn a_real_node_exporter_is_mapped_onto_vigie_metrics() {
    let textfiles = tempfile::tempdir().expect("tmp");
    service_state(textfiles.path(), true);
    let exporter = NodeExporter::start(textfiles.path(), free_port().await);
    let eq = agent_equipment(&exporter.url, Some("nx-mediaserver"));
    let c = collector();
    let first = c.collect(&eq).await;
    assert_eq!(first.status, ProbeStatus::Up, "{}", reason(&first));
    let has = |o: &Observation, name: &str| o.metrics.iter().any(|m| m.name == name);
    assert!(has(&first, "system.memory.utilization"));
    assert!(has(&first, "device.uptime"));
    let root = first.metrics.iter().find(|m| {
        m.name == "system.filesystem.utilization" && m.attribute("mountpoint") == Some("/")
    });
    assert!(
        root.is_some_and(|m| (0.0..=1.0).contains(&m.value)),
        "{:?}",
        first.metrics
    );
    let recording = |o: &Observation| {
        o.metrics
            .iter()
            .find(|m| m.name == "service.up" && m.attribute("service") == Some("recording"))
            .map(|m| m.value)
    };
    assert_eq!(recording(&first), Some(1.0));
    assert!(first.facts.iter().any(|(k, _)| k == "hostname"));
    // The recording service stops: the next scrape says so, and CPU has two samples now.
    service_state(textfiles.path(), false);
    let second = c.collect(&eq).await;
    assert_eq!(recording(&second), Some(0.0));
    assert!(has(&second, "system.cpu.utilization"));
}

fn http(status: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

#[actix_rt::test]
async fn agents_answering_garbage_or_refusing_credentials_are_reported_as_such() {
    let c = collector();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            http("401 Unauthorized", b"denied"),
            "refused the credentials (HTTP 401)",
        ),
        (
            http("500 Internal Server Error", b"oops"),
            "answered HTTP 500",
        ),
        (
            http(
                "200 OK",
                b"node_load1 0.5\nnode_memory_MemTotal_bytes 1e9\nnode_memory_MemAv",
            ),
            "truncated exposition",
        ),
        (
            http("200 OK", b"<html><body>camera login</body></html>\n"),
            "no metric found",
        ),
        (
            http("200 OK", &[0xff, 0xfe, 0x00, 0x01, b'\n']),
            "binary data",
        ),
        (
            http("200 OK", &vec![b'#'; 9 * 1024 * 1024]),
            "sent more than 8 MiB",
        ),
    ];
    for (answer, expected) in cases {
        let port = answer_once(answer).await;
        let eq = agent_equipment(&format!("http://127.0.0.1:{port}/metrics"), None);
        let o = c.collect(&eq).await;
        let r = reason(&o);
        assert!(
            r.starts_with("unknown: ") && r.contains(expected),
            "expected {expected:?} in {r:?}"
        );
    }
    // An agent behind Basic authentication: the equipment's credentials are sent.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    actix_rt::spawn(async move {
        for _ in 0..2 {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_lowercase();
            // "supervision:s3cret" in base64.
            let answer = if head.contains("authorization: basic c3vwzxj2axnpb246cznjcmv0") {
                http(
                    "200 OK",
                    b"node_memory_MemTotal_bytes 1000\nnode_memory_MemAvailable_bytes 250\n",
                )
            } else {
                http("401 Unauthorized", b"")
            };
            let _ = s.write_all(&answer).await;
            let _ = s.shutdown().await;
        }
    });
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good");
    let bad = dir.path().join("bad");
    std::fs::write(&good, "s3cret").expect("write");
    std::fs::write(&bad, "guess").expect("write");
    for (file, expected) in [(&good, "up"), (&bad, "unknown: agent: agent at")] {
        let site = site_head("UTC", "0")
            + &format!(
                "\n[[equipment]]\nid = \"vms\"\nkind = \"vms-server\"\naddress = \"127.0.0.1\"\nprobes = [\"agent\"]\nagent_url = \"http://127.0.0.1:{port}/metrics\"\ncredentials = \"agent\"\n"
            );
        let main = main_file(&format!(
            "[credentials.agent]\nusername = \"supervision\"\npassword_file = \"{}\"\n",
            file.display()
        ));
        let eq = single_equipment(&main, &site);
        let o = c.collect(&eq).await;
        assert!(
            reason(&o).starts_with(expected),
            "{expected}: {}",
            reason(&o)
        );
        if expected == "up" {
            assert_eq!(
                o.metrics
                    .iter()
                    .find(|m| m.name == "system.memory.utilization")
                    .map(|m| m.value),
                Some(0.75)
            );
        } else {
            assert!(
                reason(&o).contains("refused the credentials (HTTP 401)"),
                "{}",
                reason(&o)
            );
        }
    }

    let closed = free_port().await;
    let eq = agent_equipment(&format!("http://127.0.0.1:{closed}/metrics"), None);
    let r = reason(&c.collect(&eq).await);
    assert!(
        r.starts_with("down: ") && r.contains("not reachable"),
        "{r}"
    );
}

#[actix_rt::test]
async fn pushed_heartbeats_keep_an_equipment_up_and_their_absence_brings_it_down() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    // The secret lives outside the config directory; its folder is watched too.
    let secrets = tempfile::tempdir().expect("tmp");
    let token_file = secrets.path().join("beacon.token");
    std::fs::write(&token_file, "s3cret-token\n").expect("write");
    let main = main_file(&format!(
        "[daemon]\ncollection_interval = \"1s\"\n[thresholds]\nconnectivity = {{ after = \"0s\" }}\n[credentials.beacon]\npassword_file = \"{}\"\n",
        token_file.display()
    ));
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0")
        + "\n[[equipment]]\nid = \"beacon\"\nkind = \"encoder\"\nprobes = [\"heartbeat\"]\ncredentials = \"beacon\"\nheartbeat_within = \"2s\"\n"
        + &equipment("cam", "camera", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let d = start_with_network_collectors(cfg.path(), data.path()).await;
    wait_status(&d, "one site", |s| s.sites.len() == 1).await;
    let base = format!("http://{}", d.api_addr);
    let post = move |path: &str, token: Option<&str>, body: &str| {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|b| ("authorization", b))
            .into_iter()
            .collect();
        vigie::client::ApiClient::new(&base)
            .raw(
                "POST",
                &format!("/api/v1/heartbeat/{path}"),
                &headers,
                Some(body),
            )
            .expect("request")
    };
    let post_again = post.clone();
    let (statuses, api) = tokio::task::spawn_blocking({
        let api = d.client();
        move || {
            let statuses = vec![
                post("beacon", Some("wrong"), ""),
                post("beacon", None, ""),
                post("cam", Some("s3cret-token"), ""),
                post("nothing", Some("s3cret-token"), ""),
                post("beacon", Some("s3cret-token"), "{not json"),
                post(
                    "beacon",
                    Some("s3cret-token"),
                    r#"{"metrics": [{"name": "hw.temperature", "value": 41.5}]}"#,
                ),
            ];
            (statuses, api)
        }
    })
    .await
    .expect("client");
    let codes: Vec<u16> = statuses.iter().map(|(c, _)| *c).collect();
    // An equipment that pushes no heartbeats and an unknown one answer as a wrong token.
    assert_eq!(codes, vec![401, 401, 401, 401, 400, 204], "{statuses:?}");
    assert_eq!(
        statuses[2].1.replace("`cam`", "`nothing`"),
        statuses[3].1,
        "{statuses:?}"
    );
    // Up from the heartbeat, then silent for more than 2 s: down, and R6 (which only concerns
    // an equipment that was up) raises its alert.
    let (summary, beacon) = tokio::task::spawn_blocking(move || {
        let client = api;
        let list = alerts_until(&client, "the connectivity alert", |l| {
            l.alerts.iter().any(|a| a.rule == "connectivity.lost")
        });
        let a = list
            .alerts
            .iter()
            .find(|a| a.rule == "connectivity.lost")
            .expect("alert");
        (
            a.summary.clone(),
            client.equipment("beacon").expect("beacon"),
        )
    })
    .await
    .expect("client");
    assert!(summary.contains("beacon"), "{summary}");
    let why = beacon.summary.reason.unwrap_or_default();
    assert!(why.contains("no heartbeat since"), "{why}");
    // The pushed value is evaluated and shown through the API (not the 0.0 of a value left
    // out of the answer).
    assert!(
        beacon
            .series
            .iter()
            .any(|s| s.key == "temperature" && s.value == 41.5),
        "pushed metrics were evaluated: {:?}",
        beacon.series
    );
    // A new token in the secret file is read at the reload its change triggers: the old one
    // is refused, the new one accepted.
    let loads = d.generation();
    std::fs::write(&token_file, "rotated-token\n").expect("write");
    tokio::time::timeout(Duration::from_secs(30), d.wait_generation(loads + 1))
        .await
        .expect("a change of the secret file reloads the config");
    let codes = tokio::task::spawn_blocking(move || {
        vec![
            post_again("beacon", Some("s3cret-token"), "").0,
            post_again("beacon", Some("rotated-token"), "").0,
        ]
    })
    .await
    .expect("client");
    assert_eq!(codes, vec![401, 204]);
    d.stop().await;
}

/// A host that never answers pings: the far end of a veth pair inside a network namespace
/// made for the test, with ICMP echo ignored there. Removed on drop.
struct SilentHost {
    ns: String,
    link: String,
    addr: String,
}

impl SilentHost {
    fn create() -> SilentHost {
        let n = std::process::id() % 100_000;
        let ns = format!("vigie-test-{n}");
        let link = format!("vgt{n}a");
        let peer = format!("vgt{n}b");
        let octet = n % 250 + 1;
        let (ours, theirs) = (
            format!("10.213.{octet}.1/30"),
            format!("10.213.{octet}.2/30"),
        );
        let run = |args: &[&str]| {
            let out = Command::new("ip")
                .args(args)
                .output()
                .expect("run ip (Debian package iproute2)");
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["netns", "add", &ns]);
        let host = SilentHost {
            ns: ns.clone(),
            link: link.clone(),
            addr: format!("10.213.{octet}.2"),
        };
        run(&[
            "link", "add", &link, "type", "veth", "peer", "name", &peer, "netns", &ns,
        ]);
        run(&["addr", "add", &ours, "dev", &link]);
        run(&["link", "set", &link, "up"]);
        run(&[
            "netns", "exec", &ns, "ip", "addr", "add", &theirs, "dev", &peer,
        ]);
        run(&["netns", "exec", &ns, "ip", "link", "set", &peer, "up"]);
        run(&[
            "netns",
            "exec",
            &ns,
            "sysctl",
            "-qw",
            "net.ipv4.icmp_echo_ignore_all=1",
        ]);
        host
    }
}

impl Drop for SilentHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.link])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

#[actix_rt::test]
async fn icmp_through_one_shared_socket_tells_answering_and_silent_hosts_apart() {
    use vigie::collectors::icmp::{PingSettings, Pinger};
    let pinger = Pinger::start().expect("open an ICMP socket");
    let settings = PingSettings {
        count: 2,
        spacing: Duration::from_millis(10),
        timeout: Duration::from_millis(700),
        retries: 0,
    };
    let silent = SilentHost::create();
    // Forty loopback addresses and the silent host, all in flight at once.
    let mut targets: Vec<String> = (1..=40)
        .map(|i| format!("127.0.{}.{}", i / 10, i % 10 + 1))
        .collect();
    targets.push(silent.addr.clone());
    let results =
        futures::future::join_all(targets.iter().map(|t| pinger.probe(t, settings))).await;
    for (t, o) in targets.iter().zip(&results) {
        let loss = o
            .metrics
            .iter()
            .find(|m| m.name == "network.icmp.loss")
            .map(|m| m.value);
        if *t == silent.addr {
            assert_eq!(reason(o), "down: no answer to 2 ICMP echo requests");
            assert_eq!(loss, Some(1.0));
        } else {
            assert_eq!(o.status, ProbeStatus::Up, "{t}: {}", reason(o));
            assert_eq!(loss, Some(0.0), "{t}");
            let rtt = o
                .metrics
                .iter()
                .find(|m| m.name == "network.icmp.rtt")
                .map(|m| m.value);
            assert!(rtt.is_some_and(|r| r > 0.0 && r < 0.5), "{t}: {rtt:?}");
        }
    }
    // Retries: a silent host costs one more round, an answering one none.
    let retried = PingSettings {
        retries: 1,
        ..settings
    };
    let r = pinger.ping(silent.addr.parse().expect("ip"), retried).await;
    assert_eq!((r.sent, r.rtts.len()), (4, 0));
    let r = pinger.ping("127.0.0.1".parse().expect("ip"), retried).await;
    assert_eq!((r.sent, r.rtts.len()), (2, 2));
    let o = pinger.probe("no-such-host.invalid", settings).await;
    assert!(
        reason(&o).starts_with("unknown: cannot resolve no-such-host.invalid"),
        "{}",
        reason(&o)
    );
    // ICMPv6 through the IPv6 socket.
    let v6 = pinger.probe("::1", settings).await;
    assert_eq!(v6.status, ProbeStatus::Up, "ICMPv6 to ::1: {}", reason(&v6));
    let rtt = v6
        .metrics
        .iter()
        .find(|m| m.name == "network.icmp.rtt")
        .map(|m| m.value);
    assert!(rtt.is_some_and(|r| r > 0.0), "{rtt:?}");
}

#[actix_rt::test]
async fn r7_recording_stopped_is_raised_from_a_real_agent_through_the_daemon() {
    let textfiles = tempfile::tempdir().expect("tmp");
    service_state(textfiles.path(), false);
    let exporter = NodeExporter::start(textfiles.path(), free_port().await);
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let main = main_file(
        "[daemon]\ncollection_interval = \"1s\"\n[thresholds]\nrecording = { after = \"0s\" }\n",
    );
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0")
        + &format!(
            "\n[[equipment]]\nid = \"vms\"\nkind = \"vms-server\"\naddress = \"127.0.0.1\"\nprobes = [\"agent\"]\nagent_url = \"{}\"\nrecording_service = \"nx-mediaserver\"\n",
            exporter.url
        );
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let d = start_with_network_collectors(cfg.path(), data.path()).await;
    let client = d.client();
    let alert = tokio::task::spawn_blocking(move || {
        let list = alerts_until(&client, "the recording alert", |l| {
            l.alerts
                .iter()
                .any(|a| a.rule.rule == RuleId::RecordingStopped)
        });
        list.alerts
            .into_iter()
            .find(|a| a.rule.rule == RuleId::RecordingStopped)
            .expect("alert")
    })
    .await
    .expect("client");
    assert_eq!(alert.severity, vigie::alert::Severity::Critical);
    assert_eq!(alert.owner.to_string(), "equipment vms");
    d.stop().await;
}
