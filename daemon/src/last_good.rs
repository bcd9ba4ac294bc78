//! The last good config: a copy of the config files that last loaded, kept in the data
//! directory (`last-good-config/`). When the files do not load at start, the daemon runs on
//! this copy, says so, and keeps watching the files; without a copy it refuses to start.

use crate::config::{Config, ConfigErrors, MAIN_FILE, SITES_DIR, Sources, load_sources};
use chrono::{DateTime, Utc};
use std::io;
use std::path::{Path, PathBuf};

/// Folder of the data directory holding the last good config.
pub const LAST_GOOD_DIR: &str = "last-good-config";

/// File of the copy naming the config directory it was copied from.
const ORIGIN_FILE: &str = "origin";

/// Where the last good config of a data directory lives.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(LAST_GOOD_DIR)
}

/// Saves the sources of a config that loaded, replacing the previous copy as a whole: the
/// new copy is written beside it, synced, then swapped in, so a crash leaves one complete
/// copy or the other. Files are private (0600): configs hold community strings.
pub fn save(data_dir: &Path, sources: &Sources) -> io::Result<()> {
    let target = dir(data_dir);
    let fresh = data_dir.join(format!("{LAST_GOOD_DIR}.new"));
    let old = data_dir.join(format!("{LAST_GOOD_DIR}.old"));
    for leftover in [&fresh, &old] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover)?;
        }
    }
    std::fs::create_dir_all(fresh.join(SITES_DIR))?;
    let write = |rel: &Path, text: &str| -> io::Result<()> {
        let path = fresh.join(rel);
        crate::store::write_private(&path, text.as_bytes())?;
        std::fs::File::open(&path)?.sync_all()
    };
    if let Some(main) = &sources.main {
        write(Path::new(MAIN_FILE), main)?;
    }
    for (rel, text) in &sources.sites {
        write(rel, text)?;
    }
    // The directory the files came from, where the files they name (the logo) are found.
    if let Some(origin) = &sources.dir {
        write(Path::new(ORIGIN_FILE), &origin.to_string_lossy())?;
    }
    if target.exists() {
        std::fs::rename(&target, &old)?;
    }
    std::fs::rename(&fresh, &target)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    if let Ok(d) = std::fs::File::open(data_dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The last good config of a data directory, loaded, with when it was saved; `None` when no
/// copy exists. A copy that no longer loads (a secret file gone since) is an error.
pub fn load(data_dir: &Path) -> Option<Result<(Config, DateTime<Utc>), ConfigErrors>> {
    let d = dir(data_dir);
    let saved = std::fs::metadata(d.join(SITES_DIR)).ok()?.modified().ok()?;
    let mut sources = Sources::read(&d);
    sources.dir = std::fs::read_to_string(d.join(ORIGIN_FILE))
        .ok()
        .map(|o| PathBuf::from(o.trim_end_matches('\n')));
    Some(load_sources(&sources).map(|c| (c, DateTime::<Utc>::from(saved))))
}

/// The config the daemon starts on.
#[derive(Debug)]
pub struct StartConfig {
    /// The config applied first.
    pub config: Config,
    /// The sources it was read from, to save as the last good config once applied (none
    /// when running on the saved copy).
    pub sources: Option<Sources>,
    /// Set when the config files do not load and the daemon runs on the last good config.
    pub fallback: Option<Fallback>,
}

/// Running on the last good config because the files do not load.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fallback {
    /// When the copy in force was saved.
    pub saved_at: DateTime<Utc>,
    /// Where it is.
    #[schema(value_type = String)]
    pub path: PathBuf,
    /// Why the config files were refused.
    pub errors: Vec<String>,
}

/// Why the daemon cannot start on any config.
#[derive(Debug, thiserror::Error)]
pub enum StartConfigError {
    /// The files do not load and no last good config is saved.
    #[error(
        "the config in {dir} does not load, and no last good config is saved in {saved} to run on:\n{errors}"
    )]
    NoFallback {
        /// The config directory.
        dir: PathBuf,
        /// Where a last good config would be.
        saved: PathBuf,
        /// The problems.
        errors: ConfigErrors,
    },
    /// Neither the files nor the saved copy load.
    #[error(
        "the config in {dir} does not load:\n{errors}\nand the last good config in {saved} does not load either:\n{saved_errors}"
    )]
    BothRefused {
        /// The config directory.
        dir: PathBuf,
        /// Where the last good config is.
        saved: PathBuf,
        /// The problems of the files.
        errors: ConfigErrors,
        /// The problems of the saved copy.
        saved_errors: ConfigErrors,
    },
}

/// Chooses the config to start on: the files when they load, else the last good config.
pub fn choose(config_dir: &Path, data_dir: &Path) -> Result<StartConfig, StartConfigError> {
    let sources = if config_dir.is_dir() {
        Sources::read(config_dir)
    } else {
        Sources {
            unreadable: vec![crate::config::Diagnostic {
                file: config_dir.to_path_buf(),
                line: 0,
                column: 0,
                message: "not a directory: a config directory holds vigie.toml and sites/".into(),
                hint: None,
            }],
            ..Sources::default()
        }
    };
    let errors = match load_sources(&sources) {
        Ok(config) => {
            return Ok(StartConfig {
                config,
                sources: Some(sources),
                fallback: None,
            });
        }
        Err(e) => e,
    };
    match load(data_dir) {
        None => Err(StartConfigError::NoFallback {
            dir: config_dir.to_path_buf(),
            saved: dir(data_dir),
            errors,
        }),
        Some(Err(saved_errors)) => Err(StartConfigError::BothRefused {
            dir: config_dir.to_path_buf(),
            saved: dir(data_dir),
            errors,
            saved_errors,
        }),
        Some(Ok((config, saved_at))) => Ok(StartConfig {
            config,
            sources: None,
            fallback: Some(Fallback {
                saved_at,
                path: dir(data_dir),
                errors: errors.0.iter().map(|d| d.to_string()).collect(),
            }),
        }),
    }
}
