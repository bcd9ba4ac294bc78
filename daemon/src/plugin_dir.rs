//! The plugins directory is watched: a new or changed `.wasm` is compiled, validated
//! (interface version, imports, describe) and swapped in without a restart; a broken one is
//! refused with a clear message and the version loaded before keeps running; a removed one
//! is unloaded.

use crate::plugins::PluginHost;
use crate::watch::DirWatch;
use notify::RecursiveMode;
use std::path::{Path, PathBuf};

/// Registers the vendor plugins embedded in the binary with `host` (compiled on first use);
/// the plugins directory overrides them by name.
pub fn register_builtins(host: &PluginHost) {
    for (file, bytes) in vigie_builtin_plugins::plugins() {
        host.register_builtin(file, bytes);
    }
}

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
    _watch: DirWatch,
}

impl PluginWatcher {
    /// Loads the plugins of `dir` (created if missing), then watches it.
    pub fn start(dir: PathBuf, host: PluginHost) -> Result<PluginWatcher, notify::Error> {
        std::fs::create_dir_all(&dir).map_err(|e| notify::Error::io(e).add_path(dir.clone()))?;
        host.set_dir(&dir);
        let (d, h) = (dir.clone(), host.clone());
        let watch = DirWatch::start(
            "vigie-plugins",
            &dir,
            RecursiveMode::NonRecursive,
            move |_| scan(&d, &h),
        )?;
        scan(&dir, &host);
        Ok(PluginWatcher { _watch: watch })
    }
}
