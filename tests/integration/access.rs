//! Accounts and access on the real daemon: tokens, roles, a client's account that sees its
//! own sites only (404 for the rest), password logins with session cookies, CSRF and origin
//! checks, rate-limited logins, host names, accounts removed or changed by a live reload, and
//! the command line's `passwd`, `token` and token sources.

use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use vigie::client::{ApiClient, ClientError};

const WORLD: &str = r#"
[default]
status = "up"

[equipment.nvr-c]
status = "up"
metrics = [{ name = "system.filesystem.utilization", attributes = [["mountpoint", "/hdd"]], value = 0.97 }]

[equipment.nvr-d]
status = "up"
metrics = [{ name = "system.filesystem.utilization", attributes = [["mountpoint", "/hdd"]], value = 0.97 }]
"#;

/// `vigie passwd` with the password on standard input: its hash.
fn passwd(password: &str) -> String {
    let mut child = Command::new(vigie_bin())
        .arg("passwd")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigie passwd");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        format!("{password}\n").as_bytes(),
    )
    .expect("write");
    let out = child.wait_with_output().expect("passwd");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// The main file: clients `c` and `d` with dashboards, and the accounts given.
fn main_text(accounts: &str) -> String {
    format!(
        "[daemon]\ncollection_interval = \"1s\"\nserver_names = [\"vigie.example.net\"]\n\
         [thresholds]\ndisk = {{ for = \"0s\" }}\n\
         [clients.c]\nname = \"C\"\ncontract = {{ dashboard = true }}\n\
         [clients.d]\nname = \"D\"\ncontract = {{ dashboard = true }}\n{accounts}"
    )
}

fn site(id: &str, client: &str, nvr: &str) -> String {
    format!(
        "[site]\nname = \"{id}\"\nclient = \"{client}\"\ntimezone = \"UTC\"\ncamera_tolerance = 0\n{}",
        equipment(nvr, "nvr", None)
    )
}

/// Writes a config of clients `c` (site `sc`, `nvr-c`) and `d` (site `sd`, `nvr-d`) with
/// `accounts`, and starts the daemon on it with both recorders' disks full: the daemon and its
/// simulation file.
fn two_clients(cfg: &Path, data: &Path, accounts: &str) -> (DaemonProcess, std::path::PathBuf) {
    std::fs::write(cfg.join("vigie.toml"), main_text(accounts)).expect("write");
    std::fs::create_dir_all(cfg.join("sites")).expect("mkdir");
    std::fs::write(cfg.join("sites/sc.toml"), site("sc", "c", "nvr-c")).expect("write");
    std::fs::write(cfg.join("sites/sd.toml"), site("sd", "d", "nvr-d")).expect("write");
    let world = data.join("world.toml");
    std::fs::write(&world, WORLD).expect("write");
    (DaemonProcess::spawn(cfg, data, &world), world)
}

/// A request with curl (cookies, origins and headers as a browser sends them): status,
/// response headers and body.
fn curl(args: &[&str], url: &str) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (rest, code) = text.rsplit_once('\n').expect("status line");
    let (headers, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    (
        code.trim().parse().expect("code"),
        headers.to_string(),
        body.to_string(),
    )
}

fn refused(r: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Refused { status, message }) => (status, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Waits until the daemon applied a config past `generation`.
fn reloaded(local: &ApiClient, generation: u64) {
    let s = local
        .status_after(generation, Duration::from_secs(30))
        .expect("status");
    assert!(s.generation > generation, "no reload");
}

#[test]
fn accounts_see_and_do_only_what_their_role_or_client_allows_through_tokens_and_sessions() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let hash = passwd("correct horse battery");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let staff = format!(
        "{}{}[accounts.ops]\nrole = \"operator\"\npassword = \"{hash}\"\n",
        account("marie", "operator"),
        account("vic", "viewer"),
    );
    let accounts = format!(
        "{staff}[accounts.client-c]\nclient = \"c\"\npassword = \"{hash}\"\nlanguage = \"en\"\n{}",
        token_line("client-c"),
    );
    let (daemon, _) = two_clients(cfg.path(), data.path(), &accounts);
    let local = daemon.client();
    let all = alerts_until(&local, "both disk alerts", |l| l.alerts.len() >= 2);
    let alert_of = |nvr: &str| {
        all.alerts
            .iter()
            .find(|a| a.summary.contains(nvr) || format!("{:?}", a.owner).contains(nvr))
            .map(|a| a.id)
            .expect("alert")
    };
    let (alert_c, alert_d) = (alert_of("nvr-c"), alert_of("nvr-d"));

    // Nobody: only the health check answers; every error is JSON and says how to sign in.
    let anon = ApiClient::new(&daemon.api);
    for path in [
        "/api/v1/status",
        "/api/v1/alerts",
        "/metrics",
        "/api/v1/events",
    ] {
        let (code, headers, body) = curl(&[], &format!("{}{path}", daemon.api));
        assert_eq!(code, 401, "{path}: {body}");
        assert!(
            headers
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{headers}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("token")),
            "{body}"
        );
    }
    assert!(anon.health().expect("health").ok);
    let wrong = ApiClient::new(&daemon.api).with_token("vigie_not-a-token");
    assert_eq!(refused(wrong.status()).0, 401);

    // Host names: the daemon's own names and addresses only (DNS rebinding), even with a
    // valid token.
    let bearer = format!("Authorization: Bearer {}", daemon.token);
    let port = daemon.api.rsplit(':').next().expect("port");
    for (host, want) in [
        ("evil.example:80".to_string(), 421),
        (format!("localhost:{port}"), 200),
        ("vigie.example.net".to_string(), 200),
    ] {
        let (code, _, body) = curl(
            &["-H", &bearer, "-H", &format!("Host: {host}")],
            &format!("{}/api/v1/status", daemon.api),
        );
        assert_eq!(code, want, "{host}: {body}");
    }

    // A client's account: its site, its equipment, its alert; the rest does not exist.
    let client = daemon.client_as("client-c");
    let status = client.status().expect("status");
    let sites: Vec<&str> = status.sites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(sites, ["sc"]);
    assert!(status.alerts.iter().all(|a| a.site.as_str() == "sc"));
    assert!(status.last_reload.is_none() && status.store.is_none());
    assert_eq!(status.by_status.values().sum::<usize>(), 1);
    let alerts = client.alerts().expect("alerts");
    assert_eq!(
        alerts.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![alert_c]
    );
    assert!(client.site("sc").is_ok());
    assert_eq!(refused(client.site("sd")), (404, "no site `sd`".into()));
    assert_eq!(
        refused(client.site("nowhere")),
        (404, "no site `nowhere`".into())
    );
    assert!(client.equipment("nvr-c").is_ok());
    assert_eq!(refused(client.equipment("nvr-d")).0, 404);
    assert_eq!(refused(client.transitions("nvr-d")).0, 404);
    assert!(client.alert(alert_c).is_ok());
    assert_eq!(refused(client.alert(alert_d)).0, 404);
    assert_eq!(refused(client.audit(alert_d)).0, 404);
    let trail = client.audit(alert_c).expect("own audit");
    assert!(trail.sent.is_empty() && trail.pending.is_empty());
    for (path, want) in [
        ("/api/v1/availability?client=d", 404),
        ("/api/v1/availability?site=sd", 404),
        ("/api/v1/availability", 200),
        ("/api/v1/reports/d/2026-01?format=json", 404),
        ("/api/v1/outbox", 404),
        ("/metrics", 404),
        ("/api/v1/alerts/history", 200),
        ("/api/v1/tickets?all=true", 200),
    ] {
        let (code, body) = client.raw("GET", path, &[], None).expect("request");
        assert_eq!(code, want, "{path}: {body}");
        if path == "/api/v1/availability" {
            let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            assert!(!body.contains("\"sd\""), "another client's site: {body}");
            assert!(v.is_object());
        }
        if path == "/api/v1/alerts/history" {
            assert!(!body.contains("nvr-d"), "{body}");
        }
    }
    // Its event log: its site's events only, no config loads, and a cursor past the rest.
    let page = client
        .events(0, 10_000, Duration::ZERO)
        .expect("client's events");
    assert!(!page.events.is_empty());
    for e in &page.events {
        let text = serde_json::to_string(e).expect("json");
        assert!(
            !text.contains("nvr-d") && !text.contains("\"sd\""),
            "{text}"
        );
        assert!(
            !matches!(e.body, vigie::events::EventBody::Config(_)),
            "{text}"
        );
    }
    let staff_page = local.events(0, 10_000, Duration::ZERO).expect("events");
    assert!(staff_page.events.len() > page.events.len());
    assert_eq!(page.next_after, staff_page.next_after);
    // It reads; it does not act.
    assert_eq!(refused(client.ack(alert_c, None)).0, 403);

    // A viewer reads everything and acts on nothing; an operator acts as itself.
    let viewer = daemon.client_as("vic");
    assert_eq!(viewer.status().expect("status").sites.len(), 2);
    let (code, message) = refused(viewer.ack(alert_d, None));
    assert_eq!(code, 403);
    assert!(message.contains("operator"), "{message}");
    let acked = daemon
        .client_as("marie")
        .ack(alert_d, Some("on my way"))
        .expect("ack");
    assert_eq!(acked.acknowledged.map(|a| a.by), Some("marie".to_string()));

    // A password login: an HttpOnly, SameSite=Strict cookie and a CSRF token.
    let login = |account: &str, password: &str, extra: &[&str]| {
        let body = serde_json::json!({ "account": account, "password": password }).to_string();
        let mut args = vec!["-X", "POST", "-H", "content-type: application/json", "-d"];
        args.push(&body);
        args.extend_from_slice(extra);
        curl(&args, &format!("{}/api/v1/login", daemon.api))
    };
    let (code, _, body) = login("client-c", "wrong", &[]);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("wrong account or password"), "{body}");
    let (code, _, body) = login("nobody", "correct horse battery", &[]);
    assert_eq!(
        (code, body.contains("wrong account or password")),
        (401, true)
    );
    let (code, _, body) = login(
        "client-c",
        "correct horse battery",
        &["-H", "Origin: http://evil.example"],
    );
    assert_eq!(code, 403, "a login from another site's page: {body}");
    let (code, headers, body) = login("ops", "correct horse battery", &[]);
    assert_eq!(code, 200, "{body}");
    let cookie_line = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie_line.contains(attr), "{cookie_line}");
    }
    let cookie = cookie_line
        .split_once(':')
        .map(|(_, v)| v.trim().split(';').next().unwrap_or_default().to_string())
        .expect("cookie");
    let who: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(who["account"], "ops");
    assert_eq!(who["via"], "session");
    let csrf = who["csrf"].as_str().expect("csrf").to_string();
    let with_cookie = ["-H".to_string(), format!("Cookie: {cookie}")];
    let args = |extra: &[&str]| -> Vec<String> {
        with_cookie
            .iter()
            .cloned()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let call = |method: &str, path: &str, extra: &[&str]| {
        let mut a = args(extra);
        a.extend(["-X".into(), method.into()]);
        if method == "POST" {
            a.extend([
                "-H".into(),
                "content-type: application/json".into(),
                "-d".into(),
                "{\"note\": \"closing\"}".into(),
            ]);
        }
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        curl(&a, &format!("{}{path}", daemon.api))
    };
    assert_eq!(call("GET", "/api/v1/status", &[]).0, 200);
    let (code, _, body) = call("GET", "/api/v1/session", &[]);
    assert_eq!(code, 200);
    assert!(body.contains(&csrf), "{body}");
    let close = format!("/api/v1/alerts/{alert_c}/close");
    let (code, _, body) = call("POST", &close, &[]);
    assert_eq!(code, 403, "no CSRF token: {body}");
    assert!(body.contains("X-CSRF-Token"), "{body}");
    let csrf_header = format!("X-CSRF-Token: {csrf}");
    let (code, _, body) = call(
        "POST",
        &close,
        &["-H", &csrf_header, "-H", "Origin: http://evil.example"],
    );
    assert_eq!(code, 403, "another site's page: {body}");
    let (code, _, body) = call(
        "POST",
        &close,
        &["-H", &csrf_header, "-H", "Sec-Fetch-Site: cross-site"],
    );
    assert_eq!(code, 403, "{body}");
    let own_origin = format!("Origin: {}", daemon.api);
    let (code, _, body) = call("POST", &close, &["-H", &csrf_header, "-H", &own_origin]);
    assert_eq!(code, 200, "{body}");
    let closed: vigie::alert::Alert = serde_json::from_str(&body).expect("alert");
    assert_eq!(closed.closed.map(|c| c.by), Some("ops".to_string()));
    // The alert history, filtered; a client's filter on another client is a 404.
    let history = |who: &ApiClient, q: &str| {
        let (code, body) = who
            .raw("GET", &format!("/api/v1/alerts/history{q}"), &[], None)
            .expect("history");
        let alerts: Vec<vigie::alert::Alert> = if code == 200 {
            serde_json::from_str(&body).expect("alerts")
        } else {
            Vec::new()
        };
        (code, alerts.iter().map(|a| a.id).collect::<Vec<_>>())
    };
    assert_eq!(history(&local, "?client=d"), (200, vec![alert_d]));
    assert_eq!(
        history(&local, "?equipment=nvr-c&state=closed&severity=critical"),
        (200, vec![alert_c])
    );
    assert_eq!(history(&local, "?site=sc&state=open"), (200, vec![]));
    assert_eq!(history(&local, "?state=gone").0, 400);
    assert_eq!(history(&local, "?from=2999-01-01T00:00:00Z").0, 400);
    assert_eq!(history(&client, "?client=d").0, 404);
    assert_eq!(history(&client, "?equipment=nvr-d").0, 404);
    assert_eq!(history(&client, ""), (200, vec![alert_c]));
    // The config status, for the staff.
    let (code, body) = local
        .raw("GET", "/api/v1/config", &[], None)
        .expect("config");
    assert_eq!(code, 200, "{body}");
    let cs: vigie::api::ConfigStatus = serde_json::from_str(&body).expect("config status");
    assert_eq!((cs.sites, cs.equipment, cs.accounts), (2, 2, 4));
    assert!(cs.last_reload.is_some_and(|r| r.accepted));
    assert_eq!(
        client
            .raw("GET", "/api/v1/config", &[], None)
            .expect("config")
            .0,
        404
    );
    let (code, headers, _) = call("POST", "/api/v1/logout", &["-H", &csrf_header]);
    assert_eq!(code, 204);
    assert!(headers.contains("Max-Age=0"), "{headers}");
    assert_eq!(call("GET", "/api/v1/status", &[]).0, 401, "a session ended");
    // A forged session cookie is nobody; a page asked with it leads to the login form.
    let forged = ["-H", "Cookie: vigie_session=AAAAforgedAAAA"];
    assert_eq!(
        curl(&forged, &format!("{}/api/v1/status", daemon.api)).0,
        401
    );
    assert_eq!(curl(&forged, &format!("{}/", daemon.api)).0, 303);
    // A stream asked to resume from garbage is a clear 400.
    let (code, _, body) = curl(
        &["-H", &bearer, "-H", "Last-Event-ID: yesterday"],
        &format!("{}/api/v1/stream", daemon.api),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("Last-Event-ID"), "{body}");

    // The client's own login, then a removed account: its token and session stop at once.
    let (code, headers, _) = login("client-c", "correct horse battery", &[]);
    assert_eq!(code, 200);
    let client_cookie = headers
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or(l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_string();
    let as_client = |cookie: &str| {
        curl(
            &["-H", &format!("Cookie: {cookie}")],
            &format!("{}/api/v1/status", daemon.api),
        )
        .0
    };
    assert_eq!(as_client(&client_cookie), 200);
    let generation = local.status().expect("status").generation;
    std::fs::write(cfg.path().join("vigie.toml"), main_text(&staff)).expect("write");
    reloaded(&local, generation);
    assert_eq!(refused(client.status()).0, 401, "a removed account's token");
    assert_eq!(
        as_client(&client_cookie),
        401,
        "a removed account's session"
    );

    // Five wrong passwords lock an account's logins for the window, the right one included.
    for _ in 0..5 {
        assert_eq!(login("ops", "guess", &[]).0, 401);
    }
    let (code, headers, body) = login("ops", "correct horse battery", &[]);
    assert_eq!(code, 429, "{body}");
    assert!(
        headers.to_ascii_lowercase().contains("retry-after:"),
        "{headers}"
    );
    daemon.sigterm();
}

#[test]
fn the_command_line_takes_its_token_from_the_environment_or_a_file_never_an_argument() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    // `vigie token`: a token and its digest, which the config takes.
    let out = vigie_ok(&["token"]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    let (token, digest) = (
        lines.next().expect("token").to_string(),
        lines.next().expect("digest").to_string(),
    );
    assert!(token.starts_with("vigie_") && token.len() > 40, "{token}");
    assert_eq!(
        digest,
        vigie::config::token_digest_text(&vigie::config::token_digest(&token))
    );
    let accounts = format!("[accounts.client-c]\nclient = \"c\"\ntokens = [\"{digest}\"]\n");
    let (daemon, _) = two_clients(cfg.path(), data.path(), &accounts);
    let status_json = |envs: &[(&str, &str)]| {
        let out = Command::new(vigie_bin())
            .args(["status", "--json", "--data"])
            .arg(data.path())
            .env_remove("VIGIE_TOKEN")
            .env_remove("VIGIE_TOKEN_FILE")
            .envs(envs.iter().copied())
            .output()
            .expect("vigie status");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // The local token of the data directory: staff, every site.
    let (code, out, err) = status_json(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"sd\"") && out.contains("\"sc\""), "{out}");
    // VIGIE_TOKEN: the client's account, its site only.
    let (code, out, err) = status_json(&[("VIGIE_TOKEN", &token)]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"sc\"") && !out.contains("\"sd\""), "{out}");
    // VIGIE_TOKEN_FILE, the same.
    let file = cfg.path().join("token");
    std::fs::write(&file, format!("{token}\n")).expect("write");
    let (code, out, _) = status_json(&[("VIGIE_TOKEN_FILE", &file.to_string_lossy())]);
    assert_eq!(code, Some(0));
    assert!(!out.contains("\"sd\""), "{out}");
    // A wrong token: exit 1, and the daemon's reason on stderr.
    let (code, _, err) = status_json(&[("VIGIE_TOKEN", "vigie_wrong")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("401") && err.contains("token"), "{err}");
    let missing = cfg.path().join("no-such-token");
    let (code, _, err) = status_json(&[("VIGIE_TOKEN_FILE", &missing.to_string_lossy())]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no-such-token"), "{err}");
    // The local token is the daemon user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.path().join(vigie::auth::LOCAL_TOKEN_FILE))
        .expect("local token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    daemon.sigterm();
    assert!(Path::new(&file).exists());
}

fn alert_frame(f: &Frame, nvr: &str, change: &str) -> bool {
    f.1 == "alert" && f.2["change"] == change && f.2["alert"]["owner"].to_string().contains(nvr)
}

#[test]
fn the_event_stream_carries_only_the_accounts_events_resumes_from_its_last_id_and_ends_with_the_account()
 {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let staff = format!(
        "[contacts.tech]\nname = \"Tech\"\nchannels = [\"log\"]\n[channels.log]\n{}",
        account("marie", "operator")
    );
    let accounts = format!(
        "{staff}[accounts.client-c]\nclient = \"c\"\n{}",
        token_line("client-c"),
    );
    let (daemon, _) = two_clients(cfg.path(), data.path(), &accounts);

    // The staff's stream: both alerts open.
    let all = Stream::open(&daemon.api, &token_of("marie"), None);
    let staff_frames = all.until("d's alert", |f| alert_frame(f, "nvr-d", "opened"));
    assert!(staff_frames.iter().any(|f| f.1 == "config"));
    let _ = all.until("c's alert", |f| alert_frame(f, "nvr-c", "opened"));
    // A notification reaches the staff's stream once its channel took it.
    let (code, body) = daemon
        .client()
        .raw(
            "POST",
            "/api/v1/notify/test",
            &[],
            Some(r#"{"contact": "tech", "channel": "log"}"#),
        )
        .expect("notify test");
    assert_eq!(code, 202, "{body}");
    let told = all.until("the notification", |f| f.1 == "notification");
    let n = &told.last().expect("notification").2;
    assert_eq!(n["delivery"]["contact"], "tech", "{n}");
    assert_eq!(n["accepted"], true, "{n}");
    // Then an event of c's after both: the acknowledgement of its alert.
    let alerts = daemon.client().alerts().expect("alerts");
    let alert_c = alerts
        .alerts
        .iter()
        .find(|a| a.site.as_str() == "sc")
        .expect("c's alert")
        .id;
    daemon
        .client_as("marie")
        .ack(alert_c, Some("seen"))
        .expect("ack");

    // The client's stream, from the start: its events only, up to the acknowledgement.
    let mine = Stream::open(&daemon.api, &token_of("client-c"), None);
    let frames = mine.until("the acknowledgement", |f| {
        alert_frame(f, "nvr-c", "acknowledged")
    });
    assert!(frames.iter().any(|f| alert_frame(f, "nvr-c", "opened")));
    for (id, name, data) in &frames {
        let text = data.to_string();
        assert!(
            !text.contains("nvr-d")
                && !text.contains("\"sd\"")
                && name != "config"
                && name != "notification",
            "event {id} ({name}) is not client c's: {text}"
        );
    }
    let ids: Vec<u64> = frames.iter().map(|f| f.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let acked = frames.last().expect("ack").0;
    let opened = frames
        .iter()
        .find(|f| alert_frame(f, "nvr-c", "opened"))
        .expect("opened")
        .0;
    drop(mine);

    // Reconnecting with the last id it saw: what came after, nothing before.
    let mut again = Stream::open(&daemon.api, &token_of("client-c"), Some(opened));
    let resumed = again.until("the acknowledgement again", |f| f.0 == acked);
    assert!(resumed.iter().all(|f| f.0 > opened), "{resumed:?}");

    // The account removed: its open stream ends.
    let generation = daemon.client().status().expect("status").generation;
    std::fs::write(cfg.path().join("vigie.toml"), main_text(&staff)).expect("write");
    reloaded(&daemon.client(), generation);
    let status = exit_within(
        &mut again.child,
        Duration::from_secs(60),
        "the removed account's stream",
    );
    assert!(status.success(), "{status}");
    // And a new one is refused.
    let (code, _, _) = curl(
        &[
            "-H",
            &format!("Authorization: Bearer {}", token_of("client-c")),
        ],
        &format!("{}/api/v1/stream", daemon.api),
    );
    assert_eq!(code, 401);
    drop(all);
    daemon.sigterm();
}

/// A self-signed certificate for 127.0.0.1, as PEM files in `dir`: its DER.
fn certificate(dir: &Path) -> Vec<u8> {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).expect("key");
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).expect("cert");
    cert.cert.der().to_vec()
}

#[test]
fn https_serves_the_configured_certificate_reloads_it_and_clear_http_is_for_loopback_only() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let tls = tempfile::tempdir().expect("tmp");
    certificate(tls.path());
    let (cert, key) = (tls.path().join("cert.pem"), tls.path().join("key.pem"));
    let marie = format!(
        "{}password = \"{}\"\n",
        account("marie", "operator"),
        passwd("a long passphrase")
    );
    let main = main_text(&marie).replacen(
        "[daemon]\n",
        &format!(
            "[daemon]\ntls_certificate = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
        1,
    );
    std::fs::write(cfg.path().join("vigie.toml"), &main).expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    std::fs::write(cfg.path().join("sites/sc.toml"), site("sc", "c", "nvr-c")).expect("write");
    let world = data.path().join("world.toml");
    std::fs::write(&world, WORLD).expect("write");
    let daemon = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    assert!(daemon.api.starts_with("https://"), "{}", daemon.api);
    let bearer = format!("Authorization: Bearer {}", token_of("marie"));
    let status_with = |ca: &Path| {
        curl(
            &["--cacert", &ca.to_string_lossy(), "-H", &bearer],
            &format!("{}/api/v1/status", daemon.api),
        )
        .0
    };
    let first_ca = tls.path().join("first.pem");
    std::fs::copy(&cert, &first_ca).expect("copy");
    assert_eq!(status_with(&first_ca), 200);
    // Clear HTTP on the HTTPS port gets no answer from the API.
    let clear = daemon.api.replacen("https://", "http://", 1);
    assert_ne!(
        curl(&["-H", &bearer], &format!("{clear}/api/v1/status")).0,
        200
    );
    // Over TLS the session cookie is Secure.
    let body =
        serde_json::json!({ "account": "marie", "password": "a long passphrase" }).to_string();
    let (code, headers, _) = curl(
        &[
            "--cacert",
            &first_ca.to_string_lossy(),
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &body,
        ],
        &format!("{}/api/v1/login", daemon.api),
    );
    assert_eq!(code, 200);
    let cookie = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    // The command line on the machine pins the daemon's certificate from its daemon file.
    let status_cli = || {
        Command::new(vigie_bin())
            .args(["status", "--data"])
            .arg(data.path())
            .env_remove("VIGIE_TOKEN")
            .env_remove("VIGIE_TOKEN_FILE")
            .output()
            .expect("vigie status")
    };
    let out = status_cli();
    assert!(out.status.success(), "{out:?}");

    // A new certificate in the same files: the next handshakes present it.
    certificate(tls.path());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let local = daemon.client().with_tls_trust(vigie::config::TlsTrust::Any);
    while status_with(&cert) != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate is not served"
        );
        let last = local.events(0, 1, Duration::ZERO).expect("events").last;
        let _ = local.events(last, 1, Duration::from_secs(1));
    }
    assert_ne!(
        status_with(&first_ca),
        200,
        "the old certificate is still served"
    );
    let out = status_cli();
    assert!(
        out.status.success(),
        "the daemon file follows the certificate: {out:?}"
    );
    daemon.sigterm();

    // Without a certificate, clear HTTP only on loopback, unless accepted in so many words.
    let plain = main_text("");
    std::fs::write(cfg.path().join("vigie.toml"), &plain).expect("write");
    let run = |listen: &str| {
        Command::new(vigie_bin())
            .args(["run", "--listen", listen, "--config"])
            .arg(cfg.path())
            .arg("--data")
            .arg(data.path())
            .arg("--simulate")
            .arg(&world)
            .env("VIGIE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vigie run")
    };
    let mut refused = run("0.0.0.0:0");
    exit_within(
        &mut refused,
        Duration::from_secs(60),
        "vigie refusing clear HTTP",
    );
    let out = refused.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("would listen in clear") && err.contains("plain_http"),
        "{err}"
    );
    std::fs::write(
        cfg.path().join("vigie.toml"),
        plain.replacen("[daemon]\n", "[daemon]\nplain_http = true\n", 1),
    )
    .expect("write");
    let mut accepted = run("0.0.0.0:0");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(accepted.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("line");
    assert!(
        line.starts_with("vigie listening on http://0.0.0.0:"),
        "{line}"
    );
    let _ = accepted.kill();
    let out = accepted.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listens in clear"), "{err}");
}

/// Signs in through the login form: the session cookie (`name=value`).
fn form_login(api: &str, account: &str, password: &str) -> (u16, String, String) {
    let (code, headers, body) = curl(
        &[
            "-X",
            "POST",
            "--data-urlencode",
            &format!("account={account}"),
            "--data-urlencode",
            &format!("password={password}"),
        ],
        &format!("{api}/login"),
    );
    let cookie = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().split(';').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    (code, cookie, body)
}

#[test]
fn the_dashboard_shows_a_client_its_own_sites_and_the_staff_everything_in_their_language() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let hash = passwd("dashboard pass");
    let accounts = format!(
        "[accounts.marie]\nname = \"Marie\"\nrole = \"operator\"\npassword = \"{hash}\"\n\
         [accounts.client-c]\nname = \"Portail C\"\nclient = \"c\"\npassword = \"{hash}\"\nlanguage = \"en\"\n"
    );
    let (daemon, _) = two_clients(cfg.path(), data.path(), &accounts);
    let list = alerts_until(&daemon.client(), "both alerts", |l| l.alerts.len() >= 2);
    let id_of = |site: &str| {
        list.alerts
            .iter()
            .find(|a| a.site.as_str() == site)
            .expect("alert")
            .id
    };
    let (alert_c, alert_d) = (id_of("sc"), id_of("sd"));
    let get = |cookie: &str, path: &str| {
        curl(
            &["-H", &format!("Cookie: {cookie}")],
            &format!("{}{path}", daemon.api),
        )
    };

    // Nobody: pages lead to the login form; the form and the assets are public.
    let (code, headers, _) = get("", "/");
    assert_eq!(code, 303);
    assert!(headers.contains("/login"), "{headers}");
    let (code, _, page) = curl(
        &["-H", "Accept-Language: en-GB,en;q=0.8"],
        &format!("{}/login", daemon.api),
    );
    assert_eq!(code, 200);
    assert!(
        page.contains("Sign in") && page.contains("name=\"password\""),
        "{page}"
    );
    assert_eq!(get("", "/assets/vigie.css").0, 200);
    assert_eq!(get("", "/assets/vigie.js").0, 200);
    for path in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e%2fCargo.toml",
        "/assets/nothing.js",
    ] {
        let (code, _, body) = curl(&["--path-as-is"], &format!("{}{path}", daemon.api));
        assert!(code == 404 || code == 303, "{path}: {code} {body}");
        assert!(!body.contains("[workspace]"), "{path}");
    }
    let (code, cookie, page) = form_login(&daemon.api, "client-c", "wrong");
    assert_eq!(code, 401);
    assert!(cookie.is_empty());
    assert!(page.contains("Compte ou mot de passe incorrect"), "{page}");

    // A client: its site's tiles with a word for each status, its availability and alerts,
    // in its language; nothing of the other client.
    let (code, cookie, _) = form_login(&daemon.api, "client-c", "dashboard pass");
    assert_eq!(code, 303);
    let (code, _, home) = get(&cookie, "/");
    assert_eq!(code, 200, "{home}");
    assert!(home.contains("<html lang=\"en\""), "{home}");
    assert!(home.contains("data-equipment=\"nvr-c\""), "{home}");
    assert!(
        home.contains("tile st-up") && home.contains(">up<"),
        "{home}"
    );
    assert!(home.contains("Global availability") && home.contains("Sign out"));
    assert!(
        home.contains(&format!("data-alert=\"{alert_c}\"")),
        "{home}"
    );
    // Its alert in its words: the rule's line in English.
    assert!(home.contains("disk usage above 95 %"), "{home}");
    assert!(
        !home.contains("nvr-d") && !home.contains("data-site=\"sd\""),
        "{home}"
    );
    assert!(home.contains("name=\"csrf\""));
    for path in [
        "/sites/sd".to_string(),
        "/equipment/nvr-d".to_string(),
        format!("/alerts/{alert_d}"),
        "/config".to_string(),
    ] {
        let (code, _, body) = get(&cookie, &path);
        assert_eq!(code, 404, "{path}: {body}");
        assert!(body.starts_with('{'), "a JSON error: {body}");
    }
    let (code, _, page) = get(&cookie, "/equipment/nvr-c");
    assert_eq!(code, 200);
    assert!(
        page.contains("Identity") && page.contains("nvr-c"),
        "{page}"
    );
    let (code, _, part) = get(&cookie, "/partials/alerts");
    assert_eq!(code, 200);
    assert!(part.contains(&format!("data-alert=\"{alert_c}\"")) && !part.contains("<html"));

    // The staff: every live alert with its actions, every client, in French.
    let (code, cookie, _) = form_login(&daemon.api, "marie", "dashboard pass");
    assert_eq!(code, 303);
    let (code, _, home) = get(&cookie, "/");
    assert_eq!(code, 200);
    assert!(home.contains("<html lang=\"fr\""));
    assert!(home.contains("Alertes en cours") && home.contains("Se déconnecter"));
    // The alerts' lines in French too.
    assert!(
        home.contains("occupation du disque au-dessus de 95 %")
            && !home.contains("disk usage above"),
        "{home}"
    );
    for id in [alert_c, alert_d] {
        assert!(
            home.contains(&format!("data-action=\"/api/v1/alerts/{id}/ack\"")),
            "{home}"
        );
    }
    let (code, _, page) = get(&cookie, &format!("/alerts/{alert_d}"));
    assert_eq!(code, 200);
    assert!(
        page.contains("Chronologie") && page.contains("opened"),
        "{page}"
    );
    let (code, _, page) = get(&cookie, "/config");
    assert_eq!(code, 200);
    assert!(page.contains("acceptée"), "{page}");
    let (code, _, page) = get(&cookie, "/sites/sc");
    assert_eq!(code, 200);
    assert!(
        page.contains("Fenêtres de maintenance")
            && page.contains("data-action=\"/api/v1/sites/sc/maintenance\""),
        "{page}"
    );
    // A page that does not exist answers like the API.
    let (code, _, body) = get(&cookie, "/nothing/here");
    assert_eq!(code, 404);
    assert!(body.starts_with('{'), "{body}");
    daemon.sigterm();
}

#[test]
fn maintenance_windows_open_and_end_through_the_api_survive_a_restart_and_only_operators_act() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    let accounts = format!(
        "{}{}[accounts.client-c]\nclient = \"c\"\n{}",
        account("marie", "operator"),
        account("vic", "viewer"),
        token_line("client-c"),
    );
    let (daemon, world) = two_clients(cfg.path(), data.path(), &accounts);
    alerts_until(&daemon.client(), "both alerts", |l| l.alerts.len() >= 2);
    let post = |who: &ApiClient, path: &str, body: &str| {
        who.raw("POST", path, &[], Some(body)).expect("request")
    };
    let marie = daemon.client_as("marie");
    let (code, body) = post(
        &marie,
        "/api/v1/sites/sc/maintenance",
        r#"{"reason": "remplacement du NVR", "duration": "2h", "equipment": ["nvr-c"]}"#,
    );
    assert_eq!(code, 201, "{body}");
    let w: vigie::maintenance::AdHocWindow = serde_json::from_str(&body).expect("window");
    assert_eq!((w.id.as_str(), w.opened_by.as_str()), ("api-1", "marie"));
    assert!(
        (7199..=7200).contains(&(w.until - w.from).num_seconds()),
        "{w:?}"
    );
    let in_maintenance = |who: &ApiClient, eq: &str| {
        who.site("sc")
            .expect("site")
            .equipment
            .iter()
            .find(|e| e.id == eq)
            .expect("equipment")
            .maintenance
            .clone()
    };
    let client = daemon.client_as("client-c");
    assert!(
        in_maintenance(&client, "nvr-c").is_some_and(|m| m.contains("remplacement du NVR")),
        "the client sees its equipment in maintenance"
    );
    // The window's start is in the log, as availability reads it.
    let page = daemon
        .client()
        .events(0, 10_000, Duration::ZERO)
        .expect("events");
    assert!(
        page.events
            .iter()
            .any(|e| matches!(&e.body, vigie::events::EventBody::Maintenance(m) if m.site.as_str() == "sc")),
        "no maintenance event"
    );
    // Reading is for whoever sees the site; acting for operators.
    let (code, body) = client
        .raw("GET", "/api/v1/sites/sc/maintenance", &[], None)
        .expect("list");
    assert_eq!(code, 200);
    assert!(body.contains("api-1"), "{body}");
    assert_eq!(
        client
            .raw("GET", "/api/v1/sites/sd/maintenance", &[], None)
            .expect("list")
            .0,
        404
    );
    let open = r#"{"reason": "x", "duration": "1h"}"#;
    assert_eq!(post(&client, "/api/v1/sites/sc/maintenance", open).0, 403);
    assert_eq!(
        post(
            &daemon.client_as("vic"),
            "/api/v1/sites/sc/maintenance",
            open
        )
        .0,
        403
    );
    for (path, body, want) in [
        ("/api/v1/sites/sc/maintenance", r#"{"reason": "x"}"#, 400),
        (
            "/api/v1/sites/sc/maintenance",
            r#"{"reason": "x", "duration": "90d"}"#,
            400,
        ),
        (
            "/api/v1/sites/sc/maintenance",
            r#"{"reason": " ", "duration": "1h"}"#,
            400,
        ),
        (
            "/api/v1/sites/sc/maintenance",
            r#"{"reason": "x", "until": "2001-01-01T00:00:00Z"}"#,
            400,
        ),
        (
            "/api/v1/sites/sc/maintenance",
            r#"{"reason": "x", "duration": "1h", "equipment": ["nvr-d"]}"#,
            404,
        ),
        ("/api/v1/sites/nowhere/maintenance", open, 404),
        ("/api/v1/sites/sc/maintenance/api-9/end", "{}", 404),
    ] {
        let (code, answer) = post(&marie, path, body);
        assert_eq!(code, want, "{path} {body}: {answer}");
    }
    // A whole-site window until a given time.
    let until = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (code, body) = post(
        &marie,
        "/api/v1/sites/sc/maintenance",
        &format!(r#"{{"reason": "travaux électriques", "until": "{until}"}}"#),
    );
    assert_eq!(code, 201, "{body}");
    assert!(marie.site("sc").expect("site").site.maintenance.is_some());

    // Both survive a restart.
    daemon.sigterm();
    let daemon = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    let marie = daemon.client_as("marie");
    let list: vigie::actors::WindowList = serde_json::from_str(
        &marie
            .raw("GET", "/api/v1/sites/sc/maintenance", &[], None)
            .expect("list")
            .1,
    )
    .expect("list");
    let ids: Vec<&str> = list.api.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["api-1", "api-2"]);
    assert!(in_maintenance(&marie, "nvr-c").is_some());

    // Ended now, by the account that ended them; twice is a conflict.
    let (code, body) = post(&marie, "/api/v1/sites/sc/maintenance/api-2/end", "{}");
    assert_eq!(code, 200, "{body}");
    let ended: vigie::maintenance::AdHocWindow = serde_json::from_str(&body).expect("window");
    assert_eq!(ended.ended_by.as_deref(), Some("marie"));
    assert_eq!(
        post(&marie, "/api/v1/sites/sc/maintenance/api-2/end", "{}").0,
        409
    );
    assert!(marie.site("sc").expect("site").site.maintenance.is_none());
    assert!(
        in_maintenance(&marie, "nvr-c").is_some(),
        "api-1 still covers it"
    );
    assert_eq!(
        post(&marie, "/api/v1/sites/sc/maintenance/api-1/end", "{}").0,
        200
    );
    assert!(in_maintenance(&marie, "nvr-c").is_none());
    daemon.sigterm();
}
