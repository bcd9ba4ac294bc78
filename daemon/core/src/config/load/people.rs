//! The people of the main file: contacts, clients and their contracts, on-call, escalation.

use super::*;
use chrono::TimeZone;

/// Resolves references to contacts, with a did-you-mean hint.
pub(super) struct ContactNames(Vec<String>);

impl ContactNames {
    pub(super) fn of(raw: &RawMain) -> Self {
        ContactNames(raw.contacts.keys().map(|k| k.get_ref().clone()).collect())
    }

    /// The contact `v` names, or an error at `v`.
    pub(super) fn resolve(
        &self,
        cx: &mut FileCx<'_>,
        v: &Spanned<String>,
        what: &str,
    ) -> Option<ContactId> {
        if self.0.iter().any(|c| c == v.get_ref()) {
            Some(ContactId::new(v.get_ref()))
        } else {
            let hint = did_you_mean(v.get_ref(), self.0.iter().map(String::as_str))
                .or_else(|| Some("declare it under `[contacts.ID]`".into()));
            cx.at(
                v,
                format!("{what}: no contact named `{}`", v.get_ref()),
                hint,
            );
            None
        }
    }
}

/// `[contacts.ID]`.
pub(super) fn contacts(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    for (id, c) in &raw.contacts {
        if !check_id(cx, id, "contact") {
            continue;
        }
        if let Some(e) = &c.email
            && !e.get_ref().contains('@')
        {
            cx.at(
                e,
                format!(
                    "contact `{}`: `{}` is not an email address",
                    id.get_ref(),
                    e.get_ref()
                ),
                None,
            );
        }
        if let Some(p) = &c.phone {
            let digits = p.get_ref().strip_prefix('+').unwrap_or("");
            if digits.len() < 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
                cx.at(
                    p,
                    format!(
                        "contact `{}`: `{}` is not a phone number in international form",
                        id.get_ref(),
                        p.get_ref()
                    ),
                    Some("write it as `+33612345678`".into()),
                );
            }
        }
        let language = language(
            cx,
            c.language.as_ref(),
            &format!("contact `{}`", id.get_ref()),
        );
        let channels = match &c.channels {
            None => {
                let mut list = Vec::new();
                if c.email.is_some() {
                    list.push(ChannelKind::Email);
                }
                if c.phone.is_some() {
                    list.push(ChannelKind::Sms);
                }
                list
            }
            Some(names) => {
                let mut list = Vec::new();
                for n in names {
                    match ChannelKind::ALL
                        .iter()
                        .find(|(name, _)| *name == n.get_ref())
                    {
                        Some((_, k)) if !list.contains(k) => list.push(*k),
                        Some(_) => {}
                        None => {
                            let hint =
                                did_you_mean(n.get_ref(), ChannelKind::ALL.iter().map(|(n, _)| *n))
                                    .or_else(|| {
                                        Some(listing(
                                            "use",
                                            ChannelKind::ALL.iter().map(|(n, _)| *n),
                                        ))
                                    });
                            cx.at(
                                n,
                                format!(
                                    "contact `{}`: `{}` is not a channel",
                                    id.get_ref(),
                                    n.get_ref()
                                ),
                                hint,
                            );
                        }
                    }
                }
                // Each channel named needs what it reaches the contact with.
                for n in names {
                    let missing = match n.get_ref().as_str() {
                        "email" if c.email.is_none() => Some("an `email` address"),
                        "sms" if c.phone.is_none() => Some("a `phone` number"),
                        _ => None,
                    };
                    if let Some(what) = missing {
                        cx.at(
                            n,
                            format!(
                                "contact `{}`: channel `{}` needs {what}",
                                id.get_ref(),
                                n.get_ref()
                            ),
                            None,
                        );
                    }
                }
                list
            }
        };
        config.contacts.insert(
            ContactId::new(id.get_ref()),
            Contact {
                id: ContactId::new(id.get_ref()),
                name: c.name.clone(),
                email: c.email.as_ref().map(|e| e.get_ref().clone()),
                phone: c.phone.as_ref().map(|p| p.get_ref().clone()),
                language,
                channels,
            },
        );
    }
}

/// `[clients.ID]` and their contracts.
pub(super) fn clients(
    cx: &mut FileCx<'_>,
    raw: &RawMain,
    config: &mut Config,
    names: &ContactNames,
) {
    for (id, c) in &raw.clients {
        if !check_id(cx, id, "client") {
            continue;
        }
        let lang = match &c.contract.report_language {
            None => "fr".to_string(),
            Some(l) if ["fr", "en"].contains(&l.get_ref().as_str()) => l.get_ref().clone(),
            Some(l) => {
                cx.at(
                    l,
                    format!("report_language: `{}` is not supported", l.get_ref()),
                    Some("use `fr` or `en`".into()),
                );
                "fr".to_string()
            }
        };
        let contacts = c
            .contract
            .contacts
            .iter()
            .flatten()
            .filter_map(|v| names.resolve(cx, v, &format!("client `{}`", id.get_ref())))
            .collect();
        config.clients.insert(
            ClientId::new(id.get_ref()),
            Client {
                id: ClientId::new(id.get_ref()),
                name: c.name.clone(),
                contract: Contract {
                    supervision: c.contract.supervision.unwrap_or(true),
                    dashboard: c.contract.dashboard.unwrap_or(false),
                    direct_critical_alerts: c.contract.direct_critical_alerts.unwrap_or(false),
                    report_language: lang,
                    contacts,
                },
            },
        );
    }
}

/// `[on_call]`.
pub(super) fn on_call(
    cx: &mut FileCx<'_>,
    raw: &RawMain,
    config: &mut Config,
    names: &ContactNames,
) {
    let oc = &raw.on_call;
    let has_on_call =
        !oc.technicians.is_empty() || oc.manager.is_some() || oc.technical_manager.is_some();
    if has_on_call {
        let technicians = oc
            .technicians
            .iter()
            .filter_map(|t| names.resolve(cx, t, "on_call.technicians"))
            .collect();
        let rotation = oc
            .rotation
            .as_ref()
            .and_then(|r| {
                cx.bounded_duration(
                    r,
                    "on_call.rotation",
                    Duration::from_secs(3600),
                    Duration::from_secs(90 * 86_400),
                )
            })
            .unwrap_or(Duration::from_secs(7 * 86_400));
        let timezone: Tz = oc
            .timezone
            .as_ref()
            .and_then(|z| zone(cx, z, "on_call.timezone"))
            .unwrap_or(chrono_tz::UTC);
        // An instant written in RFC 3339, or as a local time in the on-call time zone.
        let instant = |cx: &mut FileCx<'_>, s: &Spanned<String>, what: &str| {
            if let Ok(t) = DateTime::parse_from_rfc3339(s.get_ref()) {
                return Some(t.with_timezone(&Utc));
            }
            let local = NaiveDateTime::parse_from_str(s.get_ref(), "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(s.get_ref(), "%Y-%m-%dT%H:%M:%S"));
            match local {
                Ok(l) => timezone
                    .from_local_datetime(&l)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc)),
                Err(_) => {
                    cx.at(
                        s,
                        format!("{what}: `{}` is not a time", s.get_ref()),
                        Some(format!(
                            "write it as `2026-01-05T08:00` (local time in {}) or in RFC 3339",
                            timezone.name()
                        )),
                    );
                    None
                }
            }
        };
        let rotation_start = oc
            .rotation_start
            .as_ref()
            .and_then(|s| instant(cx, s, "on_call.rotation_start"))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let manager = oc
            .manager
            .as_ref()
            .and_then(|m| names.resolve(cx, m, "on_call.manager"));
        let technical_manager = oc
            .technical_manager
            .as_ref()
            .and_then(|m| names.resolve(cx, m, "on_call.technical_manager"));
        let mut overrides = Vec::new();
        for o in &oc.overrides {
            let role = match o.role.as_ref() {
                None => Some(Role::Technician),
                Some(r) => match Role::ALL.iter().find(|(n, _)| *n == r.get_ref()) {
                    Some((_, role)) => Some(*role),
                    None => {
                        let hint = did_you_mean(r.get_ref(), Role::ALL.iter().map(|(n, _)| *n));
                        cx.at(
                            r,
                            format!("on_call.override.role: `{}` is not a role", r.get_ref()),
                            hint,
                        );
                        None
                    }
                },
            };
            let from = instant(cx, &o.from, "on_call.override.from");
            let until = instant(cx, &o.until, "on_call.override.until");
            let by = names.resolve(cx, &o.by, "on_call.override.by");
            let replaces = match &o.replaces {
                Some(r) => names.resolve(cx, r, "on_call.override.replaces").map(Some),
                None => Some(None),
            };
            if let (Some(from), Some(until)) = (from, until)
                && until <= from
            {
                cx.at(
                    &o.until,
                    "on_call.override: `until` is not after `from`",
                    None,
                );
                continue;
            }
            if let (Some(role), Some(from), Some(until), Some(by), Some(replaces)) =
                (role, from, until, by, replaces)
            {
                overrides.push(Override {
                    from,
                    until,
                    role,
                    by,
                    replaces,
                });
            }
        }
        // Every role must be held at every instant: escalations would otherwise reach nobody.
        let section_span = oc
            .technicians
            .first()
            .map(|t| t.span())
            .or_else(|| oc.manager.as_ref().map(|m| m.span()))
            .or_else(|| oc.technical_manager.as_ref().map(|m| m.span()))
            .unwrap_or(0..0);
        for (role, missing) in [
            (Role::Technician, oc.technicians.is_empty()),
            (Role::Manager, oc.manager.is_none()),
            (Role::TechnicalManager, oc.technical_manager.is_none()),
        ] {
            if missing {
                let key = match role {
                    Role::Technician => "technicians",
                    Role::Manager => "manager",
                    Role::TechnicalManager => "technical_manager",
                };
                cx.error(
                    section_span.clone(),
                    format!(
                        "on_call: nobody holds the {} role at any time (uncovered from now on): set `{key}`",
                        role.name()
                    ),
                    None,
                );
            }
        }
        config.on_call = Some(OnCall {
            technicians,
            rotation,
            rotation_start,
            manager,
            technical_manager,
            timezone,
            overrides,
        });
    }
}

/// `[escalation]`.
pub(super) fn escalation(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let esc = &raw.escalation;
    let day = Duration::from_secs(86_400);
    if let Some(a) = &esc.after
        && let Some(d) = cx.bounded_duration(a, "escalation.after", Duration::from_secs(1), day)
    {
        config.escalation.after = d;
    }
    if let Some(a) = &esc.then_after
        && let Some(d) =
            cx.bounded_duration(a, "escalation.then_after", Duration::from_secs(1), day)
    {
        config.escalation.then_after = d;
    }
    if let Some(a) = &esc.remind_every
        && let Some(d) = cx.bounded_duration(a, "escalation.remind_every", Duration::ZERO, day)
    {
        config.escalation.remind_every = d;
    }
}

/// `[notifications]`.
pub(super) fn notifications(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let n = &raw.notifications;
    let hour = Duration::from_secs(3600);
    if let Some(v) = &n.retry_initial
        && let Some(d) = cx.bounded_duration(
            v,
            "notifications.retry_initial",
            Duration::from_millis(100),
            hour,
        )
    {
        config.notifications.retry_initial = d;
    }
    if let Some(v) = &n.retry_max
        && let Some(d) = cx.bounded_duration(
            v,
            "notifications.retry_max",
            Duration::from_millis(100),
            hour,
        )
    {
        config.notifications.retry_max = d;
    }
    if let Some(v) = &n.group_window
        && let Some(d) = cx.bounded_duration(
            v,
            "notifications.group_window",
            Duration::ZERO,
            Duration::from_secs(600),
        )
    {
        config.notifications.group_window = d;
    }
    if let Some(v) = &n.max_per_hour {
        match *v.get_ref() {
            1..=1000 => config.notifications.max_per_hour = *v.get_ref(),
            x => cx.at(
                v,
                format!("notifications.max_per_hour: {x} is out of range (1 to 1000)"),
                None,
            ),
        }
    }
    if let Some(v) = &n.attempts_per_channel {
        match *v.get_ref() {
            1..=100 => config.notifications.attempts_per_channel = *v.get_ref(),
            x => cx.at(
                v,
                format!("notifications.attempts_per_channel: {x} is out of range (1 to 100)"),
                None,
            ),
        }
    }
}

/// Every channel a contact names exists in `[channels]`; the channels a contact has by
/// default (email, then SMS) are those configured; with notification channels configured,
/// every contact must be reachable by one.
pub(super) fn reachable(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let configured = |k: &ChannelKind, config: &Config| match k {
        ChannelKind::Email => config.email.is_some(),
        ChannelKind::Sms => config.sms.is_some(),
        ChannelKind::Webhook => config.webhook.is_some(),
        ChannelKind::Log => config.log_channel,
    };
    let any_channel = ChannelKind::ALL.iter().any(|(_, k)| configured(k, config));
    for (id, c) in &raw.contacts {
        let key = ContactId::new(id.get_ref());
        let Some(mut channels) = config.contacts.get(&key).map(|c| c.channels.clone()) else {
            continue;
        };
        match &c.channels {
            None => channels.retain(|k| configured(k, config)),
            Some(names) => {
                for kind in &channels {
                    if configured(kind, config) {
                        continue;
                    }
                    let span = names
                        .iter()
                        .find(|n| n.get_ref() == kind.name())
                        .map(|n| n.span())
                        .unwrap_or_else(|| id.span());
                    cx.error(
                        span,
                        format!(
                            "contact `{}`: channel `{kind}` is not configured: add [channels.{kind}]",
                            id.get_ref()
                        ),
                        None,
                    );
                }
            }
        }
        if channels.is_empty() && any_channel {
            cx.at(
                id,
                format!(
                    "contact `{}` cannot be reached: none of its channels is configured (it needs an `email` with [channels.email], a `phone` with [channels.sms], or `channels = [...]`)",
                    id.get_ref()
                ),
                None,
            );
        }
        if let Some(contact) = config.contacts.get_mut(&key) {
            contact.channels = channels;
        }
    }
    if !any_channel && !config.contacts.is_empty() {
        cx.warn_at(
            &Spanned::new(0..0, ()),
            "no notification channel is configured ([channels.email], [channels.sms], [channels.webhook] or [channels.log]): nobody will be notified",
        );
    }
}

/// `[reports]`.
pub(super) fn reports(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let r = &raw.reports;
    if let Some(s) = r.send {
        config.reports.send = s;
    }
    if let Some(d) = &r.day {
        match u32::try_from(*d.get_ref()) {
            Ok(day @ 1..=28) => config.reports.day = day,
            _ => cx.at(
                d,
                format!("reports.day: {} is not a day between 1 and 28", d.get_ref()),
                None,
            ),
        }
    }
    if let Some(t) = &r.time {
        match chrono::NaiveTime::parse_from_str(t.get_ref(), "%H:%M") {
            Ok(time) => config.reports.time = time,
            Err(_) => cx.at(
                t,
                format!("reports.time: `{}` is not a time (HH:MM)", t.get_ref()),
                None,
            ),
        }
    }
    if let Some(tz) = r
        .timezone
        .as_ref()
        .and_then(|z| zone(cx, z, "reports.timezone"))
    {
        config.reports.timezone = tz;
    }
    if let Some(c) = &r.company {
        config.reports.company = c.trim().to_string();
    }
    if let Some(l) = &r.logo {
        let path = match &cx.base {
            Some(dir) => dir.join(l.get_ref()),
            None => std::path::PathBuf::from(l.get_ref()),
        };
        match crate::config::Logo::read(&path) {
            Ok(logo) => config.reports.logo = Some(logo),
            Err(message) => cx.at(l, format!("reports.logo: {message}"), None),
        }
    }
    for (value, slot, key) in [
        (&r.colour, &mut config.reports.colour, "reports.colour"),
        (&r.accent, &mut config.reports.accent, "reports.accent"),
    ] {
        if let Some(v) = value {
            let c = v.get_ref();
            if c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|h| h.is_ascii_hexdigit()) {
                *slot = c.to_ascii_lowercase();
            } else {
                cx.at(
                    v,
                    format!("{key}: `{c}` is not a colour"),
                    Some("write it as `#rrggbb`, for example `#1f4e79`".into()),
                );
            }
        }
    }
}

/// A time zone by its IANA name, or an error at `z` saying what `key` should be.
fn zone(cx: &mut FileCx<'_>, z: &Spanned<String>, key: &str) -> Option<Tz> {
    let parsed = z.get_ref().parse::<Tz>().ok();
    if parsed.is_none() {
        cx.at(
            z,
            format!("{key}: `{}` is not a known time zone", z.get_ref()),
            Some("use an IANA zone name such as `Europe/Paris`".into()),
        );
    }
    parsed
}
