//! The API and the event stream on the real daemon (`vigie run`, its own process) with 10,000
//! equipment of 100 clients, collected from a simulation file, and 100 clients (one per
//! client account) connected to the event stream: requests per second on the equipment-state
//! route with an authenticated token, measured by `wrk` (installed with apt when missing), and
//! the delay from a status change in an equipment actor (the transition event's time) to that
//! event arriving at each connected client, p50 and p99, over rounds that take one recorder
//! per client down and up again.
//!
//! Run: `cargo bench -p vigie --bench api`. `VIGIE_BENCH_SECONDS` sets wrk's duration
//! (default 10), `VIGIE_BENCH_ROUNDS` the status rounds (default 3).

mod common;

use http_body_util::BodyExt;
use std::process::Command;
use std::time::Duration;
use vigie::synthetic::Fleet;

/// A client of the event stream: the delays of the transitions it receives, sent on `tx`.
async fn follow(url: String, token: String, tx: tokio::sync::mpsc::UnboundedSender<i64>) {
    let authority = url.trim_start_matches("http://").to_string();
    let Ok(stream) = tokio::net::TcpStream::connect(&authority).await else {
        return;
    };
    let Ok((mut sender, conn)) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
    else {
        return;
    };
    tokio::spawn(conn);
    let Ok(request) = hyper::Request::get(format!("{url}/api/v1/stream"))
        .header("host", authority)
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
    else {
        return;
    };
    let Ok(response) = sender.send_request(request).await else {
        return;
    };
    let mut body = response.into_body();
    let mut pending = String::new();
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.push_str(&String::from_utf8_lossy(&data));
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let received = chrono::Utc::now();
            let Some(json) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let Ok(e) = serde_json::from_str::<vigie::events::Event>(json) else {
                continue;
            };
            if matches!(e.body, vigie::events::EventBody::Transition(_)) {
                let _ = tx.send((received - e.at).num_microseconds().unwrap_or(i64::MAX));
            }
        }
    }
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn main() {
    let seconds: u64 = std::env::var("VIGIE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rounds: usize = std::env::var("VIGIE_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    if !common::ensure_tool("wrk", &["--version"], "wrk") {
        eprintln!("error: wrk cannot run; install it (apt-get install wrk)");
        std::process::exit(1);
    }
    let fleet = Fleet {
        clients: 100,
        sites_per_client: 1,
        cameras_per_site: 98,
    };
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    fleet.write_config(&config).expect("config");
    // Accounts: a viewer's token for the load, one client account per client for the stream.
    let token = |who: &str| format!("vigie_bench-token-of-{who}");
    let digest =
        |who: &str| vigie::config::token_digest_text(&vigie::config::token_digest(&token(who)));
    let main = config.join("vigie.toml");
    let mut text = std::fs::read_to_string(&main).expect("read").replacen(
        "[daemon]\n",
        "[daemon]\ncollection_interval = \"10s\"\n",
        1,
    );
    text.push_str(&format!(
        "\n[accounts.bench]\nrole = \"viewer\"\ntokens = [\"{}\"]\n",
        digest("bench")
    ));
    for c in 0..fleet.clients {
        let id = Fleet::client(c);
        text.push_str(&format!(
            "\n[accounts.{id}]\nclient = \"{id}\"\ntokens = [\"{}\"]\n",
            digest(&id)
        ));
    }
    std::fs::write(&main, text).expect("write");
    let world = dir.path().join("world.toml");
    std::fs::write(&world, "[default]\nstatus = \"up\"\n").expect("world");
    let daemon = common::Daemon::start(
        &config,
        &dir.path().join("data"),
        &["--simulate".as_ref(), world.as_os_str()],
    );
    let url = daemon.url.clone();
    let api = vigie::client::ApiClient::new(&url)
        .with_timeout(Duration::from_secs(60))
        .with_token(token("bench"));
    let status = api.status().expect("status");
    let equipment: usize = status.sites.iter().map(|s| s.equipment).sum();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for c in 0..fleet.clients {
        runtime.spawn(follow(url.clone(), token(&Fleet::client(c)), tx.clone()));
    }
    drop(tx);

    // Requests per second on one equipment's state, the 100 streams connected.
    let target = format!("{url}/api/v1/equipment/{}-nvr", Fleet::site(42, 0));
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency", "-H"])
        .arg(format!("Authorization: Bearer {}", token("bench")))
        .arg(&target)
        .output()
        .expect("wrk");
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| format!("? ({report})"));
    let non_2xx = report
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .unwrap_or("none")
        .trim()
        .to_string();
    let p99_http = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();

    // Status rounds: every client's recorder down, then up; each stream receives its own.
    let mut delays = Vec::new();
    for round in 0..rounds * 2 {
        let down = round % 2 == 0;
        let mut text = String::from("[default]\nstatus = \"up\"\n");
        if down {
            for c in 0..fleet.clients {
                text.push_str(&format!(
                    "\n[equipment.{}-nvr]\nstatus = \"down\"\nreason = \"bench\"\n",
                    Fleet::site(c, 0)
                ));
            }
        }
        std::fs::write(&world, text).expect("world");
        let want = delays.len() + fleet.clients;
        while delays.len() < want {
            match runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(120), rx.recv()).await })
            {
                Ok(Some(d)) => delays.push(d),
                _ => {
                    eprintln!("error: the streams stopped receiving transitions");
                    std::process::exit(1);
                }
            }
        }
    }
    delays.sort_unstable();
    println!("api bench: {equipment} equipment, 100 clients, 100 event streams connected");
    println!(
        "  GET /api/v1/equipment/{{id}} with a token, wrk -t2 -c64 -d{seconds}s: {rps} requests/s (p99 {p99_http}; non-2xx: {non_2xx})"
    );
    println!(
        "  status change in the actor -> event at a connected client, {} transitions: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        delays.len(),
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        percentile(&delays, 1.0)
    );
}
