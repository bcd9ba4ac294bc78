//! What the command line prints: the status, sites and equipment from the API, the saved
//! state of a stopped daemon, a config's summary, plugin descriptions and reports. Text for a
//! terminal, JSON for scripts; the binary only writes them out.

use crate::alert::Alert;
use crate::config::Config;
use crate::plugins::{PluginInfo, PluginOutcome};
use crate::status::{EquipmentDetail, FleetStatus, SiteDetail};
use crate::store::Restored;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Something the command line shows, as text or as JSON.
pub trait View {
    /// Pretty JSON.
    fn json(&self) -> String;
    /// Text for a terminal.
    fn text(&self) -> String;
}

impl View for FleetStatus {
    fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
    fn text(&self) -> String {
        self.render()
    }
}

impl View for SiteDetail {
    fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
    fn text(&self) -> String {
        let mut out = format!(
            "site {} — {} (client {}, {})\n",
            self.site.id, self.site.name, self.site.client, self.site.timezone
        );
        if let Some(m) = &self.site.maintenance {
            out.push_str(&format!("in maintenance: {m}\n"));
        }
        for e in &self.equipment {
            out.push_str(&format!(
                "  {:<20} {:<10} {:<11} since {}{}{}\n",
                e.id,
                e.kind.name(),
                e.status.to_string(),
                e.since.format("%Y-%m-%d %H:%M:%S"),
                e.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                e.maintenance
                    .as_ref()
                    .map(|m| format!(" [maintenance: {m}]"))
                    .unwrap_or_default(),
            ));
        }
        for a in &self.alerts {
            out.push_str(&format!(
                "  alert #{} {} {} — {}\n",
                a.id, a.severity, a.state, a.summary
            ));
        }
        out
    }
}

impl View for EquipmentDetail {
    fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
    fn text(&self) -> String {
        let s = &self.summary;
        let mut out = format!(
            "{} — {} ({}, site {}): {} since {}\n",
            s.id,
            s.name,
            s.kind.name(),
            self.site,
            s.status,
            s.since.format("%Y-%m-%d %H:%M:%S")
        );
        if let Some(r) = &s.reason {
            out.push_str(&format!("reason: {r}\n"));
        }
        for series in &self.series {
            out.push_str(&format!(
                "  {} = {:.1} (level {})\n",
                series.key, series.value, series.level
            ));
        }
        for (k, v) in &self.facts {
            out.push_str(&format!("  {k}: {v}\n"));
        }
        if !self.metrics.is_empty() {
            out.push_str("metrics of the last answer:\n");
            for m in &self.metrics {
                let labels: Vec<String> = m
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                if labels.is_empty() {
                    out.push_str(&format!("  {} = {}\n", m.name, m.value));
                } else {
                    out.push_str(&format!(
                        "  {}{{{}}} = {}\n",
                        m.name,
                        labels.join(","),
                        m.value
                    ));
                }
            }
        }
        for a in &self.alerts {
            out.push_str(&format!(
                "  alert #{} {} {} — {}\n",
                a.id, a.severity, a.state, a.summary
            ));
        }
        out
    }
}

/// A config's summary, as `vigie check-config` prints it.
pub fn config_summary(cfg: &Config) -> String {
    let kinds: Vec<String> = cfg
        .equipment_by_kind()
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    let mut out = format!(
        "{} clients, {} sites, {} equipment ({})\n",
        cfg.clients.len(),
        cfg.sites.len(),
        cfg.equipment_count(),
        if kinds.is_empty() {
            "none".into()
        } else {
            kinds.join(", ")
        }
    );
    for s in cfg.sites.values() {
        out.push_str(&format!(
            "  {} — {} ({}, {}, tolerance {}, {} maintenance windows): {} equipment\n",
            s.id,
            s.name,
            s.client,
            s.timezone.name(),
            s.camera_tolerance,
            s.maintenance.len(),
            s.equipment.len()
        ));
    }
    out
}

/// `vigie plugin list`: one line per plugin in use, with where it comes from, then the
/// built-in plugins overridden and the files refused.
pub fn plugin_list(
    dir: &std::path::Path,
    list: &[PluginInfo],
    overridden: &[String],
    refused: &[String],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plugins directory {}", dir.display());
    let width = list.iter().map(|p| p.name.len()).max().unwrap_or(4).max(4);
    for p in list {
        let from = match p.origin {
            crate::plugins::Origin::BuiltIn => "built-in".to_string(),
            crate::plugins::Origin::Directory => p.file.display().to_string(),
        };
        let _ = writeln!(
            out,
            "{:width$}  {:8}  vigie:probe@{}  {}",
            p.name, p.version, p.api_version, from
        );
    }
    for name in overridden {
        let _ = writeln!(out, "built-in {name} overridden by the directory's");
    }
    for r in refused {
        let _ = writeln!(out, "refused: {r}");
    }
    out
}

/// `vigie plugin inspect`: what a plugin declares.
pub fn plugin_info(info: &PluginInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plugin     {} {}", info.name, info.version);
    let _ = writeln!(
        out,
        "file       {} ({} bytes)",
        info.file.display(),
        info.size
    );
    let _ = writeln!(out, "api        vigie:probe@{}", info.api_version);
    let _ = writeln!(out, "vendors    {}", info.vendors.join(", "));
    if !info.models.is_empty() {
        let _ = writeln!(out, "models     {}", info.models.join(", "));
    }
    let _ = writeln!(out, "kinds      {}", info.kinds.join(", "));
    if info.params.is_empty() {
        let _ = writeln!(out, "params     none");
    } else {
        let _ = writeln!(out, "params");
    }
    for p in &info.params {
        let default = match (&p.default, p.required) {
            (Some(d), _) => format!(" (default `{d}`)"),
            (None, true) => " (required)".to_string(),
            (None, false) => String::new(),
        };
        let _ = writeln!(out, "  {:<16} {}{default}", p.name, p.description);
    }
    out
}

/// One plugin collection, as `vigie plugin run` prints it.
pub fn plugin_outcome(outcome: &PluginOutcome) -> String {
    let mut out = String::new();
    let obs = &outcome.observation;
    let _ = writeln!(out, "status     {}", obs.status);
    for (k, v) in &obs.facts {
        let _ = writeln!(out, "fact       {k} = {v}");
    }
    for m in &obs.metrics {
        let _ = writeln!(out, "metric     {}{} = {}", m.name, m.labels(), m.value);
    }
    for c in &outcome.channels {
        let state = match c.online {
            Some(true) => "online",
            Some(false) => "offline",
            None => "unknown",
        };
        let name = c
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let detail = c
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let _ = writeln!(out, "channel    {}{name} {state}{detail}", c.channel);
    }
    out
}

/// The saved state of a stopped daemon: equipment by status and live alerts.
pub struct SavedState<'a> {
    /// The data directory it was read from.
    pub data: &'a Path,
    /// Equipment by status.
    pub by_status: BTreeMap<String, usize>,
    /// Live alerts, by number.
    pub alerts: Vec<Alert>,
    /// The site or equipment it was narrowed to (`--site`, `--equipment`).
    pub scope: Option<String>,
}

impl<'a> SavedState<'a> {
    /// Narrowed to one site's alerts (saved state does not say which equipment a site has);
    /// `None` when nothing saved names the site.
    pub fn site(mut self, restored: &Restored, site: &str) -> Option<Self> {
        self.alerts.retain(|a| a.site.as_str() == site);
        let known = !self.alerts.is_empty()
            || restored
                .sites
                .contains_key(&crate::config::SiteId::new(site));
        self.by_status.clear();
        self.scope = Some(format!("site {site}"));
        known.then_some(self)
    }

    /// Narrowed to one equipment; `None` when nothing is saved for it.
    pub fn equipment(mut self, restored: &Restored, id: &str) -> Option<Self> {
        let state = restored
            .equipment
            .get(&crate::config::EquipmentId::new(id))?;
        self.by_status = BTreeMap::from([(state.status.to_string(), 1)]);
        self.alerts = state
            .alerts
            .iter()
            .filter(|a| a.state.is_live())
            .cloned()
            .collect();
        self.scope = Some(match &state.reason {
            Some(r) => format!(
                "equipment {id}: {} since {} ({r})",
                state.status, state.since
            ),
            None => format!("equipment {id}: {} since {}", state.status, state.since),
        });
        Some(self)
    }

    /// Summarises what was read back from `data`.
    pub fn of(data: &'a Path, restored: &Restored) -> Self {
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        let mut alerts: Vec<Alert> = Vec::new();
        for s in restored.equipment.values() {
            *by_status.entry(s.status.to_string()).or_insert(0) += 1;
            alerts.extend(s.alerts.iter().filter(|a| a.state.is_live()).cloned());
        }
        for s in restored.sites.values() {
            alerts.extend(s.alerts.iter().filter(|a| a.state.is_live()).cloned());
        }
        alerts.sort_by_key(|a| a.id);
        SavedState {
            data,
            by_status,
            alerts,
            scope: None,
        }
    }
}

impl View for SavedState<'_> {
    fn json(&self) -> String {
        serde_json::json!({
            "running": false,
            "scope": self.scope,
            "by_status": self.by_status,
            "alerts": self.alerts,
        })
        .to_string()
    }

    fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "vigie is not running; saved state in {}:",
            self.data.display()
        );
        match &self.scope {
            Some(scope) => {
                let _ = writeln!(out, "{scope}");
            }
            None => crate::status::equipment_line(&mut out, &self.by_status),
        }
        crate::status::alert_lines(&mut out, &self.alerts);
        out
    }
}

/// The outbox, as `vigie outbox` prints it.
pub fn outbox(v: &crate::outbox::OutboxView) -> String {
    let mut out = format!("waiting: {}\n", v.pending.len());
    for d in &v.pending {
        out.push_str(&format!(
            "  #{} alert #{} {} → {} by {} (attempt {}, next {}){}\n",
            d.id,
            d.alert.id,
            d.step.name(),
            d.contact,
            d.channel,
            d.attempts + 1,
            d.next_at.format("%Y-%m-%d %H:%M:%S UTC"),
            d.last_error
                .as_deref()
                .map(|e| format!(": last failure: {e}"))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!("latest sent: {}\n", v.sent.len()));
    for r in &v.sent {
        out.push_str(&format!(
            "  #{} alert #{} {} → {} by {} {} {}\n",
            r.delivery.id,
            r.delivery.alert.id,
            r.delivery.step.name(),
            r.delivery.contact,
            r.delivery.channel,
            if r.accepted { "accepted" } else { "GIVEN UP" },
            r.at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    out
}

/// Tickets, one line each, as `vigie ticket list` prints them.
pub fn tickets(list: &[crate::ticket::Ticket]) -> String {
    let mut out = format!("tickets: {}\n", list.len());
    for t in list {
        out.push_str(&format!(
            "  #{} {} alert #{} [{}] {} — {} → {} ({})\n",
            t.number,
            match t.status {
                crate::ticket::TicketStatus::Open => "open",
                crate::ticket::TicketStatus::Closed => "closed",
            },
            t.alert,
            t.site,
            t.owner,
            t.summary,
            t.role,
            t.assigned_to
                .as_ref()
                .map(|c| c.as_str())
                .unwrap_or("nobody")
        ));
    }
    out
}

/// One ticket, as `vigie ticket show` prints it.
pub fn ticket(t: &crate::ticket::Ticket) -> String {
    let mut out = tickets(std::slice::from_ref(t))
        .lines()
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string();
    out.push('\n');
    out.push_str(&format!(
        "opened {}{}\n",
        t.opened_at.format("%Y-%m-%d %H:%M:%S UTC"),
        t.client
            .as_ref()
            .map(|c| format!(" for client {c}"))
            .unwrap_or_default()
    ));
    for n in &t.notes {
        out.push_str(&format!(
            "  {} {}: {}\n",
            n.at.format("%Y-%m-%d %H:%M:%S UTC"),
            n.by,
            n.text
        ));
    }
    if let Some((at, by)) = &t.closed {
        out.push_str(&format!(
            "closed {} by {by}: {}\n",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            t.resolution.as_deref().unwrap_or("")
        ));
    }
    out
}

/// Who is on call, as `vigie oncall` prints it.
pub fn oncall(
    cfg: &crate::config::Config,
    oc: &crate::config::OnCall,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    use crate::config::Role;
    let name = |c: Option<crate::config::ContactId>| match c {
        Some(id) => match cfg.contacts.get(&id) {
            Some(contact) => format!("{id} ({})", contact.name),
            None => id.to_string(),
        },
        None => "NOBODY".to_string(),
    };
    let local = |t: chrono::DateTime<chrono::Utc>| {
        format!(
            "{} ({} {})",
            t.format("%Y-%m-%d %H:%M UTC"),
            oc.timezone.name(),
            t.with_timezone(&oc.timezone).format("%Y-%m-%d %H:%M")
        )
    };
    let mut out = format!("on call at {}:\n", local(at));
    for (label, role) in [
        ("technician", Role::Technician),
        ("manager", Role::Manager),
        ("technical manager", Role::TechnicalManager),
    ] {
        out.push_str(&format!(
            "  {label:<18} {}\n",
            name(crate::notify::holder(oc, role, at))
        ));
    }
    out.push_str("next hand-overs:\n");
    for t in crate::notify::handovers(oc, at, 5) {
        let who: Vec<String> = [Role::Technician, Role::Manager, Role::TechnicalManager]
            .iter()
            .filter(|r| {
                crate::notify::holder(oc, **r, t)
                    != crate::notify::holder(oc, **r, t - chrono::Duration::seconds(1))
            })
            .map(|r| format!("{} {}", r.name(), name(crate::notify::holder(oc, *r, t))))
            .collect();
        if !who.is_empty() {
            out.push_str(&format!("  {}: {}\n", local(t), who.join(", ")));
        }
    }
    out
}
