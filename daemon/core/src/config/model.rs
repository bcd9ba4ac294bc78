//! The validated configuration model: what actors receive. It knows nothing of actors or storage.

use crate::maintenance::MaintenanceWindow;
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps an identifier already checked by validation.
            pub fn new(id: &str) -> Self {
                Self(Arc::from(id))
            }
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// Identifier of a site (the stem of its file name).
    SiteId
);
id_type!(
    /// Identifier of an equipment, unique across the fleet.
    EquipmentId
);
id_type!(
    /// Identifier of a client.
    ClientId
);
id_type!(
    /// Identifier of a contact.
    ContactId
);

/// What an equipment is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum EquipmentKind {
    /// An IP camera.
    Camera,
    /// A network video recorder.
    Nvr,
    /// A VMS recording server.
    VmsServer,
    /// A video encoder for analogue cameras.
    Encoder,
    /// A network switch.
    Switch,
    /// A router or firewall.
    Router,
    /// Anything else.
    Other,
}

impl EquipmentKind {
    /// Every kind with its configuration spelling.
    pub const ALL: [(&'static str, EquipmentKind); 7] = [
        ("camera", EquipmentKind::Camera),
        ("nvr", EquipmentKind::Nvr),
        ("vms-server", EquipmentKind::VmsServer),
        ("encoder", EquipmentKind::Encoder),
        ("switch", EquipmentKind::Switch),
        ("router", EquipmentKind::Router),
        ("other", EquipmentKind::Other),
    ];

    /// The configuration spelling of the kind.
    pub fn name(self) -> &'static str {
        match self {
            EquipmentKind::Camera => "camera",
            EquipmentKind::Nvr => "nvr",
            EquipmentKind::VmsServer => "vms-server",
            EquipmentKind::Encoder => "encoder",
            EquipmentKind::Switch => "switch",
            EquipmentKind::Router => "router",
            EquipmentKind::Other => "other",
        }
    }

    /// The kind of a configuration spelling.
    pub fn from_name(name: &str) -> Option<EquipmentKind> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

/// How critical a site is for its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    /// Low.
    Low,
    /// Normal (default).
    Normal,
    /// High.
    High,
    /// Critical: tolerance 0 is expected.
    Critical,
}

/// How many offline cameras a site tolerates before alerting (R8).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tolerance {
    /// At most this many cameras.
    Count(u32),
    /// At most this percentage of the site's cameras (rounded down).
    Percent(f64),
}

impl Tolerance {
    /// Number of offline cameras tolerated on a site with `cameras` cameras.
    pub fn allowed(self, cameras: usize) -> usize {
        match self {
            Tolerance::Count(n) => n as usize,
            Tolerance::Percent(p) => ((cameras as f64) * p / 100.0).floor() as usize,
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tolerance::Count(n) => write!(f, "{n}"),
            Tolerance::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Warning and critical levels with hysteresis and a `for` duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Levels {
    /// Value above which a warning is raised.
    pub warning: f64,
    /// Value above which the alert is critical.
    pub critical: f64,
    /// How far below a level the value must fall before the level clears.
    pub recovery: f64,
    /// How long a level must hold before it is raised.
    #[serde(with = "crate::util::serde_duration")]
    pub for_: Duration,
}

/// Fully resolved thresholds for one equipment (policy defaults, then the main file,
/// then the site, then the equipment).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// R3: a camera offline for longer than this counts as offline.
    #[serde(with = "crate::util::serde_duration")]
    pub camera_offline_after: Duration,
    /// R6: an equipment that was up and is down for longer than this raises an alert.
    #[serde(with = "crate::util::serde_duration")]
    pub connectivity_after: Duration,
    /// R4: disk utilisation in percent.
    pub disk: Levels,
    /// R5: temperature in °C.
    pub temperature: Levels,
    /// R7: the recording service stopped for longer than this raises an alert.
    #[serde(with = "crate::util::serde_duration")]
    pub recording_after: Duration,
    /// Hardware reported failed (`hw.status` 0: disk, fan, power supply, heater, battery).
    pub hardware: HardwareRule,
}

/// How a failed part raises an alert (`[thresholds.hardware]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HardwareRule {
    /// How long the part must be reported failed.
    #[serde(with = "crate::util::serde_duration")]
    pub after: Duration,
    /// Severity of a recorder's (NVR, VMS server, encoder) disk in error: recording is at
    /// risk.
    pub disk: crate::alert::Severity,
    /// Severity of any other part (fans, power supplies, a camera's SD card).
    pub other: crate::alert::Severity,
}

impl Default for Thresholds {
    /// The values of policy POL-QUAL-001.
    fn default() -> Self {
        Thresholds {
            camera_offline_after: Duration::from_secs(5 * 60),
            connectivity_after: Duration::from_secs(2 * 60),
            disk: Levels {
                warning: 85.0,
                critical: 95.0,
                recovery: 2.0,
                for_: Duration::from_secs(2 * 60),
            },
            temperature: Levels {
                warning: 70.0,
                critical: 80.0,
                recovery: 3.0,
                for_: Duration::from_secs(2 * 60),
            },
            recording_after: Duration::from_secs(60),
            hardware: HardwareRule {
                after: Duration::ZERO,
                disk: crate::alert::Severity::Critical,
                other: crate::alert::Severity::Warning,
            },
        }
    }
}

/// A probe that collects an equipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Probe {
    /// ICMP echo.
    Icmp,
    /// SNMP with the standard profile.
    Snmp,
    /// TCP connect to a port.
    Tcp(u16),
    /// RTSP `OPTIONS` exchange on a port (554 by default).
    Rtsp(u16),
    /// Scrape of a Prometheus-format agent.
    Agent,
    /// Heartbeats pushed by the equipment.
    Heartbeat,
    /// A vendor WASM probe plugin.
    Plugin(String),
    /// The state of its channel as its recorder's plugin reports it.
    Recorder,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Icmp => f.write_str("icmp"),
            Probe::Snmp => f.write_str("snmp"),
            Probe::Tcp(p) => write!(f, "tcp:{p}"),
            Probe::Rtsp(554) => f.write_str("rtsp"),
            Probe::Rtsp(p) => write!(f, "rtsp:{p}"),
            Probe::Agent => f.write_str("agent"),
            Probe::Heartbeat => f.write_str("heartbeat"),
            Probe::Plugin(n) => write!(f, "plugin:{n}"),
            Probe::Recorder => f.write_str("recorder"),
        }
    }
}

/// A validated equipment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EquipmentConfig {
    /// Identifier.
    pub id: EquipmentId,
    /// Display name (the id when none is given).
    pub name: String,
    /// Kind.
    pub kind: EquipmentKind,
    /// Network address.
    pub address: Option<Address>,
    /// Equipment it depends on, in the same site.
    pub parent: Option<EquipmentId>,
    /// Probes that collect it.
    pub probes: Vec<Probe>,
    /// Its credentials (where the secret is found, never the secret itself).
    pub credentials: Option<Arc<Credentials>>,
    /// Resolved collection settings (shared with every equipment that does not override them).
    pub collection: Arc<Collection>,
    /// Resolved thresholds (shared with every equipment that does not override them).
    pub thresholds: Arc<Thresholds>,
    /// URL scraped by the `agent` probe.
    pub agent_url: Option<String>,
    /// Name of the recording service as the agent reports it.
    pub recording_service: Option<String>,
    /// For the `heartbeat` probe: longest silence before the equipment is down.
    #[serde(with = "crate::util::serde_duration")]
    pub heartbeat_within: Duration,
    /// For the `snmp` probe.
    pub snmp: SnmpSettings,
    /// Parameters of its plugin probes, name and value.
    pub plugin_params: Vec<(String, String)>,
    /// For the `recorder` probe: the recorder channel this camera is.
    pub recorder: Option<RecorderChannel>,
    /// Which certificates its HTTPS interface may present (`tls_trust`).
    pub tls_trust: TlsTrust,
}

/// Which certificates an equipment's HTTPS interface may present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsTrust {
    /// Certificates signed by the system's roots, for the equipment's name or address.
    #[default]
    System,
    /// The one certificate whose SHA-256 fingerprint this is (a self-signed camera), whatever
    /// its names and dates.
    Pinned([u8; 32]),
    /// Any certificate (the exchange is encrypted, not authenticated); said at each load.
    Any,
}

impl TlsTrust {
    /// Reads `system`, `any` or `sha256:` and 64 hex digits (colons allowed, as
    /// `openssl x509 -noout -fingerprint -sha256` prints them).
    pub fn parse(text: &str) -> Result<TlsTrust, String> {
        let text = text.trim();
        match text {
            "system" => return Ok(TlsTrust::System),
            "any" => return Ok(TlsTrust::Any),
            _ => {}
        }
        let hex: String = text
            .strip_prefix("sha256:")
            .or_else(|| text.strip_prefix("SHA256:"))
            .unwrap_or_default()
            .chars()
            .filter(|c| *c != ':')
            .collect();
        let mut pin = [0u8; 32];
        let parsed = hex.len() == 64
            && hex.is_ascii()
            && pin.iter_mut().enumerate().all(|(i, b)| {
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                    .map(|x| *b = x)
                    .is_ok()
            });
        if parsed {
            Ok(TlsTrust::Pinned(pin))
        } else {
            Err(format!(
                "`{text}` is not `system`, `any` or `sha256:` followed by 64 hex digits"
            ))
        }
    }
}

impl fmt::Display for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsTrust::System => f.write_str("system"),
            TlsTrust::Any => f.write_str("any"),
            TlsTrust::Pinned(p) => {
                f.write_str("sha256:")?;
                for b in p {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl EquipmentConfig {
    /// The address to connect to, empty when the equipment has none (heartbeats, recorders).
    pub fn address_str(&self) -> &str {
        self.address.as_ref().map_or("", Address::as_str)
    }
}

/// A camera channel of a recorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecorderChannel {
    /// The recorder, an equipment of the same site.
    pub equipment: EquipmentId,
    /// Channel number (1-based).
    pub channel: u32,
}

/// SNMP version and security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnmpVersion {
    /// v2c: the credentials' password is the community (`public` without credentials).
    V2c,
    /// v3 USM: the credentials give the user and the authentication password.
    V3 {
        /// Authentication protocol.
        auth: SnmpAuth,
        /// Privacy protocol.
        privacy: SnmpPrivacy,
    },
}

/// SNMPv3 authentication protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnmpAuth {
    /// HMAC-MD5-96.
    Md5,
    /// HMAC-SHA-96.
    Sha,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// SNMPv3 privacy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnmpPrivacy {
    /// No encryption (authNoPriv).
    None,
    /// CBC-DES.
    Des,
    /// CFB-AES-128.
    Aes,
    /// CFB-AES-256.
    Aes256,
}

/// How an equipment is read over SNMP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnmpSettings {
    /// Version and security.
    pub version: SnmpVersion,
    /// UDP port.
    pub port: u16,
    /// Extra values: metric name and numeric OID.
    pub oids: Vec<(String, Vec<u64>)>,
}

impl Default for SnmpSettings {
    fn default() -> Self {
        SnmpSettings {
            version: SnmpVersion::V2c,
            port: 161,
            oids: Vec::new(),
        }
    }
}

/// A validated site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteConfig {
    /// Identifier.
    pub id: SiteId,
    /// Display name.
    pub name: String,
    /// Owning client.
    pub client: ClientId,
    /// Time zone in which maintenance windows are read.
    #[serde(serialize_with = "crate::util::serialize_tz")]
    pub timezone: Tz,
    /// Criticality.
    pub criticality: Criticality,
    /// Offline cameras tolerated before alerting.
    pub camera_tolerance: Tolerance,
    /// Maintenance windows.
    pub maintenance: Vec<MaintenanceWindow>,
    /// Site-level resolved thresholds.
    pub thresholds: Arc<Thresholds>,
    /// Equipment by id.
    pub equipment: BTreeMap<EquipmentId, Arc<EquipmentConfig>>,
}

impl SiteConfig {
    /// The site's settings without its equipment, to tell a site change from an equipment change.
    pub fn settings_eq(&self, other: &SiteConfig) -> bool {
        self.name == other.name
            && self.client == other.client
            && self.timezone == other.timezone
            && self.criticality == other.criticality
            && self.camera_tolerance == other.camera_tolerance
            && self.maintenance == other.maintenance
            && self.thresholds == other.thresholds
    }
}

/// Contract options of a client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contract {
    /// The client's sites are supervised.
    pub supervision: bool,
    /// The client has the live dashboard.
    pub dashboard: bool,
    /// The client receives critical alerts directly.
    pub direct_critical_alerts: bool,
    /// Language of the monthly report.
    pub report_language: String,
    /// Contacts of the client.
    pub contacts: Vec<ContactId>,
}

impl Contract {
    /// The language of the client's report (`report_language` is `fr` or `en`, checked at
    /// load).
    pub fn language(&self) -> Language {
        if self.report_language.eq_ignore_ascii_case("en") {
            Language::En
        } else {
            Language::Fr
        }
    }
}

/// A client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Client {
    /// Identifier.
    pub id: ClientId,
    /// Display name.
    pub name: String,
    /// Contract options.
    pub contract: Contract,
}

/// A person who can be notified.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    /// Identifier.
    pub id: ContactId,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number in international form.
    pub phone: Option<String>,
    /// Language of its notifications.
    pub language: Language,
    /// Channels it is reached on, in order of preference (the next is the fallback).
    pub channels: Vec<ChannelKind>,
}

/// Language of a notification.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// French.
    #[default]
    Fr,
    /// English.
    En,
}

impl Language {
    /// Its code, as written in the config and in HTML `lang`.
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

/// A way to reach a contact.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Email through the SMTP relay.
    Email,
    /// SMS through the HTTP gateway.
    Sms,
    /// Alertmanager-compatible webhook.
    Webhook,
    /// The daemon's log (demos, dry runs).
    Log,
}

impl ChannelKind {
    /// Every channel, by name.
    pub const ALL: [(&'static str, ChannelKind); 4] = [
        ("email", ChannelKind::Email),
        ("sms", ChannelKind::Sms),
        ("webhook", ChannelKind::Webhook),
        ("log", ChannelKind::Log),
    ];

    /// Its name in configs.
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Sms => "sms",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Log => "log",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a secret is found, and its value read when the config was loaded (and read again
/// at each reload, which a change of a secret file triggers): never read per probe, never
/// logged, never serialised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretSource {
    /// Where it is found.
    pub origin: SecretOrigin,
    /// Its value when the config was loaded, or why it could not be read.
    #[serde(skip)]
    value: Result<Secret, SecretError>,
}

/// Where a secret is found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SecretOrigin {
    /// An environment variable.
    Env(String),
    /// A file.
    File(String),
}

/// Largest secret file read.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// A secret value; its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The file cannot be read.
    #[error("cannot read secret file {0}: {1}")]
    File(String, String),
}

impl SecretSource {
    /// A secret in an environment variable, read now.
    pub fn env(name: &str) -> Self {
        let value = std::env::var(name)
            .map(Secret)
            .map_err(|_| SecretError::MissingEnv(name.to_string()));
        SecretSource {
            origin: SecretOrigin::Env(name.to_string()),
            value,
        }
    }

    /// A secret in a file, read now (a regular file of at most 64 KiB; a trailing newline is
    /// dropped).
    pub fn file(path: &str) -> Self {
        let err = |e: String| SecretError::File(path.to_string(), e);
        let value = std::fs::metadata(path)
            .map_err(|e| err(e.to_string()))
            .and_then(|m| {
                if !m.is_file() {
                    Err(err("not a regular file".into()))
                } else if m.len() > MAX_SECRET_FILE {
                    Err(err(format!("larger than {} KiB", MAX_SECRET_FILE / 1024)))
                } else {
                    std::fs::read_to_string(path).map_err(|e| err(e.to_string()))
                }
            })
            .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_string()));
        SecretSource {
            origin: SecretOrigin::File(path.to_string()),
            value,
        }
    }

    /// The secret as read when the config was loaded.
    pub fn read(&self) -> Result<Secret, SecretError> {
        self.value.clone()
    }

    /// The file holding the secret, if it is one.
    pub fn file_path(&self) -> Option<&str> {
        match &self.origin {
            SecretOrigin::File(p) => Some(p),
            SecretOrigin::Env(_) => None,
        }
    }
}

/// An equipment's network address, parsed once when the config loads: an IP address (IPv6
/// with or without brackets) or a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    text: String,
    ip: Option<std::net::IpAddr>,
}

impl Address {
    /// Reads an address; a host name is letters, digits, `-`, `_` and `.` (RFC 1123 labels,
    /// with `_` tolerated as many installations use it).
    pub fn parse(text: &str) -> Result<Address, String> {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            return Ok(Address {
                text: ip.to_string(),
                ip: Some(ip),
            });
        }
        let name_ok = !bare.is_empty()
            && bare.len() <= 253
            && bare.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if name_ok {
            Ok(Address {
                text: bare.to_ascii_lowercase(),
                ip: None,
            })
        } else {
            Err(format!("`{text}` is not an IP address or a host name"))
        }
    }

    /// The address to connect to: an IP address without brackets, or the host name.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The IP address, when it is one.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.ip
    }

    /// The address as the host of a URL or of `host:port` (IPv6 in brackets).
    pub fn url_host(&self) -> String {
        match self.ip {
            Some(std::net::IpAddr::V6(_)) => format!("[{}]", self.text),
            _ => self.text.clone(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A named set of credentials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Credentials {
    /// Name of the `[credentials.NAME]` entry.
    pub name: String,
    /// User name.
    pub username: Option<String>,
    /// Where the password is found.
    pub password: Option<SecretSource>,
    /// Where the SNMPv3 privacy password is found (the password when absent).
    pub privacy_password: Option<SecretSource>,
}

impl Credentials {
    /// Files holding its secrets.
    pub fn secret_files(&self) -> impl Iterator<Item = &str> {
        [&self.password, &self.privacy_password]
            .into_iter()
            .flatten()
            .filter_map(SecretSource::file_path)
    }

    /// The user name and the password, when both are set. A password that cannot
    /// be read is an error even without a user name.
    pub fn login(&self) -> Result<Option<(String, Secret)>, SecretError> {
        let secret = self.password.as_ref().map(SecretSource::read).transpose()?;
        Ok(self.username.clone().zip(secret))
    }
}

/// On-call organisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnCall {
    /// Technicians in rotation order.
    pub technicians: Vec<ContactId>,
    /// Length of one turn.
    #[serde(with = "crate::util::serde_duration")]
    pub rotation: Duration,
    /// Start of the first turn.
    pub rotation_start: chrono::DateTime<chrono::Utc>,
    /// On-call manager (first escalation level).
    pub manager: Option<ContactId>,
    /// Technical manager (second escalation level).
    pub technical_manager: Option<ContactId>,
    /// Time zone of the hand-overs.
    #[serde(serialize_with = "crate::config::model::serialize_tz")]
    pub timezone: Tz,
    /// Swaps and holidays, in file order (a later one wins where they overlap).
    pub overrides: Vec<Override>,
}

pub(crate) fn serialize_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// An on-call role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The technician on call (level 0).
    Technician,
    /// The on-call manager (level 1).
    Manager,
    /// The technical manager (level 2).
    TechnicalManager,
}

impl Role {
    /// Every role, by name.
    pub const ALL: [(&'static str, Role); 3] = [
        ("technician", Role::Technician),
        ("manager", Role::Manager),
        ("technical_manager", Role::TechnicalManager),
    ];

    /// The role an escalation level reaches (1: the on-call manager, 2: the technical
    /// manager).
    pub fn of_level(level: u8) -> Option<Role> {
        match level {
            1 => Some(Role::Manager),
            2 => Some(Role::TechnicalManager),
            _ => None,
        }
    }

    /// How people call it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Technician => "technician",
            Role::Manager => "on-call manager",
            Role::TechnicalManager => "technical manager",
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Technician => "technician",
            Role::Manager => "manager",
            Role::TechnicalManager => "technical_manager",
        }
    }
}

/// Someone holding a role instead of its usual holder for a while.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Override {
    /// Start.
    pub from: chrono::DateTime<chrono::Utc>,
    /// End (excluded).
    pub until: chrono::DateTime<chrono::Utc>,
    /// The role.
    pub role: Role,
    /// Who holds it meanwhile.
    pub by: ContactId,
    /// Whose turn it replaces; any holder when `None`.
    pub replaces: Option<ContactId>,
}

/// Escalation delays (R12).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Escalation {
    /// Delay before the first escalation.
    #[serde(with = "crate::util::serde_duration")]
    pub after: Duration,
    /// Delay between the first and the second escalation.
    #[serde(with = "crate::util::serde_duration")]
    pub then_after: Duration,
    /// Interval of the reminders to the on-call technicians while an alert is not
    /// acknowledged (zero: none).
    #[serde(with = "crate::util::serde_duration")]
    pub remind_every: Duration,
}

/// TLS mode of the SMTP relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// STARTTLS upgrade.
    Starttls,
    /// Implicit TLS.
    Tls,
    /// Plain text (loopback relays only).
    None,
}

/// Email channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailChannel {
    /// SMTP relay host.
    pub smtp_host: String,
    /// SMTP port.
    pub smtp_port: u16,
    /// Sender address.
    pub from: String,
    /// Its credentials, resolved at load (user and password for SMTP authentication).
    pub credentials: Option<Arc<Credentials>>,
    /// TLS mode.
    pub security: SmtpSecurity,
    /// Connections to the relay used at once and kept open between messages.
    pub connections: u32,
    /// Certificate authorities trusted for the relay beside the system's.
    pub ca_file: Option<CaFile>,
}

/// A PEM file of certificate authorities, read and checked when the config loads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaFile {
    /// Where it was read.
    pub path: String,
    /// The certificates, DER-encoded.
    #[serde(skip)]
    pub certificates: Vec<Vec<u8>>,
}

/// The bytes of a regular file of at most `max` bytes (`limit` says it in words), or what is
/// wrong with it, naming it: for files a config names (a CA file, a logo).
fn read_bounded(path: &std::path::Path, max: u64, limit: &str) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("`{shown}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!("`{shown}` is not a regular file"));
    }
    if meta.len() > max {
        return Err(format!("`{shown}` is larger than {limit}"));
    }
    std::fs::read(path).map_err(|e| format!("`{shown}`: {e}"))
}

/// Largest CA file read.
pub const MAX_CA_FILE: u64 = 1 << 20;

impl CaFile {
    /// Reads `path`: a regular file of at most [`MAX_CA_FILE`] holding at least one PEM
    /// certificate.
    pub fn read(path: &str) -> Result<CaFile, String> {
        use rustls_pki_types::pem::PemObject;
        let bytes = read_bounded(
            std::path::Path::new(path),
            MAX_CA_FILE,
            &format!("{} KiB", MAX_CA_FILE / 1024),
        )?;
        let certificates = rustls_pki_types::CertificateDer::pem_slice_iter(&bytes)
            .map(|c| c.map(|c| c.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("`{path}`: not a PEM certificate file: {e}"))?;
        if certificates.is_empty() {
            return Err(format!("`{path}` holds no PEM certificate"));
        }
        Ok(CaFile {
            path: path.to_string(),
            certificates,
        })
    }
}

/// Default of `[channels.email] connections`.
pub const EMAIL_CONNECTIONS: u32 = 8;

/// SMS channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmsChannel {
    /// URL of the SMS gateway.
    pub gateway_url: String,
    /// Its credentials, resolved at load (HTTP Basic).
    pub credentials: Option<Arc<Credentials>>,
    /// HTTP method.
    pub method: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body template with `{to}`, `{text}` and `{reference}`.
    pub body: String,
    /// Content type of the body.
    pub content_type: String,
}

/// Webhook channel (Alertmanager webhook payload, version 4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookChannel {
    /// URL receiving the POST.
    pub url: String,
    /// How its HTTPS certificate is checked.
    pub tls_trust: TlsTrust,
}

/// `[channels.tickets]`: the external ticketing tool told of each ticket change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketsChannel {
    /// URL receiving the POST.
    pub url: String,
    /// How its HTTPS certificate is checked.
    pub tls_trust: TlsTrust,
    /// Its credentials, resolved at load: HTTP Basic with a username, a bearer token without.
    pub credentials: Option<Arc<Credentials>>,
}

/// How an equipment is collected: set in `[daemon]`, overridable per site (`[site]`) and per
/// equipment, with the same names everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Collection {
    /// Collection interval (`collection_interval`).
    #[serde(with = "crate::util::serde_duration")]
    pub interval: Duration,
    /// Longest run of one collection, all its probes together (`probe_timeout`).
    #[serde(with = "crate::util::serde_duration")]
    pub probe_timeout: Duration,
    /// ICMP echo requests per round (`ping_count`).
    pub ping_count: u16,
    /// Wait for ICMP replies after the last request (`ping_timeout`).
    #[serde(with = "crate::util::serde_duration")]
    pub ping_timeout: Duration,
    /// Extra ICMP rounds when a round got no reply (`ping_retries`).
    pub ping_retries: u16,
}

impl Default for Collection {
    fn default() -> Self {
        Collection {
            interval: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(10),
            ping_count: 3,
            ping_timeout: Duration::from_secs(1),
            ping_retries: 1,
        }
    }
}

impl Collection {
    /// The delay between the echo requests of one ICMP round.
    pub const PING_SPACING: Duration = Duration::from_millis(20);
    /// The pinger's time grid: every ICMP send and expiry is rounded up to a multiple of it.
    pub const PING_SLOT: Duration = Duration::from_millis(10);
    /// The collections' time grid: each equipment's collections start on a multiple of it
    /// (after its offset in the interval), so those due together share one wake-up of their
    /// arbiter and one batch of the pinger. A multiple of [`Self::PING_SLOT`].
    pub const START_SLOT: Duration = Duration::from_millis(100);

    /// The longest an ICMP probe may take with these settings (every round, every retry):
    /// each request [`Self::PING_SPACING`] after the previous one, the wait for replies after
    /// the last, and every step rounded up to a [`Self::PING_SLOT`].
    pub fn ping_budget(&self) -> Duration {
        let slot = Self::PING_SLOT;
        (self.ping_timeout + (Self::PING_SPACING + slot) * u32::from(self.ping_count) + slot)
            * (1 + u32::from(self.ping_retries))
    }

    /// What the probes of one collection may spend: a little less than `probe_timeout`, so
    /// they give up before the daemon's watchdog stops them.
    pub fn probe_budget(&self) -> Duration {
        self.probe_timeout.mul_f64(0.9)
    }
}

/// Daemon settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaemonSettings {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// Upper bound on probes in flight.
    pub max_probes_in_flight: u32,
    /// Collection settings of every equipment that does not override them.
    pub collection: Arc<Collection>,
    /// How long the event log is kept; older events are compacted away, availability kept
    /// exact.
    #[serde(with = "crate::util::serde_duration")]
    pub retention: Duration,
    /// Host names the API is reached by, lower case (`localhost` and IP addresses always are).
    pub server_names: Vec<String>,
    /// The API's TLS certificate and key, read at load; none: plain HTTP.
    pub tls: Option<ApiTls>,
    /// Plain HTTP allowed on an address other than loopback.
    pub plain_http: bool,
}

/// The API's TLS certificate chain and key (`[daemon] tls_certificate`, `tls_key`), read from
/// their PEM files when the config loads; a change of either file reloads the config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiTls {
    /// The certificate chain's file.
    pub certificate: std::path::PathBuf,
    /// The key's file.
    pub key: std::path::PathBuf,
    /// The chain, leaf first.
    #[serde(skip)]
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The private key.
    #[serde(skip)]
    pub private_key: Arc<rustls_pki_types::PrivateKeyDer<'static>>,
}

/// Default of `[daemon] retention`: 25 months, so a year-on-year annual review works.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(25 * 2_629_746);

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8480)),
            max_probes_in_flight: 512,
            collection: Arc::default(),
            retention: DEFAULT_RETENTION,
            server_names: Vec::new(),
            tls: None,
            plain_http: false,
        }
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Config {
    /// Daemon settings.
    pub daemon: DaemonSettings,
    /// Default thresholds (policy values overridden by the main file).
    pub thresholds: Arc<Thresholds>,
    /// Clients by id.
    pub clients: BTreeMap<ClientId, Client>,
    /// Contacts by id.
    pub contacts: BTreeMap<ContactId, Contact>,
    /// Credentials by name.
    pub credentials: BTreeMap<String, Arc<Credentials>>,
    /// On-call organisation.
    pub on_call: Option<OnCall>,
    /// Escalation delays.
    pub escalation: Escalation,
    /// When the monthly reports are sent.
    pub reports: Reports,
    /// OTLP export.
    pub telemetry: Telemetry,
    /// How deliveries are retried.
    pub notifications: Notifications,
    /// Email channel.
    pub email: Option<EmailChannel>,
    /// SMS channel.
    pub sms: Option<SmsChannel>,
    /// Webhook channel.
    pub webhook: Option<WebhookChannel>,
    /// The external ticketing tool (`[channels.tickets]`).
    pub tickets: Option<TicketsChannel>,
    /// Log channel (`[channels.log]`).
    pub log_channel: bool,
    /// Extra SNMP values read on every equipment of a kind: metric name and OID.
    pub snmp_oids: BTreeMap<EquipmentKind, Vec<(String, Vec<u64>)>>,
    /// Sites by id.
    pub sites: BTreeMap<SiteId, Arc<SiteConfig>>,
    /// Who may use the API and the dashboard, by account id.
    pub accounts: BTreeMap<String, Account>,
    /// What loading found worth saying without refusing the config (`file:line:col: ...`).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// How deliveries are retried (`[notifications]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Notifications {
    /// Wait after a first failure; doubles at each failure, with jitter.
    #[serde(with = "crate::util::serde_duration")]
    pub retry_initial: Duration,
    /// Longest wait between two attempts.
    #[serde(with = "crate::util::serde_duration")]
    pub retry_max: Duration,
    /// Failures on one channel before the contact's next channel is used.
    pub attempts_per_channel: u32,
    /// New alerts of one site within this window reach a recipient as one message (zero:
    /// each alert at once).
    #[serde(with = "crate::util::serde_duration")]
    pub group_window: Duration,
    /// Most messages about one alert series (an equipment or site and a rule) per hour; those
    /// over it are counted and mentioned in the next message. Resolutions always go out.
    pub max_per_hour: u32,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            group_window: Duration::ZERO,
            max_per_hour: 6,
            retry_initial: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            attempts_per_channel: 5,
        }
    }
}

/// Where and how the daemon exports its telemetry over OTLP (`[telemetry]`); nothing is
/// exported without an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Telemetry {
    /// The OTLP/HTTP export, when an endpoint is configured.
    pub otlp: Option<Otlp>,
}

/// The OTLP/HTTP export (protobuf).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Otlp {
    /// Base URL (`http://collector:4318`), without a trailing slash.
    pub endpoint: String,
    /// Export period.
    #[serde(with = "crate::util::serde_duration")]
    pub interval: Duration,
    /// Deadline of one request.
    #[serde(with = "crate::util::serde_duration")]
    pub timeout: Duration,
    /// `service.instance.id`; the host name when `None`.
    pub instance: Option<String>,
    /// Whether probe runs are exported as spans.
    pub traces: bool,
    /// Spans kept waiting at most.
    pub buffer: usize,
}

/// Default of `[telemetry] buffer`.
pub const OTLP_BUFFER: usize = 4096;

/// `[reports]`: each client's report of the past month is sent on `day` at `time` in
/// `timezone` to its contract's contacts, under the company's name, logo and colours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reports {
    /// Whether they are sent.
    pub send: bool,
    /// Day of the month.
    pub day: u32,
    /// Local time.
    pub time: chrono::NaiveTime,
    /// Zone of `day` and `time`.
    #[serde(serialize_with = "crate::config::model::serialize_tz")]
    pub timezone: Tz,
    /// The maintenance company's name, on the cover and in each page's footer.
    pub company: String,
    /// Its logo, on the cover.
    pub logo: Option<Logo>,
    /// Main colour (headings, chart bars), `#rrggbb`.
    pub colour: String,
    /// Accent colour (days with downtime, urgent recommendations), `#rrggbb`.
    pub accent: String,
}

/// Default main colour of the reports.
pub const REPORT_COLOUR: &str = "#1f4e79";
/// Default accent colour of the reports.
pub const REPORT_ACCENT: &str = "#c0392b";

impl Default for Reports {
    fn default() -> Self {
        Reports {
            send: true,
            day: 1,
            time: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            timezone: chrono_tz::Europe::Paris,
            company: String::new(),
            logo: None,
            colour: REPORT_COLOUR.into(),
            accent: REPORT_ACCENT.into(),
        }
    }
}

/// A logo image read at load: PNG, JPEG or SVG.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Logo {
    /// Where it was read.
    pub path: String,
    /// Its format.
    pub format: LogoFormat,
    /// Its bytes.
    #[serde(skip)]
    pub bytes: Arc<[u8]>,
}

/// The image formats a logo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogoFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// SVG.
    Svg,
}

impl LogoFormat {
    /// The file extension and the media type.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            LogoFormat::Png => ("png", "image/png"),
            LogoFormat::Jpeg => ("jpg", "image/jpeg"),
            LogoFormat::Svg => ("svg", "image/svg+xml"),
        }
    }
}

/// Largest logo file read.
pub const MAX_LOGO_FILE: u64 = 2 << 20;

impl Logo {
    /// Reads `path`: a regular file of at most [`MAX_LOGO_FILE`] whose first bytes are those
    /// of a PNG, a JPEG or an SVG image.
    pub fn read(path: &std::path::Path) -> Result<Logo, String> {
        let shown = path.display();
        let bytes = read_bounded(path, MAX_LOGO_FILE, &format!("{} MiB", MAX_LOGO_FILE >> 20))?;
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
        let format = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            LogoFormat::Png
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            LogoFormat::Jpeg
        } else if head.contains("<svg") {
            LogoFormat::Svg
        } else {
            return Err(format!("`{shown}` is not a PNG, JPEG or SVG image"));
        };
        Ok(Logo {
            path: path.display().to_string(),
            format,
            bytes: bytes.into(),
        })
    }
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            after: Duration::from_secs(3600),
            then_after: Duration::from_secs(3600),
            remind_every: Duration::from_secs(15 * 60),
        }
    }
}

impl Config {
    /// The files holding secrets of its credentials, to watch along the config directory.
    pub fn secret_files(&self) -> Vec<std::path::PathBuf> {
        let mut files: Vec<std::path::PathBuf> = self
            .credentials
            .values()
            .flat_map(|c| c.secret_files().map(std::path::PathBuf::from))
            .collect();
        if let Some(tls) = &self.daemon.tls {
            files.push(tls.certificate.clone());
            files.push(tls.key.clone());
        }
        files.sort();
        files.dedup();
        files
    }

    /// Number of equipment in the fleet.
    pub fn equipment_count(&self) -> usize {
        self.sites.values().map(|s| s.equipment.len()).sum()
    }

    /// Equipment counts by kind.
    pub fn equipment_by_kind(&self) -> BTreeMap<EquipmentKind, usize> {
        let mut out = BTreeMap::new();
        for site in self.sites.values() {
            for eq in site.equipment.values() {
                *out.entry(eq.kind).or_insert(0) += 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_parsed_once_into_an_ip_or_a_name() {
        let v6 = Address::parse("[2001:DB8::0001]").expect("v6");
        assert_eq!(v6.as_str(), "2001:db8::1");
        assert_eq!(v6.url_host(), "[2001:db8::1]");
        assert!(v6.ip().is_some());
        let v4 = Address::parse("10.0.0.5").expect("v4");
        assert_eq!(v4.url_host(), "10.0.0.5");
        let name = Address::parse("Cam-01.Site_A.example").expect("name");
        assert_eq!(name.as_str(), "cam-01.site_a.example");
        assert_eq!(name.ip(), None);
        for bad in [
            "",
            "10.0.0.5 ",
            "cam 1",
            "-cam",
            "a..b",
            "http://x",
            "cam/1",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_kind_has_one_spelling_both_ways() {
        assert_eq!(EquipmentKind::ALL.len(), 7);
        for (name, kind) in EquipmentKind::ALL {
            assert_eq!(kind.name(), name);
            assert_eq!(EquipmentKind::from_name(name), Some(kind));
        }
        assert_eq!(EquipmentKind::from_name("nvrr"), None);
    }
}

/// What the maintenance company's staff may do, in increasing order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OpsRole {
    /// Reads every client's fleet, alerts and reports.
    Viewer,
    /// Also acknowledges and closes alerts and tickets and opens maintenance windows.
    Operator,
    /// Also sends test notifications and reads the outbox.
    Admin,
}

impl OpsRole {
    /// Every role, by name.
    pub const ALL: [(&'static str, OpsRole); 3] = [
        ("viewer", OpsRole::Viewer),
        ("operator", OpsRole::Operator),
        ("admin", OpsRole::Admin),
    ];

    /// Its name in configs.
    pub fn name(self) -> &'static str {
        match self {
            OpsRole::Viewer => "viewer",
            OpsRole::Operator => "operator",
            OpsRole::Admin => "admin",
        }
    }
}

/// What an account reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// The maintenance company's staff: every client, with a role.
    Ops(OpsRole),
    /// A client's staff: that client's sites only, read only.
    Client(ClientId),
}

/// `[accounts.ID]`: a person or a script allowed to use the API and the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    /// Its id (what it logs in with).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it reaches.
    pub access: Access,
    /// Argon2id hash of its password (a PHC string); none: no password login.
    #[serde(skip)]
    pub password: Option<String>,
    /// SHA-256 digests of its API tokens.
    #[serde(skip)]
    pub tokens: Vec<[u8; 32]>,
    /// Language of its pages.
    pub language: Language,
}

/// Id reserved for the daemon's own local token (the command line on the daemon's machine).
pub const LOCAL_ACCOUNT: &str = "local";

/// The SHA-256 digest of an API token, as `[accounts.ID] tokens` holds it.
pub fn token_digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// A token's digest as written in the config: `sha256:` and 64 lower-case hex digits.
pub fn token_digest_text(digest: &[u8; 32]) -> String {
    let mut out = String::from("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Reads a token digest written as `sha256:HEX`.
pub fn parse_token_digest(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("sha256:")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
