//! Reading a config directory: `vigie.toml` plus `sites/*.toml`, parsed section by section so
//! that every error of a file is reported with its file, line and column.

use super::model::*;
use super::raw::*;
use crate::maintenance::{MaintenanceWindow, WindowError};
use crate::util::valid_id;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

mod accounts;
mod credentials;
mod daemon;
mod equipment;
mod maintenance;
mod people;
mod snmp;
mod thresholds;

use equipment::SiteEquipment;
use thresholds::thresholds;

/// Name of the main file in a config directory.
pub const MAIN_FILE: &str = "vigie.toml";
/// Name of the folder holding one file per site.
pub const SITES_DIR: &str = "sites";

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File, relative to the config directory.
    pub file: PathBuf,
    /// 1-based line (0 when the problem concerns the whole file).
    pub line: usize,
    /// 1-based column (0 when the problem concerns the whole file).
    pub column: usize,
    /// What is wrong, in plain words.
    pub message: String,
    /// A suggestion, such as the key that was probably meant.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in a config directory; the config is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A file being read, and the diagnostics found in it.
struct FileCx<'a> {
    path: PathBuf,
    /// Where relative file references are found from.
    base: Option<PathBuf>,
    text: &'a str,
    diags: &'a mut Vec<Diagnostic>,
    warnings: &'a mut Vec<Diagnostic>,
    /// Byte offset of the start of each line, for positions in O(log n).
    line_starts: Vec<usize>,
    /// Did-you-mean hints already computed, by name misspelled.
    hints: HashMap<String, Option<String>>,
}

/// Distinct misspelled names of one file that get a did-you-mean hint: each costs a pass over
/// the candidates, so a file with thousands of distinct unknown names stays linear.
const HINTS_PER_FILE: usize = 64;

impl<'a> FileCx<'a> {
    fn new(
        path: PathBuf,
        text: &'a str,
        diags: &'a mut Vec<Diagnostic>,
        warnings: &'a mut Vec<Diagnostic>,
    ) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        FileCx {
            path,
            base: None,
            text,
            diags,
            warnings,
            line_starts,
            hints: HashMap::new(),
        }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|s| *s <= offset).max(1);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }

    /// A did-you-mean hint for a misspelled `name` among `candidates`, remembered per name;
    /// past [`HINTS_PER_FILE`] distinct names, none.
    fn did_you_mean(&mut self, name: &str, candidates: &BTreeSet<String>) -> Option<String> {
        if let Some(h) = self.hints.get(name) {
            return h.clone();
        }
        if self.hints.len() >= HINTS_PER_FILE {
            return None;
        }
        let hint = did_you_mean(name, candidates.iter().map(String::as_str));
        self.hints.insert(name.to_string(), hint.clone());
        hint
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        let (line, column) = self.position(span.start);
        self.diags.push(Diagnostic {
            file: self.path.clone(),
            line,
            column,
            message: message.into(),
            hint,
        });
    }

    fn at<T>(&mut self, value: &Spanned<T>, message: impl Into<String>, hint: Option<String>) {
        self.error(value.span(), message, hint);
    }

    /// Something worth saying that does not stop the config from loading.
    fn warn_at<T>(&mut self, value: &Spanned<T>, message: impl Into<String>) {
        let (line, column) = self.position(value.span().start);
        self.warnings.push(Diagnostic {
            file: self.path.clone(),
            line,
            column,
            message: message.into(),
            hint: None,
        });
    }

    fn toml_error(&mut self, err: toml::de::Error) {
        let span = err.span().unwrap_or(0..0);
        let (mut message, hint) = explain_serde_message(err.message());
        if message.starts_with("has the wrong type") {
            let key = key_before(self.text, span.start).unwrap_or_else(|| "value".into());
            message = format!("`{key}` {message}");
        }
        self.error(span, message, hint);
    }

    /// Deserialises one spanned TOML value, recording an error when it does not fit.
    fn section<T: for<'de> Deserialize<'de>>(&mut self, value: &Spanned<DeValue<'_>>) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                self.toml_error(e);
                None
            }
        }
    }

    fn duration(&mut self, value: &Spanned<String>, what: &str) -> Option<Duration> {
        match humantime::parse_duration(value.get_ref().trim()) {
            Ok(d) => Some(d),
            Err(_) => {
                self.at(
                    value,
                    format!("{what}: `{}` is not a duration", value.get_ref()),
                    Some("write a number and a unit, such as `30s`, `5m`, `2h` or `7d`".into()),
                );
                None
            }
        }
    }

    fn bounded_duration(
        &mut self,
        value: &Spanned<String>,
        what: &str,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let d = self.duration(value, what)?;
        if d < min || d > max {
            self.at(
                value,
                format!(
                    "{what}: {} is out of range ({} to {})",
                    value.get_ref(),
                    crate::util::format_duration(min),
                    crate::util::format_duration(max)
                ),
                None,
            );
            return None;
        }
        Some(d)
    }
}

/// The key written just before the value starting at `offset` (`key = value`).
fn key_before(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?.trim_end();
    let before = before.strip_suffix('=')?.trim_end();
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '"')))
        .map(|i| i + 1)
        .unwrap_or(0);
    let key = before[start..].trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}

/// Plain words for serde's names of expected types.
fn plain_type(t: &str) -> String {
    match t.trim() {
        "a sequence" => "a list such as [\"a\", \"b\"]".into(),
        "f64" | "f32" => "a number".into(),
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" => "a whole number".into(),
        "a boolean" => "true or false".into(),
        "a map" => "a table".into(),
        other if other.starts_with("struct ") => "a table".into(),
        other => other.to_string(),
    }
}

/// Turns serde's messages into plain words and adds a hint for a misspelled key.
fn explain_serde_message(message: &str) -> (String, Option<String>) {
    let message = message.trim().to_string();
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return (
            format!(
                "has the wrong type: found {found}, expected {}",
                plain_type(expected)
            ),
            None,
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, tail)) = rest.split_once('`')
    {
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        let hint = did_you_mean(name, expected.iter().copied()).or_else(|| {
            (!expected.is_empty())
                .then(|| listing("the keys allowed here are", expected.iter().copied()))
        });
        return (format!("unknown key `{name}`"), hint);
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return (format!("missing required key `{name}`"), None);
    }
    (message, None)
}

/// "did you mean `x`?" for the candidate closest to `name`, if it is a likely misspelling.
fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `prefix` followed by the items, quoted and separated by commas.
fn listing<'a>(prefix: &str, items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    format!("{prefix} {}", items.join(", "))
}

/// The candidate closest to `name`, if it is close enough to be a likely misspelling.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A contact's or an account's `language` (`fr` when absent), saying where another is.
fn language(cx: &mut FileCx<'_>, v: Option<&Spanned<String>>, whose: &str) -> Language {
    match v.map(|l| (l, l.get_ref().as_str())) {
        None | Some((_, "fr")) => Language::Fr,
        Some((_, "en")) => Language::En,
        Some((l, other)) => {
            cx.at(
                l,
                format!("{whose}: language `{other}` is not `fr` or `en`"),
                None,
            );
            Language::Fr
        }
    }
}

fn check_id(cx: &mut FileCx<'_>, id: &Spanned<String>, what: &str) -> bool {
    if valid_id(id.get_ref()) {
        true
    } else {
        cx.at(
            id,
            format!("invalid {what} id `{}`", id.get_ref()),
            Some("ids use letters, digits, `-`, `_` and `.`, up to 64 characters".into()),
        );
        false
    }
}

fn key_spanned(key: &Spanned<toml::de::DeString<'_>>) -> Spanned<String> {
    Spanned::new(key.span(), key.get_ref().to_string())
}

fn parse_file<'i>(cx: &mut FileCx<'i>) -> Option<Spanned<DeTable<'i>>> {
    let (table, errors) = DeTable::parse_recoverable(cx.text);
    if errors.is_empty() {
        return Some(table);
    }
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        cx.error(span, format!("TOML syntax: {}", e.message().trim()), None);
    }
    None
}

fn unknown_section(cx: &mut FileCx<'_>, key: &Spanned<String>, allowed: &[&str]) {
    let hint = did_you_mean(key.get_ref(), allowed.iter().copied())
        .unwrap_or_else(|| listing("the sections allowed here are", allowed.iter().copied()));
    cx.at(
        key,
        format!("unknown section `{}`", key.get_ref()),
        Some(hint),
    );
}

fn table_entries<'v, 'i>(
    cx: &mut FileCx<'_>,
    key: &Spanned<String>,
    value: &'v Spanned<DeValue<'i>>,
) -> Vec<(Spanned<String>, &'v Spanned<DeValue<'i>>)> {
    match value.get_ref() {
        DeValue::Table(t) => t.iter().map(|(k, v)| (key_spanned(k), v)).collect(),
        other => {
            cx.at(
                key,
                format!(
                    "`{}` must be a table of entries, found {}",
                    key.get_ref(),
                    other.type_str()
                ),
                Some(format!("write `[{}.NAME]` headers", key.get_ref())),
            );
            Vec::new()
        }
    }
}

fn array_entries<'v, 'i>(
    cx: &mut FileCx<'_>,
    key: &Spanned<String>,
    value: &'v Spanned<DeValue<'i>>,
) -> &'v [Spanned<DeValue<'i>>] {
    match value.get_ref() {
        DeValue::Array(a) => a.as_ref(),
        other => {
            cx.at(
                key,
                format!(
                    "`{}` must be a list of tables, found {}",
                    key.get_ref(),
                    other.type_str()
                ),
                Some(format!(
                    "write each entry under a `[[{}]]` header",
                    key.get_ref()
                )),
            );
            &[]
        }
    }
}

fn read_main(cx: &mut FileCx<'_>) -> RawMain {
    let mut raw = RawMain::default();
    let Some(table) = parse_file(cx) else {
        return raw;
    };
    for (key, value) in table.get_ref().iter() {
        let key = key_spanned(key);
        match key.get_ref().as_str() {
            "daemon" => raw.daemon = cx.section(value).unwrap_or_default(),
            "thresholds" => raw.thresholds = cx.section(value).unwrap_or_default(),
            "on_call" => raw.on_call = cx.section(value).unwrap_or_default(),
            "escalation" => raw.escalation = cx.section(value).unwrap_or_default(),
            "reports" => raw.reports = cx.section(value).unwrap_or_default(),
            "telemetry" => raw.telemetry = cx.section(value).unwrap_or_default(),
            "notifications" => raw.notifications = cx.section(value).unwrap_or_default(),
            "channels" => raw.channels = cx.section(value).unwrap_or_default(),
            "snmp_oids" => {
                for (k, v) in table_entries(cx, &key, value) {
                    if let Some(oids) = cx.section(v) {
                        raw.snmp_oids.insert(k, oids);
                    }
                }
            }
            "clients" => {
                for (k, v) in table_entries(cx, &key, value) {
                    if let Some(c) = cx.section(v) {
                        raw.clients.insert(k, c);
                    }
                }
            }
            "contacts" => {
                for (k, v) in table_entries(cx, &key, value) {
                    if let Some(c) = cx.section(v) {
                        raw.contacts.insert(k, c);
                    }
                }
            }
            "credentials" => {
                for (k, v) in table_entries(cx, &key, value) {
                    if let Some(c) = cx.section(v) {
                        raw.credentials.insert(k, c);
                    }
                }
            }
            "accounts" => {
                for (k, v) in table_entries(cx, &key, value) {
                    if let Some(a) = cx.section(v) {
                        raw.accounts.insert(k, a);
                    }
                }
            }
            _ => unknown_section(cx, &key, MAIN_SECTIONS),
        }
    }
    raw
}

fn read_site(cx: &mut FileCx<'_>) -> Option<RawSiteFile> {
    let table = parse_file(cx)?;
    let mut raw = RawSiteFile {
        site: None,
        thresholds: RawThresholds::default(),
        maintenance: Vec::new(),
        equipment: Vec::new(),
    };
    let mut site_seen = false;
    for (key, value) in table.get_ref().iter() {
        let key = key_spanned(key);
        match key.get_ref().as_str() {
            "site" => {
                site_seen = true;
                raw.site = cx.section(value);
            }
            "thresholds" => raw.thresholds = cx.section(value).unwrap_or_default(),
            "maintenance" => {
                for v in array_entries(cx, &key, value) {
                    if let Some(m) = cx.section(v) {
                        raw.maintenance.push(m);
                    }
                }
            }
            "equipment" => {
                for v in array_entries(cx, &key, value) {
                    if let Some(e) = cx.section(v) {
                        raw.equipment.push(e);
                    }
                }
            }
            _ => unknown_section(cx, &key, SITE_SECTIONS),
        }
    }
    if !site_seen {
        cx.error(
            0..0,
            "missing `[site]` section",
            Some("a site file starts with `[site]` giving `name`, `client` and `timezone`".into()),
        );
    }
    Some(raw)
}

const INTERVAL_MIN: Duration = Duration::from_secs(1);
const INTERVAL_MAX: Duration = Duration::from_secs(3600);

fn validate_main(cx: &mut FileCx<'_>, raw: &RawMain) -> Config {
    let mut config = Config::default();
    daemon::daemon(cx, raw, &mut config);
    daemon::telemetry(cx, raw, &mut config);
    config.thresholds = thresholds(cx, &Arc::new(Thresholds::default()), &raw.thresholds);
    people::contacts(cx, raw, &mut config);
    let contacts = people::ContactNames::of(raw);
    people::clients(cx, raw, &mut config, &contacts);
    credentials::credentials(cx, raw, &mut config);
    people::on_call(cx, raw, &mut config, &contacts);
    people::escalation(cx, raw, &mut config);
    people::reports(cx, raw, &mut config);
    people::notifications(cx, raw, &mut config);
    credentials::channels(cx, raw, &mut config, &credentials::CredentialNames::of(raw));
    people::reachable(cx, raw, &mut config);
    snmp::snmp_oids(cx, raw, &mut config);
    accounts::accounts(cx, raw, &mut config);
    config
}

const PROBE_NAMES: &[&str] = &[
    "icmp",
    "snmp",
    "tcp",
    "rtsp",
    "agent",
    "heartbeat",
    "plugin",
    "recorder",
];

fn parse_tolerance(cx: &mut FileCx<'_>, v: &Spanned<RawTolerance>) -> Option<Tolerance> {
    match v.get_ref() {
        RawTolerance::Count(n) if (0..=100_000).contains(n) => Some(Tolerance::Count(*n as u32)),
        RawTolerance::Count(n) => {
            cx.at(
                v,
                format!("camera_tolerance: {n} is not a number of cameras"),
                None,
            );
            None
        }
        RawTolerance::Text(t) => {
            let p = t
                .trim()
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<f64>().ok());
            match p {
                Some(p) if (0.0..=5.0).contains(&p) => Some(Tolerance::Percent(p)),
                Some(p) => {
                    cx.at(
                        v,
                        format!(
                            "camera_tolerance: {p}% is out of range: the policy allows 0% to 5%"
                        ),
                        Some("write a count such as `2` for an exception".into()),
                    );
                    None
                }
                None => {
                    cx.at(
                        v,
                        format!("camera_tolerance: `{t}` is neither a count nor a percentage"),
                        Some("write a count (`2`) or a percentage (`\"5%\"`)".into()),
                    );
                    None
                }
            }
        }
    }
}

/// Where an equipment id was first declared, to report duplicates across files.
struct Declared {
    file: PathBuf,
    line: usize,
    column: usize,
}

fn validate_site(
    cx: &mut FileCx<'_>,
    site_id: &str,
    raw: &RawSiteFile,
    main: &Config,
    declared: &mut BTreeMap<String, Declared>,
) -> Option<SiteConfig> {
    let s = raw.site.as_ref()?;
    let client = if main.clients.contains_key(s.client.get_ref().as_str()) {
        Some(ClientId::new(s.client.get_ref()))
    } else {
        let hint = did_you_mean(
            s.client.get_ref(),
            main.clients.keys().map(ClientId::as_str),
        )
        .or_else(|| {
            Some(format!(
                "declare it under `[clients.{}]` in {MAIN_FILE}",
                s.client.get_ref()
            ))
        });
        cx.at(
            &s.client,
            format!("no client named `{}`", s.client.get_ref()),
            hint,
        );
        None
    };
    let timezone = match s.timezone.get_ref().parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            let hint = did_you_mean(
                s.timezone.get_ref(),
                chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()),
            )
            .or_else(|| Some("use an IANA zone name such as `Europe/Paris`".into()));
            cx.at(
                &s.timezone,
                format!("`{}` is not a known time zone", s.timezone.get_ref()),
                hint,
            );
            None
        }
    };
    let criticality = match s.criticality.as_ref().map(|c| (c, c.get_ref().as_str())) {
        None | Some((_, "normal")) => Criticality::Normal,
        Some((_, "low")) => Criticality::Low,
        Some((_, "high")) => Criticality::High,
        Some((_, "critical")) => Criticality::Critical,
        Some((c, other)) => {
            let hint = did_you_mean(other, ["low", "normal", "high", "critical"])
                .or_else(|| Some("use `low`, `normal`, `high` or `critical`".into()));
            cx.at(c, format!("`{other}` is not a criticality"), hint);
            Criticality::Normal
        }
    };
    let site_collection = daemon::collection(
        cx,
        &main.daemon.collection,
        &daemon::CollectionKeys {
            interval: s
                .collection_interval
                .as_ref()
                .map(|v| ("collection_interval", v)),
            probe_timeout: s.probe_timeout.as_ref(),
            ping_count: s.ping_count.as_ref(),
            ping_timeout: s.ping_timeout.as_ref(),
            ping_retries: s.ping_retries.as_ref(),
        },
    );
    let site_thresholds = thresholds(cx, &main.thresholds, &raw.thresholds);

    let SiteEquipment {
        mut equipment,
        parents,
        ids_here,
    } = equipment::equipment(
        cx,
        site_id,
        raw,
        main,
        declared,
        &site_collection,
        &site_thresholds,
    );
    equipment::link_parents(cx, &mut equipment, parents);
    let camera_count = equipment
        .values()
        .filter(|e| e.kind == EquipmentKind::Camera)
        .count();
    let camera_tolerance = match &s.camera_tolerance {
        None => Some(Tolerance::Count(0)),
        Some(v) => {
            let t = parse_tolerance(cx, v);
            if let Some(Tolerance::Count(n)) = t
                && n as usize > camera_count
            {
                // Cameras are removed and added back during works: said, not refused.
                cx.warn_at(
                    v,
                    format!(
                        "camera_tolerance: {n} is more than the number of cameras of the site ({camera_count}); it applies as written"
                    ),
                );
            }
            t
        }
    };

    let maintenance = maintenance::maintenance(cx, site_id, raw, timezone, &ids_here);
    Some(SiteConfig {
        id: SiteId::new(site_id),
        name: s.name.clone(),
        client: client?,
        timezone: timezone?,
        criticality,
        camera_tolerance: camera_tolerance?,
        maintenance,
        thresholds: site_thresholds,
        equipment,
    })
}

/// Whether a file in `sites/` is a site file (editors' backup and swap files are skipped).
fn is_site_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with('.') && name.ends_with(".toml")
}

/// Text sources of a config directory, read from disk or given by tests.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The main file's text, if it exists.
    pub main: Option<String>,
    /// Site files: relative path and text, in name order.
    pub sites: Vec<(PathBuf, String)>,
    /// Files that could not be read.
    pub unreadable: Vec<Diagnostic>,
    /// The directory the files were read from: files the config names by a relative path
    /// (the reports' logo) are found from it (from the working directory when `None`).
    pub dir: Option<PathBuf>,
}

impl Sources {
    /// Reads the files of a config directory.
    pub fn read(dir: &Path) -> Sources {
        let mut out = Sources {
            dir: Some(std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())),
            ..Sources::default()
        };
        match read_config_file(&dir.join(MAIN_FILE), Path::new(MAIN_FILE)) {
            Ok(Some(t)) => out.main = Some(t),
            Ok(None) => {}
            Err(d) => out.unreadable.push(d),
        }
        let sites_dir = dir.join(SITES_DIR);
        match std::fs::read_dir(&sites_dir) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| is_site_file(p))
                    .collect();
                paths.sort();
                for p in paths {
                    let rel = PathBuf::from(SITES_DIR).join(p.file_name().unwrap_or_default());
                    match read_config_file(&p, &rel) {
                        Ok(Some(t)) => out.sites.push((rel, t)),
                        Ok(None) => {}
                        Err(d) => out.unreadable.push(d),
                    }
                }
            }
            // A missing folder is refused rather than read as "no sites": applied, it would
            // retire every site and close every alert.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.unreadable.push(Diagnostic {
                file: PathBuf::from(SITES_DIR),
                line: 0,
                column: 0,
                message: "folder not found: the site files live in sites/ (create it empty for a fleet without sites)".into(),
                hint: None,
            }),
            Err(e) => out.unreadable.push(Diagnostic {
                file: PathBuf::from(SITES_DIR),
                line: 0,
                column: 0,
                message: format!("cannot read the folder: {e}"),
                hint: None,
            }),
        }
        out
    }
}

/// Largest config file read.
pub const MAX_CONFIG_FILE: u64 = 16 << 20;

/// Reads one config file: a regular file (a symlink to one is followed) of at most
/// [`MAX_CONFIG_FILE`], in UTF-8. Anything else is an error naming the file, never a hang on
/// a FIFO or a read of a device. `Ok(None)` when it does not exist.
fn read_config_file(path: &Path, shown: &Path) -> Result<Option<String>, Diagnostic> {
    let error = |line: usize, column: usize, message: String, hint: Option<String>| Diagnostic {
        file: shown.to_path_buf(),
        line,
        column,
        message,
        hint,
    };
    // Checked before opening: opening a FIFO would wait for a writer.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(0, 0, format!("cannot read the file: {e}"), None)),
    };
    if !meta.is_file() {
        return Err(error(
            0,
            0,
            "not a regular file (a folder, FIFO, socket or device): only regular files are read"
                .into(),
            None,
        ));
    }
    if meta.len() > MAX_CONFIG_FILE {
        return Err(error(
            0,
            0,
            format!(
                "the file is {} bytes, more than the {} MiB a config file may have",
                meta.len(),
                MAX_CONFIG_FILE >> 20
            ),
            None,
        ));
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| {
        std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_CONFIG_FILE + 1), &mut bytes)
    });
    if let Err(e) = read {
        return Err(error(0, 0, format!("cannot read the file: {e}"), None));
    }
    if bytes.len() as u64 > MAX_CONFIG_FILE {
        return Err(error(
            0,
            0,
            format!(
                "the file grew past {} MiB while read",
                MAX_CONFIG_FILE >> 20
            ),
            None,
        ));
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        let byte = e.as_bytes().get(valid.len()).copied().unwrap_or(0);
        error(
            line,
            column,
            format!("invalid UTF-8 (byte 0x{byte:02x}): config files are UTF-8 text"),
            Some("save the file as UTF-8".into()),
        )
    })
}

/// Reads, parses and validates a config directory.
pub fn load_dir(dir: &Path) -> Result<Config, ConfigErrors> {
    if !dir.is_dir() {
        return Err(ConfigErrors(vec![Diagnostic {
            file: dir.to_path_buf(),
            line: 0,
            column: 0,
            message: "not a directory: a config directory holds vigie.toml and sites/".into(),
            hint: None,
        }]));
    }
    load_sources(&Sources::read(dir))
}

/// Parses and validates config sources.
pub fn load_sources(sources: &Sources) -> Result<Config, ConfigErrors> {
    let mut diags = sources.unreadable.clone();
    let mut warnings = Vec::new();
    let main_unreadable = diags.iter().any(|d| d.file == Path::new(MAIN_FILE));
    let Some(main_text) = &sources.main else {
        if main_unreadable {
            return Err(ConfigErrors(diags));
        }
        diags.push(Diagnostic {
            file: PathBuf::from(MAIN_FILE),
            line: 0,
            column: 0,
            message: "file not found: the main file is required".into(),
            hint: Some("copy config/example/vigie.toml to start from the commented example".into()),
        });
        return Err(ConfigErrors(diags));
    };
    let mut config = {
        let mut cx = FileCx::new(
            PathBuf::from(MAIN_FILE),
            main_text,
            &mut diags,
            &mut warnings,
        );
        cx.base = sources.dir.clone();
        let raw = read_main(&mut cx);
        validate_main(&mut cx, &raw)
    };
    let mut declared = BTreeMap::new();
    for (path, text) in &sources.sites {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let mut cx = FileCx::new(path.clone(), text, &mut diags, &mut warnings);
        if !valid_id(&stem) {
            cx.error(
                0..0,
                format!("`{stem}` is not a valid site id (the file name without .toml)"),
                Some("site ids use letters, digits, `-`, `_` and `.`".into()),
            );
            continue;
        }
        let before = cx.diags.len();
        let Some(raw) = read_site(&mut cx) else {
            continue;
        };
        let site = validate_site(&mut cx, &stem, &raw, &config, &mut declared);
        if let (Some(site), true) = (site, cx.diags.len() == before) {
            config.sites.insert(site.id.clone(), Arc::new(site));
        }
    }
    if diags.is_empty() {
        config.warnings = warnings.iter().map(ToString::to_string).collect();
        Ok(config)
    } else {
        // Files in reading order, each file's problems in the order of the text.
        let mut order: Vec<PathBuf> = Vec::new();
        for d in &diags {
            if !order.contains(&d.file) {
                order.push(d.file.clone());
            }
        }
        diags.sort_by_key(|d| (order.iter().position(|f| *f == d.file), d.line, d.column));
        Err(ConfigErrors(diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(main: &str, sites: &[(&str, &str)]) -> Sources {
        Sources {
            main: Some(main.to_string()),
            sites: sites
                .iter()
                .map(|(n, t)| {
                    (
                        PathBuf::from(SITES_DIR).join(format!("{n}.toml")),
                        t.to_string(),
                    )
                })
                .collect(),
            unreadable: Vec::new(),
            dir: None,
        }
    }

    const MAIN: &str = "[clients.acme]\nname = \"ACME\"\n";

    #[test]
    fn minimal_config_gets_policy_defaults() {
        let site = "[site]\nname = \"Depot\"\nclient = \"acme\"\ntimezone = \"Europe/Paris\"\n\n[[equipment]]\nid = \"cam-1\"\nkind = \"camera\"\naddress = \"10.0.0.1\"\n";
        let cfg = load_sources(&sources(MAIN, &[("depot", site)])).expect("valid");
        let eq = &cfg.sites["depot"].equipment["cam-1"];
        assert_eq!(*eq.thresholds, Thresholds::default());
        assert_eq!(eq.collection.interval, Duration::from_secs(60));
        assert_eq!(eq.probes, vec![Probe::Icmp]);
        assert_eq!(cfg.sites["depot"].camera_tolerance, Tolerance::Count(0));
    }

    #[test]
    fn channel_credentials_resolve_at_load_to_the_credentials_themselves() {
        let main = "[clients.acme]\nname = \"ACME\"\n[credentials.smtp]\nusername = \"vigie\"\npassword_env = \"VIGIE_TEST_SMTP_PASSWORD_UNSET\"\n[channels.email]\nsmtp_host = \"smtp.example\"\nfrom = \"vigie@example.org\"\ncredentials = \"smtp\"\n";
        let cfg = load_sources(&sources(main, &[])).expect("valid");
        let email = cfg.email.expect("email channel");
        let creds = email.credentials.expect("resolved");
        assert!(Arc::ptr_eq(&creds, &cfg.credentials["smtp"]));
        assert_eq!(creds.username.as_deref(), Some("vigie"));
        // The secret was looked for at load; its absence is reported when it is used.
        assert!(creds.login().is_err());
        let bad = main.replace("credentials = \"smtp\"", "credentials = \"smpt\"");
        let err = load_sources(&sources(&bad, &[])).expect_err("unknown credentials");
        assert!(
            err.to_string().contains("no credentials named `smpt`"),
            "{err}"
        );
        assert!(err.to_string().contains("did you mean `smtp`"), "{err}");
    }

    #[test]
    fn email_connections_and_ca_file_are_checked_at_load() {
        let main = "[clients.acme]\nname = \"ACME\"\n[channels.email]\nsmtp_host = \"smtp.example\"\nfrom = \"vigie@example.org\"\n";
        let cfg = load_sources(&sources(main, &[])).expect("valid");
        let email = cfg.email.expect("email channel");
        assert_eq!(email.connections, EMAIL_CONNECTIONS);
        assert!(email.ca_file.is_none());
        let err = load_sources(&sources(&format!("{main}connections = 0\n"), &[]))
            .expect_err("no connection");
        assert!(
            err.to_string()
                .contains("channels.email.connections: 0 is not between 1 and 64"),
            "{err}"
        );
        assert!(err.to_string().contains("vigie.toml:6:15:"), "{err}");
        let dir = tempfile::tempdir().expect("tmp");
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate").expect("write");
        for (path, what) in [
            (not_pem.display().to_string(), "holds no PEM certificate"),
            (dir.path().display().to_string(), "is not a regular file"),
            ("/nonexistent/ca.pem".to_string(), "No such file"),
        ] {
            let err = load_sources(&sources(&format!("{main}ca_file = \"{path}\"\n"), &[]))
                .expect_err("bad CA file");
            assert!(err.to_string().contains("channels.email.ca_file"), "{err}");
            assert!(err.to_string().contains(what), "{what}: {err}");
        }
    }

    #[test]
    fn the_ticketing_tool_channel_is_checked_at_load() {
        let main = "[clients.acme]\nname = \"ACME\"\n[credentials.tool]\npassword_env = \"VIGIE_TEST_TOOL_TOKEN_UNSET\"\n[channels.tickets]\nurl = \"https://tickets.example/api\"\ncredentials = \"tool\"\n";
        let cfg = load_sources(&sources(main, &[])).expect("valid");
        let t = cfg.tickets.expect("tickets channel");
        assert_eq!(t.url, "https://tickets.example/api");
        assert_eq!(t.tls_trust, TlsTrust::System);
        assert!(t.credentials.is_some());
        let bad = main.replace("https://tickets.example/api", "tickets.example");
        let err = load_sources(&sources(&bad, &[])).expect_err("not a URL");
        assert!(
            err.to_string().contains(
                "vigie.toml:6:7: channels.tickets.url: `tickets.example` is not an http(s) URL"
            ),
            "{err}"
        );
        let bad = main.replace("credentials = \"tool\"", "credentials = \"tol\"");
        let err = load_sources(&sources(&bad, &[])).expect_err("unknown credentials");
        assert!(err.to_string().contains("did you mean `tool`"), "{err}");
    }

    #[test]
    fn the_event_log_retention_defaults_to_25_months_and_is_bounded() {
        let cfg = load_sources(&sources(MAIN, &[])).expect("valid");
        assert_eq!(cfg.daemon.retention, DEFAULT_RETENTION);
        let main = format!("[daemon]\nretention = \"400days\"\n{MAIN}");
        let cfg = load_sources(&sources(&main, &[])).expect("valid");
        assert_eq!(cfg.daemon.retention, Duration::from_secs(400 * 86_400));
        let main = format!("[daemon]\nretention = \"1h\"\n{MAIN}");
        let err = load_sources(&sources(&main, &[])).expect_err("too short");
        assert!(err.to_string().contains("retention"), "{err}");
    }

    #[test]
    fn monthly_reports_default_to_the_first_at_eight_in_paris_and_are_checked() {
        let cfg = load_sources(&sources(MAIN, &[])).expect("valid");
        assert_eq!(cfg.reports, Reports::default());
        assert_eq!(cfg.reports.day, 1);
        let main =
            format!("[reports]\nday = 3\ntime = \"07:30\"\ntimezone = \"Europe/Brussels\"\n{MAIN}");
        let cfg = load_sources(&sources(&main, &[])).expect("valid");
        assert_eq!(cfg.reports.day, 3);
        assert_eq!(cfg.reports.timezone.name(), "Europe/Brussels");
        let main = format!("[reports]\nday = 31\ntime = \"7h\"\n{MAIN}");
        let err = load_sources(&sources(&main, &[])).expect_err("bad");
        let text = err.to_string();
        assert!(
            text.contains("vigie.toml:2:7: reports.day: 31 is not a day between 1 and 28"),
            "{text}"
        );
        assert!(
            text.contains("reports.time: `7h` is not a time (HH:MM)"),
            "{text}"
        );
        // The company's name and colours; a colour that is not one says how to write it.
        let main =
            format!("[reports]\ncompany = \" Vidéo Services \"\ncolour = \"#0B4F8A\"\n{MAIN}");
        let cfg = load_sources(&sources(&main, &[])).expect("valid");
        assert_eq!(cfg.reports.company, "Vidéo Services");
        assert_eq!(cfg.reports.colour, "#0b4f8a");
        assert_eq!(cfg.reports.accent, crate::config::REPORT_ACCENT);
        let main = format!("[reports]\naccent = \"orange\"\n{MAIN}");
        let text = load_sources(&sources(&main, &[]))
            .expect_err("bad")
            .to_string();
        assert!(
            text.contains("vigie.toml:2:10: reports.accent: `orange` is not a colour")
                && text.contains("#rrggbb"),
            "{text}"
        );
    }

    #[test]
    fn accounts_are_checked_and_never_hold_a_password_or_a_token_in_clear() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$dmlnaWUtdGVzdC1zYWx0$8cZzRl3Fh7d3g1m9X8b0S8rS0aRkQxYtq1mVY4Jc4Kg";
        let digest = token_digest_text(&token_digest("vigie_abc"));
        let good = format!(
            "[accounts.marie]\nrole = \"operator\"\npassword = \"{hash}\"\ntokens = [\"{digest}\"]\nlanguage = \"en\"\n\
             [accounts.portal]\nclient = \"acme\"\npassword = \"{hash}\"\n\
             [clients.acme]\nname = \"ACME\"\ncontract = {{ dashboard = true }}\n"
        );
        let cfg = load_sources(&sources(&good, &[])).expect("valid");
        let marie = &cfg.accounts["marie"];
        assert_eq!(marie.access, Access::Ops(OpsRole::Operator));
        assert_eq!(marie.tokens, vec![token_digest("vigie_abc")]);
        assert_eq!(marie.language, Language::En);
        assert_eq!(
            cfg.accounts["portal"].access,
            Access::Client(ClientId::new("acme"))
        );
        // Neither the hash nor the digest is ever serialised (`check-config --json`).
        let json = serde_json::to_string(&cfg.accounts).expect("json");
        assert!(
            !json.contains("argon2") && !json.contains("sha256"),
            "{json}"
        );

        for (main, want) in [
            (
                "[accounts.a]\nrole = \"root\"\n".to_string(),
                "vigie.toml:2:8: role: `root` is not a role",
            ),
            (
                "[accounts.a]\nrole = \"viewer\"\npassword = \"hunter22\"\n".to_string(),
                "vigie.toml:3:12: password: not an argon2id hash",
            ),
            (
                "[accounts.a]\nrole = \"viewer\"\ntokens = [\"vigie_abc\"]\n".to_string(),
                "vigie.toml:3:11: tokens: not a token digest",
            ),
            (
                "[accounts.a]\nclient = \"nobody\"\n".to_string(),
                "client: no client `nobody`",
            ),
            (
                "[accounts.a]\nclient = \"musee\"\n[clients.musee]\nname = \"M\"\n".to_string(),
                "client `musee`'s contract has no dashboard",
            ),
            (
                "[accounts.a]\nrole = \"viewer\"\nclient = \"acme\"\n".to_string(),
                "has both a role and a client",
            ),
            (
                "[accounts.local]\nrole = \"viewer\"\n".to_string(),
                "reserved for the daemon's local token",
            ),
            (
                format!(
                    "[accounts.a]\nrole = \"viewer\"\ntokens = [\"{digest}\"]\n[accounts.b]\nrole = \"viewer\"\ntokens = [\"{digest}\"]\n"
                ),
                "already given to account `a`",
            ),
            (
                "[daemon]\nserver_names = [\"bad name\"]\n".to_string(),
                "server_names: `bad name` is not a host name",
            ),
            (
                "[daemon]\ntls_certificate = \"/nonexistent/c.pem\"\n".to_string(),
                "vigie.toml:2:19: tls_certificate and tls_key go together",
            ),
            (
                "[daemon]\ntls_certificate = \"/nonexistent/c.pem\"\ntls_key = \"/nonexistent/k.pem\"\n"
                    .to_string(),
                "tls_certificate: /nonexistent/c.pem cannot be read",
            ),
        ] {
            let text = load_sources(&sources(&format!("{main}{MAIN}"), &[]))
                .expect_err(want)
                .to_string();
            assert!(text.contains(want), "{want} not in {text}");
        }
    }

    #[test]
    fn telemetry_exports_only_to_a_valid_endpoint_and_says_where_a_bad_one_is() {
        let cfg = load_sources(&sources(MAIN, &[])).expect("valid");
        assert_eq!(cfg.telemetry.otlp, None);
        let main = format!(
            "[telemetry]\notlp_endpoint = \"http://otel.example:4318/\"\ninterval = \"15s\"\ntraces = false\n{MAIN}"
        );
        let cfg = load_sources(&sources(&main, &[])).expect("valid");
        let otlp = cfg.telemetry.otlp.expect("otlp");
        assert_eq!(otlp.endpoint, "http://otel.example:4318");
        assert_eq!(otlp.interval, Duration::from_secs(15));
        assert!(!otlp.traces);
        assert_eq!(otlp.buffer, OTLP_BUFFER);
        let main = format!("[telemetry]\notlp_endpoint = \"otel:4318\"\nbuffer = 3\n{MAIN}");
        let text = load_sources(&sources(&main, &[]))
            .expect_err("bad")
            .to_string();
        assert!(
            text.contains("vigie.toml:2:17: telemetry.otlp_endpoint: `otel:4318` is not an http:// or https:// URL"),
            "{text}"
        );
        // Settings without an endpoint export nothing, and the load says so.
        let main = format!("[telemetry]\ninterval = \"15s\"\n{MAIN}");
        let cfg = load_sources(&sources(&main, &[])).expect("valid");
        assert!(
            cfg.warnings
                .iter()
                .any(|w| w.contains("otlp_endpoint is not")),
            "{:?}",
            cfg.warnings
        );
    }

    #[test]
    fn overrides_cascade_main_site_equipment() {
        let main = "[thresholds]\ndisk = { warning = 80 }\n[clients.acme]\nname = \"ACME\"\n";
        let site = "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"UTC\"\n[thresholds.disk]\ncritical = 90\n[[equipment]]\nid = \"nvr-1\"\nkind = \"nvr\"\naddress = \"10.0.0.2\"\nthresholds = { disk = { warning = 70 } }\n[[equipment]]\nid = \"nvr-2\"\nkind = \"nvr\"\naddress = \"10.0.0.3\"\n";
        let cfg = load_sources(&sources(main, &[("d", site)])).expect("valid");
        let s = &cfg.sites["d"];
        assert_eq!(s.equipment["nvr-1"].thresholds.disk.warning, 70.0);
        assert_eq!(s.equipment["nvr-1"].thresholds.disk.critical, 90.0);
        assert_eq!(s.equipment["nvr-2"].thresholds.disk.warning, 80.0);
        assert!(Arc::ptr_eq(&s.equipment["nvr-2"].thresholds, &s.thresholds));
    }

    #[test]
    fn collection_settings_cascade_main_site_equipment_under_one_name() {
        let main =
            "[daemon]\nprobe_timeout = \"8s\"\nping_count = 2\n[clients.acme]\nname = \"ACME\"\n";
        let site = "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"UTC\"\ncollection_interval = \"30s\"\nprobe_timeout = \"5s\"\n[[equipment]]\nid = \"cam-1\"\nkind = \"camera\"\naddress = \"10.0.0.2\"\ncollection_interval = \"20s\"\nprobe_timeout = \"3s\"\nping_retries = 0\nping_timeout = \"500ms\"\n[[equipment]]\nid = \"cam-2\"\nkind = \"camera\"\naddress = \"10.0.0.3\"\n[[equipment]]\nid = \"cam-3\"\nkind = \"camera\"\naddress = \"10.0.0.4\"\ninterval = \"15s\"\n";
        let cfg = load_sources(&sources(main, &[("d", site)])).expect("valid");
        assert_eq!(cfg.daemon.collection.probe_timeout, Duration::from_secs(8));
        let eq = |id: &str| Arc::clone(&cfg.sites["d"].equipment[id].collection);
        let one = eq("cam-1");
        assert_eq!(
            (
                one.interval,
                one.probe_timeout,
                one.ping_count,
                one.ping_retries,
                one.ping_timeout
            ),
            (
                Duration::from_secs(20),
                Duration::from_secs(3),
                2,
                0,
                Duration::from_millis(500)
            )
        );
        let two = eq("cam-2");
        assert_eq!(
            (two.interval, two.probe_timeout, two.ping_count),
            (Duration::from_secs(30), Duration::from_secs(5), 2)
        );
        // Equipment without overrides share their site's settings.
        assert!(Arc::ptr_eq(&two, &eq("cam-2")));
        // The former equipment key still works, with a warning at its line.
        assert_eq!(eq("cam-3").interval, Duration::from_secs(15));
        let w = cfg
            .warnings
            .iter()
            .find(|w| w.contains("`interval` is deprecated"))
            .expect("deprecation warning");
        assert!(w.starts_with("sites/d.toml:23:12: "), "{w}");

        // Both names on one equipment, and ICMP rounds longer than an equipment's own
        // probe_timeout, are errors at the line.
        let both = "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"UTC\"\n[[equipment]]\nid = \"cam-1\"\nkind = \"camera\"\naddress = \"10.0.0.2\"\ncollection_interval = \"20s\"\ninterval = \"15s\"\n[[equipment]]\nid = \"cam-2\"\nkind = \"camera\"\naddress = \"10.0.0.3\"\nprobe_timeout = \"1s\"\n";
        let err = load_sources(&sources(MAIN, &[("d", both)])).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("sites/d.toml:10:12: `interval` and `collection_interval` are both set"),
            "{text}"
        );
        assert!(
            text.contains("sites/d.toml:15:17: ICMP rounds may take"),
            "{text}"
        );
    }

    #[test]
    fn hardware_severities_are_overridable_like_the_other_rules() {
        let site = "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"UTC\"\n[thresholds.hardware]\ndisk = \"warning\"\nafter = \"5m\"\n[[equipment]]\nid = \"nvr-1\"\nkind = \"nvr\"\naddress = \"10.0.0.2\"\nthresholds = { hardware = { other = \"critical\" } }\n";
        let cfg = load_sources(&sources(MAIN, &[("d", site)])).expect("valid");
        let h = cfg.sites["d"].equipment["nvr-1"].thresholds.hardware;
        assert_eq!(h.disk, crate::alert::Severity::Warning);
        assert_eq!(h.other, crate::alert::Severity::Critical);
        assert_eq!(h.after, Duration::from_secs(300));
        assert_eq!(
            cfg.thresholds.hardware.disk,
            crate::alert::Severity::Critical
        );
        let bad = "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"UTC\"\n[thresholds.hardware]\ndisk = \"critcal\"\n";
        let err = load_sources(&sources(MAIN, &[("d", bad)])).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("sites/d.toml:6:8: hardware.disk: `critcal` is not a severity"),
            "{text}"
        );
        assert!(text.contains("did you mean `critical`?"), "{text}");
    }

    #[test]
    fn every_error_of_a_file_is_reported_with_position() {
        let site = "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"Europe/Pariss\"\n\n[[equipment]]\nid = \"cam-1\"\nkind = \"camra\"\n\n[[equipment]]\nid = \"cam-2\"\nkind = \"camera\"\nadress = \"10.0.0.1\"\n";
        let err = load_sources(&sources(MAIN, &[("d", site)])).expect_err("invalid");
        let text = err.to_string();
        assert_eq!(err.0.len(), 3, "{text}");
        assert!(
            text.contains("sites/d.toml:4:12: `Europe/Pariss` is not a known time zone"),
            "{text}"
        );
        assert!(text.contains("did you mean `Europe/Paris`?"), "{text}");
        assert!(
            text.contains("sites/d.toml:8:8: `camra` is not an equipment kind"),
            "{text}"
        );
        assert!(
            text.contains("sites/d.toml:13:1: unknown key `adress`"),
            "{text}"
        );
        assert!(text.contains("did you mean `address`?"), "{text}");
    }

    #[test]
    fn snmp_oids_of_a_kind_apply_to_its_equipment_and_can_be_overridden() {
        let main = "[clients.acme]\nname = \"ACME\"\n[snmp_oids.switch]\n\"hw.fan.ok\" = \"1.3.6.1.4.1.9.9.13.1.4.1.3.1\"\n\"x\" = \".1.3.6.1.2.1.1.3.0\"\n";
        let site = "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"UTC\"\n[[equipment]]\nid = \"sw-1\"\nkind = \"switch\"\naddress = \"10.0.0.1\"\n[[equipment]]\nid = \"sw-2\"\nkind = \"switch\"\naddress = \"10.0.0.2\"\nsnmp = { oids = { \"x\" = \"1.3.6.1.2.1.25.1.1.0\" } }\n[[equipment]]\nid = \"nvr\"\nkind = \"nvr\"\naddress = \"10.0.0.3\"\n";
        let cfg = load_sources(&sources(main, &[("d", site)])).expect("valid");
        let s = &cfg.sites["d"];
        assert_eq!(s.equipment["sw-1"].snmp.oids.len(), 2);
        let x = s.equipment["sw-2"]
            .snmp
            .oids
            .iter()
            .find(|(n, _)| n == "x")
            .expect("x");
        assert_eq!(x.1, vec![1, 3, 6, 1, 2, 1, 25, 1, 1, 0]);
        assert!(s.equipment["nvr"].snmp.oids.is_empty());
        let bad = "[clients.acme]\nname = \"ACME\"\n[snmp_oids.swich]\n\"a\" = \"1.3\"\n[snmp_oids.nvr]\n\"b\" = \"iso.3.6\"\n";
        let err = load_sources(&sources(bad, &[]))
            .expect_err("invalid")
            .to_string();
        assert!(
            err.contains("vigie.toml:3:12: snmp_oids: `swich` is not an equipment kind"),
            "{err}"
        );
        assert!(err.contains("did you mean `switch`?"), "{err}");
        assert!(
            err.contains("snmp_oids.nvr.b: `iso.3.6` is not a numeric OID"),
            "{err}"
        );
    }

    #[test]
    fn parent_cycle_is_refused() {
        let site = "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"UTC\"\n[[equipment]]\nid = \"a\"\nkind = \"switch\"\naddress = \"10.0.0.1\"\nparent = \"b\"\n[[equipment]]\nid = \"b\"\nkind = \"switch\"\naddress = \"10.0.0.2\"\nparent = \"a\"\n";
        let err = load_sources(&sources(MAIN, &[("d", site)])).expect_err("cycle");
        assert!(
            err.to_string().contains("dependency cycle: a -> b -> a"),
            "{err}"
        );
    }

    /// Many equipment referring to missing parents: every reference is an error at its own
    /// line; a misspelling repeated any number of times keeps its hint, and the first
    /// distinct misspellings get theirs.
    #[test]
    fn unknown_parents_at_scale_keep_positions_and_hints() {
        let mut site = String::from(
            "[site]\nname = \"D\"\nclient = \"acme\"\ntimezone = \"UTC\"\n[[equipment]]\nid = \"sw-core\"\nkind = \"switch\"\naddress = \"10.0.0.1\"\n",
        );
        let n = 2_000;
        for i in 0..n {
            let parent = if i % 2 == 0 {
                "sw-cor".to_string()
            } else {
                format!("sw-core{i}")
            };
            site.push_str(&format!("[[equipment]]\nid = \"cam-{i}\"\nkind = \"camera\"\naddress = \"10.0.1.1\"\nparent = \"{parent}\"\n"));
        }
        let err = load_sources(&sources(MAIN, &[("d", &site)])).expect_err("unknown parents");
        assert_eq!(err.0.len(), n);
        for (i, d) in err.0.iter().enumerate() {
            // Each entry is 5 lines after the 8 of the head; `parent` is the 5th.
            assert_eq!(d.line, 8 + 5 * i + 5, "{d}");
            assert_eq!(d.column, 10, "{d}");
        }
        let same = err.0.iter().step_by(2);
        assert!(
            same.clone()
                .all(|d| d.hint.as_deref() == Some("did you mean `sw-core`?"))
        );
        let distinct: Vec<_> = err.0.iter().skip(1).step_by(2).collect();
        assert!(
            distinct[..HINTS_PER_FILE - 1]
                .iter()
                .all(|d| d.hint.as_deref() == Some("did you mean `sw-core`?")),
            "{}",
            distinct[0]
        );
        assert!(
            distinct[HINTS_PER_FILE - 1..]
                .iter()
                .all(|d| d.hint.as_deref() == Some("a parent is an equipment of the same site"))
        );
    }
}
