//! `[daemon]` settings and the probe budget they imply.

use super::*;

/// `[daemon]`.
pub(super) fn daemon(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    let d = &raw.daemon;
    if let Some(v) = &d.collection_interval
        && let Some(i) = cx.bounded_duration(v, "collection_interval", INTERVAL_MIN, INTERVAL_MAX)
    {
        config.daemon.collection_interval = i;
    }
    if let Some(v) = &d.probe_timeout
        && let Some(t) = cx.bounded_duration(
            v,
            "probe_timeout",
            Duration::from_millis(100),
            Duration::from_secs(300),
        )
    {
        config.daemon.probe_timeout = t;
    }
    if let Some(v) = &d.ping_count {
        match *v.get_ref() {
            1..=20 => config.daemon.ping_count = *v.get_ref(),
            n => cx.at(
                v,
                format!("ping_count: {n} is out of range (1 to 20)"),
                None,
            ),
        }
    }
    if let Some(v) = &d.ping_retries {
        match *v.get_ref() {
            0..=5 => config.daemon.ping_retries = *v.get_ref(),
            n => cx.at(
                v,
                format!("ping_retries: {n} is out of range (0 to 5)"),
                None,
            ),
        }
    }
    if let Some(v) = &d.ping_timeout
        && let Some(t) = cx.bounded_duration(
            v,
            "ping_timeout",
            Duration::from_millis(50),
            Duration::from_secs(30),
        )
    {
        config.daemon.ping_timeout = t;
    }
    if let Some(v) = &d.listen {
        match v.get_ref().parse() {
            Ok(addr) => config.daemon.listen = addr,
            Err(_) => cx.at(
                v,
                format!("listen: `{}` is not an address and port", v.get_ref()),
                Some("write it as `127.0.0.1:8480` or `[::1]:8480`".into()),
            ),
        }
    }
    if let Some(v) = &d.max_probes_in_flight {
        if *v.get_ref() == 0 {
            cx.at(v, "max_probes_in_flight must be at least 1", None);
        } else {
            config.daemon.max_probes_in_flight = *v.get_ref();
        }
    }
    let d = &config.daemon;
    let ping_budget = (d.ping_timeout + Duration::from_millis(20) * u32::from(d.ping_count))
        * (1 + u32::from(d.ping_retries));
    if ping_budget >= d.probe_timeout {
        let span = raw
            .daemon
            .ping_timeout
            .as_ref()
            .map(|v| v.span())
            .or_else(|| raw.daemon.probe_timeout.as_ref().map(|v| v.span()))
            .unwrap_or(0..0);
        cx.error(
            span,
            format!(
                "ICMP rounds may take {} (ping_timeout and {} requests, {} retries), not less than probe_timeout ({}): a silent equipment would be reported unknown instead of down",
                crate::util::format_duration(ping_budget),
                d.ping_count,
                d.ping_retries,
                crate::util::format_duration(d.probe_timeout)
            ),
            Some("lower ping_timeout or ping_retries, or raise probe_timeout".into()),
        );
    }
}
