//! Running under a service manager (systemd `Type=notify`): readiness once the config is loaded
//! and the API listens, reload and stop notifications, and a watchdog fed only while the
//! fleet's actors answer. Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use crate::server::Daemon;
use sd_notify::NotifyState;
use std::time::Duration;

/// How long a reload may take before the service manager is told the daemon is ready again
/// anyway (the reload's outcome, accepted or refused, is in the log and the status).
const RELOAD_WAIT: Duration = Duration::from_secs(30);

/// Sends states to the service manager; a failure is logged once per call, never fatal.
fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify the service manager (NOTIFY_SOCKET): {e}");
    }
}

/// Whether a service manager listens for notifications.
pub fn managed() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty())
}

/// Tells the service manager the daemon is ready: its first config is applied (or refused
/// and the last good one applied) and the API listens.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells the service manager the daemon is stopping.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// A reload asked by the service manager (SIGHUP, `systemctl reload`): says it is reloading,
/// reads the config directory as the file watcher would, and says ready again once the load
/// is done (accepted or refused), so `systemctl reload` returns after the reload.
pub async fn reload(daemon: &Daemon) {
    let next = daemon.generation() + 1;
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    notify(&states);
    daemon.reload_now();
    if tokio::time::timeout(RELOAD_WAIT, daemon.wait_generation(next))
        .await
        .is_err()
    {
        tracing::warn!(
            "the reload asked by SIGHUP did not finish within {}s",
            RELOAD_WAIT.as_secs()
        );
    }
    ready(&status_line(daemon));
}

/// The one-line status shown by `systemctl status`.
pub fn status_line(daemon: &Daemon) -> String {
    format!(
        "listening on {}, config load {}",
        daemon.api_url(),
        daemon.generation()
    )
}

/// Feeds the systemd watchdog (`WatchdogSec=`) at half its interval, each time after the fleet
/// actor answered a status query within that half: a daemon whose actors are stuck stops
/// feeding it and is restarted. Never returns; waits forever when no watchdog is set.
pub async fn watchdog(daemon: &Daemon) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return std::future::pending().await;
    };
    let every = (interval / 2).max(Duration::from_millis(100));
    tracing::info!(
        interval_ms = interval.as_millis() as u64,
        "feeding the service manager's watchdog"
    );
    loop {
        tokio::time::sleep(every).await;
        if daemon.answers_within(every).await {
            notify(&[NotifyState::Watchdog]);
        } else {
            tracing::error!(
                "the fleet did not answer within {} ms: the watchdog is not fed",
                every.as_millis()
            );
        }
    }
}
