//! The Axis probe against fixtures written from the VAPIX library.

use super::*;
use vigie_plugin_sdk::HostError;
use vigie_plugin_sdk::testing::FakeDevice;

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

fn read(path: impl AsRef<std::path::Path>) -> Vec<u8> {
    std::fs::read(path).expect("the fixture is readable")
}

fn camera() -> Target {
    Target::new("192.0.2.10").kind(EquipmentKind::Camera)
}

/// An AXIS P3265-LVE on AXIS OS 11: everything answers, the SD card is 85 % full.
fn p3265() -> FakeDevice {
    FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo.json")),
        )
        .fixture(TEMPERATURE, fixture!("temperature_statusall.txt"))
        .fixture(DISKS, fixture!("disks_list.xml"))
}

/// An AXIS Q6135-LE whose fan F0 and heater H1 failed and whose SD card is gone.
fn q6135() -> FakeDevice {
    FakeDevice::new()
        .respond(
            "POST",
            SYSTEMREADY,
            200,
            read(fixture!("systemready_q6135.json")),
        )
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo_q6135.json")),
        )
        .fixture(TEMPERATURE, fixture!("temperature_fan_failure.txt"))
        .fixture(DISKS, fixture!("disks_sd_disconnected.xml"))
}

fn metric<'a>(report: &'a Report, name: &str, attributes: &[(&str, &str)]) -> &'a Metric {
    report
        .metrics
        .iter()
        .find(|m| m.name == name && attributes.iter().all(|(k, v)| m.attribute(k) == Some(v)))
        .unwrap_or_else(|| panic!("no {name} {attributes:?} in {:#?}", report.metrics))
}

fn count(report: &Report, name: &str) -> usize {
    report.metrics.iter().filter(|m| m.name == name).count()
}

fn extra<'a>(report: &'a Report, name: &str) -> Option<&'a str> {
    report
        .facts
        .extra
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn describes_itself() {
    let d = Axis::describe();
    assert_eq!((d.name.as_str(), d.version.as_str()), ("axis", "0.1.0"));
    assert_eq!(d.vendors, ["Axis"]);
    assert_eq!(d.kinds, [EquipmentKind::Camera, EquipmentKind::Encoder]);
    let params: Vec<(&str, Option<&str>)> = d
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.default.as_deref()))
        .collect();
    assert_eq!(
        params,
        [
            ("scheme", Some("http")),
            ("port", None),
            ("disks", Some("SD_DISK"))
        ]
    );
}

#[test]
fn a_healthy_camera_reports_uptime_identity_temperatures_and_its_sd_card() {
    let device = p3265();
    let report = device.collect::<Axis>(&camera()).expect("collects");

    assert_eq!(report.status, Status::Up);
    assert_eq!(report.detail, None);
    assert_eq!(report.value("device.uptime", &[]), Some(1_209_773.0));
    assert_eq!(
        report.facts.boot_id.as_deref(),
        Some("5b1f6a8e-0c3d-4f27-9a4e-7d2c81b0e6f4")
    );
    assert_eq!(report.facts.model.as_deref(), Some("AXIS P3265-LVE"));
    assert_eq!(report.facts.serial.as_deref(), Some("B8A44F3A91C2"));
    assert_eq!(report.facts.firmware.as_deref(), Some("11.11.148"));
    assert_eq!(extra(&report, "vendor"), Some("AXIS"));
    assert_eq!(
        extra(&report, "product"),
        Some("AXIS P3265-LVE Dome Camera")
    );
    assert_eq!(extra(&report, "hardware_id"), Some("92E.1"));
    assert_eq!(report.facts.clock_offset_ms, None);

    assert_eq!(
        report.value("hw.temperature", &[("sensor", "Main")]),
        Some(43.5)
    );
    assert_eq!(
        report.value("hw.temperature", &[("sensor", "CPU")]),
        Some(50.44)
    );
    assert_eq!(
        report.value("hw.temperature", &[("sensor", "Image Sensor")]),
        Some(46.67)
    );
    assert_eq!(count(&report, "hw.temperature"), 3);

    let heater = metric(
        &report,
        "hw.status",
        &[("hw.type", "heater"), ("heater", "H0")],
    );
    assert_eq!(
        (heater.value, heater.attribute("state")),
        (1.0, Some("Stopped"))
    );

    let sd = [("mountpoint", "SD_DISK")];
    let (total_kb, free_kb) = (124_866_560.0, 18_729_984.0);
    assert_eq!(
        report.value("system.filesystem.limit", &sd),
        Some(total_kb * 1024.0)
    );
    assert_eq!(
        report.value("system.filesystem.usage", &sd),
        Some((total_kb - free_kb) * 1024.0)
    );
    let utilization = report
        .value("system.filesystem.utilization", &sd)
        .expect("utilization");
    assert!((utilization - 0.85).abs() < 1e-9, "{utilization}");
    let card = metric(
        &report,
        "hw.status",
        &[("hw.type", "physical_disk"), ("disk", "SD_DISK")],
    );
    assert_eq!((card.value, card.attribute("state")), (1.0, Some("OK")));

    // The network share is not configured: no state (not watched) and no usage (not mounted).
    assert!(
        report
            .metrics
            .iter()
            .all(|m| m.attribute("disk") != Some("NetworkShare")
                && m.attribute("mountpoint") != Some("NetworkShare"))
    );
    assert_eq!(count(&report, "hw.status"), 2);
}

#[test]
fn the_requests_are_the_documented_vapix_calls() {
    let device = p3265();
    device.collect::<Axis>(&camera()).expect("collects");
    let requests = device.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.url.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/axis-cgi/systemready.cgi"),
            ("POST", "/axis-cgi/basicdeviceinfo.cgi"),
            ("GET", "/axis-cgi/temperaturecontrol.cgi?action=statusall"),
            ("GET", "/axis-cgi/disks/list.cgi?diskid=all"),
        ]
    );
    let ready: Value = json::from_slice(&requests[0].body).expect("JSON body");
    assert_eq!(ready["method"], "systemready");
    assert_eq!(ready["apiVersion"], "1.2");
    assert_eq!(ready["params"]["timeout"], 10);
    let info: Value = json::from_slice(&requests[1].body).expect("JSON body");
    assert_eq!(info["method"], "getAllProperties");
    assert_eq!(info["apiVersion"], "1.0");
    for post in &requests[..2] {
        assert!(
            post.headers
                .iter()
                .any(|(n, v)| n == "Content-Type" && v == "application/json"),
            "{post:?}"
        );
    }
    assert!(requests[2].body.is_empty() && requests[3].body.is_empty());
}

#[test]
fn a_failed_fan_a_failed_heater_and_a_disconnected_sd_card_are_reported() {
    let device = q6135();
    let report = device.collect::<Axis>(&camera()).expect("collects");

    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.model.as_deref(), Some("AXIS Q6135-LE"));
    assert_eq!(report.facts.firmware.as_deref(), Some("10.12.240"));
    assert_eq!(report.value("device.uptime", &[]), Some(86_412.0));

    let f0 = metric(&report, "hw.status", &[("hw.type", "fan"), ("fan", "F0")]);
    assert_eq!(
        (f0.value, f0.attribute("state")),
        (0.0, Some("Fan Failure"))
    );
    let f1 = metric(&report, "hw.status", &[("hw.type", "fan"), ("fan", "F1")]);
    assert_eq!(
        (f1.value, f1.attribute("state")),
        (1.0, Some("Running[100%]"))
    );
    let h1 = metric(
        &report,
        "hw.status",
        &[("hw.type", "heater"), ("heater", "H1")],
    );
    assert_eq!(
        (h1.value, h1.attribute("state")),
        (0.0, Some("Heater Failure"))
    );
    assert_eq!(report.value("hw.status", &[("heater", "H0")]), Some(1.0));

    assert_eq!(
        report.value("hw.temperature", &[("sensor", "CPU")]),
        Some(71.0)
    );
    assert_eq!(
        report.value("hw.temperature", &[("sensor", "Optics")]),
        Some(54.88)
    );
    assert_eq!(count(&report, "hw.temperature"), 4);

    let card = metric(
        &report,
        "hw.status",
        &[("hw.type", "physical_disk"), ("disk", "SD_DISK")],
    );
    assert_eq!(
        (card.value, card.attribute("state")),
        (0.0, Some("disconnected"))
    );
    assert_eq!(
        report.value(
            "system.filesystem.utilization",
            &[("mountpoint", "SD_DISK")]
        ),
        None
    );

    // The NAS still records: its usage is reported although its state is not watched.
    let nas = [("mountpoint", "NetworkShare")];
    let (total_kb, free_kb) = (3_906_469_888.0, 1_367_264_460.0);
    assert_eq!(
        report.value("system.filesystem.utilization", &nas),
        Some((total_kb - free_kb) / total_kb)
    );
    assert_eq!(
        report.value("system.filesystem.limit", &nas),
        Some(total_kb * 1024.0)
    );
    assert_eq!(report.value("hw.status", &[("disk", "NetworkShare")]), None);
}

#[test]
fn the_disks_parameter_chooses_which_disk_states_are_checked() {
    let device = p3265();
    let all = device
        .collect::<Axis>(&camera().with_param("disks", "all"))
        .expect("collects");
    let share = metric(&all, "hw.status", &[("disk", "NetworkShare")]);
    assert_eq!(
        (share.value, share.attribute("state")),
        (0.0, Some("disconnected"))
    );
    assert_eq!(all.value("hw.status", &[("disk", "SD_DISK")]), Some(1.0));

    let none = q6135()
        .collect::<Axis>(&camera().with_param("disks", "none"))
        .expect("collects");
    assert!(
        none.metrics
            .iter()
            .all(|m| m.attribute("hw.type") != Some("physical_disk"))
    );
    // Usage does not depend on the parameter.
    assert!(
        none.value("system.filesystem.usage", &[("mountpoint", "NetworkShare")])
            .is_some()
    );

    let listed = q6135()
        .collect::<Axis>(&camera().with_param("disks", " NetworkShare , SD_DISK "))
        .expect("collects");
    assert_eq!(
        listed.value("hw.status", &[("disk", "NetworkShare")]),
        Some(1.0)
    );
    assert_eq!(listed.value("hw.status", &[("disk", "SD_DISK")]), Some(0.0));
}

#[test]
fn a_read_only_card_is_a_failed_disk() {
    let xml = r#"<?xml version="1.0" ?><root><disks numberofdisks="1">
        <disk diskid="SD_DISK" name="" totalsize="31154688" freesize="1048576" locked="no" full="no"
              readonly="yes" filesystem="ext4" status="OK" group="S0"/></disks></root>"#;
    let report = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo.json")),
        )
        .respond("GET", DISKS, 200, xml)
        .collect::<Axis>(&camera())
        .expect("collects");
    let card = metric(&report, "hw.status", &[("disk", "SD_DISK")]);
    assert_eq!(
        (card.value, card.attribute("state")),
        (0.0, Some("OK, read-only"))
    );
    assert_eq!(
        report.value("system.filesystem.usage", &[("mountpoint", "SD_DISK")]),
        Some((31_154_688.0 - 1_048_576.0) * 1024.0)
    );
}

#[test]
fn another_port_makes_absolute_urls_on_the_equipment() {
    let device = p3265();
    // The fake device routes on the path, so the same answers come back.
    let report = device
        .collect::<Axis>(&camera().with_param("port", "8080"))
        .expect("collects");
    assert_eq!(report.facts.serial.as_deref(), Some("B8A44F3A91C2"));
    let urls: Vec<String> = device.requests().into_iter().map(|r| r.url).collect();
    assert_eq!(urls[0], "http://192.0.2.10:8080/axis-cgi/systemready.cgi");
    assert_eq!(
        urls[3],
        "http://192.0.2.10:8080/axis-cgi/disks/list.cgi?diskid=all"
    );

    let v6 = p3265();
    v6.collect::<Axis>(&Target::new("2001:db8::10").with_param("port", "8443"))
        .expect("collects over IPv6");
    assert_eq!(
        v6.requests()[1].url,
        "http://[2001:db8::10]:8443/axis-cgi/basicdeviceinfo.cgi"
    );

    let tls = p3265();
    tls.collect::<Axis>(&camera().with_param("scheme", "https"))
        .expect("collects over HTTPS");
    assert_eq!(
        tls.requests()[0].url,
        "https://192.0.2.10:443/axis-cgi/systemready.cgi"
    );

    let err = p3265()
        .collect::<Axis>(&camera().with_param("port", "http"))
        .expect_err("not a port");
    assert!(
        matches!(&err, ProbeError::Unsupported(m) if m.contains("port")),
        "{err}"
    );
}

#[test]
fn a_camera_that_is_not_ready_is_down_and_not_asked_further() {
    let device = FakeDevice::new()
        .respond(
            "POST",
            SYSTEMREADY,
            200,
            read(fixture!("systemready_not_ready.json")),
        )
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo.json")),
        );
    let report = device.collect::<Axis>(&camera()).expect("collects");
    assert_eq!(report.status, Status::Down);
    assert!(
        report
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("not ready")),
        "{:?}",
        report.detail
    );
    assert_eq!(report.value("device.uptime", &[]), Some(38.0));
    assert_eq!(
        report.facts.boot_id.as_deref(),
        Some("0e8d6c1f-3b2a-4c9d-9f71-a5e2b8c4d6f0")
    );
    assert_eq!(device.requests().len(), 1);
}

#[test]
fn a_reset_camera_that_needs_setup_is_down() {
    let device = FakeDevice::new()
        .respond(
            "POST",
            SYSTEMREADY,
            200,
            read(fixture!("systemready_needsetup.json")),
        )
        .respond("POST", BASICDEVICEINFO, 401, "Unauthorized");
    let report = device.collect::<Axis>(&camera()).expect("collects");
    assert_eq!(report.status, Status::Down);
    assert!(
        report
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("initial setup")),
        "{:?}",
        report.detail
    );
    assert_eq!(report.value("device.uptime", &[]), Some(412.0));
    assert_eq!(device.requests().len(), 1);
}

#[test]
fn old_firmware_falls_back_to_param_cgi() {
    // An AXIS M1054 on firmware 5.50: no systemready, no basicdeviceinfo, no storage API.
    let device = FakeDevice::new()
        .fixture(PARAMS, fixture!("param_list.txt"))
        .fixture(TEMPERATURE, fixture!("temperature_statusall.txt"));
    let report = device.collect::<Axis>(&camera()).expect("collects");
    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.model.as_deref(), Some("AXIS M1054"));
    assert_eq!(report.facts.serial.as_deref(), Some("00408CD3E1F5"));
    assert_eq!(report.facts.firmware.as_deref(), Some("5.50.5.7"));
    assert_eq!(extra(&report, "product"), Some("AXIS M1054 Network Camera"));
    assert_eq!(report.value("device.uptime", &[]), None);
    assert_eq!(report.facts.boot_id, None);
    assert_eq!(
        report.value("hw.temperature", &[("sensor", "Main")]),
        Some(43.5)
    );
    assert_eq!(count(&report, "system.filesystem.utilization"), 0);
    let paths: Vec<String> = device
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(
        paths,
        [SYSTEMREADY, BASICDEVICEINFO, PARAMS, TEMPERATURE, DISKS].map(String::from)
    );
}

#[test]
fn json_errors_from_vapix_are_not_fatal() {
    let device = FakeDevice::new()
        .respond(
            "POST",
            SYSTEMREADY,
            200,
            read(fixture!("systemready_error.json")),
        )
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo_error.json")),
        )
        .fixture(PARAMS, fixture!("param_list.txt"));
    let report = device.collect::<Axis>(&camera()).expect("collects");
    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.serial.as_deref(), Some("00408CD3E1F5"));
    assert_eq!(report.value("device.uptime", &[]), None);
}

#[test]
fn a_model_without_sensors_or_storage_reports_only_what_it_has() {
    let device = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo.json")),
        )
        .respond("GET", TEMPERATURE, 400, "Unsupported action.")
        .respond("GET", DISKS, 500, "Internal server error");
    let report = device.collect::<Axis>(&camera()).expect("collects");
    assert_eq!(report.status, Status::Up);
    let names: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["device.uptime"]);
    assert_eq!(device.requests().len(), 4);
}

#[test]
fn an_unreadable_disk_list_is_skipped_with_a_warning() {
    let device = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo.json")),
        )
        .fixture(TEMPERATURE, fixture!("temperature_statusall.txt"))
        .fixture(DISKS, fixture!("disks_truncated.xml"));
    let report = device.collect::<Axis>(&camera()).expect("collects");
    assert_eq!(
        report.value("hw.temperature", &[("sensor", "Main")]),
        Some(43.5)
    );
    assert!(
        report
            .metrics
            .iter()
            .all(|m| m.attribute("mountpoint").is_none()
                && m.attribute("hw.type") != Some("physical_disk"))
    );
    assert!(
        device
            .logs()
            .iter()
            .any(|(level, line)| *level == LogLevel::Warn && line.contains("invalid XML")),
        "{:?}",
        device.logs()
    );
}

#[test]
fn refused_credentials_are_an_authentication_failure() {
    let err = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            401,
            "<HTML><HEAD><TITLE>401 Unauthorized</TITLE></HEAD></HTML>",
        )
        .collect::<Axis>(&camera())
        .expect_err("401");
    assert!(
        matches!(&err, ProbeError::AuthFailed(m) if m.contains("basicdeviceinfo")),
        "{err}"
    );

    // Even on an optional API: a viewer account cannot read the disks.
    let err = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo.json")),
        )
        .respond("GET", DISKS, 401, "Unauthorized")
        .collect::<Axis>(&camera())
        .expect_err("401");
    assert!(
        matches!(&err, ProbeError::AuthFailed(m) if m.contains("disks")),
        "{err}"
    );

    // And on the param.cgi fallback.
    let err = FakeDevice::new()
        .respond("GET", PARAMS, 401, "Unauthorized")
        .collect::<Axis>(&camera())
        .expect_err("401");
    assert!(matches!(err, ProbeError::AuthFailed(_)), "{err}");
}

#[test]
fn garbage_from_the_core_apis_is_a_bad_response() {
    let err = FakeDevice::new()
        .respond(
            "POST",
            SYSTEMREADY,
            200,
            read(fixture!("systemready_html.html")),
        )
        .collect::<Axis>(&camera())
        .expect_err("HTML");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.starts_with("/axis-cgi/systemready.cgi: invalid JSON")),
        "{err}"
    );

    let err = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo_truncated.json")),
        )
        .collect::<Axis>(&camera())
        .expect_err("truncated");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.starts_with("/axis-cgi/basicdeviceinfo.cgi: invalid JSON")),
        "{err}"
    );

    let err = FakeDevice::new()
        .respond(
            "POST",
            SYSTEMREADY,
            200,
            r#"{"apiVersion":"1.2","data":{"systemready":"maybe"}}"#,
        )
        .collect::<Axis>(&camera())
        .expect_err("neither yes nor no");
    assert!(matches!(err, ProbeError::BadResponse(_)), "{err}");

    let err = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            r#"{"apiVersion":"1.0","data":{}}"#,
        )
        .collect::<Axis>(&camera())
        .expect_err("no propertyList");
    assert!(matches!(err, ProbeError::BadResponse(_)), "{err}");
}

#[test]
fn an_unreachable_camera_is_unreachable() {
    let err = FakeDevice::new()
        .respond_with(
            "POST",
            SYSTEMREADY,
            Err(HostError::Unreachable("connection refused".into())),
        )
        .collect::<Axis>(&camera())
        .expect_err("unreachable");
    assert_eq!(err, ProbeError::Unreachable("connection refused".into()));

    let err = FakeDevice::new()
        .respond_with("POST", SYSTEMREADY, Err(HostError::Timeout("10 s".into())))
        .collect::<Axis>(&camera())
        .expect_err("timeout");
    assert!(matches!(err, ProbeError::Unreachable(_)), "{err}");
}

#[test]
fn a_timeout_on_an_optional_api_keeps_the_rest() {
    let device = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo.json")),
        )
        .respond_with("GET", TEMPERATURE, Err(HostError::Timeout("10 s".into())))
        .fixture(DISKS, fixture!("disks_list.xml"));
    let report = device.collect::<Axis>(&camera()).expect("collects");
    assert_eq!(count(&report, "hw.temperature"), 0);
    assert!(
        report
            .value(
                "system.filesystem.utilization",
                &[("mountpoint", "SD_DISK")]
            )
            .is_some()
    );
}

#[test]
fn a_device_that_speaks_no_vapix_is_unsupported() {
    let err = FakeDevice::new()
        .collect::<Axis>(&camera())
        .expect_err("404 everywhere");
    assert!(matches!(err, ProbeError::Unsupported(_)), "{err}");
}

#[test]
fn fahrenheit_only_sensors_are_converted() {
    let device = FakeDevice::new()
        .respond("POST", SYSTEMREADY, 200, read(fixture!("systemready.json")))
        .respond(
            "POST",
            BASICDEVICEINFO,
            200,
            read(fixture!("basicdeviceinfo.json")),
        )
        .respond(
            "GET",
            TEMPERATURE,
            200,
            "Sensor.S0.Fahrenheit=212.00\nSensor.S1.Name=Board\nSensor.S1.Celsius=n/a\n",
        );
    let report = device.collect::<Axis>(&camera()).expect("collects");
    assert_eq!(
        report.value("hw.temperature", &[("sensor", "S0")]),
        Some(100.0)
    );
    assert_eq!(report.value("hw.temperature", &[("sensor", "Board")]), None);
    assert!(
        device
            .logs()
            .iter()
            .any(|(l, m)| *l == LogLevel::Warn && m.contains("S1"))
    );
}
