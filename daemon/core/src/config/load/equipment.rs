//! `[[equipment]]` of a site file: kinds, addresses, probes, credentials, thresholds,
//! plugins, recorders and parents (checked against the site; cycles are found after).

use super::*;

/// The vendor plugins shipped with vigie.
const SHIPPED_PLUGINS: [&str; 4] = ["axis", "dahua", "hikvision", "onvif"];

/// What the equipment of a site file declare.
pub(super) struct SiteEquipment {
    /// Equipment by id, parents not linked yet.
    pub equipment: BTreeMap<EquipmentId, Arc<EquipmentConfig>>,
    /// Each child and the parent it names.
    pub parents: Vec<(EquipmentId, Spanned<String>)>,
    /// Ids declared in the file (for references from maintenance windows).
    pub ids_here: BTreeSet<String>,
}

/// Validates every equipment of a site file.
pub(super) fn equipment(
    cx: &mut FileCx<'_>,
    site_id: &str,
    raw: &RawSiteFile,
    main: &Config,
    declared: &mut BTreeMap<String, Declared>,
    site_collection: &Arc<Collection>,
    site_thresholds: &Arc<Thresholds>,
) -> SiteEquipment {
    let mut equipment: BTreeMap<EquipmentId, Arc<EquipmentConfig>> = BTreeMap::new();
    let mut parents: Vec<(EquipmentId, Spanned<String>)> = Vec::new();
    let ids_here: BTreeSet<String> = raw
        .equipment
        .iter()
        .map(|e| e.id.get_ref().clone())
        .collect();
    for e in &raw.equipment {
        if !check_id(cx, &e.id, "equipment") {
            continue;
        }
        let (line, column) = cx.position(e.id.span().start);
        if let Some(first) = declared.get(e.id.get_ref()) {
            cx.at(
                &e.id,
                format!("equipment id `{}` is already used", e.id.get_ref()),
                Some(format!(
                    "first declared at {}:{}:{}; ids are unique across the fleet",
                    first.file.display(),
                    first.line,
                    first.column
                )),
            );
            continue;
        }
        declared.insert(
            e.id.get_ref().clone(),
            Declared {
                file: cx.path.clone(),
                line,
                column,
            },
        );
        let Some(kind) = EquipmentKind::from_name(e.kind.get_ref()) else {
            let hint = did_you_mean(e.kind.get_ref(), EquipmentKind::ALL.iter().map(|(n, _)| *n))
                .or_else(|| {
                    Some(listing(
                        "use one of",
                        EquipmentKind::ALL.iter().map(|(n, _)| *n),
                    ))
                });
            cx.at(
                &e.kind,
                format!("`{}` is not an equipment kind", e.kind.get_ref()),
                hint,
            );
            continue;
        };
        let address = match &e.address {
            Some(a) => match Address::parse(a.get_ref()) {
                Ok(parsed) => Some(parsed),
                Err(_) => {
                    // `host:port` (or `[v6]:port`): the port belongs to the probe.
                    let port = a
                        .get_ref()
                        .rsplit_once(':')
                        .filter(|(host, p)| {
                            p.parse::<u16>().is_ok() && Address::parse(host).is_ok()
                        })
                        .map(|(_, p)| p.to_string());
                    let hint = match port {
                        Some(p) => format!(
                            "write the address alone and the port where it is used: `tcp:{p}` in `probes`, or `plugin_params = {{ port = {p} }}`"
                        ),
                        None => "write an IP address or a host name, such as `10.0.0.5`".into(),
                    };
                    cx.at(
                        a,
                        format!("`{}` is not a network address", a.get_ref()),
                        Some(hint),
                    );
                    None
                }
            },
            None => None,
        };
        let mut probes = probes(cx, e, &address);
        let credentials = match &e.credentials {
            Some(c) if main.credentials.contains_key(c.get_ref()) => {
                main.credentials.get(c.get_ref()).cloned()
            }
            Some(c) => {
                let hint = did_you_mean(c.get_ref(), main.credentials.keys().map(String::as_str))
                    .or_else(|| {
                        Some(format!(
                            "declare it under `[credentials.{}]` in {MAIN_FILE}",
                            c.get_ref()
                        ))
                    });
                cx.at(c, format!("no credentials named `{}`", c.get_ref()), hint);
                None
            }
            None => None,
        };
        let interval_key = match (&e.collection_interval, &e.interval) {
            (Some(v), Some(old)) => {
                cx.at(
                    old,
                    "`interval` and `collection_interval` are both set: keep `collection_interval`",
                    None,
                );
                Some(("collection_interval", v))
            }
            (Some(v), None) => Some(("collection_interval", v)),
            (None, Some(old)) => {
                cx.warn_at(
                    old,
                    "`interval` is deprecated: write `collection_interval`, the name it has in [daemon] and [site]",
                );
                Some(("interval", old))
            }
            (None, None) => None,
        };
        let collection = super::daemon::collection(
            cx,
            site_collection,
            &super::daemon::CollectionKeys {
                interval: interval_key,
                probe_timeout: e.probe_timeout.as_ref(),
                ping_count: e.ping_count.as_ref(),
                ping_timeout: e.ping_timeout.as_ref(),
                ping_retries: e.ping_retries.as_ref(),
            },
        );
        let interval = collection.interval;
        let thresholds = match &e.thresholds {
            Some(t) => thresholds(cx, site_thresholds, t),
            None => Arc::clone(site_thresholds),
        };
        let agent_url = agent_url(cx, e, &address, &probes);
        let heartbeat_within = e
            .heartbeat_within
            .as_ref()
            .and_then(|v| {
                cx.bounded_duration(
                    v,
                    "heartbeat_within",
                    INTERVAL_MIN,
                    Duration::from_secs(7 * 86_400),
                )
            })
            .unwrap_or(interval * 3);
        let plugin_params = plugin_params(cx, e, &probes);
        let recorder = recorder(cx, e, site_id, &ids_here, &mut probes);
        let id = EquipmentId::new(e.id.get_ref());
        if let Some(p) = &e.parent {
            if p.get_ref() == e.id.get_ref() {
                cx.at(
                    p,
                    format!("equipment `{}` cannot be its own parent", e.id.get_ref()),
                    None,
                );
            } else if !ids_here.contains(p.get_ref()) {
                let hint = cx
                    .did_you_mean(p.get_ref(), &ids_here)
                    .or_else(|| Some("a parent is an equipment of the same site".into()));
                cx.at(
                    p,
                    format!(
                        "parent `{}` is not an equipment of site `{site_id}`",
                        p.get_ref()
                    ),
                    hint,
                );
            } else {
                parents.push((id.clone(), p.clone()));
            }
        }
        let tls_trust = tls_trust(cx, e);
        equipment.insert(
            id.clone(),
            Arc::new(EquipmentConfig {
                tls_trust,
                id,
                name: e.name.clone().unwrap_or_else(|| e.id.get_ref().clone()),
                kind,
                address,
                parent: None,
                probes,
                credentials,
                collection,
                thresholds,
                agent_url,
                recording_service: e.recording_service.clone(),
                heartbeat_within,
                plugin_params,
                recorder,
                snmp: {
                    let kind_oids = main
                        .snmp_oids
                        .get(&kind)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    match &e.snmp {
                        Some(r) => super::snmp::snmp_settings(cx, r, kind_oids),
                        None => SnmpSettings {
                            oids: kind_oids.to_vec(),
                            ..SnmpSettings::default()
                        },
                    }
                },
            }),
        );
    }
    SiteEquipment {
        equipment,
        parents,
        ids_here,
    }
}

/// `tls_trust`: `system` (the default), `any` (said as a warning), or a pinned
/// `sha256:FINGERPRINT` (64 hex digits, colons allowed, as `openssl x509 -fingerprint
/// -sha256` prints it).
fn tls_trust(cx: &mut FileCx<'_>, e: &RawEquipment) -> TlsTrust {
    let Some(v) = &e.tls_trust else {
        return TlsTrust::System;
    };
    match TlsTrust::parse(v.get_ref()) {
        Ok(TlsTrust::Any) => {
            cx.warn_at(
                v,
                format!(
                    "tls_trust = \"any\": the HTTPS certificate of `{}` is not checked (the exchange is encrypted, not authenticated); pin it with \"sha256:…\" instead",
                    e.id.get_ref()
                ),
            );
            TlsTrust::Any
        }
        Ok(t) => t,
        Err(m) => {
            cx.at(
                v,
                format!("tls_trust: {m}"),
                Some("pin a certificate with the fingerprint `openssl x509 -noout -fingerprint -sha256` prints".into()),
            );
            TlsTrust::System
        }
    }
}

/// Links children to their parents, refusing dependency cycles.
pub(super) fn link_parents(
    cx: &mut FileCx<'_>,
    equipment: &mut BTreeMap<EquipmentId, Arc<EquipmentConfig>>,
    parents: Vec<(EquipmentId, Spanned<String>)>,
) {
    let parent_of: BTreeMap<EquipmentId, (EquipmentId, Spanned<String>)> = parents
        .into_iter()
        .map(|(child, p)| (child, (EquipmentId::new(p.get_ref()), p)))
        .collect();
    // Each equipment is walked once: `done` when its chain is known to end (or to be a
    // cycle), `on_path` while the current walk goes through it.
    let mut in_cycle: BTreeSet<EquipmentId> = BTreeSet::new();
    let mut done: BTreeSet<EquipmentId> = BTreeSet::new();
    for child in parent_of.keys() {
        if done.contains(child) {
            continue;
        }
        let mut path: Vec<EquipmentId> = vec![child.clone()];
        let mut on_path: BTreeMap<EquipmentId, usize> = BTreeMap::from([(child.clone(), 0)]);
        let mut cur = child.clone();
        while let Some((p, _)) = parent_of.get(&cur) {
            if done.contains(p) {
                break;
            }
            if let Some(&pos) = on_path.get(p) {
                let cycle: Vec<String> = path[pos..]
                    .iter()
                    .map(|x| x.to_string())
                    .chain([p.to_string()])
                    .collect();
                if let Some((_, span)) = parent_of.get(&path[pos]) {
                    cx.at(
                        span,
                        format!("dependency cycle: {}", cycle.join(" -> ")),
                        Some("a parent chain must end at an equipment without parent".into()),
                    );
                }
                in_cycle.extend(path[pos..].iter().cloned());
                break;
            }
            on_path.insert(p.clone(), path.len());
            path.push(p.clone());
            cur = p.clone();
        }
        done.extend(path);
    }
    for (child, (parent, _)) in parent_of {
        if in_cycle.contains(&child) {
            continue;
        }
        if let Some(eq) = equipment.get_mut(&child) {
            Arc::make_mut(eq).parent = Some(parent);
        }
    }
}

fn parse_probe(text: &str) -> Result<Probe, String> {
    let (name, arg) = match text.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (text, None),
    };
    match (name, arg) {
        ("icmp", None) => Ok(Probe::Icmp),
        ("snmp", None) => Ok(Probe::Snmp),
        ("tcp", None) => Ok(Probe::Tcp(554)),
        ("tcp", Some(p)) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(Probe::Tcp)
            .ok_or_else(|| format!("`{p}` is not a TCP port")),
        ("rtsp", None) => Ok(Probe::Rtsp(554)),
        ("rtsp", Some(p)) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(Probe::Rtsp)
            .ok_or_else(|| format!("`{p}` is not an RTSP port")),
        ("agent", None) => Ok(Probe::Agent),
        ("heartbeat", None) => Ok(Probe::Heartbeat),
        ("recorder", None) => Ok(Probe::Recorder),
        ("plugin", Some(n)) if valid_id(n) => Ok(Probe::Plugin(n.to_string())),
        ("plugin", _) => Err(format!("`{text}` does not name a plugin")),
        _ => Err(format!("unknown probe `{text}`")),
    }
}

/// The probes an equipment lists (ICMP when it has an address, heartbeat otherwise).
fn probes(cx: &mut FileCx<'_>, e: &RawEquipment, address: &Option<Address>) -> Vec<Probe> {
    let mut probes = Vec::new();
    for p in e.probes.iter().flatten() {
        match parse_probe(p.get_ref()) {
            Ok(probe) => {
                if address.is_none()
                    && !matches!(probe, Probe::Heartbeat | Probe::Recorder)
                    && e.address.is_none()
                {
                    cx.at(
                        p,
                        format!(
                            "probe `{}` needs an `address` on equipment `{}`",
                            p.get_ref(),
                            e.id.get_ref()
                        ),
                        Some(
                            "add `address = \"...\"`, or use the `heartbeat` or `recorder` probe"
                                .into(),
                        ),
                    );
                }
                if let Probe::Plugin(name) = &probe
                    && !SHIPPED_PLUGINS.contains(&name.as_str())
                {
                    // Plugins load from a watched directory that may change later: said, not refused.
                    let guess = did_you_mean(name, SHIPPED_PLUGINS.iter().copied())
                        .map(|h| format!("; {h}"))
                        .unwrap_or_default();
                    cx.warn_at(
                        p,
                        format!(
                            "plugin `{name}` is not one of the plugins shipped with vigie ({}): it must be in the plugins directory{guess}",
                            SHIPPED_PLUGINS.join(", ")
                        ),
                    );
                }
                probes.push(probe);
            }
            Err(msg) => {
                let name = p.get_ref().split(':').next().unwrap_or_default();
                let hint = match name {
                    "tcp" => Some("write `tcp:PORT` with a port from 1 to 65535".to_string()),
                    "rtsp" => Some(
                        "write `rtsp` (port 554) or `rtsp:PORT` with a port from 1 to 65535"
                            .to_string(),
                    ),
                    "plugin" => Some("name the plugin, such as `plugin:hikvision`".to_string()),
                    _ => did_you_mean(name, PROBE_NAMES.iter().copied())
                        .or_else(|| Some(listing("use one of", PROBE_NAMES.iter().copied()))),
                };
                cx.at(p, msg, hint);
            }
        }
    }
    if e.probes.is_none() {
        probes.push(if address.is_some() {
            Probe::Icmp
        } else {
            Probe::Heartbeat
        });
    }
    probes
}

/// Where the agent probe scrapes (`agent_url`, or port 9100 of the address).
fn agent_url(
    cx: &mut FileCx<'_>,
    e: &RawEquipment,
    address: &Option<Address>,
    probes: &[Probe],
) -> Option<String> {
    match (&e.agent_url, &address) {
        (Some(u), _) => {
            let text = u.get_ref();
            match url::Url::parse(text) {
                Ok(parsed)
                    if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() =>
                {
                    // A password in a URL would be stored in every reason and event
                    // naming the agent, and served by the API.
                    if parsed.password().is_some() || !parsed.username().is_empty() {
                        cx.at(
                            u,
                            "agent_url: a URL must not hold a user or password",
                            Some(
                                "remove them from the URL and set `credentials` on the equipment"
                                    .into(),
                            ),
                        );
                    }
                }
                _ => cx.at(
                    u,
                    format!("agent_url: `{text}` is not an http(s) URL"),
                    Some("write it as `http://10.0.0.5:9100/metrics`".into()),
                ),
            }
            Some(text.clone())
        }
        (None, Some(a)) if probes.contains(&Probe::Agent) => {
            Some(format!("http://{}:9100/metrics", a.url_host()))
        }
        _ => None,
    }
}

/// The plugin parameters of an equipment, as text.
fn plugin_params(cx: &mut FileCx<'_>, e: &RawEquipment, probes: &[Probe]) -> Vec<(String, String)> {
    let mut plugin_params = Vec::new();
    for (name, v) in e.plugin_params.iter().flatten() {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                cx.at(
                    v,
                    format!("plugin_params.{name}: a parameter is a string, a number or a boolean"),
                    None,
                );
                continue;
            }
        };
        plugin_params.push((name.clone(), text));
    }
    if !plugin_params.is_empty()
        && !probes.iter().any(|p| matches!(p, Probe::Plugin(_)))
        && let Some((_, v)) = e.plugin_params.iter().flatten().next()
    {
        cx.at(
            v,
            "plugin_params are set but no `plugin:NAME` probe is listed".to_string(),
            Some("add the plugin to `probes`, such as `plugin:hikvision`".into()),
        );
    }
    plugin_params
}

/// The recorder channel of a camera supervised through its NVR (implies the recorder probe).
fn recorder(
    cx: &mut FileCx<'_>,
    e: &RawEquipment,
    site_id: &str,
    ids_here: &BTreeSet<String>,
    probes: &mut Vec<Probe>,
) -> Option<RecorderChannel> {
    match &e.recorder {
        Some(r) => {
            let channel = *r.channel.get_ref();
            if !(1..=4096).contains(&channel) {
                cx.at(
                    &r.channel,
                    format!("recorder channel {channel} is not between 1 and 4096"),
                    None,
                );
            }
            if r.equipment.get_ref() == e.id.get_ref() {
                cx.at(
                    &r.equipment,
                    "an equipment cannot be its own recorder",
                    None,
                );
            } else if !ids_here.contains(r.equipment.get_ref()) {
                let hint = cx
                    .did_you_mean(r.equipment.get_ref(), ids_here)
                    .or_else(|| Some("the recorder is an equipment of the same site".into()));
                cx.at(
                    &r.equipment,
                    format!(
                        "recorder `{}` is not an equipment of site `{site_id}`",
                        r.equipment.get_ref()
                    ),
                    hint,
                );
            }
            if !probes.contains(&Probe::Recorder) {
                probes.push(Probe::Recorder);
            }
            Some(RecorderChannel {
                equipment: EquipmentId::new(r.equipment.get_ref()),
                channel: u32::try_from(channel).unwrap_or(0),
            })
        }
        None => {
            if probes.contains(&Probe::Recorder) {
                cx.at(
                    &e.id,
                    format!(
                        "equipment `{}` lists the `recorder` probe but has no `recorder`",
                        e.id.get_ref()
                    ),
                    Some("add `recorder = { equipment = \"NVR-ID\", channel = N }`".into()),
                );
            }
            None
        }
    }
}
