//! A blocking client of the HTTP API, used by the command line and the integration tests,
//! over the daemon's one HTTP client.

use crate::alert::Alert;
use crate::api::{AckBody, AlertList, CloseBody, EventPage, Health, TransitionRecord};
use crate::collectors::http::{self, HttpError, HttpRequest};
use crate::status::{EquipmentDetail, FleetStatus, SiteDetail};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon could not be reached.
    #[error("cannot reach the daemon at {url}: {detail}")]
    Unreachable {
        /// URL called.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The daemon refused the request.
    #[error("{message} (HTTP {status})")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// The answer could not be read.
    #[error("unexpected answer from {url}: {detail}")]
    BadAnswer {
        /// URL called.
        url: String,
        /// What was wrong.
        detail: String,
    },
}

/// Longest a call may take by default, beyond the wait of a long poll.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read (a page of 10,000 events with their alerts).
const MAX_ANSWER: usize = 256 << 20;

/// Client of one daemon's API, over the daemon's own HTTP client (hyper).
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    address: String,
    port: u16,
    timeout: Duration,
    token: Option<String>,
    tls: Option<crate::config::TlsTrust>,
}

impl ApiClient {
    /// A client for the API at `base` (`http://127.0.0.1:8480`).
    pub fn new(base: &str) -> Self {
        let base = base.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base).ok();
        let (address, port) = parsed
            .as_ref()
            .and_then(|u| {
                let host = u.host_str()?.trim_matches(['[', ']']).to_string();
                Some((host, u.port_or_known_default()?))
            })
            .unwrap_or_default();
        let tls = parsed
            .filter(|u| u.scheme() == "https")
            .map(|_| crate::config::TlsTrust::System);
        ApiClient {
            base,
            address,
            port,
            timeout: CALL_TIMEOUT,
            token: None,
            tls,
        }
    }

    /// The same client trusting the API's certificate as `trust` says (for `https://`).
    pub fn with_tls_trust(mut self, trust: crate::config::TlsTrust) -> Self {
        if self.tls.is_some() {
            self.tls = Some(trust);
        }
        self
    }

    /// The same client authenticated with an API token (sent as `Authorization: Bearer`).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into().trim().to_string());
        self
    }

    /// A client of the daemon running on a data directory, with its local token: what the
    /// command line on the daemon's machine uses when it is given no token. `None` when no
    /// daemon runs there (no `daemon.json`).
    pub fn local(data_dir: &std::path::Path) -> Option<Self> {
        let client = ApiClient::of_daemon(&crate::server::DaemonFile::read(data_dir)?);
        Some(match local_token(data_dir) {
            Some(t) => client.with_token(t),
            None => client,
        })
    }

    /// A client of the daemon a daemon file names, its certificate pinned from the file when
    /// it serves HTTPS (a self-signed one is fine on its machine); no token yet.
    pub fn of_daemon(file: &crate::server::DaemonFile) -> Self {
        let client = ApiClient::new(&file.api);
        match file
            .certificate_sha256
            .as_deref()
            .and_then(|p| crate::config::TlsTrust::parse(p).ok())
        {
            Some(pin) => client.with_tls_trust(pin),
            None => client,
        }
    }

    /// The same client with another deadline per call (a long poll adds its wait to it).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends a request and answers its status and body, blocking (on a thread of its own, so
    /// it can be called from anywhere, an async runtime included).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<(u16, String), ClientError> {
        let (status, bytes) = self.exchange(method, path, headers, body, Duration::ZERO)?;
        Ok((status, self.text(path, bytes)?))
    }

    fn text(&self, path: &str, bytes: Vec<u8>) -> Result<String, ClientError> {
        String::from_utf8(bytes).map_err(|e| ClientError::BadAnswer {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        })
    }

    /// [`ApiClient::raw`] for a request the daemon may hold for `wait` (a long poll).
    fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
        wait: Duration,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |detail: String| ClientError::Unreachable {
            url: url.clone(),
            detail,
        };
        let method =
            hyper::Method::from_bytes(method.as_bytes()).map_err(|e| unreachable(e.to_string()))?;
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if body.is_some() {
            all.push(("content-type".into(), "application/json".into()));
        }
        if let Some(t) = &self.token
            && !all
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        {
            all.push(("authorization".into(), format!("Bearer {t}")));
        }
        let request = HttpRequest {
            address: &self.address,
            port: self.port,
            method,
            path,
            headers: all,
            body: body.unwrap_or_default().as_bytes().to_vec(),
            timeout: self.timeout + wait,
            max_body: MAX_ANSWER,
            tls: self.tls.clone(),
        };
        let answer = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| HttpError::Connect(e.to_string()))?;
                    runtime.block_on(http::exchange(request))
                })
                .join()
        })
        .map_err(|_| unreachable("the client thread failed".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
        Ok((answer.status, answer.body))
    }

    /// The refusal an error status carries: the JSON body's `error`, or the body.
    fn refused(status: u16, text: String) -> ClientError {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
            .unwrap_or(text);
        ClientError::Refused { status, message }
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        wait: Duration,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let (status, bytes) = self.exchange(method, path, &[], body, wait)?;
        let text = self.text(path, bytes)?;
        if status >= 400 {
            return Err(Self::refused(status, text));
        }
        serde_json::from_str(&text).map_err(|e| ClientError::BadAnswer {
            url,
            detail: e.to_string(),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call("GET", path, None, Duration::ZERO)
    }

    /// A long poll: `path` asks the daemon to hold the answer up to `wait`.
    fn get_waiting<T: DeserializeOwned>(
        &self,
        path: &str,
        wait: Duration,
    ) -> Result<T, ClientError> {
        self.call("GET", path, None, wait)
    }

    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_string(body).map_err(|e| ClientError::BadAnswer {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        })?;
        self.call("POST", path, Some(&body), Duration::ZERO)
    }

    /// The fleet's status.
    pub fn status(&self) -> Result<FleetStatus, ClientError> {
        self.get("/api/v1/status")
    }

    /// The fleet's status once more than `generation` config loads happened (waits up to `wait`).
    pub fn status_after(
        &self,
        generation: u64,
        wait: Duration,
    ) -> Result<FleetStatus, ClientError> {
        self.get_waiting(
            &format!("/api/v1/status?after={generation}&wait={}", wait.as_secs()),
            wait,
        )
    }

    /// The daemon's health (answers even while the actors wait on a failing store).
    pub fn health(&self) -> Result<Health, ClientError> {
        self.get("/api/v1/health")
    }

    /// One site.
    pub fn site(&self, id: &str) -> Result<SiteDetail, ClientError> {
        self.get(&format!("/api/v1/sites/{id}"))
    }

    /// One equipment.
    pub fn equipment(&self, id: &str) -> Result<EquipmentDetail, ClientError> {
        self.get(&format!("/api/v1/equipment/{id}"))
    }

    /// Live alerts.
    pub fn alerts(&self) -> Result<AlertList, ClientError> {
        self.get("/api/v1/alerts")
    }

    /// Live alerts once the book changed past `version` (waits up to `wait`).
    pub fn alerts_after(&self, version: u64, wait: Duration) -> Result<AlertList, ClientError> {
        self.get_waiting(
            &format!("/api/v1/alerts?after={version}&wait={}", wait.as_secs()),
            wait,
        )
    }

    /// Events after `after` (at most `limit`), waiting up to `wait` for one when there is none.
    pub fn events(
        &self,
        after: u64,
        limit: usize,
        wait: Duration,
    ) -> Result<EventPage, ClientError> {
        self.get_waiting(
            &format!(
                "/api/v1/events?after={after}&limit={limit}&wait={}",
                wait.as_secs()
            ),
            wait,
        )
    }

    /// One alert in any state, with its full timeline.
    pub fn alert(&self, id: u64) -> Result<Alert, ClientError> {
        self.get(&format!("/api/v1/alerts/{id}"))
    }

    /// Alerts live at some point in the last `days` days, resolved and closed ones included.
    pub fn alert_history(&self, days: u32) -> Result<Vec<Alert>, ClientError> {
        self.get(&format!("/api/v1/alerts/history?days={days}"))
    }

    /// Status changes of one equipment over the last 30 days.
    pub fn transitions(&self, id: &str) -> Result<Vec<TransitionRecord>, ClientError> {
        self.get(&format!("/api/v1/equipment/{id}/transitions"))
    }

    /// Acknowledges an alert.
    /// The daemon records the client's account as the one acting.
    pub fn ack(&self, id: u64, note: Option<&str>) -> Result<Alert, ClientError> {
        self.post(
            &format!("/api/v1/alerts/{id}/ack"),
            &AckBody {
                note: note.map(String::from),
            },
        )
    }

    /// What the notification outbox holds, and the latest `last` deliveries sent.
    pub fn outbox(&self, last: usize) -> Result<crate::outbox::OutboxView, ClientError> {
        self.get(&format!("/api/v1/outbox?last={last}"))
    }

    /// The outbox once it changed past `version`, or after `wait`.
    pub fn outbox_after(
        &self,
        last: usize,
        version: u64,
        wait: Duration,
    ) -> Result<crate::outbox::OutboxView, ClientError> {
        self.get_waiting(
            &format!(
                "/api/v1/outbox?last={last}&after={version}&wait={}",
                wait.as_secs()
            ),
            wait,
        )
    }

    /// Queues a test notification to a contact; answers its delivery number.
    pub fn notify_test(&self, contact: &str, channel: Option<&str>) -> Result<u64, ClientError> {
        let a: crate::api::NotifyTestAnswer = self.post(
            "/api/v1/notify/test",
            &crate::api::NotifyTestBody {
                contact: contact.into(),
                channel: channel.map(String::from),
            },
        )?;
        Ok(a.delivery)
    }

    /// The audit trail of an alert.
    pub fn audit(&self, id: u64) -> Result<crate::audit::Audit, ClientError> {
        self.get(&format!("/api/v1/alerts/{id}/audit"))
    }

    /// Availability over the query's period and scope.
    pub fn availability(
        &self,
        q: &crate::availability::Query,
    ) -> Result<crate::availability::Availability, ClientError> {
        let mut path = String::from("/api/v1/availability?");
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("client", &q.client),
            ("site", &q.site),
            ("month", &q.month),
            ("from", &q.from),
            ("to", &q.to),
        ] {
            if let Some(v) = v {
                query.append_pair(k, v);
            }
        }
        path.push_str(&query.finish());
        self.get(&path)
    }

    /// A client's monthly report as the daemon makes it, in `format` (`pdf`, `html` or
    /// `json`).
    pub fn report(&self, client: &str, month: &str, format: &str) -> Result<Vec<u8>, ClientError> {
        let path = format!(
            "/api/v1/reports/{}/{}?format={}",
            url::form_urlencoded::byte_serialize(client.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(month.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(format.as_bytes()).collect::<String>()
        );
        let (status, bytes) = self.exchange("GET", &path, &[], None, Duration::ZERO)?;
        if status >= 400 {
            return Err(Self::refused(status, self.text(&path, bytes)?));
        }
        Ok(bytes)
    }

    /// Intervention tickets (open ones, or all).
    pub fn tickets(&self, all: bool) -> Result<Vec<crate::ticket::Ticket>, ClientError> {
        self.get(&format!("/api/v1/tickets?all={all}"))
    }

    /// One intervention ticket.
    pub fn ticket(&self, n: u64) -> Result<crate::ticket::Ticket, ClientError> {
        self.get(&format!("/api/v1/tickets/{n}"))
    }

    /// Closes an intervention ticket with its resolution.
    pub fn close_ticket(&self, n: u64, note: &str) -> Result<crate::ticket::Ticket, ClientError> {
        self.post(
            &format!("/api/v1/tickets/{n}/close"),
            &crate::api::CloseBody { note: note.into() },
        )
    }

    /// Closes an alert with a resolution note.
    pub fn close(&self, id: u64, note: &str) -> Result<Alert, ClientError> {
        self.post(
            &format!("/api/v1/alerts/{id}/close"),
            &CloseBody { note: note.into() },
        )
    }
}

/// The local token of the daemon running on a data directory, when this user may read it.
pub fn local_token(data_dir: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(crate::auth::LOCAL_TOKEN_FILE))
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}
