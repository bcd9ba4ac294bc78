//! The Dahua probe against the fixtures of a healthy NVR, a degraded NVR (failed disk,
//! disconnected channels), a camera, and broken answers.

use vigie_plugin_dahua::{
    CAMERA_STATE, CHANNEL_TITLE, CPU_USAGE, DEVICE_TYPE, Dahua, SOFTWARE_VERSION, STORAGE,
    SYSTEM_INFO, UP_TIME,
};
use vigie_plugin_sdk::testing::FakeDevice;
use vigie_plugin_sdk::{
    ChannelState, EquipmentKind, HostError, LogLevel, ProbeError, Report, Status, Target,
};

/// The package's directory, as cargo gives it to the test at run time (not at build time:
/// a build reused from another checkout must read this checkout's fixtures).
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

macro_rules! fixture {
    ($name:literal) => {
        format!("{}{}", manifest_dir(), concat!("/fixtures/", $name))
    };
}

/// A device answering the five requests from one fixture directory.
macro_rules! device {
    ($dir:literal) => {
        FakeDevice::new()
            .fixture(
                SYSTEM_INFO,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/getSystemInfo.txt")
                ),
            )
            .fixture(
                SOFTWARE_VERSION,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/getSoftwareVersion.txt")
                ),
            )
            .fixture(
                STORAGE,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/getDeviceAllInfo.txt")
                ),
            )
            .fixture(
                CAMERA_STATE,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/getCameraState.txt")
                ),
            )
            .fixture(
                CHANNEL_TITLE,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/getChannelTitle.txt")
                ),
            )
    };
}

fn nvr() -> Target {
    Target::new("192.0.2.30").kind(EquipmentKind::Nvr)
}

fn read(file: impl AsRef<std::path::Path>) -> Vec<u8> {
    std::fs::read(file).expect("fixture")
}

fn paths(device: &FakeDevice) -> Vec<String> {
    device.requests().iter().map(|r| r.url.clone()).collect()
}

fn fact<'a>(report: &'a Report, name: &str) -> Option<&'a str> {
    report
        .facts
        .extra
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn assert_close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: missing"));
    assert!((got - want).abs() < 1e-9, "{what}: {got} != {want}");
}

fn count(report: &Report, name: &str) -> usize {
    report.metrics.iter().filter(|m| m.name == name).count()
}

fn disk_status(report: &Report, disk: &str) -> Option<(f64, String)> {
    report
        .metrics
        .iter()
        .find(|m| m.name == "hw.status" && m.attribute("disk") == Some(disk))
        .map(|m| {
            assert_eq!(m.attribute("hw.type"), Some("physical_disk"));
            (
                m.value,
                m.attribute("state").unwrap_or_default().to_string(),
            )
        })
}

#[test]
fn a_healthy_nvr_reports_identity_disks_and_channels() {
    let device = device!("nvr-healthy");
    let report = device.collect::<Dahua>(&nvr()).expect("collects");

    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.model.as_deref(), Some("DHI-NVR5216-16P-4KS2E"));
    assert_eq!(report.facts.serial.as_deref(), Some("7B02C3EPAZ1F4A9"));
    assert_eq!(report.facts.firmware.as_deref(), Some("4.001.0000000.6"));
    assert_eq!(fact(&report, "firmware_build"), Some("2022-09-14"));
    assert_eq!(fact(&report, "processor"), Some("Hi3536"));
    assert_eq!(fact(&report, "hardware_version"), Some("V1.0"));
    assert_eq!(fact(&report, "failed_disks"), None);
    assert_eq!(report.facts.clock_offset_ms, None);

    // Both partitions of a disk are summed.
    let sda_total = 3_998_634_639_360.0 + 1_073_741_824.0;
    let sda_used = 2_798_944_247_808.0 + 268_435_456.0;
    let sda = [("mountpoint", "sda")];
    assert_close(
        report.value("system.filesystem.utilization", &sda),
        sda_used / sda_total,
        "sda",
    );
    assert_eq!(
        report.value("system.filesystem.usage", &sda),
        Some(sda_used)
    );
    assert_eq!(
        report.value("system.filesystem.limit", &sda),
        Some(sda_total)
    );
    assert_close(
        report.value("system.filesystem.utilization", &[("mountpoint", "sdb")]),
        (1_199_590_391_808.0 + 134_217_728.0) / (3_998_634_639_360.0 + 1_073_741_824.0),
        "sdb",
    );
    assert_eq!(disk_status(&report, "sda"), Some((1.0, "Success".into())));
    assert_eq!(disk_status(&report, "sdb"), Some((1.0, "Success".into())));

    // API channels 0..3 are the operator's 1..4; the four Empty channels are left out.
    let channels: Vec<(u32, Option<&str>, ChannelState)> = report
        .children
        .iter()
        .map(|c| (c.channel, c.name.as_deref(), c.state))
        .collect();
    assert_eq!(
        channels,
        [
            (1, Some("Entrée"), ChannelState::Online),
            (2, Some("Parking visiteurs"), ChannelState::Online),
            (3, Some("Quai"), ChannelState::Online),
            (4, Some("Accueil"), ChannelState::Online),
        ]
    );

    assert_eq!(
        paths(&device),
        [
            SYSTEM_INFO,
            SOFTWARE_VERSION,
            STORAGE,
            CAMERA_STATE,
            CHANNEL_TITLE,
            UP_TIME,
            CPU_USAGE
        ]
    );
    assert!(device.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn a_failed_disk_and_disconnected_channels_leave_the_recorder_up() {
    let device = device!("nvr-degraded");
    let report = device.collect::<Dahua>(&nvr()).expect("collects");

    assert_eq!(report.status, Status::Up);
    assert_eq!(
        report.facts.model.as_deref(),
        Some("DHI-NVR4416-16P-4KS2/I")
    );
    assert_eq!(report.facts.firmware.as_deref(), Some("4.001.0000000.3"));

    assert_eq!(disk_status(&report, "sda"), Some((1.0, "Success".into())));
    assert_eq!(disk_status(&report, "sdb"), Some((0.0, "Error".into())));
    assert_eq!(disk_status(&report, "sdc"), Some((1.0, "Success".into())));
    assert_eq!(fact(&report, "failed_disks"), Some("sdb (Error)"));

    let util = |disk: &str| report.value("system.filesystem.utilization", &[("mountpoint", disk)]);
    assert_close(
        util("sda"),
        (5_398_198_640_640.0 + 1_019_215_872.0) / (5_997_998_489_600.0 + 1_073_741_824.0),
        "sda",
    );
    assert!(
        util("sda").is_some_and(|u| u > 0.85 && u < 0.95),
        "past the warning level"
    );
    assert_close(util("sdc"), 0.5, "sdc");
    assert_eq!(util("sdb"), None, "a failed disk reports no fill level");
    assert_eq!(count(&report, "system.filesystem.utilization"), 2);

    let channels: Vec<(u32, Option<&str>, ChannelState, Option<&str>)> = report
        .children
        .iter()
        .map(|c| (c.channel, c.name.as_deref(), c.state, c.detail.as_deref()))
        .collect();
    assert_eq!(
        channels,
        [
            (1, Some("Hall"), ChannelState::Online, None),
            (2, Some("Portail"), ChannelState::Offline, Some("Unconnect")),
            (3, Some("Atelier"), ChannelState::Online, None),
            (
                4,
                Some("Parking nord"),
                ChannelState::Offline,
                Some("Connecting")
            ),
            (5, Some("Bureau"), ChannelState::Online, None),
        ]
    );
}

#[test]
fn a_camera_skips_channels_and_requests_its_firmware_lacks() {
    let bad_request = read(fixture!("camera/badRequest.txt"));
    let device = FakeDevice::new()
        .fixture(SYSTEM_INFO, fixture!("camera/getSystemInfo.txt"))
        .fixture(SOFTWARE_VERSION, fixture!("camera/getSoftwareVersion.txt"))
        .respond("GET", STORAGE, 400, bad_request.clone())
        .respond("GET", CAMERA_STATE, 501, "");
    let camera = Target::new("192.0.2.31").kind(EquipmentKind::Camera);
    let report = device.collect::<Dahua>(&camera).expect("collects");

    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.model.as_deref(), Some("IPC-HFW2431S-S-S2"));
    assert_eq!(report.facts.serial.as_deref(), Some("5J0C2E1PAG7D3B8"));
    assert_eq!(report.facts.firmware.as_deref(), Some("2.800.0000000.44.R"));
    assert_eq!(fact(&report, "firmware_build"), Some("2021-11-08"));
    assert!(report.metrics.is_empty());
    assert!(report.children.is_empty());
    assert_eq!(
        paths(&device),
        [SYSTEM_INFO, SOFTWARE_VERSION, STORAGE, UP_TIME, CPU_USAGE]
    );
    assert!(
        device
            .logs()
            .iter()
            .any(|(_, m)| m.contains(STORAGE) && m.contains("Error Bad Request!")),
        "{:?}",
        device.logs()
    );

    // Forced to read channels, a 501 is skipped; so is an `Error` body with status 200.
    let report = device
        .collect::<Dahua>(&camera.clone().with_param("channels", "true"))
        .expect("collects");
    assert!(report.children.is_empty());
    let device = FakeDevice::new()
        .fixture(SYSTEM_INFO, fixture!("camera/getSystemInfo.txt"))
        .respond("GET", STORAGE, 200, bad_request.clone())
        .respond("GET", CAMERA_STATE, 200, bad_request);
    let report = device
        .collect::<Dahua>(&camera.with_param("channels", "yes"))
        .expect("collects");
    assert!(report.metrics.is_empty() && report.children.is_empty());
    assert_eq!(report.facts.firmware, None, "getSoftwareVersion was a 404");
    assert_eq!(
        paths(&device),
        [
            SYSTEM_INFO,
            SOFTWARE_VERSION,
            STORAGE,
            CAMERA_STATE,
            UP_TIME,
            CPU_USAGE
        ]
    );
}

#[test]
fn the_channels_parameter_switches_channel_reading() {
    let device = device!("nvr-healthy");
    let report = device
        .collect::<Dahua>(&nvr().with_param("channels", "off"))
        .expect("collects");
    assert!(report.children.is_empty());
    assert_eq!(
        paths(&device),
        [SYSTEM_INFO, SOFTWARE_VERSION, STORAGE, UP_TIME, CPU_USAGE]
    );

    let err = device!("nvr-healthy")
        .collect::<Dahua>(&nvr().with_param("channels", "maybe"))
        .expect_err("bad parameter");
    assert!(
        matches!(&err, ProbeError::Unsupported(m) if m.contains("channels")),
        "{err}"
    );
}

#[test]
fn wrong_credentials_are_an_authentication_failure() {
    let device =
        FakeDevice::new().respond("GET", SYSTEM_INFO, 401, "Error\r\nInvalid Authority!\r\n");
    // Whether credentials were configured, and for which user, is said.
    assert_eq!(
        device.collect::<Dahua>(&nvr().username("admin")),
        Err(ProbeError::AuthFailed(format!(
            "{SYSTEM_INFO}: HTTP 401, the equipment refused the credentials of user `admin`"
        )))
    );
    assert_eq!(paths(&device), [SYSTEM_INFO]);
    assert_eq!(
        device.collect::<Dahua>(&nvr()),
        Err(ProbeError::AuthFailed(format!(
            "{SYSTEM_INFO}: HTTP 401, no credentials are configured for this equipment (set `credentials` on it)"
        )))
    );

    let device = FakeDevice::new()
        .fixture(SYSTEM_INFO, fixture!("nvr-healthy/getSystemInfo.txt"))
        .respond("GET", SOFTWARE_VERSION, 401, "");
    let err = device.collect::<Dahua>(&nvr()).expect_err("401");
    assert!(
        matches!(&err, ProbeError::AuthFailed(m) if m.starts_with(SOFTWARE_VERSION)),
        "{err}"
    );

    let device = FakeDevice::new().respond("GET", SYSTEM_INFO, 403, "");
    assert!(matches!(
        device.collect::<Dahua>(&nvr()),
        Err(ProbeError::AuthFailed(_))
    ));
}

#[test]
fn a_forbidden_optional_request_is_skipped() {
    let device = FakeDevice::new()
        .fixture(SYSTEM_INFO, fixture!("nvr-healthy/getSystemInfo.txt"))
        .respond("GET", STORAGE, 403, "")
        .fixture(CAMERA_STATE, fixture!("nvr-healthy/getCameraState.txt"));
    let report = device.collect::<Dahua>(&nvr()).expect("collects");
    assert_eq!(count(&report, "hw.status"), 0);
    assert_eq!(report.children.len(), 4);
    assert!(
        device
            .logs()
            .iter()
            .any(|(l, m)| *l == LogLevel::Warn && m == &format!("{STORAGE}: HTTP 403, skipped")),
        "{:?}",
        device.logs()
    );
}

#[test]
fn a_device_without_the_cgi_api_is_unsupported() {
    let device = FakeDevice::new();
    assert_eq!(
        device.collect::<Dahua>(&nvr()),
        Err(ProbeError::Unsupported(format!("{SYSTEM_INFO}: HTTP 404")))
    );
    let device = FakeDevice::new().respond("GET", SYSTEM_INFO, 200, "Error\r\nBad Request!\r\n");
    assert_eq!(
        device.collect::<Dahua>(&nvr()),
        Err(ProbeError::Unsupported(format!(
            "{SYSTEM_INFO}: the equipment answers `Error Bad Request!`"
        )))
    );
}

#[test]
fn unreadable_answers_are_bad_responses() {
    let device = FakeDevice::new().fixture(SYSTEM_INFO, fixture!("errors/getSystemInfo-html.txt"));
    assert_eq!(
        device.collect::<Dahua>(&nvr()),
        Err(ProbeError::BadResponse(format!(
            "{SYSTEM_INFO}: no deviceType nor serialNumber in the answer"
        )))
    );

    let device = FakeDevice::new()
        .fixture(SYSTEM_INFO, fixture!("nvr-healthy/getSystemInfo.txt"))
        .fixture(STORAGE, fixture!("errors/getDeviceAllInfo-nan.txt"));
    assert_eq!(
        device.collect::<Dahua>(&nvr()),
        Err(ProbeError::BadResponse(format!(
            "{STORAGE}: list.info[1].Detail[0].TotalBytes is `-nan`, not a size"
        )))
    );

    let device = FakeDevice::new()
        .fixture(SYSTEM_INFO, fixture!("nvr-healthy/getSystemInfo.txt"))
        .respond(
            "GET",
            CAMERA_STATE,
            200,
            "states[0].channel=zero\r\nstates[0].connectionState=Connected\r\n",
        );
    let err = device.collect::<Dahua>(&nvr()).expect_err("bad channel");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.contains("zero")),
        "{err}"
    );

    let device = FakeDevice::new()
        .fixture(SYSTEM_INFO, fixture!("nvr-healthy/getSystemInfo.txt"))
        .fixture(STORAGE, fixture!("errors/getSystemInfo-html.txt"));
    let err = device.collect::<Dahua>(&nvr()).expect_err("html storage");
    assert_eq!(
        err,
        ProbeError::BadResponse(format!("{STORAGE}: no list.info entry in the answer"))
    );

    let device = FakeDevice::new()
        .fixture(SYSTEM_INFO, fixture!("nvr-healthy/getSystemInfo.txt"))
        .respond("GET", STORAGE, 500, "");
    assert_eq!(
        device.collect::<Dahua>(&nvr()),
        Err(ProbeError::BadResponse(format!("{STORAGE}: HTTP 500")))
    );
}

#[test]
fn an_unreachable_device_is_unreachable() {
    let device = FakeDevice::new().respond_with(
        "GET",
        SYSTEM_INFO,
        Err(HostError::Unreachable("no route to host".into())),
    );
    assert_eq!(
        device.collect::<Dahua>(&nvr()),
        Err(ProbeError::Unreachable("no route to host".into()))
    );
}

#[test]
fn a_slow_optional_request_is_skipped_not_fatal() {
    let device = FakeDevice::new()
        .respond_with("GET", STORAGE, Err(HostError::Timeout("10 s".into())))
        .fixture(SYSTEM_INFO, fixture!("nvr-healthy/getSystemInfo.txt"))
        .fixture(CAMERA_STATE, fixture!("nvr-healthy/getCameraState.txt"));
    let report = device.collect::<Dahua>(&nvr()).expect("collects");
    assert_eq!(count(&report, "hw.status"), 0);
    assert_eq!(report.children.len(), 4);
    assert!(
        report.children.iter().all(|c| c.name.is_none()),
        "titles were a 404"
    );
    assert!(
        device
            .logs()
            .iter()
            .any(|(l, m)| *l == LogLevel::Warn && m.starts_with(STORAGE)),
        "{:?}",
        device.logs()
    );
}

#[test]
fn a_non_default_port_builds_absolute_urls() {
    let device = device!("nvr-healthy");
    let target = Target::new("192.0.2.30")
        .kind(EquipmentKind::Nvr)
        .with_param("port", "8081");
    let report = device.collect::<Dahua>(&target).expect("collects");
    assert_eq!(report.children.len(), 4);
    assert_eq!(
        paths(&device),
        [
            SYSTEM_INFO,
            SOFTWARE_VERSION,
            STORAGE,
            CAMERA_STATE,
            CHANNEL_TITLE,
            UP_TIME,
            CPU_USAGE
        ]
        .map(|p| format!("http://192.0.2.30:8081{p}"))
    );

    // HTTPS on a port of its own.
    let device = device!("nvr-healthy");
    device
        .collect::<Dahua>(&target.with_param("scheme", "https"))
        .expect("collects over HTTPS");
    assert_eq!(
        paths(&device)[0],
        format!("https://192.0.2.30:8081{SYSTEM_INFO}")
    );

    for bad in ["http", "-1", "65536"] {
        let err = device!("nvr-healthy")
            .collect::<Dahua>(&nvr().with_param("port", bad))
            .expect_err("bad port");
        assert!(
            matches!(&err, ProbeError::Unsupported(m) if m.contains("port")),
            "{err}"
        );
    }
}

#[test]
fn the_description_names_the_plugin_and_its_parameters() {
    use vigie_plugin_sdk::Probe;
    let d = Dahua::describe();
    assert_eq!((d.name.as_str(), d.version.as_str()), ("dahua", "0.1.0"));
    assert_eq!(d.vendors, ["Dahua"]);
    assert_eq!(
        d.kinds,
        [
            EquipmentKind::Nvr,
            EquipmentKind::Camera,
            EquipmentKind::Encoder
        ]
    );
    let params: Vec<(&str, Option<&str>, bool)> = d
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.default.as_deref(), p.required))
        .collect();
    assert_eq!(
        params,
        [
            ("scheme", Some("http"), false),
            ("port", None, false),
            ("channels", Some("auto"), false)
        ]
    );
}

#[test]
fn fixtures_keep_the_devices_crlf_line_ends() {
    for file in [
        fixture!("nvr-healthy/getSystemInfo.txt"),
        fixture!("nvr-healthy/getDeviceAllInfo.txt"),
        fixture!("nvr-degraded/getCameraState.txt"),
    ] {
        let text = String::from_utf8(read(&file)).expect("UTF-8");
        assert!(
            text.lines().count() > 1
                && text
                    .split('\n')
                    .filter(|l| !l.is_empty())
                    .all(|l| l.ends_with('\r')),
            "{file}"
        );
    }
}

#[test]
fn uptime_and_cpu_where_the_firmware_has_them() {
    let device = device!("nvr-healthy")
        .fixture(UP_TIME, fixture!("nvr-healthy/getUpTime.txt"))
        .fixture(CPU_USAGE, fixture!("nvr-healthy/getCPUUsage.txt"));
    let report = device.collect::<Dahua>(&nvr()).expect("collects");
    // `info.Last`, not the cumulative `info.Total`.
    assert_eq!(report.value("device.uptime", &[]), Some(1_038_879.0));
    assert_close(report.value("system.cpu.utilization", &[]), 0.23, "cpu");

    // The plain `uptime=` some firmware writes.
    let report = device!("nvr-healthy")
        .respond("GET", UP_TIME, 200, "uptime=44201.67\r\n")
        .collect::<Dahua>(&nvr())
        .expect("collects");
    assert_eq!(report.value("device.uptime", &[]), Some(44_201.67));
}

#[test]
fn uptime_and_cpu_are_skipped_quietly_when_unsupported() {
    // 404 (the healthy fixtures have neither), an `Error` body, or an unreadable answer.
    for (up, cpu) in [
        ((404, ""), (404, "")),
        (
            (400, "Error\r\nBad Request!\r\n"),
            (200, "Error\r\nBad Request!\r\n"),
        ),
        ((200, "info.Total=1312244\r\n"), (200, "usage=busy\r\n")),
    ] {
        let device = device!("nvr-healthy")
            .respond("GET", UP_TIME, up.0, up.1)
            .respond("GET", CPU_USAGE, cpu.0, cpu.1);
        let report = device.collect::<Dahua>(&nvr()).expect("collects");
        assert_eq!(report.status, Status::Up);
        assert_eq!(report.value("device.uptime", &[]), None, "{up:?}");
        assert_eq!(report.value("system.cpu.utilization", &[]), None, "{cpu:?}");
        assert!(
            device
                .logs()
                .iter()
                .all(|(level, _)| *level == LogLevel::Debug),
            "{:?}",
            device.logs()
        );
    }
}

#[test]
fn a_numeric_device_type_reads_the_model_where_the_firmware_keeps_it() {
    // `deviceType=31`: the model is `updateSerial`, and getDeviceType is not asked.
    let device =
        FakeDevice::new().fixture(SYSTEM_INFO, fixture!("nvr-degraded/getSystemInfo-code.txt"));
    let report = device.collect::<Dahua>(&nvr()).expect("collects");
    assert_eq!(report.facts.model.as_deref(), Some("DHI-NVR4108HS-8P-4KS2"));
    assert_eq!(fact(&report, "device_type_code"), Some("31"));
    assert_eq!(report.facts.serial.as_deref(), Some("ND0219110AB12CD"));
    assert!(!paths(&device).iter().any(|p| p == DEVICE_TYPE));

    // Without `updateSerial`: getDeviceType's `type`.
    let code_only = "deviceType=31\r\nserialNumber=ND0219110AB12CD\r\n";
    let device = FakeDevice::new()
        .respond("GET", SYSTEM_INFO, 200, code_only)
        .respond("GET", DEVICE_TYPE, 200, "type=DHI-NVR4104HS-P-4KS2\r\n");
    let report = device.collect::<Dahua>(&nvr()).expect("collects");
    assert_eq!(report.facts.model.as_deref(), Some("DHI-NVR4104HS-P-4KS2"));
    assert_eq!(paths(&device)[1], DEVICE_TYPE);

    // A number there too, or no getDeviceType: no model rather than a code.
    for device in [
        FakeDevice::new()
            .respond("GET", SYSTEM_INFO, 200, code_only)
            .respond("GET", DEVICE_TYPE, 200, "type=31\r\n"),
        FakeDevice::new().respond("GET", SYSTEM_INFO, 200, code_only),
    ] {
        let report = device.collect::<Dahua>(&nvr()).expect("collects");
        assert_eq!(report.facts.model, None);
        assert_eq!(fact(&report, "device_type_code"), Some("31"));
    }

    // A model name in `deviceType` is kept, and getDeviceType is not asked.
    let device = device!("nvr-healthy");
    device.collect::<Dahua>(&nvr()).expect("collects");
    assert!(!paths(&device).iter().any(|p| p == DEVICE_TYPE));
}
