//! The HTTP API of a daemon started in-process on port 0: alerts flow, acknowledgement and
//! closure, and malformed requests answered with clear errors without harm to the daemon.

use crate::reload::{options, wait_status};
use crate::support::*;
use vigie::client::{ApiClient, ClientError};
use vigie::collector::ScriptedCollector;
use vigie::observation::{Metric, Observation};
use vigie::rules::RuleId;
use vigie::server;

/// Runs a blocking client call off the actor thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("client thread")
}

fn raw(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let (base, path) = url.split_at(url.find("/api/").expect("an API URL"));
    ApiClient::new(base)
        .with_token(token_of("marie"))
        .raw(method, path, &[], body)
        .expect("request")
}

#[actix_rt::test]
async fn alerts_are_listed_acknowledged_and_closed_and_bad_requests_are_refused_clearly() {
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    std::fs::write(
        cfg.path().join("vigie.toml"),
        main_file(&("[daemon]\ncollection_interval = \"1s\"\n[thresholds]\ndisk = { for = \"0s\" }\ntemperature = { for = \"0s\" }\n".to_string() + &account("marie", "operator"))),
    )
    .expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let site = site_head("UTC", "0") + &equipment("nvr-1", "nvr", None);
    std::fs::write(cfg.path().join("sites/s.toml"), site).expect("write");
    let sim = ScriptedCollector::default();
    sim.answer(
        "nvr-1",
        Observation::up()
            .with_metric(Metric::new("system.filesystem.utilization", 0.97).with("mountpoint", "/"))
            .with_metric(Metric::new("hw.temperature", 75.0)),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let d = server::start(options(cfg.path(), data.path(), &sim), listener)
        .await
        .expect("start");
    wait_status(&d, "one site", |s| s.sites.len() == 1).await;
    let base = format!("http://{}", d.api_addr);

    let api_base = base.clone();
    let list = blocking(move || {
        let api = ApiClient::new(&api_base).with_token(token_of("marie"));
        alerts_until(&api, "two alerts", |l| l.alerts.len() >= 2)
    })
    .await;
    let disk = list
        .alerts
        .iter()
        .find(|a| a.rule.rule == RuleId::DiskUsage)
        .expect("disk alert")
        .clone();
    let temp = list
        .alerts
        .iter()
        .find(|a| a.rule == "temperature")
        .expect("temperature alert")
        .clone();

    // A site's detail lists its equipment's alerts, not only its own.
    let api_base = base.clone();
    let site_id = disk.site.to_string();
    let site = blocking(move || {
        ApiClient::new(&api_base)
            .with_token(token_of("marie"))
            .site(&site_id)
            .expect("site")
    })
    .await;
    let mut ids: Vec<u64> = site.alerts.iter().map(|a| a.id).collect();
    ids.sort();
    let mut want = vec![disk.id, temp.id];
    want.sort();
    assert_eq!(ids, want);

    let api_base = base.clone();
    let (acked, again, closed, refused_close, missing) = blocking(move || {
        let api = ApiClient::new(&api_base).with_token(token_of("marie"));
        let acked = api.ack(disk.id, Some("on site tomorrow")).expect("ack");
        let again = api.ack(disk.id, None);
        let closed = api.close(temp.id, "fan replaced").expect("close");
        let refused_close = api.close(disk.id, "  ");
        let missing = api.ack(999_999, None);
        (acked, again, closed, refused_close, missing)
    })
    .await;
    assert_eq!(
        acked.acknowledged.as_ref().map(|a| a.by.as_str()),
        Some("marie")
    );
    assert!(
        matches!(again, Err(ClientError::Refused { status: 409, ref message }) if message.contains("already acknowledged")),
        "{again:?}"
    );
    assert_eq!(
        closed.closed.as_ref().and_then(|c| c.note.as_deref()),
        Some("fan replaced")
    );
    assert!(
        matches!(refused_close, Err(ClientError::Refused { status: 400, ref message }) if message.contains("resolution note")),
        "{refused_close:?}"
    );
    assert!(
        matches!(missing, Err(ClientError::Refused { status: 404, .. })),
        "{missing:?}"
    );

    let api_base = base.clone();
    let answers = blocking(move || {
        vec![
            raw(
                "POST",
                &format!("{api_base}/api/v1/alerts/1/ack"),
                Some("{not json"),
            ),
            raw(
                "POST",
                &format!("{api_base}/api/v1/alerts/1/ack"),
                Some("{\"note\": \"x\", \"by\": \"eve\"}"),
            ),
            raw(
                "POST",
                &format!("{api_base}/api/v1/alerts/abc/ack"),
                Some("{\"by\": \"x\"}"),
            ),
            raw(
                "GET",
                &format!("{api_base}/api/v1/alerts?wait=banana"),
                None,
            ),
            raw(
                "POST",
                &format!("{api_base}/api/v1/alerts/1/ack"),
                Some("[\"x\"]"),
            ),
            raw(
                "POST",
                &format!("{api_base}/api/v1/alerts/1/ack"),
                Some("{\"note\": \"eve\\u001b[2J\"}"),
            ),
            raw(
                "POST",
                &format!("{api_base}/api/v1/alerts/1/close"),
                Some(&format!("{{\"note\": \"{}\"}}", "x".repeat(2001))),
            ),
            raw(
                "POST",
                &format!("{api_base}/api/v1/heartbeat/nvr-1"),
                Some(&"x".repeat(200 * 1024)),
            ),
            raw("DELETE", &format!("{api_base}/api/v1/status"), None),
            raw("GET", &format!("{api_base}/api/v1/nothing"), None),
            raw("GET", &format!("{api_base}/api/v1/sites/unknown"), None),
            raw("GET", &format!("{api_base}/api/v1/equipment/nvr-1"), None),
        ]
    })
    .await;
    let expect = [
        (400, "invalid JSON body"),
        (400, "unknown field `by`"),
        (400, "invalid path"),
        (400, "invalid query"),
        (400, "the body must be a JSON object"),
        (400, "`note` holds a control character (U+001B)"),
        (400, "`note` is longer than 2000 characters"),
        (413, "payload"),
        (404, "no such endpoint"),
        (404, "no such endpoint"),
        (404, "no site `unknown`"),
        (200, "\"status\":\"up\""),
    ];
    for ((status, body), (want_status, want_text)) in answers.iter().zip(expect) {
        assert_eq!(*status, want_status, "{body}");
        assert!(body.contains(want_text), "{want_text} not in {body}");
        if *status >= 400 {
            let v: serde_json::Value = serde_json::from_str(body).expect("JSON error body");
            assert!(v.get("error").and_then(|e| e.as_str()).is_some(), "{body}");
        }
    }
    // The daemon is unharmed: the acknowledged alert is still live, the closed one is not.
    let api_base = base.clone();
    let live = blocking(move || {
        ApiClient::new(&api_base)
            .with_token(token_of("marie"))
            .alerts()
            .expect("alerts")
    })
    .await;
    let ids: Vec<u64> = live.alerts.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![acked.id]);
    d.stop().await;
}
