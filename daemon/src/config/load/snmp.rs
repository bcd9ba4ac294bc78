//! SNMP: per-kind extra OIDs of the main file.

use super::*;

/// `[snmp_oids.KIND]`.
pub(super) fn snmp_oids(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    for (kind, oids) in &raw.snmp_oids {
        let Some((_, k)) = EquipmentKind::ALL.iter().find(|(n, _)| n == kind.get_ref()) else {
            let hint = did_you_mean(kind.get_ref(), EquipmentKind::ALL.iter().map(|(n, _)| *n));
            cx.at(
                kind,
                format!("snmp_oids: `{}` is not an equipment kind", kind.get_ref()),
                hint,
            );
            continue;
        };
        let list = oids
            .iter()
            .filter_map(|(name, oid)| {
                Some((
                    name.clone(),
                    numeric_oid(cx, oid, &format!("snmp_oids.{}.{name}", kind.get_ref()))?,
                ))
            })
            .collect();
        config.snmp_oids.insert(*k, list);
    }
}
