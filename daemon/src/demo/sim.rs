//! The fleet simulator: every equipment of a config whose address is on loopback gets the
//! endpoints its probes read, on its own address (127.0.0.0/8 gives each device one) — a
//! node_exporter-style `/metrics` for `agent`, an RTSP server answering `OPTIONS` for `rtsp`,
//! a listening port for `tcp:PORT`, the web APIs the vendor plugins read — Hikvision ISAPI,
//! Dahua CGI and Axis VAPIX behind Digest authentication, an ONVIF device service checking
//! WS-Security UsernameTokens — a real `snmpd` (net-snmp, on an unprivileged port, when it is
//! installed) for `snmp`, and heartbeats pushed to the daemon for `heartbeat`. A device
//! set down closes its sockets (connection refused) or stops its heartbeats; a flapping one
//! goes down and up on a period; its values move over time (recording disks filling, the
//! temperature on a daily cycle) and faults are set by the scenario or the control API.

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
    /// Goes down and up every this many seconds while set.
    pub flap: Option<f64>,
    /// Its clock's offset from the true time, in seconds (ONVIF).
    pub clock_offset: f64,
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
            flap: None,
            clock_offset: 0.0,
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
    /// daemon at `api`; each device checks the user name of its credentials in `cfg` and the
    /// password `secret` gives for its id.
    pub fn start(
        cfg: &Config,
        api: SocketAddr,
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
                        Probe::Plugin(name) => {
                            let port = eq
                                .plugin_params
                                .iter()
                                .find(|(k, _)| k == "port")
                                .and_then(|(_, p)| p.parse().ok())
                                .unwrap_or(80);
                            let login = Login {
                                user: eq
                                    .credentials
                                    .as_ref()
                                    .and_then(|c| c.username.clone())
                                    .unwrap_or_default(),
                                password: secret(&id).unwrap_or_default(),
                            };
                            let handler: Option<Handler> = match name.as_str() {
                                "hikvision" => {
                                    Some(Arc::new(move |d: &DeviceState, req: &RequestLine| {
                                        hikvision(d, req, &login)
                                    }))
                                }
                                "dahua" => {
                                    Some(Arc::new(move |d: &DeviceState, req: &RequestLine| {
                                        dahua(d, req, &login)
                                    }))
                                }
                                "axis" => {
                                    Some(Arc::new(move |d: &DeviceState, req: &RequestLine| {
                                        axis(d, req, &login)
                                    }))
                                }
                                "onvif" => {
                                    Some(Arc::new(move |d: &DeviceState, req: &RequestLine| {
                                        onvif(d, req, &login)
                                    }))
                                }
                                _ => None,
                            };
                            handler.map(|h| Endpoint::Http(port, h))
                        }
                        Probe::Snmp => {
                            let community = secret(&id).unwrap_or_else(|| "public".into());
                            sim.tasks.push(tokio::spawn(snmp_agent(
                                ip,
                                eq.snmp.port,
                                community,
                                device.clone(),
                                id.clone(),
                            )));
                            None
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
                sim.tasks.push(tokio::spawn(flapping(device.clone())));
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

/// What the handlers read of an HTTP request.
pub struct RequestLine {
    method: String,
    /// Path and query.
    path: String,
    authorization: Option<String>,
    body: String,
}

/// The user name and password a simulated device accepts.
#[derive(Clone)]
struct Login {
    user: String,
    password: String,
}

/// A simulated HTTP answer: status, headers, body.
type Answer = (StatusCode, Vec<(String, String)>, String);

type Handler = Arc<dyn Fn(&DeviceState, &RequestLine) -> Answer + Send + Sync>;

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
                    let method = req.method().to_string();
                    let path = req
                        .uri()
                        .path_and_query()
                        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
                    let authorization = req
                        .headers()
                        .get(hyper::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .map(String::from);
                    // At most 64 KiB of body is read: the simulated APIs take small requests.
                    let body = http_body_util::Limited::new(req.into_body(), 64 * 1024)
                        .collect()
                        .await
                        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                        .unwrap_or_default();
                    let line = RequestLine {
                        method,
                        path,
                        authorization,
                        body,
                    };
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

/// A recording volume's fill: the set level plus what recording adds over time, one point a
/// simulated day (ten minutes), so a trend shows within a demo; never full.
fn filled(level: f64) -> f64 {
    let days = chrono::Utc::now().timestamp_millis() as f64 / 600_000.0;
    (level + (days % 5.0) * 0.01).min(0.999)
}

/// A node_exporter-style exposition of the device's state.
fn agent(d: &DeviceState, req: &RequestLine, service: Option<&str>) -> Answer {
    if req.path != "/metrics" {
        return (StatusCode::NOT_FOUND, Vec::new(), "not found\n".into());
    }
    let size = 8.0e12;
    let temp = 44.0 + 6.0 * (day_phase() * std::f64::consts::TAU).sin() + d.heat;
    let disk = filled(d.disk);
    let mut text = format!(
        "# TYPE node_filesystem_size_bytes gauge\nnode_filesystem_size_bytes{{device=\"/dev/sdb1\",fstype=\"ext4\",mountpoint=\"/recordings\"}} {size}\n\
         # TYPE node_filesystem_avail_bytes gauge\nnode_filesystem_avail_bytes{{device=\"/dev/sdb1\",fstype=\"ext4\",mountpoint=\"/recordings\"}} {}\n\
         # TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes 34359738368\n\
         # TYPE node_memory_MemAvailable_bytes gauge\nnode_memory_MemAvailable_bytes 12884901888\n\
         # TYPE node_hwmon_temp_celsius gauge\nnode_hwmon_temp_celsius{{chip=\"platform_coretemp_0\",sensor=\"temp1\"}} {temp:.1}\n\
         # TYPE node_boot_time_seconds gauge\nnode_boot_time_seconds {}\n",
        size * (1.0 - disk),
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

/// The Digest challenge a device answers when `req` does not prove `login`, or `None`.
fn challenge(req: &RequestLine, login: &Login) -> Option<Answer> {
    // The path the client signs is the request target, query included.
    let authorized = req.authorization.as_deref().is_some_and(|h| {
        digest_valid(
            h,
            &req.method,
            (&login.user, &login.password),
            (REALM, NONCE),
        )
    });
    (!authorized).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            vec![(
                "www-authenticate".into(),
                format!("Digest realm=\"{REALM}\", qop=\"auth\", nonce=\"{NONCE}\""),
            )],
            String::new(),
        )
    })
}

/// A fixed answer of `content_type`.
fn answer(content_type: &str, body: &str) -> Answer {
    (
        StatusCode::OK,
        vec![("content-type".into(), content_type.into())],
        body.to_string(),
    )
}

fn not_found() -> Answer {
    (StatusCode::NOT_FOUND, Vec::new(), String::new())
}

/// A Hikvision recorder's ISAPI, behind Digest authentication.
fn hikvision(d: &DeviceState, req: &RequestLine, login: &Login) -> Answer {
    if let Some(refused) = challenge(req, login) {
        return refused;
    }
    let fixtures = if d.degraded {
        &HIK_DEGRADED
    } else {
        &HIK_HEALTHY
    };
    let path = req.path.split('?').next().unwrap_or_default();
    match fixtures.iter().find(|(p, _)| *p == path) {
        // The recorder's clock is on time (the fixtures were captured on another day).
        Some((_, body)) => answer("application/xml", &clock_now(body, "currentDeviceTime")),
        None => not_found(),
    }
}

/// `xml` with the text of its element `name` set to the time now (RFC 3339, UTC).
fn clock_now(xml: &str, name: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    match (xml.find(&open), xml.find(&close)) {
        (Some(a), Some(b)) if a < b => format!(
            "{}{}{}",
            &xml[..a + open.len()],
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            &xml[b..]
        ),
        _ => xml.to_string(),
    }
}

/// A Dahua recorder's CGI answers (`key=value` lines), by request target.
const DAHUA_HEALTHY: [(&str, &str); 7] = [
    (
        "/cgi-bin/magicBox.cgi?action=getSystemInfo",
        include_str!("../../../plugins/dahua/fixtures/nvr-healthy/getSystemInfo.txt"),
    ),
    (
        "/cgi-bin/magicBox.cgi?action=getSoftwareVersion",
        include_str!("../../../plugins/dahua/fixtures/nvr-healthy/getSoftwareVersion.txt"),
    ),
    (
        "/cgi-bin/storageDevice.cgi?action=getDeviceAllInfo",
        include_str!("../../../plugins/dahua/fixtures/nvr-healthy/getDeviceAllInfo.txt"),
    ),
    (
        "/cgi-bin/LogicDeviceManager.cgi?action=getCameraState&uniqueChannels[0]=-1",
        include_str!("../../../plugins/dahua/fixtures/nvr-healthy/getCameraState.txt"),
    ),
    (
        "/cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle",
        include_str!("../../../plugins/dahua/fixtures/nvr-healthy/getChannelTitle.txt"),
    ),
    (
        "/cgi-bin/magicBox.cgi?action=getUpTime",
        include_str!("../../../plugins/dahua/fixtures/nvr-healthy/getUpTime.txt"),
    ),
    (
        "/cgi-bin/magicBox.cgi?action=getCPUUsage",
        include_str!("../../../plugins/dahua/fixtures/nvr-healthy/getCPUUsage.txt"),
    ),
];

/// The same recorder degraded: a disk in error, a channel offline.
const DAHUA_DEGRADED: [(&str, &str); 5] = [
    (
        "/cgi-bin/magicBox.cgi?action=getSystemInfo",
        include_str!("../../../plugins/dahua/fixtures/nvr-degraded/getSystemInfo.txt"),
    ),
    (
        "/cgi-bin/magicBox.cgi?action=getSoftwareVersion",
        include_str!("../../../plugins/dahua/fixtures/nvr-degraded/getSoftwareVersion.txt"),
    ),
    (
        "/cgi-bin/storageDevice.cgi?action=getDeviceAllInfo",
        include_str!("../../../plugins/dahua/fixtures/nvr-degraded/getDeviceAllInfo.txt"),
    ),
    (
        "/cgi-bin/LogicDeviceManager.cgi?action=getCameraState&uniqueChannels[0]=-1",
        include_str!("../../../plugins/dahua/fixtures/nvr-degraded/getCameraState.txt"),
    ),
    (
        "/cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle",
        include_str!("../../../plugins/dahua/fixtures/nvr-degraded/getChannelTitle.txt"),
    ),
];

/// A Dahua recorder's CGI, behind Digest authentication.
fn dahua(d: &DeviceState, req: &RequestLine, login: &Login) -> Answer {
    if let Some(refused) = challenge(req, login) {
        return refused;
    }
    let fixtures: &[(&str, &str)] = if d.degraded {
        &DAHUA_DEGRADED
    } else {
        &DAHUA_HEALTHY
    };
    match fixtures.iter().find(|(p, _)| *p == req.path) {
        Some((_, body)) => answer("text/plain", body),
        None => not_found(),
    }
}

/// An Axis camera's VAPIX: `systemready.cgi` anonymous, the rest behind Digest
/// authentication; degraded, a fan failed and its SD card disconnected.
fn axis(d: &DeviceState, req: &RequestLine, login: &Login) -> Answer {
    let path = req.path.split('?').next().unwrap_or_default();
    if path == "/axis-cgi/systemready.cgi" {
        return answer(
            "application/json",
            include_str!("../../../plugins/axis/fixtures/systemready.json"),
        );
    }
    if let Some(refused) = challenge(req, login) {
        return refused;
    }
    match (path, d.degraded) {
        ("/axis-cgi/basicdeviceinfo.cgi", _) => answer(
            "application/json",
            include_str!("../../../plugins/axis/fixtures/basicdeviceinfo.json"),
        ),
        ("/axis-cgi/temperaturecontrol.cgi", false) => answer(
            "text/plain",
            include_str!("../../../plugins/axis/fixtures/temperature_statusall.txt"),
        ),
        ("/axis-cgi/temperaturecontrol.cgi", true) => answer(
            "text/plain",
            include_str!("../../../plugins/axis/fixtures/temperature_fan_failure.txt"),
        ),
        ("/axis-cgi/disks/list.cgi", false) => answer(
            "text/xml",
            include_str!("../../../plugins/axis/fixtures/disks_list.xml"),
        ),
        ("/axis-cgi/disks/list.cgi", true) => answer(
            "text/xml",
            include_str!("../../../plugins/axis/fixtures/disks_sd_disconnected.xml"),
        ),
        _ => not_found(),
    }
}

/// Whether an ONVIF request carries a WS-Security UsernameToken proving `login`: the
/// password digest is Base64(SHA-1(nonce + created + password)).
fn username_token_valid(body: &str, login: &Login) -> bool {
    use base64::Engine as _;
    use sha1::{Digest as _, Sha1};
    let Ok(doc) = roxmltree::Document::parse(body) else {
        return false;
    };
    let text = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(str::trim)
    };
    let (Some(user), Some(digest), Some(nonce), Some(created)) = (
        text("Username"),
        text("Password"),
        text("Nonce"),
        text("Created"),
    ) else {
        return false;
    };
    let Ok(nonce) = base64::engine::general_purpose::STANDARD.decode(nonce) else {
        return false;
    };
    let mut h = Sha1::new();
    h.update(&nonce);
    h.update(created.as_bytes());
    h.update(login.password.as_bytes());
    user == login.user && base64::engine::general_purpose::STANDARD.encode(h.finalize()) == digest
}

/// A SOAP 1.2 envelope around `body`.
fn soap(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:tt=\"http://www.onvif.org/ver10/schema\" xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\" xmlns:ter=\"http://www.onvif.org/ver10/error\"><env:Body>{body}</env:Body></env:Envelope>"
    )
}

/// An ONVIF device service: its clock (true time plus the device's offset) to anyone, its
/// identity to a valid UsernameToken, a `ter:NotAuthorized` fault otherwise.
fn onvif(d: &DeviceState, req: &RequestLine, login: &Login) -> Answer {
    use chrono::{Datelike as _, Timelike as _};
    let path = req.path.split('?').next().unwrap_or_default();
    if req.method != "POST" || path != "/onvif/device_service" {
        return not_found();
    }
    let xml = "application/soap+xml; charset=utf-8";
    if req.body.contains("GetSystemDateAndTime") {
        let offset = chrono::Duration::milliseconds((d.clock_offset * 1000.0) as i64);
        let t = chrono::Utc::now() + offset;
        let body = format!(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
            t.hour(),
            t.minute(),
            t.second(),
            t.year(),
            t.month(),
            t.day()
        );
        return answer(xml, &soap(&body));
    }
    if req.body.contains("GetDeviceInformation") {
        if !username_token_valid(&req.body, login) {
            let fault = "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">Sender not Authorized</env:Text></env:Reason></env:Fault>";
            let (_, headers, body) = answer(xml, &soap(fault));
            return (StatusCode::BAD_REQUEST, headers, body);
        }
        let body = "<tds:GetDeviceInformationResponse><tds:Manufacturer>Bosch</tds:Manufacturer><tds:Model>FLEXIDOME IP 5000i</tds:Model><tds:FirmwareVersion>7.80.0128</tds:FirmwareVersion><tds:SerialNumber>044127263518030032</tds:SerialNumber><tds:HardwareId>F0004D43</tds:HardwareId></tds:GetDeviceInformationResponse>";
        return answer(xml, &soap(body));
    }
    not_found()
}

/// Where net-snmp's agent is installed, if it is.
pub fn snmpd() -> Option<std::path::PathBuf> {
    ["/usr/sbin/snmpd", "/usr/local/sbin/snmpd"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

/// util-linux's `setpriv`, if installed.
fn setpriv() -> Option<std::path::PathBuf> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

/// A real SNMP agent (net-snmp's `snmpd`, v2c with `community`) on `ip:port` while the device
/// is up, answering from this machine's own tables (uptime, interfaces, storage, load).
async fn snmp_agent(ip: IpAddr, port: u16, community: String, device: Device, id: String) {
    let Some(snmpd) = snmpd() else {
        tracing::warn!(equipment = %id, "simulator: snmpd is not installed (apt-get install snmpd): SNMP is not simulated");
        return;
    };
    let dir = match tempfile::Builder::new()
        .prefix("vigie-demo-snmpd-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(equipment = %id, "simulator: no directory for snmpd: {e}");
            return;
        }
    };
    let conf = dir.path().join("snmpd.conf");
    let text =
        format!("rocommunity {community} 127.0.0.0/8\nsysName {id}\nsysLocation vigie demo\n");
    if let Err(e) = std::fs::write(&conf, text) {
        tracing::warn!(equipment = %id, "simulator: cannot write {}: {e}", conf.display());
        return;
    }
    let mut changed = device.changed.subscribe();
    loop {
        if !device.state().up {
            if changed.changed().await.is_err() {
                return;
            }
            continue;
        }
        // Under `setpriv --pdeathsig`, the agent dies with the demo even when the demo is
        // killed outright (no chance to stop it).
        let mut command = match setpriv() {
            Some(setpriv) => {
                let mut c = tokio::process::Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(&snmpd);
                c
            }
            None => tokio::process::Command::new(&snmpd),
        };
        let child = command
            .args(["-f", "-Ln", "-C", "-c"])
            .arg(&conf)
            .arg(format!("udp:{ip}:{port}"))
            .env("SNMP_PERSISTENT_DIR", dir.path())
            .env("MIBS", "")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(equipment = %id, "simulator: snmpd does not start: {e}");
                return;
            }
        };
        loop {
            tokio::select! {
                exit = child.wait() => {
                    tracing::warn!(equipment = %id, "simulator: snmpd on {ip}:{port} exited ({exit:?}); restarted in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    break;
                }
                c = changed.changed() => {
                    if c.is_err() {
                        return;
                    }
                    if !device.state().up {
                        let _ = child.kill().await;
                        break;
                    }
                }
            }
        }
    }
}

/// Takes a flapping device down and up every `flap` seconds until the flapping stops (its
/// state then stays as set).
async fn flapping(device: Device) {
    let mut changed = device.changed.subscribe();
    loop {
        let Some(period) = device.state().flap else {
            if changed.changed().await.is_err() {
                return;
            }
            continue;
        };
        let period = Duration::from_secs_f64(period.clamp(1.0, 3600.0));
        tokio::select! {
            () = tokio::time::sleep(period) => {
                device.update(|d| {
                    if d.flap.is_some() {
                        d.up = !d.up;
                    }
                });
            }
            c = changed.changed() => {
                if c.is_err() {
                    return;
                }
            }
        }
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
