//! What a collector returns: one shape for every collection method, so rules never care how
//! a value was collected.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Outcome of one probe run.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ProbeStatus {
    /// The equipment answered.
    Up,
    /// The equipment did not answer.
    Down {
        /// Why it is considered down (timeout, refused, ...).
        reason: String,
    },
    /// The probe could not tell (bad response, wrong credentials, internal error).
    Unknown {
        /// What went wrong, shown to operators.
        reason: String,
    },
}

impl ProbeStatus {
    /// Why the equipment is down or unknown; `None` when up.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ProbeStatus::Up => None,
            ProbeStatus::Down { reason } | ProbeStatus::Unknown { reason } => Some(reason),
        }
    }
}

impl std::fmt::Display for ProbeStatus {
    /// `up`, `down: REASON` or `unknown: REASON`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeStatus::Up => f.write_str("up"),
            ProbeStatus::Down { reason } => write!(f, "down: {reason}"),
            ProbeStatus::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// One metric value, named after OpenTelemetry semantic conventions where one exists.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Name such as `system.filesystem.utilization` (ratio 0..1) or `hw.temperature` (°C).
    pub name: String,
    /// Attributes telling series apart (`mountpoint`, `sensor`, `service`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Metric {
    /// A metric without attributes.
    pub fn new(name: &str, value: f64) -> Self {
        Metric {
            name: name.to_string(),
            attributes: Vec::new(),
            value,
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.attributes.push((key.to_string(), value.to_string()));
        self
    }

    /// The value of an attribute.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The attributes as `{k=v,...}`, empty when there are none.
    pub fn labels(&self) -> String {
        if self.attributes.is_empty() {
            return String::new();
        }
        let mut out = String::from("{");
        for (i, (k, v)) in self.attributes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}={v}");
        }
        out.push('}');
        out
    }
}

/// Everything one collection learned about an equipment.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Availability.
    #[serde(flatten)]
    pub status: ProbeStatus,
    /// Metric values.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// Facts such as serial, firmware, boot id.
    #[serde(default)]
    pub facts: Vec<(String, String)>,
}

impl Observation {
    /// The equipment answered, with no metrics.
    pub fn up() -> Self {
        Observation {
            status: ProbeStatus::Up,
            metrics: Vec::new(),
            facts: Vec::new(),
        }
    }

    /// The equipment did not answer.
    pub fn down(reason: &str) -> Self {
        Observation {
            status: ProbeStatus::Down {
                reason: reason.to_string(),
            },
            metrics: Vec::new(),
            facts: Vec::new(),
        }
    }

    /// The probe could not tell.
    pub fn unknown(reason: &str) -> Self {
        Observation {
            status: ProbeStatus::Unknown {
                reason: reason.to_string(),
            },
            metrics: Vec::new(),
            facts: Vec::new(),
        }
    }

    /// Adds a metric.
    pub fn with_metric(mut self, metric: Metric) -> Self {
        self.metrics.push(metric);
        self
    }
}
