//! Agents: VMS servers and Linux NVRs expose node_exporter / windows_exporter metrics in the
//! Prometheus text format. The exposition is parsed with `prometheus-parse` and mapped onto
//! vigie metrics (CPU, memory, filesystems, temperatures, services, uptime), so "recording
//! service stopped" (R7) works from an agent.

use super::http::{self, HttpError, HttpRequest};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use prometheus_parse::{Sample, Scrape, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use vigie_core::config::Secret;
use vigie_core::observation::{Metric, Observation};

/// Largest exposition read from an agent.
pub const MAX_EXPOSITION: usize = 8 * 1024 * 1024;

/// Cumulative CPU counters of one scrape, to compute utilisation between two scrapes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSample {
    /// Seconds spent idle, all CPUs.
    pub idle: f64,
    /// Seconds spent in every mode, all CPUs.
    pub total: f64,
}

/// What an exposition says, in vigie's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// Metrics.
    pub metrics: Vec<Metric>,
    /// Facts (host name, OS).
    pub facts: Vec<(String, String)>,
    /// CPU counters, for the next scrape.
    pub cpu: Option<CpuSample>,
}

fn number(s: &Sample) -> Option<f64> {
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) if v.is_finite() => Some(v),
        _ => None,
    }
}

const PSEUDO_FS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "overlay",
    "squashfs",
    "proc",
    "sysfs",
    "ramfs",
    "nsfs",
    "autofs",
    "cgroup",
    "cgroup2",
    "fuse.lxcfs",
    "rpc_pipefs",
    "tracefs",
    "debugfs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "mqueue",
    "hugetlbfs",
];

/// Maps a node_exporter or windows_exporter exposition onto vigie metrics.
///
/// `recording_service` names the unit or Windows service that records video; its state is
/// reported as `service.up{service=recording}`. `previous` is the CPU sample of the last
/// scrape of the same agent.
pub fn map_exposition(
    text: &str,
    recording_service: Option<&str>,
    previous: Option<CpuSample>,
    now: DateTime<Utc>,
) -> Result<Mapped, String> {
    if text.trim().is_empty() {
        return Err("the agent answered an empty page".into());
    }
    if !text.ends_with('\n') {
        return Err("truncated exposition: the last line is incomplete".into());
    }
    let scrape = Scrape::parse_at(text.lines().map(|l| Ok(l.to_string())), now)
        .map_err(|e| format!("unreadable exposition: {e}"))?;
    if scrape.samples.is_empty() {
        return Err("not Prometheus exposition text: no metric found".into());
    }
    let mut metrics = Vec::new();
    let mut facts = Vec::new();
    let (mut idle, mut total, mut cpu_seen) = (0.0, 0.0, false);
    let mut mem_total = None;
    let mut mem_avail = None;
    let mut fs: BTreeMap<String, (Option<f64>, Option<f64>)> = BTreeMap::new();
    let mut services: BTreeMap<String, bool> = BTreeMap::new();
    for s in &scrape.samples {
        let Some(v) = number(s) else { continue };
        let label = |k: &str| s.labels.get(k).unwrap_or_default().to_string();
        match s.metric.as_str() {
            "node_cpu_seconds_total" | "windows_cpu_time_total" => {
                cpu_seen = true;
                total += v;
                if s.labels.get("mode") == Some("idle") {
                    idle += v;
                }
            }
            "node_memory_MemTotal_bytes"
            | "windows_cs_physical_memory_bytes"
            | "windows_memory_physical_total_bytes" => mem_total = Some(v),
            "node_memory_MemAvailable_bytes"
            | "windows_os_physical_memory_free_bytes"
            | "windows_memory_physical_free_bytes" => mem_avail = Some(v),
            "node_filesystem_size_bytes" | "node_filesystem_avail_bytes" => {
                if PSEUDO_FS.contains(&s.labels.get("fstype").unwrap_or_default()) {
                    continue;
                }
                let e = fs.entry(label("mountpoint")).or_default();
                if s.metric.ends_with("size_bytes") {
                    e.0 = Some(v)
                } else {
                    e.1 = Some(v)
                }
            }
            "windows_logical_disk_size_bytes" | "windows_logical_disk_free_bytes" => {
                let volume = label("volume");
                if volume.starts_with("HarddiskVolume") {
                    continue; // Volumes without a drive letter (recovery, EFI).
                }
                let e = fs.entry(volume).or_default();
                if s.metric.ends_with("size_bytes") {
                    e.0 = Some(v)
                } else {
                    e.1 = Some(v)
                }
            }
            "node_hwmon_temp_celsius" => metrics.push(
                Metric::new("hw.temperature", v)
                    .with("sensor", &format!("{}/{}", label("chip"), label("sensor"))),
            ),
            "node_thermal_zone_temp" => {
                metrics.push(Metric::new("hw.temperature", v).with("sensor", &label("type")))
            }
            "node_systemd_unit_state" if v >= 0.5 => {
                services.insert(label("name"), s.labels.get("state") == Some("active"));
            }
            "windows_service_state" if v >= 0.5 => {
                services.insert(label("name"), s.labels.get("state") == Some("running"));
            }
            "node_boot_time_seconds"
            | "windows_system_system_up_time"
            | "windows_system_boot_time_timestamp_seconds" => {
                metrics.push(Metric::new(
                    "device.uptime",
                    (now.timestamp() as f64 - v).max(0.0),
                ));
                facts.push(("boot_time".into(), v.to_string()));
            }
            "node_uname_info" => {
                facts.push(("hostname".into(), label("nodename")));
                facts.push((
                    "os".into(),
                    format!("{} {}", label("sysname"), label("release")),
                ));
            }
            "windows_cs_hostname" => facts.push(("hostname".into(), label("hostname"))),
            "windows_os_info" => facts.push((
                "os".into(),
                format!("{} {}", label("product"), label("version")),
            )),
            _ => {}
        }
    }
    let cpu = cpu_seen.then_some(CpuSample { idle, total });
    if let (Some(now_cpu), Some(prev)) = (cpu, previous) {
        let dt = now_cpu.total - prev.total;
        let di = now_cpu.idle - prev.idle;
        if dt > 0.0 && di >= 0.0 {
            metrics.push(Metric::new(
                "system.cpu.utilization",
                (1.0 - di / dt).clamp(0.0, 1.0),
            ));
        }
    }
    if let (Some(t), Some(a)) = (mem_total, mem_avail)
        && t > 0.0
    {
        metrics.push(Metric::new(
            "system.memory.utilization",
            (1.0 - a / t).clamp(0.0, 1.0),
        ));
    }
    for (mount, (size, avail)) in fs {
        if let (Some(size), Some(avail)) = (size, avail)
            && size > 0.0
        {
            metrics.push(
                Metric::new(
                    "system.filesystem.utilization",
                    (1.0 - avail / size).clamp(0.0, 1.0),
                )
                .with("mountpoint", &mount),
            );
        }
    }
    if let Some(rec) = recording_service {
        // Service names compare without case (windows_exporter lowercases them) and a
        // systemd unit may be named with or without its `.service` suffix.
        let wanted = rec.to_lowercase();
        let state = services
            .iter()
            .find(|(name, _)| {
                let name = name.to_lowercase();
                name == wanted || name.strip_suffix(".service") == Some(wanted.as_str())
            })
            .map(|(_, up)| *up);
        match state {
            Some(up) => metrics.push(
                Metric::new("service.up", if up { 1.0 } else { 0.0 }).with("service", "recording"),
            ),
            None => facts.push((
                "recording_service".into(),
                format!("{rec} not reported by the agent"),
            )),
        }
    }
    for (name, up) in services {
        metrics.push(Metric::new("service.up", if up { 1.0 } else { 0.0 }).with("service", &name));
    }
    Ok(Mapped {
        metrics,
        facts,
        cpu,
    })
}

/// Scrapes an agent. Connection failures mean the agent is down; wrong credentials, HTTP
/// errors and unreadable answers leave the status unknown with the reason.
pub async fn scrape(
    url: &str,
    credentials: Option<(String, Secret)>,
    timeout: Duration,
    trust: &http::TlsTrust,
) -> Result<String, Observation> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Observation::unknown(&format!("agent URL `{url}`: {e}")))?;
    let tls = match parsed.scheme() {
        "http" => None,
        "https" => Some(trust.clone()),
        other => {
            return Err(Observation::unknown(&format!(
                "agent at {url}: `{other}` is not http or https"
            )));
        }
    };
    let Some(host) = parsed.host_str() else {
        return Err(Observation::unknown(&format!(
            "agent URL `{url}` has no host"
        )));
    };
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let mut headers = vec![("accept".to_string(), "text/plain".to_string())];
    if let Some((user, password)) = &credentials {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.expose()));
        headers.push(("authorization".into(), format!("Basic {token}")));
    }
    let answer = http::exchange(HttpRequest {
        address: host,
        port: parsed.port_or_known_default().unwrap_or(80),
        method: hyper::Method::GET,
        path: &path,
        headers,
        body: Vec::new(),
        timeout,
        max_body: MAX_EXPOSITION,
        tls,
    })
    .await;
    let answer = match answer {
        Ok(a) => a,
        Err(HttpError::Connect(e)) => {
            return Err(Observation::down(&format!(
                "agent at {url} not reachable: {e}"
            )));
        }
        Err(HttpError::Timeout(_)) => {
            return Err(Observation::down(&format!(
                "agent at {url} did not answer in time"
            )));
        }
        Err(HttpError::Body { .. }) => {
            return Err(Observation::unknown(&format!(
                "agent at {url} sent more than {} MiB, or an unreadable answer",
                MAX_EXPOSITION / 1024 / 1024
            )));
        }
        Err(e) => return Err(Observation::unknown(&format!("agent at {url}: {e}"))),
    };
    if answer.status == 401 || answer.status == 403 {
        return Err(Observation::unknown(&format!(
            "agent at {url} refused the credentials (HTTP {})",
            answer.status
        )));
    }
    if !(200..300).contains(&answer.status) {
        return Err(Observation::unknown(&format!(
            "agent at {url} answered HTTP {}",
            answer.status
        )));
    }
    String::from_utf8(answer.body).map_err(|_| {
        Observation::unknown(&format!("agent at {url} answered binary data, not text"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().expect("t")
    }

    fn value(m: &Mapped, name: &str, attr: Option<(&str, &str)>) -> Option<f64> {
        m.metrics
            .iter()
            .find(|x| x.name == name && attr.is_none_or(|(k, v)| x.attribute(k) == Some(v)))
            .map(|x| x.value)
    }

    const WINDOWS: &str = include_str!("../../../tests/fixtures/agents/windows_exporter.prom");

    #[test]
    fn windows_exporter_maps_disk_memory_services_and_recording() {
        let m = map_exposition(
            WINDOWS,
            Some("MilestoneXProtectRecordingServer"),
            None,
            now(),
        )
        .expect("valid");
        let d = value(
            &m,
            "system.filesystem.utilization",
            Some(("mountpoint", "D:")),
        )
        .expect("D:");
        assert!((d - 0.9).abs() < 1e-9, "{d}");
        let c = value(
            &m,
            "system.filesystem.utilization",
            Some(("mountpoint", "C:")),
        )
        .expect("C:");
        assert!((c - 0.5).abs() < 1e-9, "{c}");
        assert!(
            value(
                &m,
                "system.filesystem.utilization",
                Some(("mountpoint", "HarddiskVolume1"))
            )
            .is_none()
        );
        let mem = value(&m, "system.memory.utilization", None).expect("memory");
        assert!((mem - 0.75).abs() < 1e-9, "{mem}");
        assert_eq!(
            value(&m, "service.up", Some(("service", "recording"))),
            Some(0.0)
        );
        assert_eq!(
            value(&m, "service.up", Some(("service", "w32time"))),
            Some(1.0)
        );
        assert!(m.facts.contains(&("hostname".into(), "VMS-REC-01".into())));
        assert!(m.cpu.is_some());
        assert!(
            value(&m, "system.cpu.utilization", None).is_none(),
            "needs two scrapes"
        );
        // A second scrape 60 s later with 30 s idle out of 120 s (2 cores): 75 % busy.
        let prev = m.cpu.map(|c| CpuSample {
            idle: c.idle - 30.0,
            total: c.total - 120.0,
        });
        let m2 = map_exposition(WINDOWS, None, prev, now()).expect("valid");
        let cpu = value(&m2, "system.cpu.utilization", None).expect("cpu");
        assert!((cpu - 0.75).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn garbage_truncated_and_empty_answers_are_refused_with_reasons() {
        assert_eq!(
            map_exposition("", None, None, now()).expect_err("empty"),
            "the agent answered an empty page"
        );
        let cut = &WINDOWS[..WINDOWS.len() / 2];
        let cut = cut.trim_end_matches('\n');
        assert!(
            map_exposition(cut, None, None, now())
                .expect_err("cut")
                .contains("truncated")
        );
        let html = "<html><body>Login</body></html>\n";
        assert!(
            map_exposition(html, None, None, now())
                .expect_err("html")
                .contains("no metric found")
        );
    }
}
