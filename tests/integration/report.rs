//! The monthly report on a synthetic month written by the generator: figures computed by hand
//! (maintenance left out, time behind a down switch blamed on it, the daemon's downtime not
//! supervised, a month with a DST change), the PDF read back with poppler in French and
//! English, pages rendered to PNG as artefacts, and bad input.

use crate::support::*;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use vigie::availability::format_rate;
use vigie::config::{ClientId, SiteId};
use vigie::report::Format;
use vigie::store::Store;
use vigie::synthetic::{Fleet, expected, script};

const H: i64 = 3_600_000;

/// A company logo, in SVG.
const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="240" height="60" viewBox="0 0 240 60"><rect width="240" height="60" rx="8" fill="#0b4f8a"/><circle cx="30" cy="30" r="16" fill="#ffffff"/></svg>"##;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// Where the test keeps what it renders, for a person to look at.
fn artefacts(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("artefacts");
    dir
}

/// A config directory for `fleet` with the logo and a client without equipment.
fn config_dir(fleet: &Fleet) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    fleet.write_config(dir.path()).expect("config");
    std::fs::write(dir.path().join("logo.svg"), LOGO).expect("logo");
    let main = std::fs::read_to_string(dir.path().join("vigie.toml")).expect("main");
    let main = main.replace("[reports]\n", "[reports]\nlogo = \"logo.svg\"\n")
        + "\n[clients.empty]\nname = \"Empty Co\"\ncontract = { report_language = \"en\" }\n";
    std::fs::write(dir.path().join("vigie.toml"), main).expect("main");
    dir
}

#[test]
fn a_synthetic_month_gives_the_hand_computed_figures_and_its_pdf_says_them_in_both_languages() {
    let fleet = Fleet {
        clients: 2,
        sites_per_client: 1,
        cameras_per_site: 2,
    };
    let cfg_dir = config_dir(&fleet);
    let cfg = vigie::config::load_dir(cfg_dir.path()).expect("valid config");
    assert_eq!(
        cfg.reports.logo.as_ref().map(|l| l.format),
        Some(vigie::config::LogoFormat::Svg)
    );
    let data = tempfile::tempdir().expect("tmp");
    let (store, _) = Store::open(data.path()).expect("store");
    let written = vigie::synthetic::write_month(&store, &fleet, "2026-03").expect("month");
    assert!(
        written.events > 0 && written.history_days > 0,
        "{written:?}"
    );
    let reader = store.reader();
    let now = at("2026-04-02T10:00:00Z");

    // March 2026 in Paris lost an hour to summer time: 743 hours.
    let hand = expected(743, 2);
    let fr =
        vigie::report::build(&reader, &cfg, "client-000", "2026-03", now, true).expect("report");
    let site = fr.availability.sites[&SiteId::new("c000-s00")];
    let f = site.figures;
    assert_eq!(
        [
            f.up_ms,
            f.down_ms,
            f.unreachable_ms,
            f.maintenance_ms,
            f.unsupervised_ms
        ],
        hand.site.map(|h| h * H),
        "{site:?}"
    );
    assert_eq!(format_rate(site.rate), format_rate(Some(hand.rate)));
    assert_eq!(format_rate(site.rate), "99.797 %");
    // The cameras' two hours behind the switch are the switch's.
    let sw = &fr.availability.equipment[&vigie::config::EquipmentId::new("c000-s00-sw")];
    assert_eq!(sw.caused_unreachable_ms, 2 * 2 * H);
    let cam1 = &fr.availability.equipment[&vigie::config::EquipmentId::new("c000-s00-cam-1")];
    assert_eq!(cam1.figures.maintenance_ms, 2 * H);
    assert_eq!(cam1.figures.down_ms, 0, "down inside its window only");
    // Day by day: the outage's day is 90 of 96 equipment-hours; the others are whole.
    let days = &fr.daily["c000-s00"];
    assert_eq!(days.len(), 31);
    let (d, _, _) = script::SWITCH_DOWN;
    assert_eq!(
        format_rate(days[d as usize - 1].rate),
        format_rate(Some(100.0 * 90.0 / 96.0))
    );
    assert!(
        days.iter()
            .enumerate()
            .all(|(i, x)| i == d as usize - 1 || x.rate == Some(100.0)),
        "{days:?}"
    );
    // The incidents: the outage with its ticket and note, the disk still open.
    assert_eq!(fr.incidents.len(), 2, "{:?}", fr.incidents);
    let outage = &fr.incidents[0];
    assert_eq!(outage.owner_name, "Switch 0");
    assert_eq!(outage.resolution.as_deref(), Some(script::CLOSING_NOTE));
    assert!(outage.ticket.is_some());
    assert_eq!(fr.incidents[1].ended_at, None);
    // The weak signals: the recorder's disk filling and its failed disk.
    let kinds: Vec<String> = fr
        .signals
        .iter()
        .map(|s| serde_json::to_value(&s.signal.finding).expect("json")["kind"].to_string())
        .collect();
    assert!(
        kinds.iter().any(|k| k.contains("disk_filling"))
            && kinds.iter().any(|k| k.contains("hardware_failed")),
        "{kinds:?}"
    );

    // The PDF, in French, read back (lines may wrap: words are compared).
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let out = artefacts("fr");
    let rendered = vigie::report::pdf(&fr, &cfg.reports).expect("pdf");
    assert_eq!(rendered.logo_problem, None);
    let pdf = out.join("client-000-2026-03.pdf");
    std::fs::write(&pdf, &rendered.bytes).expect("write");
    let text = pdf_text(&pdf);
    for expected in [
        "Vidéo Services Ouest",
        "Rapport mensuel de supervision",
        "Client 0",
        "mars 2026",
        "Disponibilité globale",
        "99.797 %",
        "Switch 0",
        "Camera 1",
        "NVR 0",
        script::CLOSING_NOTE,
        "en cours",
        "Tendances et recommandations",
        "Comment la disponibilité est calculée",
    ] {
        assert!(words(&text).contains(expected), "{expected} in:\n{text}");
    }
    assert!(
        words(&text).contains("Switch 0 : ne répond plus au ping (ICMP)")
            && words(&text).contains("critique"),
        "the incident names the equipment, in French:\n{text}"
    );
    // The switch's outage on both sides: the cameras behind it, the time it cut them off.
    assert!(
        words(&text).contains("derrière Switch 0") && words(&text).contains("a coupé les autres"),
        "the parent is named:\n{text}"
    );
    assert!(
        text.contains("2 h 00 min"),
        "the outage lasted two hours:\n{text}"
    );
    let ticket = outage.ticket.expect("ticket").to_string();
    assert!(text.contains(&ticket), "ticket {ticket}:\n{text}");
    // Every recommendation of the report is in the PDF.
    let flat = words(&text);
    for s in &fr.signals {
        let first: String = words(&s.recommendation).chars().take(30).collect();
        assert!(flat.contains(&first), "{first} in:\n{text}");
    }
    let pages = pdf_pages(&pdf, &out.join("page"));
    assert!(pages.len() >= 2, "cover and content: {pages:?}");
    assert!(
        pages
            .iter()
            .all(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 1000))
    );

    // The same report in English for the second client.
    let en =
        vigie::report::build(&reader, &cfg, "client-001", "2026-03", now, true).expect("report");
    assert_eq!(en.language, "en");
    let out = artefacts("en");
    let pdf = out.join("client-001-2026-03.pdf");
    let bytes = vigie::report::render(&en, &cfg.reports, Format::Pdf).expect("pdf");
    std::fs::write(&pdf, &bytes).expect("write");
    let text = pdf_text(&pdf);
    for expected in [
        "Monthly supervision report",
        "Client 1",
        "March 2026",
        "Overall availability",
        "99.797 %",
        "Availability per site",
        "Incidents of the month",
        "ongoing",
        "How availability is computed",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    assert!(
        words(&text).contains("Switch 0: no answer to ICMP") && words(&text).contains("critical"),
        "the incident in English:\n{text}"
    );
    let flat = words(&text);
    for s in &en.signals {
        let first: String = words(&s.recommendation).chars().take(30).collect();
        assert!(flat.contains(&first), "{first} in:\n{text}");
    }
    pdf_pages(&pdf, &out.join("page"));

    // The HTML page says the same, with one bar per day and the logo embedded.
    let page = vigie::report::html(&en, &cfg.reports);
    assert!(page.contains("<strong>99.797 %</strong>"), "{page}");
    assert_eq!(page.matches("<rect ").count(), 31, "one bar per day");
    assert!(
        page.contains("(behind Switch 0)") && page.contains("(cut others off 4.0 h)"),
        "{page}"
    );
    assert!(page.contains("data:image/svg+xml;base64,"));
    std::fs::write(out.join("client-001-2026-03.html"), &page).expect("write");
    store.close();
}

#[test]
fn bad_input_gives_a_report_that_says_so_or_a_clear_error_never_a_panic() {
    let fleet = Fleet {
        clients: 1,
        sites_per_client: 1,
        cameras_per_site: 1,
    };
    let cfg_dir = config_dir(&fleet);
    let cfg = vigie::config::load_dir(cfg_dir.path()).expect("valid config");
    let data = tempfile::tempdir().expect("tmp");
    let (store, _) = Store::open(data.path()).expect("store");
    vigie::synthetic::write_month(&store, &fleet, "2026-03").expect("month");
    let reader = store.reader();
    let now = at("2026-04-02T10:00:00Z");

    // A client with no equipment: a report that says so.
    let empty = vigie::report::build(&reader, &cfg, "empty", "2026-03", now, true).expect("report");
    let text = pdf_text(&write_pdf(&empty, &cfg.reports, "empty"));
    assert!(
        text.contains("This client has no supervised equipment."),
        "{text}"
    );
    // A month before any data: a report that says so.
    let before =
        vigie::report::build(&reader, &cfg, "client-000", "2026-01", now, true).expect("report");
    assert_eq!(
        before
            .availability
            .clients
            .get(&ClientId::new("client-000"))
            .and_then(|t| t.rate),
        None
    );
    let text = pdf_text(&write_pdf(&before, &cfg.reports, "no-data"));
    assert!(
        text.contains("Aucune mesure n'a été relevée pour ce mois."),
        "{text}"
    );
    // A month after the log and the rollups stop (the daemon stopped for good at the end of
    // March): nothing counted as up, no trend made up from missing hours.
    let gap = vigie::report::build(
        &reader,
        &cfg,
        "client-000",
        "2026-04",
        at("2026-05-02T10:00:00Z"),
        false,
    )
    .expect("report");
    let c = gap.availability.clients[&ClientId::new("client-000")];
    assert_eq!((c.rate, c.figures.up_ms), (None, 0), "{c:?}");
    assert!(c.figures.unsupervised_ms > 0, "{c:?}");
    assert!(gap.signals.is_empty(), "{:?}", gap.signals);
    let text = pdf_text(&write_pdf(&gap, &cfg.reports, "gap"));
    assert!(
        text.contains("Aucune mesure n'a été relevée pour ce mois."),
        "{text}"
    );
    // A month in the future, or not a month: a clear error.
    let err = vigie::report::build(&reader, &cfg, "client-000", "2026-05", now, true)
        .expect_err("future");
    assert!(err.to_string().contains("has not begun"), "{err}");
    let err = vigie::report::build(&reader, &cfg, "client-000", "2026-13", now, true)
        .expect_err("not a month");
    assert!(err.to_string().contains("2026-13"), "{err}");
    let err =
        vigie::report::build(&reader, &cfg, "nobody", "2026-03", now, true).expect_err("no client");
    assert!(err.to_string().contains("no client `nobody`"), "{err}");

    // A logo that looks like a PNG but is not one: the report is made without it, and says why.
    let bad = cfg_dir.path().join("logo.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nthis is not an image").expect("logo");
    let main = std::fs::read_to_string(cfg_dir.path().join("vigie.toml")).expect("main");
    std::fs::write(
        cfg_dir.path().join("vigie.toml"),
        main.replace("logo = \"logo.svg\"", "logo = \"logo.png\""),
    )
    .expect("main");
    let corrupt = vigie::config::load_dir(cfg_dir.path()).expect("loads: the magic is right");
    let r = vigie::report::build(&reader, &corrupt, "client-000", "2026-03", now, true)
        .expect("report");
    let made = vigie::report::pdf(&r, &corrupt.reports).expect("made without the logo");
    let problem = made.logo_problem.expect("the logo's problem");
    assert!(problem.contains("logo.png"), "{problem}");
    let pdf = artefacts("corrupt-logo").join("r.pdf");
    std::fs::write(&pdf, &made.bytes).expect("write");
    let rate = format_rate(Some(expected(743, 1).rate));
    assert!(pdf_text(&pdf).contains(&rate), "{rate}");

    // A missing logo or a file that is no image: the config says what and where.
    for (logo, says) in [
        ("missing.png", "No such file"),
        ("vigie.toml", "is not a PNG, JPEG or SVG image"),
    ] {
        std::fs::write(
            cfg_dir.path().join("vigie.toml"),
            main.replace("logo = \"logo.svg\"", &format!("logo = \"{logo}\"")),
        )
        .expect("main");
        let err = vigie::config::load_dir(cfg_dir.path()).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("vigie.toml:") && text.contains("reports.logo:") && text.contains(says),
            "{text}"
        );
    }
    store.close();
}

fn write_pdf(r: &vigie::report::Report, cfg: &vigie::config::Reports, name: &str) -> PathBuf {
    let path = artefacts(name).join("report.pdf");
    let bytes = vigie::report::render(r, cfg, Format::Pdf).expect("pdf");
    std::fs::write(&path, bytes).expect("write");
    path
}

/// The daemon serves the generated month: the API's figures, the report it renders and the
/// command line's copy agree with the computation to the digit.
#[test]
fn the_daemon_serves_the_generated_month_and_the_cli_writes_its_pdf_whole() {
    let fleet = Fleet {
        clients: 1,
        sites_per_client: 1,
        cameras_per_site: 2,
    };
    let cfg_dir = config_dir(&fleet);
    // A camera added to the site that the month's log never mentions.
    let site_file = cfg_dir.path().join("sites/c000-s00.toml");
    let text = std::fs::read_to_string(&site_file).expect("site")
        + "\n[[equipment]]\nid = \"c000-s00-new\"\nname = \"New camera\"\nkind = \"camera\"\naddress = \"127.0.0.1\"\nparent = \"c000-s00-sw\"\nprobes = [\"icmp\"]\n";
    std::fs::write(&site_file, text).expect("write");
    // The client's own account, for its dashboard.
    let main = cfg_dir.path().join("vigie.toml");
    let text = std::fs::read_to_string(&main).expect("main")
        + "\n"
        + &client_account("portal", "client-000");
    std::fs::write(&main, text).expect("write");
    let data = tempfile::tempdir().expect("tmp");
    {
        let (store, _) = Store::open(data.path()).expect("store");
        vigie::synthetic::write_month(&store, &fleet, "2026-03").expect("month");
        store.close();
    }
    let script = data.path().join("simulate.toml");
    std::fs::write(&script, "[default]\nstatus = \"up\"\n").expect("script");
    let daemon = DaemonProcess::spawn(cfg_dir.path(), data.path(), &script);
    let client = daemon.client();
    let a = client
        .availability(&vigie::availability::Query {
            client: Some("client-000".into()),
            month: Some("2026-03".into()),
            ..Default::default()
        })
        .expect("availability");
    let rate = format_rate(a.clients[&ClientId::new("client-000")].rate);
    assert_eq!(rate, format_rate(Some(expected(743, 2).rate)));
    // The camera the log never mentions is listed, not supervised over the whole month.
    let new = &a.equipment[&vigie::config::EquipmentId::new("c000-s00-new")];
    assert_eq!(
        (new.figures.up_ms, new.figures.unsupervised_ms, new.rate),
        (0, 743 * H, None),
        "{new:?}"
    );
    // The client's dashboard says the same figures, to the digit, for the month and its site,
    // and links the month's report.
    let (code, home) = daemon
        .client_as("portal")
        .raw("GET", "/?month=2026-03", &[], None)
        .expect("dashboard");
    assert_eq!(code, 200, "{home}");
    assert!(
        home.contains(&format!("data-rate=\"month\">{rate}<")),
        "{rate} in:\n{home}"
    );
    let site_rate = format_rate(a.sites[&SiteId::new("c000-s00")].rate);
    assert!(
        home.contains(&format!("data-site-rate=\"month\">{site_rate}<")),
        "{site_rate} in:\n{home}"
    );
    assert!(
        home.contains("href=\"/api/v1/reports/client-000/") && home.contains("?format=pdf\""),
        "the reports are linked:\n{home}"
    );
    let file = data.path().join("out").join("client-000.pdf");
    let data_dir = data.path().to_string_lossy().into_owned();
    let args = |extra: &[&str]| -> Vec<String> {
        [
            "report",
            "--client",
            "client-000",
            "--month",
            "2026-03",
            "--data",
            &data_dir,
        ]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .collect()
    };
    let ok = |extra: &[&str]| vigie_ok(&args(extra).iter().map(String::as_str).collect::<Vec<_>>());
    ok(&["--out", &file.to_string_lossy()]);
    let text = pdf_text(&file);
    assert!(text.contains(&rate) && text.contains("mars 2026"), "{text}");
    assert!(!data.path().join("out").join("client-000.pdf.part").exists());
    // To the standard output, and refused in an unknown format.
    let piped = ok(&["--format", "html"]);
    assert!(String::from_utf8_lossy(&piped.stdout).contains(&format!("<strong>{rate}</strong>")));
    let bad = std::process::Command::new(vigie_bin())
        .args(args(&["--format", "docx"]))
        .output()
        .expect("vigie");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("give pdf, html or json"));
    daemon.sigterm();
    // The daemon is down: the same report from its data directory and last good config,
    // whose logo is still found beside the config files.
    let offline = data.path().join("offline.html");
    ok(&["--format", "html", "--out", &offline.to_string_lossy()]);
    let page = std::fs::read_to_string(&offline).expect("page");
    assert!(page.contains(&format!("<strong>{rate}</strong>")), "{page}");
    assert!(page.contains("data:image/svg+xml;base64,"), "the logo");
}
