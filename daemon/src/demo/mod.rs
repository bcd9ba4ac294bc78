//! `vigie demo`: the daemon on a simulated fleet. The demo's config (three clients, four
//! sites, cameras behind switches and an NVR, a recurring maintenance window, notifications to
//! the log channel) is written into a temporary directory, the simulator serves every device
//! on its own loopback address, the real daemon runs on them, and a scenario plays faults and
//! repairs so that alerts open, escalate and resolve within minutes. A small control API sets
//! faults by hand.

pub mod scenario;
pub mod sim;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use std::path::Path;
use std::sync::Arc;

/// The demo's main config file.
pub const MAIN: &str = include_str!("fleet/vigie.toml");

/// The demo's site files, by id.
pub const SITES: [(&str, &str); 4] = [
    ("acme-lyon", include_str!("fleet/sites/acme-lyon.toml")),
    ("acme-nantes", include_str!("fleet/sites/acme-nantes.toml")),
    ("musee-paris", include_str!("fleet/sites/musee-paris.toml")),
    (
        "transit-depot",
        include_str!("fleet/sites/transit-depot.toml"),
    ),
];

/// The demo's scenario.
pub const SCENARIO: &str = include_str!("scenario.toml");

/// The simulated devices' secrets, by credentials name (written to `secrets/NAME`).
pub const SECRETS: [(&str, &str); 4] = [
    ("nvr", "demo-nvr-password"),
    ("beacon", "demo-beacon-token"),
    ("cameras", "demo-camera-password"),
    ("switches", "demo-community"),
];

/// How a site file reads its switch over SNMP, and what replaces it without `snmpd`.
const SNMP_PROBE: (&str, &str) = (
    "probes = [\"snmp\"]\nsnmp = { port = 1161 }",
    "probes = [\"tcp:8022\"]",
);

/// Checks the equipment the demo reads over SNMP over TCP instead, in the config written in
/// `dir`, for a machine without `snmpd`; returns whether anything changed.
pub fn without_snmp(dir: &Path) -> std::io::Result<bool> {
    let mut changed = false;
    for (id, text) in SITES {
        if text.contains(SNMP_PROBE.0) {
            let path = dir.join("sites").join(format!("{id}.toml"));
            std::fs::write(path, text.replace(SNMP_PROBE.0, SNMP_PROBE.1))?;
            changed = true;
        }
    }
    Ok(changed)
}

/// Writes the demo's config into `dir` (created): `vigie.toml`, `sites/`, `secrets/` (0600;
/// the config names them by absolute path) and `scenario.toml`.
pub fn write_config(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("sites"))?;
    let dir = std::path::absolute(dir)?;
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets)?;
    for (name, secret) in SECRETS {
        crate::store::write_private(&secrets.join(name), secret.as_bytes())?;
    }
    let mut main = MAIN.replace(
        "password_file = \"secrets/",
        &format!("password_file = \"{}/", secrets.display()),
    );
    // The dashboard's demo accounts, with the password the banner shows.
    let hash = crate::auth::hash_password(DEMO_PASSWORD).map_err(std::io::Error::other)?;
    for (id, name, access, lang) in DEMO_ACCOUNTS {
        main.push_str(&format!(
            "\n[accounts.{id}]\nname = \"{name}\"\n{access}\npassword = \"{hash}\"\nlanguage = \"{lang}\"\n"
        ));
    }
    std::fs::write(dir.join("vigie.toml"), main)?;
    for (id, text) in SITES {
        std::fs::write(dir.join("sites").join(format!("{id}.toml")), text)?;
    }
    std::fs::write(dir.join("scenario.toml"), SCENARIO)
}

/// The password of the demo's dashboard accounts.
pub const DEMO_PASSWORD: &str = "vigie-demo";

/// The demo's dashboard accounts: id, name, access, language.
pub const DEMO_ACCOUNTS: [(&str, &str, &str, &str); 3] = [
    ("ops", "Opérateur démo", "role = \"operator\"", "fr"),
    ("acme", "ACME sécurité", "client = \"acme\"", "fr"),
    ("museum", "City Museum security", "client = \"musee\"", "en"),
];

/// The secret of the credentials an equipment of `cfg` uses, read from its source.
pub fn secret_of(cfg: &crate::config::Config, equipment: &str) -> Option<String> {
    cfg.sites
        .values()
        .find_map(|s| s.equipment.get(equipment))
        .and_then(|e| e.credentials.as_ref())
        .and_then(|c| c.password.as_ref())
        .and_then(|p| p.read().ok())
        .map(|s| s.expose().to_string())
}

/// The control API: `GET /devices` (each simulated device's state) and
/// `POST /devices/ID/ACTION[?value=N]` (a scenario action now). Serves `listener` until the
/// task is dropped.
pub async fn control(listener: tokio::net::TcpListener, sim: Arc<sim::Simulator>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let sim = Arc::clone(&sim);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let sim = Arc::clone(&sim);
                async move {
                    let (status, body) = control_answer(&sim, req).await;
                    let mut answer = Response::new(Full::new(Bytes::from(body.to_string())));
                    *answer.status_mut() = status;
                    answer.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, std::convert::Infallible>(answer)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn control_answer(
    sim: &sim::Simulator,
    req: Request<Incoming>,
) -> (StatusCode, serde_json::Value) {
    let error = |status: StatusCode, m: String| (status, serde_json::json!({ "error": m }));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let value = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "value")
            .map(|(_, v)| v.to_string())
    });
    let _ = req.into_body().collect().await;
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["devices"]) => {
            let devices: serde_json::Map<String, serde_json::Value> = sim
                .devices()
                .map(|(id, d)| {
                    let s = d.state();
                    (
                        id.clone(),
                        serde_json::json!({
                            "up": s.up, "disk_percent": (s.disk * 100.0).round(),
                            "heat": s.heat, "recording": s.recording, "degraded": s.degraded,
                        }),
                    )
                })
                .collect();
            (StatusCode::OK, serde_json::Value::Object(devices))
        }
        ("POST", ["devices", id, action]) => {
            let value = match value.as_deref().map(str::parse::<f64>) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("value: `{}` is not a number", value.unwrap_or_default()),
                    );
                }
            };
            let action = match scenario::Action::parse(action, value) {
                Ok(a) => a,
                Err(m) => return error(StatusCode::BAD_REQUEST, m),
            };
            match scenario::apply(sim, id, action) {
                Ok(()) => (
                    StatusCode::OK,
                    serde_json::json!({ "device": id, "done": format!("{action:?}") }),
                ),
                Err(m) => error(StatusCode::NOT_FOUND, m),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no route {method} {path}: GET /devices, POST /devices/ID/ACTION[?value=N]"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Probe;

    #[test]
    fn without_snmpd_the_switch_read_over_snmp_is_checked_over_tcp() {
        let dir = tempfile::tempdir().expect("tmp");
        write_config(dir.path()).expect("write");
        let probes = |dir: &Path| {
            let cfg = crate::config::load_dir(dir).expect("the demo's config loads");
            cfg.sites["acme-lyon"].equipment["lyon-sw"].probes.clone()
        };
        assert_eq!(probes(dir.path()), vec![Probe::Snmp]);
        assert!(without_snmp(dir.path()).expect("rewrite"));
        assert_eq!(probes(dir.path()), vec![Probe::Tcp(8022)]);
    }
}
