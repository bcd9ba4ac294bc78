//! The rules: pure alert evaluation, a function of (state, observation, thresholds, now) with
//! no actors, no storage and no I/O, so they are tested exhaustively without a runtime.

pub mod equipment;
mod key;
pub mod site;

pub use equipment::{Context, EquipmentState, Input, Outcome, SeriesState, Status, step};
pub use key::{KeyError, RuleId, RuleKey};
pub use site::{CameraVerdict, CameraView, cameras_offline, is_silent, parent_cuts_off};

#[cfg(test)]
mod tests;
