//! Log lines as journald reads them when systemd runs the daemon: no colour, no timestamp
//! (the journal adds its own), and each line prefixed with its syslog priority (`<3>` error,
//! `<4>` warning, `<6>` info, `<7>` debug), which journald maps to the entry's level.

use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Whether stderr is connected to the journal: systemd sets `JOURNAL_STREAM` to the device and
/// inode of the stream it gave the service, which a redirected stderr no longer matches.
pub fn stderr_is_journal() -> bool {
    std::env::var("JOURNAL_STREAM")
        .ok()
        .and_then(|v| parse_stream(&v))
        .is_some_and(|(dev, ino)| stderr_identity() == Some((dev, ino)))
}

/// `DEVICE:INODE` as systemd writes it.
fn parse_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.split_once(':')?;
    Some((dev.trim().parse().ok()?, ino.trim().parse().ok()?))
}

/// The device and inode of the process's stderr.
#[cfg(unix)]
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn stderr_identity() -> Option<(u64, u64)> {
    None
}

/// The syslog priority journald gives a line of this level.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The text format without time or colour, each line prefixed with its priority.
pub struct JournalFormat {
    inner: Format<tracing_subscriber::fmt::format::Full, ()>,
}

impl Default for JournalFormat {
    fn default() -> Self {
        Self {
            inner: Format::default().without_time().with_ansi(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = priority(event.metadata().level());
        // A multi-line message keeps its priority on every line.
        let mut text = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut text), event)?;
        for line in text.lines() {
            writeln!(writer, "<{level}>{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_identity_is_read_as_systemd_writes_it() {
        assert_eq!(parse_stream("8:1234"), Some((8, 1234)));
        assert_eq!(parse_stream("8"), None);
        assert_eq!(parse_stream("x:1"), None);
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
    }
}
