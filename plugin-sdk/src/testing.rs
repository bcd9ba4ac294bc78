//! A native test harness: run a [`Probe`](crate::Probe) with `cargo test` against canned
//! HTTP, TCP and SNMP answers, without a daemon or a device.
//!
//! The fake host applies the daemon's rules where a plugin could get them wrong: a URL on
//! another host than the equipment, with another scheme than `http` or `https`, or on a port
//! the plugin did not declare ([`allowed_ports`](crate::allowed_ports)) is refused, so is a
//! TCP probe of an undeclared port, and a path nobody answers is a 404.

use crate::AUTH_NOTE;
use crate::types::*;
use crate::{Host, Probe};
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    body_contains: Option<String>,
    response: Result<HttpResponse, HostError>,
}

/// How far from its own clock the device accepts a token's creation time, and what it
/// answers otherwise.
#[derive(Debug, Clone)]
struct TokenWindow {
    max_skew_ms: i64,
    refusal: HttpResponse,
}

/// A device that answers with canned responses.
#[derive(Debug, Default)]
pub struct FakeDevice {
    routes: Vec<Route>,
    snmp: BTreeMap<String, SnmpValue>,
    tcp: BTreeMap<u16, Result<Vec<u8>, HostError>>,
    now_ms: i64,
    username: Option<String>,
    token: Option<UsernameToken>,
    clock_offset_ms: i64,
    token_window: Option<TokenWindow>,
    target: RefCell<Option<Target>>,
    requests: RefCell<Vec<HttpRequest>>,
    logs: RefCell<Vec<(LogLevel, String)>>,
}

impl FakeDevice {
    /// A device that answers nothing (every path is a 404), with its clock at
    /// 2026-01-01T00:00:00Z.
    pub fn new() -> Self {
        FakeDevice {
            now_ms: 1_767_225_600_000,
            ..FakeDevice::default()
        }
    }

    /// Answers `method path` (the path with its query, as the plugin asks it) with a
    /// status and a body.
    pub fn respond(self, method: &str, path: &str, status: u16, body: impl Into<Vec<u8>>) -> Self {
        self.respond_with(
            method,
            path,
            Ok(HttpResponse {
                status,
                headers: Vec::new(),
                body: body.into(),
            }),
        )
    }

    /// Answers `method path` with a full response or a host error (a timeout, a refusal).
    pub fn respond_with(
        mut self,
        method: &str,
        path: &str,
        response: Result<HttpResponse, HostError>,
    ) -> Self {
        self.routes.push(Route {
            method: method.to_ascii_uppercase(),
            path: path.into(),
            body_contains: None,
            response,
        });
        self
    }

    /// Answers `method path` only when the request body contains `needle` (SOAP services
    /// take every call on one path: route on the operation name). Routes with a needle
    /// are tried before routes without one.
    pub fn respond_to_body(
        mut self,
        method: &str,
        path: &str,
        needle: &str,
        status: u16,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        self.routes.insert(
            0,
            Route {
                method: method.to_ascii_uppercase(),
                path: path.into(),
                body_contains: Some(needle.into()),
                response: Ok(HttpResponse {
                    status,
                    headers: Vec::new(),
                    body: body.into(),
                }),
            },
        );
        self
    }

    /// Answers `GET path` with 200 and the content of a fixture file.
    ///
    /// # Panics
    /// When the file cannot be read (a broken test, not a plugin failure).
    pub fn fixture(self, path: &str, file: impl AsRef<std::path::Path>) -> Self {
        let file = file.as_ref();
        let body = std::fs::read(file)
            .unwrap_or_else(|e| panic!("fixture {} cannot be read: {e}", file.display()));
        self.respond("GET", path, 200, body)
    }

    /// Gives an SNMP OID (dotted) a value, for GET and walks.
    pub fn snmp(mut self, oid: &str, value: SnmpValue) -> Self {
        self.snmp.insert(oid.trim_start_matches('.').into(), value);
        self
    }

    /// What a TCP port answers (an error for a closed port).
    pub fn tcp(mut self, port: u16, answer: Result<Vec<u8>, HostError>) -> Self {
        self.tcp.insert(port, answer);
        self
    }

    /// Sets the daemon's clock.
    pub fn at(mut self, now_ms: i64) -> Self {
        self.now_ms = now_ms;
        self
    }

    /// Sets the device's own clock, `offset_ms` ahead of the daemon's (behind when negative).
    /// Only [`token_window`](FakeDevice::token_window) reads it: canned answers carry the
    /// times they were written with.
    pub fn device_clock(mut self, offset_ms: i64) -> Self {
        self.clock_offset_ms = offset_ms;
        self
    }

    /// Refuses WS-Security tokens created more than `max_skew_ms` from the device's clock
    /// (the daemon's clock plus [`device_clock`](FakeDevice::device_clock)), as devices do:
    /// a request whose body carries a `Created` element (`wsu:Created`) out of that window,
    /// or unreadable, gets `status` and `body` (an ONVIF `ter:NotAuthorized` fault, say)
    /// instead of its route.
    pub fn token_window(mut self, max_skew_ms: i64, status: u16, body: impl Into<Vec<u8>>) -> Self {
        self.token_window = Some(TokenWindow {
            max_skew_ms,
            refusal: HttpResponse {
                status,
                headers: Vec::new(),
                body: body.into(),
            },
        });
        self
    }

    /// The refusal of a request whose token is out of the device's window, if it is.
    fn stale_token(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let window = self.token_window.as_ref()?;
        let body = std::str::from_utf8(&request.body).ok()?;
        let doc = crate::xml::Document::parse(body).ok()?;
        let created = crate::xml::find(doc.root_element(), "Created")?;
        let device_now = self.now_ms.saturating_add(self.clock_offset_ms);
        let fresh = created
            .text()
            .and_then(crate::clock::rfc3339_ms)
            .is_some_and(|t| (t - device_now).abs() <= window.max_skew_ms);
        (!fresh).then(|| window.refusal.clone())
    }

    /// Gives the equipment credentials and the token the host builds from them:
    /// `ws_username_token` returns it created at the daemon's clock ([`at`](FakeDevice::at)),
    /// and `ws_username_token_at(ms)` created at `ms` (RFC 3339 UTC). The fake keeps the
    /// token's digest and nonce as given: it computes no digest.
    pub fn credentials(mut self, username: &str, token: UsernameToken) -> Self {
        self.username = Some(username.into());
        self.token = Some(token);
        self
    }

    /// Runs `collect` of probe `P` against this device.
    pub fn collect<P: Probe>(&self, target: &Target) -> Result<Report, ProbeError> {
        let mut target = target.clone();
        if target.username.is_none() {
            target.username = self.username.clone();
        }
        for p in P::describe().params {
            if let Some(default) = p.default
                && target.param(&p.name).is_none()
            {
                target.params.push((p.name, default));
            }
        }
        *self.target.borrow_mut() = Some(target.clone());
        P::collect(&target, self)
    }

    /// The HTTP requests the plugin made, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.borrow().clone()
    }

    /// The lines the plugin logged.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.logs.borrow().clone()
    }

    /// The target of the running collection (a bare test target outside `collect`).
    fn target(&self) -> Target {
        self.target
            .borrow()
            .clone()
            .unwrap_or_else(|| Target::new(""))
    }

    /// Refuses, as the daemon does, a port the plugin did not declare.
    fn check_port(&self, port: u16, what: &str) -> Result<(), HostError> {
        let allowed = crate::allowed_ports(&self.target())
            .map_err(|e| HostError::Forbidden(e.to_string()))?;
        if allowed.contains(&port) {
            Ok(())
        } else {
            Err(HostError::Forbidden(format!(
                "{what}: port {port} is not a port of the equipment's parameters ({})",
                allowed
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    fn check_url(&self, url: &str) -> Result<(), HostError> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return if url.starts_with('/') {
                self.check_port(80, url)
            } else {
                Err(HostError::Forbidden(format!(
                    "`{url}` is neither a path nor a URL"
                )))
            };
        };
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            _ => {
                return Err(HostError::Forbidden(format!(
                    "scheme `{scheme}` is not allowed"
                )));
            }
        };
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((host, port)) => (host, port),
                None => (v6, ""),
            },
            None => match authority.split_once(':') {
                Some((host, port)) => (host, port),
                None => (authority, ""),
            },
        };
        let address = self.target().address;
        if !host.eq_ignore_ascii_case(&address) {
            return Err(HostError::Forbidden(format!(
                "`{host}` is not the equipment's address `{address}`"
            )));
        }
        let port = match port.strip_prefix(':').unwrap_or(port) {
            "" => default_port,
            p => p
                .parse()
                .map_err(|_| HostError::Forbidden(format!("`{url}`: bad port `{p}`")))?,
        };
        self.check_port(port, url)
    }
}

impl Host for FakeDevice {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, HostError> {
        self.requests.borrow_mut().push(request.clone());
        self.check_url(&request.url)?;
        if let Some(refusal) = self.stale_token(request) {
            return Ok(refusal);
        }
        let path = request.path();
        self.routes
            .iter()
            .find(|r| {
                r.method.eq_ignore_ascii_case(&request.method)
                    && r.path == path
                    && r.body_contains
                        .as_ref()
                        .is_none_or(|n| String::from_utf8_lossy(&request.body).contains(n.as_str()))
            })
            .map(|r| r.response.clone())
            .unwrap_or(Ok(HttpResponse {
                status: 404,
                headers: Vec::new(),
                body: b"Not Found".to_vec(),
            }))
            .map(|mut r| {
                // Like the daemon, a 401 says why the host could not get past it.
                if r.status == 401 && r.header(AUTH_NOTE).is_none() {
                    let user = self
                        .target
                        .borrow()
                        .as_ref()
                        .and_then(|t| t.username.clone());
                    let note = match user {
                        Some(u) => format!("refused; user={u}"),
                        None => "none".to_string(),
                    };
                    r.headers.push((AUTH_NOTE.to_string(), note));
                }
                r
            })
    }

    fn tcp_probe(&self, port: u16, _send: &[u8], read_max: u32) -> Result<Vec<u8>, HostError> {
        self.check_port(port, "tcp-probe")?;
        match self.tcp.get(&port) {
            Some(Ok(bytes)) => Ok(bytes.iter().take(read_max as usize).copied().collect()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(HostError::Unreachable(format!(
                "port {port}: connection refused"
            ))),
        }
    }

    fn snmp_get(&self, oids: &[&str]) -> Result<Vec<Varbind>, HostError> {
        if self.snmp.is_empty() {
            return Err(HostError::Timeout("no SNMP answer".into()));
        }
        Ok(oids
            .iter()
            .map(|o| {
                let oid = o.trim_start_matches('.').to_string();
                let value = self.snmp.get(&oid).cloned().unwrap_or(SnmpValue::Missing);
                Varbind { oid, value }
            })
            .collect())
    }

    fn snmp_walk(&self, oid: &str) -> Result<Vec<Varbind>, HostError> {
        if self.snmp.is_empty() {
            return Err(HostError::Timeout("no SNMP answer".into()));
        }
        let root = format!("{}.", oid.trim_start_matches('.'));
        let mut rows: Vec<(Vec<u64>, Varbind)> = self
            .snmp
            .iter()
            .filter(|(k, _)| k.starts_with(&root))
            .map(|(k, v)| {
                let key = k.split('.').filter_map(|p| p.parse().ok()).collect();
                (
                    key,
                    Varbind {
                        oid: k.clone(),
                        value: v.clone(),
                    },
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows.into_iter().map(|(_, v)| v).collect())
    }

    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn log(&self, level: LogLevel, message: &str) {
        self.logs.borrow_mut().push((level, message.into()));
    }

    fn ws_username_token(&self) -> Result<UsernameToken, HostError> {
        self.ws_username_token_at(self.now_ms)
    }

    fn ws_username_token_at(&self, created_ms: i64) -> Result<UsernameToken, HostError> {
        let mut token = self
            .token
            .clone()
            .ok_or_else(|| HostError::AuthFailed("the equipment has no credentials".into()))?;
        token.created = crate::clock::rfc3339(created_ms);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_on_other_hosts_are_refused_and_unknown_paths_are_404() {
        let d = FakeDevice::new().respond("GET", "/a?x=1", 200, "ok");
        *d.target.borrow_mut() = Some(Target::new("192.0.2.1").with_param("port", "8080"));
        let ok = d.get("http://192.0.2.1:8080/a?x=1").expect("same host");
        assert_eq!((ok.status, ok.body.as_slice()), (200, &b"ok"[..]));
        assert_eq!(
            d.get("http://192.0.2.1:8080/b")
                .expect("a 404 is a response")
                .status,
            404
        );
        assert!(matches!(
            d.get("http://192.0.2.2:8080/a"),
            Err(HostError::Forbidden(_))
        ));
        assert!(matches!(
            d.get("file:///etc/passwd"),
            Err(HostError::Forbidden(_))
        ));
        assert!(matches!(
            d.get("ftp://192.0.2.1:8080/a"),
            Err(HostError::Forbidden(_))
        ));
        assert_eq!(d.requests().len(), 5);
    }

    #[test]
    fn only_declared_ports_are_reached() {
        let d = FakeDevice::new()
            .respond("GET", "/a", 200, "ok")
            .tcp(554, Ok(b"RTSP/1.0 200 OK".to_vec()));
        let at = |target: Target| *d.target.borrow_mut() = Some(target);
        let forbidden =
            |r: Result<HttpResponse, HostError>| matches!(r, Err(HostError::Forbidden(_)));

        // No `port`: 80 and 443, and nothing else.
        at(Target::new("192.0.2.1"));
        assert_eq!(d.get("/a").map(|r| r.status), Ok(200));
        assert_eq!(d.get("http://192.0.2.1/a").map(|r| r.status), Ok(200));
        assert_eq!(d.get("https://192.0.2.1/a").map(|r| r.status), Ok(200));
        assert_eq!(d.get("http://192.0.2.1:443/a").map(|r| r.status), Ok(200));
        assert!(forbidden(d.get("http://192.0.2.1:8080/a")));
        assert!(matches!(
            d.tcp_probe(554, b"", 64),
            Err(HostError::Forbidden(_))
        ));

        // `port = 8443`: only it, so a plain path (port 80) is refused too.
        at(Target::new("192.0.2.1").with_param("port", "8443"));
        assert_eq!(d.get("https://192.0.2.1:8443/a").map(|r| r.status), Ok(200));
        assert!(forbidden(d.get("/a")));
        assert!(forbidden(d.get("https://192.0.2.1/a")));

        // `rtsp_port = 554` opens 554 for TCP probes; 80 and 443 stay open without `port`.
        at(Target::new("2001:db8::7").with_param("rtsp_port", "554"));
        assert_eq!(d.tcp_probe(554, b"", 4), Ok(b"RTSP".to_vec()));
        assert_eq!(d.get("https://[2001:db8::7]/a").map(|r| r.status), Ok(200));
        assert!(forbidden(d.get("http://[2001:db8::7]:554x/a")));
        assert!(matches!(
            d.tcp_probe(8554, b"", 4),
            Err(HostError::Forbidden(m)) if m.contains("(80, 443, 554)")
        ));
    }

    #[test]
    fn tokens_far_from_the_device_clock_are_refused() {
        let template = UsernameToken {
            username: "admin".into(),
            password_digest: "digest".into(),
            nonce: "nonce".into(),
            created: "2010-09-16T07:50:45Z".into(),
        };
        // The device runs 10 minutes ahead and tolerates 5 s.
        let d = FakeDevice::new()
            .credentials("admin", template)
            .device_clock(600_000)
            .token_window(5_000, 400, "NotAuthorized")
            .respond("POST", "/onvif", 200, "ok");
        let now = d.now_ms();
        let signed = |token: &UsernameToken| {
            let body = format!(
                "<Envelope><Header><Security><UsernameToken><Created>{}</Created>\
                 </UsernameToken></Security></Header><Body/></Envelope>",
                token.created
            );
            d.http(&HttpRequest::post("/onvif", body)).map(|r| r.status)
        };
        let at_device_time = d.ws_username_token_at(now + 600_000).expect("token");
        assert_eq!(at_device_time.created, "2026-01-01T00:10:00Z");
        assert_eq!(at_device_time.username, "admin");
        assert_eq!(signed(&at_device_time), Ok(200));
        let almost = d.ws_username_token_at(now + 604_000).expect("token");
        assert_eq!(signed(&almost), Ok(200));
        let at_daemon_time = d.ws_username_token_at(now).expect("token");
        assert_eq!(signed(&at_daemon_time), Ok(400));
        let fresh = d.ws_username_token().expect("token");
        assert_eq!(fresh.created, "2026-01-01T00:00:00Z");
        assert_eq!(signed(&fresh), Ok(400));
        // Requests without a token are not concerned.
        assert_eq!(
            d.http(&HttpRequest::post("/onvif", "<Envelope><Body/></Envelope>"))
                .map(|r| r.status),
            Ok(200)
        );
        assert!(matches!(
            FakeDevice::new().ws_username_token_at(now),
            Err(HostError::AuthFailed(_))
        ));
    }

    #[test]
    fn walks_return_the_subtree_in_oid_order() {
        let d = FakeDevice::new()
            .snmp("1.3.6.1.2.1.2.2.1.8.10", SnmpValue::Integer(1))
            .snmp("1.3.6.1.2.1.2.2.1.8.2", SnmpValue::Integer(2))
            .snmp("1.3.6.1.2.1.1.3.0", SnmpValue::Ticks(100));
        let rows = d.snmp_walk("1.3.6.1.2.1.2.2.1.8").expect("walk");
        let oids: Vec<&str> = rows.iter().map(|r| r.oid.as_str()).collect();
        assert_eq!(oids, ["1.3.6.1.2.1.2.2.1.8.2", "1.3.6.1.2.1.2.2.1.8.10"]);
        let got = d.snmp_get(&["1.3.6.1.2.1.1.3.0", "1.2.3"]).expect("get");
        assert_eq!(got[0].value.number(), Some(100.0));
        assert_eq!(got[1].value, SnmpValue::Missing);
    }
}
