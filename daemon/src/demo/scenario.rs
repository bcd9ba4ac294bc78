//! A demo scenario: faults and repairs at times from the demo's start, read from TOML
//! (`[[event]] at = "40s", device = "lyon-sw", action = "down"`); an error names the file,
//! line and column. The same actions are offered by the control API.

use super::sim::{DeviceState, Simulator};
use serde::Deserialize;
use std::time::Duration;
use toml::Spanned;

/// What can happen to a device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Stops answering.
    Down,
    /// Answers again.
    Up,
    /// Recording volume at this percentage.
    Disk(f64),
    /// This many degrees over its usual temperature.
    Heat(f64),
    /// The recording service stops.
    RecordingStopped,
    /// The recording service runs again.
    RecordingStarted,
    /// A recorder shows a disk in error and a camera offline.
    Degraded,
    /// A recorder is healthy again.
    Healthy,
    /// Restarts: down a few seconds, then up with a new boot time.
    Reboot,
    /// Goes down and up every this many seconds, until `up` or `down`.
    Flap(f64),
    /// Its clock runs this many seconds off (ONVIF devices report it).
    Clock(f64),
}

/// Every action's name, as written in scenarios and the control API.
pub const ACTIONS: &str = "down, up, disk, heat, recording-stopped, recording-started, degraded, healthy, reboot, flap, clock";

impl Action {
    /// The action `name` with its `value` (disk and heat need one).
    pub fn parse(name: &str, value: Option<f64>) -> Result<Action, String> {
        let need = |what: &str| value.ok_or_else(|| format!("`{name}` needs a value ({what})"));
        Ok(match name {
            "down" => Action::Down,
            "up" => Action::Up,
            "disk" => {
                let v = need("percent full")?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(format!("disk: {v} is not a percentage"));
                }
                Action::Disk(v)
            }
            "heat" => Action::Heat(need("degrees over the usual")?),
            "recording-stopped" => Action::RecordingStopped,
            "recording-started" => Action::RecordingStarted,
            "degraded" => Action::Degraded,
            "healthy" => Action::Healthy,
            "reboot" => Action::Reboot,
            "flap" => {
                let v = need("seconds between changes")?;
                if !(1.0..=3600.0).contains(&v) {
                    return Err(format!("flap: {v} is not between 1 and 3600 seconds"));
                }
                Action::Flap(v)
            }
            "clock" => Action::Clock(need("seconds off the true time")?),
            other => return Err(format!("`{other}` is not an action: {ACTIONS}")),
        })
    }

    fn apply(self, d: &mut DeviceState) {
        match self {
            Action::Down => {
                d.up = false;
                d.flap = None;
            }
            Action::Up => {
                d.up = true;
                d.flap = None;
            }
            Action::Flap(period) => d.flap = Some(period),
            Action::Clock(offset) => d.clock_offset = offset,
            Action::Disk(v) => d.disk = v / 100.0,
            Action::Heat(v) => d.heat = v,
            Action::RecordingStopped => d.recording = false,
            Action::RecordingStarted => d.recording = true,
            Action::Degraded => d.degraded = true,
            Action::Healthy => d.degraded = false,
            Action::Reboot => {
                d.up = true;
                d.boot = chrono::Utc::now().timestamp();
            }
        }
    }
}

/// One event of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When, from the demo's start.
    pub at: Duration,
    /// The equipment.
    pub device: String,
    /// What happens.
    pub action: Action,
    /// What the demo says when it happens.
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    event: Vec<RawEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    at: Spanned<String>,
    device: Spanned<String>,
    action: Spanned<String>,
    value: Option<f64>,
    note: Option<String>,
}

/// Reads a scenario; `file` names it in errors, `devices` are the equipment it may name.
pub fn parse(file: &str, text: &str, devices: &[&str]) -> Result<Vec<Event>, String> {
    let position = |offset: usize| {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{file}:{line}:{column}")
    };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map_or_else(|| file.to_string(), |s| position(s.start));
        format!("{at}: {}", e.message())
    })?;
    let mut errors = Vec::new();
    let mut events = Vec::new();
    for e in raw.event {
        let at = match humantime::parse_duration(e.at.get_ref()) {
            Ok(d) => d,
            Err(_) => {
                errors.push(format!(
                    "{}: at: `{}` is not a duration (\"90s\", \"2m\")",
                    position(e.at.span().start),
                    e.at.get_ref()
                ));
                continue;
            }
        };
        if !devices.contains(&e.device.get_ref().as_str()) {
            errors.push(format!(
                "{}: device: no simulated equipment `{}`",
                position(e.device.span().start),
                e.device.get_ref()
            ));
            continue;
        }
        match Action::parse(e.action.get_ref(), e.value) {
            Ok(action) => events.push(Event {
                at,
                device: e.device.into_inner(),
                action,
                note: e.note,
            }),
            Err(m) => errors.push(format!("{}: action: {m}", position(e.action.span().start))),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    events.sort_by_key(|e| e.at);
    Ok(events)
}

/// Applies `action` to `device` of `sim` (a reboot comes back up after five seconds).
pub fn apply(sim: &Simulator, device: &str, action: Action) -> Result<(), String> {
    let d = sim
        .device(device)
        .ok_or_else(|| format!("no simulated equipment `{device}`"))?;
    if action == Action::Reboot {
        d.update(|s| s.up = false);
        let d = d.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            d.update(|s| Action::Reboot.apply(s));
        });
    } else {
        d.update(|s| action.apply(s));
    }
    Ok(())
}

/// Plays `events` on `sim` from now, saying each with `say`.
pub async fn play(
    sim: std::sync::Arc<Simulator>,
    events: Vec<Event>,
    say: impl Fn(&Event) + Send + 'static,
) {
    let start = tokio::time::Instant::now();
    for e in events {
        tokio::time::sleep_until(start + e.at).await;
        say(&e);
        if let Err(m) = apply(&sim, &e.device, e.action) {
            tracing::warn!("scenario: {m}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_is_read_in_time_order_and_errors_name_the_line() {
        let text = "[[event]]\nat = \"40s\"\ndevice = \"sw\"\naction = \"down\"\n\n[[event]]\nat = \"10s\"\ndevice = \"nvr\"\naction = \"disk\"\nvalue = 96\n";
        let events = parse("s.toml", text, &["sw", "nvr"]).expect("valid");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].action, Action::Disk(96.0));
        assert_eq!(events[1].at, Duration::from_secs(40));
        let bad = "[[event]]\nat = \"soon\"\ndevice = \"sw\"\naction = \"down\"\n[[event]]\nat = \"1s\"\ndevice = \"ghost\"\naction = \"down\"\n[[event]]\nat = \"1s\"\ndevice = \"sw\"\naction = \"explode\"\n[[event]]\nat = \"1s\"\ndevice = \"sw\"\naction = \"disk\"\n";
        let err = parse("s.toml", bad, &["sw"]).expect_err("bad");
        assert!(
            err.contains("s.toml:2:6: at: `soon` is not a duration"),
            "{err}"
        );
        assert!(
            err.contains("s.toml:7:10: device: no simulated equipment `ghost`"),
            "{err}"
        );
        assert!(
            err.contains("s.toml:12:10: action: `explode` is not an action"),
            "{err}"
        );
        assert!(
            err.contains("s.toml:16:10: action: `disk` needs a value"),
            "{err}"
        );
        let err = parse("s.toml", "[[event]]\nat = 3\n", &["sw"]).expect_err("bad");
        assert!(err.starts_with("s.toml:2:6:"), "{err}");
    }
}
