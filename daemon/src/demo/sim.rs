//! The fleet simulator: every equipment of a config whose address is on loopback gets the
//! endpoints its probes read, on its own address (127.0.0.0/8 gives each device one) — a
//! node_exporter-style `/metrics` for `agent`, an RTSP server answering `OPTIONS` for `rtsp`,
//! a listening port for `tcp:PORT`, a Hikvision ISAPI web server behind Digest authentication
//! for `plugin:hikvision`, and heartbeats pushed to the daemon for `heartbeat`. A device set
//! down closes its sockets (connection refused) or stops its heartbeats; its values move over
//! time (disk filling, temperature on a daily cycle) and faults are set by the scenario or
//! the control API.

use crate::config::{Config, Probe};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use md5::{Digest as _, Md5};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What a simulated device shows now.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceState {
    /// Answering.
    pub up: bool,
    /// Recording volume utilisation, 0 to 1.
    pub disk: f64,
    /// Extra degrees over the daily cycle.
    pub heat: f64,
    /// The recording service runs.
    pub recording: bool,
    /// A Hikvision recorder shows its degraded fixtures (a disk in error, a camera offline).
    pub degraded: bool,
    /// When it last booted (Unix seconds).
    pub boot: i64,
}

impl Default for DeviceState {
    fn default() -> Self {
        DeviceState {
            up: true,
            disk: 0.62,
            heat: 0.0,
            recording: true,
            degraded: false,
            boot: chrono::Utc::now().timestamp() - 12 * 86_400,
        }
    }
}

/// A device's state, shared by its endpoints, the scenario and the control API.
#[derive(Clone)]
pub struct Device {
    state: Arc<Mutex<DeviceState>>,
    changed: watch::Sender<u64>,
}

impl Device {
    fn new() -> Device {
        Device {
            state: Arc::default(),
            changed: watch::channel(0).0,
        }
    }

    /// Its state now.
    pub fn state(&self) -> DeviceState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes its state; its endpoints follow at once.
    pub fn update(&self, f: impl FnOnce(&mut DeviceState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.send_modify(|n| *n += 1);
    }
}

/// The Hikvision recorder's credentials in the demo.
pub const NVR_USER: &str = "admin";

/// A running simulator; dropping it stops every endpoint.
pub struct Simulator {
    devices: BTreeMap<String, Device>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Why the simulator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An equipment's probe needs something the simulator cannot give.
    #[error("equipment `{0}`: {1}")]
    Equipment(String, String),
}

impl Simulator {
    /// Starts the endpoints of every loopback equipment of `cfg`. Heartbeats go to the
    /// daemon at `api` with each equipment's password from `secret`; the NVR's password is
    /// `nvr_password`.
    pub fn start(
        cfg: &Config,
        api: SocketAddr,
        nvr_password: &str,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Result<Simulator, SimError> {
        let mut sim = Simulator {
            devices: BTreeMap::new(),
            tasks: Vec::new(),
        };
        for site in cfg.sites.values() {
            for eq in site.equipment.values() {
                // Devices on loopback, and those that only push heartbeats.
                let ip = eq.address.as_ref().and_then(|a| a.ip());
                let pushes_only = eq.probes.iter().all(|p| *p == Probe::Heartbeat);
                let ip = match ip {
                    Some(ip) if ip.is_loopback() => ip,
                    None if pushes_only => IpAddr::from([127, 0, 0, 1]),
                    _ => continue,
                };
                let id = eq.id.to_string();
                let device = Device::new();
                for probe in &eq.probes {
                    let endpoint = match probe {
                        Probe::Agent => {
                            let port = eq
                                .agent_url
                                .as_deref()
                                .and_then(|u| url::Url::parse(u).ok())
                                .and_then(|u| u.port_or_known_default())
                                .unwrap_or(9100);
                            let service = eq.recording_service.clone();
                            Some(Endpoint::Http(
                                port,
                                Arc::new(move |d: &DeviceState, req: &RequestLine| {
                                    agent(d, req, service.as_deref())
                                }),
                            ))
                        }
                        Probe::Rtsp(port) => Some(Endpoint::Rtsp(*port)),
                        Probe::Tcp(port) => Some(Endpoint::Tcp(*port)),
                        Probe::Plugin(name) if name == "hikvision" => {
                            let port = eq
                                .plugin_params
                                .iter()
                                .find(|(k, _)| k == "port")
                                .and_then(|(_, p)| p.parse().ok())
                                .unwrap_or(80);
                            let password = nvr_password.to_string();
                            Some(Endpoint::Http(
                                port,
                                Arc::new(move |d: &DeviceState, req: &RequestLine| {
                                    hikvision(d, req, &password)
                                }),
                            ))
                        }
                        Probe::Heartbeat => {
                            let token = secret(&id).ok_or_else(|| {
                                SimError::Equipment(
                                    id.clone(),
                                    "a heartbeat needs credentials with a password".into(),
                                )
                            })?;
                            sim.tasks.push(tokio::spawn(heartbeats(
                                api,
                                id.clone(),
                                token,
                                eq.collection.interval,
                                device.clone(),
                            )));
                            None
                        }
                        _ => None,
                    };
                    if let Some(e) = endpoint {
                        sim.tasks
                            .push(tokio::spawn(serve(ip, e, device.clone(), id.clone())));
                    }
                }
                sim.devices.insert(id, device);
            }
        }
        Ok(sim)
    }

    /// A device by equipment id.
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.get(id)
    }

    /// The devices simulated, by id.
    pub fn devices(&self) -> impl Iterator<Item = (&String, &Device)> {
        self.devices.iter()
    }
}

/// The first line and headers of an HTTP request, as the handlers need them.
pub struct RequestLine {
    method: String,
    path: String,
    authorization: Option<String>,
}

type Handler = Arc<
    dyn Fn(&DeviceState, &RequestLine) -> (StatusCode, Vec<(String, String)>, String) + Send + Sync,
>;

enum Endpoint {
    Http(u16, Handler),
    Rtsp(u16),
    Tcp(u16),
}

/// Serves one endpoint of a device while it is up: bound when up, closed when down.
async fn serve(ip: IpAddr, endpoint: Endpoint, device: Device, id: String) {
    let port = match &endpoint {
        Endpoint::Http(p, _) | Endpoint::Rtsp(p) | Endpoint::Tcp(p) => *p,
    };
    let endpoint = Arc::new(endpoint);
    let mut changed = device.changed.subscribe();
    loop {
        if !device.state().up {
            if changed.changed().await.is_err() {
                return;
            }
            continue;
        }
        let listener = match TcpListener::bind((ip, port)).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(equipment = %id, "simulator: cannot listen on {ip}:{port}: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let (endpoint, device) = (Arc::clone(&endpoint), device.clone());
                    tokio::spawn(async move { connection(stream, &endpoint, device).await });
                }
                c = changed.changed() => {
                    if c.is_err() {
                        return;
                    }
                    if !device.state().up {
                        break;
                    }
                }
            }
        }
    }
}

async fn connection(stream: tokio::net::TcpStream, endpoint: &Endpoint, device: Device) {
    match endpoint {
        Endpoint::Tcp(_) => {
            // Accepted and held briefly, as a device's service would.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Endpoint::Rtsp(_) => {
            use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r).lines();
            let mut cseq = "1".to_string();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(v) = line.strip_prefix("CSeq:") {
                    cseq = v.trim().to_string();
                }
                if line.is_empty() {
                    let answer = format!(
                        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
                    );
                    if w.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        }
        Endpoint::Http(_, handler) => {
            let handler = Arc::clone(handler);
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (handler, device) = (Arc::clone(&handler), device.clone());
                async move {
                    let line = RequestLine {
                        method: req.method().to_string(),
                        path: req.uri().path().to_string(),
                        authorization: req
                            .headers()
                            .get(hyper::header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .map(String::from),
                    };
                    // The body is read and dropped: the simulated APIs are read-only.
                    let _ = req.into_body().collect().await;
                    let (status, headers, body) = handler(&device.state(), &line);
                    let mut answer = Response::new(Full::new(Bytes::from(body)));
                    *answer.status_mut() = status;
                    for (k, v) in headers {
                        if let (Ok(k), Ok(v)) = (
                            hyper::header::HeaderName::from_bytes(k.as_bytes()),
                            hyper::header::HeaderValue::from_str(&v),
                        ) {
                            answer.headers_mut().insert(k, v);
                        }
                    }
                    Ok::<_, std::convert::Infallible>(answer)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        }
    }
}

/// Seconds into the simulated day: the demo's day lasts ten minutes, so the daily
/// temperature cycle shows.
fn day_phase() -> f64 {
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    (now % 600.0) / 600.0
}

/// A node_exporter-style exposition of the device's state.
fn agent(
    d: &DeviceState,
    req: &RequestLine,
    service: Option<&str>,
) -> (StatusCode, Vec<(String, String)>, String) {
    if req.path != "/metrics" {
        return (StatusCode::NOT_FOUND, Vec::new(), "not found\n".into());
    }
    let size = 8.0e12;
    let temp = 44.0 + 6.0 * (day_phase() * std::f64::consts::TAU).sin() + d.heat;
    let mut text = format!(
        "# TYPE node_filesystem_size_bytes gauge\nnode_filesystem_size_bytes{{device=\"/dev/sdb1\",fstype=\"ext4\",mountpoint=\"/recordings\"}} {size}\n\
         # TYPE node_filesystem_avail_bytes gauge\nnode_filesystem_avail_bytes{{device=\"/dev/sdb1\",fstype=\"ext4\",mountpoint=\"/recordings\"}} {}\n\
         # TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes 34359738368\n\
         # TYPE node_memory_MemAvailable_bytes gauge\nnode_memory_MemAvailable_bytes 12884901888\n\
         # TYPE node_hwmon_temp_celsius gauge\nnode_hwmon_temp_celsius{{chip=\"platform_coretemp_0\",sensor=\"temp1\"}} {temp:.1}\n\
         # TYPE node_boot_time_seconds gauge\nnode_boot_time_seconds {}\n",
        size * (1.0 - d.disk),
        d.boot
    );
    if let Some(s) = service {
        let unit = if s.ends_with(".service") {
            s.to_string()
        } else {
            format!("{s}.service")
        };
        let (active, failed) = if d.recording { (1, 0) } else { (0, 1) };
        text.push_str(&format!(
            "# TYPE node_systemd_unit_state gauge\nnode_systemd_unit_state{{name=\"{unit}\",state=\"active\",type=\"simple\"}} {active}\nnode_systemd_unit_state{{name=\"{unit}\",state=\"failed\",type=\"simple\"}} {failed}\n"
        ));
    }
    (
        StatusCode::OK,
        vec![("content-type".into(), "text/plain; version=0.0.4".into())],
        text,
    )
}

const HIK_HEALTHY: [(&str, &str); 5] = [
    (
        "/ISAPI/System/deviceInfo",
        include_str!("../../../plugins/hikvision/fixtures/nvr-healthy/deviceInfo.xml"),
    ),
    (
        "/ISAPI/System/status",
        include_str!("../../../plugins/hikvision/fixtures/nvr-healthy/status.xml"),
    ),
    (
        "/ISAPI/ContentMgmt/Storage",
        include_str!("../../../plugins/hikvision/fixtures/nvr-healthy/storage.xml"),
    ),
    (
        "/ISAPI/ContentMgmt/InputProxy/channels/status",
        include_str!("../../../plugins/hikvision/fixtures/nvr-healthy/channels-status.xml"),
    ),
    (
        "/ISAPI/ContentMgmt/InputProxy/channels",
        include_str!("../../../plugins/hikvision/fixtures/nvr-healthy/channels.xml"),
    ),
];

const HIK_DEGRADED: [(&str, &str); 5] = [
    (
        "/ISAPI/System/deviceInfo",
        include_str!("../../../plugins/hikvision/fixtures/nvr-degraded/deviceInfo.xml"),
    ),
    (
        "/ISAPI/System/status",
        include_str!("../../../plugins/hikvision/fixtures/nvr-degraded/status.xml"),
    ),
    (
        "/ISAPI/ContentMgmt/Storage",
        include_str!("../../../plugins/hikvision/fixtures/nvr-degraded/storage.xml"),
    ),
    (
        "/ISAPI/ContentMgmt/InputProxy/channels/status",
        include_str!("../../../plugins/hikvision/fixtures/nvr-degraded/channels-status.xml"),
    ),
    (
        "/ISAPI/ContentMgmt/InputProxy/channels",
        include_str!("../../../plugins/hikvision/fixtures/nvr-degraded/channels.xml"),
    ),
];

/// The realm and nonce of the simulated recorder's Digest challenge.
const REALM: &str = "DS-7608NI-I2";
const NONCE: &str = "4e6f6e63652d7669676965";

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `header` (`Digest k="v", ...`) proves `user`/`password` for a request with
/// `method`, against a challenge of `realm` and `nonce` (RFC 7616, MD5, qop=auth): what a
/// camera's or recorder's web server checks.
pub fn digest_valid(
    header: &str,
    method: &str,
    (user, password): (&str, &str),
    (realm, nonce): (&str, &str),
) -> bool {
    let Some(rest) = header.strip_prefix("Digest ") else {
        return false;
    };
    let mut p: BTreeMap<String, String> = BTreeMap::new();
    for part in rest.split(',') {
        if let Some((k, v)) = part.trim().split_once('=') {
            p.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
        }
    }
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    if get("username") != user || get("nonce") != nonce {
        return false;
    }
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{}", get("uri")));
    let expected = md5_hex(&format!(
        "{ha1}:{nonce}:{}:{}:{}:{ha2}",
        get("nc"),
        get("cnonce"),
        get("qop")
    ));
    get("response") == expected
}

/// A Hikvision recorder's ISAPI, behind Digest authentication.
fn hikvision(
    d: &DeviceState,
    req: &RequestLine,
    password: &str,
) -> (StatusCode, Vec<(String, String)>, String) {
    let authorized = req
        .authorization
        .as_deref()
        .is_some_and(|h| digest_valid(h, &req.method, (NVR_USER, password), (REALM, NONCE)));
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            vec![(
                "www-authenticate".into(),
                format!("Digest realm=\"{REALM}\", qop=\"auth\", nonce=\"{NONCE}\""),
            )],
            String::new(),
        );
    }
    let fixtures = if d.degraded {
        &HIK_DEGRADED
    } else {
        &HIK_HEALTHY
    };
    match fixtures.iter().find(|(p, _)| *p == req.path) {
        Some((_, body)) => (
            StatusCode::OK,
            vec![("content-type".into(), "application/xml".into())],
            body.to_string(),
        ),
        None => (StatusCode::NOT_FOUND, Vec::new(), String::new()),
    }
}

/// Pushes a heartbeat to the daemon every `interval` while the device is up, with the
/// collectors' HTTP client on the simulator's runtime.
async fn heartbeats(
    api: SocketAddr,
    id: String,
    token: String,
    interval: Duration,
    device: Device,
) {
    let address = api.ip().to_string();
    let path = format!("/api/v1/heartbeat/{id}");
    let auth = format!("Bearer {token}");
    let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
    loop {
        tick.tick().await;
        if !device.state().up {
            continue;
        }
        let sent = crate::collectors::http::exchange(crate::collectors::http::HttpRequest {
            address: &address,
            port: api.port(),
            method: hyper::Method::POST,
            path: &path,
            headers: vec![
                ("authorization".into(), auth.clone()),
                ("content-type".into(), "application/json".into()),
            ],
            body: b"{}".to_vec(),
            timeout: Duration::from_secs(5),
            max_body: 64 * 1024,
            tls: None,
        })
        .await;
        match sent {
            Ok(a) if a.status >= 400 => tracing::warn!(
                equipment = %id,
                "simulator: heartbeat refused ({}): {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(equipment = %id, "simulator: heartbeat not sent: {e}"),
        }
    }
}
