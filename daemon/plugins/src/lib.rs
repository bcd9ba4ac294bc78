//! The plugin host: runs vendor probe plugins, WebAssembly components of the WIT package
//! `vigie:probe` (see `plugin-sdk/wit/probe.wit`), sandboxed with wasmtime. The only module
//! that knows wasmtime.
//!
//! One shared [`wasmtime::Engine`] with the pooling allocator and epoch interruption; each
//! plugin is compiled once (and cached on disk by wasmtime) into an `InstancePre`; every call
//! gets a fresh store and instance, so nothing leaks between equipment. Calls run on a
//! dedicated multi-thread tokio runtime, never on an actix arbiter, under a wall-clock
//! deadline, a memory cap, an output cap, with no filesystem and no network of their own.

mod capabilities;
mod sandbox;

pub use capabilities::{CapError, Grant, MAX_HTTP_BODY};
pub use sandbox::Limits;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use vigie_core::clock::Clock;
use vigie_core::config::{EquipmentConfig, EquipmentKind};
use vigie_core::observation::Observation;

/// Version of the WIT package `vigie:probe` this daemon runs.
pub const API_VERSION: &str = "0.1.0";

/// Why a plugin file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    /// The file cannot be read.
    #[error("{0}: cannot be read: {1}")]
    Read(PathBuf, String),
    /// Not a valid WebAssembly component.
    #[error("{0}: not a valid WebAssembly component: {1}")]
    Invalid(PathBuf, String),
    /// A component that is not a vigie probe plugin.
    #[error("{0}: does not export `vigie:probe/plugin` (is it a vigie probe plugin?)")]
    NotAPlugin(PathBuf),
    /// Built for another version of the plugin API.
    #[error(
        "{0}: built for plugin API vigie:probe@{1}; this daemon runs vigie:probe@{API_VERSION} \
         (rebuild it with a matching vigie-plugin-sdk)"
    )]
    Version(PathBuf, String),
    /// Imports something the daemon does not provide.
    #[error("{0}: imports what the daemon does not provide: {1}")]
    Imports(PathBuf, String),
    /// `describe` failed or returned something unusable.
    #[error("{0}: describe failed: {1}")]
    Describe(PathBuf, String),
    /// Another file already provides a plugin of that name.
    #[error("{0}: plugin `{1}` is already loaded from {2}")]
    Duplicate(PathBuf, String, PathBuf),
}

/// A parameter a plugin takes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParamInfo {
    /// Name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Whether it must be set.
    pub required: bool,
    /// Default value.
    pub default: Option<String>,
}

/// What a loaded plugin says of itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PluginInfo {
    /// Name (`plugin:NAME` in configs).
    pub name: String,
    /// Its version.
    pub version: String,
    /// Vendors.
    pub vendors: Vec<String>,
    /// Models.
    pub models: Vec<String>,
    /// Equipment kinds, as written in configs.
    pub kinds: Vec<String>,
    /// Parameters.
    pub params: Vec<ParamInfo>,
    /// Plugin API version it was built for.
    pub api_version: String,
    /// File it was loaded from.
    pub file: PathBuf,
    /// Size of the file in bytes.
    pub size: u64,
    /// Where it comes from.
    pub origin: Origin,
}

/// Where a loaded plugin comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Embedded in the binary.
    BuiltIn,
    /// A file of the plugins directory (or given on the command line).
    Directory,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::BuiltIn => "built-in",
            Origin::Directory => "directory",
        })
    }
}

pub use vigie_collectors::recorder::{ChannelStatus, PluginOutcome};

/// A plugin ready to run.
pub(crate) struct Loaded {
    info: PluginInfo,
    pre: sandbox::Pre,
    modified: Option<SystemTime>,
    /// Calls of this plugin that may run at once ([`Limits::per_plugin`]).
    slots: tokio::sync::Semaphore,
}

/// Loads, swaps and runs plugins. Cheap to clone.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

struct Inner {
    sandbox: sandbox::Sandbox,
    plugins: RwLock<BTreeMap<String, Arc<Loaded>>>,
    /// Plugins embedded in the binary, by name: a directory plugin of the same name wins.
    builtins: RwLock<BTreeMap<String, Arc<Loaded>>>,
    /// Embedded plugins registered and not compiled yet, by name: compiled on first use.
    registered: std::sync::Mutex<BTreeMap<String, (String, &'static [u8])>>,
    /// Files refused: why, and the modification time the file had then.
    refused: RwLock<BTreeMap<PathBuf, (PluginError, Option<SystemTime>)>>,
    /// Bumps on every load, refusal and unload.
    changes: tokio::sync::watch::Sender<u64>,
    dir: RwLock<Option<PathBuf>>,
    clock: Clock,
    /// The daemon's listening sockets, which plugins never reach.
    own_sockets: RwLock<Arc<Vec<std::net::SocketAddr>>>,
}

impl PluginHost {
    /// A host with no plugin loaded. `cache_dir` keeps compiled plugins across restarts.
    pub fn new(clock: Clock, limits: Limits, cache_dir: Option<&Path>) -> Result<Self, String> {
        Ok(PluginHost {
            inner: Arc::new(Inner {
                sandbox: sandbox::Sandbox::new(clock, limits, cache_dir)?,
                plugins: RwLock::default(),
                builtins: RwLock::default(),
                registered: std::sync::Mutex::default(),
                refused: RwLock::default(),
                changes: tokio::sync::watch::channel(0).0,
                dir: RwLock::default(),
                clock,
                own_sockets: RwLock::default(),
            }),
        })
    }

    /// Declares the daemon's own listening sockets (its API): plugins are refused them even
    /// on an equipment at the same address.
    pub fn set_own_sockets(&self, sockets: Vec<std::net::SocketAddr>) {
        *self
            .inner
            .own_sockets
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(sockets);
    }

    /// The sockets given to [`PluginHost::set_own_sockets`].
    pub fn own_sockets(&self) -> Arc<Vec<std::net::SocketAddr>> {
        Arc::clone(
            &self
                .inner
                .own_sockets
                .read()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Sets the per-call deadline (the daemon's probe budget).
    pub fn set_deadline(&self, deadline: Duration) {
        self.inner.sandbox.set_deadline(deadline);
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.inner.sandbox.limits()
    }

    /// Compiles and validates a plugin file without loading it.
    pub fn inspect(&self, file: &Path) -> Result<PluginInfo, PluginError> {
        self.compile(file).map(|l| l.info)
    }

    fn compile(&self, file: &Path) -> Result<Loaded, PluginError> {
        let meta = std::fs::metadata(file)
            .map_err(|e| PluginError::Read(file.to_path_buf(), e.to_string()))?;
        if meta.len() > sandbox::MAX_PLUGIN_FILE {
            return Err(PluginError::Read(
                file.to_path_buf(),
                format!(
                    "{} bytes is larger than the {} MiB a plugin may be",
                    meta.len(),
                    sandbox::MAX_PLUGIN_FILE >> 20
                ),
            ));
        }
        let bytes = std::fs::read(file)
            .map_err(|e| PluginError::Read(file.to_path_buf(), e.to_string()))?;
        let (pre, info) = self.inner.sandbox.prepare(file, &bytes)?;
        Ok(self.loaded_from(info, pre, meta.modified().ok()))
    }

    /// A compiled plugin ready to run, with its slots ([`Limits::per_plugin`]).
    fn loaded_from(
        &self,
        info: PluginInfo,
        pre: sandbox::Pre,
        modified: Option<SystemTime>,
    ) -> Loaded {
        Loaded {
            info,
            pre,
            modified,
            slots: tokio::sync::Semaphore::new(
                self.inner.sandbox.limits().per_plugin.max(1) as usize
            ),
        }
    }

    /// Loads (or replaces) the plugin in `file`. On error the plugin previously loaded from
    /// that file keeps running and the error is kept for [`PluginHost::refused`].
    pub fn load(&self, file: &Path) -> Result<PluginInfo, PluginError> {
        let modified = std::fs::metadata(file).and_then(|m| m.modified()).ok();
        self.load_at(file, modified)
    }

    fn load_at(
        &self,
        file: &Path,
        modified: Option<SystemTime>,
    ) -> Result<PluginInfo, PluginError> {
        let result = self.compile(file).and_then(|loaded| {
            let mut plugins = self
                .inner
                .plugins
                .write()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(other) = plugins.get(&loaded.info.name)
                && other.info.file != loaded.info.file
                && other.info.file.exists()
            {
                return Err(PluginError::Duplicate(
                    file.to_path_buf(),
                    loaded.info.name.clone(),
                    other.info.file.clone(),
                ));
            }
            // A file that now declares another name replaces its old plugin.
            plugins.retain(|_, p| p.info.file != loaded.info.file);
            let info = loaded.info.clone();
            plugins.insert(info.name.clone(), Arc::new(loaded));
            Ok(info)
        });
        let mut refused = self
            .inner
            .refused
            .write()
            .unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(info) => {
                refused.remove(file);
                tracing::info!(
                    plugin = %info.name,
                    version = %info.version,
                    file = %file.display(),
                    "plugin loaded"
                );
            }
            Err(e) => {
                refused.insert(file.to_path_buf(), (e.clone(), modified));
                tracing::error!("plugin refused, the previous version (if any) keeps running: {e}");
            }
        }
        drop(refused);
        self.inner.changes.send_modify(|n| *n += 1);
        result
    }

    /// Unloads the plugin loaded from `file`, if any, and forgets a refusal of it.
    pub fn unload(&self, file: &Path) {
        let mut plugins = self
            .inner
            .plugins
            .write()
            .unwrap_or_else(|p| p.into_inner());
        plugins.retain(|name, p| {
            let keep = p.info.file != file;
            if !keep {
                tracing::info!(plugin = %name, file = %file.display(), "plugin unloaded");
            }
            keep
        });
        drop(plugins);
        self.inner
            .refused
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(file);
        self.inner.changes.send_modify(|n| *n += 1);
    }

    /// Follows the plugin set: bumps on every load, refusal and unload.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Brings the plugins in line with the files of the plugins directory (path and
    /// modification time): loads new and changed files and unloads those gone. A refused
    /// file is compiled again only when it changes, or when a plugin was unloaded (it may
    /// have duplicated that plugin's name).
    pub fn sync(&self, present: &[(PathBuf, Option<SystemTime>)]) {
        let loaded: BTreeMap<PathBuf, Option<SystemTime>> = {
            let plugins = self.inner.plugins.read().unwrap_or_else(|p| p.into_inner());
            plugins
                .values()
                .map(|p| (p.info.file.clone(), p.modified))
                .collect()
        };
        let refused: BTreeMap<PathBuf, Option<SystemTime>> = {
            let refused = self.inner.refused.read().unwrap_or_else(|p| p.into_inner());
            refused.iter().map(|(f, (_, m))| (f.clone(), *m)).collect()
        };
        let is_present = |f: &PathBuf| present.iter().any(|(p, _)| p == f);
        let mut unloaded = false;
        for file in loaded.keys().chain(refused.keys()) {
            if !is_present(file) {
                unloaded |= loaded.contains_key(file);
                self.unload(file);
            }
        }
        for (file, modified) in present {
            let same =
                |m: Option<&Option<SystemTime>>| m.is_some_and(|m| m.is_some() && m == modified);
            if same(loaded.get(file)) || (!unloaded && same(refused.get(file))) {
                continue;
            }
            // Errors are logged and kept; the version loaded before keeps running.
            let _ = self.load_at(file, *modified);
        }
    }

    /// Registers a plugin embedded in the binary, by its file name (`vigie_plugin_NAME.wasm`
    /// names plugin `NAME`); it is compiled when first used or listed. A plugin of the same
    /// name in the plugins directory overrides it while that file is there.
    pub fn register_builtin(&self, file_name: &str, bytes: &'static [u8]) {
        let name = file_name
            .trim_start_matches("vigie_plugin_")
            .trim_end_matches(".wasm")
            .replace('_', "-");
        self.inner
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, (file_name.to_string(), bytes));
    }

    /// Compiles the registered built-in plugin `name` (or every one), once.
    fn compile_builtins(&self, only: Option<&str>) {
        let mut registered = self
            .inner
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let names: Vec<String> = registered
            .keys()
            .filter(|n| only.is_none_or(|o| o == n.as_str()))
            .cloned()
            .collect();
        for name in names {
            let Some((file_name, bytes)) = registered.remove(&name) else {
                continue;
            };
            let path = PathBuf::from(format!("(built in)/{file_name}"));
            match self.inner.sandbox.prepare(&path, bytes) {
                Ok((pre, mut info)) => {
                    info.origin = Origin::BuiltIn;
                    tracing::debug!(plugin = %info.name, version = %info.version, "built-in plugin compiled");
                    let loaded = self.loaded_from(info, pre, None);
                    self.inner
                        .builtins
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(loaded.info.name.clone(), Arc::new(loaded));
                }
                Err(e) => tracing::error!("built-in plugin {file_name} cannot be used: {e}"),
            }
        }
    }

    /// The plugins in use, by name: those of the plugins directory, and the built-in ones no
    /// directory plugin overrides.
    pub fn loaded(&self) -> Vec<PluginInfo> {
        self.compile_builtins(None);
        let plugins = self.inner.plugins.read().unwrap_or_else(|p| p.into_inner());
        let builtins = self
            .inner
            .builtins
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<PluginInfo> = plugins.values().map(|p| p.info.clone()).collect();
        out.extend(
            builtins
                .iter()
                .filter(|(name, _)| !plugins.contains_key(*name))
                .map(|(_, p)| p.info.clone()),
        );
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The built-in plugins a directory plugin overrides now, by name (from their names
    /// alone: nothing is compiled for it).
    pub fn overridden(&self) -> Vec<String> {
        let plugins = self.inner.plugins.read().unwrap_or_else(|p| p.into_inner());
        let registered = self
            .inner
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let builtins = self
            .inner
            .builtins
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<String> = registered
            .keys()
            .chain(builtins.keys())
            .filter(|n| plugins.contains_key(*n))
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The files refused, with why.
    pub fn refused(&self) -> Vec<PluginError> {
        let refused = self.inner.refused.read().unwrap_or_else(|p| p.into_inner());
        refused.values().map(|(e, _)| e.clone()).collect()
    }

    /// Records the plugins directory (for messages naming the files).
    pub fn set_dir(&self, dir: &Path) {
        *self.inner.dir.write().unwrap_or_else(|p| p.into_inner()) = Some(dir.to_path_buf());
    }

    fn get(&self, name: &str) -> Option<Arc<Loaded>> {
        if let Some(p) = self
            .inner
            .plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Some(Arc::clone(p));
        }
        self.compile_builtins(Some(name));
        let builtins = self
            .inner
            .builtins
            .read()
            .unwrap_or_else(|p| p.into_inner());
        builtins.get(name).cloned()
    }

    fn not_loaded(&self, name: &str) -> String {
        let dir = self.inner.dir.read().unwrap_or_else(|p| p.into_inner());
        let refused = self.inner.refused.read().unwrap_or_else(|p| p.into_inner());
        let mut reason = match dir.as_ref() {
            Some(d) => format!(
                "plugin `{name}` is not loaded (no plugin of that name in {})",
                d.display()
            ),
            None => format!("plugin `{name}` is not loaded (no plugins directory)"),
        };
        for (e, _) in refused.values() {
            reason.push_str(&format!("; refused: {e}"));
        }
        reason
    }

    fn grant(&self, name: &str, eq: &EquipmentConfig, timeout: Duration) -> Grant {
        Grant {
            plugin: name.to_string(),
            equipment: eq.id.to_string(),
            address: eq.address_str().to_string(),
            credentials: eq.credentials.clone(),
            snmp: eq.snmp.clone(),
            timeout,
            clock: self.inner.clock,
            ports: Vec::new(),
            own_sockets: self.own_sockets(),
            tls_trust: eq.tls_trust.clone(),
            session: Arc::default(),
        }
    }

    /// Runs plugin `name` on equipment `eq` with `params` (the equipment's
    /// `plugin_params`). The call runs on the plugin runtime; the returned future only
    /// waits for its result, so it can be awaited from an actix arbiter.
    pub fn collect(
        &self,
        name: &str,
        eq: &Arc<EquipmentConfig>,
        timeout: Duration,
    ) -> impl std::future::Future<Output = PluginOutcome> + use<> {
        let plugin = self.get(name);
        let missing = plugin.is_none().then(|| self.not_loaded(name));
        let grant = self.grant(name, eq, timeout);
        let params = eq.plugin_params.clone();
        let kind = eq.kind;
        let task = plugin.map(|p| self.inner.sandbox.spawn_collect(p, grant, kind, params));
        async move {
            match (task, missing) {
                (Some(t), _) => t.await,
                (None, reason) => {
                    PluginOutcome::failed(Observation::unknown(&reason.unwrap_or_default()))
                }
            }
        }
    }

    /// Runs plugin `name` on `eq` on the caller's tokio runtime (no hop to the plugin
    /// runtime): the cost of one instantiate + collect + drop, for benchmarks. The daemon
    /// uses [`PluginHost::collect`].
    pub async fn collect_inline(
        &self,
        name: &str,
        eq: &Arc<EquipmentConfig>,
        timeout: Duration,
    ) -> PluginOutcome {
        let Some(plugin) = self.get(name) else {
            return PluginOutcome::failed(Observation::unknown(&self.not_loaded(name)));
        };
        let grant = self.grant(name, eq, timeout);
        self.inner
            .sandbox
            .collect_inline(plugin, grant, eq.kind, eq.plugin_params.clone())
            .await
    }

    /// Runs plugin file `file` once on a device, outside any config (for
    /// `vigie plugin run`).
    pub async fn run_file(
        &self,
        file: &Path,
        grant: Grant,
        kind: EquipmentKind,
        params: Vec<(String, String)>,
    ) -> Result<PluginOutcome, PluginError> {
        let loaded = Arc::new(self.compile(file)?);
        Ok(self
            .inner
            .sandbox
            .spawn_collect(loaded, grant, kind, params)
            .await)
    }
}

impl vigie_collectors::PluginRunner for PluginHost {
    fn collect(
        &self,
        name: &str,
        eq: &Arc<EquipmentConfig>,
        timeout: Duration,
    ) -> futures::future::LocalBoxFuture<'static, PluginOutcome> {
        Box::pin(PluginHost::collect(self, name, eq, timeout))
    }
}
