//! A probe plugin for vigie's own tests. Its `mode` parameter chooses what it does: report
//! a healthy recorder without any I/O (`ok`, the default), use one host capability (`http`,
//! `tcp`, `snmp`, `token`, `token-at`, `other-host`), or misbehave (`loop`, `alloc`, `huge`, `many`,
//! `panic`) so the daemon's sandbox can be tested.

use std::sync::atomic::{AtomicU32, Ordering};
use vigie_plugin_sdk::{
    ChannelState, Child, Description, EquipmentKind, Host, HttpRequest, LogLevel, Metric, Param,
    Probe, ProbeError, Report, Target,
};

/// Collections this instance has run: always 1 when the host gives every call a fresh one.
static CALLS: AtomicU32 = AtomicU32::new(0);

/// The test plugin.
pub struct Testbed;

fn channels(spec: &str) -> Vec<Child> {
    spec.split(',')
        .filter_map(|c| c.split_once(':'))
        .filter_map(|(n, state)| {
            let state = match state {
                "online" => ChannelState::Online,
                "offline" => ChannelState::Offline,
                _ => ChannelState::Unknown,
            };
            Some(Child::new(n.trim().parse().ok()?, state))
        })
        .collect()
}

impl Probe for Testbed {
    fn describe() -> Description {
        Description::new("testbed", "1.2.3")
            .vendor("vigie")
            .kind(EquipmentKind::Nvr)
            .kind(EquipmentKind::Other)
            .param(Param::optional("mode", "what to do", "ok"))
            .param(Param::optional("path", "path of the `http` mode", "/"))
            .param(Param::optional(
                "url",
                "URL of the `other-host` mode",
                "http://192.0.2.1/",
            ))
            .param(Param::http_port())
            .param(Param::optional("tcp_port", "port of the `tcp` mode", "554"))
            .param(Param::optional(
                "created_ms",
                "creation time of the `token-at` mode's token, ms since the Unix epoch",
                "1767225600000",
            ))
            .param(Param::optional(
                "channels",
                "channel states: `1:online,2:offline`",
                "",
            ))
            .param(Param::optional(
                "temperature",
                "hw.temperature of the `ok` mode",
                "41",
            ))
    }

    fn collect(target: &Target, host: &dyn Host) -> Result<Report, ProbeError> {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        let param = |n: &str| target.param(n).unwrap_or_default().to_string();
        let mut report = Report::up();
        match param("mode").as_str() {
            "ok" => {
                let t: f64 = param("temperature").parse().unwrap_or(41.0);
                report.metric(Metric::new("hw.temperature", t).with("sensor", "board"));
                report.metric(Metric::new("device.uptime", 3600.0));
                report.children = channels(&param("channels"));
                report.facts.model = Some("TB-1".into());
                report.facts.serial = Some(target.equipment_id.clone());
            }
            "http" => {
                let r = host.http(&HttpRequest::get(&param("path")).header("X-Test", "1"))?;
                report.metric(Metric::new("http.status", f64::from(r.status)));
                report.fact("body", &String::from_utf8_lossy(&r.body));
            }
            "other-host" => {
                host.get(&param("url"))?;
            }
            "tcp" => {
                let port = param("tcp_port").parse().unwrap_or(554);
                let answer = host.tcp_probe(port, b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", 256)?;
                report.fact("answer", &String::from_utf8_lossy(&answer));
            }
            "snmp" => {
                let rows = host.snmp_get(&["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"])?;
                if let Some(t) = rows.first().and_then(|r| r.value.number()) {
                    report.metric(Metric::new("device.uptime", t / 100.0));
                }
                if let Some(name) = rows.get(1).and_then(|r| r.value.text()) {
                    report.fact("sysName", &name);
                }
                report.fact(
                    "walked",
                    &host.snmp_walk("1.3.6.1.2.1.1")?.len().to_string(),
                );
            }
            "token" => {
                let t = host.ws_username_token()?;
                report.fact("username", &t.username);
                report.fact("digest", &t.password_digest);
                report.fact("nonce", &t.nonce);
                report.fact("created", &t.created);
            }
            "token-at" => {
                let created = param("created_ms")
                    .parse()
                    .map_err(|_| ProbeError::Unsupported("`created_ms` is not a number".into()))?;
                let t = host.ws_username_token_at(created)?;
                report.fact("username", &t.username);
                report.fact("digest", &t.password_digest);
                report.fact("nonce", &t.nonce);
                report.fact("created", &t.created);
            }
            "clock" => {
                report.facts.clock_offset_ms = Some(host.now_ms());
            }
            "state" => {
                report.metric(Metric::new("plugin.calls", f64::from(calls)));
            }
            "log" => {
                host.log(
                    LogLevel::Warn,
                    &format!("hello from {}", target.equipment_id),
                );
            }
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "huge" => {
                // A gigabyte of metrics: 1,000,000 metrics with 1 KiB names.
                let name = "x".repeat(1024);
                for i in 0..1_000_000 {
                    report.metric(Metric::new(&name, f64::from(i)));
                }
            }
            "many" => {
                for i in 0..100_000 {
                    report.metric(
                        Metric::new("system.cpu.utilization", 0.5).with("cpu", &i.to_string()),
                    );
                }
            }
            "panic" => panic!("the testbed panics on purpose"),
            other => return Err(ProbeError::Unsupported(format!("unknown mode `{other}`"))),
        }
        Ok(report)
    }
}

vigie_plugin_sdk::register_probe!(Testbed);
