//! vigie: supervision daemon for video-surveillance fleets.
//!
//! The library holds the whole daemon; the `vigie` binary is a thin command line over it.
//! See ARCHITECTURE.md at the repository root for the bird's-eye view and the invariants.

pub mod actors;
pub mod alert;
pub mod api;
pub mod book;
pub mod client;
pub mod clock;
pub mod collector;
pub mod collectors;
pub mod config;
pub mod events;
pub mod maintenance;
pub mod observation;
pub mod plugins;
pub mod reload;
pub mod rules;
pub mod server;
pub mod status;
pub mod store;
pub mod util;
pub mod views;
pub mod watch;
