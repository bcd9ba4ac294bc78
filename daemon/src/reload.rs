//! Live reload: the config directory is watched with notify; a change is debounced, loaded,
//! validated and, when valid, applied to the fleet by diff. A refused config leaves the last
//! good one in force. Start-up goes through the same path. Secrets are read at each load;
//! the folders of secret files named by the config are watched too, so a changed password
//! file reloads like a changed config file.

use crate::actors::{ApplyConfig, ConfigRefused, Fleet};
use crate::config::{Config, load_dir};
use actix::Addr;
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
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
    _watcher: Arc<Mutex<notify::RecommendedWatcher>>,
    trigger: Sender<()>,
}

/// Watches the folders of the secret files a config names (each once).
struct SecretWatch {
    watcher: Arc<Mutex<notify::RecommendedWatcher>>,
    watched: BTreeSet<PathBuf>,
}

impl SecretWatch {
    fn follow(&mut self, cfg: Option<&Config>) {
        let Some(cfg) = cfg else { return };
        for file in cfg.secret_files() {
            let dir = match file.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if self.watched.contains(&dir) {
                continue;
            }
            let mut w = self.watcher.lock().unwrap_or_else(|p| p.into_inner());
            match w.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(dir);
                }
                Err(e) => tracing::warn!(
                    dir = %dir.display(),
                    "cannot watch the folder of a secret file; a change to it needs a reload (SIGHUP): {e}"
                ),
            }
        }
    }
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
        let watcher = Arc::new(Mutex::new(watcher));
        let mut secrets = SecretWatch {
            watcher: Arc::clone(&watcher),
            watched: BTreeSet::new(),
        };
        secrets.follow(load_and_apply(&dir, &fleet).as_deref());
        std::thread::Builder::new()
            .name("vigie-config".into())
            .spawn(move || watch_loop(dir, fleet, rx, secrets))
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

fn watch_loop(dir: PathBuf, fleet: Addr<Fleet>, rx: Receiver<()>, mut secrets: SecretWatch) {
    while rx.recv().is_ok() {
        // Debounce: wait until the directory has been quiet for a while.
        loop {
            match rx.recv_timeout(DEBOUNCE) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        secrets.follow(load_and_apply(&dir, &fleet).as_deref());
    }
}
