//! Credentials and the notification channels that use them.

use super::*;

/// `[credentials.NAME]`: secrets are read now, from their environment variable or file.
pub(super) fn credentials(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    for (id, c) in &raw.credentials {
        if !check_id(cx, id, "credentials") {
            continue;
        }
        let password = match (&c.password_env, &c.password_file) {
            (Some(_), Some(f)) => {
                cx.at(
                    f,
                    format!(
                        "credentials `{}`: give `password_env` or `password_file`, not both",
                        id.get_ref()
                    ),
                    None,
                );
                None
            }
            (Some(e), None) => Some(SecretSource::env(e.get_ref())),
            (None, Some(f)) => Some(SecretSource::file(f.get_ref())),
            (None, None) => None,
        };
        let privacy_password = match (&c.privacy_password_env, &c.privacy_password_file) {
            (Some(_), Some(f)) => {
                cx.at(f, format!("credentials `{}`: give `privacy_password_env` or `privacy_password_file`, not both", id.get_ref()), None);
                None
            }
            (Some(e), None) => Some(SecretSource::env(e.get_ref())),
            (None, Some(f)) => Some(SecretSource::file(f.get_ref())),
            (None, None) => None,
        };
        config.credentials.insert(
            id.get_ref().clone(),
            Arc::new(Credentials {
                name: id.get_ref().clone(),
                username: c.username.clone(),
                password,
                privacy_password,
            }),
        );
    }
}

/// Resolves references to credentials, with a did-you-mean hint.
pub(super) struct CredentialNames(Vec<String>);

impl CredentialNames {
    pub(super) fn of(raw: &RawMain) -> Self {
        CredentialNames(
            raw.credentials
                .keys()
                .map(|k| k.get_ref().clone())
                .collect(),
        )
    }

    /// The credentials `v` names, if set, from those already validated into `config`, or an
    /// error at `v` (a named entry that was itself refused resolves to nothing, silently: its
    /// own error is already reported).
    pub(super) fn resolve(
        &self,
        cx: &mut FileCx<'_>,
        config: &Config,
        v: &Option<Spanned<String>>,
        what: &str,
    ) -> Option<Arc<Credentials>> {
        let v = v.as_ref()?;
        if self.0.contains(v.get_ref()) {
            config.credentials.get(v.get_ref()).cloned()
        } else {
            let hint = did_you_mean(v.get_ref(), self.0.iter().map(String::as_str));
            cx.at(
                v,
                format!("{what}: no credentials named `{}`", v.get_ref()),
                hint,
            );
            None
        }
    }
}

/// `[channels.email]` and `[channels.sms]`.
pub(super) fn channels(
    cx: &mut FileCx<'_>,
    raw: &RawMain,
    config: &mut Config,
    names: &CredentialNames,
) {
    if let Some(e) = &raw.channels.email {
        if !e.from.get_ref().contains('@') {
            cx.at(
                &e.from,
                format!(
                    "channels.email.from: `{}` is not an email address",
                    e.from.get_ref()
                ),
                None,
            );
        }
        let security = match e.security.as_ref().map(|s| (s, s.get_ref().as_str())) {
            None | Some((_, "starttls")) => SmtpSecurity::Starttls,
            Some((_, "tls")) => SmtpSecurity::Tls,
            Some((_, "none")) => SmtpSecurity::None,
            Some((s, other)) => {
                cx.at(
                    s,
                    format!("channels.email.security: `{other}` is not a TLS mode"),
                    Some("use `starttls`, `tls` or `none`".into()),
                );
                SmtpSecurity::Starttls
            }
        };
        let loopback = matches!(e.smtp_host.as_str(), "localhost" | "::1")
            || e.smtp_host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if security == SmtpSecurity::None
            && !loopback
            && let Some(s) = &e.security
        {
            cx.at(
                s,
                format!(
                    "channels.email.security: `none` sends mail and the relay password in clear; it is allowed only to a relay on loopback, not `{}`",
                    e.smtp_host
                ),
                Some("use `starttls` or `tls`".into()),
            );
        }
        let credentials = names.resolve(cx, config, &e.credentials, "channels.email.credentials");
        let connections = match &e.connections {
            None => EMAIL_CONNECTIONS,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n @ 1..=64) => n,
                _ => {
                    cx.at(
                        n,
                        format!(
                            "channels.email.connections: {} is not between 1 and 64",
                            n.get_ref()
                        ),
                        None,
                    );
                    EMAIL_CONNECTIONS
                }
            },
        };
        let ca_file = e
            .ca_file
            .as_ref()
            .and_then(|f| match CaFile::read(f.get_ref()) {
                Ok(ca) => Some(ca),
                Err(message) => {
                    cx.at(f, format!("channels.email.ca_file: {message}"), None);
                    None
                }
            });
        config.email = Some(EmailChannel {
            connections,
            ca_file,
            smtp_host: e.smtp_host.clone(),
            smtp_port: e.smtp_port.unwrap_or(587),
            from: e.from.get_ref().clone(),
            credentials,
            security,
        });
    }
    if let Some(s) = &raw.channels.sms {
        let url = s.gateway_url.get_ref();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            cx.at(
                &s.gateway_url,
                format!("channels.sms.gateway_url: `{url}` is not an http(s) URL"),
                None,
            );
        }
        let credentials = names.resolve(cx, config, &s.credentials, "channels.sms.credentials");
        let method = s
            .method
            .as_ref()
            .map(|m| m.get_ref().to_ascii_uppercase())
            .unwrap_or_else(|| "POST".into());
        if !matches!(method.as_str(), "POST" | "PUT" | "GET")
            && let Some(m) = &s.method
        {
            cx.at(
                m,
                format!(
                    "channels.sms.method: `{}` is not POST, PUT or GET",
                    m.get_ref()
                ),
                None,
            );
        }
        let body = s
            .body
            .as_ref()
            .map(|b| b.get_ref().clone())
            .unwrap_or_else(|| {
                r#"{"to": "{to}", "text": "{text}", "reference": "{reference}"}"#.into()
            });
        if !body.contains("{text}") && !url.contains("{text}") {
            let span = s
                .body
                .as_ref()
                .map(|b| b.span())
                .unwrap_or(s.gateway_url.span());
            cx.error(
                span,
                "channels.sms.body: the template has no `{text}`: the message would not be sent",
                Some("write the provider's request with `{to}` and `{text}`".into()),
            );
        }
        config.sms = Some(SmsChannel {
            gateway_url: url.clone(),
            credentials,
            method,
            headers: s
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body,
            content_type: s
                .content_type
                .clone()
                .unwrap_or_else(|| "application/json".into()),
        });
    }
    if let Some(w) = &raw.channels.webhook {
        let (url, tls_trust) = http_target(cx, "channels.webhook", &w.url, &w.tls_trust);
        config.webhook = Some(WebhookChannel { url, tls_trust });
    }
    if let Some(t) = &raw.channels.tickets {
        let (url, tls_trust) = http_target(cx, "channels.tickets", &t.url, &t.tls_trust);
        let credentials = names.resolve(cx, config, &t.credentials, "channels.tickets.credentials");
        config.tickets = Some(TicketsChannel {
            url,
            tls_trust,
            credentials,
        });
    }
    config.log_channel = raw.channels.log.is_some();
}

/// The URL (http or https, with a host) and certificate trust of an HTTP channel.
fn http_target(
    cx: &mut FileCx<'_>,
    section: &str,
    url: &Spanned<String>,
    trust: &Option<Spanned<String>>,
) -> (String, TlsTrust) {
    let text = url.get_ref();
    if url::Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .is_none()
    {
        cx.at(
            url,
            format!("{section}.url: `{text}` is not an http(s) URL"),
            None,
        );
    }
    let tls_trust = match trust {
        None => TlsTrust::System,
        Some(t) => TlsTrust::parse(t.get_ref()).unwrap_or_else(|m| {
            cx.at(t, format!("{section}.tls_trust: {m}"), None);
            TlsTrust::System
        }),
    };
    (text.clone(), tls_trust)
}
