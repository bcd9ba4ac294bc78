//! vigie probe plugin for Dahua recorders (NVR, XVR), IP cameras and encoders, over the Dahua
//! HTTP CGI API.
//!
//! The host answers the Digest challenge; the plugin reads, in this order (every answer is
//! `key=value` lines ending in CRLF):
//!
//! | request                                                            | needed | gives                       |
//! |--------------------------------------------------------------------|--------|-----------------------------|
//! | `/cgi-bin/magicBox.cgi?action=getSystemInfo`                       | yes    | model, serial, hardware     |
//! | `/cgi-bin/magicBox.cgi?action=getSoftwareVersion`                  | no     | firmware version and build  |
//! | `/cgi-bin/storageDevice.cgi?action=getDeviceAllInfo`               | no     | health and fill of each disk|
//! | `/cgi-bin/LogicDeviceManager.cgi?action=getCameraState&uniqueChannels[0]=-1` | no | state of every channel |
//! | `/cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle`    | no     | channel names (when channels exist) |
//! | `/cgi-bin/magicBox.cgi?action=getDeviceType`                       | no     | model, when `deviceType` is a number |
//! | `/cgi-bin/magicBox.cgi?action=getUpTime`                           | no     | uptime (`device.uptime`)    |
//! | `/cgi-bin/magicBox.cgi?action=getCPUUsage`                         | no     | CPU (`system.cpu.utilization`) |
//!
//! Some firmware (Lorex-branded recorders among others) writes a numeric device-type code in
//! `getSystemInfo`'s `deviceType` (`deviceType=31`) and the model in `updateSerial`
//! (`updateSerial=DHI-NVR4108HS-8P-4KS2`). When `deviceType` is all digits, the model is
//! `updateSerial`, or else the `type` of `getDeviceType` when that is not a number either;
//! the code itself is the `device_type_code` fact.
//!
//! `getUpTime` and `getCPUUsage` are the CGI forms of the `magicBox.getUpTime` and
//! `magicBox.getCPUUsage` RPC methods: the uptime is `info.Last` (seconds since the last
//! boot; `info.Total` counts every boot and is not read), or a plain `uptime=`, and the CPU is
//! `usage` (percent). Firmware without them is skipped quietly (a debug line).
//!
//! The channel requests are made on recorders only (parameter `channels`, `auto` by default:
//! not on equipment of kind `camera`). The API numbers channels from 0; the plugin reports
//! them from 1, as the recorder's screen shows them. Channels in state `Empty` (no camera
//! configured) are not reported.
//!
//! A request the firmware lacks (HTTP 404, 405 or 501, or an `Error` body such as
//! `Error\r\nBad Request!`) is skipped, as is an optional request that times out or that this
//! user may not make (403). `getSystemInfo` missing is [`ProbeError::Unsupported`], a 401
//! anywhere is [`ProbeError::AuthFailed`], and an answer that cannot be read (no system
//! information, a size that is not a number) is [`ProbeError::BadResponse`].
//!
//! The device's clock is not read: `global.cgi?action=getCurrentTime` gives a local time
//! without its zone, from which no offset can be computed honestly.
//!
//! A recorder that answers is `up` even with a failed disk: the failure shows in the
//! `hw.status` metric of the disk and in the `failed_disks` fact.

use std::collections::BTreeMap;
use vigie_plugin_sdk::fetch::{self, Answer};
use vigie_plugin_sdk::{
    ChannelState, Child, Description, EquipmentKind, Host, HttpResponse, LogLevel, Metric, Param,
    Probe, ProbeError, Report, Target, kv, units,
};

/// The Dahua CGI probe.
pub struct Dahua;

/// Model, serial number and hardware (required).
pub const SYSTEM_INFO: &str = "/cgi-bin/magicBox.cgi?action=getSystemInfo";
/// Firmware version.
pub const SOFTWARE_VERSION: &str = "/cgi-bin/magicBox.cgi?action=getSoftwareVersion";
/// Disks (or the SD card of a camera) and their partitions.
pub const STORAGE: &str = "/cgi-bin/storageDevice.cgi?action=getDeviceAllInfo";
/// Connection state of every channel of a recorder.
pub const CAMERA_STATE: &str =
    "/cgi-bin/LogicDeviceManager.cgi?action=getCameraState&uniqueChannels[0]=-1";
/// Names of the channels.
pub const CHANNEL_TITLE: &str = "/cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle";
/// Device type (the model, on firmware whose `getSystemInfo` gives a numeric code).
pub const DEVICE_TYPE: &str = "/cgi-bin/magicBox.cgi?action=getDeviceType";
/// Time since the last boot.
pub const UP_TIME: &str = "/cgi-bin/magicBox.cgi?action=getUpTime";
/// CPU usage, in percent.
pub const CPU_USAGE: &str = "/cgi-bin/magicBox.cgi?action=getCPUUsage";

impl Probe for Dahua {
    fn describe() -> Description {
        Description::new("dahua", "0.1.0")
            .vendor("Dahua")
            .model("NVR2xxx / NVR4xxx / NVR5xxx")
            .model("XVR5xxx / XVR7xxx")
            .model("IPC-HFW / IPC-HDW / IPC-HDBW")
            .kind(EquipmentKind::Nvr)
            .kind(EquipmentKind::Camera)
            .kind(EquipmentKind::Encoder)
            .param(Param::scheme())
            .param(Param::http_port())
            .param(Param::optional(
                "channels",
                "read the camera channels: `auto` (recorders only), `true` or `false`",
                "auto",
            ))
    }

    fn collect(target: &Target, host: &dyn Host) -> Result<Report, ProbeError> {
        let cgi = Cgi::new(target, host)?;
        let channels = channels_wanted(target)?;
        let mut report = Report::up();

        read_system_info(&cgi.required(SYSTEM_INFO)?, &mut report)?;
        if report.facts.model.is_none()
            && fact(&report, "device_type_code").is_some()
            && let Some(text) = cgi.optional(DEVICE_TYPE)?
        {
            let pairs = kv::parse(&text);
            report.facts.model = kv::get(&pairs, "type")
                .filter(|t| !t.is_empty() && !is_number(t))
                .map(String::from);
        }
        if let Some(text) = cgi.optional(SOFTWARE_VERSION)? {
            read_software_version(&text, &mut report);
        }
        if let Some(text) = cgi.optional(STORAGE)? {
            read_storage(&text, &mut report)?;
        }
        if channels && let Some(text) = cgi.optional(CAMERA_STATE)? {
            let mut children = read_camera_state(&text)?;
            if !children.is_empty()
                && let Some(text) = cgi.optional(CHANNEL_TITLE)?
            {
                name_channels(&text, &mut children);
            }
            report.children = children;
        }
        if let Some(text) = cgi.optional(UP_TIME)? {
            read_up_time(&text, host, &mut report);
        }
        if let Some(text) = cgi.optional(CPU_USAGE)? {
            read_cpu_usage(&text, host, &mut report);
        }
        Ok(report)
    }
}

vigie_plugin_sdk::register_probe!(Dahua);

/// Whether to read the channels, from the `channels` parameter and the equipment's kind.
fn channels_wanted(target: &Target) -> Result<bool, ProbeError> {
    let value = target.param("channels").unwrap_or("auto").trim();
    match value.to_ascii_lowercase().as_str() {
        "" | "auto" => Ok(target.kind != EquipmentKind::Camera),
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(ProbeError::Unsupported(format!(
            "parameter `channels`: `{value}` is not `auto`, `true` or `false`"
        ))),
    }
}

/// The base of every request: the equipment's address and port.
struct Cgi<'h> {
    host: &'h dyn Host,
    /// Empty on port 80 (requests are plain paths), else `http://ADDRESS:PORT`.
    base: String,
}

impl<'h> Cgi<'h> {
    fn new(target: &Target, host: &'h dyn Host) -> Result<Self, ProbeError> {
        Ok(Cgi {
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

/// The `Error ...` answer of a CGI that refuses a request, on one line.
fn cgi_error(body: &str) -> Option<String> {
    let body = body.trim_start_matches('\u{feff}').trim();
    body.starts_with("Error")
        .then(|| body.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Sorts a CGI answer into text, a missing request, or an error: the CGI's `Error` bodies
/// (with status 200 or 400) mean the firmware lacks the request, other statuses are read as
/// every vendor's ([`fetch::classify`]).
fn classify(path: &str, response: &HttpResponse) -> Result<Answer, ProbeError> {
    let body = String::from_utf8_lossy(&response.body);
    match response.status {
        200..=299 => match cgi_error(&body) {
            Some(e) => Ok(Answer::Absent(format!(
                "{path}: the equipment answers `{e}`"
            ))),
            None => Ok(Answer::Document(body.into_owned())),
        },
        400 => match cgi_error(&body) {
            Some(e) => Ok(Answer::Absent(format!("{path}: HTTP 400 `{e}`"))),
            None => Err(ProbeError::BadResponse(format!("{path}: HTTP 400"))),
        },
        _ => fetch::classify(path, response),
    }
}

/// Reads `getSystemInfo` into the facts.
fn read_system_info(text: &str, report: &mut Report) -> Result<(), ProbeError> {
    let pairs = kv::parse(text);
    let field = |key: &str| kv::get(&pairs, key).filter(|v| !v.is_empty());
    if field("deviceType").is_none() && field("serialNumber").is_none() {
        return Err(ProbeError::BadResponse(format!(
            "{SYSTEM_INFO}: no deviceType nor serialNumber in the answer"
        )));
    }
    report.facts.model = match field("deviceType") {
        // A numeric device-type code: the model is in `updateSerial` on this firmware.
        Some(code) if is_number(code) => {
            report.fact("device_type_code", code);
            field("updateSerial")
                .filter(|m| !is_number(m))
                .map(String::from)
        }
        model => model.map(String::from),
    };
    report.facts.serial = field("serialNumber").map(String::from);
    for (fact, key) in [
        ("hardware_version", "hardwareVersion"),
        ("processor", "processor"),
        ("update_serial", "updateSerial"),
    ] {
        if let Some(v) = field(key) {
            report.fact(fact, v);
        }
    }
    Ok(())
}

/// Whether a value is all digits (a device-type code, not a model name).
fn is_number(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// The value of an extra fact already in the report.
fn fact<'r>(report: &'r Report, name: &str) -> Option<&'r str> {
    report
        .facts
        .extra
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The number under the first of `keys` (case-insensitive) that has one.
fn number(pairs: &[(String, String)], keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|key| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    })
}

/// Reads `getUpTime` (`info.Last=1038879`, or `uptime=44201.67`) into `device.uptime`.
fn read_up_time(text: &str, host: &dyn Host, report: &mut Report) {
    match number(&kv::parse(text), &["info.Last", "uptime"]) {
        Some(seconds) => {
            report.metric(Metric::new("device.uptime", seconds));
        }
        None => host.log(
            LogLevel::Debug,
            &format!("{UP_TIME}: no uptime in the answer, skipped"),
        ),
    }
}

/// Reads `getCPUUsage` (`usage=23`, percent) into `system.cpu.utilization`.
fn read_cpu_usage(text: &str, host: &dyn Host, report: &mut Report) {
    match number(&kv::parse(text), &["usage"]) {
        Some(percent) => {
            report.metric(Metric::new(
                "system.cpu.utilization",
                units::percent(percent).clamp(0.0, 1.0),
            ));
        }
        None => host.log(
            LogLevel::Debug,
            &format!("{CPU_USAGE}: no usage in the answer, skipped"),
        ),
    }
}

/// Reads `getSoftwareVersion` (`version=4.001.0000000.6,build:2022-09-14`).
fn read_software_version(text: &str, report: &mut Report) {
    let pairs = kv::parse(text);
    if let Some(version) = kv::get(&pairs, "version").filter(|v| !v.is_empty()) {
        let (version, build) = match version.split_once(",build:") {
            Some((v, b)) => (v.trim(), Some(b.trim())),
            None => (version, None),
        };
        report.facts.firmware = Some(version.to_string());
        if let Some(build) = build.filter(|b| !b.is_empty()) {
            report.fact("firmware_build", build);
        }
    }
}

/// One storage device of `getDeviceAllInfo`, its partitions summed.
#[derive(Default)]
struct Disk {
    name: Option<String>,
    state: Option<String>,
    total: f64,
    used: f64,
    partition_error: bool,
}

/// Whether a Dahua storage `State` is a working disk.
fn state_is_healthy(state: &str) -> bool {
    matches!(
        state.to_ascii_lowercase().as_str(),
        "success" | "normal" | "running"
    )
}

/// The index in `prefix[N]rest` and the rest after `].`.
fn indexed<'k>(key: &'k str, prefix: &str) -> Option<(usize, &'k str)> {
    let (index, rest) = key.strip_prefix(prefix)?.split_once("].")?;
    Some((index.parse().ok()?, rest))
}

fn bytes(key: &str, value: &str) -> Result<f64, ProbeError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            ProbeError::BadResponse(format!("{STORAGE}: {key} is `{value}`, not a size"))
        })
}

/// Reads `getDeviceAllInfo`: per disk, `hw.status`, and the fill level of working disks.
fn read_storage(text: &str, report: &mut Report) -> Result<(), ProbeError> {
    let mut disks: BTreeMap<usize, Disk> = BTreeMap::new();
    for (key, value) in kv::parse(text) {
        let Some((index, field)) = indexed(&key, "list.info[") else {
            continue;
        };
        let disk = disks.entry(index).or_default();
        match field {
            "Name" => disk.name = Some(value),
            "State" => disk.state = Some(value),
            partition => match partition.split_once("].").map(|(_, f)| f) {
                Some("TotalBytes") => disk.total += bytes(&key, &value)?,
                Some("UsedBytes") => disk.used += bytes(&key, &value)?,
                Some("IsError") => disk.partition_error |= value.eq_ignore_ascii_case("true"),
                _ => {}
            },
        }
    }
    if disks.is_empty() && !text.trim().is_empty() {
        return Err(ProbeError::BadResponse(format!(
            "{STORAGE}: no list.info entry in the answer"
        )));
    }

    let mut failed = Vec::new();
    for (index, disk) in &disks {
        let name = disk
            .name
            .as_deref()
            .map(|n| n.strip_prefix("/dev/").unwrap_or(n))
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("hdd{}", index + 1), String::from);
        let state = disk.state.as_deref().unwrap_or("unknown");
        let healthy = !disk.partition_error && disk.state.as_deref().is_none_or(state_is_healthy);
        report.metric(
            Metric::new("hw.status", if healthy { 1.0 } else { 0.0 })
                .with("hw.type", "physical_disk")
                .with("disk", &name)
                .with("state", state),
        );
        if !healthy {
            if disk.partition_error && disk.state.as_deref().is_some_and(state_is_healthy) {
                failed.push(format!("{name} ({state}, partition error)"));
            } else {
                failed.push(format!("{name} ({state})"));
            }
            continue; // a failed disk's used bytes mean nothing
        }
        if let Some(r) = units::ratio(disk.used, disk.total) {
            for (metric, value) in [
                ("system.filesystem.utilization", r),
                ("system.filesystem.usage", disk.used.min(disk.total)),
                ("system.filesystem.limit", disk.total),
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

/// Reads `getCameraState` into channels (1-based), in channel order; `Empty` channels are
/// left out.
fn read_camera_state(text: &str) -> Result<Vec<Child>, ProbeError> {
    let mut states: BTreeMap<usize, (Option<String>, Option<String>)> = BTreeMap::new();
    for (key, value) in kv::parse(text) {
        let Some((index, field)) = indexed(&key, "states[") else {
            continue;
        };
        let entry = states.entry(index).or_default();
        match field {
            "channel" => entry.0 = Some(value),
            "connectionState" => entry.1 = Some(value),
            _ => {}
        }
    }
    if states.is_empty() && !text.trim().is_empty() {
        return Err(ProbeError::BadResponse(format!(
            "{CAMERA_STATE}: no states entry in the answer"
        )));
    }

    let mut children = Vec::new();
    for (index, (channel, connection)) in states {
        let channel = match channel {
            None => index,
            Some(c) => c.parse().map_err(|_| {
                ProbeError::BadResponse(format!(
                    "{CAMERA_STATE}: states[{index}].channel is `{c}`, not a channel number"
                ))
            })?,
        };
        let channel = u32::try_from(channel + 1).map_err(|_| {
            ProbeError::BadResponse(format!("{CAMERA_STATE}: channel {channel} is out of range"))
        })?;
        let connection = connection.unwrap_or_default();
        let state = match connection.as_str() {
            "Empty" => continue, // no camera configured on this channel
            "Connected" => ChannelState::Online,
            "Unconnect" | "Disconnected" | "Connecting" => ChannelState::Offline,
            _ => ChannelState::Unknown,
        };
        let mut child = Child::new(channel, state);
        if state != ChannelState::Online && !connection.is_empty() {
            child.detail = Some(connection);
        }
        children.push(child);
    }
    children.sort_by_key(|c| c.channel);
    Ok(children)
}

/// Names channels from `ChannelTitle` (`table.ChannelTitle[0].Name=Entrance` is channel 1).
fn name_channels(text: &str, children: &mut [Child]) {
    for (key, value) in kv::parse(text) {
        if let Some((index, "Name")) = indexed(&key, "table.ChannelTitle[")
            && !value.is_empty()
            && let Some(child) = children
                .iter_mut()
                .find(|c| usize::try_from(c.channel).ok() == Some(index + 1))
        {
            child.name = Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgi_errors_are_recognised_on_one_line() {
        assert_eq!(
            cgi_error("Error\r\nBad Request!\r\n").as_deref(),
            Some("Error Bad Request!")
        );
        assert_eq!(cgi_error("version=1.0\r\n"), None);
    }

    #[test]
    fn indexed_keys() {
        assert_eq!(
            indexed("list.info[12].State", "list.info["),
            Some((12, "State"))
        );
        assert_eq!(
            indexed("list.info[0].Detail[1].UsedBytes", "list.info["),
            Some((0, "Detail[1].UsedBytes"))
        );
        assert_eq!(indexed("list.info[x].State", "list.info["), None);
        assert_eq!(indexed("states[0].channel", "list.info["), None);
    }

    #[test]
    fn storage_states() {
        for ok in ["Success", "Normal", "Running"] {
            assert!(state_is_healthy(ok), "{ok}");
        }
        for failed in ["Error", "Failure", "Offline", "Degraded", ""] {
            assert!(!state_is_healthy(failed), "{failed}");
        }
    }

    #[test]
    fn software_version_without_build() {
        let mut report = Report::up();
        read_software_version("version=2.420.0000.0.R\r\n", &mut report);
        assert_eq!(report.facts.firmware.as_deref(), Some("2.420.0000.0.R"));
        assert!(report.facts.extra.is_empty());
    }
}
