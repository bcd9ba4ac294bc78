//! Fetching a vendor's documents: what the collection cannot do without, and what it can
//! skip. Each vendor sorts its own answers (see [`Answer`]), usually its own "not supported"
//! bodies first and then [`classify`] for the HTTP statuses every vendor shares; the handling
//! of a missing, refused or late document is the same for every plugin.

use crate::{Host, HostError, HttpResponse, LogLevel, ProbeError};

/// What a vendor makes of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The document.
    Document(String),
    /// The firmware does not offer it (why).
    Absent(String),
    /// The equipment refuses this user the document (why).
    Denied(String),
}

/// The HTTP statuses every vendor shares: a 2xx is the document (UTF-8 text), 401 means the
/// credentials were refused (an error), 403 that this user may not read it (denied),
/// 404/405/501 that the firmware lacks it (absent), anything else is a bad response.
/// Vendors recognise their own "not supported" bodies first and fall back on this.
pub fn classify(path: &str, response: &HttpResponse) -> Result<Answer, ProbeError> {
    match response.status {
        200..=299 => match std::str::from_utf8(&response.body) {
            Ok(text) => Ok(Answer::Document(text.to_string())),
            Err(e) => Err(ProbeError::BadResponse(format!(
                "{path}: the body is not UTF-8: {e}"
            ))),
        },
        401 => Err(ProbeError::AuthFailed(format!(
            "{path}: HTTP 401, {}",
            response.auth_refusal()
        ))),
        403 => Ok(Answer::Denied(format!("{path}: HTTP 403"))),
        s @ (404 | 405 | 501) => Ok(Answer::Absent(format!("{path}: HTTP {s}"))),
        s => Err(ProbeError::BadResponse(format!("{path}: HTTP {s}"))),
    }
}

/// A result whose `Unsupported` error means "this firmware lacks it": `None`, with a debug
/// log line, for an optional step read with a helper that fails that way
/// ([`HttpResponse::ok_text`], [`HttpResponse::ok_json`]). Other errors stay errors.
pub fn skip_unsupported<T>(
    host: &dyn Host,
    result: Result<T, ProbeError>,
) -> Result<Option<T>, ProbeError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ProbeError::Unsupported(why)) => {
            host.log(LogLevel::Debug, &format!("{why}, skipped"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A document the collection cannot do without: absent is unsupported, denied is an
/// authentication failure.
pub fn required(
    host: &dyn Host,
    url: &str,
    path: &str,
    classify: impl Fn(&str, &HttpResponse) -> Result<Answer, ProbeError>,
) -> Result<String, ProbeError> {
    match classify(path, &host.get(url)?)? {
        Answer::Document(text) => Ok(text),
        Answer::Absent(why) => Err(ProbeError::Unsupported(why)),
        Answer::Denied(why) => Err(ProbeError::AuthFailed(why)),
    }
}

/// A document the collection can do without: `None` when the firmware lacks it, refuses it
/// to this user, or does not answer it in time (all logged).
pub fn optional(
    host: &dyn Host,
    url: &str,
    path: &str,
    classify: impl Fn(&str, &HttpResponse) -> Result<Answer, ProbeError>,
) -> Result<Option<String>, ProbeError> {
    let response = match host.get(url) {
        Ok(r) => r,
        Err(HostError::Timeout(m)) => {
            host.log(
                LogLevel::Warn,
                &format!("{path}: no answer in time ({m}), skipped"),
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    match classify(path, &response)? {
        Answer::Document(text) => Ok(Some(text)),
        Answer::Absent(why) => {
            host.log(LogLevel::Debug, &format!("{why}, skipped"));
            Ok(None)
        }
        Answer::Denied(why) => {
            host.log(LogLevel::Warn, &format!("{why}, skipped"));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeDevice;

    #[test]
    fn statuses_every_vendor_shares() {
        let device = FakeDevice::new()
            .respond("GET", "/doc", 200, "text")
            .respond("GET", "/denied", 403, "")
            .respond("GET", "/refused", 401, "")
            .respond("GET", "/broken", 500, "")
            .respond("GET", "/binary", 200, vec![0xff, 0xfe]);
        let optional = |path: &str| optional(&device, path, path, classify);
        assert_eq!(optional("/doc"), Ok(Some("text".into())));
        assert_eq!(optional("/missing"), Ok(None));
        assert_eq!(optional("/denied"), Ok(None));
        assert_eq!(
            optional("/refused"),
            Err(ProbeError::AuthFailed(
                "/refused: HTTP 401, no credentials are configured for this equipment (set `credentials` on it)".into()
            ))
        );
        assert_eq!(
            optional("/broken"),
            Err(ProbeError::BadResponse("/broken: HTTP 500".into()))
        );
        assert!(matches!(
            optional("/binary"),
            Err(ProbeError::BadResponse(_))
        ));
        assert_eq!(
            device.logs(),
            [
                (LogLevel::Debug, "/missing: HTTP 404, skipped".to_string()),
                (LogLevel::Warn, "/denied: HTTP 403, skipped".to_string()),
            ]
        );
        assert_eq!(
            required(&device, "/missing", "/missing", classify),
            Err(ProbeError::Unsupported("/missing: HTTP 404".into()))
        );
        assert_eq!(
            required(&device, "/denied", "/denied", classify),
            Err(ProbeError::AuthFailed("/denied: HTTP 403".into()))
        );
    }

    #[test]
    fn unsupported_steps_are_skipped_and_other_errors_kept() {
        let device = FakeDevice::new().respond("GET", "/api", 200, r#"{"a":1}"#);
        let json = |path: &str| device.get(path).map_err(ProbeError::from)?.ok_json(path);
        assert!(matches!(
            skip_unsupported(&device, json("/api")),
            Ok(Some(_))
        ));
        assert_eq!(skip_unsupported(&device, json("/absent")), Ok(None));
        assert_eq!(
            skip_unsupported::<()>(&device, Err(ProbeError::BadResponse("x".into()))),
            Err(ProbeError::BadResponse("x".into()))
        );
        assert_eq!(
            device.logs(),
            [(LogLevel::Debug, "/absent: HTTP 404, skipped".to_string())]
        );
    }
}
