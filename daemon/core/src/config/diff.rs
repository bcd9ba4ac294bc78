//! Reload by diff: what a new config adds, changes and removes, per site and per equipment.

use super::model::{Config, EquipmentId, SiteConfig, SiteId};
use serde::Serialize;

/// Differences between two configs, site by site.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigDiff {
    /// Sites only in the new config.
    pub to_add: Vec<SiteId>,
    /// Sites in both whose settings or equipment differ.
    pub to_change: Vec<SiteId>,
    /// Sites only in the old config.
    pub to_remove: Vec<SiteId>,
}

impl ConfigDiff {
    /// Compares two configs.
    pub fn between(old: &Config, new: &Config) -> ConfigDiff {
        let mut diff = ConfigDiff::default();
        for (id, site) in &new.sites {
            match old.sites.get(id) {
                None => diff.to_add.push(id.clone()),
                Some(prev) if prev != site => diff.to_change.push(id.clone()),
                Some(_) => {}
            }
        }
        diff.to_remove = old
            .sites
            .keys()
            .filter(|id| !new.sites.contains_key(*id))
            .cloned()
            .collect();
        diff
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.to_add.is_empty() && self.to_change.is_empty() && self.to_remove.is_empty()
    }
}

/// Differences between two versions of one site.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SiteDiff {
    /// The site's own settings changed (tolerance, maintenance, thresholds, ...).
    pub settings_changed: bool,
    /// Equipment only in the new version.
    pub to_add: Vec<EquipmentId>,
    /// Equipment in both whose config differs.
    pub to_change: Vec<EquipmentId>,
    /// Equipment only in the old version.
    pub to_remove: Vec<EquipmentId>,
}

impl SiteDiff {
    /// Compares two versions of a site.
    pub fn between(old: &SiteConfig, new: &SiteConfig) -> SiteDiff {
        let mut diff = SiteDiff {
            settings_changed: !old.settings_eq(new),
            ..SiteDiff::default()
        };
        for (id, eq) in &new.equipment {
            match old.equipment.get(id) {
                None => diff.to_add.push(id.clone()),
                Some(prev) if prev != eq => diff.to_change.push(id.clone()),
                Some(_) => {}
            }
        }
        diff.to_remove = old
            .equipment
            .keys()
            .filter(|id| !new.equipment.contains_key(*id))
            .cloned()
            .collect();
        diff
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Sources, load_sources};
    use std::path::PathBuf;

    fn config(sites: &[(&str, &str)]) -> Config {
        let sources = Sources {
            main: Some("[clients.c]\nname = \"C\"\n".into()),
            sites: sites
                .iter()
                .map(|(n, t)| (PathBuf::from(format!("sites/{n}.toml")), t.to_string()))
                .collect(),
            unreadable: Vec::new(),
            dir: None,
        };
        load_sources(&sources).expect("valid test config")
    }

    const HEAD: &str = "[site]\nname = \"S\"\nclient = \"c\"\ntimezone = \"UTC\"\n";

    fn eq(id: &str, extra: &str) -> String {
        format!("[[equipment]]\nid = \"{id}\"\nkind = \"nvr\"\naddress = \"10.0.0.1\"\n{extra}")
    }

    #[test]
    fn diff_reports_added_changed_removed() {
        let a = config(&[
            ("s1", &format!("{HEAD}{}{}", eq("n1", ""), eq("n2", ""))),
            ("s2", HEAD),
        ]);
        let b = config(&[
            (
                "s1",
                &format!(
                    "{HEAD}{}{}",
                    eq("n1", "thresholds = { disk = { warning = 80 } }\n"),
                    eq("n3", "")
                ),
            ),
            ("s3", HEAD),
        ]);
        let d = ConfigDiff::between(&a, &b);
        assert_eq!(d.to_add, vec![SiteId::new("s3")]);
        assert_eq!(d.to_change, vec![SiteId::new("s1")]);
        assert_eq!(d.to_remove, vec![SiteId::new("s2")]);
        let sd = SiteDiff::between(&a.sites["s1"], &b.sites["s1"]);
        assert!(!sd.settings_changed);
        assert_eq!(sd.to_add, vec![EquipmentId::new("n3")]);
        assert_eq!(sd.to_change, vec![EquipmentId::new("n1")]);
        assert_eq!(sd.to_remove, vec![EquipmentId::new("n2")]);
        assert!(ConfigDiff::between(&b, &b).is_empty());
    }
}
