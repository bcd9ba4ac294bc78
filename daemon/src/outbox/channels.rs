//! The ways a delivery reaches a person: email through the SMTP relay (lettre), SMS through
//! the HTTP gateway, the Alertmanager-compatible webhook, and the log. Each answers once the
//! channel accepted the message, or says why it did not.

use super::smtp::Relay;
use crate::collectors::http::{self, HttpRequest, TlsTrust};
use crate::config::{ChannelKind, Config, Contact};
use crate::notify::{Delivery, Rendered, Step};
use base64::Engine as _;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use std::sync::Arc;
use std::time::Duration;

/// Longest one send may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a channel did not accept a message.
#[derive(Debug, Clone, PartialEq)]
pub struct SendError {
    /// What happened.
    pub message: String,
    /// The channel will not accept it however often it is tried (an SMTP 5xx, an HTTP 4xx
    /// other than 408 and 429, no address): the contact's next channel is used at once.
    pub permanent: bool,
}

impl From<String> for SendError {
    fn from(message: String) -> Self {
        SendError {
            message,
            permanent: false,
        }
    }
}

impl From<&str> for SendError {
    fn from(message: &str) -> Self {
        SendError::from(message.to_string())
    }
}

fn permanent(message: String) -> SendError {
    SendError {
        message,
        permanent: true,
    }
}

/// Connections kept between sends: the SMTP relay's, replaced when `[channels.email]`
/// changes.
#[derive(Default)]
pub struct Transports {
    email: std::sync::Mutex<Option<Arc<Relay>>>,
}

impl Transports {
    fn email(&self, ch: &crate::config::EmailChannel) -> Arc<Relay> {
        let mut slot = self.email.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(relay) if relay.channel() == ch => Arc::clone(relay),
            _ => {
                let relay = Relay::new(ch.clone());
                *slot = Some(Arc::clone(&relay));
                relay
            }
        }
    }
}

/// Sends `d` where it goes: the ticketing tool for a ticket change, else its contact on its
/// channel, rendered in the contact's language.
pub async fn deliver(cfg: &Config, transports: &Transports, d: &Delivery) -> Result<(), SendError> {
    if d.ticket.is_some() {
        return ticket(cfg, d).await;
    }
    let contact = cfg.contacts.get(&d.contact).ok_or_else(|| {
        permanent(format!(
            "contact `{}` is no longer in the config",
            d.contact
        ))
    })?;
    send(cfg, transports, contact, d, &crate::notify::render(d)).await
}

/// Sends `d` (rendered as `r`) to `contact` on the delivery's channel.
pub async fn send(
    cfg: &Config,
    transports: &Transports,
    contact: &Contact,
    d: &Delivery,
    r: &Rendered,
) -> Result<(), SendError> {
    let run = async {
        match d.channel {
            ChannelKind::Email => email(cfg, transports, contact, d, r).await,
            ChannelKind::Sms => sms(cfg, contact, d, r).await,
            ChannelKind::Webhook => webhook(cfg, contact, d).await,
            ChannelKind::Log => {
                tracing::info!(
                    target: "vigie::notify",
                    contact = %contact.id, alert = d.alert.id, step = d.step.name(),
                    key = %d.idempotency_key(),
                    "notification (log channel): {}", r.subject
                );
                Ok(())
            }
        }
    };
    match tokio::time::timeout(SEND_TIMEOUT, run).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{}: no answer within {}",
            d.channel,
            crate::util::format_duration(SEND_TIMEOUT)
        )
        .into()),
    }
}

/// Message-ID of the thread an alert's messages belong to.
fn thread_id(d: &Delivery) -> String {
    format!("<vigie-alert-{}@vigie>", d.alert.id)
}

async fn email(
    cfg: &Config,
    transports: &Transports,
    contact: &Contact,
    d: &Delivery,
    r: &Rendered,
) -> Result<(), SendError> {
    let ch = cfg
        .email
        .as_ref()
        .ok_or("email: [channels.email] is not configured")?;
    let to = contact
        .email
        .as_deref()
        .ok_or_else(|| permanent(format!("email: contact `{}` has no address", contact.id)))?;
    let from: Mailbox = ch
        .from
        .parse()
        .map_err(|e| format!("email: sender `{}`: {e}", ch.from))?;
    let to: Mailbox = format!("{} <{to}>", contact.name.replace(['<', '>', '"'], ""))
        .parse()
        .or_else(|_| to.parse())
        .map_err(|e| permanent(format!("email: address `{to}`: {e}")))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(r.subject.clone())
        // Stable per (alert, step, event, recipient): a resend is recognisable.
        .message_id(Some(format!("<{}@vigie>", d.idempotency_key())));
    if !matches!(d.step, Step::Test | Step::Report) {
        builder = builder.in_reply_to(thread_id(d)).references(thread_id(d));
    }
    let body = MultiPart::alternative_plain_html(r.text.clone(), r.html.clone());
    let body = match &d.report {
        // The monthly report, attached as it was archived.
        Some(report) => {
            let page = std::fs::read(&report.file).map_err(|e| {
                permanent(format!(
                    "email: the report {} cannot be read: {e}",
                    report.file.display()
                ))
            })?;
            let (ext, media) = match report.file.extension().and_then(|e| e.to_str()) {
                Some("pdf") => ("pdf", "application/pdf"),
                _ => ("html", "text/html; charset=utf-8"),
            };
            let name = format!("vigie-{}-{}.{ext}", report.client, report.month);
            let media = lettre::message::header::ContentType::parse(media)
                .map_err(|e| format!("email: {e}"))?;
            MultiPart::mixed()
                .multipart(body)
                .singlepart(lettre::message::Attachment::new(name).body(page, media))
        }
        None => body,
    };
    let message = builder
        .multipart(body)
        .map_err(|e| format!("email: cannot build the message: {e}"))?;
    transports
        .email(ch)
        .send(message.envelope(), &message.formatted())
        .await
}

/// Fills a template: `{to}`, `{text}`, `{reference}`, JSON-escaped for a JSON body.
fn fill(template: &str, to: &str, text: &str, reference: &str, json: bool) -> String {
    let esc = |s: &str| {
        if json {
            let quoted = serde_json::to_string(s).unwrap_or_default();
            quoted[1..quoted.len().saturating_sub(1)].to_string()
        } else {
            url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
        }
    };
    template
        .replace("{to}", &esc(to))
        .replace("{text}", &esc(text))
        .replace("{reference}", &esc(reference))
}

/// Splits an http(s) URL into what the client needs.
fn target(url: &str) -> Result<(String, u16, String, bool), String> {
    let u = url::Url::parse(url).map_err(|e| format!("`{url}`: {e}"))?;
    let tls = match u.scheme() {
        "http" => false,
        "https" => true,
        other => return Err(format!("`{url}`: `{other}` is not http or https")),
    };
    let host = u
        .host_str()
        .ok_or_else(|| format!("`{url}` has no host"))?
        .to_string();
    let port = u
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    Ok((host, port, path, tls))
}

/// One HTTP request to a notification endpoint; a 2xx answer is acceptance.
async fn post(
    what: &str,
    url: &str,
    method: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    trust: &TlsTrust,
) -> Result<(), SendError> {
    let (host, port, path, tls) = target(url).map_err(|e| permanent(format!("{what}: {e}")))?;
    let method = hyper::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("{what}: `{method}` is not an HTTP method"))?;
    let answer = http::exchange(HttpRequest {
        address: &host,
        port,
        method,
        path: &path,
        headers,
        body,
        timeout: SEND_TIMEOUT,
        max_body: 64 << 10,
        tls: tls.then(|| trust.clone()),
    })
    .await
    .map_err(|e| format!("{what}: {e}"))?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        let body: String = String::from_utf8_lossy(&answer.body)
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        Err(SendError {
            message: format!("{what}: HTTP {}: {body}", answer.status),
            permanent: (400..500).contains(&answer.status) && !matches!(answer.status, 408 | 429),
        })
    }
}

async fn sms(cfg: &Config, contact: &Contact, d: &Delivery, r: &Rendered) -> Result<(), SendError> {
    let ch = cfg
        .sms
        .as_ref()
        .ok_or("sms: [channels.sms] is not configured")?;
    let to = contact
        .phone
        .as_deref()
        .ok_or_else(|| permanent(format!("sms: contact `{}` has no phone number", contact.id)))?;
    let json = ch.content_type.contains("json");
    let reference = d.idempotency_key();
    let url = fill(&ch.gateway_url, to, &r.sms, &reference, false);
    let body = fill(&ch.body, to, &r.sms, &reference, json);
    let mut headers: Vec<(String, String)> = ch.headers.clone();
    headers.push(("content-type".into(), ch.content_type.clone()));
    if let Some(c) = &ch.credentials {
        headers.extend(authorization("sms", c, false)?);
    }
    let body = if ch.method == "GET" {
        Vec::new()
    } else {
        body.into_bytes()
    };
    post(
        "sms gateway",
        &url,
        &ch.method,
        headers,
        body,
        &TlsTrust::System,
    )
    .await
}

/// The `Authorization` header of credentials: HTTP Basic with a username; without one, a
/// bearer token when `bearer` allows it.
fn authorization(
    what: &str,
    c: &crate::config::Credentials,
    bearer: bool,
) -> Result<Option<(String, String)>, SendError> {
    let failed = |e: &dyn std::fmt::Display| -> SendError {
        format!("{what}: credentials `{}`: {e}", c.name).into()
    };
    match (&c.username, &c.password) {
        (Some(user), Some(p)) => {
            let secret = p.read().map_err(|e| failed(&e))?;
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{user}:{}", secret.expose()));
            Ok(Some(("authorization".into(), format!("Basic {token}"))))
        }
        (None, Some(p)) if bearer => {
            let secret = p.read().map_err(|e| failed(&e))?;
            Ok(Some((
                "authorization".into(),
                format!("Bearer {}", secret.expose()),
            )))
        }
        _ => Ok(None),
    }
}

/// Tells the external ticketing tool of a ticket change: a JSON POST with the ticket as it
/// stands after the change and the alert it is about.
pub async fn ticket(cfg: &Config, d: &Delivery) -> Result<(), SendError> {
    let ch = cfg
        .tickets
        .as_ref()
        .ok_or("tickets: [channels.tickets] is not configured")?;
    let t = d
        .ticket
        .as_ref()
        .ok_or_else(|| permanent("tickets: the delivery carries no ticket".into()))?;
    let body = serde_json::to_vec(&ticket_payload(d, t))
        .map_err(|e| SendError::from(format!("tickets: {e}")))?;
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("idempotency-key".to_string(), d.idempotency_key()),
    ];
    if let Some(c) = &ch.credentials {
        headers.extend(authorization("tickets", c, true)?);
    }
    post("tickets", &ch.url, "POST", headers, body, &ch.tls_trust).await
}

/// The JSON told to the ticketing tool.
pub fn ticket_payload(d: &Delivery, t: &crate::ticket::TicketEvent) -> serde_json::Value {
    let a = &d.alert;
    serde_json::json!({
        "version": "1",
        "change": t.change.name(),
        "idempotency_key": d.idempotency_key(),
        "ticket": t.ticket,
        "alert": {
            "id": a.id,
            "rule": a.rule.rule.name(),
            "severity": a.severity.to_string(),
            "state": a.state,
            "summary": a.summary,
            "site": a.site,
            "owner": a.owner.to_string(),
            "opened_at": a.opened_at,
        },
    })
}

/// The labels every alert of a webhook payload carries.
fn base_labels(a: &crate::alert::Alert) -> serde_json::Map<String, serde_json::Value> {
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), a.rule.rule.name().into());
    labels.insert("severity".into(), a.severity.to_string().into());
    labels.insert("site".into(), a.site.to_string().into());
    labels.insert("owner".into(), a.owner.to_string().into());
    labels.insert("alert_id".into(), a.id.to_string().into());
    labels
}

/// The Alertmanager webhook payload (version 4) of one delivery.
pub fn alertmanager_payload(d: &Delivery, receiver: &str) -> serde_json::Value {
    let a = &d.alert;
    let resolved = matches!(d.step, Step::Resolved | Step::Closed);
    let status = if resolved { "resolved" } else { "firing" };
    let mut labels = base_labels(a);
    for (k, v) in &a.rule.labels {
        labels
            .entry(k.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_"))
            .or_insert_with(|| v.clone().into());
    }
    let ends = if resolved {
        a.resolved_at
            .or(a.closed.as_ref().map(|c| c.at))
            .unwrap_or(a.updated_at)
            .to_rfc3339()
    } else {
        "0001-01-01T00:00:00Z".to_string()
    };
    let fingerprint = format!(
        "{:016x}",
        crate::util::stable_hash(d.idempotency_key().as_bytes())
    );
    let entry = |a: &crate::alert::Alert, labels, ends: &str, fingerprint: String| {
        serde_json::json!({
            "status": status,
            "labels": labels,
            "annotations": { "summary": a.summary, "state": a.state.to_string() },
            "startsAt": a.opened_at.to_rfc3339(),
            "endsAt": ends,
            "generatorURL": format!("vigie://alerts/{}", a.id),
            "fingerprint": fingerprint,
        })
    };
    // The other new alerts told in the same message (grouping window).
    let also = d.also.iter().map(|a| {
        let key = format!("{}-{}", a.id, d.idempotency_key());
        let fingerprint = format!("{:016x}", crate::util::stable_hash(key.as_bytes()));
        entry(a, base_labels(a), "0001-01-01T00:00:00Z", fingerprint)
    });
    let alert = entry(a, labels.clone(), &ends, fingerprint);
    serde_json::json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alert_id=\"{}\"}}", a.id),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": { "alert_id": a.id.to_string() },
        "commonLabels": labels,
        "commonAnnotations": { "summary": a.summary },
        "externalURL": "",
        "alerts": std::iter::once(alert).chain(also).collect::<Vec<_>>(),
    })
}

async fn webhook(cfg: &Config, contact: &Contact, d: &Delivery) -> Result<(), SendError> {
    let ch = cfg
        .webhook
        .as_ref()
        .ok_or("webhook: [channels.webhook] is not configured")?;
    let body = serde_json::to_vec(&alertmanager_payload(d, contact.id.as_str()))
        .map_err(|e| SendError::from(format!("webhook: {e}")))?;
    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("idempotency-key".to_string(), d.idempotency_key()),
    ];
    post("webhook", &ch.url, "POST", headers, body, &ch.tls_trust).await
}
