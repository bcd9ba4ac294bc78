//! The Hikvision probe against the fixtures of a healthy NVR, a degraded NVR (failed disk,
//! offline channel, `std-cgi.com` namespace), a camera, and broken answers.

use vigie_plugin_hikvision::{CHANNEL_STATUS, CHANNELS, DEVICE_INFO, Hikvision, STATUS, STORAGE};
use vigie_plugin_sdk::testing::FakeDevice;
use vigie_plugin_sdk::{
    ChannelState, EquipmentKind, HostError, HttpResponse, LogLevel, ProbeError, Report, Status,
    Target,
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

/// A device serving the five documents of one fixture directory.
macro_rules! device {
    ($dir:literal) => {
        FakeDevice::new()
            .fixture(
                DEVICE_INFO,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/deviceInfo.xml")
                ),
            )
            .fixture(
                STATUS,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/status.xml")
                ),
            )
            .fixture(
                STORAGE,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/storage.xml")
                ),
            )
            .fixture(
                CHANNEL_STATUS,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/channels-status.xml")
                ),
            )
            .fixture(
                CHANNELS,
                format!(
                    "{}{}",
                    manifest_dir(),
                    concat!("/fixtures/", $dir, "/channels.xml")
                ),
            )
    };
}

/// Midnight, 2026-01-01 UTC: the fake device's clock.
const NOW_MS: i64 = 1_767_225_600_000;
const MIB: f64 = 1024.0 * 1024.0;

fn nvr() -> Target {
    Target::new("192.0.2.10").kind(EquipmentKind::Nvr)
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

#[test]
fn a_healthy_nvr_reports_identity_system_disks_and_channels() {
    let device = device!("nvr-healthy");
    let report = device.collect::<Hikvision>(&nvr()).expect("collects");

    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.model.as_deref(), Some("DS-7608NXI-K2"));
    assert_eq!(
        report.facts.serial.as_deref(),
        Some("DS-7608NXI-K20820230415CCRRK12345678WCVU")
    );
    assert_eq!(report.facts.firmware.as_deref(), Some("V4.74.105"));
    assert_eq!(fact(&report, "firmware_build"), Some("build 231218"));
    assert_eq!(fact(&report, "device_type"), Some("NVR"));
    assert_eq!(fact(&report, "mac_address"), Some("8c:e7:48:a1:b2:c3"));
    assert_eq!(fact(&report, "failed_disks"), None);
    // Device clock 01:00:03+01:00 is 00:00:03Z: three seconds ahead.
    assert_eq!(report.facts.clock_offset_ms, Some(3_000));
    let later = device!("nvr-healthy").at(NOW_MS + 3_000);
    let in_step = later.collect::<Hikvision>(&nvr()).expect("collects");
    assert_eq!(in_step.facts.clock_offset_ms, Some(0));

    assert_eq!(report.value("device.uptime", &[]), Some(1_209_600.0));
    assert_close(report.value("system.cpu.utilization", &[]), 0.25, "cpu");
    assert_close(
        report.value("system.memory.utilization", &[]),
        612.5 / (612.5 + 1435.5),
        "memory",
    );
    assert_eq!(
        report.value("hw.temperature", &[("sensor", "1")]),
        Some(46.0)
    );

    // hdd1: 3815447 MB, 1144634 MB free; hdd2 idle (spun down) is healthy.
    let hdd1 = [("mountpoint", "hdd1")];
    assert_close(
        report.value("system.filesystem.utilization", &hdd1),
        (3_815_447.0 - 1_144_634.0) / 3_815_447.0,
        "hdd1 utilization",
    );
    assert_eq!(
        report.value("system.filesystem.usage", &hdd1),
        Some((3_815_447.0 - 1_144_634.0) * MIB)
    );
    assert_eq!(
        report.value("system.filesystem.limit", &hdd1),
        Some(3_815_447.0 * MIB)
    );
    assert_close(
        report.value("system.filesystem.utilization", &[("mountpoint", "hdd2")]),
        (3_815_447.0 - 3_434_496.0) / 3_815_447.0,
        "hdd2 utilization",
    );
    for (disk, state) in [("hdd1", "ok"), ("hdd2", "idle")] {
        assert_eq!(
            report.value(
                "hw.status",
                &[
                    ("hw.type", "physical_disk"),
                    ("disk", disk),
                    ("state", state)
                ]
            ),
            Some(1.0),
            "{disk}"
        );
    }

    let channels: Vec<(u32, Option<&str>, ChannelState)> = report
        .children
        .iter()
        .map(|c| (c.channel, c.name.as_deref(), c.state))
        .collect();
    assert_eq!(
        channels,
        [
            (1, Some("Entrée principale"), ChannelState::Online),
            (2, Some("Parking"), ChannelState::Online),
            (3, Some("Quai de chargement"), ChannelState::Online),
            (4, Some("Accueil"), ChannelState::Online),
        ]
    );
    assert!(report.children.iter().all(|c| c.detail.is_none()));

    assert_eq!(
        paths(&device),
        [DEVICE_INFO, STATUS, STORAGE, CHANNEL_STATUS, CHANNELS]
    );
    assert!(device.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn a_failed_disk_and_an_offline_channel_leave_the_recorder_up() {
    let device = device!("nvr-degraded");
    let report = device.collect::<Hikvision>(&nvr()).expect("collects");

    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.model.as_deref(), Some("DS-7716NI-Q4/16P"));
    assert_eq!(report.facts.firmware.as_deref(), Some("V4.61.025"));
    // 08:01:35+08:00 is 00:01:35Z.
    assert_eq!(report.facts.clock_offset_ms, Some(95_000));
    assert_eq!(report.value("device.uptime", &[]), Some(263_572.0));
    // Two CPUs at 40 % and 60 %.
    assert_close(report.value("system.cpu.utilization", &[]), 0.5, "cpu");
    assert_close(
        report.value("system.memory.utilization", &[]),
        1800.0 / 2048.0,
        "memory",
    );
    assert_eq!(count(&report, "hw.temperature"), 0);

    let status = |disk: &str| {
        report
            .metrics
            .iter()
            .find(|m| m.name == "hw.status" && m.attribute("disk") == Some(disk))
            .map(|m| {
                (
                    m.value,
                    m.attribute("state").unwrap_or_default().to_string(),
                )
            })
    };
    assert_eq!(status("hdd1"), Some((1.0, "ok".into())));
    assert_eq!(status("hdd2"), Some((0.0, "error".into())));
    assert_eq!(status("hdd3"), Some((1.0, "ok".into())));
    assert_eq!(status("hdd4"), None, "an empty bay is no disk");
    assert_eq!(fact(&report, "failed_disks"), Some("hdd2 (error)"));

    // hdd1 is past the 85 % warning, hdd3 past the 95 % critical level; the failed hdd2
    // reports no fill level (its 0 MB free would read as full).
    let util = |disk: &str| report.value("system.filesystem.utilization", &[("mountpoint", disk)]);
    assert_close(
        util("hdd1"),
        (5_723_166.0 - 572_316.0) / 5_723_166.0,
        "hdd1",
    );
    assert_close(
        util("hdd3"),
        (3_815_447.0 - 152_617.0) / 3_815_447.0,
        "hdd3",
    );
    assert!(util("hdd1").is_some_and(|u| u > 0.85 && u < 0.95));
    assert!(util("hdd3").is_some_and(|u| u > 0.95));
    assert_eq!(util("hdd2"), None);
    assert_eq!(count(&report, "system.filesystem.utilization"), 2);
    assert_eq!(count(&report, "system.filesystem.usage"), 2);
    assert_eq!(count(&report, "system.filesystem.limit"), 2);

    assert_eq!(report.children.len(), 6);
    let offline: Vec<_> = report
        .children
        .iter()
        .filter(|c| c.state != ChannelState::Online)
        .collect();
    assert_eq!(offline.len(), 1);
    assert_eq!(offline[0].channel, 5);
    assert_eq!(offline[0].state, ChannelState::Offline);
    assert_eq!(offline[0].name.as_deref(), Some("Portail nord"));
    assert_eq!(
        offline[0].detail.as_deref(),
        Some("NETWORK_UNREACHABLE (192.168.254.6)")
    );
}

#[test]
fn a_camera_skips_channels_and_storage_it_does_not_support() {
    let not_supported = read(fixture!("camera/notSupport.xml"));
    let device = FakeDevice::new()
        .fixture(DEVICE_INFO, fixture!("camera/deviceInfo.xml"))
        .fixture(STATUS, fixture!("camera/status.xml"))
        .respond("GET", STORAGE, 403, not_supported.clone())
        .respond("GET", CHANNEL_STATUS, 403, not_supported);
    let camera = Target::new("192.0.2.20").kind(EquipmentKind::Camera);
    let report = device.collect::<Hikvision>(&camera).expect("collects");

    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.model.as_deref(), Some("DS-2CD2143G2-I"));
    assert_eq!(report.facts.firmware.as_deref(), Some("V5.7.15"));
    assert_eq!(fact(&report, "device_name"), Some("Caméra parking"));
    // 23:59:58+00:00 is two seconds behind the daemon.
    assert_eq!(report.facts.clock_offset_ms, Some(-2_000));
    assert_eq!(report.value("device.uptime", &[]), Some(432_000.0));
    assert_close(report.value("system.cpu.utilization", &[]), 0.12, "cpu");
    assert_close(
        report.value("system.memory.utilization", &[]),
        0.25,
        "memory",
    );
    assert_eq!(count(&report, "hw.status"), 0);
    assert_eq!(count(&report, "system.filesystem.utilization"), 0);
    assert!(report.children.is_empty());
    assert_eq!(paths(&device), [DEVICE_INFO, STATUS, STORAGE]);
    assert!(
        device
            .logs()
            .iter()
            .any(|(_, m)| m.contains(STORAGE) && m.contains("notSupport")),
        "{:?}",
        device.logs()
    );

    // Kind `other`: the deviceType IPCamera is enough to skip the channels.
    let device = FakeDevice::new()
        .fixture(DEVICE_INFO, fixture!("camera/deviceInfo.xml"))
        .fixture(STATUS, fixture!("camera/status.xml"));
    device
        .collect::<Hikvision>(&Target::new("192.0.2.20"))
        .expect("collects");
    assert_eq!(paths(&device), [DEVICE_INFO, STATUS, STORAGE]);

    // Forced with `channels = true`, the ResponseStatus answer is skipped, not an error.
    let not_supported = read(fixture!("camera/notSupport.xml"));
    let device = FakeDevice::new()
        .fixture(DEVICE_INFO, fixture!("camera/deviceInfo.xml"))
        .respond("GET", CHANNEL_STATUS, 200, not_supported);
    let report = device
        .collect::<Hikvision>(&camera.with_param("channels", "true"))
        .expect("collects");
    assert!(report.children.is_empty());
    assert_eq!(
        paths(&device),
        [DEVICE_INFO, STATUS, STORAGE, CHANNEL_STATUS]
    );
}

#[test]
fn the_channels_parameter_switches_channel_reading() {
    let device = device!("nvr-healthy");
    let report = device
        .collect::<Hikvision>(&nvr().with_param("channels", "false"))
        .expect("collects");
    assert!(report.children.is_empty());
    assert_eq!(paths(&device), [DEVICE_INFO, STATUS, STORAGE]);

    let err = device!("nvr-healthy")
        .collect::<Hikvision>(&nvr().with_param("channels", "sometimes"))
        .expect_err("bad parameter");
    assert!(
        matches!(&err, ProbeError::Unsupported(m) if m.contains("channels")),
        "{err}"
    );
}

#[test]
fn channel_names_are_optional() {
    let device = FakeDevice::new()
        .fixture(DEVICE_INFO, fixture!("nvr-degraded/deviceInfo.xml"))
        .fixture(CHANNEL_STATUS, fixture!("nvr-degraded/channels-status.xml"));
    let report = device.collect::<Hikvision>(&nvr()).expect("collects");
    assert_eq!(report.children.len(), 6);
    assert!(report.children.iter().all(|c| c.name.is_none()));
    assert_eq!(report.children[4].state, ChannelState::Offline);
    assert_eq!(
        paths(&device),
        [DEVICE_INFO, STATUS, STORAGE, CHANNEL_STATUS, CHANNELS]
    );
}

#[test]
fn wrong_credentials_are_an_authentication_failure() {
    let device = FakeDevice::new().respond(
        "GET",
        DEVICE_INFO,
        401,
        read(fixture!("errors/unauthorized.xml")),
    );
    let err = device
        .collect::<Hikvision>(&nvr().username("admin"))
        .expect_err("401");
    assert_eq!(
        err,
        ProbeError::AuthFailed(format!(
            "{DEVICE_INFO}: HTTP 401, the equipment refused the credentials of user `admin` \
             (4 attempts left before the account locks)"
        ))
    );
    assert_eq!(paths(&device), [DEVICE_INFO]);

    // A 401 on a later document is just as fatal.
    let device = FakeDevice::new()
        .fixture(DEVICE_INFO, fixture!("nvr-healthy/deviceInfo.xml"))
        .fixture(STATUS, fixture!("nvr-healthy/status.xml"))
        .respond("GET", STORAGE, 401, "");
    let err = device.collect::<Hikvision>(&nvr()).expect_err("401");
    assert!(
        matches!(&err, ProbeError::AuthFailed(m) if m.starts_with(STORAGE)),
        "{err}"
    );

    // The host's own authentication failure (no credentials) converts as well.
    let device = FakeDevice::new().respond_with(
        "GET",
        DEVICE_INFO,
        Err(HostError::AuthFailed(
            "the equipment has no credentials".into(),
        )),
    );
    assert!(matches!(
        device.collect::<Hikvision>(&nvr()),
        Err(ProbeError::AuthFailed(_))
    ));
}

#[test]
fn a_forbidden_device_info_is_an_authentication_failure_unless_unsupported() {
    let device = FakeDevice::new().respond(
        "GET",
        DEVICE_INFO,
        403,
        "<ResponseStatus><statusCode>4</statusCode><statusString>Invalid Operation</statusString>\
         <subStatusCode>lowPrivilege</subStatusCode></ResponseStatus>",
    );
    let err = device.collect::<Hikvision>(&nvr()).expect_err("403");
    assert!(
        matches!(&err, ProbeError::AuthFailed(m) if m.contains("lowPrivilege")),
        "{err}"
    );

    let device = FakeDevice::new().respond(
        "GET",
        DEVICE_INFO,
        403,
        read(fixture!("camera/notSupport.xml")),
    );
    let err = device.collect::<Hikvision>(&nvr()).expect_err("403");
    assert!(
        matches!(&err, ProbeError::Unsupported(m) if m.contains("notSupport")),
        "{err}"
    );
}

#[test]
fn a_device_without_isapi_is_unsupported() {
    // Nothing answers: every path is a 404.
    let device = FakeDevice::new();
    let err = device.collect::<Hikvision>(&nvr()).expect_err("404");
    assert_eq!(
        err,
        ProbeError::Unsupported(format!("{DEVICE_INFO}: HTTP 404"))
    );
    assert_eq!(paths(&device), [DEVICE_INFO]);
}

#[test]
fn malformed_documents_are_bad_responses() {
    let device =
        FakeDevice::new().fixture(DEVICE_INFO, fixture!("errors/deviceInfo-truncated.xml"));
    let err = device.collect::<Hikvision>(&nvr()).expect_err("truncated");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.starts_with("/ISAPI/System/deviceInfo: invalid XML")),
        "{err}"
    );

    let device = FakeDevice::new()
        .fixture(DEVICE_INFO, fixture!("nvr-healthy/deviceInfo.xml"))
        .fixture(STATUS, fixture!("nvr-healthy/status.xml"))
        .fixture(STORAGE, fixture!("errors/storage-truncated.xml"));
    let err = device.collect::<Hikvision>(&nvr()).expect_err("truncated");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.starts_with("/ISAPI/ContentMgmt/Storage: invalid XML")),
        "{err}"
    );

    // Well-formed, but another document than asked.
    let device = FakeDevice::new().fixture(DEVICE_INFO, fixture!("nvr-healthy/status.xml"));
    let err = device.collect::<Hikvision>(&nvr()).expect_err("wrong root");
    assert_eq!(
        err,
        ProbeError::BadResponse(format!(
            "{DEVICE_INFO}: the root element is <DeviceStatus>, not <DeviceInfo>"
        ))
    );

    // A number that is not one.
    let status = String::from_utf8(read(fixture!("nvr-healthy/status.xml")))
        .expect("UTF-8")
        .replace("<cpuUtilization>25<", "<cpuUtilization>n/a<");
    let device = FakeDevice::new()
        .fixture(DEVICE_INFO, fixture!("nvr-healthy/deviceInfo.xml"))
        .respond("GET", STATUS, 200, status);
    let err = device
        .collect::<Hikvision>(&nvr())
        .expect_err("not a number");
    assert_eq!(
        err,
        ProbeError::BadResponse(format!("{STATUS}: <cpuUtilization> is `n/a`, not a number"))
    );

    // A server error on an optional document.
    let device = FakeDevice::new()
        .fixture(DEVICE_INFO, fixture!("nvr-healthy/deviceInfo.xml"))
        .respond("GET", STATUS, 500, "Internal Server Error");
    let err = device.collect::<Hikvision>(&nvr()).expect_err("500");
    assert_eq!(err, ProbeError::BadResponse(format!("{STATUS}: HTTP 500")));
}

#[test]
fn an_unreachable_device_is_unreachable() {
    let device = FakeDevice::new().respond_with(
        "GET",
        DEVICE_INFO,
        Err(HostError::Unreachable("connection refused".into())),
    );
    assert_eq!(
        device.collect::<Hikvision>(&nvr()),
        Err(ProbeError::Unreachable("connection refused".into()))
    );

    let device =
        FakeDevice::new().respond_with("GET", DEVICE_INFO, Err(HostError::Timeout("5 s".into())));
    assert!(matches!(
        device.collect::<Hikvision>(&nvr()),
        Err(ProbeError::Unreachable(_))
    ));
}

#[test]
fn a_slow_optional_document_is_skipped_not_fatal() {
    // The first matching route wins: the timeout comes before the fixtures.
    let device = FakeDevice::new()
        .respond_with("GET", STORAGE, Err(HostError::Timeout("10 s".into())))
        .fixture(DEVICE_INFO, fixture!("nvr-healthy/deviceInfo.xml"))
        .fixture(STATUS, fixture!("nvr-healthy/status.xml"))
        .fixture(CHANNEL_STATUS, fixture!("nvr-healthy/channels-status.xml"))
        .fixture(CHANNELS, fixture!("nvr-healthy/channels.xml"));
    let report = device.collect::<Hikvision>(&nvr()).expect("collects");
    assert_eq!(report.status, Status::Up);
    assert_eq!(count(&report, "hw.status"), 0);
    assert_eq!(report.children.len(), 4);
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
    let report = device
        .collect::<Hikvision>(&nvr().with_param("port", "8080"))
        .expect("collects");
    assert_eq!(report.children.len(), 4);
    let base = "http://192.0.2.10:8080";
    assert_eq!(
        paths(&device),
        [DEVICE_INFO, STATUS, STORAGE, CHANNEL_STATUS, CHANNELS].map(|p| format!("{base}{p}"))
    );

    let device = device!("nvr-healthy");
    device
        .collect::<Hikvision>(
            &Target::new("2001:db8::10")
                .kind(EquipmentKind::Nvr)
                .with_param("port", "81"),
        )
        .expect("collects over IPv6");
    assert_eq!(
        paths(&device)[0],
        format!("http://[2001:db8::10]:81{DEVICE_INFO}")
    );

    // HTTPS: port 443 unless set.
    let device = device!("nvr-healthy");
    device
        .collect::<Hikvision>(&nvr().with_param("scheme", "https"))
        .expect("collects over HTTPS");
    assert_eq!(
        paths(&device)[0],
        format!("https://192.0.2.10:443{DEVICE_INFO}")
    );
    let err = device!("nvr-healthy")
        .collect::<Hikvision>(&nvr().with_param("scheme", "rtsp"))
        .expect_err("bad scheme");
    assert!(
        matches!(&err, ProbeError::Unsupported(m) if m.contains("scheme")),
        "{err}"
    );

    for bad in ["http", "0", "70000"] {
        let err = device!("nvr-healthy")
            .collect::<Hikvision>(&nvr().with_param("port", bad))
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
    let d = Hikvision::describe();
    assert_eq!(
        (d.name.as_str(), d.version.as_str()),
        ("hikvision", "0.1.0")
    );
    assert_eq!(d.vendors, ["Hikvision"]);
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
fn fixtures_use_both_isapi_namespaces() {
    let healthy = String::from_utf8(read(fixture!("nvr-healthy/storage.xml"))).expect("UTF-8");
    let degraded = String::from_utf8(read(fixture!("nvr-degraded/storage.xml"))).expect("UTF-8");
    assert!(healthy.contains(r#"xmlns="http://www.hikvision.com/ver20/XMLSchema""#));
    assert!(degraded.contains(r#"xmlns="http://www.std-cgi.com/ver20/XMLSchema""#));
}

#[test]
fn an_empty_answer_is_not_mistaken_for_a_document() {
    let device = FakeDevice::new().respond_with(
        "GET",
        DEVICE_INFO,
        Ok(HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
        }),
    );
    let err = device.collect::<Hikvision>(&nvr()).expect_err("empty");
    assert!(matches!(err, ProbeError::BadResponse(_)), "{err}");
}
