//! The one clock of the daemon. Nothing reads the wall clock except through it, so tests can
//! pause and advance time with tokio's test utilities.

use chrono::{DateTime, Utc};

/// Source of the current time.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's wall clock.
    System,
    /// Wall time derived from tokio's clock: `base` plus the tokio time elapsed since
    /// `started`. Under `tokio::time::pause` it advances only as the test advances it.
    Tokio {
        /// Wall time at `started`.
        base: DateTime<Utc>,
        /// Tokio instant at which `base` was read.
        started: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that starts at `base` and follows tokio's (possibly paused) time.
    pub fn tokio_at(base: DateTime<Utc>) -> Self {
        Clock::Tokio {
            base,
            started: tokio::time::Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { base, started } => {
                let elapsed = tokio::time::Instant::now().saturating_duration_since(*started);
                *base + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
            }
        }
    }

    /// How long from now until `at` (zero when `at` is past).
    pub fn until(&self, at: DateTime<Utc>) -> std::time::Duration {
        (at - self.now()).to_std().unwrap_or_default()
    }
}
