//! The dashboard's words in French and English, chosen from the account's language.

use crate::config::Language;
use crate::rules::Status;

/// Every word a page shows, in one language.
pub struct Words {
    /// `lang` attribute.
    pub code: &'static str,
    /// Product line under the title.
    pub tagline: &'static str,
    /// Login page title.
    pub sign_in: &'static str,
    /// Account field.
    pub account: &'static str,
    /// Password field.
    pub password: &'static str,
    /// Refused login.
    pub wrong_login: &'static str,
    /// Too many failed logins.
    pub limited: &'static str,
    /// Sign out button.
    pub sign_out: &'static str,
    /// Sites heading.
    pub sites: &'static str,
    /// Live alerts heading.
    pub live_alerts: &'static str,
    /// No live alert.
    pub no_alert: &'static str,
    /// Alert history heading.
    pub history_30: &'static str,
    /// Availability this month.
    pub month_rate: &'static str,
    /// Availability over 30 days.
    pub days_rate: &'static str,
    /// Global availability.
    pub global_rate: &'static str,
    /// Availability of a named month.
    pub rate_of: &'static str,
    /// Monthly reports heading.
    pub reports: &'static str,
    /// Link to a month's figures on the home page.
    pub figures: &'static str,
    /// Back to the current month.
    pub this_month: &'static str,
    /// No figure yet.
    pub no_figure: &'static str,
    /// Column: opened.
    pub opened: &'static str,
    /// Column: equipment.
    pub equipment: &'static str,
    /// Column: severity.
    pub severity: &'static str,
    /// Column: state.
    pub state: &'static str,
    /// Column: resolution.
    pub resolution: &'static str,
    /// Column: client.
    pub client: &'static str,
    /// Column: site.
    pub site: &'static str,
    /// Column: age.
    pub age: &'static str,
    /// Acknowledge button.
    pub acknowledge: &'static str,
    /// Close button.
    pub close: &'static str,
    /// Note field.
    pub note: &'static str,
    /// Resolution note field.
    pub resolution_note: &'static str,
    /// Resolved on its own.
    pub resolved_alone: &'static str,
    /// Closed by.
    pub closed_by: &'static str,
    /// Acknowledged by.
    pub acked_by: &'static str,
    /// Still live.
    pub in_progress: &'static str,
    /// Timeline heading.
    pub timeline: &'static str,
    /// Notifications heading.
    pub notifications: &'static str,
    /// Delivered.
    pub delivered: &'static str,
    /// Given up.
    pub given_up: &'static str,
    /// Waiting.
    pub waiting: &'static str,
    /// Facts heading.
    pub facts: &'static str,
    /// Charts heading.
    pub recent: &'static str,
    /// No history yet.
    pub no_history: &'static str,
    /// Config status heading.
    pub config: &'static str,
    /// Last load.
    pub last_load: &'static str,
    /// Accepted.
    pub accepted: &'static str,
    /// Refused.
    pub refused: &'static str,
    /// Warnings.
    pub warnings: &'static str,
    /// In maintenance.
    pub maintenance: &'static str,
    /// Status words.
    pub up: &'static str,
    /// Down.
    pub down: &'static str,
    /// Unreachable.
    pub unreachable: &'static str,
    /// Unknown.
    pub unknown: &'static str,
    /// Severity words.
    pub warning: &'static str,
    /// Critical.
    pub critical: &'static str,
    /// State words.
    pub open: &'static str,
    /// Acknowledged.
    pub acknowledged: &'static str,
    /// Resolved.
    pub resolved: &'static str,
    /// Closed.
    pub closed: &'static str,
    /// Back to the home page.
    pub home: &'static str,
    /// Live updates.
    pub live: &'static str,
    /// Between a label and its value (French puts a space before the colon).
    pub colon: &'static str,
    /// Maintenance windows heading.
    pub windows: &'static str,
    /// Open-a-window button.
    pub open_window: &'static str,
    /// Reason field.
    pub reason: &'static str,
    /// Duration field.
    pub duration: &'static str,
    /// End-now button.
    pub end_now: &'static str,
    /// Column: until.
    pub until: &'static str,
    /// Column: by.
    pub by: &'static str,
    /// A window of the config file.
    pub from_config: &'static str,
}

const FR: Words = Words {
    code: "fr",
    tagline: "Supervision de votre vidéosurveillance",
    sign_in: "Connexion",
    account: "Compte",
    password: "Mot de passe",
    wrong_login: "Compte ou mot de passe incorrect.",
    limited: "Trop d'essais : réessayez dans quelques minutes.",
    sign_out: "Se déconnecter",
    sites: "Sites",
    live_alerts: "Alertes en cours",
    no_alert: "Aucune alerte en cours.",
    history_30: "Alertes des 30 derniers jours",
    month_rate: "Disponibilité du mois",
    days_rate: "Disponibilité sur 30 jours",
    global_rate: "Disponibilité globale",
    rate_of: "Disponibilité de",
    reports: "Rapports mensuels",
    figures: "chiffres",
    this_month: "mois en cours",
    no_figure: "pas encore de mesure",
    opened: "Ouverte",
    equipment: "Équipement",
    severity: "Gravité",
    state: "État",
    resolution: "Résolution",
    client: "Client",
    site: "Site",
    age: "Depuis",
    acknowledge: "Prendre en charge",
    close: "Clore",
    note: "Note",
    resolution_note: "Note de résolution",
    resolved_alone: "rétablie d'elle-même",
    closed_by: "close par",
    acked_by: "prise en charge par",
    in_progress: "en cours",
    timeline: "Chronologie",
    notifications: "Notifications",
    delivered: "remise",
    given_up: "abandonnée",
    waiting: "en attente",
    facts: "Identité",
    recent: "Mesures récentes (48 h)",
    no_history: "Pas encore d'historique.",
    config: "Configuration",
    last_load: "Dernier chargement",
    accepted: "acceptée",
    refused: "refusée",
    warnings: "Avertissements",
    maintenance: "en maintenance",
    up: "en service",
    down: "hors service",
    unreachable: "injoignable",
    unknown: "inconnu",
    warning: "avertissement",
    critical: "critique",
    open: "ouverte",
    acknowledged: "prise en charge",
    resolved: "rétablie",
    closed: "close",
    home: "Accueil",
    live: "mise à jour en direct",
    colon: " : ",
    windows: "Fenêtres de maintenance",
    open_window: "Ouvrir une fenêtre",
    reason: "Motif",
    duration: "Durée (ex. 2h)",
    end_now: "Terminer maintenant",
    until: "Jusqu'à",
    by: "Par",
    from_config: "fichier de configuration",
};

const EN: Words = Words {
    code: "en",
    tagline: "Supervision of your video surveillance",
    sign_in: "Sign in",
    account: "Account",
    password: "Password",
    wrong_login: "Wrong account or password.",
    limited: "Too many attempts: try again in a few minutes.",
    sign_out: "Sign out",
    sites: "Sites",
    live_alerts: "Live alerts",
    no_alert: "No live alert.",
    history_30: "Alerts of the last 30 days",
    month_rate: "Availability this month",
    days_rate: "Availability over 30 days",
    global_rate: "Global availability",
    rate_of: "Availability of",
    reports: "Monthly reports",
    figures: "figures",
    this_month: "this month",
    no_figure: "no figure yet",
    opened: "Opened",
    equipment: "Equipment",
    severity: "Severity",
    state: "State",
    resolution: "Resolution",
    client: "Client",
    site: "Site",
    age: "Since",
    acknowledge: "Acknowledge",
    close: "Close",
    note: "Note",
    resolution_note: "Resolution note",
    resolved_alone: "cleared on its own",
    closed_by: "closed by",
    acked_by: "acknowledged by",
    in_progress: "in progress",
    timeline: "Timeline",
    notifications: "Notifications",
    delivered: "delivered",
    given_up: "given up",
    waiting: "waiting",
    facts: "Identity",
    recent: "Recent metrics (48 h)",
    no_history: "No history yet.",
    config: "Configuration",
    last_load: "Last load",
    accepted: "accepted",
    refused: "refused",
    warnings: "Warnings",
    maintenance: "in maintenance",
    up: "up",
    down: "down",
    unreachable: "unreachable",
    unknown: "unknown",
    warning: "warning",
    critical: "critical",
    open: "open",
    acknowledged: "acknowledged",
    resolved: "resolved",
    closed: "closed",
    home: "Home",
    live: "live updates",
    colon: ": ",
    windows: "Maintenance windows",
    open_window: "Open a window",
    reason: "Reason",
    duration: "Duration (e.g. 2h)",
    end_now: "End now",
    until: "Until",
    by: "By",
    from_config: "config file",
};

/// The words of `lang`.
pub fn words(lang: Language) -> &'static Words {
    match lang {
        Language::Fr => &FR,
        Language::En => &EN,
    }
}

impl Words {
    /// The language of these words.
    pub fn language(&self) -> Language {
        if self.code == "fr" {
            Language::Fr
        } else {
            Language::En
        }
    }

    /// The word of a status.
    pub fn status(&self, s: Status) -> &'static str {
        match s {
            Status::Up => self.up,
            Status::Down => self.down,
            Status::Unreachable => self.unreachable,
            Status::Unknown => self.unknown,
        }
    }

    /// The word of a severity.
    pub fn severity(&self, s: crate::alert::Severity) -> &'static str {
        match s {
            crate::alert::Severity::Warning => self.warning,
            crate::alert::Severity::Critical => self.critical,
        }
    }

    /// The word of an alert state.
    pub fn state(&self, s: crate::alert::AlertState) -> &'static str {
        use crate::alert::AlertState;
        match s {
            AlertState::Open => self.open,
            AlertState::Acknowledged => self.acknowledged,
            AlertState::Resolved => self.resolved,
            AlertState::Closed => self.closed,
        }
    }
}
