//! What a plugin may do while it collects one equipment: HTTP (with Basic or Digest
//! authentication answered here), a TCP probe, SNMP through the daemon's client, a clock,
//! logging and WS-Security tokens. Every network capability reaches only the equipment's
//! own address; anything else is refused and logged.

use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vigie_collectors::http::{self, HttpError, HttpRequest};
use vigie_collectors::snmp::{SnmpClient, SnmpError, Val, dotted};
use vigie_core::clock::Clock;
use vigie_core::config::{Credentials, SnmpSettings};

/// Largest HTTP body a plugin receives.
pub const MAX_HTTP_BODY: usize = 4 << 20;
/// Largest answer of a TCP probe.
pub const MAX_TCP_READ: u32 = 64 << 10;
/// How long a TCP probe waits for more bytes once connected.
const TCP_READ_WAIT: Duration = Duration::from_secs(2);
/// Log lines one collection may write; the rest are dropped.
pub const MAX_LOG_LINES: u32 = 32;
/// Longest log line kept.
const MAX_LOG_LINE: usize = 1024;

/// Why a capability was refused or failed, as the plugin sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum CapError {
    /// Connection refused, reset, no route.
    Unreachable(String),
    /// No answer in time.
    Timeout(String),
    /// Refused by the host.
    Forbidden(String),
    /// Credentials refused or missing.
    AuthFailed(String),
    /// Malformed or too large answer.
    BadResponse(String),
}

/// The equipment a call collects and what the host may use for it.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Plugin name, for logs.
    pub plugin: String,
    /// Equipment id, for logs.
    pub equipment: String,
    /// The only address the plugin may reach.
    pub address: String,
    /// Its credentials (never handed to the plugin).
    pub credentials: Option<Arc<Credentials>>,
    /// Its SNMP settings.
    pub snmp: SnmpSettings,
    /// Budget of one network exchange.
    pub timeout: Duration,
    /// The daemon's clock.
    pub clock: Clock,
    /// The ports of the equipment the plugin may reach ([`allowed_ports`]).
    pub ports: Vec<u16>,
    /// The daemon's own listening sockets, never reached whatever the address.
    pub own_sockets: Arc<Vec<std::net::SocketAddr>>,
    /// Which certificates the equipment's HTTPS interface may present.
    pub tls_trust: http::TlsTrust,
    /// HTTP state of this collection (its clones share it): the open connection and the
    /// authentication challenge in force.
    pub session: Arc<tokio::sync::Mutex<HttpSession>>,
}

/// What the HTTP requests of one collection share.
#[derive(Default)]
pub struct HttpSession {
    conn: Option<http::Connection>,
    auth: Option<http_auth::PasswordClient>,
    connections: u32,
}

impl std::fmt::Debug for HttpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSession")
            .field("open", &self.conn.is_some())
            .field("authenticated", &self.auth.is_some())
            .field("connections", &self.connections)
            .finish()
    }
}

/// The host's error for an HTTP client failure.
fn cap_error(e: HttpError) -> CapError {
    match e {
        HttpError::Connect(m) => CapError::Unreachable(m),
        HttpError::Timeout(m) => CapError::Timeout(m),
        HttpError::Request(_) => CapError::Forbidden(e.to_string()),
        HttpError::Protocol(_) => CapError::Unreachable(e.to_string()),
        // The equipment answered, but not with a certificate its trust accepts.
        HttpError::Tls(_) => CapError::Forbidden(e.to_string()),
        HttpError::Body { .. } => CapError::BadResponse(e.to_string()),
    }
}

/// Marks a 401 with why the host could not get past it (`x-vigie-auth`).
fn with_auth_note(mut r: Response, note: String) -> Response {
    r.headers.retain(|(k, _)| k != AUTH_NOTE);
    r.headers.push((AUTH_NOTE.into(), note));
    r
}

/// Header of a 401 telling the plugin why the host could not authenticate.
pub const AUTH_NOTE: &str = "x-vigie-auth";

/// The ports a plugin may reach on its equipment, from its parameters once the defaults of
/// its description are applied: the values of the parameters named `port` or ending in
/// `_port`, and both 80 and 443 when `port` has no value. The SDK's `allowed_ports` states
/// the same rule to plugin authors and its test harness applies it.
pub fn allowed_ports(params: &[(String, String)]) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    let mut port_set = false;
    for (name, value) in params {
        let value = value.trim();
        if (name == "port" || name.ends_with("_port")) && !value.is_empty() {
            let port = value
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("parameter `{name}`: `{value}` is not a TCP port"))?;
            ports.push(port);
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

/// An HTTP request as the plugin sent it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path or absolute URL.
    pub url: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// An HTTP response for the plugin.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status.
    pub status: u16,
    /// Headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Body, capped.
    pub body: Vec<u8>,
}

impl Grant {
    fn refuse(&self, what: String) -> CapError {
        tracing::warn!(
            plugin = %self.plugin,
            equipment = %self.equipment,
            "plugin request refused: {what}"
        );
        CapError::Forbidden(what)
    }

    /// Whether a URL's host is the equipment's address (IP addresses compared as addresses,
    /// names without regard to case).
    fn same_host(&self, host: Option<url::Host<&str>>) -> bool {
        let address = self.address.trim_start_matches('[').trim_end_matches(']');
        match (host, address.parse::<std::net::IpAddr>()) {
            (Some(url::Host::Ipv4(a)), Ok(std::net::IpAddr::V4(b))) => a == b,
            (Some(url::Host::Ipv6(a)), Ok(std::net::IpAddr::V6(b))) => a == b,
            (Some(url::Host::Domain(d)), Err(_)) => d.eq_ignore_ascii_case(address),
            _ => false,
        }
    }

    /// Port, path-and-query and whether it is HTTPS, of a plugin URL, once checked against
    /// the equipment. URLs are parsed by the `url` crate (WHATWG rules), the way an HTTP
    /// client would read them.
    fn resolve(&self, url: &str) -> Result<(u16, String, bool), CapError> {
        if url.starts_with('/') && !url.starts_with("//") {
            self.check_port(80)?;
            return Ok((80, url.to_string(), false));
        }
        let parsed = url::Url::parse(url).map_err(|_| {
            self.refuse(format!(
                "`{url}` is neither a path nor an http:// or https:// URL"
            ))
        })?;
        let tls = match parsed.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(self.refuse(format!(
                    "`{url}`: `{other}` is not available to plugins (http and https are)"
                )));
            }
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(self.refuse(format!("`{url}`: user information in URLs is not allowed")));
        }
        if !self.same_host(parsed.host()) {
            return Err(self.refuse(format!(
                "`{}` is not the address of equipment `{}` ({})",
                parsed.host_str().unwrap_or_default(),
                self.equipment,
                self.address
            )));
        }
        let port = parsed
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        self.check_port(port)?;
        let path = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        Ok((port, path, tls))
    }

    /// Refuses a port the plugin did not declare.
    fn check_port(&self, port: u16) -> Result<(), CapError> {
        if self.ports.contains(&port) {
            return Ok(());
        }
        let allowed: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        Err(self.refuse(format!(
            "port {port} of equipment `{}` is not one the plugin declares (allowed: {}); declare it with a `port` or `*_port` parameter, or set one in the equipment's plugin_params",
            self.equipment,
            allowed.join(", ")
        )))
    }

    /// Refuses a connection that would reach one of the daemon's own listening sockets.
    async fn check_not_own(&self, port: u16) -> Result<(), CapError> {
        if !self.own_sockets.iter().any(|s| s.port() == port) {
            return Ok(());
        }
        let host = self.address.trim_matches(['[', ']']);
        let resolved: Vec<std::net::SocketAddr> =
            match tokio::time::timeout(self.timeout, tokio::net::lookup_host((host, port))).await {
                Ok(Ok(addrs)) => addrs.collect(),
                // Unresolvable: the connection fails on its own.
                _ => return Ok(()),
            };
        let own = resolved.iter().any(|peer| {
            self.own_sockets.iter().any(|s| {
                s.port() == peer.port()
                    && (s.ip() == peer.ip()
                        || (s.ip().is_unspecified() && is_local(peer.ip()))
                        || (peer.ip().is_loopback() && s.ip().is_loopback()))
            })
        });
        if own {
            return Err(self.refuse(format!(
                "{}:{port} is the daemon's own API: plugins never reach it",
                self.address
            )));
        }
        Ok(())
    }

    async fn connect(&self, port: u16) -> Result<TcpStream, CapError> {
        self.check_port(port)?;
        self.check_not_own(port).await?;
        let target = (self.address.as_str(), port);
        match tokio::time::timeout(self.timeout, TcpStream::connect(target)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(CapError::Unreachable(format!(
                "{}:{port}: {e}",
                self.address
            ))),
            Err(_) => Err(CapError::Timeout(format!(
                "{}:{port}: no connection within {}",
                self.address,
                vigie_core::util::format_duration(self.timeout)
            ))),
        }
    }

    /// One HTTP exchange with the equipment, on the collection's open connection when it
    /// goes to the same port and scheme and the peer kept it open, else on a new one.
    async fn exchange(
        &self,
        session: &mut HttpSession,
        target: (u16, &str, bool),
        method: &hyper::Method,
        req: &Request,
        authorization: Option<&str>,
    ) -> Result<Response, CapError> {
        let (port, path, tls) = target;
        // The plugin never sets the credentials: the host answers challenges itself.
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
            .cloned()
            .collect();
        if let Some(a) = authorization {
            headers.push(("authorization".into(), a.into()));
        }
        let request = HttpRequest {
            address: &self.address,
            port,
            method: method.clone(),
            path,
            headers,
            body: req.body.clone(),
            timeout: self.timeout,
            max_body: MAX_HTTP_BODY,
            tls: tls.then(|| self.tls_trust.clone()),
        };
        let reused = session.conn.as_ref().is_some_and(|c| c.serves(&request));
        let mut conn = match session.conn.take() {
            Some(c) if reused => c,
            _ => http::Connection::open(&request).await.map_err(cap_error)?,
        };
        let answer = match conn.send(&request).await {
            // The peer closed a kept connection between two requests: once more on a new one.
            Err(HttpError::Protocol(_)) if reused => {
                conn = http::Connection::open(&request).await.map_err(cap_error)?;
                conn.send(&request).await
            }
            other => other,
        }
        .map_err(cap_error)?;
        session.conn = Some(conn);
        session.connections += u32::from(!reused);
        Ok(Response {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
        })
    }

    /// The user name and password of the equipment, if it has both.
    fn login(&self) -> Result<Option<(String, vigie_core::config::Secret)>, CapError> {
        let Some(c) = &self.credentials else {
            return Ok(None);
        };
        c.login()
            .map_err(|e| CapError::AuthFailed(format!("credentials `{}`: {e}", c.name)))
    }

    /// Sends an HTTP request, answering a Basic or Digest challenge with the equipment's
    /// credentials. Within one collection the connection is kept and the challenge is
    /// reused (Digest with a counted nonce), so only the first request pays the 401 round
    /// trip. A 401 handed to the plugin carries `x-vigie-auth`: `none` (the equipment has no
    /// credentials), `refused; user=NAME` (the host answered as NAME and was refused) or
    /// `unanswerable` (no challenge the host can answer).
    pub async fn http(&self, req: Request) -> Result<Response, CapError> {
        let (port, path, tls) = self.resolve(&req.url)?;
        self.check_not_own(port).await?;
        let method = hyper::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| self.refuse(format!("`{}` is not an HTTP method", req.method)))?;
        let target = (port, path.as_str(), tls);
        let login = self.login()?;
        let mut session = self.session.lock().await;
        let respond = |client: &mut http_auth::PasswordClient, user: &str, password: &str| {
            client
                .respond(&http_auth::PasswordParams {
                    username: user,
                    password,
                    uri: &path,
                    method: method.as_str(),
                    body: Some(&req.body),
                })
                .map_err(|e| CapError::BadResponse(format!("authentication challenge: {e}")))
        };
        // The challenge of an earlier request of this collection answers this one at once.
        let ahead = match (session.auth.as_mut(), &login) {
            (Some(client), Some((user, secret))) => Some(respond(client, user, secret.expose())?),
            _ => None,
        };
        let first = self
            .exchange(&mut session, target, &method, &req, ahead.as_deref())
            .await?;
        if first.status != 401 {
            return Ok(first);
        }
        session.auth = None;
        let Some((user, secret)) = login else {
            return Ok(with_auth_note(first, "none".into()));
        };
        let challenges: Vec<&str> = first
            .headers
            .iter()
            .filter(|(k, _)| k == "www-authenticate")
            .map(|(_, v)| v.as_str())
            .collect();
        if challenges.is_empty() {
            return Ok(with_auth_note(first, "unanswerable".into()));
        }
        let Ok(mut client) = challenges
            .iter()
            .fold(http_auth::PasswordClient::builder(), |b, c| b.challenges(c))
            .build()
        else {
            return Ok(with_auth_note(first, "unanswerable".into()));
        };
        let authorization = respond(&mut client, &user, secret.expose())?;
        let second = self
            .exchange(&mut session, target, &method, &req, Some(&authorization))
            .await?;
        if second.status == 401 {
            return Ok(with_auth_note(second, format!("refused; user={user}")));
        }
        session.auth = Some(client);
        Ok(second)
    }

    /// Connections opened by HTTP requests so far in this collection.
    pub async fn http_connections(&self) -> u32 {
        self.session.lock().await.connections
    }

    /// Connects to `port`, writes `send`, reads the answer.
    pub async fn tcp_probe(
        &self,
        port: u16,
        send: Vec<u8>,
        read_max: u32,
    ) -> Result<Vec<u8>, CapError> {
        let mut stream = self.connect(port).await?;
        if !send.is_empty() {
            tokio::time::timeout(self.timeout, stream.write_all(&send))
                .await
                .map_err(|_| CapError::Timeout("write".into()))?
                .map_err(|e| CapError::Unreachable(format!("write: {e}")))?;
        }
        let max = read_max.min(MAX_TCP_READ) as usize;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 4096];
        let wait = TCP_READ_WAIT.min(self.timeout);
        while out.len() < max {
            match tokio::time::timeout(wait, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(n)) => out.extend_from_slice(&buf[..n.min(max - out.len())]),
                Ok(Err(e)) if out.is_empty() => {
                    return Err(CapError::Unreachable(format!("read: {e}")));
                }
                Ok(Err(_)) => break,
            }
        }
        Ok(out)
    }

    fn snmp_client(&self) -> SnmpClient {
        SnmpClient {
            timeout: self.timeout / 3,
            retries: 1,
        }
    }

    fn snmp_error(e: SnmpError) -> CapError {
        let text = e.to_string();
        match e {
            SnmpError::Timeout(_) => CapError::Timeout(text),
            SnmpError::Auth(_) | SnmpError::Credentials(_) => CapError::AuthFailed(text),
            SnmpError::BadResponse(_) => CapError::BadResponse(text),
            SnmpError::Io(_) => CapError::Unreachable(text),
        }
    }

    fn parse_oid(oid: &str) -> Result<Vec<u64>, CapError> {
        let parts: Result<Vec<u64>, _> = oid
            .trim_start_matches('.')
            .split('.')
            .map(str::parse)
            .collect();
        match parts {
            Ok(p) if p.len() >= 2 => Ok(p),
            _ => Err(CapError::Forbidden(format!("`{oid}` is not a dotted OID"))),
        }
    }

    /// SNMP GET.
    pub async fn snmp_get(&self, oids: Vec<String>) -> Result<Vec<(String, Val)>, CapError> {
        let parsed = oids
            .iter()
            .map(|o| Self::parse_oid(o))
            .collect::<Result<Vec<_>, _>>()?;
        if parsed.is_empty() {
            return Ok(Vec::new());
        }
        let mut session = self.snmp_session().await?;
        let rows = session.get(&parsed).await.map_err(Self::snmp_error)?;
        Ok(rows.into_iter().map(|(o, v)| (dotted(&o), v)).collect())
    }

    /// An SNMP session with the equipment, with its settings and credentials.
    async fn snmp_session(&self) -> Result<vigie_collectors::snmp::Session, CapError> {
        self.snmp_client()
            .open(&self.address, &self.snmp, self.credentials.as_deref())
            .await
            .map_err(Self::snmp_error)
    }

    /// SNMP walk.
    pub async fn snmp_walk(&self, oid: String) -> Result<Vec<(String, Val)>, CapError> {
        let root = Self::parse_oid(&oid)?;
        let mut session = self.snmp_session().await?;
        let rows = session.walk(&root).await.map_err(Self::snmp_error)?;
        Ok(rows.into_iter().map(|(o, v)| (dotted(&o), v)).collect())
    }

    /// A WS-Security UsernameToken: (username, digest, nonce, created), created now or at
    /// `created_ms` (milliseconds since the Unix epoch: the device's clock when it is off).
    pub fn username_token(
        &self,
        created_ms: Option<i64>,
    ) -> Result<(String, String, String, String), CapError> {
        let Some((user, secret)) = self.login()? else {
            return Err(CapError::AuthFailed(format!(
                "equipment `{}` has no credentials with a username and a password",
                self.equipment
            )));
        };
        let state = std::collections::hash_map::RandomState::new();
        let now = self.clock.now();
        let mut nonce = Vec::with_capacity(16);
        nonce.extend_from_slice(&state.hash_one(now.timestamp_nanos_opt()).to_le_bytes());
        nonce.extend_from_slice(&state.hash_one(&self.equipment).to_le_bytes());
        let at = match created_ms {
            None => now,
            Some(ms) => {
                chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms).ok_or_else(|| {
                    self.refuse(format!("{ms} ms is not a time a token can be created at"))
                })?
            }
        };
        let created = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut sha = Sha1::new();
        sha.update(&nonce);
        sha.update(created.as_bytes());
        sha.update(secret.expose().as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok((
            user,
            b64.encode(sha.finalize()),
            b64.encode(&nonce),
            created,
        ))
    }

    /// Logs a line of the plugin.
    pub fn log(&self, level: tracing::Level, message: &str) {
        let mut line: String = message.chars().take(MAX_LOG_LINE).collect();
        if line.len() < message.len() {
            line.push('…');
        }
        let (plugin, equipment) = (&self.plugin, &self.equipment);
        match level {
            tracing::Level::ERROR => {
                tracing::error!(plugin = %plugin, equipment = %equipment, "{line}")
            }
            tracing::Level::WARN => {
                tracing::warn!(plugin = %plugin, equipment = %equipment, "{line}")
            }
            tracing::Level::INFO => {
                tracing::info!(plugin = %plugin, equipment = %equipment, "{line}")
            }
            _ => tracing::debug!(plugin = %plugin, equipment = %equipment, "{line}"),
        }
    }
}

/// Whether an address is one of this machine's: loopback, or bound on one of its interfaces
/// (checked by binding a throwaway UDP socket to it).
fn is_local(ip: std::net::IpAddr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || std::net::UdpSocket::bind(std::net::SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Port and path of a resolved URL (the scheme is checked by the HTTPS tests).
    trait Resolve {
        fn r(&self, url: &str) -> Result<(u16, String), CapError>;
    }

    impl Resolve for Grant {
        fn r(&self, url: &str) -> Result<(u16, String), CapError> {
            self.resolve(url).map(|(port, path, _)| (port, path))
        }
    }
    use vigie_core::config::SnmpSettings;

    fn grant(address: &str) -> Grant {
        Grant {
            plugin: "p".into(),
            equipment: "cam-1".into(),
            address: address.into(),
            credentials: None,
            snmp: SnmpSettings::default(),
            timeout: Duration::from_secs(1),
            clock: Clock::System,
            ports: vec![80, 81, 443, 8080],
            own_sockets: Arc::default(),
            tls_trust: http::TlsTrust::System,
            session: Arc::default(),
        }
    }

    #[test]
    fn a_plugin_reaches_only_the_ports_it_declares() {
        let p = |list: &[(&str, &str)]| {
            allowed_ports(
                &list
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(p(&[]), Ok(vec![80, 443]));
        assert_eq!(p(&[("port", " ")]), Ok(vec![80, 443]));
        assert_eq!(p(&[("port", "8443"), ("mode", "x")]), Ok(vec![8443]));
        assert_eq!(
            p(&[("rtsp_port", "554"), ("scheme", "https")]),
            Ok(vec![80, 443, 554])
        );
        assert_eq!(
            p(&[("port", "8080"), ("onvif_port", "8080")]),
            Ok(vec![8080])
        );
        assert_eq!(
            p(&[("port", "http")]),
            Err("parameter `port`: `http` is not a TCP port".into())
        );
        assert!(p(&[("port", "0")]).is_err());
        let mut g = grant("10.0.0.5");
        g.ports = vec![8443];
        for refused in ["/a", "http://10.0.0.5/x", "http://10.0.0.5:22/x"] {
            match g.r(refused) {
                Err(CapError::Forbidden(m)) => {
                    assert!(m.contains("not one the plugin declares"), "{m}")
                }
                other => panic!("{refused}: {other:?}"),
            }
        }
        assert_eq!(g.r("http://10.0.0.5:8443/x"), Ok((8443, "/x".into())));
    }

    #[test]
    fn urls_resolve_only_on_the_equipment_address() {
        let g = grant("10.0.0.5");
        assert_eq!(g.r("/a?b=1"), Ok((80, "/a?b=1".into())));
        assert_eq!(g.r("http://10.0.0.5:8080/x"), Ok((8080, "/x".into())));
        assert_eq!(g.r("HTTP://10.0.0.5"), Ok((80, "/".into())));
        // HTTPS: port 443 unless given, and marked as TLS.
        assert_eq!(
            g.resolve("https://10.0.0.5/x"),
            Ok((443, "/x".into(), true))
        );
        assert_eq!(g.resolve("http://10.0.0.5/x"), Ok((80, "/x".into(), false)));
        for bad in [
            "http://10.0.0.6/x",
            "http://10.0.0.5@evil/x",
            "https://10.0.0.6/x",
            "ftp://10.0.0.5/x",
            "file:///etc/passwd",
            "x",
            "http://10.0.0.5:99999/",
            "//10.0.0.6/x",
            "http://10.0.0.5.evil.example/x",
            "http://user@10.0.0.5/x",
        ] {
            assert!(matches!(g.r(bad), Err(CapError::Forbidden(_))), "{bad}");
        }
        // A backslash ends the host as in a browser: the request still goes to the equipment.
        assert_eq!(g.r("http://10.0.0.5\\@evil/x"), Ok((80, "/@evil/x".into())));
        // Hosts are read as an HTTP client reads them: 167772165 is 10.0.0.5, 010.0.0.5 is
        // octal for 8.0.0.5.
        assert_eq!(g.r("http://167772165/x"), Ok((80, "/x".into())));
        assert!(matches!(
            g.r("http://010.0.0.5/x"),
            Err(CapError::Forbidden(_))
        ));
        let named = grant("Cam-1.Site.Example");
        assert_eq!(
            named.r("http://cam-1.site.example/x#frag"),
            Ok((80, "/x".into()))
        );
        let v6 = grant("::1");
        assert_eq!(v6.r("http://[::1]:81/y"), Ok((81, "/y".into())));
        assert_eq!(v6.r("http://[0:0::0001]/y"), Ok((80, "/y".into())));
        assert!(matches!(
            v6.r("http://[::2]/y"),
            Err(CapError::Forbidden(_))
        ));
    }

    #[test]
    fn oids_must_be_dotted_numbers() {
        assert_eq!(Grant::parse_oid(".1.3.6.1"), Ok(vec![1, 3, 6, 1]));
        assert!(Grant::parse_oid("sysUpTime").is_err());
        assert!(Grant::parse_oid("1").is_err());
    }
}
