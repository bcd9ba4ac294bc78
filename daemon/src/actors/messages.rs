//! Every message the actors exchange, named for intent, each with what it asks and answers.
//! The actors' files hold their handlers; keeping the messages here lets the equipment, site
//! and fleet actors talk without importing each other.

use crate::alert::{ActionError, Alert, AlertAction, Owner};
use crate::config::{
    ClientId, Config, ConfigDiff, EquipmentConfig, EquipmentId, SiteConfig, SiteId,
};
use crate::maintenance::MaintenanceWindow;
use crate::rules::{EquipmentState, Status};
use crate::status::{EquipmentDetail, EquipmentMetrics, FleetStatus, SiteDetail, SiteSummary};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// An equipment's availability as its site sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    /// Status.
    pub status: Status,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Since when it does not answer.
    pub offline_since: Option<DateTime<Utc>>,
    /// Probe's reason for a down or unknown status.
    pub reason: Option<String>,
}

impl Availability {
    /// The availability recorded in an equipment's state.
    pub fn of(state: &EquipmentState) -> Self {
        Availability {
            status: state.status,
            since: state.since,
            offline_since: state.offline_since,
            reason: state.reason.clone(),
        }
    }
}

/// The parent of this equipment went down (`true`) or came back (`false`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ParentDown(pub bool);

/// New config for this equipment (thresholds, interval, probes) or its site's maintenance
/// windows. The live state is kept.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UpdateEquipment {
    /// The equipment's new config.
    pub cfg: Arc<EquipmentConfig>,
    /// The site's maintenance windows.
    pub windows: Arc<Vec<MaintenanceWindow>>,
    /// The site's client.
    pub client: ClientId,
}

/// Removed from the config: close its alerts, delete its snapshot and stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

/// Asks for the equipment's details.
#[derive(Message)]
#[rtype(result = "EquipmentDetail")]
pub struct EquipmentQuery;

/// Stops the actor without touching its saved state (daemon shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopEquipment;

/// Gives the live state away (the equipment moves to another site) and stops.
#[derive(Message)]
#[rtype(result = "EquipmentState")]
pub struct TakeState;

/// An equipment's availability changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StatusReport {
    /// The equipment.
    pub id: EquipmentId,
    /// Its availability now.
    pub seen: Availability,
}

/// New config for this site. Unchanged equipment keep running untouched; changed ones keep
/// their live state.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UpdateSite {
    /// The site's new config.
    pub cfg: Arc<SiteConfig>,
    /// Live state of equipment moved here from another site.
    pub restore: HashMap<EquipmentId, EquipmentState>,
}

/// The site was removed from the config: retire its equipment, close its alerts, stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetireSite;

/// Asks for the site's summary.
#[derive(Message)]
#[rtype(result = "SiteSummary")]
pub struct SiteSummaryQuery;

/// Asks for the site with its equipment.
#[derive(Message)]
#[rtype(result = "SiteDetail")]
pub struct SiteDetailQuery;

/// An operator's action on an alert, routed to the actor owning it.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Alert, ActionError>")]
pub struct OwnerAction {
    /// Owner of the alert.
    pub owner: Owner,
    /// Alert number.
    pub id: u64,
    /// What to do.
    pub action: AlertAction,
}

/// Asks an equipment's details through its site.
#[derive(Message)]
#[rtype(result = "Option<crate::status::EquipmentDetail>")]
pub struct EquipmentDetailQuery(pub EquipmentId);

/// Stops the site and its equipment actors without touching their saved state.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopSite;

/// Hands over the state of equipment moving to another site: their actors stop without
/// closing alerts or deleting snapshots.
#[derive(Message)]
#[rtype(result = "Vec<(EquipmentId, EquipmentState)>")]
pub struct Release(pub Vec<EquipmentId>);

/// Applies a validated config: sites and equipment are added, changed or removed by diff.
#[derive(Message)]
#[rtype(result = "ConfigDiff")]
pub struct ApplyConfig(pub Arc<Config>);

/// A config load was refused; the last good config stays in force.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConfigRefused(pub Vec<String>);

/// At start, the config files were refused and the daemon runs on the last good config; the
/// fleet records the refusal and reports the fallback in its status until a config from the
/// files is applied.
#[derive(Message)]
#[rtype(result = "()")]
pub struct OnLastGood(pub crate::last_good::Fallback);

/// Asks for the fleet's status.
#[derive(Message)]
#[rtype(result = "FleetStatus")]
pub struct FleetQuery;

/// Asks for every equipment's last metrics with its place in the fleet (the Prometheus
/// scrape and the OTLP export).
#[derive(Message)]
#[rtype(result = "Vec<EquipmentMetrics>")]
pub struct MetricsQuery;

/// Asks a site for its equipment's last metrics.
#[derive(Message)]
#[rtype(result = "Vec<EquipmentMetrics>")]
pub struct SiteMetricsQuery;

/// Asks an equipment for the metrics of its last answer.
#[derive(Message)]
#[rtype(result = "Vec<crate::observation::Metric>")]
pub struct LastMetrics;

/// Asks for one site with its equipment.
#[derive(Message)]
#[rtype(result = "Option<SiteDetail>")]
pub struct SiteQuery(pub SiteId);

/// Asks for one equipment's details.
#[derive(Message)]
#[rtype(result = "Option<EquipmentDetail>")]
pub struct EquipmentLookup(pub EquipmentId);

/// An operator acts on an alert by number; routed to the actor that owns it.
#[derive(Message)]
#[rtype(result = "Result<Alert, ActionError>")]
pub struct AlertCommand {
    /// Alert number.
    pub id: u64,
    /// What to do.
    pub action: AlertAction,
}

/// Stops every site and equipment actor (daemon shutdown); their state stays in the store.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Asks for one equipment's config (for the API's heartbeat authentication).
#[derive(Message)]
#[rtype(result = "Option<Arc<crate::config::EquipmentConfig>>")]
pub struct EquipmentConfigQuery(pub EquipmentId);

/// What a site's window request asks of it: open one now, end one now, or list them.
#[derive(Debug, Clone)]
pub enum WindowRequest {
    /// Opens a window from now until `until` on the site, or on some of its equipment.
    Open {
        /// Why.
        reason: String,
        /// Its end.
        until: DateTime<Utc>,
        /// Equipment covered; the whole site when `None`.
        equipment: Option<Vec<EquipmentId>>,
        /// The account opening it.
        by: String,
    },
    /// Ends an API window now.
    End {
        /// Its id.
        id: String,
        /// The account ending it.
        by: String,
    },
    /// Lists the site's windows.
    List,
}

/// A site's maintenance windows: those of the config and those opened through the API.
#[derive(utoipa::ToSchema, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WindowList {
    /// Windows of the config (`[[maintenance]]` of the site file).
    pub config: Vec<serde_json::Value>,
    /// Windows opened through the API or the dashboard, ended ones of the last week included.
    pub api: Vec<crate::maintenance::AdHocWindow>,
}

/// What a window request answers: the window opened or ended, or the list (answered as
/// either, as is).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum WindowAnswer {
    /// The window after the change.
    Window(crate::maintenance::AdHocWindow),
    /// The windows.
    List(WindowList),
}

/// A maintenance window request for one site, routed by the fleet; `None` when the fleet has
/// no such site, `Err` with why when the site refuses it.
#[derive(Message)]
#[rtype(result = "Option<Result<WindowAnswer, WindowError>>")]
pub struct SiteWindows(pub SiteId, pub WindowRequest);

/// Why a site refused a window request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WindowError {
    /// No such window, or equipment not on the site.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be a window (an end before now, no equipment).
    #[error("{0}")]
    Invalid(String),
    /// The window has already ended.
    #[error("{0}")]
    Conflict(String),
}

/// The request as the site actor receives it.
#[derive(Message)]
#[rtype(result = "Result<WindowAnswer, WindowError>")]
pub struct Windows(pub WindowRequest);
