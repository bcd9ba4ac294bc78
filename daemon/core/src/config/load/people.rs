//! The people of the main file: contacts, clients and their contracts, on-call, escalation.

use super::*;

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
        config.contacts.insert(
            ContactId::new(id.get_ref()),
            Contact {
                id: ContactId::new(id.get_ref()),
                name: c.name.clone(),
                email: c.email.as_ref().map(|e| e.get_ref().clone()),
                phone: c.phone.as_ref().map(|p| p.get_ref().clone()),
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
        let rotation_start = match &oc.rotation_start {
            None => DateTime::<Utc>::UNIX_EPOCH,
            Some(s) => match DateTime::parse_from_rfc3339(s.get_ref()) {
                Ok(t) => t.with_timezone(&Utc),
                Err(_) => {
                    cx.at(
                        s,
                        format!(
                            "on_call.rotation_start: `{}` is not an RFC 3339 instant",
                            s.get_ref()
                        ),
                        Some("write it as `2026-01-05T08:00:00+01:00`".into()),
                    );
                    DateTime::<Utc>::UNIX_EPOCH
                }
            },
        };
        let manager = oc
            .manager
            .as_ref()
            .and_then(|m| names.resolve(cx, m, "on_call.manager"));
        let technical_manager = oc
            .technical_manager
            .as_ref()
            .and_then(|m| names.resolve(cx, m, "on_call.technical_manager"));
        config.on_call = Some(OnCall {
            technicians,
            rotation,
            rotation_start,
            manager,
            technical_manager,
        });
    }
}

/// `[escalation]`.
pub(super) fn escalation(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let esc = &raw.escalation;
    let day = Duration::from_secs(86_400);
    if let Some(a) = &esc.after
        && let Some(d) = cx.bounded_duration(a, "escalation.after", Duration::from_secs(60), day)
    {
        config.escalation.after = d;
    }
    if let Some(a) = &esc.then_after
        && let Some(d) =
            cx.bounded_duration(a, "escalation.then_after", Duration::from_secs(60), day)
    {
        config.escalation.then_after = d;
    }
}
