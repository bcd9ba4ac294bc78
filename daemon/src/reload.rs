//! Live reload: the config directory is watched (`watch::DirWatch`); a change is debounced, loaded,
//! validated and, when valid, applied to the fleet by diff. A refused config leaves the last
//! good one in force. Start-up goes through the same path. Secrets are read at each load;
//! the folders of secret files named by the config are watched too, so a changed password
//! file reloads like a changed config file. Each config that loads is saved as the last good
//! config (`last_good`), which the daemon starts on when the files do not load: by a thread
//! of its own, so a reload does not wait for every file of a large fleet to reach the disk.

use crate::actors::{ApplyConfig, ConfigRefused, Fleet, OnLastGood};
use crate::config::{Config, Sources, load_sources};
use crate::last_good::StartConfig;
use crate::watch::{DirWatch, Watches};
use actix::Addr;
use notify::RecursiveMode;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn save(data_dir: &Path, sources: &Sources) {
    if let Err(e) = crate::last_good::save(data_dir, sources) {
        tracing::error!(
            path = %crate::last_good::dir(data_dir).display(),
            "cannot save the last good config (the daemon would have none to start on if the files broke): {e}"
        );
    }
}

/// Saves the last good config on a thread of its own, the newest sources only when several
/// wait. The copy is replaced as a whole (`last_good::save`), so a crash while saving leaves
/// the previous copy, a config that loaded too. The thread ends once every sender is gone.
#[derive(Clone)]
struct Saver(std::sync::mpsc::Sender<Sources>);

impl Saver {
    fn start(data_dir: PathBuf) -> Result<(Saver, std::thread::JoinHandle<()>), notify::Error> {
        let (tx, rx) = std::sync::mpsc::channel::<Sources>();
        let thread = std::thread::Builder::new()
            .name("vigie-last-good".into())
            .spawn(move || {
                while let Ok(mut sources) = rx.recv() {
                    while let Ok(newer) = rx.try_recv() {
                        sources = newer;
                    }
                    save(&data_dir, &sources);
                }
            })
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok((Saver(tx), thread))
    }

    fn save(&self, sources: Sources) {
        if self.0.send(sources).is_err() {
            tracing::error!("the last good config cannot be saved: its thread has stopped");
        }
    }
}

/// Applies a config that loaded and has its sources saved as the last good config.
fn apply(
    dir: &Path,
    fleet: &Addr<Fleet>,
    cfg: Config,
    sources: Option<Sources>,
    saver: &Saver,
) -> Arc<Config> {
    for w in &cfg.warnings {
        tracing::warn!(dir = %dir.display(), "config: {w}");
    }
    let cfg = Arc::new(cfg);
    fleet.do_send(ApplyConfig(Arc::clone(&cfg)));
    if let Some(sources) = sources {
        saver.save(sources);
    }
    cfg
}

/// Loads the directory and hands the result to the fleet: the config when it is valid (the
/// fleet applies only the differences, and the sources are saved as the last good config),
/// the errors when it is not.
fn load_and_apply(dir: &Path, fleet: &Addr<Fleet>, saver: &Saver) -> Option<Arc<Config>> {
    let sources = Sources::read(dir);
    match load_sources(&sources) {
        Ok(cfg) => Some(apply(dir, fleet, cfg, Some(sources), saver)),
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

/// A running watch on a config directory; dropping it stops the watch and waits for the last
/// good config being saved.
pub struct ConfigWatcher {
    watch: Option<DirWatch>,
    saving: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        // The watch's callback holds the saver's last sender: it goes first, which ends the
        // saver's thread once it has saved what waits.
        self.watch.take();
        if let Some(t) = self.saving.take() {
            let _ = t.join();
        }
    }
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
        let (saver, saving) = Saver::start(data_dir)?;
        let (d, f, s) = (dir.clone(), fleet.clone(), saver.clone());
        let watch = DirWatch::start("vigie-config", &dir, RecursiveMode::Recursive, move |w| {
            follow_secrets(w, load_and_apply(&d, &f, &s).as_deref());
        })?;
        let cfg = apply(&dir, &fleet, initial.config, initial.sources, &saver);
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
        Ok(ConfigWatcher {
            watch: Some(watch),
            saving: Some(saving),
        })
    }

    /// Reloads now (on SIGHUP, or from the API).
    pub fn reload_now(&self) {
        if let Some(w) = &self.watch {
            w.trigger();
        }
    }
}
