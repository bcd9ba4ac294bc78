//! `[daemon]` settings and the probe budget they imply.

use super::*;

/// `[daemon]`.
pub(super) fn daemon(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let d = &raw.daemon;
    config.daemon.collection = collection(
        cx,
        &Arc::default(),
        &CollectionKeys {
            interval: d
                .collection_interval
                .as_ref()
                .map(|v| ("collection_interval", v)),
            probe_timeout: d.probe_timeout.as_ref(),
            ping_count: d.ping_count.as_ref(),
            ping_timeout: d.ping_timeout.as_ref(),
            ping_retries: d.ping_retries.as_ref(),
        },
    );
    if let Some(v) = &d.listen {
        match v.get_ref().parse() {
            Ok(addr) => config.daemon.listen = addr,
            Err(_) => cx.at(
                v,
                format!("listen: `{}` is not an address and port", v.get_ref()),
                Some("write it as `127.0.0.1:8480` or `[::1]:8480`".into()),
            ),
        }
    }
    for v in d.server_names.iter().flatten() {
        let name = v
            .get_ref()
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.parse::<std::net::IpAddr>().is_err()
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if valid {
            config.daemon.server_names.push(name);
        } else {
            cx.at(
                v,
                format!("server_names: `{}` is not a host name", v.get_ref()),
                Some(
                    "write names such as `vigie.example.com`; IP addresses and `localhost` are always accepted"
                        .into(),
                ),
            );
        }
    }
    config.daemon.plain_http = d.plain_http.unwrap_or(false);
    match (&d.tls_certificate, &d.tls_key) {
        (None, None) => {}
        (Some(v), None) | (None, Some(v)) => cx.at(
            v,
            "tls_certificate and tls_key go together",
            Some("give both PEM files, or neither for plain HTTP".into()),
        ),
        (Some(c), Some(k)) => config.daemon.tls = api_tls(cx, c, k),
    }
    if let Some(v) = &d.retention
        && let Some(r) = cx.bounded_duration(
            v,
            "retention",
            Duration::from_secs(86_400),
            Duration::from_secs(100 * 365 * 86_400),
        )
    {
        config.daemon.retention = r;
    }
    if let Some(v) = &d.max_probes_in_flight {
        if *v.get_ref() == 0 {
            cx.at(v, "max_probes_in_flight must be at least 1", None);
        } else {
            config.daemon.max_probes_in_flight = *v.get_ref();
        }
    }
}

/// Reads the API's certificate chain and key, saying where a file is missing or not PEM.
fn api_tls(cx: &mut FileCx<'_>, cert: &Spanned<String>, key: &Spanned<String>) -> Option<ApiTls> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let cert_path = PathBuf::from(cert.get_ref());
    let key_path = PathBuf::from(key.get_ref());
    let chain: Result<Vec<_>, _> =
        CertificateDer::pem_file_iter(&cert_path).and_then(|it| it.collect::<Result<Vec<_>, _>>());
    let chain = match chain {
        Ok(c) if !c.is_empty() => Some(c),
        Ok(_) => {
            cx.at(
                cert,
                format!(
                    "tls_certificate: no PEM certificate in {}",
                    cert_path.display()
                ),
                None,
            );
            None
        }
        Err(e) => {
            cx.at(
                cert,
                format!(
                    "tls_certificate: {} cannot be read: {e}",
                    cert_path.display()
                ),
                None,
            );
            None
        }
    };
    let private_key = match PrivateKeyDer::from_pem_file(&key_path) {
        Ok(k) => Some(k),
        Err(e) => {
            cx.at(
                key,
                format!(
                    "tls_key: {} cannot be read as a PEM private key: {e}",
                    key_path.display()
                ),
                None,
            );
            None
        }
    };
    Some(ApiTls {
        certificate: cert_path,
        key: key_path,
        chain: chain?,
        private_key: Arc::new(private_key?),
    })
}

/// `[telemetry]`: the OTLP export, when an endpoint is given.
pub(super) fn telemetry(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let t = &raw.telemetry;
    let Some(endpoint) = &t.otlp_endpoint else {
        let unused = [
            ("interval", t.interval.as_ref()),
            ("timeout", t.timeout.as_ref()),
            ("instance", t.instance.as_ref()),
        ];
        for (what, v) in unused {
            if let Some(v) = v {
                cx.warn_at(
                    v,
                    format!(
                        "telemetry.{what} is set but otlp_endpoint is not: nothing is exported"
                    ),
                );
            }
        }
        if let Some(v) = &t.buffer {
            cx.warn_at(
                v,
                "telemetry.buffer is set but otlp_endpoint is not: nothing is exported",
            );
        }
        return;
    };
    let text = endpoint.get_ref().trim().trim_end_matches('/').to_string();
    match url::Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            cx.at(
                endpoint,
                format!("telemetry.otlp_endpoint: `{text}` is not an http:// or https:// URL"),
                Some("write the receiver's OTLP/HTTP base, e.g. `http://127.0.0.1:4318`".into()),
            );
            return;
        }
    }
    let mut otlp = Otlp {
        endpoint: text,
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        instance: None,
        traces: t.traces.unwrap_or(true),
        buffer: OTLP_BUFFER,
    };
    if let Some(v) = &t.interval
        && let Some(i) = cx.bounded_duration(
            v,
            "telemetry.interval",
            Duration::from_millis(100),
            Duration::from_secs(3600),
        )
    {
        otlp.interval = i;
    }
    if let Some(v) = &t.timeout
        && let Some(d) = cx.bounded_duration(
            v,
            "telemetry.timeout",
            Duration::from_millis(100),
            Duration::from_secs(120),
        )
    {
        otlp.timeout = d;
    }
    if let Some(v) = &t.instance {
        if v.get_ref().trim().is_empty() {
            cx.at(
                v,
                "telemetry.instance: empty",
                Some("name this daemon, or leave the key out for the host name".into()),
            );
        } else {
            otlp.instance = Some(v.get_ref().trim().to_string());
        }
    }
    if let Some(v) = &t.buffer {
        match *v.get_ref() {
            16..=1_000_000 => otlp.buffer = *v.get_ref() as usize,
            n => cx.at(
                v,
                format!("telemetry.buffer: {n} is out of range (16 to 1000000)"),
                None,
            ),
        }
    }
    config.telemetry.otlp = Some(otlp);
}

/// The collection settings written at one level (`[daemon]`, `[site]`, an equipment).
pub(super) struct CollectionKeys<'a> {
    /// The interval, with the name it was written under.
    pub interval: Option<(&'static str, &'a Spanned<String>)>,
    pub probe_timeout: Option<&'a Spanned<String>>,
    pub ping_count: Option<&'a Spanned<u16>>,
    pub ping_timeout: Option<&'a Spanned<String>>,
    pub ping_retries: Option<&'a Spanned<u16>>,
}

/// Collection settings: those of `parent`, overridden by the keys written at this level.
/// Shares the parent's when nothing is overridden.
pub(super) fn collection(
    cx: &mut FileCx<'_>,
    parent: &Arc<Collection>,
    keys: &CollectionKeys<'_>,
) -> Arc<Collection> {
    if keys.interval.is_none()
        && keys.probe_timeout.is_none()
        && keys.ping_count.is_none()
        && keys.ping_timeout.is_none()
        && keys.ping_retries.is_none()
    {
        return Arc::clone(parent);
    }
    let mut c = **parent;
    if let Some((name, v)) = keys.interval
        && let Some(i) = cx.bounded_duration(v, name, INTERVAL_MIN, INTERVAL_MAX)
    {
        c.interval = i;
    }
    if let Some(v) = keys.probe_timeout
        && let Some(t) = cx.bounded_duration(
            v,
            "probe_timeout",
            Duration::from_millis(100),
            Duration::from_secs(300),
        )
    {
        c.probe_timeout = t;
    }
    if let Some(v) = keys.ping_count {
        match *v.get_ref() {
            1..=20 => c.ping_count = *v.get_ref(),
            n => cx.at(
                v,
                format!("ping_count: {n} is out of range (1 to 20)"),
                None,
            ),
        }
    }
    if let Some(v) = keys.ping_retries {
        match *v.get_ref() {
            0..=5 => c.ping_retries = *v.get_ref(),
            n => cx.at(
                v,
                format!("ping_retries: {n} is out of range (0 to 5)"),
                None,
            ),
        }
    }
    if let Some(v) = keys.ping_timeout
        && let Some(t) = cx.bounded_duration(
            v,
            "ping_timeout",
            Duration::from_millis(50),
            Duration::from_secs(30),
        )
    {
        c.ping_timeout = t;
    }
    let ping_budget = c.ping_budget();
    if ping_budget >= c.probe_timeout {
        let span = keys
            .ping_timeout
            .map(|v| v.span())
            .or_else(|| keys.probe_timeout.map(|v| v.span()))
            .or_else(|| keys.ping_count.map(|v| v.span()))
            .or_else(|| keys.ping_retries.map(|v| v.span()))
            .unwrap_or(0..0);
        cx.error(
            span,
            format!(
                "ICMP rounds may take {} (ping_timeout and {} requests, {} retries), not less than probe_timeout ({}): a silent equipment would be reported unknown instead of down",
                crate::util::format_duration(ping_budget),
                c.ping_count,
                c.ping_retries,
                crate::util::format_duration(c.probe_timeout)
            ),
            Some("lower ping_timeout or ping_retries, or raise probe_timeout".into()),
        );
    }
    Arc::new(c)
}
