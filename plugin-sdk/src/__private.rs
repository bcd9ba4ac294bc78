//! Glue between the hand-written API and the bindings generated from the WIT package.
//! Nothing here is part of the SDK's stable API.

#![allow(missing_docs)]

#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "probe",
        pub_export_macro: true,
        export_macro_name: "__export_vigie_probe",
        default_bindings_module: "vigie_plugin_sdk::__private::bindings",
        runtime_path: "vigie_plugin_sdk::__private::wit_bindgen_rt",
    });
}

pub use bindings::exports::vigie::probe::plugin::Guest;
pub use bindings::vigie::probe::types as wit;

/// The `wit-bindgen` runtime, re-exported so plugins need not depend on it.
pub use wit_bindgen::rt as wit_bindgen_rt;

use crate::types::*;
use bindings::vigie::probe::host as imports;

/// `describe` of a probe, converted for the component boundary.
pub fn describe<P: crate::Probe>() -> wit::Description {
    let d = P::describe();
    wit::Description {
        name: d.name,
        version: d.version,
        vendors: d.vendors,
        models: d.models,
        kinds: d.kinds.into_iter().map(kind_out).collect(),
        params: d
            .params
            .into_iter()
            .map(|p| wit::ParamSpec {
                name: p.name,
                description: p.description,
                required: p.required,
                default_value: p.default,
            })
            .collect(),
    }
}

/// `collect` of a probe with the imported host, converted for the component boundary.
pub fn collect<P: crate::Probe>(target: wit::Target) -> Result<wit::Report, wit::ProbeError> {
    let target = Target {
        equipment_id: target.equipment_id,
        address: target.address,
        kind: kind_in(target.kind),
        params: target.params,
        username: target.username,
    };
    match P::collect(&target, &WasmHost) {
        Ok(r) => Ok(report_out(r)),
        Err(e) => Err(match e {
            ProbeError::Unreachable(m) => wit::ProbeError::Unreachable(m),
            ProbeError::AuthFailed(m) => wit::ProbeError::AuthFailed(m),
            ProbeError::Unsupported(m) => wit::ProbeError::Unsupported(m),
            ProbeError::BadResponse(m) => wit::ProbeError::BadResponse(m),
        }),
    }
}

fn kind_out(k: EquipmentKind) -> wit::EquipmentKind {
    match k {
        EquipmentKind::Camera => wit::EquipmentKind::Camera,
        EquipmentKind::Nvr => wit::EquipmentKind::Nvr,
        EquipmentKind::VmsServer => wit::EquipmentKind::VmsServer,
        EquipmentKind::Encoder => wit::EquipmentKind::Encoder,
        EquipmentKind::Switch => wit::EquipmentKind::Switch,
        EquipmentKind::Router => wit::EquipmentKind::Router,
        EquipmentKind::Other => wit::EquipmentKind::Other,
    }
}

fn kind_in(k: wit::EquipmentKind) -> EquipmentKind {
    match k {
        wit::EquipmentKind::Camera => EquipmentKind::Camera,
        wit::EquipmentKind::Nvr => EquipmentKind::Nvr,
        wit::EquipmentKind::VmsServer => EquipmentKind::VmsServer,
        wit::EquipmentKind::Encoder => EquipmentKind::Encoder,
        wit::EquipmentKind::Switch => EquipmentKind::Switch,
        wit::EquipmentKind::Router => EquipmentKind::Router,
        wit::EquipmentKind::Other => EquipmentKind::Other,
    }
}

fn report_out(r: Report) -> wit::Report {
    wit::Report {
        status: match r.status {
            Status::Up => wit::Status::Up,
            Status::Down => wit::Status::Down,
            Status::Unknown => wit::Status::Unknown,
        },
        detail: r.detail,
        metrics: r
            .metrics
            .into_iter()
            .map(|m| wit::Metric {
                name: m.name,
                value: m.value,
                attributes: m.attributes,
            })
            .collect(),
        children: r
            .children
            .into_iter()
            .map(|c| wit::ChildStatus {
                channel: c.channel,
                name: c.name,
                state: match c.state {
                    ChannelState::Online => wit::ChannelState::Online,
                    ChannelState::Offline => wit::ChannelState::Offline,
                    ChannelState::Unknown => wit::ChannelState::Unknown,
                },
                detail: c.detail,
            })
            .collect(),
        facts: wit::Facts {
            model: r.facts.model,
            serial: r.facts.serial,
            firmware: r.facts.firmware,
            boot_id: r.facts.boot_id,
            clock_offset_ms: r.facts.clock_offset_ms,
            extra: r.facts.extra,
        },
    }
}

fn host_error(e: wit::HostError) -> HostError {
    match e {
        wit::HostError::Unreachable(m) => HostError::Unreachable(m),
        wit::HostError::Timeout(m) => HostError::Timeout(m),
        wit::HostError::Forbidden(m) => HostError::Forbidden(m),
        wit::HostError::AuthFailed(m) => HostError::AuthFailed(m),
        wit::HostError::BadResponse(m) => HostError::BadResponse(m),
    }
}

fn varbinds(v: Vec<wit::Varbind>) -> Vec<Varbind> {
    v.into_iter()
        .map(|b| Varbind {
            oid: b.oid,
            value: match b.value {
                wit::SnmpValue::Integer(i) => SnmpValue::Integer(i),
                wit::SnmpValue::Unsigned(u) => SnmpValue::Unsigned(u),
                wit::SnmpValue::Ticks(t) => SnmpValue::Ticks(t),
                wit::SnmpValue::Octets(o) => SnmpValue::Octets(o),
                wit::SnmpValue::Oid(o) => SnmpValue::Oid(o),
                wit::SnmpValue::Missing => SnmpValue::Missing,
            },
        })
        .collect()
}

fn username_token(t: wit::UsernameToken) -> UsernameToken {
    UsernameToken {
        username: t.username,
        password_digest: t.password_digest,
        nonce: t.nonce,
        created: t.created,
    }
}

/// The host as the component imports it.
struct WasmHost;

impl crate::Host for WasmHost {
    fn http(&self, request: &HttpRequest) -> Result<HttpResponse, HostError> {
        let r = imports::http(&wit::HttpRequest {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        })
        .map_err(host_error)?;
        Ok(HttpResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
    }

    fn tcp_probe(&self, port: u16, send: &[u8], read_max: u32) -> Result<Vec<u8>, HostError> {
        imports::tcp_probe(port, send, read_max).map_err(host_error)
    }

    fn snmp_get(&self, oids: &[&str]) -> Result<Vec<Varbind>, HostError> {
        let oids: Vec<String> = oids.iter().map(|o| o.to_string()).collect();
        imports::snmp_get(&oids).map(varbinds).map_err(host_error)
    }

    fn snmp_walk(&self, oid: &str) -> Result<Vec<Varbind>, HostError> {
        imports::snmp_walk(oid).map(varbinds).map_err(host_error)
    }

    fn now_ms(&self) -> i64 {
        imports::now_ms()
    }

    fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => wit::LogLevel::Debug,
            LogLevel::Info => wit::LogLevel::Info,
            LogLevel::Warn => wit::LogLevel::Warn,
            LogLevel::Error => wit::LogLevel::Error,
        };
        imports::log(level, message);
    }

    fn ws_username_token(&self) -> Result<UsernameToken, HostError> {
        imports::ws_username_token()
            .map(username_token)
            .map_err(host_error)
    }

    fn ws_username_token_at(&self, created_ms: i64) -> Result<UsernameToken, HostError> {
        imports::ws_username_token_at(created_ms)
            .map(username_token)
            .map_err(host_error)
    }
}
