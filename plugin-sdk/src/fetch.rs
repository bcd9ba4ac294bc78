//! Fetching a vendor's documents: what the collection cannot do without, and what it can
//! skip. Each vendor sorts its own answers (see [`Answer`]); the handling of a missing,
//! refused or late document is the same for every plugin.

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
