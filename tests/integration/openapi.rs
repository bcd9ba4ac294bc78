//! The API's OpenAPI 3.1 document on the real daemon, over a synthetic month of two clients:
//! it is the one `vigie openapi` prints, it validates against the OpenAPI 3.1 schema
//! (`openapi-spec-validator`), `schemathesis` finds no server error nor an answer that
//! breaks it, and a table over every route it lists shows that a client's token reaches
//! nothing of another client (404), that the event stream never carries it, and that a viewer
//! acts on nothing (403).

use crate::support::*;
use chrono::{Datelike, Utc};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use vigie::store::Store;
use vigie::synthetic::Fleet;

/// Where the Python tools live: `VIGIE_PYTHON_TOOLS`, else the virtual environment that
/// `scripts/test` makes.
fn python_tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("VIGIE_PYTHON_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/vigie-venv/bin")
        });
    let tool = dir.join(name);
    assert!(
        tool.exists(),
        "{} is missing: scripts/test installs schemathesis and openapi-spec-validator from PyPI there",
        tool.display()
    );
    tool
}

/// The month before this one, `YYYY-MM`: the synthetic month written into the store.
fn last_month() -> String {
    let first = Utc::now().date_naive().with_day(1).expect("first day");
    let before = first.pred_opt().expect("day before");
    format!("{:04}-{:02}", before.year(), before.month())
}

/// The daemon on a synthetic month of clients `client-000` (A) and `client-001` (B), one site
/// each, with an admin (`ada`), a viewer (`vic`) and A's account (`client-a`).
struct Fixture {
    daemon: DaemonProcess,
    _cfg: tempfile::TempDir,
    _data: tempfile::TempDir,
    month: String,
}

fn fixture() -> Fixture {
    let fleet = Fleet {
        clients: 2,
        sites_per_client: 1,
        cameras_per_site: 2,
    };
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    fleet.write_config(cfg.path()).expect("config");
    let main = cfg.path().join("vigie.toml");
    let mut text = std::fs::read_to_string(&main).expect("main file");
    text.push_str(&account("ada", "admin"));
    text.push_str(&account("vic", "viewer"));
    text.push_str(&client_account("client-a", "client-000"));
    std::fs::write(&main, text).expect("write");
    let month = last_month();
    {
        let (store, _) = Store::open(data.path()).expect("store");
        vigie::synthetic::write_month(&store, &fleet, &month).expect("month");
    }
    let world = data.path().join("world.toml");
    std::fs::write(&world, "[default]\nstatus = \"up\"\n").expect("world");
    let daemon = DaemonProcess::spawn(cfg.path(), data.path(), &world);
    Fixture {
        daemon,
        _cfg: cfg,
        _data: data,
        month,
    }
}

/// A request as test account `who`: status and body.
fn call(
    d: &DaemonProcess,
    who: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    d.client_as(who)
        .raw(method, path, &[], body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn json(d: &DaemonProcess, who: &str, path: &str) -> Value {
    let (code, body) = call(d, who, "GET", path, None);
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// One client's objects, named as the routes name them.
#[derive(Debug)]
struct Objects {
    client: String,
    site: String,
    equipment: String,
    alert: u64,
    ticket: u64,
    window: String,
}

impl Objects {
    /// Client `c`'s objects, read (and a maintenance window opened) as the admin.
    fn of(d: &DaemonProcess, c: usize, month: &str) -> Objects {
        let site = Fleet::site(c, 0);
        let history = json(
            d,
            "ada",
            &format!("/api/v1/alerts/history?site={site}&from={month}-01T00:00:00Z"),
        );
        let alert = history[0]["id"].as_u64().expect("an alert of the month");
        let tickets = json(d, "ada", "/api/v1/tickets?all=true");
        let ticket = tickets
            .as_array()
            .expect("tickets")
            .iter()
            .find(|t| t["site"] == site.as_str())
            .and_then(|t| t["number"].as_u64())
            .expect("a ticket of the month");
        let (code, body) = call(
            d,
            "ada",
            "POST",
            &format!("/api/v1/sites/{site}/maintenance"),
            Some(r#"{"reason": "isolation test", "duration": "2h"}"#),
        );
        assert_eq!(code, 201, "{body}");
        let window: Value = serde_json::from_str(&body).expect("window");
        Objects {
            client: Fleet::client(c),
            equipment: format!("{site}-nvr"),
            site,
            alert,
            ticket,
            window: window["id"].as_str().expect("window id").to_string(),
        }
    }

    /// `path` with its parameters naming these objects.
    fn fill(&self, path: &str, month: &str) -> String {
        let id = if path.starts_with("/api/v1/sites/") {
            self.site.clone()
        } else if path.starts_with("/api/v1/alerts/") {
            self.alert.to_string()
        } else {
            self.equipment.clone()
        };
        path.replace("{id}", &id)
            .replace("{n}", &self.ticket.to_string())
            .replace("{window}", &self.window)
            .replace("{client}", &self.client)
            .replace("{month}", month)
    }

    /// Whether `text` names any of these objects.
    fn named_in(&self, text: &str) -> bool {
        text.contains(&self.client) || text.contains(&self.site)
    }

    /// Objects that exist nowhere.
    fn ghost() -> Objects {
        Objects {
            client: "ghost-client".into(),
            site: "ghost-site".into(),
            equipment: "ghost-equipment".into(),
            alert: 987_654_321,
            ticket: 987_654_321,
            window: "ghost-window".into(),
        }
    }

    /// `text` with these objects' names replaced by `other`'s.
    fn renamed(&self, text: &str, other: &Objects) -> String {
        text.replace(&self.equipment, &other.equipment)
            .replace(&self.site, &other.site)
            .replace(&self.client, &other.client)
            .replace(&self.window, &other.window)
            .replace(&format!("#{}", self.alert), &format!("#{}", other.alert))
            .replace(&format!("#{}", self.ticket), &format!("#{}", other.ticket))
    }
}

/// Asks `target` of `theirs` and the same of objects that exist nowhere: both answer 404 with
/// the same words, so the other client's objects are not known to exist.
fn unknown_alike(
    d: &DaemonProcess,
    method: &str,
    theirs: &Objects,
    target: &str,
    ghost: &str,
    body: Option<&str>,
) {
    let (code, text) = call(d, "client-a", method, target, body);
    let (ghost_code, ghost_text) = call(d, "client-a", method, ghost, body);
    assert_eq!(code, 404, "{method} {target}: {text}");
    assert_eq!(ghost_code, 404, "{method} {ghost}: {ghost_text}");
    assert_eq!(
        theirs.renamed(&text, &Objects::ghost()),
        ghost_text,
        "{method} {target} answers otherwise than for an object that does not exist"
    );
}

/// What a client's account gets on a route.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// The route names an object: another client's answers 404; its own is read (GET) or
    /// refused (POST, 403: a client acts on nothing).
    Named,
    /// The route lists objects: 200 with its own (`true`: some must be there) and none of the
    /// other client's; each query naming the other client's objects answers 404.
    Listed(bool, &'static [&'static str]),
    /// The staff's: 404 for a client's account, as if the route did not exist.
    Staff,
    /// About the caller, not about clients: answered without naming another client.
    Caller,
    /// Heartbeats take the equipment's own token: any account's answers 401, the same for
    /// both clients' equipment.
    EquipmentToken,
    /// The live event stream: only the account's events.
    Stream,
}

/// Every route of the document, with what a client's account gets there. A route added to
/// the API and not here fails the test, so each is checked.
const ROUTES: &[(&str, &str, Rule)] = &[
    ("get", "/api/v1/status", Rule::Listed(true, &[])),
    ("get", "/api/v1/health", Rule::Caller),
    ("get", "/api/v1/config", Rule::Staff),
    ("get", "/metrics", Rule::Staff),
    ("get", "/api/v1/sites/{id}", Rule::Named),
    ("get", "/api/v1/equipment/{id}", Rule::Named),
    ("get", "/api/v1/equipment/{id}/history", Rule::Named),
    ("get", "/api/v1/equipment/{id}/transitions", Rule::Named),
    ("get", "/api/v1/alerts", Rule::Listed(false, &[])),
    (
        "get",
        "/api/v1/alerts/history",
        Rule::Listed(
            true,
            &["client={client}", "site={site}", "equipment={equipment}"],
        ),
    ),
    ("get", "/api/v1/alerts/{id}", Rule::Named),
    ("get", "/api/v1/alerts/{id}/audit", Rule::Named),
    ("post", "/api/v1/alerts/{id}/ack", Rule::Named),
    ("post", "/api/v1/alerts/{id}/close", Rule::Named),
    ("get", "/api/v1/events", Rule::Listed(true, &[])),
    ("get", "/api/v1/stream", Rule::Stream),
    ("post", "/api/v1/notify/test", Rule::Staff),
    ("get", "/api/v1/outbox", Rule::Staff),
    ("get", "/api/v1/tickets", Rule::Listed(true, &[])),
    ("get", "/api/v1/tickets/{n}", Rule::Named),
    ("post", "/api/v1/tickets/{n}/close", Rule::Named),
    (
        "get",
        "/api/v1/availability",
        Rule::Listed(true, &["client={client}", "site={site}"]),
    ),
    (
        "get",
        "/api/v1/signals",
        Rule::Listed(false, &["client={client}", "site={site}"]),
    ),
    ("get", "/api/v1/reports/{client}/{month}", Rule::Named),
    ("get", "/api/v1/sites/{id}/maintenance", Rule::Named),
    ("post", "/api/v1/sites/{id}/maintenance", Rule::Named),
    (
        "post",
        "/api/v1/sites/{id}/maintenance/{window}/end",
        Rule::Named,
    ),
    ("post", "/api/v1/login", Rule::Caller),
    ("post", "/api/v1/logout", Rule::Caller),
    ("get", "/api/v1/session", Rule::Caller),
    ("post", "/api/v1/heartbeat/{id}", Rule::EquipmentToken),
    ("get", "/api/v1/openapi.json", Rule::Caller),
];

/// A valid body for each state-changing route, so only access decides the answer.
fn body_of(path: &str) -> &'static str {
    if path.ends_with("/maintenance") {
        r#"{"reason": "isolation test", "duration": "1h"}"#
    } else if path.ends_with("/notify/test") {
        r#"{"contact": "nobody"}"#
    } else if path.ends_with("/login") {
        r#"{"account": "client-a", "password": "not its password"}"#
    } else if path.ends_with("/ack") || path.ends_with("/close") {
        r#"{"note": "isolation test"}"#
    } else {
        "{}"
    }
}

/// The document's operations: (method, path).
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect()
}

#[test]
fn the_openapi_document_validates_and_schemathesis_finds_no_server_error_nor_a_broken_answer() {
    let f = fixture();
    let d = &f.daemon;
    // Served to accounts only, and the same document as `vigie openapi` prints.
    let (code, _) = vigie::client::ApiClient::new(&d.api)
        .raw("GET", "/api/v1/openapi.json", &[], None)
        .expect("request");
    assert_eq!(code, 401);
    let served = json(d, "vic", "/api/v1/openapi.json");
    let printed: Value = serde_json::from_slice(&vigie_ok(&["openapi"]).stdout).expect("JSON");
    assert_eq!(served, printed);
    assert_eq!(served["openapi"], "3.1.0");

    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&served).expect("JSON")).expect("write");
    let checked = Command::new(python_tool("openapi-spec-validator"))
        .arg(&file)
        .output()
        .expect("openapi-spec-validator");
    assert!(
        checked.status.success(),
        "the document does not validate against the OpenAPI 3.1 schema: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // schemathesis over every route but the endless stream, as the admin and as a client; one
    // worker, as Python 3.11's parser is not safe for hypothesis's concurrent source reads.
    // The long polls hold a request up to `wait` seconds for a change nobody makes: they run
    // apart, in the phases where the hooks send `wait=0` (the coverage phase takes no hooks).
    let hooks = manifest_dir().join("../tests/schemathesis");
    let polls = "^/api/v1/(status|alerts|outbox|events)$";
    let runs: [(&[&str], &str); 2] = [
        (
            &["--exclude-path-regex", polls],
            "examples,coverage,fuzzing",
        ),
        (&["--include-path-regex", polls], "examples,fuzzing"),
    ];
    for who in ["ada", "client-a"] {
        let mut selected = 0;
        for (n, (filter, phases)) in runs.iter().enumerate() {
            let report = dir.path().join(format!("schemathesis-{who}-{n}.xml"));
            let out = Command::new(python_tool("schemathesis"))
                .arg("run")
                .arg(&file)
                .args(["--url", &d.api])
                .args(["-H", &format!("Authorization: Bearer {}", token_of(who))])
                .args([
                    "--checks",
                    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                ])
                .args(["--exclude-path", "/api/v1/stream"])
                .args(*filter)
                .args(["--phases", phases])
                .args(["--max-examples", "25", "--seed", "1", "--workers", "1"])
                .args(["--request-timeout", "30", "--no-shrink"])
                .args(["--report", "junit", "--report-junit-path"])
                .arg(&report)
                .env("SCHEMATHESIS_HOOKS", "hooks")
                .env("PYTHONPATH", &hooks)
                .env("NO_COLOR", "1")
                .current_dir(dir.path())
                .output()
                .expect("schemathesis");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "schemathesis as {who} found failures:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            selected += text
                .split("Selected: ")
                .nth(1)
                .and_then(|t| t.split('/').next())
                .and_then(|t| t.trim().parse::<usize>().ok())
                .unwrap_or_else(|| panic!("how many operations were selected?\n{text}"));
        }
        // Between them, the runs took every route but the stream.
        assert_eq!(selected, operations(&served).len() - 1, "as {who}");
    }
    // And the daemon still serves.
    assert_eq!(json(d, "ada", "/api/v1/health")["ok"], true);
}

#[test]
fn a_clients_token_reaches_nothing_of_another_client_on_any_route_and_a_viewer_acts_on_nothing() {
    let f = fixture();
    let d = &f.daemon;
    let month = f.month.as_str();
    let doc = json(d, "ada", "/api/v1/openapi.json");
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        operations(&doc),
        listed,
        "the table and the document list different routes"
    );
    let mine = Objects::of(d, 0, month);
    let theirs = Objects::of(d, 1, month);

    for (method, path, rule) in ROUTES {
        let method = method.to_uppercase();
        let post = method == "POST";
        let body = post.then(|| body_of(path));
        let on_theirs = theirs.fill(path, month);
        let on_mine = mine.fill(path, month);
        match rule {
            Rule::Named => {
                let on_ghost = Objects::ghost().fill(path, month);
                unknown_alike(d, &method, &theirs, &on_theirs, &on_ghost, body);
                let (code, text) = call(d, "client-a", &method, &on_mine, body);
                let expected = if post { 403 } else { 200 };
                assert_eq!(code, expected, "{method} {on_mine}: {text}");
                assert!(!theirs.named_in(&text), "{method} {on_mine}: {text}");
            }
            Rule::Listed(has_mine, queries) => {
                let (code, text) = call(d, "client-a", &method, path, body);
                assert_eq!(code, 200, "{method} {path}: {text}");
                assert!(!theirs.named_in(&text), "{method} {path}: {text}");
                // The routes whose default leaves out the synthetic month: asked for it.
                let wide = match *path {
                    "/api/v1/alerts/history" => Some(format!("{path}?from={month}-01T00:00:00Z")),
                    "/api/v1/tickets" => Some("/api/v1/tickets?all=true".to_string()),
                    "/api/v1/availability" => Some(format!("{path}?month={month}")),
                    _ => None,
                };
                let text = wide.map_or(text, |w| call(d, "client-a", &method, &w, body).1);
                assert!(!theirs.named_in(&text), "{method} {path}: {text}");
                assert!(
                    !has_mine || mine.named_in(&text),
                    "{method} {path} shows nothing of the account's own client: {text}"
                );
                for q in *queries {
                    let ask = |o: &Objects| {
                        format!(
                            "{path}?{}",
                            q.replace("{client}", &o.client)
                                .replace("{site}", &o.site)
                                .replace("{equipment}", &o.equipment)
                        )
                    };
                    unknown_alike(
                        d,
                        &method,
                        &theirs,
                        &ask(&theirs),
                        &ask(&Objects::ghost()),
                        body,
                    );
                    let (code, text) = call(d, "client-a", &method, &ask(&mine), body);
                    assert_eq!(code, 200, "{method} {}: {text}", ask(&mine));
                }
            }
            Rule::Staff => {
                let (code, text) = call(d, "client-a", &method, path, body);
                assert_eq!(code, 404, "{method} {path}: {text}");
                let (code, text) = call(d, "vic", &method, path, body);
                let expected = if post { 403 } else { 200 };
                assert_eq!(code, expected, "{method} {path} as a viewer: {text}");
            }
            Rule::Caller => {
                let (code, text) = call(d, "client-a", &method, path, body);
                assert!(code < 500, "{method} {path}: {code} {text}");
                assert!(!theirs.named_in(&text), "{method} {path}: {text}");
            }
            Rule::EquipmentToken => {
                let a = call(d, "client-a", &method, &on_theirs, body);
                let b = call(d, "client-a", &method, &on_mine, body);
                assert_eq!(a.0, 401, "{method} {on_theirs}: {}", a.1);
                assert_eq!(b.0, 401, "{method} {on_mine}: {}", b.1);
            }
            Rule::Stream => {
                // The account's events, read as a page: the stream from the start carries
                // exactly those, up to the last of them.
                let page = json(d, "client-a", "/api/v1/events?after=0&limit=10000");
                let seqs: Vec<u64> = page["events"]
                    .as_array()
                    .expect("events")
                    .iter()
                    .map(|e| e["seq"].as_u64().expect("seq"))
                    .collect();
                let last = *seqs.last().expect("client A has events");
                let stream = Stream::open(&d.api, &token_of("client-a"), None);
                let frames = stream.until("the account's last event", |f| f.0 >= last);
                let ids: Vec<u64> = frames.iter().map(|f| f.0).collect();
                assert_eq!(ids, seqs, "the stream and the page differ");
                for (id, name, data) in &frames {
                    assert!(
                        !theirs.named_in(&data.to_string()),
                        "event {id} ({name}) is the other client's: {data}"
                    );
                }
            }
        }
        // A viewer acts on nothing, whichever client the object is of.
        if post && matches!(rule, Rule::Named | Rule::Staff) {
            for o in [&mine, &theirs] {
                let target = o.fill(path, month);
                let (code, text) = call(d, "vic", &method, &target, body);
                assert_eq!(code, 403, "{method} {target} as a viewer: {text}");
            }
        }
    }
    // Nothing the client's or the viewer's requests asked for was done.
    let windows = json(
        d,
        "ada",
        &format!("/api/v1/sites/{}/maintenance", mine.site),
    );
    let opened = windows["api"].as_array().map_or(0, Vec::len);
    assert_eq!(opened, 1, "{windows}");
    let alert = json(d, "ada", &format!("/api/v1/alerts/{}", mine.alert));
    assert!(
        alert["closed"].is_null() || alert["closed"]["by"] != "client-a",
        "{alert}"
    );
}
