//! The collection seam: equipment actors ask a [`Collector`] for an observation and receive
//! the result as a message. Real collectors (ICMP, SNMP, heartbeats, agents, WASM probes)
//! implement the trait; [`ScriptedCollector`] replays a scripted world for tests and demos.

use futures::future::LocalBoxFuture;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use vigie_core::config::EquipmentConfig;
use vigie_core::observation::Observation;

/// Collects one equipment. Implementations must not block: the returned future does the I/O
/// and is run as a task of the equipment's arbiter, outside the actor.
pub trait Collector: Send + Sync + 'static {
    /// Starts a collection of `equipment`; the future yields its observation.
    fn collect(&self, equipment: &Arc<EquipmentConfig>) -> LocalBoxFuture<'static, Observation>;

    /// Drops what the collector keeps of an equipment removed from the config (its pushed
    /// heartbeat, its recorder's channel report): memory follows the fleet.
    fn forget(&self, _equipment: &vigie_core::config::EquipmentId) {}
}

/// What a scripted equipment does when collected.
#[derive(Debug, Clone)]
pub enum Script {
    /// Answers this observation.
    Answer(Observation),
    /// Panics while starting the collection (tests the actor's supervision).
    Panic,
    /// Never answers (tests the probe timeout).
    Hang,
    /// Answers the first observation, then the second, and so on, one per collection (a
    /// flapping equipment); the counter is shared by the clones of the script.
    Alternate(
        Arc<std::sync::atomic::AtomicU64>,
        Box<(Observation, Observation)>,
    ),
    /// Answers this observation after this long (a slow device or plugin).
    Slow(std::time::Duration, Observation),
}

impl Script {
    /// A flapping equipment: `first`, then `second`, and so on.
    pub fn alternate(first: Observation, second: Observation) -> Script {
        Script::Alternate(Arc::default(), Box::new((first, second)))
    }
}

/// How often the world file is looked at.
const WORLD_POLL: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Debug)]
struct World {
    default: Observation,
    scripts: HashMap<String, Script>,
    calls: HashMap<String, u64>,
    /// Whether collections are counted per equipment (off for fleet-size benchmarks).
    per_equipment: bool,
    total: u64,
    file: Option<(PathBuf, Option<SystemTime>)>,
}

/// A world file for `vigie run --simulate`: a default observation and one per equipment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    #[serde(default)]
    default: Option<Observation>,
    #[serde(default)]
    equipment: HashMap<String, Observation>,
}

/// Why a world file was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// It cannot be read.
    #[error("cannot read the simulation file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// It is not valid.
    #[error("invalid simulation file {0}: {1}")]
    Parse(PathBuf, String),
}

/// A collector answering from a script: set by tests, or read from a world file that is
/// re-read whenever it changes.
#[derive(Debug, Clone)]
pub struct ScriptedCollector {
    world: Arc<Mutex<World>>,
}

impl Default for ScriptedCollector {
    fn default() -> Self {
        Self::new(Observation::up())
    }
}

impl ScriptedCollector {
    /// Every equipment answers `default` until scripted otherwise.
    pub fn new(default: Observation) -> Self {
        ScriptedCollector {
            world: Arc::new(Mutex::new(World {
                default,
                scripts: HashMap::new(),
                calls: HashMap::new(),
                per_equipment: true,
                total: 0,
                file: None,
            })),
        }
    }

    /// A collector replaying the world file at `path`. A thread of its own looks at the file
    /// four times a second and reads it again when it changed, so collections never touch the
    /// disk; the thread ends with the collector.
    pub fn from_file(path: &Path) -> Result<Self, WorldError> {
        let me = Self::default();
        {
            let mut w = me.lock();
            w.file = Some((path.to_path_buf(), None));
            reload_world(&mut w)?;
        }
        let world = Arc::downgrade(&me.world);
        std::thread::Builder::new()
            .name("vigie-simulate".into())
            .spawn(move || {
                while let Some(w) = world.upgrade() {
                    let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = reload_world(&mut w) {
                        tracing::warn!("{e}; keeping the previous simulation");
                    }
                    drop(w);
                    std::thread::sleep(WORLD_POLL);
                }
            })
            .map_err(|e| WorldError::Read(path.to_path_buf(), e))?;
        Ok(me)
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Scripts one equipment.
    pub fn set(&self, id: &str, script: Script) {
        self.lock().scripts.insert(id.to_string(), script);
    }

    /// Scripts one equipment's answer.
    pub fn answer(&self, id: &str, obs: Observation) {
        self.set(id, Script::Answer(obs));
    }

    /// Changes the default answer.
    pub fn set_default(&self, obs: Observation) {
        self.lock().default = obs;
    }

    /// How many collections were started in all.
    pub fn total_calls(&self) -> u64 {
        self.lock().total
    }

    /// Stops counting collections per equipment (only the total is kept), so the collector
    /// holds nothing per equipment.
    pub fn without_call_log(self) -> Self {
        {
            let mut w = self.lock();
            w.per_equipment = false;
            w.calls.clear();
        }
        self
    }

    /// How many collections of `id` were started.
    pub fn calls(&self, id: &str) -> u64 {
        self.lock().calls.get(id).copied().unwrap_or(0)
    }
}

fn reload_world(w: &mut World) -> Result<(), WorldError> {
    let Some((path, seen)) = &w.file else {
        return Ok(());
    };
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    if mtime.is_some() && mtime == *seen {
        return Ok(());
    }
    let path = path.clone();
    let text = std::fs::read_to_string(&path).map_err(|e| WorldError::Read(path.clone(), e))?;
    let file: WorldFile =
        toml::from_str(&text).map_err(|e| WorldError::Parse(path.clone(), e.to_string()))?;
    w.file = Some((path, mtime));
    if let Some(d) = file.default {
        w.default = d;
    }
    w.scripts = file
        .equipment
        .into_iter()
        .map(|(k, v)| (k, Script::Answer(v)))
        .collect();
    Ok(())
}

impl Collector for ScriptedCollector {
    fn forget(&self, equipment: &vigie_core::config::EquipmentId) {
        self.lock().calls.remove(equipment.as_str());
    }

    fn collect(&self, equipment: &Arc<EquipmentConfig>) -> LocalBoxFuture<'static, Observation> {
        let script = {
            let mut w = self.lock();
            w.total += 1;
            if w.per_equipment {
                *w.calls.entry(equipment.id.to_string()).or_insert(0) += 1;
            }
            w.scripts
                .get(equipment.id.as_str())
                .cloned()
                .unwrap_or_else(|| Script::Answer(w.default.clone()))
        };
        match script {
            Script::Answer(obs) => Box::pin(std::future::ready(obs)),
            Script::Hang => Box::pin(std::future::pending()),
            Script::Alternate(n, pair) => {
                let k = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (first, second) = *pair;
                Box::pin(std::future::ready(if k % 2 == 0 { first } else { second }))
            }
            Script::Slow(after, obs) => Box::pin(async move {
                tokio::time::sleep(after).await;
                obs
            }),
            Script::Panic => panic!("scripted panic while collecting {}", equipment.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_core::observation::ProbeStatus;

    fn equipment() -> Arc<EquipmentConfig> {
        let sources = vigie_core::config::Sources {
            main: Some("[clients.c]\nname = \"C\"\n".into()),
            sites: vec![(
                PathBuf::from("sites/s.toml"),
                "[site]\nname = \"S\"\nclient = \"c\"\ntimezone = \"UTC\"\n\n[[equipment]]\nid = \"cam\"\nkind = \"camera\"\naddress = \"127.0.0.1\"\n".into(),
            )],
            unreadable: Vec::new(),
            dir: None,
        };
        let cfg = vigie_core::config::load_sources(&sources).expect("config");
        let site = cfg.sites.values().next().expect("site");
        Arc::clone(site.equipment.values().next().expect("equipment"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_flapping_script_alternates_and_a_slow_one_answers_after_its_delay() {
        let eq = equipment();
        let sim = ScriptedCollector::new(Observation::up());
        sim.set(
            "cam",
            Script::alternate(Observation::down("silent"), Observation::up()),
        );
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(matches!(sim.collect(&eq).await.status, ProbeStatus::Up));
        }
        assert_eq!(seen, [false, true, false, true]);

        sim.set(
            "cam",
            Script::Slow(std::time::Duration::from_secs(2), Observation::down("late")),
        );
        let start = tokio::time::Instant::now();
        let obs = sim.collect(&eq).await;
        assert!(matches!(obs.status, ProbeStatus::Down { .. }));
        assert_eq!(start.elapsed(), std::time::Duration::from_secs(2));
    }
}
