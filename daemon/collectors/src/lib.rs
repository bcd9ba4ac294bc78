//! Network collectors: the only code that knows sockets and protocols. [`NetCollector`]
//! runs every probe an equipment lists and merges their results into one observation.

pub mod agent;
pub mod collector;
pub mod heartbeat;
pub mod http;
pub mod icmp;
pub mod recorder;
pub mod snmp;
pub mod tcp;

use crate::collector::Collector;
use agent::CpuSample;
use futures::future::LocalBoxFuture;
use heartbeat::HeartbeatBook;
use icmp::{PingSettings, Pinger};
use recorder::ChannelBook;
use recorder::PluginOutcome;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vigie_core::clock::Clock;
use vigie_core::config::{Collection, Credentials, EquipmentConfig, EquipmentId, Probe};
use vigie_core::observation::{Observation, ProbeStatus};

/// Runs vendor probe plugins: the seam between the collectors and the plugin host (which
/// implements it), so collectors know nothing of WebAssembly.
pub trait PluginRunner: Send + Sync + 'static {
    /// Starts one collection of `eq` by the plugin `name`, within `timeout` (host I/O
    /// included).
    fn collect(
        &self,
        name: &str,
        eq: &Arc<EquipmentConfig>,
        timeout: Duration,
    ) -> LocalBoxFuture<'static, PluginOutcome>;
}

/// Time budgets of one equipment's probes, from its collection settings.
#[derive(Debug, Clone, Copy)]
struct Budget {
    timeout: Duration,
    ping: PingSettings,
    snmp: snmp::SnmpClient,
}

impl Budget {
    /// Probes give up a little before the daemon's per-collection watchdog; `cap` bounds the
    /// budget whatever the config says.
    fn of(c: &Collection, cap: Option<Duration>) -> Self {
        let timeout = match cap {
            Some(cap) => c.probe_budget().min(cap),
            None => c.probe_budget(),
        };
        Budget {
            timeout,
            ping: PingSettings {
                count: c.ping_count,
                timeout: c.ping_timeout,
                retries: c.ping_retries,
                ..PingSettings::default()
            },
            snmp: snmp::SnmpClient {
                timeout: timeout / 3,
                retries: 1,
            },
        }
    }
}

/// Collects equipment over the network with the probes their config lists.
#[derive(Clone)]
pub struct NetCollector {
    clock: Clock,
    heartbeats: HeartbeatBook,
    cap: Option<Duration>,
    cpu: Arc<Mutex<HashMap<EquipmentId, CpuSample>>>,
    pinger: Result<Pinger, String>,
    plugins: Option<Arc<dyn PluginRunner>>,
    channels: ChannelBook,
}

impl NetCollector {
    /// A collector whose probes follow each equipment's collection settings, reading pushed
    /// heartbeats from `heartbeats`. ICMP is unavailable until [`NetCollector::with_pinger`]
    /// is called.
    pub fn new(clock: Clock, heartbeats: HeartbeatBook) -> Self {
        NetCollector {
            clock,
            heartbeats,
            cap: None,
            cpu: Arc::default(),
            pinger: Err("no ICMP socket was opened".into()),
            plugins: None,
            channels: ChannelBook::default(),
        }
    }

    /// Bounds every probe's budget at `cap`, whatever the equipment's `probe_timeout`.
    pub fn with_budget_cap(mut self, cap: Duration) -> Self {
        self.cap = Some(cap);
        self
    }

    /// Runs `plugin:NAME` probes with this plugin host.
    pub fn with_plugins(mut self, plugins: Arc<dyn PluginRunner>) -> Self {
        self.plugins = Some(plugins);
        self
    }

    /// The channel reports of recorders, read by `recorder` probes.
    pub fn channels(&self) -> &ChannelBook {
        &self.channels
    }

    fn plugin(
        &self,
        name: &str,
        eq: &Arc<EquipmentConfig>,
    ) -> LocalBoxFuture<'static, Observation> {
        let Some(host) = &self.plugins else {
            return ready(Observation::unknown(&format!(
                "plugin `{name}`: this daemon runs without a plugin host"
            )));
        };
        let run = host.collect(name, eq, self.budget(eq).timeout);
        let (book, id, clock) = (self.channels.clone(), eq.id.clone(), self.clock);
        Box::pin(async move {
            let outcome = run.await;
            if outcome.channels.is_empty() {
                if !matches!(outcome.observation.status, ProbeStatus::Up) {
                    book.forget(&id);
                }
            } else {
                book.record(&id, clock.now(), outcome.channels);
            }
            outcome.observation
        })
    }

    /// Uses the daemon's pinger (or records why it could not be opened) for ICMP probes.
    pub fn with_pinger(mut self, pinger: Result<Pinger, String>) -> Self {
        self.pinger = pinger;
        self
    }

    fn budget(&self, eq: &EquipmentConfig) -> Budget {
        Budget::of(&eq.collection, self.cap)
    }

    fn agent(&self, eq: &Arc<EquipmentConfig>) -> LocalBoxFuture<'static, Observation> {
        let Some(url) = eq.agent_url.clone() else {
            return Box::pin(std::future::ready(Observation::unknown(
                "the agent probe needs an address or an agent_url",
            )));
        };
        let credentials = match eq.credentials.as_deref().map(Credentials::login) {
            Some(Ok(login)) => login,
            Some(Err(e)) => {
                return Box::pin(std::future::ready(Observation::unknown(&format!(
                    "credentials for the agent: {e}"
                ))));
            }
            None => None,
        };
        let timeout = self.budget(eq).timeout;
        let recording = eq.recording_service.clone();
        let trust = eq.tls_trust.clone();
        let cpu = Arc::clone(&self.cpu);
        let clock = self.clock;
        let id = eq.id.clone();
        Box::pin(async move {
            let text = match agent::scrape(&url, credentials, timeout, &trust).await {
                Ok(t) => t,
                Err(obs) => return obs,
            };
            let previous = cpu
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&id)
                .copied();
            // Parsing up to 8 MiB is CPU work: off the arbiter, so its actors keep their timers.
            let now = clock.now();
            let parsed = tokio::task::spawn_blocking(move || {
                agent::map_exposition(&text, recording.as_deref(), previous, now)
            })
            .await
            .unwrap_or_else(|e| Err(format!("parsing failed: {e}")));
            match parsed {
                Ok(m) => {
                    if let Some(sample) = m.cpu {
                        cpu.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(id, sample);
                    }
                    Observation {
                        status: ProbeStatus::Up,
                        metrics: m.metrics,
                        facts: m.facts,
                    }
                }
                Err(reason) => Observation::unknown(&format!("agent at {url}: {reason}")),
            }
        })
    }
}

fn ready(obs: Observation) -> LocalBoxFuture<'static, Observation> {
    Box::pin(std::future::ready(obs))
}

impl Collector for NetCollector {
    fn forget(&self, equipment: &vigie_core::config::EquipmentId) {
        self.heartbeats.forget(equipment);
        self.channels.forget(equipment);
    }

    fn collect(&self, eq: &Arc<EquipmentConfig>) -> LocalBoxFuture<'static, Observation> {
        let address = eq.address_str().to_string();
        let budget = self.budget(eq);
        let timeout = budget.timeout;
        let mut parts: Vec<(String, LocalBoxFuture<'static, Observation>)> = Vec::new();
        let single = eq.probes.len() == 1;
        for probe in &eq.probes {
            let a = address.clone();
            let fut: LocalBoxFuture<'static, Observation> = match probe {
                Probe::Tcp(port) => {
                    let port = *port;
                    Box::pin(async move { tcp::tcp_probe(&a, port, timeout).await })
                }
                Probe::Rtsp(port) => {
                    let port = *port;
                    Box::pin(async move { tcp::rtsp_probe(&a, port, timeout).await })
                }
                Probe::Agent => self.agent(eq),
                Probe::Heartbeat => ready(self.heartbeats.check(eq, self.clock.now())),
                Probe::Snmp => {
                    let (eq, client) = (Arc::clone(eq), budget.snmp);
                    Box::pin(async move {
                        snmp::poll(
                            client,
                            &a,
                            eq.kind,
                            &eq.snmp,
                            eq.credentials.as_deref(),
                            eq.recording_service.as_deref(),
                        )
                        .await
                    })
                }
                Probe::Icmp => match &self.pinger {
                    Ok(p) => {
                        let (p, settings) = (p.clone(), budget.ping);
                        Box::pin(async move { p.probe(&a, settings).await })
                    }
                    Err(e) => ready(Observation::unknown(&format!("ICMP unavailable: {e}"))),
                },
                Probe::Plugin(name) => self.plugin(name, eq),
                Probe::Recorder => ready(self.channels.check(eq, self.clock.now())),
            };
            if single {
                // The usual equipment: its one probe, named only if it fails.
                let probe = probe.clone();
                return Box::pin(async move { only(&probe, fut.await) });
            }
            parts.push((probe.to_string(), fut));
        }
        let (names, futs): (Vec<String>, Vec<_>) = parts.into_iter().unzip();
        Box::pin(async move {
            let results = futures::future::join_all(futs).await;
            merge(names.into_iter().zip(results).collect())
        })
    }
}

/// [`merge`] of one probe's result, naming the probe only in a failure's reason.
fn only(probe: &Probe, mut o: Observation) -> Observation {
    match &mut o.status {
        ProbeStatus::Down { reason } | ProbeStatus::Unknown { reason } => {
            *reason = format!("{probe}: {reason}");
        }
        ProbeStatus::Up => {}
    }
    if o.facts.len() > 1 {
        for (k, v) in std::mem::take(&mut o.facts) {
            add_fact(&mut o.facts, k, v);
        }
    }
    o
}

/// Adds a fact unless one of the same name is already there (the first one stands).
fn add_fact(facts: &mut Vec<(String, String)>, k: String, v: String) {
    if !facts.iter().any(|(x, _)| *x == k) {
        facts.push((k, v));
    }
}

/// Merges the results of an equipment's probes: up when any probe reached it, down when
/// none did and one found it silent, unknown otherwise. The failures of other probes are
/// kept as `probe <name>` facts so they stay visible.
pub fn merge(parts: Vec<(String, Observation)>) -> Observation {
    let any = |f: fn(&ProbeStatus) -> bool| parts.iter().any(|(_, o)| f(&o.status));
    let reasons = |f: fn(&ProbeStatus) -> bool| {
        parts
            .iter()
            .filter(|(_, o)| f(&o.status))
            .map(|(n, o)| match &o.status {
                ProbeStatus::Down { reason } | ProbeStatus::Unknown { reason } => {
                    format!("{n}: {reason}")
                }
                ProbeStatus::Up => n.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let is_up = |s: &ProbeStatus| matches!(s, ProbeStatus::Up);
    let is_down = |s: &ProbeStatus| matches!(s, ProbeStatus::Down { .. });
    let status = if parts.is_empty() {
        ProbeStatus::Unknown {
            reason: "no probe configured".into(),
        }
    } else if any(is_up) {
        ProbeStatus::Up
    } else if any(is_down) {
        ProbeStatus::Down {
            reason: reasons(is_down),
        }
    } else {
        ProbeStatus::Unknown {
            reason: reasons(|_| true),
        }
    };
    let mut out = Observation {
        status,
        metrics: Vec::new(),
        facts: Vec::new(),
    };
    let up = matches!(out.status, ProbeStatus::Up);
    for (name, o) in parts {
        out.metrics.extend(o.metrics);
        for (k, v) in o.facts {
            add_fact(&mut out.facts, k, v);
        }
        if up && let ProbeStatus::Down { reason } | ProbeStatus::Unknown { reason } = o.status {
            out.facts.push((format!("probe {name}"), reason));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_equipment_gets_the_budgets_of_its_collection_settings() {
        let c = Collection {
            probe_timeout: Duration::from_secs(4),
            ping_count: 5,
            ping_timeout: Duration::from_millis(500),
            ping_retries: 0,
            ..Collection::default()
        };
        let b = Budget::of(&c, None);
        assert_eq!(b.timeout, Duration::from_millis(3600));
        assert_eq!(
            (b.ping.count, b.ping.timeout, b.ping.retries),
            (5, Duration::from_millis(500), 0)
        );
        assert_eq!(b.snmp.timeout, Duration::from_millis(1200));
        assert_eq!(
            Budget::of(&c, Some(Duration::from_secs(1))).timeout,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn one_probe_is_merged_as_the_general_case_would() {
        let facts = |mut o: Observation| {
            o.facts = [("serial", "A1"), ("model", "X"), ("serial", "B2")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            o
        };
        for probe in [Probe::Icmp, Probe::Tcp(554), Probe::Plugin("axis".into())] {
            for o in [
                facts(Observation::up()).with_metric(vigie_core::observation::Metric::new(
                    "network.icmp.rtt",
                    0.002,
                )),
                facts(Observation::down("no answer to 3 ICMP echo requests")),
                Observation::unknown("garbage"),
            ] {
                assert_eq!(
                    only(&probe, o.clone()),
                    merge(vec![(probe.to_string(), o)]),
                    "{probe}"
                );
            }
        }
    }

    #[test]
    fn merge_prefers_up_then_down_and_keeps_failures_visible() {
        let up = merge(vec![
            ("icmp".into(), Observation::up()),
            ("agent".into(), Observation::unknown("HTTP 401")),
        ]);
        assert_eq!(up.status, ProbeStatus::Up);
        assert_eq!(
            up.facts,
            vec![("probe agent".to_string(), "HTTP 401".to_string())]
        );
        let down = merge(vec![
            ("tcp:554".into(), Observation::down("refused")),
            ("rtsp".into(), Observation::unknown("x")),
        ]);
        assert_eq!(
            down.status,
            ProbeStatus::Down {
                reason: "tcp:554: refused".into()
            }
        );
        let unknown = merge(vec![("agent".into(), Observation::unknown("garbage"))]);
        assert_eq!(
            unknown.status,
            ProbeStatus::Unknown {
                reason: "agent: garbage".into()
            }
        );
    }
}
