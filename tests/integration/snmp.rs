//! The SNMP collector against a real snmpd (Debian's net-snmp) started on a loopback port
//! with a config written here: the standard profile over v2c, walks, v3 authPriv, wrong
//! v3 password and wrong community told apart, and an agent answering garbage.

use crate::support::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use vigie::clock::Clock;
use vigie::collector::Collector;
use vigie::collectors::NetCollector;
use vigie::collectors::heartbeat::HeartbeatBook;
use vigie::collectors::snmp::{SnmpClient, SnmpError};
use vigie::config::EquipmentConfig;
use vigie::observation::{Observation, ProbeStatus};

/// A real snmpd on a free loopback port, community `vigie-test`.
pub struct Snmpd {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Snmpd {
    pub fn start() -> Snmpd {
        let dir = tempfile::tempdir().expect("tmp");
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .expect("udp")
            .local_addr()
            .expect("addr")
            .port();
        let conf = dir.path().join("snmpd.conf");
        std::fs::write(
            &conf,
            "rocommunity vigie-test 127.0.0.1\n\
             rocommunity6 vigie-test ::1\n\
             createUser vigieuser SHA \"authpass123\" AES \"privpass123\"\n\
             rouser vigieuser priv\n\
             createUser umd5 MD5 \"authpass123\" DES \"privpass123\"\n\
             rouser umd5 priv\n\
             createUser usha256 SHA-256 \"authpass123\" AES-256 \"privpass123\"\n\
             rouser usha256 priv\n\
             createUser usha512 SHA-512 \"authpass123\" AES \"privpass123\"\n\
             rouser usha512 priv\n\
             createUser uauthonly SHA \"authpass123\"\n\
             rouser uauthonly auth\n\
             disk / 10%\n\
             proc snmpd\n\
             proc nx-mediaserver\n\
             load 12 10 5\n",
        )
        .expect("write");
        std::fs::create_dir_all(dir.path().join("mibs")).expect("mkdir");
        let mut child = Command::new("snmpd")
            .args(["-f", "-Lo", "-C", "-c"])
            .arg(&conf)
            .arg(format!("udp:127.0.0.1:{port},udp6:[::1]:{port}"))
            .env("SNMP_PERSISTENT_DIR", dir.path())
            .env("MIBS", "")
            .env("MIBDIRS", dir.path().join("mibs"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start snmpd (Debian package snmpd)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("snmpd exited before it was ready")
                .expect("read");
            if line.starts_with("NET-SNMP version") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Snmpd {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn secret(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).expect("write");
    p.display().to_string()
}

/// An NVR read over SNMP with `snmp` settings and credentials given as TOML.
fn equipment_with(snmp: &str, credentials: &str) -> Arc<EquipmentConfig> {
    let main = main_file(credentials);
    let site = site_head("UTC", "0")
        + &format!(
            "\n[[equipment]]\nid = \"nvr\"\nkind = \"nvr\"\naddress = \"127.0.0.1\"\nprobes = [\"snmp\"]\nrecording_service = \"nx-mediaserver\"\n{snmp}"
        );
    single_equipment(&main, &site)
}

fn collector() -> NetCollector {
    NetCollector::new(Clock::System, HeartbeatBook::new(chrono::Utc::now()))
        .with_budget_cap(Duration::from_secs(3))
}

fn value(o: &Observation, name: &str, attr: Option<(&str, &str)>) -> Option<f64> {
    o.metrics
        .iter()
        .find(|m| m.name == name && attr.is_none_or(|(k, v)| m.attribute(k) == Some(v)))
        .map(|m| m.value)
}

#[actix_rt::test]
async fn snmp_v2c_v3_walks_and_failures_against_a_real_snmpd() {
    let agent = Snmpd::start();
    let dir = tempfile::tempdir().expect("tmp");
    let community = secret(dir.path(), "community", "vigie-test\n");
    let c = collector();

    // v2c with the standard profile and an extra OID.
    let eq = equipment_with(
        &format!(
            "credentials = \"ro\"\nsnmp = {{ port = {}, oids = {{ \"snmp.agent.uptime\" = \"1.3.6.1.2.1.1.3.0\" }} }}\n",
            agent.port
        ),
        &format!("[credentials.ro]\npassword_file = \"{community}\"\n"),
    );
    let o = c.collect(&eq).await;
    assert_eq!(o.status, ProbeStatus::Up, "{}", reason(&o));
    assert!(value(&o, "device.uptime", None).is_some_and(|u| u > 0.0));
    assert!(value(&o, "system.memory.utilization", None).is_some_and(|m| (0.0..=1.0).contains(&m)));
    assert!(
        value(
            &o,
            "system.filesystem.utilization",
            Some(("mountpoint", "/"))
        )
        .is_some_and(|m| (0.0..=1.0).contains(&m))
    );
    assert!(value(&o, "system.cpu.load_average.1m", None).is_some());
    assert_eq!(
        value(&o, "service.up", Some(("service", "snmpd"))),
        Some(1.0)
    );
    assert_eq!(
        value(&o, "service.up", Some(("service", "recording"))),
        Some(0.0),
        "nx-mediaserver is not running"
    );
    assert!(value(&o, "snmp.agent.uptime", None).is_some());
    assert!(
        o.facts
            .iter()
            .any(|(k, v)| k == "sysDescr" && v.starts_with("Linux")),
        "{:?}",
        o.facts
    );

    // A walk with GETBULK: ordered rows, all under the root.
    let settings = &eq.snmp;
    let mut session = SnmpClient::default()
        .open("127.0.0.1", settings, eq.credentials.as_deref())
        .await
        .expect("session");
    let root = [1u64, 3, 6, 1, 2, 1, 25, 2, 3, 1];
    let rows = session.walk(&root).await.expect("walk");
    assert!(rows.len() > 20, "hrStorageEntry has rows: {}", rows.len());
    assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(rows.iter().all(|(o, _)| o.starts_with(&root)));

    // v3 authPriv SHA/AES.
    let auth = secret(dir.path(), "auth", "authpass123");
    let privacy = secret(dir.path(), "priv", "privpass123");
    let v3 = |auth_file: &str| {
        equipment_with(
            &format!(
                "credentials = \"v3\"\nsnmp = {{ version = \"v3\", port = {}, auth = \"sha\", privacy = \"aes\" }}\n",
                agent.port
            ),
            &format!(
                "[credentials.v3]\nusername = \"vigieuser\"\npassword_file = \"{auth_file}\"\nprivacy_password_file = \"{privacy}\"\n"
            ),
        )
    };
    let o = c.collect(&v3(&auth)).await;
    assert_eq!(o.status, ProbeStatus::Up, "{}", reason(&o));
    assert!(value(&o, "device.uptime", None).is_some());

    // The other authentication and privacy protocols, and authNoPriv.
    for (user, auth_proto, priv_proto) in [
        ("umd5", "md5", "des"),
        ("usha256", "sha256", "aes256"),
        ("usha512", "sha512", "aes"),
        ("uauthonly", "sha", "none"),
    ] {
        let eq = equipment_with(
            &format!(
                "credentials = \"{user}\"\nsnmp = {{ version = \"v3\", port = {}, auth = \"{auth_proto}\", privacy = \"{priv_proto}\" }}\n",
                agent.port
            ),
            &format!(
                "[credentials.{user}]\nusername = \"{user}\"\npassword_file = \"{auth_file}\"\nprivacy_password_file = \"{privacy_file}\"\n",
                auth_file = auth,
                privacy_file = privacy
            ),
        );
        let o = c.collect(&eq).await;
        assert_eq!(
            o.status,
            ProbeStatus::Up,
            "{user} {auth_proto}/{priv_proto}: {}",
            reason(&o)
        );
    }

    // The same agent over IPv6.
    let v6 = {
        let main = main_file(&format!(
            "[credentials.ro]\npassword_file = \"{community}\"\n"
        ));
        let site = site_head("UTC", "0")
            + &format!(
                "\n[[equipment]]\nid = \"nvr6\"\nkind = \"nvr\"\naddress = \"::1\"\nprobes = [\"snmp\"]\ncredentials = \"ro\"\nsnmp = {{ port = {} }}\n",
                agent.port
            );
        single_equipment(&main, &site)
    };
    let o = c.collect(&v6).await;
    assert_eq!(o.status, ProbeStatus::Up, "SNMP over IPv6: {}", reason(&o));

    // Wrong v3 password: reported as an authentication failure, not a timeout.
    let wrong = secret(dir.path(), "wrong", "not-the-password");
    let o = c.collect(&v3(&wrong)).await;
    assert!(
        reason(&o).starts_with("unknown: snmp: SNMPv3 authentication failed"),
        "{}",
        reason(&o)
    );

    // Wrong v2c community: the agent stays silent, as SNMP agents do.
    let bad = secret(dir.path(), "bad-community", "guess");
    let eq = equipment_with(
        &format!(
            "credentials = \"bad\"\nsnmp = {{ port = {} }}\n",
            agent.port
        ),
        &format!("[credentials.bad]\npassword_file = \"{bad}\"\n"),
    );
    let o = c.collect(&eq).await;
    assert!(
        reason(&o).starts_with("down: snmp: no SNMP answer"),
        "{}",
        reason(&o)
    );
}

#[actix_rt::test]
async fn an_agent_answering_garbage_is_reported_as_a_malformed_answer() {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let port = sock.local_addr().expect("addr").port();
    actix_rt::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((_, from)) = sock.recv_from(&mut buf).await {
            let _ = sock
                .send_to(b"\x30\x82\xff\xffthis is not BER at all", from)
                .await;
        }
    });
    let eq = equipment_with(&format!("snmp = {{ port = {port} }}\n"), "");
    let o = collector().collect(&eq).await;
    assert!(
        reason(&o).starts_with("unknown: snmp: malformed SNMP answer"),
        "{}",
        reason(&o)
    );
    let err = SnmpClient::default()
        .open("127.0.0.1", &eq.snmp, None)
        .await
        .expect("session")
        .get(&[vec![1, 3, 6, 1, 2, 1, 1, 3, 0]])
        .await;
    assert!(matches!(err, Err(SnmpError::BadResponse(_))), "{err:?}");
}
