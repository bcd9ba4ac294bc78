//! Raw configuration types: the TOML files exactly as written, before validation.
//!
//! Every struct denies unknown fields so a misspelled key is an error, never silently
//! ignored. Values that need checking beyond their TOML type (durations, time zones,
//! references) are kept as [`Spanned`] strings so validation can point at them.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// `[daemon]` in the main file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    /// Collection interval of every equipment that does not set its own (`"60s"`).
    pub collection_interval: Option<Spanned<String>>,
    /// Address of the HTTP API (`"127.0.0.1:8480"`).
    pub listen: Option<Spanned<String>>,
    /// Upper bound on probes in flight across the whole daemon.
    pub max_probes_in_flight: Option<Spanned<u32>>,
    /// Per-probe timeout (`"10s"`).
    pub probe_timeout: Option<Spanned<String>>,
    /// ICMP echo requests per round.
    pub ping_count: Option<Spanned<u16>>,
    /// How long to wait for ICMP replies after the last request (`"1s"`).
    pub ping_timeout: Option<Spanned<String>>,
    /// Extra ICMP rounds when a round got no reply.
    pub ping_retries: Option<Spanned<u16>>,
    /// How long the event log (transitions, alert changes, notifications) is kept
    /// (`"25months"`).
    pub retention: Option<Spanned<String>>,
    /// Host names the API and the dashboard are reached by (beyond `localhost` and IP
    /// addresses); a request naming another host is refused.
    pub server_names: Option<Vec<Spanned<String>>>,
    /// PEM file of the API's TLS certificate chain (the API is served over HTTPS when given).
    pub tls_certificate: Option<Spanned<String>>,
    /// PEM file of the key of `tls_certificate`.
    pub tls_key: Option<Spanned<String>>,
    /// Serve plain HTTP on an address other than loopback (refused unless set).
    pub plain_http: Option<bool>,
}

/// A threshold block with a warning level, a critical level, a recovery margin and a
/// `for` duration (`[thresholds.disk]`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLevels {
    /// Value above which a warning is raised.
    pub warning: Option<Spanned<f64>>,
    /// Value above which the alert is critical.
    pub critical: Option<Spanned<f64>>,
    /// How far below a level the value must fall before the level clears.
    pub recovery: Option<Spanned<f64>>,
    /// How long a level must hold before it is raised.
    #[serde(rename = "for")]
    pub for_: Option<Spanned<String>>,
}

/// A rule that fires once a condition has lasted a duration (`[thresholds.camera_offline]`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAfter {
    /// How long the condition must last before the alert opens.
    pub after: Option<Spanned<String>>,
}

/// `[thresholds]`: in the main file (defaults), a site file, or an equipment entry.
/// Every field is optional; what is absent is inherited.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    /// R3: camera offline.
    pub camera_offline: Option<RawAfter>,
    /// R6: loss of connectivity of an equipment that was up.
    pub connectivity: Option<RawAfter>,
    /// R4: disk utilisation in percent.
    pub disk: Option<RawLevels>,
    /// R5: internal temperature in °C.
    pub temperature: Option<RawLevels>,
    /// R7: recording service stopped.
    pub recording: Option<RawAfter>,
    /// A part reported failed by a plugin or SNMP.
    pub hardware: Option<RawHardware>,
}

/// `[thresholds.hardware]`: how long a part must be failed, and the severities.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHardware {
    /// How long the part must be reported failed before the alert opens.
    pub after: Option<Spanned<String>>,
    /// Severity of a recorder's disk in error (`"critical"` or `"warning"`).
    pub disk: Option<Spanned<String>>,
    /// Severity of any other failed part.
    pub other: Option<Spanned<String>>,
}

/// Contract options of a client (`[clients.ID.contract]`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContract {
    /// The client's sites are supervised.
    pub supervision: Option<bool>,
    /// The client has access to the live dashboard.
    pub dashboard: Option<bool>,
    /// The client receives critical alerts directly.
    pub direct_critical_alerts: Option<bool>,
    /// Language of the monthly report (`"fr"`, `"en"`).
    pub report_language: Option<Spanned<String>>,
    /// Contacts of the client who receive direct alerts and reports.
    pub contacts: Option<Vec<Spanned<String>>>,
}

/// `[clients.ID]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// Display name.
    pub name: String,
    /// Contract options.
    #[serde(default)]
    pub contract: RawContract,
}

/// `[contacts.ID]`: a person who can be notified.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContact {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: Option<Spanned<String>>,
    /// Phone number for SMS, in international form (`+33...`).
    pub phone: Option<Spanned<String>>,
    /// Language of its notifications: `"fr"` (default) or `"en"`.
    pub language: Option<Spanned<String>>,
    /// Channels it is reached on, in order of preference: the next one is the fallback of
    /// the one before (`["sms", "email"]`). Default: email if it has an address, then SMS if
    /// it has a phone number.
    pub channels: Option<Vec<Spanned<String>>>,
}

/// `[on_call]`: who is on call.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOnCall {
    /// Technicians on call, in rotation order.
    #[serde(default)]
    pub technicians: Vec<Spanned<String>>,
    /// Length of one rotation turn (`"7d"`).
    pub rotation: Option<Spanned<String>>,
    /// Start of the first turn, an RFC 3339 instant.
    pub rotation_start: Option<Spanned<String>>,
    /// The on-call manager (first escalation level).
    pub manager: Option<Spanned<String>>,
    /// The technical manager (second escalation level).
    pub technical_manager: Option<Spanned<String>>,
    /// IANA time zone of the hand-overs (`"Europe/Paris"`, default UTC): a turn of whole days
    /// hands over at the same local time, across DST changes.
    pub timezone: Option<Spanned<String>>,
    /// Swaps and holidays: `[[on_call.override]]`.
    #[serde(default, rename = "override")]
    pub overrides: Vec<RawOverride>,
}

/// `[[on_call.override]]`: who replaces whom, from when until when.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    /// Start, local time in the on-call time zone (`"2026-07-14T08:00"`) or RFC 3339.
    pub from: Spanned<String>,
    /// End (excluded), the same way.
    pub until: Spanned<String>,
    /// Who holds the role meanwhile.
    pub by: Spanned<String>,
    /// Whose turn it replaces; any holder when absent.
    pub replaces: Option<Spanned<String>>,
    /// `"technician"` (default), `"manager"` or `"technical_manager"`.
    pub role: Option<Spanned<String>>,
}

/// `[escalation]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    /// Delay after which an alert not acknowledged and handled is escalated (`"1h"`).
    pub after: Option<Spanned<String>>,
    /// Delay between the first and the second escalation level.
    pub then_after: Option<Spanned<String>>,
    /// Interval of the reminders to the on-call technicians while an alert is not
    /// acknowledged (`"15m"`; `"0s"`: none).
    pub remind_every: Option<Spanned<String>>,
}

/// `[telemetry]`: export of the daemon's and the equipment's metrics, and of probe traces,
/// over OTLP.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// Base URL of an OTLP/HTTP receiver (`http://collector:4318`); `/v1/metrics` and
    /// `/v1/traces` are appended.
    pub otlp_endpoint: Option<Spanned<String>>,
    /// Export period (`"60s"`).
    pub interval: Option<Spanned<String>>,
    /// Deadline of one export request (`"10s"`).
    pub timeout: Option<Spanned<String>>,
    /// `service.instance.id` of the exports (the host name by default).
    pub instance: Option<Spanned<String>>,
    /// Whether probe runs are exported as spans (default true).
    pub traces: Option<bool>,
    /// Spans kept waiting for the next export at most; past it they are dropped and counted.
    pub buffer: Option<Spanned<u32>>,
}

/// `[reports]`: when the monthly reports are sent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    /// Whether they are sent (default true).
    pub send: Option<bool>,
    /// Day of the month (1 to 28).
    pub day: Option<Spanned<i64>>,
    /// Local time, `HH:MM`.
    pub time: Option<Spanned<String>>,
    /// Time zone of `day` and `time`.
    pub timezone: Option<Spanned<String>>,
    /// The maintenance company's name on the reports.
    pub company: Option<String>,
    /// Its logo (PNG, JPEG or SVG), relative to the config file's directory.
    pub logo: Option<Spanned<String>>,
    /// Main colour, `#rrggbb`.
    pub colour: Option<Spanned<String>>,
    /// Accent colour, `#rrggbb`.
    pub accent: Option<Spanned<String>>,
}

/// `[notifications]`: how deliveries are retried.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// Wait after a first failure (`"5s"`); doubles at each failure, with jitter.
    pub retry_initial: Option<Spanned<String>>,
    /// Longest wait between two attempts (`"5m"`).
    pub retry_max: Option<Spanned<String>>,
    /// Failures on one channel before the contact's next channel is used.
    pub attempts_per_channel: Option<Spanned<u32>>,
    /// New alerts of one site within this window go to a recipient as one message (`"30s"`).
    pub group_window: Option<Spanned<String>>,
    /// Most messages about one alert series per hour (a flapping alert).
    pub max_per_hour: Option<Spanned<u32>>,
}

/// `[channels.email]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmailChannel {
    /// SMTP relay host.
    pub smtp_host: String,
    /// SMTP port.
    pub smtp_port: Option<u16>,
    /// Sender address.
    pub from: Spanned<String>,
    /// Credentials reference for the relay.
    pub credentials: Option<Spanned<String>>,
    /// `"starttls"`, `"tls"` or `"none"`.
    pub security: Option<Spanned<String>>,
    /// Connections to the relay used at once (and kept open between messages).
    pub connections: Option<Spanned<i64>>,
    /// PEM file of certificate authorities trusted for the relay beside the system's.
    pub ca_file: Option<Spanned<String>>,
}

/// `[channels.sms]`: an HTTP gateway, the request written so any provider's API fits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmsChannel {
    /// URL of the SMS gateway.
    pub gateway_url: Spanned<String>,
    /// Credentials reference for the gateway (sent as HTTP Basic).
    pub credentials: Option<Spanned<String>>,
    /// HTTP method (`"POST"`).
    pub method: Option<Spanned<String>>,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body template: `{to}` is the number, `{text}` the message, `{reference}` a key unique
    /// to the notification (JSON-escaped when the content type is JSON).
    pub body: Option<Spanned<String>>,
    /// Content type of the body (`"application/json"`).
    pub content_type: Option<String>,
}

/// `[channels.webhook]`: a JSON POST compatible with Alertmanager's webhook (version 4).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhookChannel {
    /// URL receiving the POST.
    pub url: Spanned<String>,
    /// How its HTTPS certificate is checked (`"system"`, `"any"`, `"sha256:…"`).
    pub tls_trust: Option<Spanned<String>>,
}

/// `[channels.log]`: what would have been sent, written to the log (demos, dry runs).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogChannel {}

/// `[channels]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannels {
    /// Email channel.
    pub email: Option<RawEmailChannel>,
    /// SMS channel.
    pub sms: Option<RawSmsChannel>,
    /// Webhook channel.
    pub webhook: Option<RawWebhookChannel>,
    /// Log channel.
    pub log: Option<RawLogChannel>,
    /// The external ticketing tool's webhook.
    pub tickets: Option<RawTicketsChannel>,
}

/// `[channels.tickets]`: intervention tickets told to an external ticketing tool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTicketsChannel {
    /// URL receiving the POST.
    pub url: Spanned<String>,
    /// How its HTTPS certificate is checked (`"system"`, `"any"`, `"sha256:…"`).
    pub tls_trust: Option<Spanned<String>>,
    /// Credentials reference: HTTP Basic with a username, a bearer token without.
    pub credentials: Option<Spanned<String>>,
}

/// `[credentials.ID]`: where a secret is found. The secret itself never sits in a config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredentials {
    /// User name.
    pub username: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<Spanned<String>>,
    /// File holding the password.
    pub password_file: Option<Spanned<String>>,
    /// Environment variable holding the SNMPv3 privacy password.
    pub privacy_password_env: Option<Spanned<String>>,
    /// File holding the SNMPv3 privacy password.
    pub privacy_password_file: Option<Spanned<String>>,
}

/// `[site]` in a site file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// Display name.
    pub name: String,
    /// Client owning the site.
    pub client: Spanned<String>,
    /// IANA time zone (`"Europe/Paris"`).
    pub timezone: Spanned<String>,
    /// `"critical"`, `"high"`, `"normal"` or `"low"`.
    pub criticality: Option<Spanned<String>>,
    /// Offline cameras tolerated before alerting: a count (`2`) or a percentage (`"5%"`).
    pub camera_tolerance: Option<Spanned<RawTolerance>>,
    /// Collection interval for the site's equipment.
    pub collection_interval: Option<Spanned<String>>,
    /// Longest run of one collection for the site's equipment (`"10s"`).
    pub probe_timeout: Option<Spanned<String>>,
    /// ICMP echo requests per round for the site's equipment.
    pub ping_count: Option<Spanned<u16>>,
    /// ICMP reply wait for the site's equipment (`"1s"`).
    pub ping_timeout: Option<Spanned<String>>,
    /// Extra ICMP rounds for the site's equipment.
    pub ping_retries: Option<Spanned<u16>>,
}

/// A tolerance as written: an integer count or a `"N%"` string.
#[derive(Debug, Clone)]
pub enum RawTolerance {
    /// A number of cameras.
    Count(i64),
    /// A percentage, written `"5%"`.
    Text(String),
}

impl<'de> Deserialize<'de> for RawTolerance {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawTolerance;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a count of cameras such as 2 or a percentage such as \"5%\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawTolerance, E> {
                Ok(RawTolerance::Count(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawTolerance, E> {
                Ok(RawTolerance::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawTolerance, E> {
                Ok(RawTolerance::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[[maintenance]]` in a site file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    /// Display name.
    pub name: String,
    /// Local start in the site's time zone (`"2026-12-06T22:00"`).
    pub start: Spanned<String>,
    /// Length of each occurrence (`"2h"`).
    pub duration: Spanned<String>,
    /// Optional RFC 5545 recurrence rule (`"FREQ=WEEKLY;BYDAY=SU"`).
    pub recurrence: Option<Spanned<String>>,
    /// Equipment the window covers; the whole site when absent.
    pub equipment: Option<Vec<Spanned<String>>>,
}

/// `[[equipment]]` in a site file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEquipment {
    /// Identifier, unique in the whole fleet.
    pub id: Spanned<String>,
    /// Display name.
    pub name: Option<String>,
    /// `camera`, `nvr`, `vms-server`, `encoder`, `switch`, `router` or `other`.
    pub kind: Spanned<String>,
    /// Network address (IP or host name).
    pub address: Option<Spanned<String>>,
    /// Equipment this one depends on (switch, NVR, router) in the same site.
    pub parent: Option<Spanned<String>>,
    /// Probes that collect it.
    pub probes: Option<Vec<Spanned<String>>>,
    /// Reference to a `[credentials.ID]` of the main file.
    pub credentials: Option<Spanned<String>>,
    /// Collection interval for this equipment.
    pub collection_interval: Option<Spanned<String>>,
    /// The former name of `collection_interval`, accepted with a deprecation warning.
    pub interval: Option<Spanned<String>>,
    /// Longest run of one collection of this equipment (`"10s"`).
    pub probe_timeout: Option<Spanned<String>>,
    /// ICMP echo requests per round for this equipment.
    pub ping_count: Option<Spanned<u16>>,
    /// ICMP reply wait for this equipment (`"1s"`).
    pub ping_timeout: Option<Spanned<String>>,
    /// Extra ICMP rounds for this equipment.
    pub ping_retries: Option<Spanned<u16>>,
    /// Threshold overrides for this equipment.
    pub thresholds: Option<RawThresholds>,
    /// URL of its metrics agent (node_exporter / windows_exporter style); defaults to
    /// `http://ADDRESS:9100/metrics` for the `agent` probe.
    pub agent_url: Option<Spanned<String>>,
    /// Name of its recording service as its agent reports it (`nx-mediaserver.service`).
    pub recording_service: Option<String>,
    /// For the `heartbeat` probe: how long without a heartbeat before it is down.
    pub heartbeat_within: Option<Spanned<String>>,
    /// For the `snmp` probe: version, port, credentials, extra OIDs.
    pub snmp: Option<RawSnmp>,
    /// Parameters of its `plugin:NAME` probes (`{ port = 8080 }`).
    pub plugin_params: Option<BTreeMap<String, Spanned<toml::Value>>>,
    /// For a camera supervised through its recorder: the recorder and the channel.
    pub recorder: Option<RawRecorder>,
    /// Which certificates its HTTPS interface may present: `"system"` (default), `"any"` or
    /// `"sha256:FINGERPRINT"`.
    pub tls_trust: Option<Spanned<String>>,
}

/// `recorder = { equipment = "nvr-1", channel = 3 }` on a camera.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecorder {
    /// The recorder (NVR, VMS server) in the same site, collected by a plugin that reports
    /// its channels.
    pub equipment: Spanned<String>,
    /// Channel number as the recorder numbers it (1-based).
    pub channel: Spanned<i64>,
}

/// `snmp = { ... }` on an equipment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSnmp {
    /// `"v2c"` (default) or `"v3"`.
    pub version: Option<Spanned<String>>,
    /// UDP port (161).
    pub port: Option<u16>,
    /// v3 authentication: `"sha"` (default), `"sha256"`, `"sha512"`, `"md5"`.
    pub auth: Option<Spanned<String>>,
    /// v3 privacy: `"aes"` (default), `"aes256"`, `"des"`, `"none"`.
    pub privacy: Option<Spanned<String>>,
    /// Extra values to read: metric name -> numeric OID (`"1.3.6.1.4.1.9.9.13.1.3.1.3.1"`).
    #[serde(default)]
    pub oids: BTreeMap<String, Spanned<String>>,
}

/// Top-level keys of the main file and of a site file, for hints on misspelled sections.
pub const MAIN_SECTIONS: &[&str] = &[
    "notifications",
    "daemon",
    "thresholds",
    "clients",
    "contacts",
    "credentials",
    "on_call",
    "escalation",
    "reports",
    "channels",
    "snmp_oids",
    "telemetry",
    "accounts",
];

/// Top-level keys of a site file.
pub const SITE_SECTIONS: &[&str] = &["site", "thresholds", "maintenance", "equipment"];

/// The main file once its sections are read.
#[derive(Debug, Default, Clone)]
pub struct RawMain {
    /// `[daemon]`.
    pub daemon: RawDaemon,
    /// `[thresholds]`.
    pub thresholds: RawThresholds,
    /// `[clients.*]`.
    pub clients: BTreeMap<Spanned<String>, RawClient>,
    /// `[contacts.*]`.
    pub contacts: BTreeMap<Spanned<String>, RawContact>,
    /// `[credentials.*]`.
    pub credentials: BTreeMap<Spanned<String>, RawCredentials>,
    /// `[on_call]`.
    pub on_call: RawOnCall,
    /// `[escalation]`.
    pub escalation: RawEscalation,
    /// `[reports]`.
    pub reports: RawReports,
    /// `[telemetry]`.
    pub telemetry: RawTelemetry,
    /// `[notifications]`.
    pub notifications: RawNotifications,
    /// `[channels]`.
    pub channels: RawChannels,
    /// `[snmp_oids.KIND]`: extra SNMP values read on every equipment of a kind.
    pub snmp_oids: BTreeMap<Spanned<String>, BTreeMap<String, Spanned<String>>>,
    /// `[accounts.*]`.
    pub accounts: BTreeMap<Spanned<String>, RawAccount>,
}

/// `[accounts.ID]`: a person or a script allowed to use the API and the dashboard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    /// Display name.
    pub name: Option<String>,
    /// For the maintenance company's staff: `viewer`, `operator` or `admin`.
    pub role: Option<Spanned<String>>,
    /// For a client's staff: the client whose sites the account sees.
    pub client: Option<Spanned<String>>,
    /// Argon2id hash of the password (PHC string, from `vigie passwd`).
    pub password: Option<Spanned<String>>,
    /// SHA-256 hashes of the account's API tokens (`sha256:HEX`, from `vigie token`).
    pub tokens: Option<Vec<Spanned<String>>>,
    /// Language of the dashboard: `fr` or `en`.
    pub language: Option<Spanned<String>>,
}

/// A site file once its sections are read.
#[derive(Debug, Clone)]
pub struct RawSiteFile {
    /// `[site]`.
    pub site: Option<RawSite>,
    /// `[thresholds]`.
    pub thresholds: RawThresholds,
    /// `[[maintenance]]`.
    pub maintenance: Vec<RawMaintenance>,
    /// `[[equipment]]`.
    pub equipment: Vec<RawEquipment>,
}
