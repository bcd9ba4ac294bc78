//! Integration tests of vigie: actors under paused time, live reload, restarts of the real
//! daemon process, the HTTP API and the command line.

mod access;
mod actors;
mod api;
mod availability;
mod browser;
mod cli;
mod collectors;
mod demo;
mod events;
mod history;
mod notify;
mod openapi;
mod plugins;
mod reload;
mod report;
mod restart;
mod service;
mod snmp;
mod support;
mod telemetry;
