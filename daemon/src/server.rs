//! Assembling and running the daemon: store, actors, config watch and HTTP API. The binary
//! calls [`run`]; tests call [`start`] on a listener bound to port 0 and stop it themselves.

use crate::actors::{Deps, Fleet};
use crate::alert::Change;
use crate::api::{self, ApiState};
use crate::book::AlertBook;
use crate::clock::Clock;
use crate::collector::Collector;
use crate::collectors::heartbeat::HeartbeatBook;
use crate::events::{Event, EventBody, SupervisionEvent};
use crate::last_good::{StartConfig, StartConfigError};
use crate::plugin_dir::PluginWatcher;
use crate::plugins::PluginHost;
use crate::reload::ConfigWatcher;
use crate::store::{AlertIds, Store, StoreError};
use actix::prelude::*;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// File in the data directory telling `vigie status` where the running daemon listens.
pub const DAEMON_FILE: &str = "daemon.json";

/// How often the running daemon writes its sign of life.
const ALIVE_EVERY: Duration = Duration::from_secs(60);

/// Longest wait for each step of a shutdown (HTTP requests, actors).
const STOP_STEP: Duration = Duration::from_secs(5);

/// Writes committed events to the daemon's log.
fn log_committed(events: &[Event]) {
    for e in events {
        match &e.body {
            EventBody::Alert(a) => {
                let alert = &a.alert;
                if matches!(a.change, Change::Opened | Change::Notified) {
                    tracing::warn!(seq = e.seq, alert = alert.id, site = %alert.site, owner = %alert.owner,
                        severity = %alert.severity, notify = a.notify, "alert {:?}: {}", a.change, alert.summary);
                } else {
                    tracing::info!(seq = e.seq, alert = alert.id, site = %alert.site, owner = %alert.owner,
                        state = %alert.state, notify = a.notify, "alert {:?}: {}", a.change, alert.summary);
                }
            }
            EventBody::Transition(t) => tracing::debug!(
                seq = e.seq, equipment = %t.equipment, site = %t.site, from = %t.from, to = %t.to,
                reason = t.reason.as_deref().unwrap_or(""), "status changed"
            ),
            EventBody::Config(_) => tracing::debug!(seq = e.seq, "{e}"),
            EventBody::Ticket(_)
            | EventBody::Maintenance(_)
            | EventBody::Supervision(_)
            | EventBody::Facts(_) => {
                tracing::info!(seq = e.seq, "{e}")
            }
        }
    }
}

/// How to run the daemon.
pub struct Options {
    /// Config directory (watched).
    pub config_dir: PathBuf,
    /// Data directory (database, daemon file).
    pub data_dir: PathBuf,
    /// How equipment is collected.
    pub collector: Arc<dyn Collector>,
    /// Time source.
    pub clock: Clock,
    /// Extra arbiters (threads) the sites are spread over; 0 runs everything on the caller's.
    pub arbiters: usize,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Upper bound on probes in flight.
    pub max_probes_in_flight: usize,
    /// Pushed heartbeats, shared by the API and the collector.
    pub heartbeats: HeartbeatBook,
    /// The plugin host the collector uses and the directory it loads plugins from
    /// (watched); `None` runs without plugins.
    pub plugins: Option<(PluginHost, PathBuf)>,
    /// The config to start on, already chosen; `None` chooses it at start (the files, else
    /// the last good config).
    pub start_config: Option<StartConfig>,
}

/// What `vigie run` asks for.
pub struct RunSettings {
    /// Config directory (watched).
    pub config_dir: PathBuf,
    /// Data directory.
    pub data_dir: PathBuf,
    /// API address, overriding `[daemon] listen`.
    pub listen: Option<SocketAddr>,
    /// A simulation file to collect from instead of the network.
    pub simulate: Option<PathBuf>,
    /// Plugins directory (default `DATA/plugins`).
    pub plugins_dir: Option<PathBuf>,
}

/// Assembles what `vigie run` starts: the listener (on the `[daemon] listen` address of the
/// config when it is valid, the watcher reporting errors otherwise) and the collector stack
/// (the simulation, or ICMP, SNMP, agents, heartbeats and the plugin host).
pub fn prepare(run: RunSettings) -> Result<(Options, TcpListener), ServerError> {
    // Paths are made absolute once: later uses (the plugin cache among them) need them so.
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let run = RunSettings {
        config_dir: absolute(run.config_dir),
        data_dir: absolute(run.data_dir),
        plugins_dir: run.plugins_dir.map(absolute),
        simulate: run.simulate.map(absolute),
        listen: run.listen,
    };
    // The config is chosen before anything else: with none to run on, the daemon does not start.
    let start_config = crate::last_good::choose(&run.config_dir, &run.data_dir)?;
    let settings = start_config.config.daemon.clone();
    let addr = run.listen.unwrap_or(settings.listen);
    let listener = TcpListener::bind(addr).map_err(|e| ServerError::Listen(addr, e))?;
    let clock = Clock::System;
    let heartbeats = HeartbeatBook::new(clock.now());
    let probe_budget = settings.collection.probe_budget();
    let mut plugins = None;
    let collector: Arc<dyn Collector> = match &run.simulate {
        Some(path) => Arc::new(
            crate::collector::ScriptedCollector::from_file(path)
                .map_err(|e| ServerError::Setup(e.to_string()))?,
        ),
        None => {
            let pinger = crate::collectors::icmp::Pinger::start().map_err(|e| {
                tracing::error!("cannot open an ICMP socket, ICMP probes will report unknown: {e}");
                e.to_string()
            });
            let limits = crate::plugins::Limits {
                deadline: probe_budget,
                ..crate::plugins::Limits::default()
            };
            crate::store::create_data_dir(&run.data_dir)?;
            let host = PluginHost::new(clock, limits, Some(&run.data_dir.join("plugin-cache")))
                .map_err(ServerError::Setup)?;
            crate::plugin_dir::register_builtins(&host);
            plugins = Some((
                host.clone(),
                run.plugins_dir
                    .unwrap_or_else(|| run.data_dir.join("plugins")),
            ));
            // Budgets follow the config: each applied config reconfigures the collector.
            Arc::new(
                crate::collectors::NetCollector::new(clock, heartbeats.clone())
                    .with_pinger(pinger)
                    .with_plugins(Arc::new(host)),
            )
        }
    };
    let opts = Options {
        config_dir: run.config_dir,
        data_dir: run.data_dir,
        collector,
        clock,
        heartbeats,
        arbiters: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        http_workers: 1,
        max_probes_in_flight: settings.max_probes_in_flight as usize,
        plugins,
        start_config: Some(start_config),
    };
    Ok((opts, listener))
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data store cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The config directory cannot be watched.
    #[error("cannot watch the config directory {0}: {1}")]
    Watch(PathBuf, notify::Error),
    /// The plugins directory cannot be watched.
    #[error("cannot watch the plugins directory {0}: {1}")]
    Plugins(PathBuf, notify::Error),
    /// The HTTP listener failed.
    #[error("HTTP listener: {0}")]
    Http(std::io::Error),
    /// The API address cannot be bound.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// A part of the daemon cannot be set up (the simulation file, the plugin engine).
    #[error("{0}")]
    Setup(String),
    /// Neither the config files nor the last good config load.
    #[error(transparent)]
    Config(#[from] StartConfigError),
    /// The daemon file cannot be written.
    #[error("cannot write {0}: {1}")]
    DaemonFile(PathBuf, std::io::Error),
}

/// Where a running daemon answers, as written in its data directory.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DaemonFile {
    /// Process id.
    pub pid: u32,
    /// Base URL of the HTTP API.
    pub api: String,
    /// SHA-256 fingerprint of the API's certificate (`sha256:HEX`) when it serves HTTPS, so
    /// the command line on the machine can pin it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_sha256: Option<String>,
}

impl DaemonFile {
    /// Writes it as the data directory's daemon file (0600).
    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string(self).map_err(std::io::Error::other)?;
        crate::store::write_private(&data_dir.join(DAEMON_FILE), json.as_bytes())
    }

    /// Reads the daemon file of a data directory, if any.
    pub fn read(data_dir: &Path) -> Option<DaemonFile> {
        let text = std::fs::read_to_string(data_dir.join(DAEMON_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// A running daemon.
pub struct Daemon {
    /// The root actor.
    pub fleet: Addr<Fleet>,
    /// Live alerts.
    pub book: AlertBook,
    /// The store.
    pub store: Store,
    /// Where the HTTP API listens.
    pub api_addr: SocketAddr,
    /// The notification outbox.
    pub outbox: crate::outbox::Outbox,
    alive: tokio::task::JoinHandle<()>,
    compacting: tokio::task::JoinHandle<()>,
    exporting: tokio::task::JoinHandle<()>,
    clock: Clock,
    generation: watch::Receiver<u64>,
    observations: watch::Receiver<u64>,
    http: actix_web::dev::ServerHandle,
    stopping: watch::Sender<bool>,
    scheme: &'static str,
    watcher: ConfigWatcher,
    _plugins: Option<PluginWatcher>,
    arbiters: Vec<Arbiter>,
    data_dir: PathBuf,
}

impl Daemon {
    /// Base URL of its API (`https://` when it serves TLS).
    pub fn api_url(&self) -> String {
        format!("{}://{}", self.scheme, self.api_addr)
    }

    /// A client of its API with its local token (what the command line on its machine uses).
    pub fn client(&self) -> crate::client::ApiClient {
        crate::client::ApiClient::local(&self.data_dir)
            .unwrap_or_else(|| crate::client::ApiClient::new(&self.api_url()))
    }
}

/// The SHA-256 fingerprint of the API certificate's leaf, as `sha256:HEX`.
fn fingerprint(tls: &crate::config::ApiTls) -> Option<String> {
    use sha2::Digest;
    tls.chain
        .first()
        .map(|leaf| crate::config::token_digest_text(&sha2::Sha256::digest(leaf.as_ref()).into()))
}

/// Starts the daemon: restores saved state, applies the config (start-up is a reload from an
/// empty config), watches the config directory and serves the API on `listener`.
pub async fn start(mut opts: Options, listener: TcpListener) -> Result<Daemon, ServerError> {
    let start_config = match opts.start_config.take() {
        Some(c) => c,
        None => crate::last_good::choose(&opts.config_dir, &opts.data_dir)?,
    };
    // HTTPS with the configured certificate; plain HTTP only on loopback unless the admin
    // accepts it in so many words.
    let local = listener.local_addr().map_err(ServerError::Http)?;
    let certificate = match &start_config.config.daemon.tls {
        Some(tls) => Some(crate::tls::CertSwap::new(tls).map_err(ServerError::Setup)?),
        None if local.ip().is_loopback() => None,
        None if start_config.config.daemon.plain_http => {
            tracing::warn!(
                listen = %local,
                "the API listens in clear on an address other than loopback (plain_http = true): passwords, tokens and session cookies cross the network unencrypted"
            );
            None
        }
        None => {
            return Err(ServerError::Setup(format!(
                "the API would listen in clear on {local}: name a certificate ([daemon] tls_certificate and tls_key), listen on loopback, or set [daemon] plain_http = true to accept it"
            )));
        }
    };
    let certificate_sha256 = start_config
        .config
        .daemon
        .tls
        .as_ref()
        .and_then(fingerprint);
    let (store, restored) = Store::open(&opts.data_dir)?;
    for p in &restored.problems {
        tracing::error!("{p}");
    }
    tracing::info!(
        equipment = restored.equipment.len(), sites = restored.sites.len(),
        data = %opts.data_dir.display(), "saved state restored"
    );
    store.on_commit(Box::new(log_committed));
    let book = AlertBook::default();
    let clock = opts.clock;
    // Availability counts the time since the previous run's last sign of life as not
    // supervised; this run leaves one every minute and at its stop.
    let last_alive = store.reader().last_alive().unwrap_or_else(|e| {
        tracing::error!("the previous run's last sign of life cannot be read: {e}");
        None
    });
    store.append(
        clock.now(),
        vec![EventBody::Supervision(SupervisionEvent::Started {
            last_alive,
        })],
    );
    store.mark_alive(clock.now());
    let beating = store.clone();
    let alive = actix_rt::spawn(async move {
        loop {
            tokio::time::sleep(ALIVE_EVERY).await;
            beating.mark_alive(clock.now());
        }
    });
    // Plugins load before the first config applies, so first collections find them; they
    // never reach the daemon's own API.
    let api_addr = listener.local_addr().map_err(ServerError::Http)?;
    let plugins = match opts.plugins {
        Some((host, dir)) => Some({
            host.set_own_sockets(vec![api_addr]);
            PluginWatcher::start(dir.clone(), host).map_err(|e| ServerError::Plugins(dir, e))?
        }),
        None => None,
    };
    let deps = Deps::new(
        store.clone(),
        opts.collector,
        opts.clock,
        AlertIds::starting_at(restored.next_alert_id),
        book.clone(),
        opts.max_probes_in_flight,
    );
    let observations = deps.observations();
    let telemetry = std::sync::Arc::clone(&deps.telemetry);
    let config_watch = deps.config_watch();
    let deps_config = deps.config_watch();
    // The event log's retention: a minute after start, then daily.
    let compacting = actix_rt::spawn(crate::retention::run(
        store.clone(),
        deps.config_watch(),
        clock,
    ));
    // The notifier's lines for alert timelines go to the alerts' owners through the fleet.
    let (notes, mut notes_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, String)>();
    let outbox = crate::outbox::start(store.clone(), deps.config_watch(), opts.clock, notes)
        .map_err(ServerError::Setup)?;
    let arbiters: Vec<Arbiter> = (0..opts.arbiters).map(|_| Arbiter::new()).collect();
    let handles = arbiters.iter().map(Arbiter::handle).collect();
    let fleet_actor = Fleet::new(deps, restored, handles);
    let generation = fleet_actor.generation_watch();
    let fleet = fleet_actor.start();
    let noting = fleet.clone();
    actix_rt::spawn(async move {
        while let Some((id, note)) = notes_rx.recv().await {
            let _ = noting
                .send(crate::actors::AlertCommand {
                    id,
                    action: crate::alert::AlertAction::Note {
                        by: "vigie".into(),
                        note,
                    },
                })
                .await;
        }
    });
    let watcher = ConfigWatcher::start(
        opts.config_dir.clone(),
        opts.data_dir.clone(),
        fleet.clone(),
        start_config,
    )
    .map_err(|e| ServerError::Watch(opts.config_dir.clone(), e))?;

    // The OTLP export, while the config names a receiver.
    let exporting = actix_rt::spawn(crate::telemetry::otlp::run(
        deps_config.clone(),
        crate::telemetry::otlp::Sources {
            fleet: fleet.clone(),
            telemetry: std::sync::Arc::clone(&telemetry),
            store: store.clone(),
            outbox: Some(outbox.clone()),
            clock,
        },
    ));
    let (stopping, stopping_rx) = watch::channel(false);
    let state = ApiState {
        stopping: stopping_rx,
        fleet: fleet.clone(),
        book: book.clone(),
        generation: generation.clone(),
        heartbeats: opts.heartbeats.clone(),
        clock,
        reader: store.reader(),
        committed: store.committed(),
        outbox: Some(outbox.clone()),
        store: store.clone(),
        config: config_watch.clone(),
        telemetry: std::sync::Arc::clone(&telemetry),
        gate: std::sync::Arc::new({
            let mut gate = crate::auth::Gate::new(&opts.data_dir).map_err(|e| {
                ServerError::DaemonFile(opts.data_dir.join(crate::auth::LOCAL_TOKEN_FILE), e)
            })?;
            gate.secure_cookies = certificate.is_some();
            gate
        }),
    };
    let server = actix_web::HttpServer::new(move || {
        let state = state.clone();
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(crate::auth::guard))
            .wrap(actix_web::middleware::ErrorHandlers::new().default_handler(api::json_errors))
            .configure(move |cfg| api::configure(cfg, state))
    })
    .workers(opts.http_workers.max(1))
    .disable_signals();
    let scheme = if certificate.is_some() {
        "https"
    } else {
        "http"
    };
    let server = match &certificate {
        Some(swap) => {
            // The command line pins the certificate from the daemon file: kept current.
            let (data_dir, pid, api) = (
                opts.data_dir.clone(),
                std::process::id(),
                format!("https://{api_addr}"),
            );
            actix_rt::spawn(crate::tls::follow(
                config_watch,
                std::sync::Arc::clone(swap),
                move |tls| {
                    let content = DaemonFile {
                        pid,
                        api: api.clone(),
                        certificate_sha256: fingerprint(tls),
                    };
                    if let Err(e) = content.write(&data_dir) {
                        tracing::error!(data = %data_dir.display(), "the daemon file cannot be updated: {e}");
                    }
                },
            ));
            server.listen_rustls_0_23(
                listener,
                crate::tls::server_config(std::sync::Arc::clone(swap))
                    .map_err(ServerError::Setup)?,
            )
        }
        None => server.listen(listener),
    }
    .map_err(ServerError::Http)?
    .run();
    let http = server.handle();
    actix_rt::spawn(server);

    DaemonFile {
        pid: std::process::id(),
        api: format!("{scheme}://{api_addr}"),
        certificate_sha256,
    }
    .write(&opts.data_dir)
    .map_err(|e| ServerError::DaemonFile(opts.data_dir.join(DAEMON_FILE), e))?;
    tracing::info!(api = %format!("{scheme}://{api_addr}"), config = %opts.config_dir.display(), "vigie is running");
    Ok(Daemon {
        fleet,
        book,
        store,
        alive,
        compacting,
        exporting,
        clock,
        api_addr,
        outbox,
        generation,
        observations,
        http,
        stopping,
        scheme,
        watcher,
        _plugins: plugins,
        arbiters,
        data_dir: opts.data_dir,
    })
}

impl Daemon {
    /// Reads the config directory again now.
    pub fn reload_now(&self) {
        self.watcher.reload_now();
    }

    /// Whether the fleet actor answers a status query within `limit` (the watchdog's test).
    pub async fn answers_within(&self, limit: Duration) -> bool {
        matches!(
            tokio::time::timeout(limit, self.fleet.send(crate::actors::FleetQuery)).await,
            Ok(Ok(_))
        )
    }

    /// Number of config loads (accepted or refused) so far.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Follows collections: bumps each time an equipment has evaluated an observation.
    pub fn observations(&self) -> watch::Receiver<u64> {
        self.observations.clone()
    }

    /// Waits until at least `n` config loads (accepted or refused) happened.
    pub async fn wait_generation(&self, n: u64) {
        let mut rx = self.generation.clone();
        let _ = rx.wait_for(|g| *g >= n).await;
    }

    /// Stops serving, commits pending writes and stops the arbiters, in a bounded time even
    /// while the disk refuses writes (what cannot be committed then is reported in the log).
    pub async fn stop(self) {
        // Live event streams end first, so the graceful stop does not wait on them.
        let _ = self.stopping.send(true);
        if tokio::time::timeout(STOP_STEP, self.http.stop(true))
            .await
            .is_err()
        {
            tracing::warn!("HTTP requests still running at shutdown were dropped");
        }
        if tokio::time::timeout(STOP_STEP, self.fleet.send(crate::actors::Shutdown))
            .await
            .is_err()
        {
            tracing::warn!(
                "some actors did not stop in time (the data store may be refusing writes)"
            );
        }
        self.alive.abort();
        self.compacting.abort();
        self.exporting.abort();
        let now = self.clock.now();
        self.store
            .append(now, vec![EventBody::Supervision(SupervisionEvent::Stopped)]);
        self.store.mark_alive(now);
        let store = self.store;
        // Closing waits for the final commit, or gives up after a grace period: off the runtime.
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        for a in &self.arbiters {
            a.stop();
        }
        let _ = std::fs::remove_file(self.data_dir.join(DAEMON_FILE));
        tracing::info!("vigie stopped");
    }
}

/// Runs the daemon until `shutdown` completes.
pub async fn run(
    opts: Options,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let daemon = start(opts, listener).await?;
    shutdown.await;
    daemon.stop().await;
    Ok(())
}
