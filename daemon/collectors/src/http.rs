//! The daemon's one HTTP client for devices: one HTTP/1.1 exchange with hyper on a fresh
//! connection to a given address and port, under a deadline, with a capped body. The agent
//! probe and the plugins' HTTP capability both go through it; only the address given is
//! ever connected to.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use std::time::Duration;
use tokio::net::TcpStream;

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    /// The address to connect to (a name, an IPv4 or an IPv6 address).
    pub address: &'a str,
    /// The port.
    pub port: u16,
    /// Method.
    pub method: hyper::Method,
    /// Path and query (`/metrics`).
    pub path: &'a str,
    /// Extra headers (`Host`, `Content-Length` and `Connection` are set here).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Deadline of the whole exchange, connection included.
    pub timeout: Duration,
    /// Largest body read.
    pub max_body: usize,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    /// Status.
    pub status: u16,
    /// Headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The connection failed (refused, reset, no route).
    #[error("{0}")]
    Connect(String),
    /// No connection or no answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The request could not be built.
    #[error("malformed request: {0}")]
    Request(String),
    /// The peer does not speak HTTP/1.1 properly.
    #[error("HTTP: {0}")]
    Protocol(String),
    /// The body is larger than allowed, or unreadable.
    #[error("body unreadable or larger than {limit} bytes: {detail}")]
    Body {
        /// The cap.
        limit: usize,
        /// What failed.
        detail: String,
    },
}

/// Sends one request and reads the answer.
pub async fn exchange(req: HttpRequest<'_>) -> Result<HttpAnswer, HttpError> {
    let within = vigie_core::util::format_duration(req.timeout);
    match tokio::time::timeout(req.timeout, exchange_now(&req)).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout(format!(
            "{}:{}: no HTTP answer within {within}",
            req.address, req.port
        ))),
    }
}

async fn exchange_now(req: &HttpRequest<'_>) -> Result<HttpAnswer, HttpError> {
    let host = vigie_core::util::url_host(req.address);
    let stream = TcpStream::connect((req.address.trim_matches(['[', ']']), req.port))
        .await
        .map_err(|e| HttpError::Connect(format!("{host}:{}: {e}", req.port)))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| HttpError::Protocol(format!("handshake: {e}")))?;
    let driver = tokio::spawn(conn);
    let authority = if req.port == 80 {
        host.into_owned()
    } else {
        format!("{host}:{}", req.port)
    };
    let mut builder = hyper::Request::builder()
        .method(req.method.clone())
        .uri(req.path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "vigie");
    for (k, v) in &req.headers {
        if matches!(
            k.to_ascii_lowercase().as_str(),
            "host" | "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|e| HttpError::Request(e.to_string()))?;
    let answer = async {
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = Limited::new(resp.into_body(), req.max_body)
            .collect()
            .await
            .map_err(|e| HttpError::Body {
                limit: req.max_body,
                detail: e.to_string(),
            })?
            .to_bytes()
            .to_vec();
        Ok(HttpAnswer {
            status,
            headers,
            body,
        })
    }
    .await;
    driver.abort();
    answer
}
