//! Who is told what (R10, R11): the recipients of an alert change at an instant, the
//! deliveries that carry it (one per recipient, on the recipient's first channel), and the
//! text of each message in the recipient's language. Pure: the daemon's dispatcher keeps
//! the deliveries in the store's outbox and sends them.

use crate::alert::{Alert, AlertEvent, Change, Severity};
use crate::config::{ChannelKind, Config, ContactId, Language, OnCall, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which change of an alert a message is about.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// The alert opened (or was notified once its maintenance window ended).
    Opened,
    /// It got worse or better while open.
    Updated,
    /// Its condition cleared.
    Resolved,
    /// An operator closed it.
    Closed,
    /// Not handled in time: the next escalation level is told (R12).
    Escalated,
    /// Still not acknowledged: the on-call technicians are reminded.
    Reminder,
    /// A test message asked by an admin.
    Test,
    /// An intervention ticket changed: told to the external ticketing tool.
    Ticket,
    /// A client's monthly report, attached.
    Report,
}

impl Step {
    /// The name used in Message-IDs and logs.
    pub fn name(self) -> &'static str {
        match self {
            Step::Opened => "opened",
            Step::Updated => "updated",
            Step::Resolved => "resolved",
            Step::Closed => "closed",
            Step::Escalated => "escalated",
            Step::Reminder => "reminder",
            Step::Test => "test",
            Step::Ticket => "ticket",
            Step::Report => "report",
        }
    }
}

/// One message to one contact on one channel, kept in the outbox until the channel accepts
/// it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Outbox number.
    pub id: u64,
    /// Event that caused it (0 for a test message).
    pub seq: u64,
    /// The alert as the event left it.
    pub alert: Alert,
    /// Which change.
    pub step: Step,
    /// Recipient.
    pub contact: ContactId,
    /// Channel in use (the contact's first; a later one after repeated failures).
    pub channel: ChannelKind,
    /// Language of the message.
    pub language: Language,
    /// Failed attempts on this channel.
    pub attempts: u32,
    /// Not before.
    pub next_at: DateTime<Utc>,
    /// When it entered the outbox.
    pub created_at: DateTime<Utc>,
    /// The last failure, with its channel.
    pub last_error: Option<String>,
    /// Channels given up on, with why.
    #[serde(default)]
    pub failed_channels: Vec<(ChannelKind, String)>,
    /// Other new alerts of the same site told in the same message (grouping window).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Alert>,
    /// Earlier changes of this alert series not sent (over `max_per_hour`), told here.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub held_back: u32,
    /// For the ticketing tool ([`Step::Ticket`]): the ticket change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Box<crate::ticket::TicketEvent>>,
    /// For a monthly report ([`Step::Report`]): which, and its archived file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportRef>,
}

/// A monthly report sent as an attachment.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRef {
    /// The client.
    pub client: String,
    /// Its name.
    pub name: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The archived report.
    #[schema(value_type = String)]
    pub file: std::path::PathBuf,
}

/// The recipient named on a delivery to the external ticketing tool.
pub const TICKETING_TOOL: &str = "ticketing-tool";

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Delivery {
    /// A delivery of `step` about `alert` to a recipient (who, on which channel, in which
    /// language), due at `at`, not tried yet.
    pub fn new(
        id: u64,
        seq: u64,
        alert: Alert,
        step: Step,
        (contact, channel, language): (ContactId, ChannelKind, Language),
        at: DateTime<Utc>,
    ) -> Delivery {
        Delivery {
            id,
            seq,
            alert,
            step,
            contact,
            channel,
            language,
            attempts: 0,
            next_at: at,
            created_at: at,
            last_error: None,
            failed_channels: Vec::new(),
            also: Vec::new(),
            held_back: 0,
            ticket: None,
            report: None,
        }
    }

    /// Whether it has only its channel (the ticketing tool's webhook, a report by email): no
    /// fallback to the contact's next channel.
    pub fn single_channel(&self) -> bool {
        self.ticket.is_some() || self.report.is_some()
    }

    /// The key a channel may use to recognise a duplicate (Message-ID, SMS reference,
    /// webhook fingerprint): the same for every attempt of this message.
    pub fn idempotency_key(&self) -> String {
        if let Some(r) = &self.report {
            return format!("vigie-report-{}-{}-{}", r.client, r.month, self.contact);
        }
        if let Some(t) = &self.ticket {
            return format!(
                "vigie-ticket-{}-{}-{}",
                t.ticket.number,
                t.change.name(),
                self.seq
            );
        }
        format!(
            "vigie-{}-{}-{}-{}",
            self.alert.id,
            self.step.name(),
            self.seq,
            self.contact
        )
    }
}

/// The technician whose turn it is at `at`, before overrides. A turn of whole days hands over
/// at the start's local time of day in the on-call time zone, whatever the DST changes in
/// between; other turn lengths count elapsed time.
pub fn turn_at(on_call: &OnCall, at: DateTime<Utc>) -> Option<&ContactId> {
    let n = on_call.technicians.len();
    if n == 0 {
        return None;
    }
    let secs = on_call.rotation.as_secs().max(1) as i64;
    let turns = if secs % 86_400 == 0 {
        let tz = on_call.timezone;
        let start = on_call.rotation_start.with_timezone(&tz).naive_local();
        let now = at.with_timezone(&tz).naive_local();
        let mut days = (now.date() - start.date()).num_days();
        if now.time() < start.time() {
            days -= 1;
        }
        days.div_euclid(secs / 86_400)
    } else {
        (at - on_call.rotation_start).num_seconds().div_euclid(secs)
    };
    on_call.technicians.get(turns.rem_euclid(n as i64) as usize)
}

/// Who holds `role` at `at`: the rotation's technician or the configured manager, unless an
/// override covers that instant (the last one listed wins).
pub fn holder(on_call: &OnCall, role: Role, at: DateTime<Utc>) -> Option<ContactId> {
    let usual = match role {
        Role::Technician => turn_at(on_call, at).cloned(),
        Role::Manager => on_call.manager.clone(),
        Role::TechnicalManager => on_call.technical_manager.clone(),
    };
    on_call
        .overrides
        .iter()
        .rev()
        .find(|o| {
            o.role == role
                && o.from <= at
                && at < o.until
                && o.replaces
                    .as_ref()
                    .is_none_or(|r| Some(r) == usual.as_ref())
        })
        .map(|o| o.by.clone())
        .or(usual)
}

/// The technician on call at `at`, overrides included.
pub fn technician_at(on_call: &OnCall, at: DateTime<Utc>) -> Option<ContactId> {
    holder(on_call, Role::Technician, at)
}

/// The next instants after `at` when a role may change hands (turn boundaries and override
/// bounds), the first `n` of them.
pub fn handovers(on_call: &OnCall, at: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut out: Vec<DateTime<Utc>> = Vec::new();
    for o in &on_call.overrides {
        for t in [o.from, o.until] {
            if t > at {
                out.push(t);
            }
        }
    }
    // Turn boundaries: scan forward by the hour over the next turns (DST-proof).
    if on_call.technicians.len() > 1 {
        let mut t = at;
        let mut current = turn_at(on_call, at).cloned();
        let limit =
            at + chrono::Duration::seconds(on_call.rotation.as_secs() as i64 * (n as i64 + 1));
        let mut step = chrono::Duration::hours(1);
        if on_call.rotation.as_secs() < 7200 {
            step = chrono::Duration::minutes(1);
        }
        while t < limit && out.iter().filter(|x| **x > at).count() < n * 2 {
            let next = t + step;
            let who = turn_at(on_call, next).cloned();
            if who != current {
                // Narrow down to the minute.
                let mut lo = t;
                while lo < next {
                    lo += chrono::Duration::minutes(1);
                    if turn_at(on_call, lo).cloned() != current {
                        break;
                    }
                }
                out.push(lo);
                current = who;
            }
            t = next;
        }
    }
    out.sort();
    out.dedup();
    out.truncate(n);
    out
}

/// Which step of an alert event is told, if any.
pub fn step_of(event: &AlertEvent) -> Option<Step> {
    if !event.notify {
        return None;
    }
    match event.change {
        Change::Opened | Change::Notified => Some(Step::Opened),
        Change::Updated => Some(Step::Updated),
        Change::Resolved => Some(Step::Resolved),
        Change::Closed => Some(Step::Closed),
        Change::Escalated => Some(Step::Escalated),
        Change::Reminded => Some(Step::Reminder),
        Change::Acknowledged | Change::Noted => None,
    }
}

/// Who is told of an alert change: at level 0 (R10, R11) the technician on call at `at`,
/// and the client's contacts for a critical alert when its contract asks for them; an
/// escalation (R12) goes to the role of its level (the on-call manager, then the technical
/// manager); the end of an escalated alert goes to level 0 and to the roles it reached.
pub fn recipients(cfg: &Config, alert: &Alert, step: Step, at: DateTime<Utc>) -> Vec<ContactId> {
    let mut out: Vec<ContactId> = Vec::new();
    let role = |level: u8| {
        let (o, r) = (cfg.on_call.as_ref()?, Role::of_level(level)?);
        holder(o, r, at)
    };
    if step == Step::Escalated {
        return role(alert.escalation_level).into_iter().collect();
    }
    if let Some(t) = cfg.on_call.as_ref().and_then(|o| technician_at(o, at)) {
        out.push(t);
    }
    if step == Step::Reminder {
        return out;
    }
    if matches!(step, Step::Resolved | Step::Closed) {
        for level in 1..=alert.escalation_level {
            if let Some(r) = role(level)
                && !out.contains(&r)
            {
                out.push(r);
            }
        }
    }
    if alert.severity == Severity::Critical
        && let Some(site) = cfg.sites.get(&alert.site)
        && let Some(client) = cfg.clients.get(&site.client)
        && client.contract.direct_critical_alerts
    {
        for c in &client.contract.contacts {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
    }
    out
}

/// The deliveries of one alert event: one per recipient that has a channel; their ids are
/// taken from `next_id`.
pub fn plan(
    cfg: &Config,
    seq: u64,
    event: &AlertEvent,
    at: DateTime<Utc>,
    next_id: &mut dyn FnMut() -> u64,
) -> Vec<Delivery> {
    let Some(step) = step_of(event) else {
        return Vec::new();
    };
    // New alerts wait for the grouping window, so a site's alerts go out together.
    let window = chrono::Duration::from_std(cfg.notifications.group_window)
        .unwrap_or(chrono::Duration::zero());
    let send_at = if step == Step::Opened {
        at + window
    } else {
        at
    };
    recipients(cfg, &event.alert, step, at)
        .into_iter()
        .filter_map(|id| {
            let contact = cfg.contacts.get(&id)?;
            let channel = *contact.channels.first()?;
            let mut d = Delivery::new(
                next_id(),
                seq,
                event.alert.clone(),
                step,
                (id, channel, contact.language),
                at,
            );
            d.next_at = send_at;
            Some(d)
        })
        .collect()
}

/// A message rendered for one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Subject (email) or first line.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML version of the text.
    pub html: String,
    /// One SMS segment (160 characters at most) with the essentials.
    pub sms: String,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The message of a delivery, in its language.
pub fn render(d: &Delivery) -> Rendered {
    let a = &d.alert;
    let fr = d.language == Language::Fr;
    if let Some(r) = &d.report {
        let subject = if fr {
            format!("[vigie] Rapport mensuel {} — {}", r.name, r.month)
        } else {
            format!("[vigie] Monthly report {} — {}", r.name, r.month)
        };
        let text = if fr {
            format!(
                "Bonjour,\n\nVous trouverez ci-joint le rapport de supervision de {} pour {} : disponibilité, incidents, tendances et recommandations de maintenance.\n\n-- vigie",
                r.name, r.month
            )
        } else {
            format!(
                "Hello,\n\nPlease find attached the supervision report of {} for {}: availability, incidents, trends and maintenance recommendations.\n\n-- vigie",
                r.name, r.month
            )
        };
        let html = format!("<p>{}</p>", escape_html(&text).replace('\n', "<br>"));
        return Rendered {
            sms: subject.chars().take(160).collect(),
            subject,
            text,
            html,
        };
    }
    let severity = match (a.severity, fr) {
        (Severity::Critical, true) => "CRITIQUE",
        (Severity::Warning, true) => "AVERTISSEMENT",
        (Severity::Critical, false) => "CRITICAL",
        (Severity::Warning, false) => "WARNING",
    };
    let what = match (d.step, fr) {
        (Step::Opened, true) => "nouvelle alerte",
        (Step::Updated, true) => "alerte modifiée",
        (Step::Resolved, true) => "alerte résolue",
        (Step::Closed, true) => "alerte clôturée",
        (Step::Escalated, true) => "ESCALADE: alerte non traitée",
        (Step::Reminder, true) => "RAPPEL: alerte non acquittée",
        (Step::Test, true) => "message de test",
        (Step::Ticket, true) => "ticket d'intervention",
        (Step::Report, true) => "rapport mensuel",
        (Step::Opened, false) => "new alert",
        (Step::Updated, false) => "alert updated",
        (Step::Resolved, false) => "alert resolved",
        (Step::Closed, false) => "alert closed",
        (Step::Escalated, false) => "ESCALATION: alert not handled",
        (Step::Reminder, false) => "REMINDER: alert not acknowledged",
        (Step::Test, false) => "test message",
        (Step::Ticket, false) => "intervention ticket",
        (Step::Report, false) => "monthly report",
    };
    let subject = if d.also.is_empty() {
        format!(
            "[vigie] #{} {severity} {} — {}: {}",
            a.id,
            a.site,
            what,
            a.summary_in(d.language)
        )
    } else if fr {
        format!(
            "[vigie] {} nouvelles alertes sur le site {}",
            d.also.len() + 1,
            a.site
        )
    } else {
        format!("[vigie] {} new alerts at site {}", d.also.len() + 1, a.site)
    };
    let labels = if fr {
        [
            "Alerte",
            "Site",
            "Concerne",
            "Règle",
            "Gravité",
            "Ouverte le",
            "État",
        ]
    } else {
        [
            "Alert",
            "Site",
            "Owner",
            "Rule",
            "Severity",
            "Opened at",
            "State",
        ]
    };
    let rows = [
        format!("#{}", a.id),
        a.site.to_string(),
        a.owner.to_string(),
        a.rule.to_string(),
        severity.to_string(),
        a.opened_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        a.state.to_string(),
    ];
    let mut text = format!("{}\n\n", a.summary_in(d.language));
    if d.held_back > 0 {
        text.push_str(&if fr {
            format!(
                "({} changements précédents de cette alerte n'ont pas été envoyés : elle change trop souvent)\n\n",
                d.held_back
            )
        } else {
            format!(
                "({} earlier changes of this alert were not sent: it changes too often)\n\n",
                d.held_back
            )
        });
    }
    let mut html = format!(
        "<p><strong>{}</strong></p>\n<table>\n",
        escape_html(a.summary_in(d.language))
    );
    for (l, v) in labels.iter().zip(&rows) {
        text.push_str(&format!("{l}: {v}\n"));
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
            escape_html(l),
            escape_html(v)
        ));
    }
    html.push_str("</table>\n");
    for other in &d.also {
        let line = format!(
            "#{} {} {}: {}",
            other.id,
            other.severity,
            other.owner,
            other.summary_in(d.language)
        );
        text.push_str(&format!("\n{line}\n"));
        html.push_str(&format!("<p>{}</p>\n", escape_html(&line)));
    }
    let sms_full = format!(
        "vigie #{} {severity} {} {}: {}",
        a.id,
        a.site,
        match a.owner {
            crate::alert::Owner::Equipment(ref e) => e.to_string(),
            crate::alert::Owner::Site(_) => String::new(),
        },
        match (d.step, fr) {
            (Step::Resolved, true) => format!("RÉSOLU {}", a.summary_in(d.language)),
            (Step::Resolved, false) => format!("RESOLVED {}", a.summary_in(d.language)),
            (Step::Closed, true) => format!("CLÔTURÉ {}", a.summary_in(d.language)),
            (Step::Closed, false) => format!("CLOSED {}", a.summary_in(d.language)),
            _ => a.summary_in(d.language).to_string(),
        }
    );
    let sms = if sms_full.chars().count() > 160 {
        let mut s: String = sms_full.chars().take(159).collect();
        s.push('…');
        s
    } else {
        sms_full
    };
    Rendered {
        subject,
        text,
        html,
        sms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Sources, load_sources};

    const MAIN: &str = r#"
[clients.acme]
name = "ACME"
contract = { direct_critical_alerts = true, contacts = ["acme-pc"] }
[contacts.jd]
name = "Julien"
email = "jd@example.org"
phone = "+33612345678"
[contacts.ml]
name = "Marie"
email = "ml@example.org"
language = "en"
channels = ["log", "email"]
[contacts.acme-pc]
name = "ACME PC"
phone = "+33698765432"
[contacts.boss]
name = "Manager"
email = "boss@example.org"
[contacts.tech]
name = "Technical manager"
email = "tech@example.org"
[on_call]
technicians = ["jd", "ml"]
rotation = "7d"
rotation_start = "2026-01-05T08:00:00+01:00"
manager = "boss"
technical_manager = "tech"
[channels.email]
smtp_host = "127.0.0.1"
smtp_port = 2525
security = "none"
from = "vigie@example.org"
[channels.sms]
gateway_url = "http://127.0.0.1:9/send"
[channels.log]
"#;
    const SITE: &str = "[site]\nname = \"Depot\"\nclient = \"acme\"\ntimezone = \"Europe/Paris\"\n[[equipment]]\nid = \"nvr-1\"\nkind = \"nvr\"\naddress = \"10.0.0.1\"\n";

    fn cfg() -> Config {
        load_sources(&Sources {
            main: Some(MAIN.into()),
            sites: vec![("sites/depot.toml".into(), SITE.into())],
            unreadable: Vec::new(),
            dir: None,
        })
        .expect("valid")
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn event(severity: &str, change: Change, notify: bool) -> AlertEvent {
        let alert: Alert = serde_json::from_value(serde_json::json!({
            "id": 12, "owner": {"equipment": "nvr-1"}, "site": "depot", "rule": "disk.usage{mountpoint=/hdd}",
            "severity": severity, "state": "open", "summary": "disk usage above 95 % (mountpoint=/hdd)",
            "opened_at": "2026-03-02T10:00:00Z", "updated_at": "2026-03-02T10:00:00Z", "notified": true, "timeline": []
        }))
        .expect("alert");
        AlertEvent {
            alert,
            change,
            notify,
        }
    }

    #[test]
    fn the_rotation_hands_over_at_its_time() {
        let c = cfg();
        let oc = c.on_call.as_ref().expect("on call");
        let who = |t: &str| technician_at(oc, at(t)).map(|c| c.to_string());
        // Monday 2026-01-05 08:00 at UTC+1 is 07:00 UTC.
        assert_eq!(who("2026-01-05T06:59:59Z").as_deref(), Some("ml"));
        assert_eq!(who("2026-01-05T07:00:00Z").as_deref(), Some("jd"));
        assert_eq!(who("2026-01-12T06:59:59Z").as_deref(), Some("jd"));
        assert_eq!(who("2026-01-12T07:00:00Z").as_deref(), Some("ml"));
    }

    fn paris() -> Config {
        let main = MAIN
            .replace(
                "rotation_start = \"2026-01-05T08:00:00+01:00\"",
                "rotation_start = \"2026-03-23T08:00\"\ntimezone = \"Europe/Paris\"",
            )
            .replace(
                "technical_manager = \"tech\"",
                "technical_manager = \"tech\"\n[[on_call.override]]\nfrom = \"2026-03-24T00:00\"\nuntil = \"2026-03-25T00:00\"\nreplaces = \"jd\"\nby = \"ml\"\n[[on_call.override]]\nfrom = \"2026-03-26T00:00\"\nuntil = \"2026-03-26T12:00\"\nrole = \"manager\"\nby = \"tech\"",
            );
        load_sources(&Sources {
            main: Some(main),
            sites: vec![("sites/depot.toml".into(), SITE.into())],
            unreadable: Vec::new(),
            dir: None,
        })
        .expect("valid")
    }

    #[test]
    fn hand_overs_keep_their_local_time_across_dst_and_overrides_replace_whom_they_say() {
        let c = paris();
        let oc = c.on_call.as_ref().expect("on call");
        let who = |t: &str| technician_at(oc, at(t)).map(|c| c.to_string());
        // 08:00 in Paris is 07:00 UTC before the change of 29 March, 06:00 UTC after it.
        assert_eq!(who("2026-03-23T06:59:00Z").as_deref(), Some("ml"));
        assert_eq!(who("2026-03-23T07:00:00Z").as_deref(), Some("jd"));
        assert_eq!(who("2026-03-30T05:59:00Z").as_deref(), Some("jd"));
        assert_eq!(who("2026-03-30T06:00:00Z").as_deref(), Some("ml"));
        // Julien's day off on the 24th (Paris time): Marie replaces him.
        assert_eq!(who("2026-03-23T22:59:00Z").as_deref(), Some("jd"));
        assert_eq!(who("2026-03-23T23:00:00Z").as_deref(), Some("ml"));
        assert_eq!(who("2026-03-24T23:00:00Z").as_deref(), Some("jd"));
        // The manager's override.
        let manager = |t: &str| holder(oc, Role::Manager, at(t)).map(|c| c.to_string());
        assert_eq!(manager("2026-03-25T12:00:00Z").as_deref(), Some("boss"));
        assert_eq!(manager("2026-03-26T10:00:00Z").as_deref(), Some("tech"));
        // The next hand-overs: the override's bounds and the turn change.
        let next = handovers(oc, at("2026-03-23T12:00:00Z"), 3);
        assert_eq!(
            next,
            [
                at("2026-03-23T23:00:00Z"),
                at("2026-03-24T23:00:00Z"),
                at("2026-03-25T23:00:00Z")
            ]
        );
        let turn = handovers(oc, at("2026-03-27T12:00:00Z"), 1);
        assert_eq!(turn, [at("2026-03-30T06:00:00Z")]);
    }

    #[test]
    fn level_zero_is_the_technician_on_call_and_the_client_for_critical_alerts() {
        let c = cfg();
        // The ninth turn since the rotation started: Marie's.
        let now = at("2026-03-10T10:00:00Z");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        let critical = plan(
            &c,
            40,
            &event("critical", Change::Opened, true),
            now,
            &mut next,
        );
        let who: Vec<(&str, ChannelKind, Language)> = critical
            .iter()
            .map(|d| (d.contact.as_str(), d.channel, d.language))
            .collect();
        assert_eq!(
            who,
            [
                ("ml", ChannelKind::Log, Language::En),
                ("acme-pc", ChannelKind::Sms, Language::Fr)
            ]
        );
        assert_eq!(critical[0].idempotency_key(), "vigie-12-opened-40-ml");
        let warning = plan(
            &c,
            41,
            &event("warning", Change::Opened, true),
            now,
            &mut next,
        );
        assert_eq!(warning.len(), 1, "a warning does not reach the client");
        assert!(
            plan(
                &c,
                42,
                &event("critical", Change::Opened, false),
                now,
                &mut next
            )
            .is_empty()
        );
        assert!(
            plan(
                &c,
                43,
                &event("critical", Change::Acknowledged, true),
                now,
                &mut next
            )
            .is_empty()
        );
        let resolved = plan(
            &c,
            44,
            &event("critical", Change::Resolved, true),
            now,
            &mut next,
        );
        assert_eq!(resolved.len(), 2);
        assert_eq!(resolved[0].step, Step::Resolved);
    }

    #[test]
    fn escalations_reach_the_manager_then_the_technical_manager_who_hear_of_the_end() {
        let c = cfg();
        let now = at("2026-03-10T10:00:00Z");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        let mut e = event("critical", Change::Escalated, true);
        e.alert.escalation_level = 1;
        let to = |ds: Vec<Delivery>| {
            ds.into_iter()
                .map(|d| d.contact.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(to(plan(&c, 50, &e, now, &mut next)), ["boss"]);
        e.alert.escalation_level = 2;
        assert_eq!(to(plan(&c, 51, &e, now, &mut next)), ["tech"]);
        e.change = Change::Resolved;
        assert_eq!(
            to(plan(&c, 52, &e, now, &mut next)),
            ["ml", "boss", "tech", "acme-pc"]
        );
        let d = &plan(
            &c,
            53,
            &event("critical", Change::Escalated, true),
            now,
            &mut next,
        );
        assert!(d.is_empty(), "level 0 has no role to escalate to");
        e.change = Change::Escalated;
        e.alert.escalation_level = 1;
        let ds = plan(&c, 54, &e, now, &mut next);
        assert!(
            render(&ds[0]).subject.contains("ESCALADE"),
            "{}",
            render(&ds[0]).subject
        ); // A reminder goes to the technician on call only, not to the client nor the roles.
        e.change = Change::Reminded;
        let ds = plan(&c, 55, &e, now, &mut next);
        assert_eq!(to(ds.clone()), ["ml"]);
        assert!(
            render(&ds[0])
                .subject
                .contains("REMINDER: alert not acknowledged"),
            "{}",
            render(&ds[0]).subject
        );
    }

    #[test]
    fn messages_are_in_the_recipients_language_and_sms_fit_one_segment() {
        let c = cfg();
        // The ninth turn since the rotation started: Marie's.
        let now = at("2026-03-10T10:00:00Z");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        let mut ds = plan(
            &c,
            40,
            &event("critical", Change::Opened, true),
            now,
            &mut next,
        );
        let en = render(&ds[0]);
        assert!(
            en.subject.contains("#12 CRITICAL depot — new alert"),
            "{}",
            en.subject
        );
        assert!(en.text.contains("Severity: CRITICAL"), "{}", en.text);
        let fr = render(&ds[1]);
        assert!(
            fr.subject.contains("#12 CRITIQUE depot — nouvelle alerte"),
            "{}",
            fr.subject
        );
        assert!(
            fr.html.contains("<th align=\"left\">Gravité</th>"),
            "{}",
            fr.html
        );
        assert!(
            fr.sms.starts_with("vigie #12 CRITIQUE depot nvr-1:"),
            "{}",
            fr.sms
        );
        ds[1].alert.summary = "x".repeat(400);
        let long = render(&ds[1]);
        assert_eq!(long.sms.chars().count(), 160);
        ds[1].alert.summary = "<script>".into();
        assert!(render(&ds[1]).html.contains("&lt;script&gt;"));
    }
}
