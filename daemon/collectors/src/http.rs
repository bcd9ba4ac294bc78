//! The daemon's one HTTP client for devices: HTTP/1.1 with hyper, in clear or over TLS
//! (rustls, with the equipment's trust: the system roots, a pinned certificate, or any), to a
//! given address and port, under a deadline, with a capped body. A [`Connection`] may carry
//! several exchanges (a plugin's requests within one collection); [`exchange`] is one request
//! on a fresh connection. The agent probe and the plugins' HTTP capability both go through
//! it; only the address given is ever connected to.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpStream;
pub use vigie_core::config::TlsTrust;

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
    /// HTTPS with this trust; `None` is plain HTTP.
    pub tls: Option<TlsTrust>,
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
    /// The TLS handshake failed or the certificate is not trusted.
    #[error("TLS: {0}")]
    Tls(String),
    /// The body is larger than allowed, or unreadable.
    #[error("body unreadable or larger than {limit} bytes: {detail}")]
    Body {
        /// The cap.
        limit: usize,
        /// What failed.
        detail: String,
    },
}

/// Sends one request on a fresh connection and reads the answer.
pub async fn exchange(req: HttpRequest<'_>) -> Result<HttpAnswer, HttpError> {
    let within = vigie_core::util::format_duration(req.timeout);
    let run = async {
        let mut conn = Connection::open(&req).await?;
        conn.send(&req).await
    };
    match tokio::time::timeout(req.timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout(format!(
            "{}:{}: no HTTP answer within {within}",
            req.address, req.port
        ))),
    }
}

/// An open HTTP/1.1 connection to one address, port and scheme, reused while the peer keeps
/// it open.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    driver: tokio::task::JoinHandle<()>,
    address: String,
    port: u16,
    tls: Option<TlsTrust>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Connection {
    /// Connects (and shakes hands over TLS when asked) within the request's deadline.
    pub async fn open(req: &HttpRequest<'_>) -> Result<Connection, HttpError> {
        let within = vigie_core::util::format_duration(req.timeout);
        match tokio::time::timeout(req.timeout, Self::open_now(req)).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout(format!(
                "{}:{}: no connection within {within}",
                req.address, req.port
            ))),
        }
    }

    async fn open_now(req: &HttpRequest<'_>) -> Result<Connection, HttpError> {
        let host = vigie_core::util::url_host(req.address);
        let bare = req.address.trim_matches(['[', ']']);
        let stream = TcpStream::connect((bare, req.port))
            .await
            .map_err(|e| HttpError::Connect(format!("{host}:{}: {e}", req.port)))?;
        let (sender, driver) = match &req.tls {
            None => handshake(stream).await?,
            Some(trust) => {
                let name = rustls::pki_types::ServerName::try_from(bare.to_string())
                    .map_err(|e| HttpError::Tls(format!("`{bare}` as a TLS server name: {e}")))?;
                let connector = tokio_rustls::TlsConnector::from(client_config(trust)?);
                let tls = connector.connect(name, stream).await.map_err(|e| {
                    HttpError::Tls(format!("{host}:{}: {}", req.port, tls_failure(&e, trust)))
                })?;
                handshake(tls).await?
            }
        };
        Ok(Connection {
            sender,
            driver,
            address: req.address.to_string(),
            port: req.port,
            tls: req.tls.clone(),
        })
    }

    /// Whether this connection goes where `req` goes and can take another request.
    pub fn serves(&self, req: &HttpRequest<'_>) -> bool {
        self.address == req.address
            && self.port == req.port
            && self.tls == req.tls
            && !self.sender.is_closed()
            && !self.driver.is_finished()
    }

    /// Sends a request on this connection within its deadline and reads the answer.
    pub async fn send(&mut self, req: &HttpRequest<'_>) -> Result<HttpAnswer, HttpError> {
        let within = vigie_core::util::format_duration(req.timeout);
        match tokio::time::timeout(req.timeout, self.send_now(req)).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout(format!(
                "{}:{}: no HTTP answer within {within}",
                req.address, req.port
            ))),
        }
    }

    async fn send_now(&mut self, req: &HttpRequest<'_>) -> Result<HttpAnswer, HttpError> {
        let host = vigie_core::util::url_host(req.address);
        let default_port = if req.tls.is_some() { 443 } else { 80 };
        let authority = if req.port == default_port {
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
        self.sender
            .ready()
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let resp = self
            .sender
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
}

type Handshaken = (
    hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<()>,
);

async fn handshake<IO>(io: IO) -> Result<Handshaken, HttpError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .map_err(|e| HttpError::Protocol(format!("handshake: {e}")))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, driver))
}

/// Why a TLS handshake failed, in words an admin acts on.
fn tls_failure(e: &std::io::Error, trust: &TlsTrust) -> String {
    let detail = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(|r| r.to_string())
        .unwrap_or_else(|| e.to_string());
    match trust {
        TlsTrust::System if detail.contains("certificate") => format!(
            "{detail}: the certificate is not trusted by the system roots; pin it with tls_trust = \"sha256:…\" on the equipment"
        ),
        _ => detail,
    }
}

/// A rustls client configuration builder on vigie's crypto provider and protocol versions.
fn builder(
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, HttpError> {
    rustls::ClientConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))
}

/// A client configuration trusting the system's roots and `extra` (DER certificates, such as
/// a company CA), the system's being optional when `extra` has some.
pub fn client_config_with_roots(extra: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>, HttpError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for der in extra {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| HttpError::Tls(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        builder(&provider)?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// The rustls client configuration of a trust (the system one is built once).
pub fn client_config(trust: &TlsTrust) -> Result<Arc<rustls::ClientConfig>, HttpError> {
    static SYSTEM: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = builder(&provider)?;
    match trust {
        TlsTrust::System => SYSTEM
            .get_or_init(|| {
                let loaded = rustls_native_certs::load_native_certs();
                let mut roots = rustls::RootCertStore::empty();
                let (added, _) = roots.add_parsable_certificates(loaded.certs);
                if added == 0 {
                    return Err(format!(
                        "no system root certificate could be read ({} errors); install ca-certificates or pin the equipment's certificate",
                        loaded.errors.len()
                    ));
                }
                Ok(Arc::new(
                    builder
                        .clone()
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                ))
            })
            .clone()
            .map_err(HttpError::Tls),
        TlsTrust::Pinned(pin) => Ok(Arc::new(
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked {
                    pin: Some(*pin),
                    provider,
                }))
                .with_no_client_auth(),
        )),
        TlsTrust::Any => Ok(Arc::new(
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked {
                    pin: None,
                    provider,
                }))
                .with_no_client_auth(),
        )),
    }
}

/// Accepts the pinned certificate whatever its names and dates, or any certificate; the
/// handshake's signatures are still checked, so the peer holds the certificate's key.
#[derive(Debug)]
struct Unchecked {
    pin: Option<[u8; 32]>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let Some(pin) = &self.pin else {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        };
        let seen: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(end_entity.as_ref()).into();
        if seen == *pin {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the certificate's fingerprint is {}, not the pinned {}",
                TlsTrust::Pinned(seen),
                TlsTrust::Pinned(*pin)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
