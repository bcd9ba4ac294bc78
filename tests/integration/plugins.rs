//! The plugin host with real plugins built for wasm32-wasip2: loading and version checks,
//! hostile plugins, host capabilities, the watched plugins directory, recorder channels and
//! vendor plugins through the real daemon.

use crate::support::{main_file, plugin_wasm, reason, single_equipment, site_head};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use vigie::clock::Clock;
use vigie::config::EquipmentConfig;
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
    // A deadline (the equipment's budget) long enough for the well-behaved and the
    // over-producing calls to finish on a busy machine while the looping one holds a worker of
    // the plugin runtime until it.
    let h = loaded(&host(Duration::from_secs(5)), &plugin_wasm("testbed"));
    let t = Duration::from_secs(5);
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
        &["unknown: plugin `testbed` ran past its deadline of 5s"],
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
        r.contains("plugin `testbed` does not take parameter `colour` (it takes: mode, path, url, port, tcp_port, created_ms, channels, temperature)"),
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

/// A device's web server for the tests: serves fixture bodies by method and path, behind
/// HTTP Digest authentication (RFC 7616, MD5, qop=auth) like cameras and recorders.
struct FixtureServer {
    port: u16,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
    connections: Arc<std::sync::atomic::AtomicU32>,
    /// SHA-256 of its certificate, when it speaks HTTPS.
    fingerprint: Option<String>,
}

const REALM: &str = "IP Camera(D1234)";
const NONCE: &str = "4e6f6e63652d766967696521";

/// Whether an `Authorization: Digest ...` header proves `user`/`password` for the request.
fn digest_ok(header: &str, method: &str, user: &str, password: &str) -> bool {
    vigie::demo::sim::digest_valid(header, method, (user, password), (REALM, NONCE))
}

type Routes = Arc<Vec<(String, String, u16, Vec<u8>)>>;

/// Serves the requests of one connection while the client keeps it open.
async fn serve_connection<S>(
    mut s: S,
    routes: Routes,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
    user: String,
    password: String,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.lines();
        let first: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
        let (method, path) = (first[0].to_string(), first[1].to_string());
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                })
                .map(|(_, v)| v.trim().to_string())
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let authorized =
            header("authorization").is_some_and(|a| digest_ok(&a, &method, &user, &password));
        seen.lock().expect("log").push(format!(
            "{method} {path}{}",
            if authorized { " (authorized)" } else { "" }
        ));
        let (status, extra, body) = if !authorized {
            (
                401,
                format!(
                    "WWW-Authenticate: Digest realm=\"{REALM}\", qop=\"auth\", nonce=\"{NONCE}\", opaque=\"vigie\"\r\n"
                ),
                b"Unauthorized".to_vec(),
            )
        } else {
            match routes
                .iter()
                .find(|(m, p, _, _)| *m == method && *p == path)
            {
                Some((_, _, st, b)) => (*st, String::new(), b.clone()),
                None => (404, String::new(), b"Not Found".to_vec()),
            }
        };
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{extra}\r\n",
            body.len()
        );
        if s.write_all(reply.as_bytes()).await.is_err() || s.write_all(&body).await.is_err() {
            return;
        }
        let _ = s.flush().await;
    }
}

impl FixtureServer {
    /// Serves `routes` (method, path with query, status, body) to clients that know
    /// `user`/`password`, keeping connections open between requests.
    async fn start(routes: Vec<(&str, String, u16, Vec<u8>)>, user: &str, password: &str) -> Self {
        Self::start_with(routes, user, password, false).await
    }

    /// The same, over HTTPS with a fresh self-signed certificate for 127.0.0.1 when `tls`.
    async fn start_with(
        routes: Vec<(&str, String, u16, Vec<u8>)>,
        user: &str,
        password: &str,
        tls: bool,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let routes: Routes = Arc::new(
            routes
                .into_iter()
                .map(|(m, p, s, b)| (m.to_string(), p, s, b))
                .collect(),
        );
        let (acceptor, fingerprint) = if tls {
            let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
                .expect("certificate");
            let der = cert.cert.der().clone();
            use sha2::Digest as _;
            let fingerprint = sha2::Sha256::digest(der.as_ref())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>();
            let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
                rustls::pki_types::PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()),
            );
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .expect("server config");
            (
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
                Some(fingerprint),
            )
        } else {
            (None, None)
        };
        let (seen, counted, user, password) = (
            Arc::clone(&requests),
            Arc::clone(&connections),
            user.to_string(),
            password.to_string(),
        );
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (routes, seen, user, password) = (
                    Arc::clone(&routes),
                    Arc::clone(&seen),
                    user.clone(),
                    password.clone(),
                );
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        None => serve_connection(s, routes, seen, user, password).await,
                        Some(a) => {
                            if let Ok(tls) = a.accept(s).await {
                                serve_connection(tls, routes, seen, user, password).await;
                            }
                        }
                    }
                });
            }
        });
        FixtureServer {
            port,
            requests,
            connections,
            fingerprint,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("log").clone()
    }

    fn connections(&self) -> u32 {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A Hikvision NVR's web server serving the plugin's fixtures of `case` (`nvr-healthy`,
/// `nvr-degraded`) behind Digest authentication as `admin`/`password`.
async fn hikvision_nvr(case: &str, password: &str) -> FixtureServer {
    hikvision_nvr_over(case, password, false).await
}

/// The same NVR, over HTTPS with a self-signed certificate when `tls`.
async fn hikvision_nvr_over(case: &str, password: &str, tls: bool) -> FixtureServer {
    let fixtures = crate::support::manifest_dir()
        .join("../plugins/hikvision/fixtures")
        .join(case);
    let routes = [
        ("/ISAPI/System/deviceInfo", "deviceInfo.xml"),
        ("/ISAPI/System/status", "status.xml"),
        ("/ISAPI/ContentMgmt/Storage", "storage.xml"),
        (
            "/ISAPI/ContentMgmt/InputProxy/channels/status",
            "channels-status.xml",
        ),
        ("/ISAPI/ContentMgmt/InputProxy/channels", "channels.xml"),
    ]
    .into_iter()
    .map(|(path, file)| {
        let body = std::fs::read(fixtures.join(file)).expect("fixture");
        ("GET", path.to_string(), 200, body)
    })
    .collect();
    FixtureServer::start_with(routes, "admin", password, tls).await
}

/// A credentials file for the tests, with the `[credentials.dev]` entry using it.
fn credentials(dir: &Path, user: &str, password: &str) -> String {
    let file = dir.join("device-password");
    std::fs::write(&file, password).expect("write");
    format!(
        "[credentials.dev]\nusername = \"{user}\"\npassword_file = \"{}\"\n",
        file.display()
    )
}

fn plugin_equipment_with_credentials(
    dir: &Path,
    password: &str,
    params: &str,
) -> Arc<EquipmentConfig> {
    let site = site_head("UTC", "0")
        + &format!(
            "\n[[equipment]]\nid = \"e\"\nkind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"plugin:testbed\"]\ncredentials = \"dev\"\nplugin_params = {{ {params} }}\n"
        );
    single_equipment(&main_file(&credentials(dir, "admin", password)), &site)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_answers_digest_challenges_and_reaches_only_the_equipment() {
    let h = loaded(&host(Duration::from_secs(3)), &plugin_wasm("testbed"));
    let server = FixtureServer::start(
        vec![("GET", "/secret?x=1".into(), 200, b"it works".to_vec())],
        "admin",
        "s3cret",
    )
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let t = Duration::from_secs(2);
    let url = |path: &str| {
        format!(
            "mode = \"http\", port = \"{0}\", path = \"http://127.0.0.1:{0}{path}\"",
            server.port
        )
    };
    // Right password: the plugin sees the page; the host answered the challenge.
    let eq = plugin_equipment_with_credentials(dir.path(), "s3cret", &url("/secret?x=1"));
    let o = h.collect("testbed", &eq, t).await.observation;
    assert_eq!(reason(&o), "up");
    assert!(
        o.facts.contains(&("body".into(), "it works".into())),
        "{:?}",
        o.facts
    );
    assert_eq!(
        server.requests(),
        ["GET /secret?x=1", "GET /secret?x=1 (authorized)"]
    );
    // Wrong password: the plugin gets the 401 and the password never shows.
    let eq = plugin_equipment_with_credentials(dir.path(), "wrong", &url("/secret?x=1"));
    let o = h.collect("testbed", &eq, t).await.observation;
    let status = o
        .metrics
        .iter()
        .find(|m| m.name == "http.status")
        .expect("status");
    assert_eq!(status.value, 401.0);
    assert!(!format!("{o:?}").contains("wrong"), "{o:?}");

    // Another host is refused before any connection.
    let eq = plugin_equipment_with_credentials(
        dir.path(),
        "s3cret",
        &format!(
            "mode = \"other-host\", port = \"{0}\", url = \"http://127.0.0.2:{0}/secret?x=1\"",
            server.port
        ),
    );
    let r = reason(&h.collect("testbed", &eq, t).await.observation);
    assert!(
        r.contains("refused by the host") || r.contains("is not the address"),
        "{r}"
    );
    assert_eq!(
        server.requests().len(),
        4,
        "the refused request reached the server"
    );

    // WS-UsernameToken: SHA-1(nonce + created + password), computed by the host.
    let eq = plugin_equipment_with_credentials(dir.path(), "s3cret", "mode = \"token\"");
    let o = h.collect("testbed", &eq, t).await.observation;
    let fact = |k: &str| {
        o.facts
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .expect(k)
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let nonce = b64.decode(fact("nonce")).expect("base64 nonce");
    use sha1::Digest as _;
    let mut sha = sha1::Sha1::new();
    sha.update(&nonce);
    sha.update(fact("created").as_bytes());
    sha.update(b"s3cret");
    assert_eq!(fact("digest"), b64.encode(sha.finalize()));
    assert_eq!(fact("username"), "admin");

    // A token created at the device's clock (ten minutes behind), for devices whose clock is
    // off: `created` is that time, and the digest covers it.
    let device_ms = chrono::Utc::now().timestamp_millis() - 600_000;
    let eq = plugin_equipment_with_credentials(
        dir.path(),
        "s3cret",
        &format!("mode = \"token-at\", created_ms = \"{device_ms}\""),
    );
    let o = h.collect("testbed", &eq, t).await.observation;
    let fact = |k: &str| {
        o.facts
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .expect(k)
    };
    let created = chrono::DateTime::parse_from_rfc3339(&fact("created")).expect("RFC 3339");
    assert_eq!(created.timestamp(), device_ms / 1000);
    let mut sha = sha1::Sha1::new();
    sha.update(b64.decode(fact("nonce")).expect("base64 nonce"));
    sha.update(fact("created").as_bytes());
    sha.update(b"s3cret");
    assert_eq!(fact("digest"), b64.encode(sha.finalize()));

    // A port the plugin does not declare is refused before any connection, and so is the
    // daemon's own API even on a declared port of the equipment's address.
    let before = server.requests().len();
    let eq = plugin_equipment_with_credentials(
        dir.path(),
        "s3cret",
        &format!(
            "mode = \"http\", path = \"http://127.0.0.1:{}/secret?x=1\"",
            server.port
        ),
    );
    let r = reason(&h.collect("testbed", &eq, t).await.observation);
    assert!(
        r.contains(&format!(
            "port {} of equipment `e` is not one the plugin declares (allowed: 80, 443, 554)",
            server.port
        )),
        "{r}"
    );
    h.set_own_sockets(vec![std::net::SocketAddr::from((
        [127, 0, 0, 1],
        server.port,
    ))]);
    let eq = plugin_equipment_with_credentials(dir.path(), "s3cret", &url("/secret?x=1"));
    let r = reason(&h.collect("testbed", &eq, t).await.observation);
    assert!(r.contains("is the daemon's own API"), "{r}");
    h.set_own_sockets(Vec::new());
    assert_eq!(
        server.requests().len(),
        before,
        "a refused request reached the server"
    );

    // TCP probe on the equipment's port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n").await;
        }
    });
    let eq = plugin_equipment(
        "testbed",
        "127.0.0.1",
        &format!("mode = \"tcp\", tcp_port = \"{port}\""),
        "",
    );
    let o = h.collect("testbed", &eq, t).await.observation;
    assert!(
        o.facts
            .contains(&("answer".into(), "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n".into())),
        "{:?}",
        o.facts
    );
}

/// Checks `f` now and again after each change `changes` announces, until it gives a value
/// (at most 30 s of real time: plugins run on real sockets and a real runtime).
async fn wait_until<T, F, Fut>(mut changes: watch::Receiver<u64>, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        changes.borrow_and_update();
        if let Some(v) = f().await {
            return v;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let changed = tokio::time::timeout(left, changes.changed()).await;
        assert!(
            changed.is_ok_and(|c| c.is_ok()),
            "timed out waiting for: {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugins_directory_is_watched_and_a_broken_file_keeps_the_previous_version() {
    let h = host(Duration::from_secs(2));
    let dir = tempfile::tempdir().expect("tmp");
    let _watch = vigie::plugin_dir::PluginWatcher::start(dir.path().to_path_buf(), h.clone())
        .expect("watch");
    assert!(h.loaded().is_empty());
    let file = dir.path().join("testbed.wasm");
    std::fs::copy(plugin_wasm("testbed"), &file).expect("copy");
    wait_until(h.changes(), "testbed loaded", || async {
        h.loaded().iter().any(|p| p.name == "testbed").then_some(())
    })
    .await;

    // A broken copy is refused; the version loaded before keeps collecting.
    std::fs::write(&file, b"\0asm\x0d\0\x01\0garbage").expect("write");
    let err = wait_until(h.changes(), "broken file refused", || async {
        h.refused().first().cloned()
    })
    .await;
    assert!(matches!(err, PluginError::Invalid(..)), "{err}");
    let eq = plugin_equipment("testbed", "127.0.0.1", "", "");
    let o = h.collect("testbed", &eq, Duration::from_secs(1)).await;
    assert_eq!(reason(&o.observation), "up");

    // A plugin built for another API version is refused, naming both versions.
    std::fs::copy(plugin_wasm("future-api"), dir.path().join("future.wasm")).expect("copy");
    let err = wait_until(h.changes(), "future refused", || async {
        h.refused()
            .into_iter()
            .find(|e| matches!(e, PluginError::Version(..)))
    })
    .await;
    assert!(err.to_string().contains("vigie:probe@0.2.0"), "{err}");

    // A good file again replaces the refused one; removing it unloads the plugin.
    std::fs::copy(plugin_wasm("testbed"), &file).expect("copy");
    wait_until(h.changes(), "testbed reloaded", || async {
        (!h.refused()
            .iter()
            .any(|e| matches!(e, PluginError::Invalid(..))))
        .then_some(())
    })
    .await;
    std::fs::remove_file(&file).expect("rm");
    wait_until(h.changes(), "testbed unloaded", || async {
        h.loaded().is_empty().then_some(())
    })
    .await;
    let o = h.collect("testbed", &eq, Duration::from_secs(1)).await;
    assert!(reason(&o.observation).contains("plugin `testbed` is not loaded"));
}

/// Starts the real daemon with network collectors and a plugin host on `plugins`.
async fn start_daemon(cfg: &Path, data: &Path, plugins: &Path) -> vigie::server::Daemon {
    let clock = Clock::System;
    let heartbeats = vigie::collectors::heartbeat::HeartbeatBook::new(clock.now());
    let host = host(Duration::from_secs(2));
    let mut opts =
        crate::reload::options(cfg, data, &vigie::collector::ScriptedCollector::default());
    opts.collector = Arc::new(
        vigie::collectors::NetCollector::new(clock, heartbeats.clone())
            .with_budget_cap(Duration::from_secs(2))
            .with_plugins(std::sync::Arc::new(host.clone())),
    );
    opts.heartbeats = heartbeats;
    opts.plugins = Some((host, plugins.to_path_buf()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    vigie::server::start(opts, listener).await.expect("start")
}

async fn detail(d: &vigie::server::Daemon, id: &str) -> vigie::status::EquipmentDetail {
    let query = vigie::actors::EquipmentLookup(vigie::config::EquipmentId::new(id));
    d.fleet
        .send(query)
        .await
        .expect("fleet")
        .expect("equipment exists")
}

fn status_text(d: &vigie::status::EquipmentDetail) -> String {
    format!(
        "{:?} {}",
        d.summary.status,
        d.summary.reason.clone().unwrap_or_default()
    )
}

#[actix_rt::test]
async fn the_daemon_runs_vendor_plugins_maps_recorder_channels_and_isolates_hostile_plugins() {
    let server = hikvision_nvr("nvr-degraded", "hik-pass").await;
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let plugins = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        plugin_wasm("hikvision"),
        plugins.path().join("hikvision.wasm"),
    )
    .expect("copy");
    std::fs::copy(plugin_wasm("testbed"), plugins.path().join("testbed.wasm")).expect("copy");
    let main = main_file(&format!(
        "[daemon]\ncollection_interval = \"1s\"\nprobe_timeout = \"3s\"\n[thresholds]\ndisk = {{ for = \"0s\" }}\ntemperature = {{ for = \"0s\" }}\n{}",
        credentials(cfg.path(), "admin", "hik-pass")
    ));
    std::fs::write(cfg.path().join("vigie.toml"), main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let mut site = site_head("UTC", "0");
    site += &format!(
        "\n[[equipment]]\nid = \"nvr\"\nkind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"plugin:hikvision\"]\ncredentials = \"dev\"\nplugin_params = {{ port = {} }}\n",
        server.port
    );
    for (id, channel) in [("cam1", 1), ("cam5", 5), ("cam99", 99)] {
        site += &format!(
            "\n[[equipment]]\nid = \"{id}\"\nkind = \"camera\"\nprobes = [\"recorder\"]\nrecorder = {{ equipment = \"nvr\", channel = {channel} }}\n"
        );
    }
    for (id, params) in [
        ("good", "temperature = 90"),
        ("looper", "mode = \"loop\""),
        ("crash", "mode = \"panic\""),
        ("hog", "mode = \"alloc\""),
    ] {
        site += &format!(
            "\n[[equipment]]\nid = \"{id}\"\nkind = \"other\"\naddress = \"127.0.0.1\"\nprobes = [\"plugin:testbed\"]\nplugin_params = {{ {params} }}\n"
        );
    }
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let d = start_daemon(cfg.path(), data.path(), plugins.path()).await;

    wait_until(d.observations(), "the recorder up", || async {
        let e = detail(&d, "nvr").await;
        (e.summary.status == vigie::rules::Status::Up).then_some(())
    })
    .await;

    // R4 and R5 alerts from plugin metrics: hdd3 is 96 % full, the good testbed reports 90 °C.
    let client = d.client();
    let alerts = tokio::task::spawn_blocking(move || {
        let mut list = client.alerts().expect("alerts");
        loop {
            let has = |rule: &str, owner: &str| {
                list.alerts
                    .iter()
                    .any(|a| a.rule.to_string().starts_with(rule) && a.owner.to_string() == owner)
            };
            let failed_hdd2 = list.alerts.iter().any(|a| {
                a.rule.to_string().starts_with("hardware.failed")
                    && a.rule.to_string().contains("hdd2")
            });
            if has("disk.usage{mountpoint=hdd1}", "equipment nvr")
                && has("disk.usage{mountpoint=hdd3}", "equipment nvr")
                && has("temperature", "equipment good")
                && failed_hdd2
            {
                return list.alerts;
            }
            let before = list.version;
            list = client
                .alerts_after(list.version, Duration::from_secs(20))
                .expect("alerts");
            assert!(
                list.version > before,
                "no new alert in 20 s: {:?}",
                list.alerts
            );
        }
    })
    .await
    .expect("client");
    let severity = |rule: &str| {
        alerts
            .iter()
            .find(|a| a.rule == rule)
            .map(|a| a.severity)
            .expect(rule)
    };
    use vigie::alert::Severity::{Critical, Warning};
    assert_eq!(
        severity("disk.usage{mountpoint=hdd1}"),
        Warning,
        "90 % full"
    );
    assert_eq!(
        severity("disk.usage{mountpoint=hdd3}"),
        Critical,
        "96 % full"
    );
    assert!(
        !alerts
            .iter()
            .any(|a| a.rule.to_string().starts_with("disk.usage")
                && a.rule.to_string().contains("hdd2")),
        "the failed disk reports no fill level"
    );
    // The failed disk of a recorder is a critical hardware alert: recording is at risk.
    let hdd2 = alerts
        .iter()
        .find(|a| a.rule.to_string().starts_with("hardware.failed"))
        .expect("hardware alert");
    assert_eq!(hdd2.severity, Critical);
    assert!(hdd2.summary.contains("disk in error"), "{}", hdd2.summary);

    let nvr = detail(&d, "nvr").await;
    // Every metric of the plugin's report shows, watched by a rule or not.
    let shown = |name: &str, disk: &str| {
        nvr.metrics
            .iter()
            .find(|m| m.name == name && m.attributes.iter().any(|(_, v)| v == disk))
            .map(|m| m.value)
    };
    assert_eq!(shown("hw.status", "hdd2"), Some(0.0), "{:?}", nvr.metrics);
    assert_eq!(shown("hw.status", "hdd1"), Some(1.0), "{:?}", nvr.metrics);
    assert!(
        vigie::views::View::text(&nvr)
            .contains("hw.status{hw.type=physical_disk,disk=hdd2,state=error} = 0"),
        "{}",
        vigie::views::View::text(&nvr)
    );
    assert!(
        nvr.facts
            .contains(&("model".to_string(), "DS-7716NI-Q4/16P".to_string())),
        "{:?}",
        nvr.facts
    );
    assert!(
        server
            .requests()
            .contains(&"GET /ISAPI/System/deviceInfo (authorized)".to_string())
    );

    // Cameras take their state from the recorder's channels.
    let cam = |id: &'static str, needle: &'static str| {
        let d = &d;
        async move {
            wait_until(d.observations(), &format!("{id} {needle}"), || async {
                let e = detail(d, id).await;
                status_text(&e).contains(needle).then_some(e)
            })
            .await
        }
    };
    cam("cam1", "Up").await;
    let c5 = cam("cam5", "channel 5 offline").await;
    assert!(status_text(&c5).contains("Down"), "{}", status_text(&c5));
    cam("cam99", "does not report a channel 99").await;

    // Hostile plugins fail on their own equipment; the good one keeps its schedule.
    cam("crash", "the testbed panics on purpose").await;
    cam("hog", "exceeded its memory limit").await;
    cam("looper", "ran past its deadline").await;
    // Each of the looper's collections lasts its 3 s deadline; the good one's, every second,
    // are not held behind them: after three of the looper's, it has done twice as many.
    let looper = wait_until(
        d.observations(),
        "three collections of the looper",
        || async {
            let e = detail(&d, "looper").await;
            (e.collections >= 3).then_some(e)
        },
    )
    .await;
    let good = detail(&d, "good").await;
    assert!(
        good.collections >= 2 * looper.collections,
        "good {} vs looper {}",
        good.collections,
        looper.collections
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrators_inspect_and_try_a_plugin_from_the_command_line() {
    let bin = crate::support::vigie_bin();
    let inspect = std::process::Command::new(&bin)
        .args(["plugin", "inspect"])
        .arg(plugin_wasm("hikvision"))
        .output()
        .expect("vigie");
    let out = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.status.success(), "{out}");
    for needle in [
        "plugin     hikvision 0.1.0",
        "api        vigie:probe@0.1.0",
        "vendors    Hikvision",
        "port",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let refused = std::process::Command::new(&bin)
        .args(["plugin", "inspect"])
        .arg(plugin_wasm("future-api"))
        .output()
        .expect("vigie");
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("vigie:probe@0.2.0") && err.contains("vigie:probe@0.1.0"),
        "{err}"
    );

    // One collection against a device: the NVR fixtures behind Digest authentication.
    let server = hikvision_nvr("nvr-healthy", "n1ce-pass").await;
    let wasm = plugin_wasm("hikvision");
    let port = server.port.to_string();
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(["plugin", "run"])
            .arg(wasm)
            .args([
                "--address",
                "127.0.0.1",
                "--kind",
                "nvr",
                "--username",
                "admin",
            ])
            .args(["--password-env", "TEST_NVR_PASSWORD", "--param"])
            .arg(format!("port={port}"))
            .env("TEST_NVR_PASSWORD", "n1ce-pass")
            .output()
            .expect("vigie")
    })
    .await
    .expect("join");
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for needle in [
        "status     up",
        "fact       model = DS-7608NXI-K2",
        "channel    1",
        "online",
        "metric     system.filesystem.utilization{mountpoint=hdd1} = 0.7",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    assert!(!out.contains("n1ce-pass"));

    // The plugin's own log lines show, even at debug, without the engine's compiler output.
    let wasm = plugin_wasm("testbed");
    let logged = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::support::vigie_bin())
            .args(["plugin", "run"])
            .arg(wasm)
            .args(["--address", "127.0.0.1", "--param", "mode=log"])
            .env("VIGIE_LOG", "debug")
            .output()
            .expect("vigie")
    })
    .await
    .expect("join");
    let err = String::from_utf8_lossy(&logged.stderr);
    assert!(logged.status.success(), "{err}");
    assert!(err.contains("hello from 127.0.0.1"), "{err}");
    assert!(
        err.lines().count() < 50,
        "{} lines of logs:\n{}",
        err.lines().count(),
        err.lines().take(20).collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_read_snmp_through_the_daemons_client_with_the_equipments_settings() {
    let agent = crate::snmp::Snmpd::start();
    let dir = tempfile::tempdir().expect("tmp");
    let community = crate::snmp::secret(dir.path(), "community", "vigie-test\n");
    let h = loaded(&host(Duration::from_secs(5)), &plugin_wasm("testbed"));
    let site = site_head("UTC", "0")
        + &format!(
            "\n[[equipment]]\nid = \"e\"\nkind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"plugin:testbed\"]\ncredentials = \"ro\"\nsnmp = {{ port = {} }}\nplugin_params = {{ mode = \"snmp\" }}\n",
            agent.port
        );
    let main = main_file(&format!(
        "[credentials.ro]\npassword_file = \"{community}\"\n"
    ));
    let eq = single_equipment(&main, &site);
    let o = h
        .collect("testbed", &eq, Duration::from_secs(4))
        .await
        .observation;
    assert_eq!(reason(&o), "up");
    let uptime = o
        .metrics
        .iter()
        .find(|m| m.name == "device.uptime")
        .expect("uptime");
    assert!(uptime.value > 0.0, "{uptime:?}");
    let fact = |k: &str| o.facts.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert!(
        fact("sysName").is_some_and(|n| !n.is_empty()),
        "{:?}",
        o.facts
    );
    let walked: usize = fact("walked").expect("walked").parse().expect("count");
    assert!(
        walked >= 5,
        "the system group has at least sysDescr..sysLocation: {walked}"
    );

    // The wrong community is silence, reported as the plugin's error with the host's reason.
    let wrong = crate::snmp::secret(dir.path(), "wrong", "nope\n");
    let main = main_file(&format!("[credentials.ro]\npassword_file = \"{wrong}\"\n"));
    let eq = single_equipment(&main, &site);
    let o = h
        .collect("testbed", &eq, Duration::from_secs(4))
        .await
        .observation;
    let r = reason(&o);
    assert!(
        r.starts_with("down:") && r.contains("no SNMP answer"),
        "{r}"
    );
}

/// A Hikvision NVR equipment on 127.0.0.1 with the `dev` credentials, its plugin params and
/// its `tls_trust` line (empty for the default).
fn hikvision_equipment(
    dir: &Path,
    password: &str,
    params: &str,
    trust: &str,
) -> Arc<EquipmentConfig> {
    let site = site_head("UTC", "0")
        + &format!(
            "\n[[equipment]]\nid = \"nvr\"\nkind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"plugin:hikvision\"]\ncredentials = \"dev\"\nplugin_params = {{ {params} }}\n{trust}\n"
        );
    single_equipment(&main_file(&credentials(dir, "admin", password)), &site)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_follows_the_equipments_trust_and_one_collection_keeps_its_connection_and_challenge()
{
    let h = loaded(&host(Duration::from_secs(5)), &plugin_wasm("hikvision"));
    let dir = tempfile::tempdir().expect("tmp");
    let t = Duration::from_secs(4);

    // In clear: the first request pays the Digest challenge, the others of the collection
    // answer it at once, all on one connection.
    let clear = hikvision_nvr("nvr-healthy", "hik-pass").await;
    let eq = hikvision_equipment(
        dir.path(),
        "hik-pass",
        &format!("port = {}", clear.port),
        "",
    );
    let o = h.collect("hikvision", &eq, t).await.observation;
    assert_eq!(reason(&o), "up");
    let requests = clear.requests();
    let unauthorized: Vec<&String> = requests
        .iter()
        .filter(|r| !r.ends_with("(authorized)"))
        .collect();
    assert_eq!(unauthorized.len(), 1, "{requests:?}");
    assert!(requests.len() >= 5, "{requests:?}");
    assert_eq!(clear.connections(), 1, "{requests:?}");

    // Over HTTPS with a self-signed certificate.
    let tls = hikvision_nvr_over("nvr-healthy", "hik-pass", true).await;
    let fingerprint = tls.fingerprint.clone().expect("fingerprint");
    let params = format!("port = {}, scheme = \"https\"", tls.port);
    // The system roots do not know it: refused, with what to do.
    let eq = hikvision_equipment(dir.path(), "hik-pass", &params, "");
    let r = reason(&h.collect("hikvision", &eq, t).await.observation);
    assert!(r.contains("not trusted by the system roots"), "{r}");
    assert!(r.contains("tls_trust = \"sha256:"), "{r}");
    // Another certificate pinned: refused, naming both fingerprints.
    let wrong = format!("tls_trust = \"sha256:{}\"", "ab".repeat(32));
    let eq = hikvision_equipment(dir.path(), "hik-pass", &params, &wrong);
    let r = reason(&h.collect("hikvision", &eq, t).await.observation);
    assert!(
        r.contains(&format!("fingerprint is sha256:{fingerprint}")),
        "{r}"
    );
    assert!(
        tls.requests().is_empty(),
        "nothing is sent to an untrusted peer"
    );
    // Its own certificate pinned (colons as openssl prints them are fine): collected.
    let colons: Vec<String> = fingerprint
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect();
    let pinned = format!("tls_trust = \"sha256:{}\"", colons.join(":"));
    let eq = hikvision_equipment(dir.path(), "hik-pass", &params, &pinned);
    let o = h.collect("hikvision", &eq, t).await.observation;
    assert_eq!(reason(&o), "up");
    assert!(
        o.facts
            .contains(&("model".to_string(), "DS-7608NXI-K2".to_string())),
        "{:?}",
        o.facts
    );
    assert_eq!(tls.connections(), 3, "one per collection");
    // `any` collects too.
    let eq = hikvision_equipment(dir.path(), "hik-pass", &params, "tls_trust = \"any\"");
    assert_eq!(
        reason(&h.collect("hikvision", &eq, t).await.observation),
        "up"
    );

    // A refused password says for which user; no credentials says so.
    let eq = hikvision_equipment(dir.path(), "wrong", &format!("port = {}", clear.port), "");
    let r = reason(&h.collect("hikvision", &eq, t).await.observation);
    assert!(r.contains("refused the credentials of user `admin`"), "{r}");
    let site = site_head("UTC", "0")
        + &format!(
            "\n[[equipment]]\nid = \"nvr\"\nkind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"plugin:hikvision\"]\nplugin_params = {{ port = {} }}\n",
            clear.port
        );
    let eq = single_equipment(&main_file(""), &site);
    let r = reason(&h.collect("hikvision", &eq, t).await.observation);
    assert!(
        r.contains("no credentials are configured for this equipment"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_plugin_holds_only_its_own_slots_and_the_other_vendors_keep_their_schedule() {
    // A pool of 4 instances, at most 2 per plugin.
    let limits = Limits {
        deadline: Duration::from_secs(3),
        concurrency: 4,
        per_plugin: 2,
        ..Limits::default()
    };
    let h = PluginHost::new(Clock::System, limits, None).expect("plugin host");
    let h = loaded(&h, &plugin_wasm("testbed"));
    let h = loaded(&h, &plugin_wasm("hikvision"));
    let nvr = hikvision_nvr("nvr-healthy", "hik-pass").await;
    let dir = tempfile::tempdir().expect("tmp");

    // Eight looping calls of one plugin, each until its deadline.
    let finished_loops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let loops: Vec<_> = (0..8)
        .map(|_| {
            let eq = plugin_equipment("testbed", "127.0.0.1", "mode = \"loop\"", "");
            let run = h.collect("testbed", &eq, Duration::from_secs(1));
            let done = Arc::clone(&finished_loops);
            tokio::spawn(async move {
                let o = run.await;
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                o
            })
        })
        .collect();
    // Another vendor's collection started after them is not queued behind them.
    let eq = hikvision_equipment(dir.path(), "hik-pass", &format!("port = {}", nvr.port), "");
    let o = h.collect("hikvision", &eq, Duration::from_secs(3)).await;
    assert_eq!(reason(&o.observation), "up");
    assert_eq!(
        finished_loops.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the NVR waited for the looping plugin"
    );
    for l in loops {
        let o = l.await.expect("loop task");
        assert!(
            reason(&o.observation).contains("ran past its deadline"),
            "{}",
            reason(&o.observation)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_plugins_are_built_in_and_a_directory_plugin_of_the_same_name_overrides_one() {
    let h = host(Duration::from_secs(5));
    vigie::plugin_dir::register_builtins(&h);
    let dir = tempfile::tempdir().expect("tmp");
    // No plugins directory at all: the built-in Hikvision plugin reads the NVR.
    let nvr = hikvision_nvr("nvr-healthy", "hik-pass").await;
    let eq = hikvision_equipment(dir.path(), "hik-pass", &format!("port = {}", nvr.port), "");
    let o = h.collect("hikvision", &eq, Duration::from_secs(4)).await;
    assert_eq!(reason(&o.observation), "up");
    let origins = |h: &PluginHost| -> Vec<(String, vigie::plugins::Origin)> {
        h.loaded().into_iter().map(|p| (p.name, p.origin)).collect()
    };
    use vigie::plugins::Origin::{BuiltIn, Directory};
    assert_eq!(
        origins(&h),
        [
            ("axis".to_string(), BuiltIn),
            ("dahua".to_string(), BuiltIn),
            ("hikvision".to_string(), BuiltIn),
            ("onvif".to_string(), BuiltIn)
        ]
    );
    // A file of the same name in the plugins directory takes over while it is there.
    let plugins = tempfile::tempdir().expect("tmp");
    let file = plugins.path().join("hikvision-local.wasm");
    std::fs::copy(plugin_wasm("hikvision"), &file).expect("copy");
    vigie::plugin_dir::scan(plugins.path(), &h);
    assert!(origins(&h).contains(&("hikvision".to_string(), Directory)));
    assert_eq!(h.overridden(), ["hikvision"]);
    let o = h.collect("hikvision", &eq, Duration::from_secs(4)).await;
    assert_eq!(reason(&o.observation), "up");
    std::fs::remove_file(&file).expect("rm");
    vigie::plugin_dir::scan(plugins.path(), &h);
    assert!(origins(&h).contains(&("hikvision".to_string(), BuiltIn)));
    assert!(h.overridden().is_empty());
}

#[test]
fn plugin_list_says_where_each_plugin_comes_from_and_fails_on_a_refused_file() {
    let data = tempfile::tempdir().expect("tmp");
    let plugins = data.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("mkdir");
    let list = |extra: &[&str]| {
        std::process::Command::new(crate::support::vigie_bin())
            .args(["plugin", "list", "--data"])
            .arg(data.path())
            .args(extra)
            .output()
            .expect("vigie")
    };
    let out = list(&[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["axis", "dahua", "hikvision", "onvif"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)
                && l.contains("vigie:probe@")
                && l.ends_with("built-in")),
            "{name}: {text}"
        );
    }
    std::fs::copy(plugin_wasm("onvif"), plugins.join("onvif.wasm")).expect("copy");
    std::fs::write(plugins.join("broken.wasm"), b"not webassembly").expect("write");
    let out = list(&["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a refused file fails the listing"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let onvif = v["plugins"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "onvif"))
        .expect("onvif");
    assert_eq!(onvif["origin"], "directory");
    assert_eq!(v["overridden_built_ins"], serde_json::json!(["onvif"]));
    assert!(
        v["refused"][0]
            .as_str()
            .is_some_and(|r| r.contains("broken.wasm")),
        "{v}"
    );
}
