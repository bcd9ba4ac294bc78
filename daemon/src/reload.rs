//! Live reload: the config directory is watched (`watch::DirWatch`); a change is debounced, loaded,
//! validated and, when valid, applied to the fleet by diff. A refused config leaves the last
//! good one in force. Start-up goes through the same path. Secrets are read at each load;
//! the folders of secret files named by the config are watched too, so a changed password
//! file reloads like a changed config file. Each config that loads is saved as the last good
//! config (`last_good`), which the daemon starts on when the files do not load.

use crate::actors::{ApplyConfig, ConfigRefused, Fleet, OnLastGood};
use crate::config::{Config, Sources, load_sources};
use crate::last_good::StartConfig;
use crate::watch::{DirWatch, Watches};
use actix::Addr;
use notify::RecursiveMode;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Applies a config that loaded and saves its sources as the last good config.
fn apply(
    dir: &Path,
    data_dir: &Path,
    fleet: &Addr<Fleet>,
    cfg: Config,
    sources: Option<&Sources>,
) -> Arc<Config> {
    for w in &cfg.warnings {
        tracing::warn!(dir = %dir.display(), "config: {w}");
    }
    // Saved before it is applied: once a config is visible in the API, it is also the copy
    // the daemon would start on.
    if let Some(sources) = sources
        && let Err(e) = crate::last_good::save(data_dir, sources)
    {
        tracing::error!(
            path = %crate::last_good::dir(data_dir).display(),
            "cannot save the last good config (the daemon would have none to start on if the files broke): {e}"
        );
    }
    let cfg = Arc::new(cfg);
    fleet.do_send(ApplyConfig(Arc::clone(&cfg)));
    cfg
}

/// Loads the directory and hands the result to the fleet: the config when it is valid (the
/// fleet applies only the differences, and the sources are saved as the last good config),
/// the errors when it is not.
pub fn load_and_apply(dir: &Path, data_dir: &Path, fleet: &Addr<Fleet>) -> Option<Arc<Config>> {
    let sources = Sources::read(dir);
    match load_sources(&sources) {
        Ok(cfg) => Some(apply(dir, data_dir, fleet, cfg, Some(&sources))),
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
    /// Applies the start config (start-up is a reload from an empty config), then watches
    /// `dir`.
    pub fn start(
        dir: PathBuf,
        data_dir: PathBuf,
        fleet: Addr<Fleet>,
        initial: StartConfig,
    ) -> Result<ConfigWatcher, notify::Error> {
        let (d, dd, f) = (dir.clone(), data_dir.clone(), fleet.clone());
        let watch = DirWatch::start("vigie-config", &dir, RecursiveMode::Recursive, move |w| {
            follow_secrets(w, load_and_apply(&d, &dd, &f).as_deref());
        })?;
        let cfg = apply(
            &dir,
            &data_dir,
            &fleet,
            initial.config,
            initial.sources.as_ref(),
        );
        if let Some(fallback) = initial.fallback {
            tracing::error!(
                dir = %dir.display(),
                last_good = %fallback.path.display(),
                saved_at = %fallback.saved_at,
                "THE CONFIG FILES DO NOT LOAD: running on the last good config; fix the files, they are still watched:\n{}",
                fallback.errors.join("\n")
            );
            fleet.do_send(OnLastGood(fallback));
        }
        follow_secrets(watch.watches(), Some(&cfg));
        Ok(ConfigWatcher { watch })
    }

    /// Reloads now (on SIGHUP, or from the API).
    pub fn reload_now(&self) {
        self.watch.trigger();
    }
}
