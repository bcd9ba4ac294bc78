//! The wasmtime side of the plugin host: one engine with the pooling allocator and epoch
//! interruption, the linker (the `host` interface and an empty WASI), and one call: a fresh
//! store and instance under a deadline, a memory cap and an output cap.

use super::capabilities::{CapError, Grant, MAX_LOG_LINES, Request};
use super::{ChannelStatus, Loaded, ParamInfo, PluginError, PluginInfo, PluginOutcome};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use vigie_collectors::snmp::Val;
use vigie_core::clock::Clock;
use vigie_core::config::EquipmentKind;
use vigie_core::observation::{Metric, Observation, ProbeStatus};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

#[allow(missing_docs, clippy::all)]
mod wit {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit",
        world: "probe",
        imports: { default: async },
        exports: { default: async },
    });
}

use wit::vigie::probe::types as t;

/// A plugin compiled and linked, ready to instantiate.
pub(crate) type Pre = wit::ProbePre<CallState>;

/// Largest plugin file accepted.
pub const MAX_PLUGIN_FILE: u64 = 64 << 20;
/// How much of a pooled instance slot's memory (and of its tables) stays resident between
/// calls, reset in place: more than a probe plugin's usual footprint (about 1 MiB).
const KEEP_RESIDENT: usize = 2 << 20;

/// Interval of the epoch ticker: the granularity of deadlines.
const TICK: Duration = Duration::from_millis(5);
/// Deadline of `describe` when a plugin is loaded.
const DESCRIBE_DEADLINE: Duration = Duration::from_secs(2);
/// What a plugin may write to stderr (its panic message) before being stopped.
const STDERR_CAP: usize = 16 << 10;

/// The limits every plugin call runs under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Wall-clock deadline of one collection, host I/O included.
    pub deadline: Duration,
    /// Memory one instance may use, all its linear memories together, in bytes.
    pub memory: usize,
    /// Most calls running at once (instances in the pool).
    pub concurrency: u32,
    /// Most calls of one plugin running at once: a slow or hostile plugin holds at most
    /// this many of the pool's instances and delays only its own equipment.
    pub per_plugin: u32,
    /// Most metrics in one report.
    pub max_metrics: usize,
    /// Most channels in one report.
    pub max_channels: usize,
    /// Most facts and attributes in one report or metric.
    pub max_facts: usize,
    /// Longest string in a report.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(9),
            memory: 32 << 20,
            concurrency: 64,
            per_plugin: 16,
            max_metrics: 4096,
            max_channels: 1024,
            max_facts: 64,
            max_text: 4096,
        }
    }
}

/// Memory and table growth allowed to one instance.
struct Limiter {
    /// The instance's budget, all linear memories together.
    memory: usize,
    /// What its memories hold now.
    used: usize,
    hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called for each memory as it is created (current 0) and each time it grows: the
        // sum over the instance's memories is what counts.
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.memory {
            self.hit = true;
            return Ok(false);
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The data of one store: one call of one plugin.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    grant: Option<Grant>,
    /// The daemon's clock (plugins read time through it only).
    clock: Clock,
    /// The epoch callback stopped the call at its deadline.
    past_deadline: bool,
    logs: u32,
    /// Keeps the epoch ticker running while this call's store exists.
    _ticking: Ticking,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn host_error(e: CapError) -> t::HostError {
    match e {
        CapError::Unreachable(m) => t::HostError::Unreachable(m),
        CapError::Timeout(m) => t::HostError::Timeout(m),
        CapError::Forbidden(m) => t::HostError::Forbidden(m),
        CapError::AuthFailed(m) => t::HostError::AuthFailed(m),
        CapError::BadResponse(m) => t::HostError::BadResponse(m),
    }
}

fn varbinds(rows: Vec<(String, Val)>) -> Vec<t::Varbind> {
    rows.into_iter()
        .map(|(oid, v)| t::Varbind {
            oid,
            value: match v {
                Val::Int(i) => t::SnmpValue::Integer(i),
                Val::Uint(u) => t::SnmpValue::Unsigned(u),
                Val::Ticks(x) => t::SnmpValue::Ticks(x),
                Val::Str(s) => t::SnmpValue::Octets(s),
                Val::Oid(o) => t::SnmpValue::Oid(vigie_collectors::snmp::dotted(&o)),
                Val::Missing => t::SnmpValue::Missing,
            },
        })
        .collect()
}

impl CallState {
    fn grant(&self) -> Result<Grant, t::HostError> {
        self.grant.clone().ok_or_else(|| {
            t::HostError::Forbidden("host capabilities are not available during describe".into())
        })
    }
}

impl t::Host for CallState {}

impl wit::vigie::probe::host::Host for CallState {
    async fn http(&mut self, request: t::HttpRequest) -> Result<t::HttpResponse, t::HostError> {
        let g = self.grant()?;
        let r = g
            .http(Request {
                method: request.method,
                url: request.url,
                headers: request.headers,
                body: request.body,
            })
            .await
            .map_err(host_error)?;
        Ok(t::HttpResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
    }

    async fn tcp_probe(
        &mut self,
        port: u16,
        send: Vec<u8>,
        read_max: u32,
    ) -> Result<Vec<u8>, t::HostError> {
        let g = self.grant()?;
        g.tcp_probe(port, send, read_max).await.map_err(host_error)
    }

    async fn snmp_get(&mut self, oids: Vec<String>) -> Result<Vec<t::Varbind>, t::HostError> {
        let g = self.grant()?;
        g.snmp_get(oids).await.map(varbinds).map_err(host_error)
    }

    async fn snmp_walk(&mut self, oid: String) -> Result<Vec<t::Varbind>, t::HostError> {
        let g = self.grant()?;
        g.snmp_walk(oid).await.map(varbinds).map_err(host_error)
    }

    async fn now_ms(&mut self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    async fn log(&mut self, level: t::LogLevel, message: String) {
        self.logs += 1;
        let Some(g) = &self.grant else { return };
        if self.logs > MAX_LOG_LINES {
            if self.logs == MAX_LOG_LINES + 1 {
                g.log(
                    tracing::Level::WARN,
                    "further log lines of this collection dropped",
                );
            }
            return;
        }
        let level = match level {
            t::LogLevel::Debug => tracing::Level::DEBUG,
            t::LogLevel::Info => tracing::Level::INFO,
            t::LogLevel::Warn => tracing::Level::WARN,
            t::LogLevel::Error => tracing::Level::ERROR,
        };
        g.log(level, &message);
    }

    async fn ws_username_token(&mut self) -> Result<t::UsernameToken, t::HostError> {
        let g = self.grant()?;
        let (username, password_digest, nonce, created) =
            g.username_token(None).map_err(host_error)?;
        Ok(t::UsernameToken {
            username,
            password_digest,
            nonce,
            created,
        })
    }

    async fn ws_username_token_at(
        &mut self,
        created_ms: i64,
    ) -> Result<t::UsernameToken, t::HostError> {
        let g = self.grant()?;
        let (username, password_digest, nonce, created) =
            g.username_token(Some(created_ms)).map_err(host_error)?;
        Ok(t::UsernameToken {
            username,
            password_digest,
            nonce,
            created,
        })
    }
}

/// State shared by every call.
struct Shared {
    engine: Engine,
    ticker: Arc<Ticker>,
    clock: Clock,
    linker: Linker<CallState>,
    limits: RwLock<Limits>,
    slots: Semaphore,
}

/// The epoch ticker's switch: the ticker advances the engine's epoch (the granularity of call
/// deadlines) only while plugin calls are in flight, so an idle daemon is not woken every
/// tick.
#[derive(Default)]
pub(crate) struct Ticker {
    state: std::sync::Mutex<TickerState>,
    wake: std::sync::Condvar,
}

#[derive(Default)]
struct TickerState {
    calls: usize,
    stopped: bool,
}

/// Held by a call's store: the ticker runs while one exists.
pub(crate) struct Ticking(Arc<Ticker>);

impl Ticker {
    fn state(&self) -> std::sync::MutexGuard<'_, TickerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A call begins: the ticker runs until the returned guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> Ticking {
        let mut s = self.state();
        s.calls += 1;
        if s.calls == 1 {
            self.wake.notify_all();
        }
        Ticking(Arc::clone(self))
    }

    /// Waits until a call is in flight; `false` once the ticker is stopped.
    pub(crate) fn wait_for_calls(&self) -> bool {
        let mut s = self.state();
        while s.calls == 0 && !s.stopped {
            s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        !s.stopped
    }

    /// Ends the ticker's thread.
    fn stop(&self) {
        self.state().stopped = true;
        self.wake.notify_all();
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.calls = s.calls.saturating_sub(1);
    }
}

/// Owns the plugin runtime's thread and the epoch ticker's; dropping it stops both.
struct RuntimeThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    ticker: Arc<Ticker>,
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.ticker.stop();
    }
}

/// The engine, the linker and the runtime plugin calls run on.
pub(crate) struct Sandbox {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    _thread: RuntimeThread,
}

/// A config kind as the plugin interface names it (exhaustive: a new kind must be mapped).
fn kind_out(k: EquipmentKind) -> t::EquipmentKind {
    match k {
        EquipmentKind::Camera => t::EquipmentKind::Camera,
        EquipmentKind::Nvr => t::EquipmentKind::Nvr,
        EquipmentKind::VmsServer => t::EquipmentKind::VmsServer,
        EquipmentKind::Encoder => t::EquipmentKind::Encoder,
        EquipmentKind::Switch => t::EquipmentKind::Switch,
        EquipmentKind::Router => t::EquipmentKind::Router,
        EquipmentKind::Other => t::EquipmentKind::Other,
    }
}

/// The config kind of a kind a plugin declares (exhaustive, like [`kind_out`]).
fn kind_in(k: t::EquipmentKind) -> EquipmentKind {
    match k {
        t::EquipmentKind::Camera => EquipmentKind::Camera,
        t::EquipmentKind::Nvr => EquipmentKind::Nvr,
        t::EquipmentKind::VmsServer => EquipmentKind::VmsServer,
        t::EquipmentKind::Encoder => EquipmentKind::Encoder,
        t::EquipmentKind::Switch => EquipmentKind::Switch,
        t::EquipmentKind::Router => EquipmentKind::Router,
        t::EquipmentKind::Other => EquipmentKind::Other,
    }
}

/// The config spelling of a kind a plugin declares.
fn kind_name(k: t::EquipmentKind) -> &'static str {
    kind_in(k).name()
}

/// The version of `vigie:probe/plugin` a component exports, if it exports one.
fn exported_api(engine: &Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .exports(engine)
        .find_map(|(name, _)| {
            let rest = name.strip_prefix("vigie:probe/plugin")?;
            Some(rest.strip_prefix('@').unwrap_or("unversioned").to_string())
        })
}

impl Sandbox {
    /// Builds the engine (pooling allocator sized for `limits.concurrency` instances), the
    /// linker, the epoch ticker and the plugin runtime.
    pub fn new(clock: Clock, limits: Limits, cache_dir: Option<&Path>) -> Result<Self, String> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let instances = limits.concurrency + 4;
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .total_stacks(instances)
            .max_memory_size(limits.memory)
            // A finished call's memory and tables are reset in place (only the pages it
            // dirtied, found with PAGEMAP_SCAN where the kernel has it) instead of being
            // handed back with madvise and faulted in again by the next call: the madvise
            // and the TLB shootdowns it caused were a third of a call's cost.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        if let Some(dir) = cache_dir {
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            match wasmtime::Cache::new(cache) {
                Ok(c) => {
                    config.cache(Some(c));
                }
                Err(e) => tracing::warn!(
                    "compiled plugins will not be cached in {}: {e}",
                    dir.display()
                ),
            }
        }
        let engine = Engine::new(&config).map_err(|e| format!("plugin engine: {e}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| format!("plugin linker (WASI): {e}"))?;
        wit::Probe::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| format!("plugin linker: {e}"))?;

        let weak = engine.weak();
        let ticker = Arc::new(Ticker::default());
        let ticking = Arc::clone(&ticker);
        std::thread::Builder::new()
            .name("vigie-plugin-epoch".into())
            .spawn(move || {
                while ticking.wait_for_calls() {
                    let Some(engine) = weak.upgrade() else { break };
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| format!("plugin epoch thread: {e}"))?;

        // Looping plugins yield at every epoch tick and are ready again at once: the I/O
        // driver is polled at each scheduling round so other plugins' host I/O is not starved.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .event_interval(1)
            .global_queue_interval(1)
            .thread_name("vigie-plugin")
            .enable_all()
            .build()
            .map_err(|e| format!("plugin runtime: {e}"))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("vigie-plugin-rt".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                runtime.shutdown_background();
            })
            .map_err(|e| format!("plugin runtime thread: {e}"))?;

        Ok(Sandbox {
            shared: Arc::new(Shared {
                engine,
                ticker: Arc::clone(&ticker),
                clock,
                linker,
                limits: RwLock::new(limits),
                slots: Semaphore::new(limits.concurrency as usize),
            }),
            runtime: handle,
            _thread: RuntimeThread {
                stop: Some(stop),
                ticker,
            },
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.shared.limits()
    }

    /// Sets the per-call deadline.
    pub fn set_deadline(&self, deadline: Duration) {
        self.shared
            .limits
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .deadline = deadline;
    }

    /// Compiles, checks and describes a plugin.
    pub fn prepare(&self, file: &Path, bytes: &[u8]) -> Result<(Pre, PluginInfo), PluginError> {
        let shared = &self.shared;
        let path = file.to_path_buf();
        let component = Component::new(&shared.engine, bytes)
            .map_err(|e| PluginError::Invalid(path.clone(), format!("{e:#}")))?;
        match exported_api(&shared.engine, &component) {
            None => return Err(PluginError::NotAPlugin(path)),
            Some(v) if v != super::API_VERSION => return Err(PluginError::Version(path, v)),
            Some(_) => {}
        }
        let instance_pre = shared
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Imports(path.clone(), format!("{e:#}")))?;
        let pre = Pre::new(instance_pre)
            .map_err(|e| PluginError::Imports(path.clone(), format!("{e:#}")))?;
        let describe = {
            let (shared, pre) = (Arc::clone(shared), pre.clone());
            self.block_on(async move { shared.describe(&pre).await })
        };
        let d = describe
            .ok_or_else(|| {
                PluginError::Describe(path.clone(), "the plugin runtime stopped".into())
            })?
            .map_err(|e| PluginError::Describe(path.clone(), e))?;
        if !vigie_core::util::valid_id(&d.name) {
            return Err(PluginError::Describe(
                path,
                format!(
                    "`{}` is not a valid plugin name (lowercase letters, digits, `-` and `_`)",
                    d.name
                ),
            ));
        }
        let info = PluginInfo {
            name: d.name,
            version: d.version,
            vendors: d.vendors,
            models: d.models,
            kinds: d
                .kinds
                .into_iter()
                .map(|k| kind_name(k).to_string())
                .collect(),
            params: d
                .params
                .into_iter()
                .map(|p| ParamInfo {
                    name: p.name,
                    description: p.description,
                    required: p.required,
                    default: p.default_value,
                })
                .collect(),
            api_version: super::API_VERSION.to_string(),
            file: path,
            size: bytes.len() as u64,
            origin: super::Origin::Directory,
        };
        Ok((pre, info))
    }

    /// Runs a future on the plugin runtime and waits for it from a plain thread or from
    /// another runtime.
    fn block_on<F>(&self, fut: F) -> Option<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().ok()
    }

    /// Starts a collection on the plugin runtime; the future waits for its outcome.
    pub fn spawn_collect(
        &self,
        plugin: Arc<Loaded>,
        grant: Grant,
        kind: EquipmentKind,
        params: Vec<(String, String)>,
    ) -> impl std::future::Future<Output = PluginOutcome> + use<> {
        let shared = Arc::clone(&self.shared);
        let name = plugin.info.name.clone();
        let task = self
            .runtime
            .spawn(async move { shared.collect(&plugin, grant, kind, params).await });
        async move {
            match task.await {
                Ok(outcome) => outcome,
                Err(e) => PluginOutcome::failed(Observation::unknown(&format!(
                    "plugin `{name}` failed: {e}"
                ))),
            }
        }
    }
}

impl Sandbox {
    /// Runs a collection on the caller's tokio runtime instead of the plugin runtime: what
    /// one call costs without the hop between runtimes (benchmarks, one-shot tools).
    pub async fn collect_inline(
        &self,
        plugin: Arc<Loaded>,
        grant: Grant,
        kind: EquipmentKind,
        params: Vec<(String, String)>,
    ) -> PluginOutcome {
        self.shared.collect(&plugin, grant, kind, params).await
    }
}

impl Shared {
    fn limits(&self) -> Limits {
        *self.limits.read().unwrap_or_else(|p| p.into_inner())
    }

    fn store(
        &self,
        grant: Option<Grant>,
        deadline: Duration,
        memory: usize,
    ) -> (Store<CallState>, MemoryOutputPipe) {
        let stderr = MemoryOutputPipe::new(STDERR_CAP);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let mut store = Store::new(
            &self.engine,
            CallState {
                wasi,
                table: ResourceTable::new(),
                limiter: Limiter {
                    memory,
                    used: 0,
                    hit: false,
                },
                grant,
                clock: self.clock,
                past_deadline: false,
                logs: 0,
                _ticking: self.ticker.enter(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        let until = Instant::now() + deadline;
        store.epoch_deadline_callback(move |mut ctx| {
            if Instant::now() >= until {
                ctx.data_mut().past_deadline = true;
                return Err(wasmtime::format_err!("deadline reached"));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);
        (store, stderr)
    }

    async fn describe(&self, pre: &Pre) -> Result<t::Description, String> {
        let memory = self.limits().memory;
        let (mut store, stderr) = self.store(None, DESCRIBE_DEADLINE, memory);
        let call = async {
            let probe = pre.instantiate_async(&mut store).await?;
            probe.vigie_probe_plugin().call_describe(&mut store).await
        };
        match tokio::time::timeout(DESCRIBE_DEADLINE, call).await {
            Ok(Ok(d)) => Ok(d),
            Ok(Err(e)) => Err(explain(&store, &stderr, &e, DESCRIBE_DEADLINE, memory)),
            Err(_) => Err(format!(
                "did not finish within {}",
                vigie_core::util::format_duration(DESCRIBE_DEADLINE)
            )),
        }
    }

    async fn collect(
        &self,
        plugin: &Loaded,
        mut grant: Grant,
        kind: EquipmentKind,
        params: Vec<(String, String)>,
    ) -> PluginOutcome {
        let name = plugin.info.name.clone();
        let params = match apply_params(&plugin.info, params) {
            Ok(p) => p,
            Err(e) => return PluginOutcome::failed(Observation::unknown(&e)),
        };
        grant.ports = match crate::capabilities::allowed_ports(&params) {
            Ok(p) => p,
            Err(e) => {
                return PluginOutcome::failed(Observation::unknown(&format!(
                    "plugin `{name}`: {e}"
                )));
            }
        };
        // The plugin's own slots first: its queue never holds the pool's instances.
        let Ok(_own) = plugin.slots.acquire().await else {
            return PluginOutcome::failed(Observation::unknown("the plugin host is stopping"));
        };
        let Ok(_slot) = self.slots.acquire().await else {
            return PluginOutcome::failed(Observation::unknown("the plugin host is stopping"));
        };
        let limits = self.limits();
        let target = t::Target {
            equipment_id: grant.equipment.clone(),
            address: grant.address.clone(),
            kind: kind_out(kind),
            params,
            username: grant.credentials.as_ref().and_then(|c| c.username.clone()),
        };
        // The equipment's budget bounds the whole call, host I/O included.
        let deadline = grant.timeout;
        let (mut store, stderr) = self.store(Some(grant), deadline, limits.memory);
        let call = async {
            let probe = plugin.pre.instantiate_async(&mut store).await?;
            probe
                .vigie_probe_plugin()
                .call_collect(&mut store, &target)
                .await
        };
        let result = tokio::time::timeout(deadline, call).await;
        let observation = match result {
            Err(_) => Observation::unknown(&format!(
                "plugin `{name}` did not finish within {} and was stopped",
                vigie_core::util::format_duration(deadline)
            )),
            Ok(Err(e)) => Observation::unknown(&format!(
                "plugin `{name}` {}",
                explain(&store, &stderr, &e, deadline, limits.memory)
            )),
            Ok(Ok(Err(e))) => match e {
                t::ProbeError::Unreachable(m) => Observation::down(&m),
                t::ProbeError::AuthFailed(m) => {
                    Observation::unknown(&format!("authentication failed: {m}"))
                }
                t::ProbeError::Unsupported(m) => Observation::unknown(&format!("unsupported: {m}")),
                t::ProbeError::BadResponse(m) => {
                    Observation::unknown(&format!("bad response: {m}"))
                }
            },
            Ok(Ok(Ok(report))) => return convert(&name, report, &limits),
        };
        PluginOutcome::failed(observation)
    }
}

/// Why a call trapped, in words.
fn explain(
    store: &Store<CallState>,
    stderr: &MemoryOutputPipe,
    e: &wasmtime::Error,
    deadline: Duration,
    memory: usize,
) -> String {
    let data = store.data();
    if data.past_deadline {
        return format!(
            "ran past its deadline of {} and was stopped",
            vigie_core::util::format_duration(deadline)
        );
    }
    if data.limiter.hit {
        return format!(
            "exceeded its memory limit of {} MiB and was stopped",
            memory >> 20
        );
    }
    let said = String::from_utf8_lossy(&stderr.contents())
        .trim()
        .to_string();
    // A Rust panic prints `thread '...' panicked at FILE:LINE:COL:` then the message.
    let lines: Vec<&str> = said.lines().collect();
    let said: String = match lines.iter().position(|l| l.contains("panicked")) {
        Some(i) => lines[i..]
            .iter()
            .take(2)
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        None => said.clone(),
    }
    .chars()
    .take(300)
    .collect();
    let trap = e
        .downcast_ref::<wasmtime::Trap>()
        .map(|t| t.to_string())
        .unwrap_or_else(|| e.to_string());
    if said.is_empty() {
        format!("crashed: {trap}")
    } else {
        format!("crashed: {said} ({trap})")
    }
}

/// The equipment's parameters with the plugin's defaults; unknown or missing ones are an
/// error naming them.
fn apply_params(
    info: &PluginInfo,
    given: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, String> {
    let known: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
    if let Some((bad, _)) = given.iter().find(|(n, _)| !known.contains(&n.as_str())) {
        let takes = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        return Err(format!(
            "plugin `{}` does not take parameter `{bad}` (it takes: {takes})",
            info.name
        ));
    }
    let mut out = given;
    for p in &info.params {
        if out.iter().any(|(n, _)| *n == p.name) {
            continue;
        }
        match (&p.default, p.required) {
            (Some(d), _) => out.push((p.name.clone(), d.clone())),
            (None, true) => {
                return Err(format!(
                    "plugin `{}` needs parameter `{}` ({}) in plugin_params",
                    info.name, p.name, p.description
                ));
            }
            (None, false) => {}
        }
    }
    Ok(out)
}

fn clip(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Checks a report against the output caps and turns it into an observation.
fn convert(name: &str, r: t::Report, limits: &Limits) -> PluginOutcome {
    let too_much = |what: &str, n: usize, max: usize| {
        PluginOutcome::failed(Observation::unknown(&format!(
            "plugin `{name}` returned too much: {n} {what} (at most {max})"
        )))
    };
    if r.metrics.len() > limits.max_metrics {
        return too_much("metrics", r.metrics.len(), limits.max_metrics);
    }
    if r.children.len() > limits.max_channels {
        return too_much("channels", r.children.len(), limits.max_channels);
    }
    if r.facts.extra.len() > limits.max_facts {
        return too_much("facts", r.facts.extra.len(), limits.max_facts);
    }
    let text = |s: String| clip(s, limits.max_text);
    let detail = r.detail.map(text);
    let status = match r.status {
        t::Status::Up => ProbeStatus::Up,
        t::Status::Down => ProbeStatus::Down {
            reason: detail.unwrap_or_else(|| format!("plugin `{name}` reports it down")),
        },
        t::Status::Unknown => ProbeStatus::Unknown {
            reason: detail.unwrap_or_else(|| format!("plugin `{name}` cannot tell")),
        },
    };
    let mut metrics = Vec::with_capacity(r.metrics.len());
    for m in r.metrics {
        if m.attributes.len() > limits.max_facts {
            return too_much(
                "attributes on one metric",
                m.attributes.len(),
                limits.max_facts,
            );
        }
        if m.name.is_empty() || !m.value.is_finite() {
            continue;
        }
        metrics.push(Metric {
            name: clip(m.name, 128),
            attributes: m
                .attributes
                .into_iter()
                .map(|(k, v)| (clip(k, 128), text(v)))
                .collect(),
            value: m.value,
        });
    }
    let f = r.facts;
    let mut facts = Vec::new();
    for (k, v) in [
        ("model", f.model),
        ("serial", f.serial),
        ("firmware", f.firmware),
        ("boot_id", f.boot_id),
    ] {
        if let Some(v) = v {
            facts.push((k.to_string(), text(v)));
        }
    }
    if let Some(ms) = f.clock_offset_ms {
        facts.push(("clock_offset_ms".into(), ms.to_string()));
        metrics.push(Metric::new("device.clock.offset", ms as f64 / 1000.0));
    }
    for (k, v) in f.extra {
        facts.push((clip(k, 128), text(v)));
    }
    let channels = r
        .children
        .into_iter()
        .map(|c| ChannelStatus {
            channel: c.channel,
            name: c.name.map(text),
            online: match c.state {
                t::ChannelState::Online => Some(true),
                t::ChannelState::Offline => Some(false),
                t::ChannelState::Unknown => None,
            },
            detail: c.detail.map(text),
        })
        .collect();
    PluginOutcome {
        observation: Observation {
            status,
            metrics,
            facts,
        },
        channels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_ticker_runs_only_while_a_call_is_in_flight() {
        let ticker = Arc::new(Ticker::default());
        {
            let _call = ticker.enter();
            let _other = ticker.enter();
            // With calls in flight the ticker does not wait.
            assert!(ticker.wait_for_calls());
        }
        assert_eq!(ticker.state().calls, 0, "every call left");
        // Idle, the ticker's thread waits on the condition variable until a call comes.
        let waiting = Arc::clone(&ticker);
        let thread = std::thread::spawn(move || waiting.wait_for_calls());
        let call = ticker.enter();
        assert!(thread.join().expect("thread"), "woken by the call");
        drop(call);
        ticker.stop();
        assert!(!ticker.wait_for_calls(), "a stopped ticker ends its thread");
    }

    #[test]
    fn the_memory_limit_is_for_the_whole_instance_not_each_memory() {
        let mib = 1 << 20;
        let mut l = Limiter {
            memory: 32 * mib,
            used: 0,
            hit: false,
        };
        // Two memories created at 1 MiB, then each grown to 20 MiB: the second growth would
        // bring the instance to 40 MiB.
        assert!(l.memory_growing(0, mib, None).expect("first memory"));
        assert!(l.memory_growing(0, mib, None).expect("second memory"));
        assert!(
            l.memory_growing(mib, 20 * mib, None)
                .expect("grow the first")
        );
        assert!(
            !l.memory_growing(mib, 20 * mib, None)
                .expect("grow the second")
        );
        assert!(l.hit);
        assert_eq!(l.used, 21 * mib);
        // Within the budget it still grows.
        assert!(
            l.memory_growing(mib, 12 * mib, None)
                .expect("grow the second less")
        );
        assert_eq!(l.used, 32 * mib);
    }
}
