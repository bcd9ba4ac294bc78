//! The values a plugin exchanges with the daemon, as plain Rust types with builders.

use std::fmt;

/// Kind of equipment, as in the daemon's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EquipmentKind {
    /// IP camera.
    Camera,
    /// Network video recorder.
    Nvr,
    /// VMS recording server.
    VmsServer,
    /// Video encoder.
    Encoder,
    /// Network switch.
    Switch,
    /// Router.
    Router,
    /// Anything else.
    Other,
}

impl EquipmentKind {
    /// Name as written in configs (`vms-server`).
    pub fn as_str(self) -> &'static str {
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
}

/// A configuration parameter a plugin takes (`plugin_params` on an equipment).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name, in snake_case.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Whether the equipment must set it.
    pub required: bool,
    /// Value used when the equipment does not set it.
    pub default: Option<String>,
}

impl Param {
    /// A parameter the equipment must set.
    pub fn required(name: &str, description: &str) -> Self {
        Param {
            name: name.into(),
            description: description.into(),
            required: true,
            default: None,
        }
    }

    /// A parameter with a default value.
    pub fn optional(name: &str, description: &str, default: &str) -> Self {
        Param {
            name: name.into(),
            description: description.into(),
            required: false,
            default: Some(default.into()),
        }
    }

    /// An optional parameter without a default: [`Target::param`] is `None` when the
    /// equipment does not set it.
    pub fn optional_unset(name: &str, description: &str) -> Self {
        Param {
            name: name.into(),
            description: description.into(),
            required: false,
            default: None,
        }
    }

    /// The `scheme` parameter [`Target::http_base`] reads: `http` (the default) or `https`.
    pub fn scheme() -> Self {
        Param::optional(
            "scheme",
            "`http` or `https`; the certificate is checked as the equipment's `tls_trust` \
             says: `system` roots (the default), `sha256:<fingerprint>` or `any`",
            "http",
        )
    }

    /// The `port` parameter [`Target::http_base`] reads, without a default: 80 for http,
    /// 443 for https.
    pub fn http_port() -> Self {
        Param::optional_unset(
            "port",
            "TCP port of the web interface: 80 for http, 443 for https",
        )
    }
}

/// What a plugin is and what it applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// Name used in configs as `plugin:NAME`.
    pub name: String,
    /// The plugin's version (semver).
    pub version: String,
    /// Vendors it supports.
    pub vendors: Vec<String>,
    /// Models or families it was written for; empty means any.
    pub models: Vec<String>,
    /// Equipment kinds it applies to.
    pub kinds: Vec<EquipmentKind>,
    /// Parameters it takes.
    pub params: Vec<Param>,
}

impl Description {
    /// A description with a name and a version; use the builders for the rest.
    pub fn new(name: &str, version: &str) -> Self {
        Description {
            name: name.into(),
            version: version.into(),
            vendors: Vec::new(),
            models: Vec::new(),
            kinds: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Adds a supported vendor.
    pub fn vendor(mut self, vendor: &str) -> Self {
        self.vendors.push(vendor.into());
        self
    }

    /// Adds a model or family.
    pub fn model(mut self, model: &str) -> Self {
        self.models.push(model.into());
        self
    }

    /// Adds an equipment kind.
    pub fn kind(mut self, kind: EquipmentKind) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Adds a parameter.
    pub fn param(mut self, param: Param) -> Self {
        self.params.push(param);
        self
    }
}

/// The equipment being collected.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Equipment identifier in the fleet.
    pub equipment_id: String,
    /// Network address, the only one the host reaches.
    pub address: String,
    /// Its kind.
    pub kind: EquipmentKind,
    /// Its parameters, with the defaults of the description applied.
    pub params: Vec<(String, String)>,
    /// User name of its credentials, if any (the password stays in the host).
    pub username: Option<String>,
}

impl Target {
    /// A target at `address` (kind `other`, no parameters), for tests.
    pub fn new(address: &str) -> Self {
        Target {
            equipment_id: "test-equipment".into(),
            address: address.into(),
            kind: EquipmentKind::Other,
            params: Vec::new(),
            username: None,
        }
    }

    /// Sets the kind.
    pub fn kind(mut self, kind: EquipmentKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets a parameter.
    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.into(), value.into()));
        self
    }

    /// Sets the user name.
    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Where the equipment's web interface answers, to prefix to a path, from the `scheme`
    /// parameter (`http`, the default, or `https`) and the `port` parameter (80 for http and
    /// 443 for https when unset):
    /// - empty for http on port 80, so requests are plain paths;
    /// - otherwise `SCHEME://ADDRESS:PORT`, an IPv6 address in brackets
    ///   (`https://[2001:db8::7]:443`).
    ///
    /// Another scheme, or a port that is not a TCP port, is [`ProbeError::Unsupported`]
    /// naming the parameter. Declare both with [`Param::scheme`] and [`Param::http_port`].
    pub fn http_base(&self) -> Result<String, ProbeError> {
        let scheme = self
            .param("scheme")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("http")
            .to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => {
                return Err(ProbeError::Unsupported(format!(
                    "parameter `scheme`: `{scheme}` is neither `http` nor `https`"
                )));
            }
        };
        let port = match self.param("port").map(str::trim).filter(|p| !p.is_empty()) {
            None => default_port,
            Some(raw) => port_number("port", raw)?,
        };
        Ok(if scheme == "http" && port == 80 {
            String::new()
        } else if self.address.contains(':') && !self.address.starts_with('[') {
            format!("{scheme}://[{}]:{port}", self.address)
        } else {
            format!("{scheme}://{}:{port}", self.address)
        })
    }

    /// Whether a parameter is set to a true value (`true`, `yes`, `1`, `on`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(
            self.param(name).map(str::to_ascii_lowercase).as_deref(),
            Some("true" | "yes" | "1" | "on")
        )
    }
}

/// A TCP port from a parameter's value; 0 and anything else than a number up to 65535 are
/// [`ProbeError::Unsupported`] naming the parameter.
fn port_number(name: &str, raw: &str) -> Result<u16, ProbeError> {
    raw.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
        ProbeError::Unsupported(format!("parameter `{name}`: `{raw}` is not a TCP port"))
    })
}

/// The ports of the equipment the host lets a plugin reach, over `http` (a plain path is
/// port 80; an absolute URL names its port, or 80 for `http://` and 443 for `https://`) and
/// `tcp_probe`. The daemon applies this rule, and so does [`testing::FakeDevice`]:
///
/// - the values, for this target, of the parameters named `port` or ending in `_port`
///   (`rtsp_port`, `onvif_port`), so a plugin declares every port it uses;
/// - both 80 and 443 when the `port` parameter has no value (not set and no default).
///
/// An empty value counts as no value. A value that is not a TCP port (1 to 65535) is
/// [`ProbeError::Unsupported`] naming the parameter. The ports come sorted, each once.
///
/// [`testing::FakeDevice`]: crate::testing::FakeDevice
pub fn allowed_ports(target: &Target) -> Result<Vec<u16>, ProbeError> {
    let mut ports = Vec::new();
    let mut port_set = false;
    for (name, value) in &target.params {
        let value = value.trim();
        if (name == "port" || name.ends_with("_port")) && !value.is_empty() {
            ports.push(port_number(name, value)?);
            port_set |= name == "port";
        }
    }
    if !port_set {
        ports.extend([80, 443]);
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// Availability as the plugin sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The equipment answered and works.
    Up,
    /// The equipment answered but says it does not work.
    Down,
    /// The plugin could not tell.
    Unknown,
}

/// One metric value. Use the names and units the daemon's rules read (the guide's "What to
/// report" lists them all):
///
/// - `hw.temperature` (°C, attribute `sensor`), `system.cpu.utilization`,
///   `system.memory.utilization` and `system.filesystem.utilization` (0..1 ratios, the last
///   with `mountpoint`), `device.uptime` (seconds);
/// - `video.recording`: 1 recording, 0 not recording, with `channel` (the recorder's channel
///   number) when per channel. The daemon raises R7 "recording stopped" (critical) on 0;
/// - `video.streaming`: 1 the stream delivers video, 0 it does not (shown, not alerted);
/// - `hw.status`: 1 ok, 0 failed, with `hw.type` one of `physical_disk`, `fan`,
///   `power_supply`, `heater`, `battery`, and the part's id under an attribute named after
///   it (`disk`, `fan`, `power_supply`, ...). A recorder's disk in error is critical,
///   anything else a warning.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Name.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Attributes telling series apart.
    pub attributes: Vec<(String, String)>,
}

impl Metric {
    /// A metric without attributes.
    pub fn new(name: &str, value: f64) -> Self {
        Metric {
            name: name.into(),
            value,
            attributes: Vec::new(),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }

    /// The value of an attribute.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Online state of a camera channel of a recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// The recorder receives the channel's video.
    Online,
    /// The recorder has lost the channel.
    Offline,
    /// The recorder does not say.
    Unknown,
}

/// A camera channel of a recorder.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    /// Channel number (1-based).
    pub channel: u32,
    /// Name the recorder gives it.
    pub name: Option<String>,
    /// Its state.
    pub state: ChannelState,
    /// Why, when the recorder says.
    pub detail: Option<String>,
}

impl Child {
    /// A channel in a state.
    pub fn new(channel: u32, state: ChannelState) -> Self {
        Child {
            channel,
            name: None,
            state,
            detail: None,
        }
    }

    /// Sets the name.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: &str) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Facts about the equipment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Model.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// An identifier that changes at every boot.
    pub boot_id: Option<String>,
    /// Equipment clock minus daemon clock, in milliseconds.
    pub clock_offset_ms: Option<i64>,
    /// Other facts.
    pub extra: Vec<(String, String)>,
}

/// What one collection learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Availability.
    pub status: Status,
    /// Why, when the status is not up.
    pub detail: Option<String>,
    /// Metric values.
    pub metrics: Vec<Metric>,
    /// Camera channels, for recorders.
    pub children: Vec<Child>,
    /// Facts.
    pub facts: Facts,
}

impl Report {
    /// An empty report with a status.
    pub fn new(status: Status) -> Self {
        Report {
            status,
            detail: None,
            metrics: Vec::new(),
            children: Vec::new(),
            facts: Facts::default(),
        }
    }

    /// An empty report of an equipment that answered.
    pub fn up() -> Self {
        Report::new(Status::Up)
    }

    /// Adds a metric.
    pub fn metric(&mut self, metric: Metric) -> &mut Self {
        self.metrics.push(metric);
        self
    }

    /// Adds a channel.
    pub fn child(&mut self, child: Child) -> &mut Self {
        self.children.push(child);
        self
    }

    /// Adds an extra fact.
    pub fn fact(&mut self, name: &str, value: &str) -> &mut Self {
        self.facts.extra.push((name.into(), value.into()));
        self
    }

    /// The value of a metric with the given attributes.
    pub fn value(&self, name: &str, attributes: &[(&str, &str)]) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name && attributes.iter().all(|(k, v)| m.attribute(k) == Some(v)))
            .map(|m| m.value)
    }
}

/// Why a collection failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeError {
    /// The equipment did not answer.
    Unreachable(String),
    /// The equipment refused the credentials.
    AuthFailed(String),
    /// The equipment does not offer what the plugin needs.
    Unsupported(String),
    /// The equipment answered something the plugin cannot read.
    BadResponse(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Unreachable(m) => write!(f, "unreachable: {m}"),
            ProbeError::AuthFailed(m) => write!(f, "authentication failed: {m}"),
            ProbeError::Unsupported(m) => write!(f, "unsupported: {m}"),
            ProbeError::BadResponse(m) => write!(f, "bad response: {m}"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// Why a host capability failed.
#[derive(Debug, Clone, PartialEq)]
pub enum HostError {
    /// Connection refused, reset, or no route.
    Unreachable(String),
    /// No answer in time.
    Timeout(String),
    /// The host refused the request (another host, a bad URL).
    Forbidden(String),
    /// The equipment refused the credentials, or has none.
    AuthFailed(String),
    /// The answer is malformed or too large.
    BadResponse(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Unreachable(m) => write!(f, "unreachable: {m}"),
            HostError::Timeout(m) => write!(f, "timeout: {m}"),
            HostError::Forbidden(m) => write!(f, "refused by the host: {m}"),
            HostError::AuthFailed(m) => write!(f, "authentication failed: {m}"),
            HostError::BadResponse(m) => write!(f, "bad response: {m}"),
        }
    }
}

impl std::error::Error for HostError {}

impl From<HostError> for ProbeError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Unreachable(m) => ProbeError::Unreachable(m),
            HostError::Timeout(m) => ProbeError::Unreachable(format!("timeout: {m}")),
            HostError::AuthFailed(m) => ProbeError::AuthFailed(m),
            HostError::Forbidden(m) => ProbeError::Unsupported(format!("refused by the host: {m}")),
            HostError::BadResponse(m) => ProbeError::BadResponse(m),
        }
    }
}

/// An HTTP request to the equipment.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// Method.
    pub method: String,
    /// A path (`/ISAPI/System/deviceInfo`) or an absolute URL on the equipment's address.
    pub url: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A GET.
    pub fn get(url: &str) -> Self {
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST with a body.
    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Self {
        HttpRequest {
            method: "POST".into(),
            url: url.into(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The path part of the URL (what follows scheme and authority), with its query.
    pub fn path(&self) -> &str {
        match self.url.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => &self.url,
        }
    }
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, ProbeError> {
        std::str::from_utf8(&self.body)
            .map_err(|e| ProbeError::BadResponse(format!("the body is not UTF-8: {e}")))
    }

    /// Why the equipment answered 401, in words: the daemon says in `x-vigie-auth` whether
    /// the equipment has no credentials configured, or which user it refused.
    pub fn auth_refusal(&self) -> String {
        let note = self.header(crate::AUTH_NOTE).unwrap_or_default();
        if note == "none" {
            "no credentials are configured for this equipment (set `credentials` on it)".into()
        } else if let Some(user) = note.strip_prefix("refused; user=") {
            format!("the equipment refused the credentials of user `{user}`")
        } else if note == "unanswerable" {
            "the equipment asks for an authentication the host cannot answer".into()
        } else {
            "the equipment refused the credentials".into()
        }
    }

    /// The body as text if the status is 2xx; otherwise the error a plugin usually wants:
    /// 401/403 are an authentication failure, 404/405/501 mean the firmware lacks the
    /// endpoint (unsupported), anything else is a bad response.
    pub fn ok_text(&self, what: &str) -> Result<&str, ProbeError> {
        match self.status {
            200..=299 => self.text(),
            401 => Err(ProbeError::AuthFailed(format!(
                "{what}: HTTP 401, {}",
                self.auth_refusal()
            ))),
            403 => Err(ProbeError::AuthFailed(format!("{what}: HTTP 403"))),
            404 | 405 | 501 => Err(ProbeError::Unsupported(format!(
                "{what}: HTTP {}",
                self.status
            ))),
            s => Err(ProbeError::BadResponse(format!("{what}: HTTP {s}"))),
        }
    }
}

impl HttpResponse {
    /// The body parsed as JSON if the status is 2xx, with the errors of
    /// [`ok_text`](HttpResponse::ok_text) for any other status (401/403 → `AuthFailed`,
    /// 404/405/501 → `Unsupported`, others → `BadResponse`); a body that is not JSON is a
    /// `BadResponse` naming `what`.
    pub fn ok_json(&self, what: &str) -> Result<crate::json::Value, ProbeError> {
        self.ok_text(what)?;
        crate::json::parse(&self.body, what)
    }
}

/// An SNMP value.
#[derive(Debug, Clone, PartialEq)]
pub enum SnmpValue {
    /// INTEGER.
    Integer(i64),
    /// Counter32, Gauge32, Unsigned32, Counter64.
    Unsigned(u64),
    /// TimeTicks (hundredths of a second).
    Ticks(u32),
    /// OCTET STRING.
    Octets(Vec<u8>),
    /// OBJECT IDENTIFIER, dotted.
    Oid(String),
    /// No such object or instance, or a type the host does not read.
    Missing,
}

impl SnmpValue {
    /// The value as a number (octet strings such as `"41.5"` are parsed).
    pub fn number(&self) -> Option<f64> {
        match self {
            SnmpValue::Integer(i) => Some(*i as f64),
            SnmpValue::Unsigned(u) => Some(*u as f64),
            SnmpValue::Ticks(t) => Some(f64::from(*t)),
            SnmpValue::Octets(o) => std::str::from_utf8(o).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as text.
    pub fn text(&self) -> Option<String> {
        match self {
            SnmpValue::Octets(o) => Some(String::from_utf8_lossy(o).trim().to_string()),
            SnmpValue::Integer(i) => Some(i.to_string()),
            SnmpValue::Unsigned(u) => Some(u.to_string()),
            SnmpValue::Oid(o) => Some(o.clone()),
            _ => None,
        }
    }
}

/// One SNMP variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Varbind {
    /// Dotted OID.
    pub oid: String,
    /// Value.
    pub value: SnmpValue,
}

/// A WS-Security UsernameToken (password digest).
#[derive(Debug, Clone, PartialEq)]
pub struct UsernameToken {
    /// User name.
    pub username: String,
    /// Base64 of SHA-1(nonce + created + password).
    pub password_digest: String,
    /// Base64 nonce.
    pub nonce: String,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Detail for debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something odd.
    Warn,
    /// Something failed.
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(address: &str, params: &[(&str, &str)]) -> Result<String, ProbeError> {
        params
            .iter()
            .fold(Target::new(address), |t, (n, v)| t.with_param(n, v))
            .http_base()
    }

    #[test]
    fn http_base_follows_scheme_and_port() {
        assert_eq!(base("192.0.2.1", &[]), Ok(String::new()));
        assert_eq!(
            base("192.0.2.1", &[("scheme", "http"), ("port", "80")]),
            Ok(String::new())
        );
        assert_eq!(
            base("192.0.2.1", &[("port", "8080")]),
            Ok("http://192.0.2.1:8080".into())
        );
        assert_eq!(
            base("192.0.2.1", &[("scheme", "https")]),
            Ok("https://192.0.2.1:443".into())
        );
        assert_eq!(
            base("2001:db8::7", &[("scheme", " HTTPS "), ("port", "8443")]),
            Ok("https://[2001:db8::7]:8443".into())
        );
        assert_eq!(
            base("2001:db8::7", &[("port", "81")]),
            Ok("http://[2001:db8::7]:81".into())
        );
        assert_eq!(
            base("192.0.2.1", &[("scheme", ""), ("port", "")]),
            Ok(String::new())
        );
        assert_eq!(
            base("192.0.2.1", &[("scheme", "ftp")]),
            Err(ProbeError::Unsupported(
                "parameter `scheme`: `ftp` is neither `http` nor `https`".into()
            ))
        );
        for bad in ["0", "65536", "http"] {
            assert!(
                matches!(base("192.0.2.1", &[("port", bad)]), Err(ProbeError::Unsupported(m)) if m.contains("`port`")),
                "{bad}"
            );
        }
    }

    #[test]
    fn allowed_ports_are_the_port_parameters_or_80_and_443() {
        let ports = |params: &[(&str, &str)]| {
            allowed_ports(
                &params
                    .iter()
                    .fold(Target::new("192.0.2.1"), |t, (n, v)| t.with_param(n, v)),
            )
        };
        assert_eq!(ports(&[]), Ok(vec![80, 443]));
        assert_eq!(ports(&[("port", "")]), Ok(vec![80, 443]));
        assert_eq!(ports(&[("port", "8080")]), Ok(vec![8080]));
        assert_eq!(
            ports(&[("rtsp_port", "554"), ("mode", "8000"), ("report", "9")]),
            Ok(vec![80, 443, 554])
        );
        assert_eq!(
            ports(&[
                ("port", "443"),
                ("onvif_port", "8000"),
                ("rtsp_port", "443")
            ]),
            Ok(vec![443, 8000])
        );
        assert_eq!(
            ports(&[("rtsp_port", "rtsp")]),
            Err(ProbeError::Unsupported(
                "parameter `rtsp_port`: `rtsp` is not a TCP port".into()
            ))
        );
    }
}
