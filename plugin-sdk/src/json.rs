//! JSON answers (Axis VAPIX and other JSON APIs): `serde_json` re-exported, plus the reading
//! every plugin needs, with errors that name the document.
//!
//! [`HttpResponse::ok_json`](crate::HttpResponse::ok_json) checks a response's status and
//! parses its body in one step.

pub use serde_json::*;

use crate::ProbeError;

/// Parses a JSON body; a malformed one is a [`ProbeError::BadResponse`] naming `what`
/// (`/axis-cgi/basicdeviceinfo.cgi: invalid JSON: EOF while parsing…`).
pub fn parse(body: &[u8], what: &str) -> std::result::Result<Value, ProbeError> {
    from_slice(body).map_err(|e| ProbeError::BadResponse(format!("{what}: invalid JSON: {e}")))
}

/// A string or a number as trimmed text (`"12"` and `12` both give `12`), as APIs that write
/// numbers as strings, but not always, need; `None` for anything else or an empty string.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// The member `key` of an object as text (see [`text`]); `None` when it is missing, not a
/// string nor a number, or empty.
pub fn field(object: &Value, key: &str) -> Option<String> {
    text(object.get(key)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_read_as_text() {
        let v = parse(
            br#"{"a":" 12 ","b":12,"c":1.5,"d":"","e":null,"f":[1]}"#,
            "doc",
        )
        .expect("valid JSON");
        assert_eq!(field(&v, "a").as_deref(), Some("12"));
        assert_eq!(field(&v, "b").as_deref(), Some("12"));
        assert_eq!(field(&v, "c").as_deref(), Some("1.5"));
        for absent in ["d", "e", "f", "g"] {
            assert_eq!(field(&v, absent), None, "{absent}");
        }
        assert_eq!(text(&Value::Bool(true)), None);
    }

    #[test]
    fn ok_json_checks_the_status_then_parses() {
        let response = |status: u16, body: &str| crate::HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        let v = response(200, r#"{"data":{"uptime":"42"}}"#)
            .ok_json("doc")
            .expect("JSON");
        assert_eq!(
            v.pointer("/data/uptime").and_then(text).as_deref(),
            Some("42")
        );
        assert!(matches!(
            response(404, "Not Found").ok_json("doc"),
            Err(ProbeError::Unsupported(m)) if m == "doc: HTTP 404"
        ));
        assert!(matches!(
            response(401, "").ok_json("doc"),
            Err(ProbeError::AuthFailed(_))
        ));
        assert!(matches!(
            response(200, "<html>").ok_json("doc"),
            Err(ProbeError::BadResponse(m)) if m.starts_with("doc: invalid JSON")
        ));
    }

    #[test]
    fn malformed_json_is_a_bad_response_naming_the_document() {
        let err = parse(b"{\"data\":", "/axis-cgi/systemready.cgi").expect_err("truncated");
        assert!(
            matches!(&err, ProbeError::BadResponse(m) if m.starts_with("/axis-cgi/systemready.cgi: invalid JSON")),
            "{err}"
        );
    }
}
