//! One debounced watcher for the folders the daemon follows (the config directory, the folders
//! of secret files, the plugins directory), over notify: a burst of changes becomes one call
//! of the owner's handler, on a thread of its own, once no change came for [`DEBOUNCE`].
//! Reads are ignored, so loading what changed never triggers another load. Between changes
//! the thread sleeps on its channel: an idle daemon is not woken by its watches.

use notify::{RecursiveMode, Watcher as _};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Quiet time after the last change before the handler runs.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

struct Inner {
    watcher: notify::RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
}

/// What wakes a watch's thread.
enum Wake {
    /// Something changed in a watched path: wait for the burst to end.
    Changed,
    /// Run the handler now (SIGHUP).
    Now,
}

/// The paths a [`DirWatch`] follows; more can be added from its handler.
#[derive(Clone)]
pub struct Watches(Arc<Mutex<Inner>>);

impl Watches {
    /// Follows `path` too (once: a path already followed is left as it is).
    pub fn watch(&self, path: &Path, mode: RecursiveMode) -> Result<(), notify::Error> {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if inner.watched.contains(path) {
            return Ok(());
        }
        inner.watcher.watch(path, mode)?;
        inner.watched.insert(path.to_path_buf());
        Ok(())
    }
}

/// A running watch; dropping it stops the watch and, once its handler returns, its thread.
pub struct DirWatch {
    watches: Watches,
    trigger: Sender<Wake>,
}

impl DirWatch {
    /// Follows `path` and runs `on_change` on a thread named `thread` after each burst of
    /// changes (and on [`DirWatch::trigger`]). The first load is the caller's.
    pub fn start(
        thread: &str,
        path: &Path,
        mode: RecursiveMode,
        mut on_change: impl FnMut(&Watches) + Send + 'static,
    ) -> Result<DirWatch, notify::Error> {
        let (tx, rx) = channel::<Wake>();
        let events = tx.clone();
        let label = thread.to_string();
        let watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                Ok(ev) if !ev.kind.is_access() => {
                    let _ = events.send(Wake::Changed);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(watch = %label, "watch: {e}"),
            })?;
        let watches = Watches(Arc::new(Mutex::new(Inner {
            watcher,
            watched: BTreeSet::new(),
        })));
        watches.watch(path, mode)?;
        // A weak handle: dropping the DirWatch drops the watcher, whose handler holds the
        // last sender but one (the DirWatch's trigger), which ends this thread.
        let handle = Arc::downgrade(&watches.0);
        std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    if let Wake::Changed = first {
                        // The burst ends once no change came for DEBOUNCE.
                        loop {
                            match rx.recv_timeout(DEBOUNCE) {
                                Ok(_) => {}
                                Err(RecvTimeoutError::Timeout) => break,
                                Err(RecvTimeoutError::Disconnected) => return,
                            }
                        }
                    }
                    // Triggers that piled up while the handler ran make one more run, not many.
                    while rx.try_recv().is_ok() {}
                    let Some(inner) = handle.upgrade() else {
                        return;
                    };
                    on_change(&Watches(inner));
                }
            })
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(DirWatch {
            watches,
            trigger: tx,
        })
    }

    /// Runs the handler now, as if something changed (SIGHUP).
    pub fn trigger(&self) {
        let _ = self.trigger.send(Wake::Now);
    }

    /// What it follows.
    pub fn watches(&self) -> &Watches {
        &self.watches
    }
}
