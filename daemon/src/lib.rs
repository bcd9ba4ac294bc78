//! vigie: supervision daemon for video-surveillance fleets.
//!
//! The library wires the daemon (actors, collectors, plugin host, API) over `vigie-core` (config,
//! rules, alerts, events) and `vigie-store` (redb); the `vigie` binary is a thin command line
//! over it.
//! See ARCHITECTURE.md at the repository root for the bird's-eye view and the invariants.

pub mod actors;
pub mod api;
pub mod audit;
pub mod auth;
pub mod availability;
pub mod book;
pub mod client;
pub mod dashboard;
pub mod demo;
pub mod journal;
pub mod last_good;
pub mod outbox;
pub mod plugin_dir;
pub mod reload;
pub mod report;
pub mod retention;
pub mod server;
pub mod service;
pub mod status;
pub mod stream;
pub mod synthetic;
pub mod telemetry;
pub mod tls;
pub mod views;
pub mod watch;

pub use vigie_collectors as collectors;
pub use vigie_collectors::collector;
pub use vigie_core::{
    alert, clock, config, events, maintenance, notify, observation, rules, ticket, util,
};
pub use vigie_plugins as plugins;
pub use vigie_store as store;
