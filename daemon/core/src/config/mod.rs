//! Configuration: raw TOML types, the validated model, the loader and the reload diff.
//!
//! Admins edit a directory holding `vigie.toml` (daemon settings, default thresholds,
//! clients, contacts, credentials, on-call, escalation, channels) and `sites/*.toml` (one
//! file per site with its equipment). Loading goes through two stages: raw serde types that
//! deny unknown keys, then a validated model. Every problem names its file, line and column.

mod diff;
mod load;
mod model;
pub mod raw;

pub use diff::{ConfigDiff, SiteDiff};
pub use load::{
    ConfigErrors, Diagnostic, MAIN_FILE, SITES_DIR, Sources, closest, load_dir, load_sources,
};
pub use model::*;
