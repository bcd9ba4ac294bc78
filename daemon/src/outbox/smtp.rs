//! Connections to the SMTP relay of the email channel: opened with `TCP_NODELAY` (an SMTP
//! exchange is a write then a wait for the reply, and with Nagle's algorithm on, the message's
//! final `.` waits for the relay's delayed acknowledgement, 40 ms per message on Linux), kept
//! open between messages, at most `connections` in use at once. The SMTP dialogue itself,
//! STARTTLS and authentication are lettre's.

use super::channels::SendError;
use crate::config::{EmailChannel, SmtpSecurity};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// An open connection idle for less than this is used without a check.
const FRESH: Duration = Duration::from_secs(5);
/// An open connection idle for longer than this is closed.
const IDLE_MAX: Duration = Duration::from_secs(60);

/// The relay of `[channels.email]`: its open connections and the permits bounding them.
pub struct Relay {
    channel: EmailChannel,
    permits: Semaphore,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// The TLS settings of its connections, made at the first one (they read the system's
    /// roots).
    tls: OnceLock<Result<Tls, String>>,
}

/// How a relay's connections are encrypted.
#[derive(Clone)]
enum Tls {
    /// In clear (on loopback only, checked at load).
    None,
    /// TLS before the greeting (implicit TLS, port 465).
    Implicit(Arc<rustls::ClientConfig>),
    /// STARTTLS after the greeting.
    Starttls(TlsParameters),
}

impl Relay {
    /// A relay for `channel`, no connection open yet. A task closes connections idle for a
    /// minute while the relay is in use.
    pub fn new(channel: EmailChannel) -> Arc<Relay> {
        let relay = Arc::new(Relay {
            permits: Semaphore::new(channel.connections as usize),
            channel,
            idle: Mutex::new(Vec::new()),
            tls: OnceLock::new(),
        });
        let weak = Arc::downgrade(&relay);
        tokio::spawn(close_idle(weak));
        relay
    }

    /// The channel this relay was built from.
    pub fn channel(&self) -> &EmailChannel {
        &self.channel
    }

    /// Sends one message; answers once the relay accepted it.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| "email: the relay connection was closed")?;
        if let Some(mut conn) = self.reuse().await {
            match conn.send(envelope, message).await {
                Ok(_) => {
                    self.keep(conn);
                    return Ok(());
                }
                // The relay refused the message itself: no other connection will do better.
                Err(e) if e.is_permanent() => return Err(self.error(e)),
                // A connection the relay closed while it was idle: a new one is tried at once.
                Err(e) => tracing::debug!(
                    "email: an open relay connection failed ({e}); opening a new one"
                ),
            }
        }
        let mut conn = self.connect().await?;
        match conn.send(envelope, message).await {
            Ok(_) => {
                self.keep(conn);
                Ok(())
            }
            // lettre has closed the connection.
            Err(e) => Err(self.error(e)),
        }
    }

    fn keep(&self, conn: AsyncSmtpConnection) {
        if !conn.has_broken() {
            self.lock().push((conn, Instant::now()));
        }
    }

    fn error(&self, e: lettre::transport::smtp::Error) -> SendError {
        smtp_error(
            &format!(
                "email: {}:{}",
                self.channel.smtp_host, self.channel.smtp_port
            ),
            e,
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(AsyncSmtpConnection, Instant)>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An open connection still usable: recent ones as they are, older ones after a NOOP.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self.lock().pop()?;
            let idle = since.elapsed();
            if idle < FRESH || (idle < IDLE_MAX && conn.test_connected().await) {
                return Some(conn);
            }
            conn.abort().await;
        }
    }

    /// Opens a connection: TCP with `TCP_NODELAY`, TLS at once or after STARTTLS, then the
    /// authentication when credentials are configured.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let ch = &self.channel;
        let at = format!("email: {}:{}", ch.smtp_host, ch.smtp_port);
        let tcp = TcpStream::connect((ch.smtp_host.as_str(), ch.smtp_port))
            .await
            .map_err(|e| format!("{at}: cannot connect: {e}"))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("{at}: TCP_NODELAY: {e}"))?;
        let hello = ClientId::default();
        let tls = self
            .tls
            .get_or_init(|| self.tls_settings())
            .clone()
            .map_err(|e| format!("{at}: {e}"))?;
        let stream: Box<dyn AsyncTokioStream> = match &tls {
            Tls::Implicit(config) => {
                let name = rustls::pki_types::ServerName::try_from(ch.smtp_host.clone())
                    .map_err(|e| format!("{at}: `{}` as a TLS server name: {e}", ch.smtp_host))?;
                let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("{at}: TLS: {e}"))?;
                Box::new(TlsStream(tls))
            }
            Tls::Starttls(_) | Tls::None => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &hello)
            .await
            .map_err(|e| smtp_error(&at, e))?;
        if let Tls::Starttls(parameters) = tls {
            conn.starttls(parameters, &hello)
                .await
                .map_err(|e| smtp_error(&at, e))?;
        }
        if let Some(c) = &ch.credentials {
            match c.login() {
                Ok(Some((user, secret))) => {
                    let credentials = Credentials::new(user, secret.expose().to_string());
                    conn.auth(DEFAULT_MECHANISMS, &credentials)
                        .await
                        .map_err(|e| smtp_error(&at, e))?;
                }
                Ok(None) => {}
                Err(e) => return Err(format!("email: credentials `{}`: {e}", c.name).into()),
            }
        }
        Ok(conn)
    }

    /// The TLS settings of the channel's mode, trusting the system's roots and `ca_file`.
    fn tls_settings(&self) -> Result<Tls, String> {
        let ch = &self.channel;
        let extra: &[Vec<u8>] = ch.ca_file.as_ref().map_or(&[], |ca| &ca.certificates);
        match ch.security {
            SmtpSecurity::None => Ok(Tls::None),
            SmtpSecurity::Tls if extra.is_empty() => {
                vigie_collectors::http::client_config(&crate::config::TlsTrust::System)
                    .map(Tls::Implicit)
                    .map_err(|e| e.to_string())
            }
            SmtpSecurity::Tls => vigie_collectors::http::client_config_with_roots(extra)
                .map(Tls::Implicit)
                .map_err(|e| format!("ca_file: {e}")),
            SmtpSecurity::Starttls => {
                let mut tls = TlsParameters::builder(ch.smtp_host.clone());
                for der in extra {
                    let cert = lettre::transport::smtp::client::Certificate::from_der(der.clone())
                        .map_err(|e| format!("ca_file: {e}"))?;
                    tls = tls.add_root_certificate(cert);
                }
                tls.build_rustls()
                    .map(Tls::Starttls)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

fn smtp_error(at: &str, e: lettre::transport::smtp::Error) -> SendError {
    SendError {
        message: format!("{at}: {e}"),
        permanent: e.is_permanent(),
    }
}

/// Closes the connections idle for longer than [`IDLE_MAX`] until the relay is dropped.
async fn close_idle(relay: Weak<Relay>) {
    loop {
        tokio::time::sleep(IDLE_MAX / 2).await;
        let Some(relay) = relay.upgrade() else {
            return;
        };
        let stale: Vec<AsyncSmtpConnection> = {
            let mut idle = relay.lock();
            let (keep, stale): (Vec<_>, Vec<_>) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|(_, since)| since.elapsed() < IDLE_MAX);
            *idle = keep;
            stale.into_iter().map(|(c, _)| c).collect()
        };
        drop(relay);
        for mut c in stale {
            let _ = c.quit().await;
        }
    }
}

/// A TLS stream opened before the SMTP greeting (implicit TLS, port 465).
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
