//! vigie's pure core: the config format (raw TOML types, loader, validated model, reload diff),
//! maintenance windows, observations, the rules and the alert owner, the event records, the
//! clock. No actors, no storage, no sockets: the compiler keeps them out, since this crate
//! depends on none of actix, redb or wasmtime.

pub mod alert;
pub mod availability;
pub mod clock;
pub mod config;
pub mod events;
pub mod histogram;
pub mod history;
pub mod maintenance;
pub mod notify;
pub mod observation;
pub mod rules;
pub mod signals;
pub mod ticket;
pub mod util;
