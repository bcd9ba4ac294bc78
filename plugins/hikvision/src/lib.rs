//! vigie probe plugin for Hikvision recorders (NVR, DVR), IP cameras and encoders, over ISAPI.
//!
//! The host answers the Digest challenge; the plugin reads, in this order:
//!
//! | request                                          | needed | gives                                   |
//! |--------------------------------------------------|--------|-----------------------------------------|
//! | `GET /ISAPI/System/deviceInfo`                   | yes    | model, serial, firmware, device type    |
//! | `GET /ISAPI/System/status`                       | no     | uptime, CPU, memory, temperatures, clock|
//! | `GET /ISAPI/ContentMgmt/Storage`                 | no     | health and fill level of every HDD      |
//! | `GET /ISAPI/ContentMgmt/InputProxy/channels/status` | no  | state of every IP camera channel        |
//! | `GET /ISAPI/ContentMgmt/InputProxy/channels`     | no     | channel names (only when channels exist)|
//!
//! The channel documents are read on recorders only (parameter `channels`, `auto` by default:
//! not on equipment of kind `camera`, nor on a device whose `deviceType` is a camera).
//!
//! An optional document the firmware lacks (HTTP 404, 405 or 501, a 403 with an ISAPI
//! `ResponseStatus` saying `notSupport`, or a `ResponseStatus` where the document should be),
//! refuses this user (any other 403), or does not answer in time is skipped and logged.
//! `deviceInfo` missing is [`ProbeError::Unsupported`] (a 403 on it that is not `notSupport`
//! is [`ProbeError::AuthFailed`]), a 401 anywhere is [`ProbeError::AuthFailed`], and a
//! document that is not what it should be (malformed XML, another root element, a number
//! that is not one, an HTTP 5xx) is [`ProbeError::BadResponse`].
//!
//! A recorder that answers is `up` even with a failed disk: the failure shows in the
//! `hw.status` metric of the disk and in the `failed_disks` fact.

use vigie_plugin_sdk::fetch::{self, Answer};
use vigie_plugin_sdk::xml::{self, Document, Node};
use vigie_plugin_sdk::{
    ChannelState, Child, Description, EquipmentKind, Host, HttpResponse, Metric, Param, Probe,
    ProbeError, Report, Target, clock, units,
};

/// The Hikvision ISAPI probe.
pub struct Hikvision;

/// Identity of the device (required).
pub const DEVICE_INFO: &str = "/ISAPI/System/deviceInfo";
/// Uptime, CPU, memory, temperatures and clock.
pub const STATUS: &str = "/ISAPI/System/status";
/// Hard disks of a recorder (or the SD card of a camera).
pub const STORAGE: &str = "/ISAPI/ContentMgmt/Storage";
/// State of every IP camera channel of a recorder.
pub const CHANNEL_STATUS: &str = "/ISAPI/ContentMgmt/InputProxy/channels/status";
/// Configuration of every IP camera channel of a recorder (their names).
pub const CHANNELS: &str = "/ISAPI/ContentMgmt/InputProxy/channels";

impl Probe for Hikvision {
    fn describe() -> Description {
        Description::new("hikvision", "0.1.0")
            .vendor("Hikvision")
            .model("DS-7600NI / DS-7600NXI")
            .model("DS-7700NI / DS-7700NXI")
            .model("DS-9600NI / DS-9600NXI")
            .model("DS-2CD / DS-2DE")
            .model("DS-6700 (encoders)")
            .kind(EquipmentKind::Nvr)
            .kind(EquipmentKind::Camera)
            .kind(EquipmentKind::Encoder)
            .param(Param::scheme())
            .param(Param::http_port())
            .param(Param::optional(
                "channels",
                "read the IP camera channels: `auto` (recorders only), `true` or `false`",
                "auto",
            ))
    }

    fn collect(target: &Target, host: &dyn Host) -> Result<Report, ProbeError> {
        let isapi = Isapi::new(target, host)?;
        let channels = channels_wanted(target)?;
        let mut report = Report::up();

        let info = isapi.required(DEVICE_INFO)?;
        let device_type = read_device_info(&info, &mut report)?;

        if let Some(text) = isapi.optional(STATUS)? {
            read_status(&text, host, &mut report)?;
        }
        if let Some(text) = isapi.optional(STORAGE)? {
            read_storage(&text, &mut report)?;
        }
        let channels = match channels {
            Channels::Auto => {
                target.kind != EquipmentKind::Camera
                    && !device_type.as_deref().is_some_and(is_camera_type)
            }
            Channels::Always => true,
            Channels::Never => false,
        };
        if channels && let Some(text) = isapi.optional(CHANNEL_STATUS)? {
            let mut children = read_channel_status(&text)?;
            if !children.is_empty()
                && let Some(text) = isapi.optional(CHANNELS)?
            {
                name_channels(&text, &mut children)?;
            }
            report.children = children;
        }
        Ok(report)
    }
}

vigie_plugin_sdk::register_probe!(Hikvision);

/// What the `channels` parameter asks.
enum Channels {
    Auto,
    Always,
    Never,
}

fn channels_wanted(target: &Target) -> Result<Channels, ProbeError> {
    let value = target.param("channels").unwrap_or("auto").trim();
    match value.to_ascii_lowercase().as_str() {
        "" | "auto" => Ok(Channels::Auto),
        "true" | "yes" | "1" | "on" => Ok(Channels::Always),
        "false" | "no" | "0" | "off" => Ok(Channels::Never),
        _ => Err(ProbeError::Unsupported(format!(
            "parameter `channels`: `{value}` is not `auto`, `true` or `false`"
        ))),
    }
}

/// Whether an ISAPI `deviceType` names a camera (`IPCamera`, `IPDome`, `IPZoom`, ...).
fn is_camera_type(device_type: &str) -> bool {
    let t = device_type.to_ascii_lowercase();
    t.contains("camera") || t.contains("dome") || t == "ipzoom"
}

/// The base of every request: the equipment's address and port.
struct Isapi<'h> {
    host: &'h dyn Host,
    /// Empty on port 80 (requests are plain paths), else `http://ADDRESS:PORT`.
    base: String,
}

impl<'h> Isapi<'h> {
    fn new(target: &Target, host: &'h dyn Host) -> Result<Self, ProbeError> {
        Ok(Isapi {
            host,
            base: target.http_base()?,
        })
    }

    /// A document the collection cannot do without.
    fn required(&self, path: &str) -> Result<String, ProbeError> {
        fetch::required(self.host, &format!("{}{path}", self.base), path, classify)
    }

    /// A document the collection can do without: `None` when the firmware lacks it, refuses
    /// it to this user, or does not answer it in time (all logged).
    fn optional(&self, path: &str) -> Result<Option<String>, ProbeError> {
        fetch::optional(self.host, &format!("{}{path}", self.base), path, classify)
    }
}

/// Sorts an ISAPI answer into a document, a missing one, or an error: a `ResponseStatus`
/// where the document should be, or a 403 saying `notSupport`, means the firmware lacks it; a
/// 401 tells how close the account is to being locked; other statuses are read as every
/// vendor's ([`fetch::classify`]).
fn classify(path: &str, response: &HttpResponse) -> Result<Answer, ProbeError> {
    let body = || String::from_utf8_lossy(&response.body);
    match response.status {
        200..=299 => match fetch::classify(path, response)? {
            Answer::Document(text) => match response_status(&text) {
                Some(refusal) => Ok(Answer::Absent(format!("{path}: {refusal}"))),
                None => Ok(Answer::Document(text)),
            },
            other => Ok(other),
        },
        401 => Err(ProbeError::AuthFailed(format!(
            "{path}: HTTP 401, {}{}",
            response.auth_refusal(),
            lockout(&body())
        ))),
        403 => match response_status(&body()) {
            Some(r) if r.contains("notSupport") => {
                Ok(Answer::Absent(format!("{path}: HTTP 403, {r}")))
            }
            Some(r) => Ok(Answer::Denied(format!("{path}: HTTP 403, {r}"))),
            None => fetch::classify(path, response),
        },
        _ => fetch::classify(path, response),
    }
}

/// The refusal an ISAPI `ResponseStatus` document states (`Invalid Operation (statusCode 4,
/// notSupport)`), or `None` when the text is not one.
fn response_status(text: &str) -> Option<String> {
    let doc = Document::parse(text).ok()?;
    let root = doc.root_element();
    if root.tag_name().name() != "ResponseStatus" {
        return None;
    }
    let code = xml::child_text(root, "statusCode").unwrap_or("?");
    let string = xml::child_text(root, "statusString").unwrap_or("refused");
    Some(match xml::child_text(root, "subStatusCode") {
        Some(sub) => format!("{string} (statusCode {code}, {sub})"),
        None => format!("{string} (statusCode {code})"),
    })
}

/// What a 401 `userCheck` body says about the account lockout, as a suffix.
fn lockout(body: &str) -> String {
    let Ok(doc) = Document::parse(body) else {
        return String::new();
    };
    let root = doc.root_element();
    if xml::child_text(root, "lockStatus") == Some("lock") {
        let unlock = xml::child_text(root, "unlockTime").unwrap_or("?");
        return format!(" (account locked for {unlock} s)");
    }
    match xml::child_text(root, "retryLoginTime") {
        Some(n) => format!(" ({n} attempts left before the account locks)"),
        None => String::new(),
    }
}

/// Parses a document whose root element must be one of `roots`.
fn parse<'i>(text: &'i str, path: &str, roots: &[&str]) -> Result<Document<'i>, ProbeError> {
    let doc = xml::parse(text, path)?;
    let root = doc.root_element().tag_name().name();
    if roots.contains(&root) {
        Ok(doc)
    } else {
        Err(ProbeError::BadResponse(format!(
            "{path}: the root element is <{root}>, not <{}>",
            roots.join("> or <")
        )))
    }
}

/// The number in `node`'s child `name`: `None` when absent or empty, an error when it is not
/// a number.
fn number(node: Node<'_, '_>, name: &str, path: &str) -> Result<Option<f64>, ProbeError> {
    match xml::child_text(node, name) {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| {
                ProbeError::BadResponse(format!("{path}: <{name}> is `{t}`, not a number"))
            }),
    }
}

/// Reads `deviceInfo` into the facts; returns the `deviceType`.
fn read_device_info(text: &str, report: &mut Report) -> Result<Option<String>, ProbeError> {
    let doc = parse(text, DEVICE_INFO, &["DeviceInfo"])?;
    let root = doc.root_element();
    let field = |name: &str| xml::child_text(root, name).filter(|v| !v.is_empty());
    report.facts.model = field("model").map(String::from);
    report.facts.serial = field("serialNumber").map(String::from);
    report.facts.firmware = field("firmwareVersion").map(String::from);
    for (fact, element) in [
        ("firmware_build", "firmwareReleasedDate"),
        ("device_name", "deviceName"),
        ("device_id", "deviceID"),
        ("device_type", "deviceType"),
        ("mac_address", "macAddress"),
    ] {
        if let Some(v) = field(element) {
            report.fact(fact, v);
        }
    }
    Ok(field("deviceType").map(String::from))
}

/// Reads `System/status`: uptime, CPU, memory, temperatures and the device clock.
fn read_status(text: &str, host: &dyn Host, report: &mut Report) -> Result<(), ProbeError> {
    let doc = parse(text, STATUS, &["DeviceStatus"])?;
    let root = doc.root_element();

    if let Some(t) = xml::child_text(root, "currentDeviceTime")
        && let Some(device_ms) = clock::rfc3339_ms(t)
    {
        report.facts.clock_offset_ms = Some(clock::offset_ms(device_ms, host));
    }
    if let Some(t) = xml::child_text(root, "deviceUpTime").filter(|t| !t.is_empty()) {
        let secs = units::parse_uptime(t).ok_or_else(|| {
            ProbeError::BadResponse(format!("{STATUS}: <deviceUpTime> is `{t}`, not seconds"))
        })?;
        report.metric(Metric::new("device.uptime", secs));
    }

    let mut cpus = Vec::new();
    for cpu in xml::find_all(root, "CPU") {
        if let Some(p) = number(cpu, "cpuUtilization", STATUS)? {
            cpus.push(p);
        }
    }
    if !cpus.is_empty() {
        let mean = cpus.iter().sum::<f64>() / cpus.len() as f64;
        report.metric(Metric::new(
            "system.cpu.utilization",
            units::percent(mean).clamp(0.0, 1.0),
        ));
    }

    // ISAPI gives memory in use and memory available (MB); the ratio needs no unit.
    if let Some(memory) = xml::find(root, "Memory")
        && let (Some(used), Some(free)) = (
            number(memory, "memoryUsage", STATUS)?,
            number(memory, "memoryAvailable", STATUS)?,
        )
        && let Some(r) = units::ratio(used, used + free)
    {
        report.metric(Metric::new("system.memory.utilization", r));
    }

    // Recorders with sensors add `TemperatureList/Temperature/temperature` (°C).
    for list in xml::find_all(root, "TemperatureList") {
        let sensors = list
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "Temperature");
        for (i, sensor) in sensors.enumerate() {
            if let Some(celsius) = number(sensor, "temperature", STATUS)? {
                let name = ["tempSensorDescription", "description", "id"]
                    .iter()
                    .find_map(|n| xml::child_text(sensor, n).filter(|v| !v.is_empty()))
                    .map_or_else(|| (i + 1).to_string(), String::from);
                report.metric(Metric::new("hw.temperature", celsius).with("sensor", &name));
            }
        }
    }
    Ok(())
}

/// Whether an ISAPI `hdd/status` is a working disk (`idle` and `sleep` are spun down).
fn disk_is_healthy(status: &str) -> bool {
    matches!(
        status.to_ascii_lowercase().as_str(),
        "ok" | "idle" | "sleep" | "sleeping"
    )
}

/// Reads `ContentMgmt/Storage`: per disk, `hw.status`, and the fill level of working disks.
fn read_storage(text: &str, report: &mut Report) -> Result<(), ProbeError> {
    let doc = parse(text, STORAGE, &["storage", "hddList"])?;
    let mut failed = Vec::new();
    for hdd in xml::find_all(doc.root_element(), "hdd") {
        let id = xml::child_text(hdd, "id").unwrap_or_default();
        let status = xml::child_text(hdd, "status").unwrap_or_default();
        if status.eq_ignore_ascii_case("notexist") {
            continue; // an empty bay
        }
        let name = xml::child_text(hdd, "hddName")
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("hdd{id}"), String::from);
        let healthy = disk_is_healthy(status);
        report.metric(
            Metric::new("hw.status", if healthy { 1.0 } else { 0.0 })
                .with("hw.type", "physical_disk")
                .with("disk", &name)
                .with("state", status),
        );
        if !healthy {
            failed.push(format!("{name} ({status})"));
            continue; // a failed disk's free space means nothing
        }
        let capacity = number(hdd, "capacity", STORAGE)?;
        let free = number(hdd, "freeSpace", STORAGE)?;
        if let (Some(capacity), Some(free)) = (capacity, free)
            && let Some(r) = units::ratio(capacity - free, capacity)
        {
            let used = (capacity - free).max(0.0);
            for (metric, value) in [
                ("system.filesystem.utilization", r),
                ("system.filesystem.usage", units::mib(used)),
                ("system.filesystem.limit", units::mib(capacity)),
            ] {
                report.metric(Metric::new(metric, value).with("mountpoint", &name));
            }
        }
    }
    if !failed.is_empty() {
        report.fact("failed_disks", &failed.join(", "));
    }
    Ok(())
}

/// Reads `InputProxy/channels/status` into channels, in channel order.
fn read_channel_status(text: &str) -> Result<Vec<Child>, ProbeError> {
    let doc = parse(
        text,
        CHANNEL_STATUS,
        &["InputProxyChannelStatusList", "InputProxyChannelStatus"],
    )?;
    let mut children = Vec::new();
    for status in xml::find_all(doc.root_element(), "InputProxyChannelStatus") {
        let id = channel_id(status, CHANNEL_STATUS)?;
        let state = match xml::child_text(status, "online") {
            Some("true") => ChannelState::Online,
            Some("false") => ChannelState::Offline,
            _ => ChannelState::Unknown,
        };
        let mut child = Child::new(id, state);
        if state != ChannelState::Online {
            let result = xml::child_text(status, "chanDetectResult").filter(|r| !r.is_empty());
            let ip = xml::text(status, "ipAddress").filter(|r| !r.is_empty());
            child.detail = match (result, ip) {
                (Some(r), Some(ip)) => Some(format!("{r} ({ip})")),
                (Some(r), None) => Some(r.to_string()),
                (None, Some(ip)) => Some(ip.to_string()),
                (None, None) => None,
            };
        }
        children.push(child);
    }
    children.sort_by_key(|c| c.channel);
    Ok(children)
}

fn channel_id(node: Node<'_, '_>, path: &str) -> Result<u32, ProbeError> {
    let id = xml::child_text(node, "id").unwrap_or_default();
    id.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ProbeError::BadResponse(format!(
            "{path}: channel <id> is `{id}`, not a channel number"
        ))
    })
}

/// Names channels from `InputProxy/channels`.
fn name_channels(text: &str, children: &mut [Child]) -> Result<(), ProbeError> {
    let doc = parse(
        text,
        CHANNELS,
        &["InputProxyChannelList", "InputProxyChannel"],
    )?;
    for channel in xml::find_all(doc.root_element(), "InputProxyChannel") {
        let id = channel_id(channel, CHANNELS)?;
        if let Some(name) = xml::child_text(channel, "name").filter(|n| !n.is_empty())
            && let Some(child) = children.iter_mut().find(|c| c.channel == id)
        {
            child.name = Some(name.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_states() {
        for ok in ["ok", "idle", "sleep", "OK"] {
            assert!(disk_is_healthy(ok), "{ok}");
        }
        for failed in ["error", "unformatted", "smartFailed", "offline", "mismatch"] {
            assert!(!disk_is_healthy(failed), "{failed}");
        }
    }

    #[test]
    fn camera_device_types() {
        for camera in ["IPCamera", "IPDome", "IPZoom"] {
            assert!(is_camera_type(camera), "{camera}");
        }
        for recorder in ["NVR", "DVR", "HybirdNVR", "DVS"] {
            assert!(!is_camera_type(recorder), "{recorder}");
        }
    }

    #[test]
    fn lockout_suffix_reads_the_user_check_body() {
        let locked = "<userCheck><statusValue>401</statusValue><lockStatus>lock</lockStatus>\
                      <unlockTime>1800</unlockTime></userCheck>";
        assert_eq!(lockout(locked), " (account locked for 1800 s)");
        assert_eq!(lockout("not xml"), "");
    }
}
