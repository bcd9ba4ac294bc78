//! The API over HTTPS: rustls with the certificate and key of `[daemon] tls_certificate` and
//! `tls_key`, swapped in place when a reload brings new files (connections already open keep
//! theirs; the next handshake takes the new one).

use crate::config::{ApiTls, Config};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// The certificate handshakes are answered with, replaceable while the server runs.
#[derive(Debug)]
pub struct CertSwap {
    current: RwLock<(Arc<CertifiedKey>, Option<ApiTls>)>,
}

impl ResolvesServerCert for CertSwap {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c.0))
    }
}

/// A certificate chain and its key, checked to belong together.
pub fn certified(tls: &ApiTls) -> Result<CertifiedKey, String> {
    let key = rustls::crypto::ring::sign::any_supported_type(&tls.private_key)
        .map_err(|e| format!("the key in {} is not usable: {e}", tls.key.display()))?;
    let ck = CertifiedKey::new(tls.chain.clone(), key);
    ck.keys_match().map_err(|e| {
        format!(
            "the key in {} does not match the certificate in {}: {e}",
            tls.key.display(),
            tls.certificate.display()
        )
    })?;
    Ok(ck)
}

impl CertSwap {
    /// Starts with `tls`.
    pub fn new(tls: &ApiTls) -> Result<Arc<CertSwap>, String> {
        Ok(Arc::new(CertSwap {
            current: RwLock::new((Arc::new(certified(tls)?), Some(tls.clone()))),
        }))
    }

    /// Takes `tls` if it differs from the one in use, answering whether it did; a pair that
    /// does not match is refused (logged) and the one in use stays.
    pub fn update(&self, tls: &ApiTls) -> bool {
        let same = self.current.read().is_ok_and(|c| c.1.as_ref() == Some(tls));
        if same {
            return false;
        }
        match certified(tls) {
            Ok(ck) => {
                if let Ok(mut c) = self.current.write() {
                    *c = (Arc::new(ck), Some(tls.clone()));
                }
                tracing::info!(certificate = %tls.certificate.display(), "API certificate reloaded");
                true
            }
            Err(e) => {
                tracing::error!("API certificate not reloaded, the previous one stays: {e}");
                false
            }
        }
    }
}

/// The rustls settings of the API: TLS 1.2 and 1.3 with ring, HTTP/1.1, the certificate from
/// `swap`.
pub fn server_config(swap: Arc<CertSwap>) -> Result<rustls::ServerConfig, String> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_cert_resolver(swap);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Follows the config in force: a reload with other certificate files (or new contents)
/// swaps the certificate; one without TLS keeps the last (switching between HTTP and HTTPS
/// takes a restart, which the log says).
pub async fn follow(
    mut config: watch::Receiver<Option<Arc<Config>>>,
    swap: Arc<CertSwap>,
    swapped: impl Fn(&ApiTls),
) {
    while config.changed().await.is_ok() {
        let cfg = config.borrow_and_update().clone();
        let Some(cfg) = cfg else { continue };
        match &cfg.daemon.tls {
            Some(tls) => {
                if swap.update(tls) {
                    swapped(tls);
                }
            }
            None => tracing::warn!(
                "[daemon] no longer names a TLS certificate: the API keeps serving HTTPS with the last one until a restart"
            ),
        }
    }
}
