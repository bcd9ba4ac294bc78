//! The `vigie` command line: run the daemon, check a config directory, read the status and
//! act on alerts.

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigie::client::ApiClient;
use vigie::clock::Clock;
use vigie::config::{self, Credentials, EquipmentKind, SecretSource, SnmpSettings, TlsTrust};
use vigie::plugins::{Grant, Limits, PluginHost};
use vigie::server::{self, DaemonFile};
use vigie::service;
use vigie::store::Store;
use vigie::views::{self, SavedState, View};

/// Prints a line on stdout; a closed output (`vigie events | head`) ends the command quietly
/// with success, as the tools ops trust do, never with a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// [`out!`] without the line end.
macro_rules! out_raw {
    ($($arg:tt)*) => {
        $crate::emit(format_args!($($arg)*))
    };
}

/// Prints a line on stderr, ignoring a closed stderr.
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

#[derive(Parser)]
#[command(
    name = "vigie",
    version,
    about = "Supervision daemon for video-surveillance fleets",
    after_help = "Exit codes: 0 success (a closed output included); 1 an error, said on stderr \
(the daemon unreachable, refusing or not answering within --timeout, an unreadable data \
directory, an invalid config); 2 a malformed command line, or for `plugin run` a device that \
is not up."
)]
struct Cli {
    /// Longest wait for the daemon's answer to one call (long polls add their wait).
    #[arg(long, global = true, default_value = "10s", value_name = "DURATION")]
    timeout: humantime::Duration,
    /// Log format on stderr: `text` (levels as journald reads them when systemd runs the
    /// daemon) or `json` (one object per line).
    #[arg(long, global = true, default_value = "text", env = "VIGIE_LOG_FORMAT")]
    log_format: LogFormat,
    /// File holding the API token for commands that call the daemon (`VIGIE_TOKEN` takes
    /// precedence; without either, the daemon's local token in its data directory is used).
    #[arg(long, global = true, env = "VIGIE_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum PluginAction {
    /// List the plugins a daemon would use: the built-in ones and those of the plugins
    /// directory (which override built-in ones of the same name), with where each comes from
    /// and its plugin API version; files refused say why.
    List {
        /// The plugins directory; default `DATA/plugins`.
        #[arg(long)]
        plugins: Option<PathBuf>,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load a plugin and print what it declares: name, version, vendors, kinds, parameters,
    /// plugin API version, size.
    Inspect {
        /// The plugin file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one collection of a plugin against a device and print the report.
    Run {
        /// The plugin file.
        file: PathBuf,
        /// Address of the device (IP or host name).
        #[arg(long)]
        address: String,
        /// Equipment kind the plugin sees.
        #[arg(long, default_value = "other")]
        kind: String,
        /// A plugin parameter, `name=value` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// User name for the device.
        #[arg(long)]
        username: Option<String>,
        /// Environment variable holding the device's password (never on the command line).
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
        /// Which HTTPS certificates the device may present: `system`, `any` or
        /// `sha256:FINGERPRINT` (as `tls_trust` on an equipment).
        #[arg(long, default_value = "system")]
        tls_trust: String,
        /// Deadline of the collection.
        #[arg(long, default_value = "10s")]
        timeout: humantime::Duration,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TicketAction {
    /// List the open intervention tickets (`--all`: closed ones too).
    List {
        /// Closed tickets too.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
    /// Show one ticket with its notes.
    Show {
        /// Ticket number.
        number: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
    /// Close a ticket with its resolution, through the running daemon.
    Close {
        /// Ticket number.
        number: u64,
        /// Resolution.
        #[arg(long)]
        note: String,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum NotifyAction {
    /// Queue a test message to a contact on its first channel (or `--channel`), then wait
    /// until the channel accepted it or the wait ends: exit 0 when accepted, 1 otherwise.
    Test {
        /// Contact id.
        #[arg(long)]
        contact: String,
        /// Channel (`email`, `sms`, `webhook`, `log`).
        #[arg(long)]
        channel: Option<String>,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Run {
        /// Config directory (vigie.toml and sites/*.toml); changes reload live.
        #[arg(long)]
        config: PathBuf,
        /// Data directory (state database).
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
        /// HTTP API address, overriding `[daemon] listen` (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Collect from a simulation file instead of the network (demos and tests).
        #[arg(long)]
        simulate: Option<PathBuf>,
        /// Directory of vendor probe plugins (`*.wasm`, watched); default `DATA/plugins`.
        #[arg(long, env = "VIGIE_PLUGINS")]
        plugins: Option<PathBuf>,
    },
    /// The daemon on a simulated fleet: three clients, four sites on loopback addresses, a
    /// scenario of faults and repairs, notifications shown in the log. Ctrl-C stops it.
    Demo {
        /// Write the demo's config (and its scenario) into this directory and exit.
        #[arg(long, value_name = "DIR")]
        write_config: Option<PathBuf>,
        /// Play this scenario file instead of the built-in one.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// HTTP API address of the daemon.
        #[arg(long, default_value = "127.0.0.1:8480")]
        listen: SocketAddr,
        /// Address of the simulator's control API.
        #[arg(long, default_value = "127.0.0.1:8481")]
        control: SocketAddr,
        /// Stop by itself after this long (e.g. `5m`); runs until Ctrl-C by default.
        #[arg(long, value_name = "DURATION")]
        stop_after: Option<humantime::Duration>,
    },
    /// Inspect or try a vendor probe plugin.
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Who holds each on-call role now (or at `--at`), and the next hand-overs, from a
    /// config directory.
    Oncall {
        /// Config directory.
        dir: PathBuf,
        /// The instant (RFC 3339); now by default.
        #[arg(long)]
        at: Option<String>,
    },
    /// Print the HTTP API's OpenAPI 3.1 document (JSON), as the daemon serves it at
    /// `/api/v1/openapi.json`.
    Openapi,
    /// Validate a config directory and print a summary.
    CheckConfig {
        /// Config directory.
        dir: PathBuf,
    },
    /// Show the fleet's status (from the running daemon, or from the data directory).
    Status {
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
        /// One site with its equipment.
        #[arg(long)]
        site: Option<String>,
        /// One equipment in detail.
        #[arg(long)]
        equipment: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an alert.
    Ack {
        /// Alert number.
        id: u64,
        /// Note.
        #[arg(long)]
        note: Option<String>,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
    /// Print the event log (alert changes, operator actions, status transitions, config
    /// loads), from the running daemon or from the data directory when it is down.
    ///
    /// Exit codes: 0 when everything asked was printed (or the output was closed), 1 when the
    /// log cannot be read.
    Events {
        /// Print the events after this sequence number (pass the last one you saw to resume).
        #[arg(long, default_value_t = 0, value_name = "SEQ")]
        since: u64,
        /// Keep printing new events as they are committed (Ctrl-C to stop); survives daemon
        /// restarts, reading the data directory while the daemon is down.
        #[arg(long, short)]
        follow: bool,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
    /// Show the notification outbox: deliveries waiting for their channel (with their last
    /// failure), then the latest sent or given up. Reads the running daemon, or the data
    /// directory when it is down.
    Outbox {
        /// How many of the latest sent deliveries to show.
        #[arg(long, default_value_t = 20)]
        last: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
    /// The audit trail of an alert: its changes, operator actions, escalations, ticket and
    /// notifications, in time order (from the running daemon, or the data directory).
    Audit {
        /// Alert number.
        #[arg(long)]
        alert: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
    /// Availability per equipment, site and client over a month or days, each site in its
    /// time zone (R13, R14): maintenance left out, time behind a down parent blamed on it,
    /// time without supervision shown apart.
    Availability {
        /// Only this client's sites.
        #[arg(long)]
        client: Option<String>,
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// A month, YYYY-MM (the current one by default).
        #[arg(long, conflicts_with_all = ["from", "to"])]
        month: Option<String>,
        /// First day, YYYY-MM-DD (with --to).
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// Day after the last, YYYY-MM-DD (excluded; with --from).
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
    /// A client's monthly report (R14): availability, incidents, trends and recommendations,
    /// in the client's report language.
    Report {
        /// The client.
        #[arg(long)]
        client: String,
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        /// Write it to this file (written beside, then renamed) instead of the standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// pdf, html or json.
        #[arg(long, default_value = "pdf")]
        format: String,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
    /// Intervention tickets opened by escalations (R12): list, show, close.
    Ticket {
        #[command(subcommand)]
        action: TicketAction,
    },
    /// Notifications: send a test message through the running daemon.
    Notify {
        #[command(subcommand)]
        action: NotifyAction,
    },
    /// Hash a password for an account's `password` in the config: reads it twice without
    /// echo on a terminal (one line of standard input otherwise) and prints its argon2id hash.
    Passwd,
    /// Make an API token for an account: prints the token (hand it over once; it is not
    /// kept) and, on the next line, the digest to add to the account's `tokens`.
    Token,
    /// Close an alert with a resolution note.
    Close {
        /// Alert number.
        id: u64,
        /// Resolution note.
        #[arg(long)]
        note: String,
        /// Data directory of the daemon.
        #[arg(long, default_value = "vigie-data", env = "VIGIE_DATA")]
        data: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            err!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

/// The deadline of one call to the daemon, from `--timeout`.
static TIMEOUT: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();

/// The file `--token-file` (or `VIGIE_TOKEN_FILE`) names.
static TOKEN_FILE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// The token the command line authenticates with: `VIGIE_TOKEN`, else the file of
/// `--token-file` / `VIGIE_TOKEN_FILE`, else the local token of the daemon's data directory
/// (readable by the daemon's user and root only). Never a command-line argument: those show
/// in `ps`.
fn token_for(data: &Path) -> Result<Option<String>> {
    if let Ok(t) = std::env::var("VIGIE_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(Some(path)) = TOKEN_FILE.get() {
        let t = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        if t.trim().is_empty() {
            bail!("the token file {} is empty", path.display());
        }
        return Ok(Some(t.trim().to_string()));
    }
    Ok(vigie::client::local_token(data))
}

/// A client of the daemon its file names (running on `data`), with the command line's
/// deadline and token.
fn api_client(file: &DaemonFile, data: &Path) -> Result<ApiClient> {
    let timeout = TIMEOUT
        .get()
        .copied()
        .unwrap_or(std::time::Duration::from_secs(10));
    let client = ApiClient::of_daemon(file).with_timeout(timeout);
    Ok(match token_for(data)? {
        Some(t) => client.with_token(t),
        None => client,
    })
}

/// Shortest password `vigie passwd` hashes.
const MIN_PASSWORD: usize = 8;

/// `vigie passwd`: a password read without echo (twice on a terminal), printed as its
/// argon2id hash.
fn passwd() -> Result<i32> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("again: ").context("cannot read the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.chars().count() < MIN_PASSWORD {
        bail!("the password is shorter than {MIN_PASSWORD} characters");
    }
    let hash = vigie::auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    out!("{hash}");
    Ok(0)
}

fn dispatch(cli: Cli) -> Result<i32> {
    let _ = TIMEOUT.set(cli.timeout.into());
    let _ = TOKEN_FILE.set(cli.token_file.clone());
    let _ = LOG_FORMAT.set(cli.log_format);
    match cli.command {
        Command::Run {
            config,
            data,
            listen,
            simulate,
            plugins,
        } => run(config, data, listen, simulate, plugins).map(|_| 0),
        Command::Demo {
            write_config,
            scenario,
            listen,
            control,
            stop_after,
        } => match write_config {
            Some(dir) => {
                vigie::demo::write_config(&dir)
                    .with_context(|| format!("cannot write {}", dir.display()))?;
                out!(
                    "the demo's config is in {}: run it with `vigie run --config {}`",
                    dir.display(),
                    dir.display()
                );
                Ok(0)
            }
            None => demo(scenario, listen, control, stop_after.map(Into::into)),
        },
        Command::Plugin { action } => plugin_command(action),
        Command::Openapi => {
            use utoipa::OpenApi;
            out!(
                "{}",
                vigie::api::openapi::ApiDoc::openapi().to_pretty_json()?
            );
            Ok(0)
        }
        Command::CheckConfig { dir } => Ok(check_config(&dir)),
        Command::Status {
            data,
            site,
            equipment,
            json,
        } => status(&data, site, equipment, json).map(|_| 0),
        Command::Ack { id, note, data } => {
            let a = client(&data)?.ack(id, note.as_deref())?;
            let by = a.acknowledged.as_ref().map_or("?", |x| x.by.as_str());
            out!("alert #{} acknowledged by {by}: {}", a.id, a.summary);
            Ok(0)
        }
        Command::Events {
            since,
            follow,
            json,
            data,
        } => events::run(&data, since, follow, json),
        Command::Outbox { last, json, data } => outbox(&data, last, json),
        Command::Oncall { dir, at } => oncall(&dir, at.as_deref()),
        Command::Ticket { action } => ticket(action),
        Command::Report {
            client,
            month,
            out,
            format,
            data,
        } => report(&data, &client, &month, out.as_deref(), &format),
        Command::Availability {
            client,
            site,
            month,
            from,
            to,
            json,
            data,
        } => {
            let q = vigie::availability::Query {
                client: client.clone(),
                site,
                month,
                from,
                to,
            };
            let figures = match DaemonFile::read(&data) {
                Some(f) => api_client(&f, &data)?.availability(&q)?,
                None => {
                    let (cfg, reader) = offline(&data)?;
                    vigie::availability::read(&reader, &cfg, &q, chrono::Utc::now(), false)?
                }
            };
            let client = client.map(|c| vigie::config::ClientId::new(&c));
            print_json_or(json, &figures, || {
                vigie::availability::render(&figures, client.as_ref())
            })?;
            Ok(0)
        }
        Command::Audit { alert, json, data } => {
            let trail = match DaemonFile::read(&data) {
                Some(f) => api_client(&f, &data)?.audit(alert)?,
                None => vigie::audit::read(&vigie::store::StoreReader::open(&data)?, alert)?
                    .with_context(|| format!("no alert #{alert} in the event log"))?,
            };
            print_json_or(json, &trail, || trail.render())?;
            Ok(0)
        }
        Command::Notify {
            action:
                NotifyAction::Test {
                    contact,
                    channel,
                    data,
                },
        } => notify_test(&data, &contact, channel.as_deref()),
        Command::Passwd => passwd(),
        Command::Token => {
            let token = vigie::auth::new_token().map_err(anyhow::Error::msg)?;
            let digest = config::token_digest_text(&config::token_digest(&token));
            out!("{token}");
            out!("{digest}");
            if std::io::stderr().is_terminal() {
                err!(
                    "give the first line to the script or person (as VIGIE_TOKEN, or in a file named by VIGIE_TOKEN_FILE);\nadd the second to the account: tokens = [\"{digest}\"]"
                );
            }
            Ok(0)
        }
        Command::Close { id, note, data } => {
            let a = client(&data)?.close(id, &note)?;
            let by = a.closed.as_ref().map_or("?", |x| x.by.as_str());
            out!("alert #{} closed by {by}: {}", a.id, a.summary);
            Ok(0)
        }
    }
}

fn init_logs() {
    init_logs_with(
        tracing_subscriber::EnvFilter::try_from_env("VIGIE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    );
}

/// Logs of `vigie plugin run`: the plugin's lines (debug included) and vigie's; the WebAssembly
/// engine's own (tens of thousands of compiler lines at debug) only from warnings up, whatever
/// `VIGIE_LOG` says.
fn init_plugin_run_logs() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("VIGIE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,vigie=debug"));
    for quiet in [
        "wasmtime",
        "cranelift",
        "regalloc2",
        "wasmparser",
        "wit_parser",
    ] {
        if let Ok(d) = format!("{quiet}=warn").parse() {
            filter = filter.add_directive(d);
        }
    }
    init_logs_with(filter);
}

/// The log format chosen on the command line.
static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

fn init_logs_with(filter: tracing_subscriber::EnvFilter) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A closed stderr must not turn a log line into a panic.
        .log_internal_errors(false);
    match LOG_FORMAT.get().copied().unwrap_or(LogFormat::Text) {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text if vigie::journal::stderr_is_journal() => builder
            .event_format(vigie::journal::JournalFormat::default())
            .init(),
        LogFormat::Text => {
            // Colours only on a terminal, and never with NO_COLOR (files, pipes).
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder.with_ansi(colour).init()
        }
    }
}

fn run(
    config_dir: PathBuf,
    data: PathBuf,
    listen: Option<SocketAddr>,
    simulate: Option<PathBuf>,
    plugins_dir: Option<PathBuf>,
) -> Result<()> {
    init_logs();
    let (opts, listener) = server::prepare(server::RunSettings {
        config_dir,
        data_dir: data,
        listen,
        simulate,
        plugins_dir,
    })?;
    actix_rt::System::new().block_on(async move {
        let signals = StopSignals::listen();
        let daemon = server::start(opts, listener).await?;
        // Ready once the first config is applied (or refused and the last good one applied).
        daemon.wait_generation(1).await;
        {
            use std::io::Write as _;
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "vigie listening on {}", daemon.api_url());
            let _ = stdout.flush();
        }
        service::ready(&service::status_line(&daemon));
        tokio::select! {
            () = signals.wait(&daemon) => {}
            () = service::watchdog(&daemon) => {}
        }
        service::stopping();
        daemon.stop().await;
        anyhow::Ok(())
    })
}

/// `vigie demo`: the simulated fleet, the daemon on it in a temporary directory, the scenario.
fn demo(
    scenario_file: Option<PathBuf>,
    listen: SocketAddr,
    control: SocketAddr,
    stop_after: Option<std::time::Duration>,
) -> Result<i32> {
    use vigie::demo;
    if std::env::var_os("VIGIE_LOG").is_none() {
        // The log channel's notifications are what the demo shows.
        init_logs_with(tracing_subscriber::EnvFilter::new(
            "warn,vigie::notify=info,vigie::demo=info,vigie::actors::escalation=info",
        ));
    } else {
        init_logs();
    }
    let tmp = tempfile::Builder::new().prefix("vigie-demo-").tempdir()?;
    let (config_dir, data_dir) = (tmp.path().join("config"), tmp.path().join("data"));
    demo::write_config(&config_dir)?;
    let snmp_note = if demo::sim::snmpd().is_none() && demo::without_snmp(&config_dir)? {
        "\nSNMP is not simulated: snmpd is not installed (apt-get install snmpd); the Lyon switch is checked over TCP instead.\n"
    } else {
        ""
    };
    let cfg = config::load_dir(&config_dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (name, text) = match &scenario_file {
        Some(f) => (
            f.display().to_string(),
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        ),
        None => (
            "(built-in scenario)".to_string(),
            demo::SCENARIO.to_string(),
        ),
    };
    let ids: Vec<String> = cfg
        .sites
        .values()
        .flat_map(|s| s.equipment.keys().map(|k| k.to_string()))
        .collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let events =
        demo::scenario::parse(&name, &text, &id_refs).map_err(|e| anyhow::anyhow!("{e}"))?;
    let control_listener = std::net::TcpListener::bind(control)
        .with_context(|| format!("the simulator's control API cannot listen on {control}"))?;
    control_listener.set_nonblocking(true)?;
    let control = control_listener.local_addr()?;
    let (opts, listener) = server::prepare(server::RunSettings {
        config_dir: config_dir.clone(),
        data_dir: data_dir.clone(),
        listen: Some(listen),
        simulate: None,
        plugins_dir: None,
    })?;
    actix_rt::System::new().block_on(async move {
        let signals = StopSignals::listen();
        let daemon = server::start(opts, listener).await?;
        let sim = Arc::new(demo::sim::Simulator::start(&cfg, daemon.api_addr, |id| {
            demo::secret_of(&cfg, id)
        })?);
        let control_task = tokio::spawn(demo::control(
            tokio::net::TcpListener::from_std(control_listener)?,
            Arc::clone(&sim),
        ));
        let api = daemon.api_url();
        let data = data_dir.display();
        let last = events.last().map_or(std::time::Duration::ZERO, |e| e.at);
        out_raw!(
            "vigie demo: {} equipment in {} sites of {} clients, simulated on 127.0.x.y\n\n\
             dashboard {api}/  (accounts ops, acme, museum; password {})\n\
             API       {api}/api/v1/status\n\
             \x20         curl -H \"Authorization: Bearer $(cat {data}/local-token)\" {api}/api/v1/status\n\
             status    vigie status --data {data}\n\
             events    vigie events --data {data} --follow\n\
             faults    curl -X POST http://{control}/devices/lyon-sw/down\n\
             \x20         (actions: {})\n\
             config    {} (edit it: the daemon reloads it live)\n\n\
             {snmp_note}\
             The scenario plays {} events over {}; notifications go to the log below. Ctrl-C stops.\n\n",
            ids.len(),
            cfg.sites.len(),
            cfg.clients.len(),
            demo::DEMO_PASSWORD,
            demo::scenario::ACTIONS,
            config_dir.display(),
            events.len(),
            humantime::format_duration(last),
        );
        let player = tokio::spawn(demo::scenario::play(Arc::clone(&sim), events, |e| {
            tracing::info!(target: "vigie::demo", "scenario: {} {:?}{}", e.device, e.action,
                e.note.as_deref().map(|n| format!(" — {n}")).unwrap_or_default());
        }));
        match stop_after {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = signals.wait(&daemon) => {}
                }
            }
            None => signals.wait(&daemon).await,
        }
        player.abort();
        control_task.abort();
        drop(sim);
        daemon.stop().await;
        out!("vigie demo stopped");
        anyhow::Ok(0)
    })
}

/// The signals that stop or reload the daemon, listened to from before it says it is ready
/// (a SIGHUP right after readiness must reload, not kill it).
struct StopSignals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    /// Starts listening (inside the runtime).
    fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) {
                (Ok(term), Ok(hup)) => Some((term, hup)),
                _ => None,
            };
            StopSignals { unix }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Waits for Ctrl-C or SIGTERM; SIGHUP reloads the config meanwhile.
    async fn wait(self, daemon: &server::Daemon) {
        #[cfg(unix)]
        if let Some((mut term, mut hup)) = self.unix {
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    _ = term.recv() => break,
                    _ = hup.recv() => service::reload(daemon).await,
                }
            }
            return;
        }
        let _ = daemon;
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn check_config(dir: &Path) -> i32 {
    match config::load_dir(dir) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                err!("warning: {w}");
            }
            out!("{}: valid", dir.display());
            out_raw!("{}", views::config_summary(&cfg));
            0
        }
        Err(errors) => {
            let n = errors.0.len();
            err!(
                "{}: {n} error{}",
                dir.display(),
                if n > 1 { "s" } else { "" }
            );
            err!("{errors}");
            1
        }
    }
}

fn outbox(data: &Path, last: usize, json: bool) -> Result<i32> {
    let view = match DaemonFile::read(data) {
        Some(f) => api_client(&f, data)?.outbox(last)?,
        None => {
            let reader = vigie::store::StoreReader::open(data)?;
            vigie::outbox::OutboxView::read(&reader, last)?
        }
    };
    print_json_or(json, &view, || views::outbox(&view))?;
    Ok(0)
}

fn oncall(dir: &Path, at: Option<&str>) -> Result<i32> {
    let at = match at {
        None => chrono::Utc::now(),
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| {
                format!("--at `{t}`: write an RFC 3339 instant such as 2026-07-14T09:00:00+02:00")
            })?
            .with_timezone(&chrono::Utc),
    };
    let cfg = match config::load_dir(dir) {
        Ok(c) => c,
        Err(e) => {
            err!("{e}");
            return Ok(1);
        }
    };
    let Some(oc) = &cfg.on_call else {
        err!("{}: no [on_call] section", dir.display());
        return Ok(1);
    };
    out_raw!("{}", views::oncall(&cfg, oc, at));
    Ok(0)
}

fn ticket(action: TicketAction) -> Result<i32> {
    let offline = |data: &Path| vigie::store::StoreReader::open(data);
    match action {
        TicketAction::List { all, json, data } => {
            let list = match DaemonFile::read(&data) {
                Some(f) => api_client(&f, &data)?.tickets(all)?,
                None => offline(&data)?
                    .tickets()?
                    .into_iter()
                    .filter(|t| all || t.status == vigie::ticket::TicketStatus::Open)
                    .collect(),
            };
            print_json_or(json, &list, || views::tickets(&list))?;
            Ok(0)
        }
        TicketAction::Show { number, json, data } => {
            let t = match DaemonFile::read(&data) {
                Some(f) => api_client(&f, &data)?.ticket(number)?,
                None => offline(&data)?
                    .ticket(number)?
                    .with_context(|| format!("no ticket #{number}"))?,
            };
            print_json_or(json, &t, || views::ticket(&t))?;
            Ok(0)
        }
        TicketAction::Close { number, note, data } => {
            let t = client(&data)?.close_ticket(number, &note)?;
            let by = t.closed.as_ref().map_or("?", |(_, by)| by.as_str());
            out!("ticket #{} closed by {by}", t.number);
            Ok(0)
        }
    }
}

fn notify_test(data: &Path, contact: &str, channel: Option<&str>) -> Result<i32> {
    let api = client(data)?;
    let id = api.notify_test(contact, channel)?;
    out!("test message queued as delivery #{id}");
    // Wait for the outcome, as long as the command's timeout allows.
    let wait = TIMEOUT
        .get()
        .copied()
        .unwrap_or(std::time::Duration::from_secs(10));
    let deadline = std::time::Instant::now() + wait;
    let mut view = api.outbox(vigie::store::SENT_KEPT as usize)?;
    loop {
        if let Some(r) = view.sent.iter().find(|r| r.delivery.id == id) {
            if r.accepted {
                out!(
                    "accepted by {} for {} at {}",
                    r.delivery.channel,
                    r.delivery.contact,
                    r.at.format("%Y-%m-%d %H:%M:%S UTC")
                );
                return Ok(0);
            }
            err!(
                "given up: {}",
                r.delivery
                    .last_error
                    .as_deref()
                    .unwrap_or("every channel failed")
            );
            return Ok(1);
        }
        if let Some(d) = view.pending.iter().find(|d| d.id == id)
            && let Some(e) = &d.last_error
        {
            err!(
                "attempt {} on {} failed: {e}; retrying",
                d.attempts,
                d.channel
            );
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            err!(
                "not accepted within {} (see `vigie outbox`; it stays queued and is retried)",
                vigie::util::format_duration(wait)
            );
            return Ok(1);
        }
        // Long poll: the daemon answers as soon as the outbox changes.
        view = api.outbox_after(
            vigie::store::SENT_KEPT as usize,
            view.version,
            left.max(std::time::Duration::from_secs(1)),
        )?;
    }
}

/// Prints `value` as JSON with `--json`, else its text.
/// A stopped daemon's last good config and event log.
fn offline(data: &Path) -> Result<(vigie::config::Config, vigie::store::StoreReader)> {
    let (cfg, _) = vigie::last_good::load(data)
        .with_context(|| {
            format!(
                "{} has no saved config: start the daemon once",
                data.display()
            )
        })?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((cfg, vigie::store::StoreReader::open(data)?))
}

/// `vigie report`: through the running daemon, or from its data directory when it is down.
fn report(data: &Path, client: &str, month: &str, out: Option<&Path>, format: &str) -> Result<i32> {
    let Some(fmt) = vigie::report::Format::parse(format) else {
        anyhow::bail!("--format {format}: give pdf, html or json");
    };
    if fmt == vigie::report::Format::Pdf && out.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!("a PDF is not written to a terminal: give --out FILE or redirect the output");
    }
    let bytes = match DaemonFile::read(data) {
        Some(f) => api_client(&f, data)?.report(client, month, format)?,
        None => {
            let (cfg, reader) = offline(data)?;
            let r = vigie::report::build(&reader, &cfg, client, month, chrono::Utc::now(), false)?;
            vigie::report::render(&r, &cfg.reports, fmt)?
        }
    };
    match out {
        Some(path) => vigie::report::write_whole(path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(&bytes).and_then(|()| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.into());
            }
        }
    }
    Ok(0)
}

fn print_json_or<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<()> {
    if json {
        out!("{}", serde_json::to_string_pretty(value)?);
    } else {
        out_raw!("{}", text());
    }
    Ok(())
}

fn client(data: &Path) -> Result<ApiClient> {
    match DaemonFile::read(data) {
        Some(f) => api_client(&f, data),
        None => bail!(
            "no running daemon found for data directory {} (no {})",
            data.display(),
            server::DAEMON_FILE
        ),
    }
}

fn status(data: &Path, site: Option<String>, equipment: Option<String>, json: bool) -> Result<()> {
    let print = |v: &dyn View| {
        if json {
            out!("{}", v.json())
        } else {
            out_raw!("{}", v.text())
        }
    };
    if let Some(f) = DaemonFile::read(data) {
        let api = api_client(&f, data)?;
        let result = match (&site, &equipment) {
            (Some(s), _) => api.site(s).map(|d| print(&d)),
            (_, Some(e)) => api.equipment(e).map(|d| print(&d)),
            _ => api.status().map(|d| print(&d)),
        };
        match result {
            Ok(()) => return Ok(()),
            Err(vigie::client::ClientError::Unreachable { .. }) => {
                err!(
                    "the daemon recorded in {} does not answer; reading its saved state",
                    data.display()
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !data.is_dir() {
        anyhow::bail!(
            "no data directory {} (is vigie running with another --data, or VIGIE_DATA?)",
            data.display()
        );
    }
    let restored = Store::read_snapshot(data)?;
    let saved = SavedState::of(data, &restored);
    let saved = match (&site, &equipment) {
        (_, Some(e)) => saved.equipment(&restored, e).with_context(|| {
            format!("no saved state for equipment `{e}` in {}", data.display())
        })?,
        (Some(s), _) => saved.site(&restored, s).with_context(|| {
            format!(
                "nothing saved names site `{s}` in {} (a site without alerts is listed by the running daemon only)",
                data.display()
            )
        })?,
        _ => saved,
    };
    print(&saved);
    Ok(())
}

/// `vigie events`: the event log, from the daemon's API or from its data directory.
mod events {
    use anyhow::Result;
    use std::io::Write;
    use std::path::Path;
    use std::time::Duration;
    use vigie::client::ClientError;
    use vigie::events::Event;
    use vigie::server::DaemonFile;
    use vigie::store::{StoreError, StoreReader};

    /// Events asked per page.
    const PAGE: usize = 1000;
    /// Longest wait of one long poll while following.
    const POLL: Duration = Duration::from_secs(30);
    /// Pause between two looks at a stopped daemon's data directory while following.
    const RETRY: Duration = Duration::from_secs(1);

    /// Where the events were read.
    enum Read {
        /// A page, whether more are ready at once, and whether it was read from the data
        /// directory (the daemon down) rather than from a long poll of the daemon.
        Page(Vec<Event>, u64, bool, bool),
        /// The daemon is down and its data directory cannot be read now (it is starting).
        Busy,
    }

    fn read(data: &Path, after: u64, wait: Duration) -> Result<Read> {
        if let Some(f) = DaemonFile::read(data) {
            match super::api_client(&f, data)?.events(after, PAGE, wait) {
                Ok(page) => {
                    // A client's account is shown its own events only: the cursor is the
                    // last event read, shown or not.
                    let next = page
                        .next_after
                        .max(page.events.last().map_or(after, |e| e.seq));
                    let more = next < page.last;
                    return Ok(Read::Page(page.events, next, more, false));
                }
                Err(ClientError::Unreachable { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match StoreReader::open(data).and_then(|r| r.events_after(after, PAGE)) {
            Ok(events) => {
                let more = events.len() == PAGE;
                let next = events.last().map_or(after, |e| e.seq);
                Ok(Read::Page(events, next, more, true))
            }
            Err(StoreError::InUse(_)) => Ok(Read::Busy),
            Err(e) => Err(e.into()),
        }
    }

    /// Prints events; answers false when the output was closed.
    fn print(out: &mut impl Write, events: &[Event], json: bool) -> bool {
        for e in events {
            let written = if json {
                serde_json::to_string(e)
                    .map_err(std::io::Error::other)
                    .and_then(|line| writeln!(out, "{line}"))
            } else {
                writeln!(out, "{e}")
            };
            if written.is_err() {
                return false;
            }
        }
        out.flush().is_ok()
    }

    /// Prints the log after `since`, then follows it when asked.
    pub fn run(data: &Path, since: u64, follow: bool, json: bool) -> Result<i32> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let mut after = since;
        loop {
            let wait = if follow { POLL } else { Duration::ZERO };
            match read(data, after, wait)? {
                Read::Page(events, next, more, offline) => {
                    after = next;
                    if !print(&mut out, &events, json) {
                        return Ok(0);
                    }
                    if more {
                        continue;
                    }
                    if !follow {
                        return Ok(0);
                    }
                    // Read from the data directory (the daemon down, or killed and its
                    // `daemon.json` left behind): wait before reading again, so the file is
                    // free for the daemon to start on.
                    if events.is_empty() && offline {
                        std::thread::sleep(RETRY);
                    }
                }
                Read::Busy if follow => std::thread::sleep(RETRY),
                Read::Busy => anyhow::bail!(
                    "the data directory {} is in use and its daemon does not answer",
                    data.display()
                ),
            }
        }
    }
}

/// Printing of API answers as text or JSON.
fn plugin_host(deadline: std::time::Duration) -> Result<PluginHost> {
    let limits = Limits {
        deadline,
        concurrency: 4,
        ..Limits::default()
    };
    PluginHost::new(Clock::System, limits, None).map_err(anyhow::Error::msg)
}

fn plugin_command(action: PluginAction) -> Result<i32> {
    match action {
        PluginAction::List {
            plugins,
            data,
            json,
        } => {
            let host = plugin_host(std::time::Duration::from_secs(10))?;
            vigie::plugin_dir::register_builtins(&host);
            let dir = plugins.unwrap_or_else(|| data.join("plugins"));
            if dir.is_dir() {
                vigie::plugin_dir::scan(&dir, &host);
            }
            let list = host.loaded();
            let overridden = host.overridden();
            let refused: Vec<String> = host.refused().iter().map(|e| e.to_string()).collect();
            print_json_or(
                json,
                &serde_json::json!({
                    "directory": dir,
                    "plugins": list,
                    "overridden_built_ins": overridden,
                    "refused": refused,
                }),
                || views::plugin_list(&dir, &list, &overridden, &refused),
            )?;
            Ok(if refused.is_empty() { 0 } else { 1 })
        }
        PluginAction::Inspect { file, json } => {
            let host = plugin_host(std::time::Duration::from_secs(10))?;
            let info = host.inspect(&file)?;
            print_json_or(json, &info, || views::plugin_info(&info))?;
            Ok(0)
        }
        PluginAction::Run {
            file,
            address,
            kind,
            params,
            username,
            password_env,
            tls_trust,
            timeout,
            json,
        } => {
            init_plugin_run_logs();
            let tls_trust =
                TlsTrust::parse(&tls_trust).map_err(|m| anyhow::anyhow!("--tls-trust: {m}"))?;
            let kind = EquipmentKind::from_name(&kind).with_context(|| {
                let names: Vec<&str> = EquipmentKind::ALL.iter().map(|(n, _)| *n).collect();
                format!("--kind `{kind}`: expected one of {}", names.join(", "))
            })?;
            let params = params
                .iter()
                .map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                        .with_context(|| format!("--param `{p}`: write it as NAME=VALUE"))
                })
                .collect::<Result<Vec<_>>>()?;
            let credentials = (username.is_some() || password_env.is_some()).then(|| {
                Arc::new(Credentials {
                    name: "command line".into(),
                    username,
                    password: password_env.as_deref().map(SecretSource::env),
                    privacy_password: None,
                })
            });
            let deadline: std::time::Duration = timeout.into();
            let host = plugin_host(deadline)?;
            let grant = Grant {
                plugin: file.display().to_string(),
                equipment: address.clone(),
                address,
                credentials,
                snmp: SnmpSettings::default(),
                timeout: deadline.mul_f64(0.9),
                clock: Clock::System,
                ports: Vec::new(),
                own_sockets: Arc::default(),
                tls_trust: tls_trust.clone(),
                session: Arc::default(),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let outcome = runtime.block_on(host.run_file(&file, grant, kind, params))?;
            if json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "observation": outcome.observation,
                        "channels": outcome.channels,
                    }))?
                );
            } else {
                out_raw!("{}", views::plugin_outcome(&outcome));
            }
            Ok(match outcome.observation.status {
                vigie::observation::ProbeStatus::Up => 0,
                _ => 2,
            })
        }
    }
}
