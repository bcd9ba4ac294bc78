//! The real daemon (`vigie run`, its own process) with a fleet of 100,000 equipment in 2,000
//! site files, collected from a simulation file (no network): its resident memory per
//! equipment with the config loaded, and the time from writing a change to 1 % of the fleet
//! (20 site files, 1,000 equipment renamed) to the change being visible in the API, debounce,
//! parse and diff included.
//!
//! Run: `cargo bench -p vigie --bench reload`. `VIGIE_BENCH_EQUIPMENT` sets the fleet's size
//! (default 100,000; a multiple of 50).

mod common;

use std::time::{Duration, Instant};
use vigie::synthetic::Fleet;

fn main() {
    let equipment: usize = std::env::var("VIGIE_BENCH_EQUIPMENT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let sites = (equipment / 50).max(1);
    let fleet = Fleet {
        clients: (sites / 20).max(1),
        sites_per_client: sites.min(20),
        cameras_per_site: 48,
    };
    let total = fleet.clients * fleet.sites_per_client * fleet.equipment_per_site();
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    fleet.write_config(&config).expect("config");
    let world = dir.path().join("world.toml");
    std::fs::write(&world, "[default]\nstatus = \"up\"\n").expect("world");

    let started = Instant::now();
    let daemon = common::Daemon::start(
        &config,
        &dir.path().join("data"),
        &["--simulate".as_ref(), world.as_os_str()],
    );
    let pid = daemon.pid();
    let url = daemon.url.clone();
    let ready = started.elapsed();
    let api = vigie::client::ApiClient::new(&url)
        .with_timeout(Duration::from_secs(120))
        .with_token(vigie::client::local_token(&dir.path().join("data")).expect("local token"));
    let status = api.status().expect("status");
    assert_eq!(status.sites.len(), sites, "every site is running");
    let generation = status.generation;
    // Let the first collections spread over the cycle settle before reading memory.
    std::thread::sleep(Duration::from_secs(70));
    let rss = common::rss_of(pid);

    // 1 % of the fleet: the cameras of 20 sites renamed.
    let changed: Vec<(usize, usize)> = (0..20.min(sites))
        .map(|i| {
            let site = i * sites / 20.min(sites);
            (site / fleet.sites_per_client, site % fleet.sites_per_client)
        })
        .collect();
    let (_, files) = fleet.config_files();
    let written = Instant::now();
    for (c, s) in &changed {
        let id = Fleet::site(*c, *s);
        let text = files
            .iter()
            .find(|(f, _)| *f == id)
            .map(|(_, t)| t.replace("name = \"Camera ", "name = \"Renamed camera "))
            .expect("site file");
        std::fs::write(config.join("sites").join(format!("{id}.toml")), text).expect("write");
    }
    let last = changed.last().expect("a site");
    let probe = format!("{}-cam-48", Fleet::site(last.0, last.1));
    let mut generation = generation;
    let visible = loop {
        let s = api
            .status_after(generation, Duration::from_secs(30))
            .expect("status");
        generation = s.generation;
        let e = api.equipment(&probe).expect("equipment");
        if e.summary.name.starts_with("Renamed") {
            break written.elapsed();
        }
        assert!(
            written.elapsed() < Duration::from_secs(120),
            "the change is not visible after 2 minutes"
        );
    };
    drop(daemon);
    println!(
        "reload bench: {total} equipment in {sites} site files, collected from a simulation file"
    );
    println!(
        "start: {:.2} s until the API listens with the config applied",
        ready.as_secs_f64()
    );
    println!(
        "memory: {:.0} bytes of resident memory per equipment with the config loaded ({:.0} MiB in all, after one collection cycle)",
        rss as f64 * 1024.0 / total as f64,
        rss as f64 / 1024.0
    );
    println!(
        "reload: {:.3} s from writing 20 site files (1 % of the fleet) to the change visible in the API, debounce (0.3 s) included",
        visible.as_secs_f64()
    );
}
