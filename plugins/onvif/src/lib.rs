//! vigie probe plugin for any ONVIF device (cameras, encoders, recorders), over the ONVIF
//! device service: SOAP 1.2 over HTTP POST.
//!
//! One collection sends, to the device service (`path`, `/onvif/device_service` by default):
//!
//! 1. `GetSystemDateAndTime`, unauthenticated as the ONVIF Core Specification allows: it proves
//!    the device alive and gives its UTC clock (`clock_offset_ms`). A device that demands
//!    authentication for it anyway is asked again with a WS-Security UsernameToken.
//! 2. `GetDeviceInformation` with a WS-Security UsernameToken (password digest, from the host):
//!    manufacturer, model, firmware, serial number, hardware id. Without credentials this step is
//!    skipped and a fact says so.
//!
//! Devices refuse tokens created too far from their own clock, and many devices' clocks are
//! off: once the device's time is known, tokens are created at the device's time (the
//! daemon's clock plus the offset, with the host's `ws-username-token-at`), not the
//! daemon's. Only a device that demands authentication for its clock gets a first token at
//! the daemon's time.
//!
//! A SOAP fault `ter:NotAuthorized` (or a WS-Security authentication fault, or HTTP 401) means
//! the credentials were refused: `AuthFailed`.

use vigie_plugin_sdk::{
    Description, EquipmentKind, Host, HostError, HttpRequest, LogLevel, Param, Probe, ProbeError,
    Report, Target, UsernameToken, clock, xml,
};

/// The ONVIF device-service probe.
pub struct Onvif;

const GET_SYSTEM_DATE_AND_TIME: &str = "GetSystemDateAndTime";
const GET_DEVICE_INFORMATION: &str = "GetDeviceInformation";
/// Content type of SOAP 1.2 requests.
const SOAP_CONTENT_TYPE: &str = "application/soap+xml; charset=utf-8";

impl Probe for Onvif {
    fn describe() -> Description {
        Description::new("onvif", "0.1.0")
            .vendor("ONVIF")
            .model("any ONVIF Profile S, T or G device")
            .kind(EquipmentKind::Camera)
            .kind(EquipmentKind::Encoder)
            .kind(EquipmentKind::Nvr)
            .param(Param::scheme())
            .param(Param::http_port())
            .param(Param::optional(
                "path",
                "path of the ONVIF device service",
                "/onvif/device_service",
            ))
    }

    fn collect(target: &Target, host: &dyn Host) -> Result<Report, ProbeError> {
        let url = service_url(target)?;
        let mut report = Report::up();

        // 1. The clock, unauthenticated.
        let mut clock_needs_auth = false;
        match call(host, &url, GET_SYSTEM_DATE_AND_TIME, None)? {
            Answer::Body(body) => read_clock(host, &body, &mut report)?,
            Answer::Refused(why) => {
                host.log(
                    LogLevel::Info,
                    &format!("{GET_SYSTEM_DATE_AND_TIME} without authentication refused ({why})"),
                );
                clock_needs_auth = true;
            }
            Answer::Fault(fault) => host.log(
                LogLevel::Warn,
                &format!("{GET_SYSTEM_DATE_AND_TIME}: {fault}; no clock"),
            ),
        }

        // 2. Identity, authenticated, with tokens created at the device's time once known.
        let Some(first) = token(host, report.facts.clock_offset_ms)? else {
            report.fact(
                "device_information",
                "needs credentials: GetDeviceInformation requires a WS-Security UsernameToken",
            );
            return Ok(report);
        };
        let token = if clock_needs_auth {
            match call(host, &url, GET_SYSTEM_DATE_AND_TIME, Some(&first))? {
                Answer::Body(body) => read_clock(host, &body, &mut report)?,
                Answer::Refused(why) => {
                    return Err(ProbeError::AuthFailed(format!(
                        "{GET_SYSTEM_DATE_AND_TIME}: {why}"
                    )));
                }
                Answer::Fault(fault) => host.log(
                    LogLevel::Warn,
                    &format!("{GET_SYSTEM_DATE_AND_TIME}: {fault}; no clock"),
                ),
            }
            // A fresh token, at the device's time now that it is known: devices may also
            // refuse a nonce they have already seen.
            token(host, report.facts.clock_offset_ms)?.unwrap_or(first)
        } else {
            first
        };
        match call(host, &url, GET_DEVICE_INFORMATION, Some(&token))? {
            Answer::Body(body) => read_device_information(&body, &mut report)?,
            Answer::Refused(why) => {
                return Err(ProbeError::AuthFailed(format!(
                    "{GET_DEVICE_INFORMATION}: {why}"
                )));
            }
            Answer::Fault(fault) => {
                return Err(ProbeError::BadResponse(format!(
                    "{GET_DEVICE_INFORMATION}: {fault}"
                )));
            }
        }
        Ok(report)
    }
}

vigie_plugin_sdk::register_probe!(Onvif);

/// The device service: a plain path on port 80, an absolute URL otherwise.
fn service_url(target: &Target) -> Result<String, ProbeError> {
    let base = target.http_base()?;
    let path = target
        .param("path")
        .unwrap_or("/onvif/device_service")
        .trim();
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Ok(format!("{base}{path}"))
}

/// A fresh UsernameToken, created at the device's time when its clock offset is known and
/// at the daemon's otherwise; `None` when the equipment has no credentials.
fn token(host: &dyn Host, offset_ms: Option<i64>) -> Result<Option<UsernameToken>, ProbeError> {
    let token = match offset_ms {
        Some(offset) => host.ws_username_token_at(clock::device_now_ms(host, offset)),
        None => host.ws_username_token(),
    };
    match token {
        Ok(token) => Ok(Some(token)),
        Err(HostError::AuthFailed(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Text escaped for XML content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The SOAP 1.2 envelope of a device-service operation without arguments.
fn envelope(operation: &str, token: Option<&UsernameToken>) -> String {
    let header = match token {
        None => String::new(),
        Some(t) => format!(
            concat!(
                "<s:Header>",
                r#"<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" "#,
                r#"xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">"#,
                "<wsse:UsernameToken>",
                "<wsse:Username>{}</wsse:Username>",
                r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{}</wsse:Password>"#,
                r#"<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{}</wsse:Nonce>"#,
                "<wsu:Created>{}</wsu:Created>",
                "</wsse:UsernameToken>",
                "</wsse:Security>",
                "</s:Header>"
            ),
            escape(&t.username),
            escape(&t.password_digest),
            escape(&t.nonce),
            escape(&t.created),
        ),
    };
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">"#,
            "{header}<s:Body><tds:{operation}/></s:Body></s:Envelope>"
        ),
        header = header,
        operation = operation,
    )
}

/// A SOAP fault: its codes (local names, outermost first) and reason.
struct Fault {
    codes: Vec<String>,
    reason: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SOAP fault {}", self.codes.join("/"))?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

impl Fault {
    /// The fault in a document, SOAP 1.2 (`Code/Value`, `Subcode/Value`, `Reason/Text`) or
    /// SOAP 1.1 (`faultcode`, `faultstring`).
    fn find(doc: &xml::Document<'_>) -> Option<Fault> {
        let fault = xml::find(doc.root_element(), "Fault")?;
        let local = |qname: &str| qname.rsplit(':').next().unwrap_or(qname).trim().to_string();
        let mut codes: Vec<String> = xml::find(fault, "Code")
            .map(|code| {
                xml::find_all(code, "Value")
                    .filter_map(|v| v.text())
                    .map(local)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(code) = xml::text(fault, "faultcode") {
            codes.push(local(code));
        }
        let reason = xml::find(fault, "Reason")
            .and_then(|r| xml::text(r, "Text"))
            .or_else(|| xml::text(fault, "faultstring"))
            .unwrap_or_default()
            .to_string();
        Some(Fault { codes, reason })
    }

    /// Whether the device refused the sender's credentials (ONVIF `ter:NotAuthorized`, or a
    /// WS-Security fault code).
    fn is_refusal(&self) -> bool {
        self.codes.iter().any(|c| {
            matches!(
                c.as_str(),
                "NotAuthorized"
                    | "FailedAuthentication"
                    | "InvalidSecurityToken"
                    | "InvalidSecurity"
                    | "MessageExpired"
            )
        })
    }
}

/// How the device answered an operation.
enum Answer {
    /// A SOAP envelope without fault.
    Body(String),
    /// The credentials (or their absence) were refused.
    Refused(String),
    /// Another SOAP fault.
    Fault(Fault),
}

fn call(
    host: &dyn Host,
    url: &str,
    operation: &str,
    token: Option<&UsernameToken>,
) -> Result<Answer, ProbeError> {
    let request = HttpRequest::post(url, envelope(operation, token))
        .header("Content-Type", SOAP_CONTENT_TYPE);
    let response = host.http(&request)?;
    let status = response.status;
    if matches!(status, 404 | 405 | 501) {
        return Err(ProbeError::Unsupported(format!(
            "no ONVIF device service at {}: {operation} answered HTTP {status}",
            request.path()
        )));
    }
    let text = String::from_utf8_lossy(&response.body);
    let doc = xml::Document::parse(&text);
    if let Some(fault) = doc.as_ref().ok().and_then(Fault::find) {
        return Ok(if fault.is_refusal() {
            Answer::Refused(fault.to_string())
        } else {
            Answer::Fault(fault)
        });
    }
    match status {
        200..=299 => {}
        401 | 403 => return Ok(Answer::Refused(format!("HTTP {status}"))),
        _ => {
            return Err(ProbeError::BadResponse(format!(
                "{operation}: HTTP {status} without a SOAP fault"
            )));
        }
    }
    let doc = doc.map_err(|e| ProbeError::BadResponse(format!("{operation}: invalid XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Envelope" || xml::find(root, "Body").is_none() {
        return Err(ProbeError::BadResponse(format!(
            "{operation}: the answer is not a SOAP envelope"
        )));
    }
    Ok(Answer::Body(text.into_owned()))
}

fn response<'a, 'i>(
    doc: &'a xml::Document<'i>,
    operation: &str,
) -> Result<xml::Node<'a, 'i>, ProbeError> {
    let name = format!("{operation}Response");
    xml::find(doc.root_element(), &name)
        .ok_or_else(|| ProbeError::BadResponse(format!("{operation}: no {name} in the answer")))
}

fn read_clock(host: &dyn Host, body: &str, report: &mut Report) -> Result<(), ProbeError> {
    let doc = xml::parse(body, GET_SYSTEM_DATE_AND_TIME)?;
    let answer = response(&doc, GET_SYSTEM_DATE_AND_TIME)?;
    let Some(system) = xml::find(answer, "SystemDateAndTime") else {
        return Err(ProbeError::BadResponse(format!(
            "{GET_SYSTEM_DATE_AND_TIME}: no SystemDateAndTime in the answer"
        )));
    };
    if let Some(kind) = xml::child_text(system, "DateTimeType").filter(|k| !k.is_empty()) {
        report.fact("time_source", kind);
    }
    if let Some(tz) = xml::find(system, "TimeZone")
        .and_then(|z| xml::child_text(z, "TZ"))
        .filter(|z| !z.is_empty())
    {
        report.fact("timezone", tz);
    }
    let Some(utc) = xml::find(system, "UTCDateTime") else {
        host.log(
            LogLevel::Info,
            &format!(
                "{GET_SYSTEM_DATE_AND_TIME}: no UTCDateTime (local time only), no clock offset"
            ),
        );
        return Ok(());
    };
    match utc_ms(utc) {
        Some(device_ms) => report.facts.clock_offset_ms = Some(clock::offset_ms(device_ms, host)),
        None => host.log(
            LogLevel::Warn,
            &format!("{GET_SYSTEM_DATE_AND_TIME}: unreadable UTCDateTime, no clock offset"),
        ),
    }
    Ok(())
}

/// Milliseconds since the Unix epoch of an ONVIF `tt:DateTime` (`Date/Year|Month|Day`,
/// `Time/Hour|Minute|Second`); `None` when a field is missing or out of range.
fn utc_ms(datetime: xml::Node<'_, '_>) -> Option<i64> {
    let date = xml::find(datetime, "Date")?;
    let time = xml::find(datetime, "Time")?;
    let field = |node, name| xml::child_text(node, name)?.parse::<i64>().ok();
    clock::civil_ms(
        field(date, "Year")?,
        field(date, "Month")?,
        field(date, "Day")?,
        field(time, "Hour")?,
        field(time, "Minute")?,
        field(time, "Second")?,
    )
}

fn read_device_information(body: &str, report: &mut Report) -> Result<(), ProbeError> {
    let doc = xml::parse(body, GET_DEVICE_INFORMATION)?;
    let answer = response(&doc, GET_DEVICE_INFORMATION)?;
    let get = |name: &str| {
        xml::child_text(answer, name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    report.facts.model = get("Model");
    report.facts.serial = get("SerialNumber");
    report.facts.firmware = get("FirmwareVersion");
    for (fact, element) in [("vendor", "Manufacturer"), ("hardware_id", "HardwareId")] {
        if let Some(value) = get(element) {
            report.fact(fact, &value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
