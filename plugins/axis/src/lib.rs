//! vigie probe plugin for Axis cameras and encoders, over VAPIX (HTTP; the host answers the
//! Digest challenges).
//!
//! One collection asks, in this order:
//!
//! 1. `POST /axis-cgi/systemready.cgi` (anonymous, AXIS OS 9.50+): readiness, uptime, boot id.
//!    `systemready: no` or `needsetup: yes` ends the collection with a down report.
//! 2. `POST /axis-cgi/basicdeviceinfo.cgi` `getAllProperties` (AXIS OS 8.40+): model, serial,
//!    firmware. On a 404 or a JSON error, `GET /axis-cgi/param.cgi?action=list&group=...`.
//! 3. `GET /axis-cgi/temperaturecontrol.cgi?action=statusall`: sensors, heaters and fans.
//! 4. `GET /axis-cgi/disks/list.cgi?diskid=all`: SD cards and network shares.
//!
//! Steps 3 and 4 are best effort: a model without the API (404, 400, 500) or with an unreadable
//! answer is skipped (the latter with a warning in the log). A 401 anywhere means the host's
//! credentials were refused: the collection fails with `AuthFailed`.

use vigie_plugin_sdk::fetch::{self, Answer};
use vigie_plugin_sdk::json::{self, Value};
use vigie_plugin_sdk::{
    Description, EquipmentKind, Host, HttpRequest, HttpResponse, LogLevel, Metric, Param, Probe,
    ProbeError, Report, Status, Target, kv, units, xml,
};

/// The Axis VAPIX probe.
pub struct Axis;

const SYSTEMREADY: &str = "/axis-cgi/systemready.cgi";
const SYSTEMREADY_BODY: &str =
    r#"{"apiVersion":"1.2","method":"systemready","params":{"timeout":10}}"#;
const BASICDEVICEINFO: &str = "/axis-cgi/basicdeviceinfo.cgi";
const BASICDEVICEINFO_BODY: &str = r#"{"apiVersion":"1.0","method":"getAllProperties"}"#;
const PARAMS: &str = "/axis-cgi/param.cgi?action=list&group=root.Brand,root.Properties.System.SerialNumber,root.Properties.Firmware.Version";
const TEMPERATURE: &str = "/axis-cgi/temperaturecontrol.cgi?action=statusall";
const DISKS: &str = "/axis-cgi/disks/list.cgi?diskid=all";

impl Probe for Axis {
    fn describe() -> Description {
        Description::new("axis", "0.1.0")
            .vendor("Axis")
            .model("AXIS network cameras (AXIS OS 5.50 and later)")
            .model("AXIS video encoders")
            .kind(EquipmentKind::Camera)
            .kind(EquipmentKind::Encoder)
            .param(Param::scheme())
            .param(Param::http_port())
            .param(Param::optional(
                "disks",
                "disk ids whose state is checked (hw.status): comma-separated, `all`, or `none` \
                 for a camera whose card slot is empty on purpose; usage is reported for every \
                 mounted disk",
                "SD_DISK",
            ))
    }

    fn collect(target: &Target, host: &dyn Host) -> Result<Report, ProbeError> {
        let base = Base::new(target)?;
        let mut report = Report::up();

        let ready = system_ready(host, &base)?;
        if let Some(ready) = &ready {
            if let Some(uptime) = ready.uptime {
                report.metric(Metric::new("device.uptime", uptime));
            }
            report.facts.boot_id = ready.boot_id.clone();
            if let Some(preview) = &ready.preview_mode {
                report.fact("preview_mode_s", preview);
            }
            if ready.need_setup {
                report.status = Status::Down;
                report.detail = Some(
                    "the camera needs its initial setup (no administrator account: it was reset)"
                        .into(),
                );
                return Ok(report);
            }
            if !ready.ready {
                report.status = Status::Down;
                report.detail = Some(
                    "the camera answers but is not ready (systemready: no): it is starting or \
                     upgrading"
                        .into(),
                );
                return Ok(report);
            }
        }

        let identified = identify(host, &base, &mut report)?;
        if ready.is_none() && !identified {
            return Err(ProbeError::Unsupported(
                "no VAPIX answer: systemready.cgi, basicdeviceinfo.cgi and param.cgi are missing"
                    .into(),
            ));
        }

        temperatures(host, &base, &mut report)?;
        disks(
            host,
            &base,
            &DiskWatch::new(target.param("disks")),
            &mut report,
        )?;
        Ok(report)
    }
}

vigie_plugin_sdk::register_probe!(Axis);

/// Where the VAPIX interface answers: plain paths on port 80, absolute URLs otherwise.
struct Base {
    prefix: String,
}

impl Base {
    fn new(target: &Target) -> Result<Self, ProbeError> {
        Ok(Base {
            prefix: target.http_base()?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

fn post_json(
    host: &dyn Host,
    base: &Base,
    path: &str,
    body: &str,
) -> Result<HttpResponse, ProbeError> {
    let request =
        HttpRequest::post(&base.url(path), body).header("Content-Type", "application/json");
    Ok(host.http(&request)?)
}

fn refused(what: &str, response: &HttpResponse) -> ProbeError {
    if response.status == 401 {
        ProbeError::AuthFailed(format!(
            "{what} answered HTTP 401: {}",
            response.auth_refusal()
        ))
    } else {
        ProbeError::AuthFailed(format!(
            "{what} answered HTTP {}: the credentials were refused",
            response.status
        ))
    }
}

/// What `systemready.cgi` says.
struct Ready {
    ready: bool,
    need_setup: bool,
    uptime: Option<f64>,
    boot_id: Option<String>,
    preview_mode: Option<String>,
}

/// `None` when the firmware lacks the API (before AXIS OS 9.50) or answers with an error.
fn system_ready(host: &dyn Host, base: &Base) -> Result<Option<Ready>, ProbeError> {
    let response = post_json(host, base, SYSTEMREADY, SYSTEMREADY_BODY)?;
    match response.status {
        200..=299 => {}
        401 | 403 => return Err(refused(SYSTEMREADY, &response)),
        status => {
            host.log(
                LogLevel::Debug,
                &format!("{SYSTEMREADY}: HTTP {status}, not offered"),
            );
            return Ok(None);
        }
    }
    let answer = json::parse(&response.body, SYSTEMREADY)?;
    if let Some(error) = answer.get("error") {
        host.log(LogLevel::Info, &format!("{SYSTEMREADY}: error {error}"));
        return Ok(None);
    }
    let data = answer.get("data").ok_or_else(|| {
        ProbeError::BadResponse(format!("{SYSTEMREADY}: no `data` in the answer"))
    })?;
    let field = |name: &str| json::field(data, name);
    let yes_no = |name: &str| match field(name).as_deref() {
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        None => Ok(None),
        Some(other) => Err(ProbeError::BadResponse(format!(
            "{SYSTEMREADY}: `{name}` is `{other}`, neither yes nor no"
        ))),
    };
    let ready = yes_no("systemready")?.ok_or_else(|| {
        ProbeError::BadResponse(format!("{SYSTEMREADY}: no `systemready` in the answer"))
    })?;
    Ok(Some(Ready {
        ready,
        need_setup: yes_no("needsetup")?.unwrap_or(false),
        uptime: field("uptime")
            .and_then(|u| u.parse::<f64>().ok())
            .filter(|u| u.is_finite()),
        boot_id: field("bootid"),
        preview_mode: field("previewmode"),
    }))
}

/// Fills model, serial and firmware; `false` when neither basicdeviceinfo nor param.cgi answered.
fn identify(host: &dyn Host, base: &Base, report: &mut Report) -> Result<bool, ProbeError> {
    let response = post_json(host, base, BASICDEVICEINFO, BASICDEVICEINFO_BODY)?;
    match response.status {
        200..=299 => {
            let answer = json::parse(&response.body, BASICDEVICEINFO)?;
            match answer.pointer("/data/propertyList") {
                Some(Value::Object(properties)) => {
                    let get = |name: &str| properties.get(name).and_then(json::text);
                    set_identity(
                        report,
                        Identity {
                            brand: get("Brand"),
                            short_name: get("ProdShortName"),
                            number: get("ProdNbr"),
                            full_name: get("ProdFullName"),
                            serial: get("SerialNumber"),
                            firmware: get("Version"),
                            hardware_id: get("HardwareID"),
                        },
                    );
                    return Ok(true);
                }
                _ => match answer.get("error") {
                    Some(error) => host.log(
                        LogLevel::Info,
                        &format!("{BASICDEVICEINFO}: error {error}, asking param.cgi"),
                    ),
                    None => {
                        return Err(ProbeError::BadResponse(format!(
                            "{BASICDEVICEINFO}: neither `data.propertyList` nor `error` in the answer"
                        )));
                    }
                },
            }
        }
        401 | 403 => return Err(refused(BASICDEVICEINFO, &response)),
        status => host.log(
            LogLevel::Debug,
            &format!("{BASICDEVICEINFO}: HTTP {status}, asking param.cgi"),
        ),
    }

    let response = host.get(&base.url(PARAMS))?;
    match response.status {
        200..=299 => {}
        401 | 403 => return Err(refused("/axis-cgi/param.cgi", &response)),
        _ => return Ok(false),
    }
    let pairs = kv::parse(&String::from_utf8_lossy(&response.body));
    let get = |name: &str| {
        kv::get(&pairs, name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    set_identity(
        report,
        Identity {
            brand: get("root.Brand.Brand"),
            short_name: get("root.Brand.ProdShortName"),
            number: get("root.Brand.ProdNbr"),
            full_name: get("root.Brand.ProdFullName"),
            serial: get("root.Properties.System.SerialNumber"),
            firmware: get("root.Properties.Firmware.Version"),
            hardware_id: None,
        },
    );
    Ok(true)
}

struct Identity {
    brand: Option<String>,
    short_name: Option<String>,
    number: Option<String>,
    full_name: Option<String>,
    serial: Option<String>,
    firmware: Option<String>,
    hardware_id: Option<String>,
}

fn set_identity(report: &mut Report, id: Identity) {
    report.facts.model = id.short_name.or(id.number).or(id.full_name.clone());
    report.facts.serial = id.serial;
    report.facts.firmware = id.firmware;
    for (name, value) in [
        ("vendor", id.brand),
        ("product", id.full_name),
        ("hardware_id", id.hardware_id),
    ] {
        if let Some(value) = value {
            report.fact(name, &value);
        }
    }
}

/// The body of an optional API; `None` when this model does not offer it (any status but
/// 2xx, 401 and 403), refuses it, or does not answer in time.
fn optional_get(host: &dyn Host, base: &Base, path: &str) -> Result<Option<String>, ProbeError> {
    fetch::optional(
        host,
        &base.url(path),
        path,
        |path, response| match response.status {
            200..=299 => Ok(Answer::Document(
                String::from_utf8_lossy(&response.body).into_owned(),
            )),
            401 | 403 => Err(refused(path, response)),
            status => Ok(Answer::Absent(format!("{path}: HTTP {status}"))),
        },
    )
}

/// One `Kind.Id.Field=value` group of the statusall answer, in order of appearance.
#[derive(Default)]
struct Device {
    id: String,
    name: Option<String>,
    celsius: Option<String>,
    fahrenheit: Option<String>,
    status: Option<String>,
}

fn entry<'a>(devices: &'a mut Vec<Device>, id: &str) -> &'a mut Device {
    let index = match devices.iter().position(|d| d.id == id) {
        Some(i) => i,
        None => {
            devices.push(Device {
                id: id.to_string(),
                ..Device::default()
            });
            devices.len() - 1
        }
    };
    &mut devices[index]
}

fn failed(state: &str) -> bool {
    state.to_ascii_lowercase().contains("fail")
}

fn temperatures(host: &dyn Host, base: &Base, report: &mut Report) -> Result<(), ProbeError> {
    let Some(text) = optional_get(host, base, TEMPERATURE)? else {
        return Ok(());
    };
    let (mut sensors, mut heaters, mut fans) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in kv::parse(&text) {
        let mut parts = key.splitn(3, '.');
        let (Some(kind), Some(id), Some(field)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let devices = match kind {
            "Sensor" => &mut sensors,
            "Heater" => &mut heaters,
            "Fan" => &mut fans,
            _ => continue,
        };
        let device = entry(devices, id);
        match field {
            "Name" if !value.is_empty() => device.name = Some(value),
            "Celsius" => device.celsius = Some(value),
            "Fahrenheit" => device.fahrenheit = Some(value),
            "Status" => device.status = Some(value),
            _ => {}
        }
    }
    if sensors.is_empty() && heaters.is_empty() && fans.is_empty() && !text.trim().is_empty() {
        host.log(
            LogLevel::Debug,
            &format!("{TEMPERATURE}: no sensor, heater or fan in the answer"),
        );
    }

    for sensor in &sensors {
        let number = |v: &Option<String>| {
            v.as_deref()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let celsius = number(&sensor.celsius)
            .or_else(|| number(&sensor.fahrenheit).map(units::fahrenheit_to_celsius));
        let label = sensor.name.as_deref().unwrap_or(&sensor.id);
        match celsius {
            Some(c) => {
                report.metric(Metric::new("hw.temperature", c).with("sensor", label));
            }
            None => host.log(
                LogLevel::Warn,
                &format!(
                    "{TEMPERATURE}: sensor {} has no readable temperature",
                    sensor.id
                ),
            ),
        }
    }
    for (kind, devices) in [("fan", &fans), ("heater", &heaters)] {
        for device in devices {
            let Some(state) = &device.status else {
                continue;
            };
            report.metric(
                Metric::new("hw.status", if failed(state) { 0.0 } else { 1.0 })
                    .with("hw.type", kind)
                    .with(kind, &device.id)
                    .with("state", state),
            );
        }
    }
    Ok(())
}

/// Which disks get a `hw.status` (the `disks` parameter).
enum DiskWatch {
    All,
    These(Vec<String>),
}

impl DiskWatch {
    fn new(param: Option<&str>) -> Self {
        let param = param.unwrap_or("SD_DISK").trim();
        if param.eq_ignore_ascii_case("all") {
            DiskWatch::All
        } else if param.eq_ignore_ascii_case("none") {
            DiskWatch::These(Vec::new())
        } else {
            DiskWatch::These(
                param
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        }
    }

    fn watches(&self, disk: &str) -> bool {
        match self {
            DiskWatch::All => true,
            DiskWatch::These(ids) => ids.iter().any(|d| d == disk),
        }
    }
}

fn disks(
    host: &dyn Host,
    base: &Base,
    watch: &DiskWatch,
    report: &mut Report,
) -> Result<(), ProbeError> {
    let Some(text) = optional_get(host, base, DISKS)? else {
        return Ok(());
    };
    let doc = match xml::parse(&text, DISKS) {
        Ok(doc) => doc,
        Err(e) => {
            host.log(LogLevel::Warn, &format!("{e}; disks skipped"));
            return Ok(());
        }
    };
    for disk in xml::find_all(doc.root_element(), "disk") {
        let Some(id) = disk
            .attribute("diskid")
            .map(str::trim)
            .filter(|d| !d.is_empty())
        else {
            continue;
        };
        let status = disk.attribute("status").unwrap_or("unknown").trim();
        let ok = status.eq_ignore_ascii_case("OK");
        let read_only = disk.attribute("readonly") == Some("yes");
        if watch.watches(id) {
            let state = if ok && read_only {
                format!("{status}, read-only")
            } else {
                status.to_string()
            };
            report.metric(
                Metric::new("hw.status", if ok && !read_only { 1.0 } else { 0.0 })
                    .with("hw.type", "physical_disk")
                    .with("disk", id)
                    .with("state", &state),
            );
        }
        let kb = |name: &str| {
            disk.attribute(name)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        if let (true, Some(total), Some(free)) = (ok, kb("totalsize"), kb("freesize")) {
            let used = (total - free).max(0.0);
            if let Some(ratio) = units::ratio(used, total) {
                report.metric(
                    Metric::new("system.filesystem.utilization", ratio).with("mountpoint", id),
                );
                report.metric(
                    Metric::new("system.filesystem.usage", units::kib(used)).with("mountpoint", id),
                );
                report.metric(
                    Metric::new("system.filesystem.limit", units::kib(total))
                        .with("mountpoint", id),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
