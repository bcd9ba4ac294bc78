//! The plugins directory is watched: a new or changed `.wasm` is compiled, validated
//! (interface version, imports, describe) and swapped in without a restart; a broken one is
//! refused with a clear message and the version loaded before keeps running; a removed one
//! is unloaded.

use super::PluginHost;
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};

/// Loads every plugin of `dir` that is new or changed, and unloads those whose file is gone.
pub fn scan(dir: &Path, host: &PluginHost) {
    let mut present = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let path = entry.path();
                // Follows symlinks: a plugin may be linked from where it was built.
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if path.extension().is_some_and(|e| e == "wasm") && meta.is_file() {
                    present.push((path, meta.modified().ok()));
                }
            }
        }
        Err(e) => tracing::warn!("plugins directory {}: {e}", dir.display()),
    }
    host.sync(&present);
}

/// A running watch on the plugins directory; dropping it stops the watch.
pub struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
}

impl PluginWatcher {
    /// Loads the plugins of `dir` (created if missing), then watches it.
    pub fn start(dir: PathBuf, host: PluginHost) -> Result<PluginWatcher, notify::Error> {
        std::fs::create_dir_all(&dir).map_err(|e| notify::Error::io(e).add_path(dir.clone()))?;
        host.set_dir(&dir);
        let (tx, rx) = channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                Ok(ev) if ev.kind.is_access() => {}
                Ok(_) => {
                    let _ = tx.send(());
                }
                Err(e) => tracing::warn!("plugins watch: {e}"),
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        scan(&dir, &host);
        std::thread::Builder::new()
            .name("vigie-plugins".into())
            .spawn(move || watch_loop(&dir, &host, &rx))
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(PluginWatcher { _watcher: watcher })
    }
}

fn watch_loop(dir: &Path, host: &PluginHost, rx: &Receiver<()>) {
    while rx.recv().is_ok() {
        loop {
            match rx.recv_timeout(crate::reload::DEBOUNCE) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        scan(dir, host);
    }
}
