//! Plugin benchmark: instantiate + collect + drop of a plugin that does no I/O (the test
//! plugin `testbed` in its `ok` mode), directly and through the daemon's plugin runtime,
//! against running an external check program by fork/exec (`check_dummy` from Debian's
//! monitoring-plugins-basic). Prints medians and the ratio.
//!
//! Run: `cargo bench --bench plugins` (builds the test plugin for wasm32-wasip2 first).
//! `VIGIE_BENCH_CALLS` changes the number of calls (default 20,000; fork/exec runs a tenth).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigie::clock::Clock;
use vigie::config::{EquipmentConfig, Sources, load_sources};
use vigie::plugins::{Limits, PluginHost};

const CHECK_DUMMY: &str = "/usr/lib/nagios/plugins/check_dummy";

fn equipment() -> Arc<EquipmentConfig> {
    let site = "[site]\nname = \"S\"\nclient = \"c\"\ntimezone = \"UTC\"\n\n[[equipment]]\nid = \"nvr\"\nkind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"plugin:testbed\"]\nplugin_params = { channels = \"1:online,2:offline\" }\n";
    let sources = Sources {
        main: Some("[clients.c]\nname = \"C\"\n".into()),
        sites: vec![(PathBuf::from("sites/s.toml"), site.into())],
        unreadable: Vec::new(),
        dir: None,
    };
    let cfg = load_sources(&sources).expect("config");
    let site = cfg.sites.values().next().expect("site");
    Arc::clone(site.equipment.values().next().expect("equipment"))
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

fn main() {
    let calls: usize = std::env::var("VIGIE_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let wasm = common::build_testbed();
    let limits = Limits {
        deadline: Duration::from_secs(5),
        ..Limits::default()
    };
    let host = PluginHost::new(Clock::System, limits, None).expect("host");
    let t0 = Instant::now();
    host.load(&wasm).expect("load");
    let load = t0.elapsed();
    let eq = equipment();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let timeout = Duration::from_secs(5);
    let (inline, through) = rt.block_on(async {
        // Warm up the pool's slots.
        for _ in 0..200 {
            let o = host.collect_inline("testbed", &eq, timeout).await;
            assert_eq!(o.channels.len(), 2, "{:?}", o.observation);
        }
        let mut inline = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            let o = host.collect_inline("testbed", &eq, timeout).await;
            inline.push(t.elapsed());
            std::hint::black_box(o);
        }
        let mut through = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            let o = host.collect("testbed", &eq, timeout).await;
            through.push(t.elapsed());
            std::hint::black_box(o);
        }
        (inline, through)
    });

    let forks = (calls / 10).max(100);
    let mut exec = Vec::with_capacity(forks);
    let have_dummy = Path::new(CHECK_DUMMY).exists();
    if have_dummy {
        for _ in 0..forks {
            let t = Instant::now();
            let out = Command::new(CHECK_DUMMY)
                .args(["0", "ok"])
                .output()
                .expect("check_dummy");
            exec.push(t.elapsed());
            assert!(out.status.success());
        }
    }

    let (i50, i90) = median(inline);
    let (t50, t90) = median(through);
    println!("plugin load (compile + describe): {load:.1?}");
    println!(
        "instantiate + collect + drop, on the caller's runtime ({calls} calls): median {i50:.1?}, p90 {i90:.1?}"
    );
    println!(
        "same through the plugin runtime, as the daemon calls it: median {t50:.1?}, p90 {t90:.1?}"
    );
    if have_dummy {
        let (e50, e90) = median(exec);
        println!("fork/exec of check_dummy ({forks} runs): median {e50:.1?}, p90 {e90:.1?}");
        println!(
            "ratio fork/exec / plugin call: {:.0}x (inline), {:.0}x (through the plugin runtime)",
            e50.as_secs_f64() / i50.as_secs_f64(),
            e50.as_secs_f64() / t50.as_secs_f64()
        );
    } else {
        println!(
            "{CHECK_DUMMY} is missing (Debian package monitoring-plugins-basic): no fork/exec baseline"
        );
    }
}
