//! Live reload: the config directory is watched with notify; a change is debounced, loaded,
//! validated and, when valid, applied to the fleet by diff. A refused config leaves the last
//! good one in force. Start-up goes through the same path.

use crate::actors::{ApplyConfig, ConfigRefused, Fleet};
use crate::config::{Config, load_dir};
use actix::Addr;
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// Quiet time after the last change before the directory is read.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Loads the directory and hands the result to the fleet: the config when it is valid (the
/// fleet applies only the differences), the errors when it is not.
pub fn load_and_apply(dir: &Path, fleet: &Addr<Fleet>) -> Option<Arc<Config>> {
    match load_dir(dir) {
        Ok(cfg) => {
            let cfg = Arc::new(cfg);
            fleet.do_send(ApplyConfig(Arc::clone(&cfg)));
            Some(cfg)
        }
        Err(errors) => {
            tracing::error!(
                dir = %dir.display(),
                "config refused, the previous config stays in force:\n{errors}"
            );
            fleet.do_send(ConfigRefused(
                errors.0.iter().map(|d| d.to_string()).collect(),
            ));
            None
        }
    }
}

/// A running watch on a config directory; dropping it stops the watch.
pub struct ConfigWatcher {
    _watcher: notify::RecommendedWatcher,
    trigger: Sender<()>,
}

impl ConfigWatcher {
    /// Loads `dir` once (start-up is a reload from an empty config), then watches it.
    pub fn start(dir: PathBuf, fleet: Addr<Fleet>) -> Result<ConfigWatcher, notify::Error> {
        let (tx, rx) = channel::<()>();
        let events = tx.clone();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                Ok(ev) if ev.kind.is_access() => {}
                Ok(_) => {
                    let _ = events.send(());
                }
                Err(e) => tracing::warn!("config watch: {e}"),
            })?;
        watcher.watch(&dir, RecursiveMode::Recursive)?;
        load_and_apply(&dir, &fleet);
        std::thread::Builder::new()
            .name("vigie-config".into())
            .spawn(move || watch_loop(dir, fleet, rx))
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(ConfigWatcher {
            _watcher: watcher,
            trigger: tx,
        })
    }

    /// Reloads now (on SIGHUP, or from the API).
    pub fn reload_now(&self) {
        let _ = self.trigger.send(());
    }
}

fn watch_loop(dir: PathBuf, fleet: Addr<Fleet>, rx: Receiver<()>) {
    while rx.recv().is_ok() {
        // Debounce: wait until the directory has been quiet for a while.
        loop {
            match rx.recv_timeout(DEBOUNCE) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        load_and_apply(&dir, &fleet);
    }
}
