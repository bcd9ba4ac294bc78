//! SNMP: per-kind extra OIDs of the main file, and an equipment's SNMP settings.

use super::*;

/// `[snmp_oids.KIND]`.
pub(super) fn snmp_oids(cx: &mut FileCx<'_>, raw: &RawMain, config: &mut Config) {
    for (kind, oids) in &raw.snmp_oids {
        let Some(k) = EquipmentKind::from_name(kind.get_ref()) else {
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
        config.snmp_oids.insert(k, list);
    }
}

pub(super) fn snmp_settings(
    cx: &mut FileCx<'_>,
    raw: &RawSnmp,
    kind_oids: &[(String, Vec<u64>)],
) -> SnmpSettings {
    let mut out = SnmpSettings {
        port: raw.port.unwrap_or(161),
        oids: kind_oids.to_vec(),
        ..SnmpSettings::default()
    };
    let pick = |cx: &mut FileCx<'_>,
                v: &Option<Spanned<String>>,
                what: &str,
                allowed: &[&str],
                default: &str|
     -> String {
        match v {
            None => default.to_string(),
            Some(v) if allowed.contains(&v.get_ref().as_str()) => v.get_ref().clone(),
            Some(v) => {
                let hint = did_you_mean(v.get_ref(), allowed.iter().copied())
                    .or_else(|| Some(listing("use one of", allowed.iter().copied())));
                cx.at(
                    v,
                    format!("snmp.{what}: `{}` is not supported", v.get_ref()),
                    hint,
                );
                default.to_string()
            }
        }
    };
    let version = pick(cx, &raw.version, "version", &["v2c", "v3"], "v2c");
    let auth = pick(
        cx,
        &raw.auth,
        "auth",
        &["md5", "sha", "sha256", "sha512"],
        "sha",
    );
    let privacy = pick(
        cx,
        &raw.privacy,
        "privacy",
        &["none", "des", "aes", "aes256"],
        "aes",
    );
    if version == "v3" {
        out.version = SnmpVersion::V3 {
            auth: match auth.as_str() {
                "md5" => SnmpAuth::Md5,
                "sha256" => SnmpAuth::Sha256,
                "sha512" => SnmpAuth::Sha512,
                _ => SnmpAuth::Sha,
            },
            privacy: match privacy.as_str() {
                "none" => SnmpPrivacy::None,
                "des" => SnmpPrivacy::Des,
                "aes256" => SnmpPrivacy::Aes256,
                _ => SnmpPrivacy::Aes,
            },
        };
    }
    for (name, oid) in &raw.oids {
        if let Some(p) = numeric_oid(cx, oid, &format!("snmp.oids.{name}")) {
            out.oids.retain(|(n, _)| n != name);
            out.oids.push((name.clone(), p));
        }
    }
    out
}

fn numeric_oid(cx: &mut FileCx<'_>, oid: &Spanned<String>, what: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = oid
        .get_ref()
        .trim_start_matches('.')
        .split('.')
        .map(|p| p.parse().ok())
        .collect();
    match parts {
        Some(p) if p.len() >= 2 => Some(p),
        _ => {
            cx.at(
                oid,
                format!("{what}: `{}` is not a numeric OID", oid.get_ref()),
                Some("write it as `1.3.6.1.2.1.1.3.0`".into()),
            );
            None
        }
    }
}
