//! Live reload: the config directory is watched (`watch::DirWatch`); a change is debounced, loaded,
//! validated and, when valid, applied to the fleet by diff. A refused config leaves the last
//! good one in force. Start-up goes through the same path. Secrets are read at each load;
//! the folders of secret files named by the config are watched too, so a changed password
//! file reloads like a changed config file.

use crate::actors::{ApplyConfig, ConfigRefused, Fleet};
use crate::config::{Config, load_dir};
use crate::watch::{DirWatch, Watches};
use actix::Addr;
use notify::RecursiveMode;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads the directory and hands the result to the fleet: the config when it is valid (the
/// fleet applies only the differences), the errors when it is not.
pub fn load_and_apply(dir: &Path, fleet: &Addr<Fleet>) -> Option<Arc<Config>> {
    match load_dir(dir) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                tracing::warn!(dir = %dir.display(), "config: {w}");
            }
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
    watch: DirWatch,
}

/// Follows the folders of the secret files a config names.
fn follow_secrets(watches: &Watches, cfg: Option<&Config>) {
    let Some(cfg) = cfg else { return };
    let dirs: std::collections::BTreeSet<PathBuf> = cfg
        .secret_files()
        .iter()
        .map(|file| match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect();
    for dir in dirs {
        if let Err(e) = watches.watch(&dir, RecursiveMode::NonRecursive) {
            tracing::warn!(
                dir = %dir.display(),
                "cannot watch the folder of a secret file; a change to it needs a reload (SIGHUP): {e}"
            );
        }
    }
}

impl ConfigWatcher {
    /// Loads `dir` once (start-up is a reload from an empty config), then watches it.
    pub fn start(dir: PathBuf, fleet: Addr<Fleet>) -> Result<ConfigWatcher, notify::Error> {
        let (d, f) = (dir.clone(), fleet.clone());
        let watch = DirWatch::start("vigie-config", &dir, RecursiveMode::Recursive, move |w| {
            follow_secrets(w, load_and_apply(&d, &f).as_deref());
        })?;
        follow_secrets(watch.watches(), load_and_apply(&dir, &fleet).as_deref());
        Ok(ConfigWatcher { watch })
    }

    /// Reloads now (on SIGHUP, or from the API).
    pub fn reload_now(&self) {
        self.watch.trigger();
    }
}
