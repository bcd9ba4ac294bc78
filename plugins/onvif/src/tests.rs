//! The ONVIF probe against fixtures written from the ONVIF Core Specification and what
//! devices answer.

use super::*;
use vigie_plugin_sdk::testing::FakeDevice;
use vigie_plugin_sdk::{HttpRequest, Status};

/// The package's directory, as cargo gives it to the test at run time (not at build time:
/// a build reused from another checkout must read this checkout's fixtures).
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}

macro_rules! fixture {
    ($name:literal) => {
        std::fs::read(format!(
            "{}{}",
            manifest_dir(),
            concat!("/fixtures/", $name)
        ))
        .expect("the fixture is readable")
    };
}

const SERVICE: &str = "/onvif/device_service";
/// The FakeDevice clock: 2026-01-01T00:00:00Z.
const NOW_MS: i64 = 1_767_225_600_000;

/// The example of the ONVIF Application Programmer's Guide (password `userpassword`).
fn token() -> UsernameToken {
    UsernameToken {
        username: "admin".into(),
        password_digest: "tuOSpGlFlIXsozq4HFNeeGeFLEI=".into(),
        nonce: "LKqI6G/AikKCQrN0zqZFlg==".into(),
        created: "2010-09-16T07:50:45Z".into(),
    }
}

fn nvr() -> Target {
    Target::new("192.0.2.20").kind(EquipmentKind::Nvr)
}

/// A Hikvision NVR: both operations answer, its clock is 73 s behind the daemon's.
fn hikvision() -> FakeDevice {
    FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            fixture!("get_system_date_and_time.xml"),
        )
        .respond_to_body(
            "POST",
            SERVICE,
            GET_DEVICE_INFORMATION,
            200,
            fixture!("get_device_information.xml"),
        )
}

fn extra<'a>(report: &'a Report, name: &str) -> Option<&'a str> {
    report
        .facts
        .extra
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn body(request: &HttpRequest) -> String {
    String::from_utf8(request.body.clone()).expect("UTF-8 body")
}

#[test]
fn describes_itself() {
    let d = Onvif::describe();
    assert_eq!((d.name.as_str(), d.version.as_str()), ("onvif", "0.1.0"));
    assert_eq!(
        d.kinds,
        [
            EquipmentKind::Camera,
            EquipmentKind::Encoder,
            EquipmentKind::Nvr
        ]
    );
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
            ("path", Some("/onvif/device_service"))
        ]
    );
}

#[test]
fn a_device_with_credentials_reports_its_clock_and_identity() {
    let device = hikvision().credentials("admin", token());
    let report = device.collect::<Onvif>(&nvr()).expect("collects");

    assert_eq!(report.status, Status::Up);
    // Device UTC 2025-12-31T23:58:47Z, daemon 2026-01-01T00:00:00Z.
    assert_eq!(report.facts.clock_offset_ms, Some(-73_000));
    assert_eq!(report.facts.model.as_deref(), Some("DS-7608NXI-K2"));
    assert_eq!(
        report.facts.serial.as_deref(),
        Some("DS-7608NXI-K20820231115CCRRAB1234567WCVU")
    );
    assert_eq!(
        report.facts.firmware.as_deref(),
        Some("V4.74.105 build 231012")
    );
    assert_eq!(extra(&report, "vendor"), Some("HIKVISION"));
    assert_eq!(extra(&report, "hardware_id"), Some("88"));
    assert_eq!(extra(&report, "time_source"), Some("NTP"));
    assert_eq!(
        extra(&report, "timezone"),
        Some("CST-1:00:00DST01:00:00,M3.5.0/02:00:00,M10.5.0/03:00:00")
    );
    assert_eq!(extra(&report, "device_information"), None);
    assert!(report.metrics.is_empty());
}

#[test]
fn the_requests_are_soap_12_envelopes_and_only_the_second_is_signed() {
    let device = hikvision().credentials("admin", token());
    device.collect::<Onvif>(&nvr()).expect("collects");
    let requests = device.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!((r.method.as_str(), r.url.as_str()), ("POST", SERVICE));
        assert_eq!(
            r.headers,
            [(
                "Content-Type".to_string(),
                "application/soap+xml; charset=utf-8".to_string()
            )]
        );
    }

    let first = body(&requests[0]);
    let doc = xml::parse(&first, "request").expect("well-formed");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "Envelope");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2003/05/soap-envelope")
    );
    let op = xml::find(root, "GetSystemDateAndTime").expect("the operation");
    assert_eq!(
        op.tag_name().namespace(),
        Some("http://www.onvif.org/ver10/device/wsdl")
    );
    assert!(xml::find(root, "Security").is_none(), "{first}");
    assert!(xml::find(root, "Header").is_none(), "{first}");

    let second = body(&requests[1]);
    let doc = xml::parse(&second, "request").expect("well-formed");
    let root = doc.root_element();
    assert!(
        xml::find(root, "GetDeviceInformation").is_some(),
        "{second}"
    );
    let header = xml::find(root, "Header").expect("a SOAP header");
    let security = xml::find(header, "Security").expect("wsse:Security");
    assert_eq!(
        security.tag_name().namespace(),
        Some("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd")
    );
    let ut = xml::find(security, "UsernameToken").expect("UsernameToken");
    assert_eq!(xml::child_text(ut, "Username"), Some("admin"));
    let password = xml::find(ut, "Password").expect("Password");
    assert_eq!(password.text(), Some("tuOSpGlFlIXsozq4HFNeeGeFLEI="));
    assert!(
        password
            .attribute("Type")
            .is_some_and(|t| t.ends_with("username-token-profile-1.0#PasswordDigest")),
        "{second}"
    );
    let nonce = xml::find(ut, "Nonce").expect("Nonce");
    assert_eq!(nonce.text(), Some("LKqI6G/AikKCQrN0zqZFlg=="));
    assert!(
        nonce
            .attribute("EncodingType")
            .is_some_and(|t| t.ends_with("soap-message-security-1.0#Base64Binary")),
        "{second}"
    );
    // Created at the device's time: the daemon's clock 73 s back.
    let created = xml::find(ut, "Created").expect("Created");
    assert_eq!(created.text(), Some("2025-12-31T23:58:47Z"));
    assert_eq!(
        created.tag_name().namespace(),
        Some("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd")
    );
}

#[test]
fn the_clock_offset_follows_the_daemon_clock() {
    let report = hikvision()
        .credentials("admin", token())
        .at(NOW_MS - 73_000 + 250)
        .collect::<Onvif>(&nvr())
        .expect("collects");
    assert_eq!(report.facts.clock_offset_ms, Some(-250));

    let ahead = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            fixture!("get_system_date_and_time_manual_drift.xml"),
        )
        .collect::<Onvif>(&nvr())
        .expect("collects");
    // Device UTC 2026-01-01T02:13:05Z: 2 h 13 min 5 s ahead.
    assert_eq!(ahead.facts.clock_offset_ms, Some(7_985_000));
    assert_eq!(extra(&ahead, "time_source"), Some("Manual"));
}

#[test]
fn without_credentials_the_device_is_up_with_its_clock_only() {
    let device = hikvision();
    let report = device.collect::<Onvif>(&nvr()).expect("collects");
    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.clock_offset_ms, Some(-73_000));
    assert_eq!(report.facts.model, None);
    assert!(
        extra(&report, "device_information").is_some_and(|v| v.contains("needs credentials")),
        "{:?}",
        report.facts.extra
    );
    assert_eq!(device.requests().len(), 1);
}

#[test]
fn not_authorized_is_an_authentication_failure() {
    // At the device's own time, so no clock hint.
    let err = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            fixture!("get_system_date_and_time.xml"),
        )
        .respond_to_body(
            "POST",
            SERVICE,
            GET_DEVICE_INFORMATION,
            400,
            fixture!("fault_not_authorized.xml"),
        )
        .credentials("admin", token())
        .at(NOW_MS - 73_000)
        .collect::<Onvif>(&nvr())
        .expect_err("refused");
    match &err {
        ProbeError::AuthFailed(m) => {
            assert!(
                m.contains("NotAuthorized") && m.contains("Sender not Authorized"),
                "{m}"
            );
            assert!(!m.contains("clock"), "{m}");
        }
        other => panic!("{other}"),
    }

    let err = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            fixture!("get_system_date_and_time.xml"),
        )
        .respond_to_body("POST", SERVICE, GET_DEVICE_INFORMATION, 401, "")
        .credentials("admin", token())
        .collect::<Onvif>(&nvr())
        .expect_err("HTTP 401");
    assert!(
        matches!(&err, ProbeError::AuthFailed(m) if m.contains("HTTP 401")),
        "{err}"
    );
}

#[test]
fn a_device_ten_minutes_ahead_gets_tokens_created_at_its_own_time() {
    // The device's clock is 10 min ahead of the daemon's and, like real devices, it refuses
    // tokens created more than 5 s from its own time.
    let device = || {
        FakeDevice::new()
            .respond_to_body(
                "POST",
                SERVICE,
                GET_SYSTEM_DATE_AND_TIME,
                200,
                fixture!("get_system_date_and_time_ten_minutes_ahead.xml"),
            )
            .respond_to_body(
                "POST",
                SERVICE,
                GET_DEVICE_INFORMATION,
                200,
                fixture!("get_device_information.xml"),
            )
            .credentials("admin", token())
            .device_clock(600_000)
            .token_window(5_000, 400, fixture!("fault_not_authorized.xml"))
    };
    let ahead = device();
    let report = ahead.collect::<Onvif>(&nvr()).expect("collects");
    assert_eq!(report.facts.clock_offset_ms, Some(600_000));
    assert_eq!(report.facts.model.as_deref(), Some("DS-7608NXI-K2"));
    let signed = body(&ahead.requests()[1]);
    let doc = xml::parse(&signed, "request").expect("well-formed");
    assert_eq!(
        xml::text(doc.root_element(), "Created"),
        Some("2026-01-01T00:10:00Z")
    );

    // The same device a second later on the daemon's clock: the offset follows.
    let report = device()
        .at(NOW_MS + 1_000)
        .collect::<Onvif>(&nvr())
        .expect("collects");
    assert_eq!(report.facts.clock_offset_ms, Some(599_000));
    assert_eq!(report.facts.model.as_deref(), Some("DS-7608NXI-K2"));

    // A token at the daemon's time is what such a device refuses.
    let refused = device()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            fixture!("get_system_date_and_time_local_only.xml"),
        )
        .collect::<Onvif>(&nvr())
        .expect_err("no clock, token at the daemon's time");
    assert!(
        matches!(&refused, ProbeError::AuthFailed(m) if m.contains("NotAuthorized")),
        "{refused}"
    );
}

#[test]
fn a_device_that_wants_authentication_for_its_clock_is_asked_again_with_a_token() {
    let device = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            400,
            fixture!("fault_not_authorized.xml"),
        )
        .respond_to_body(
            "POST",
            SERVICE,
            GET_DEVICE_INFORMATION,
            200,
            fixture!("get_device_information.xml"),
        )
        // Added last, so tried first: the signed GetSystemDateAndTime.
        .respond_to_body(
            "POST",
            SERVICE,
            "</s:Header><s:Body><tds:GetSystemDateAndTime/>",
            200,
            fixture!("get_system_date_and_time.xml"),
        )
        .credentials("admin", token());
    let report = device.collect::<Onvif>(&nvr()).expect("collects");
    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.clock_offset_ms, Some(-73_000));
    assert_eq!(report.facts.model.as_deref(), Some("DS-7608NXI-K2"));
    let bodies: Vec<String> = device.requests().iter().map(body).collect();
    assert_eq!(bodies.len(), 3);
    assert!(bodies[0].contains("GetSystemDateAndTime") && !bodies[0].contains("UsernameToken"));
    assert!(bodies[1].contains("GetSystemDateAndTime") && bodies[1].contains("UsernameToken"));
    assert!(bodies[2].contains("GetDeviceInformation") && bodies[2].contains("UsernameToken"));

    // Without credentials: alive (it answered), but nothing more to learn.
    let anonymous = FakeDevice::new().respond_to_body(
        "POST",
        SERVICE,
        GET_SYSTEM_DATE_AND_TIME,
        400,
        fixture!("fault_not_authorized.xml"),
    );
    let report = anonymous.collect::<Onvif>(&nvr()).expect("collects");
    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.clock_offset_ms, None);
    assert!(extra(&report, "device_information").is_some());
    assert_eq!(anonymous.requests().len(), 1);
}

#[test]
fn another_fault_on_the_clock_is_not_fatal_but_on_the_identity_it_is() {
    let report = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            500,
            fixture!("fault_action_not_supported.xml"),
        )
        .respond_to_body(
            "POST",
            SERVICE,
            GET_DEVICE_INFORMATION,
            200,
            fixture!("get_device_information.xml"),
        )
        .credentials("admin", token())
        .collect::<Onvif>(&nvr())
        .expect("collects");
    assert_eq!(report.facts.clock_offset_ms, None);
    assert_eq!(report.facts.model.as_deref(), Some("DS-7608NXI-K2"));

    let err = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            fixture!("get_system_date_and_time.xml"),
        )
        .respond_to_body(
            "POST",
            SERVICE,
            GET_DEVICE_INFORMATION,
            500,
            fixture!("fault_action_not_supported.xml"),
        )
        .credentials("admin", token())
        .collect::<Onvif>(&nvr())
        .expect_err("fault");
    assert!(
        matches!(&err, ProbeError::BadResponse(m)
            if m.contains("Receiver/ActionNotSupported/NoSuchService")
                && m.contains("Optional Action Not Implemented")),
        "{err}"
    );
}

#[test]
fn garbage_is_a_bad_response() {
    let err = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            fixture!("not_soap.html"),
        )
        .collect::<Onvif>(&nvr())
        .expect_err("HTML");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.starts_with("GetSystemDateAndTime: invalid XML")),
        "{err}"
    );

    let err = hikvision()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_DEVICE_INFORMATION,
            200,
            fixture!("truncated.xml"),
        )
        .credentials("admin", token())
        .collect::<Onvif>(&nvr())
        .expect_err("truncated");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.starts_with("GetDeviceInformation: invalid XML")),
        "{err}"
    );

    let err = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            "<html><body>OK</body></html>",
        )
        .collect::<Onvif>(&nvr())
        .expect_err("not SOAP");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.contains("not a SOAP envelope")),
        "{err}"
    );

    // A SOAP answer to another question.
    let err = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            200,
            fixture!("get_device_information.xml"),
        )
        .collect::<Onvif>(&nvr())
        .expect_err("wrong answer");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.contains("no GetSystemDateAndTimeResponse")),
        "{err}"
    );

    let err = FakeDevice::new()
        .respond_to_body(
            "POST",
            SERVICE,
            GET_SYSTEM_DATE_AND_TIME,
            500,
            "Internal Server Error",
        )
        .collect::<Onvif>(&nvr())
        .expect_err("HTTP 500");
    assert!(
        matches!(&err, ProbeError::BadResponse(m) if m.contains("HTTP 500")),
        "{err}"
    );
}

#[test]
fn an_unreachable_device_is_unreachable() {
    let err = FakeDevice::new()
        .respond_with(
            "POST",
            SERVICE,
            Err(HostError::Unreachable("no route to host".into())),
        )
        .collect::<Onvif>(&nvr())
        .expect_err("unreachable");
    assert_eq!(err, ProbeError::Unreachable("no route to host".into()));

    let err = FakeDevice::new()
        .respond_with("POST", SERVICE, Err(HostError::Timeout("10 s".into())))
        .collect::<Onvif>(&nvr())
        .expect_err("timeout");
    assert!(matches!(err, ProbeError::Unreachable(_)), "{err}");
}

#[test]
fn no_device_service_at_the_path_is_unsupported() {
    let err = FakeDevice::new().collect::<Onvif>(&nvr()).expect_err("404");
    assert!(
        matches!(&err, ProbeError::Unsupported(m) if m.contains("/onvif/device_service")),
        "{err}"
    );
}

#[test]
fn port_and_path_parameters_make_the_url() {
    let path = "/onvif/device_service.php";
    let device = FakeDevice::new().respond_to_body(
        "POST",
        path,
        GET_SYSTEM_DATE_AND_TIME,
        200,
        fixture!("get_system_date_and_time.xml"),
    );
    let report = device
        .collect::<Onvif>(
            &nvr()
                .with_param("port", "8000")
                .with_param("path", "onvif/device_service.php"),
        )
        .expect("collects");
    assert_eq!(report.facts.clock_offset_ms, Some(-73_000));
    assert_eq!(
        device.requests()[0].url,
        "http://192.0.2.20:8000/onvif/device_service.php"
    );

    let device = FakeDevice::new().respond_to_body(
        "POST",
        SERVICE,
        GET_SYSTEM_DATE_AND_TIME,
        200,
        fixture!("get_system_date_and_time.xml"),
    );
    device
        .collect::<Onvif>(&nvr().with_param("scheme", "https"))
        .expect("collects over HTTPS");
    assert_eq!(
        device.requests()[0].url,
        "https://192.0.2.20:443/onvif/device_service"
    );

    let err = FakeDevice::new()
        .collect::<Onvif>(&nvr().with_param("port", "99999"))
        .expect_err("not a port");
    assert!(
        matches!(&err, ProbeError::Unsupported(m) if m.contains("port")),
        "{err}"
    );
}

#[test]
fn a_device_giving_only_its_local_time_has_no_clock_offset() {
    let device = FakeDevice::new().respond_to_body(
        "POST",
        SERVICE,
        GET_SYSTEM_DATE_AND_TIME,
        200,
        fixture!("get_system_date_and_time_local_only.xml"),
    );
    let report = device.collect::<Onvif>(&nvr()).expect("collects");
    assert_eq!(report.status, Status::Up);
    assert_eq!(report.facts.clock_offset_ms, None);
    assert_eq!(extra(&report, "timezone"), Some("CST-8"));
}

#[test]
fn an_impossible_date_gives_no_clock_offset() {
    let answer = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:UTCDateTime><tt:Time><tt:Hour>12</tt:Hour><tt:Minute>0</tt:Minute><tt:Second>0</tt:Second></tt:Time><tt:Date><tt:Year>2025</tt:Year><tt:Month>2</tt:Month><tt:Day>29</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></s:Body></s:Envelope>"#;
    let device =
        FakeDevice::new().respond_to_body("POST", SERVICE, GET_SYSTEM_DATE_AND_TIME, 200, answer);
    let report = device.collect::<Onvif>(&nvr()).expect("collects");
    assert_eq!(report.facts.clock_offset_ms, None);
    assert!(
        device
            .logs()
            .iter()
            .any(|(l, m)| *l == LogLevel::Warn && m.contains("UTCDateTime"))
    );

    let leap = answer.replace("<tt:Year>2025</tt:Year>", "<tt:Year>2024</tt:Year>");
    let report = FakeDevice::new()
        .respond_to_body("POST", SERVICE, GET_SYSTEM_DATE_AND_TIME, 200, leap)
        .at(0)
        .collect::<Onvif>(&nvr())
        .expect("collects");
    // 2024-02-29T12:00:00Z.
    assert_eq!(report.facts.clock_offset_ms, Some(1_709_208_000_000));
}

#[test]
fn a_soap_11_refusal_is_an_authentication_failure() {
    let fault = r#"<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>wsse:FailedAuthentication</faultcode><faultstring>The security token could not be authenticated or authorized</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
    let err = hikvision()
        .respond_to_body("POST", SERVICE, GET_DEVICE_INFORMATION, 500, fault)
        .credentials("admin", token())
        .at(NOW_MS - 73_000)
        .collect::<Onvif>(&nvr())
        .expect_err("refused");
    assert!(
        matches!(&err, ProbeError::AuthFailed(m) if m.contains("FailedAuthentication")),
        "{err}"
    );
}

#[test]
fn user_names_are_escaped_in_the_envelope() {
    let device = hikvision().credentials(
        "o'brien&co",
        UsernameToken {
            username: "o'brien&co".into(),
            ..token()
        },
    );
    device.collect::<Onvif>(&nvr()).expect("collects");
    let signed = body(&device.requests()[1]);
    assert!(
        signed.contains("<wsse:Username>o&apos;brien&amp;co</wsse:Username>"),
        "{signed}"
    );
    let doc = xml::parse(&signed, "request").expect("well-formed");
    assert_eq!(
        xml::text(doc.root_element(), "Username"),
        Some("o'brien&co")
    );
}
