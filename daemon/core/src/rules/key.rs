//! Typed names of what raises alerts: [`RuleId`], one per rule of the policy, and [`RuleKey`],
//! a rule with the labels of the series it watches (`disk.usage{mountpoint=/data}`). Written
//! as that text in snapshots, events and the API, and parsed back exactly; code matches on
//! the enum, never on strings.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A rule that raises alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// R6: an equipment that was up stopped answering.
    ConnectivityLost,
    /// R4: disk or volume usage above its levels.
    DiskUsage,
    /// R5: a temperature above its levels.
    Temperature,
    /// R7: the recording service stopped.
    RecordingStopped,
    /// R3, R8: more cameras offline than the site tolerates.
    CamerasOffline,
    /// A part reported failed (disk, fan, power supply): recording or the equipment's life is
    /// at risk.
    HardwareFailed,
}

impl RuleId {
    /// Every rule.
    pub const ALL: [RuleId; 6] = [
        RuleId::ConnectivityLost,
        RuleId::DiskUsage,
        RuleId::Temperature,
        RuleId::RecordingStopped,
        RuleId::CamerasOffline,
        RuleId::HardwareFailed,
    ];

    /// The rule's name, as written in snapshots, events and the API.
    pub fn name(self) -> &'static str {
        match self {
            RuleId::ConnectivityLost => "connectivity.lost",
            RuleId::DiskUsage => "disk.usage",
            RuleId::Temperature => "temperature",
            RuleId::RecordingStopped => "recording.stopped",
            RuleId::CamerasOffline => "cameras.offline",
            RuleId::HardwareFailed => "hardware.failed",
        }
    }

    /// The rule of a name.
    pub fn from_name(name: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rule and the labels of the series it watches; an alert is identified by its owner and
/// its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleKey {
    /// The rule.
    pub rule: RuleId,
    /// The series' labels, in the order the metric gave them.
    pub labels: Vec<(String, String)>,
}

impl From<RuleId> for RuleKey {
    fn from(rule: RuleId) -> Self {
        RuleKey {
            rule,
            labels: Vec::new(),
        }
    }
}

/// Why a rule key cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No rule has this name.
    #[error("`{0}` is not a rule")]
    UnknownRule(String),
    /// The labels are not `{name=value,...}`.
    #[error("`{0}`: labels must be written {{name=value,...}}")]
    BadLabels(String),
}

/// Characters escaped in label names and values.
fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
}

impl RuleKey {
    /// A rule's key for a series with these labels.
    pub fn new(rule: RuleId, labels: Vec<(String, String)>) -> Self {
        RuleKey { rule, labels }
    }

    /// The labels as `name=value, ...` for people (empty without labels).
    pub fn labels_text(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for RuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rule.name())?;
        if self.labels.is_empty() {
            return Ok(());
        }
        let mut out = String::from("{");
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            escape(&mut out, k);
            out.push('=');
            escape(&mut out, v);
        }
        out.push('}');
        f.write_str(&out)
    }
}

impl FromStr for RuleKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (name, rest) = match s.find('{') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let rule = RuleId::from_name(name).ok_or_else(|| KeyError::UnknownRule(name.into()))?;
        let Some(rest) = rest else {
            return Ok(RuleKey::from(rule));
        };
        let bad = || KeyError::BadLabels(s.to_string());
        // Split on unescaped `,` and `=`, up to the closing unescaped `}`.
        let mut labels = Vec::new();
        let (mut key, mut cur) = (None::<String>, String::new());
        let mut chars = rest.chars();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => cur.push(chars.next().ok_or_else(bad)?),
                '=' if key.is_none() => key = Some(std::mem::take(&mut cur)),
                ',' | '}' => {
                    let k = key.take().ok_or_else(bad)?;
                    labels.push((k, std::mem::take(&mut cur)));
                    if c == '}' {
                        closed = true;
                        break;
                    }
                }
                _ => cur.push(c),
            }
        }
        if !closed || chars.next().is_some() || labels.is_empty() {
            return Err(bad());
        }
        Ok(RuleKey { rule, labels })
    }
}

impl Serialize for RuleKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// In the API's document, a key is its text: `rule` or `rule{label=value,...}`.
impl utoipa::PartialSchema for RuleKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A rule, with the labels of its series: `disk.usage{mountpoint=/data}`",
            ))
            .into()
    }
}

impl utoipa::ToSchema for RuleKey {}

impl<'de> Deserialize<'de> for RuleKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl PartialEq<str> for RuleKey {
    fn eq(&self, other: &str) -> bool {
        other.parse::<RuleKey>().is_ok_and(|k| k == *self)
    }
}

impl PartialEq<&str> for RuleKey {
    fn eq(&self, other: &&str) -> bool {
        other.parse::<RuleKey>().is_ok_and(|k| k == *self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_text_even_with_awkward_labels() {
        let cases = [
            RuleKey::from(RuleId::ConnectivityLost),
            RuleKey::new(
                RuleId::DiskUsage,
                vec![("mountpoint".into(), "/data".into())],
            ),
            RuleKey::new(
                RuleId::Temperature,
                vec![
                    ("sensor".into(), "CPU {0}, die=1\\".into()),
                    ("chip".into(), "coretemp".into()),
                ],
            ),
        ];
        for k in cases {
            let text = k.to_string();
            assert_eq!(text.parse::<RuleKey>(), Ok(k.clone()), "{text}");
            let json = serde_json::to_string(&k).expect("json");
            assert_eq!(serde_json::from_str::<RuleKey>(&json).expect("back"), k);
        }
        assert_eq!(
            "disk.usage{mountpoint=/hdd}".parse::<RuleKey>(),
            Ok(RuleKey::new(
                RuleId::DiskUsage,
                vec![("mountpoint".into(), "/hdd".into())]
            ))
        );
        for r in RuleId::ALL {
            assert_eq!(RuleId::from_name(r.name()), Some(r));
        }
    }

    #[test]
    fn unknown_rules_and_broken_labels_are_refused() {
        assert_eq!(
            "disk.usge".parse::<RuleKey>(),
            Err(KeyError::UnknownRule("disk.usge".into()))
        );
        for bad in [
            "disk.usage{",
            "disk.usage{mountpoint}",
            "disk.usage{a=b}x",
            "disk.usage{}",
            "disk.usage{a=b\\",
        ] {
            assert!(
                matches!(bad.parse::<RuleKey>(), Err(KeyError::BadLabels(_))),
                "{bad}"
            );
        }
    }
}
