//! The command line: `vigie check-config` against golden files, one per class of config
//! error, each with the exact expected output (file:line:col and message).
//!
//! Set `VIGIE_UPDATE_GOLDEN=1` to rewrite the expected files after an intended change.

use crate::support::{main_file, manifest_dir, vigie_bin};
use std::path::{Path, PathBuf};
use std::process::Command;

fn golden_root() -> PathBuf {
    manifest_dir().join("../tests/golden/config")
}

#[test]
fn check_config_matches_golden_output_for_every_case() {
    let mut cases: Vec<_> = std::fs::read_dir(golden_root())
        .expect("golden dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "golden cases: {cases:?}");
    let update = std::env::var_os("VIGIE_UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let out = Command::new(vigie_bin())
            .arg("check-config")
            .arg(case)
            .current_dir(golden_root())
            .output()
            .expect("run vigie");
        let text = format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The exit status is checked in update mode too: a golden file never records a
        // wrong one.
        let valid = case.starts_with("good-");
        assert_eq!(out.status.success(), valid, "{case}: exit status");
        let expected_path = golden_root().join(case).join("expected.txt");
        if update {
            std::fs::write(&expected_path, &text).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != text {
            failures.push(format!("== {case}: expected\n{expected}\n== got\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_shipped_example_config_is_valid() {
    let dir = manifest_dir().join("../config/example");
    let out = Command::new(vigie_bin())
        .arg("check-config")
        .arg(dir)
        .output()
        .expect("run vigie");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 sites, 12 equipment"), "{stdout}");
}

/// Runs `vigie check-config DIR`, failing the test if it does not end within a minute.
fn check_config_bounded(dir: &Path) -> (bool, String) {
    let mut child = Command::new(vigie_bin())
        .arg("check-config")
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("check-config");
    crate::support::exit_within(
        &mut child,
        std::time::Duration::from_secs(60),
        &format!("check-config of {}", dir.display()),
    );
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn special_files_and_invalid_utf8_are_refused_with_their_place_never_hanging() {
    let dir = tempfile::tempdir().expect("tmp");
    let sites = dir.path().join("sites");
    std::fs::create_dir_all(&sites).expect("mkdir");
    // Invalid UTF-8 on line 3, column 9: located, and no spurious "file not found".
    let mut main = b"[clients.c]\nname = \"Client\"\n# caf\xe9 \xff\n".to_vec();
    main.extend_from_slice(b"\n");
    std::fs::write(dir.path().join("vigie.toml"), &main).expect("write");
    let (ok, err) = check_config_bounded(dir.path());
    assert!(!ok);
    assert!(
        err.contains("vigie.toml:3:6: invalid UTF-8 (byte 0xe9)"),
        "{err}"
    );
    assert!(!err.contains("not found"), "{err}");

    // A FIFO and a link to a device among the site files: refused at once, by name.
    std::fs::write(
        dir.path().join("vigie.toml"),
        "[clients.c]\nname = \"Client\"\n",
    )
    .expect("write");
    let fifo = sites.join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", sites.join("zero.toml")).expect("symlink");
    let (ok, err) = check_config_bounded(dir.path());
    assert!(!ok);
    for name in ["sites/fifo.toml", "sites/zero.toml"] {
        assert!(
            err.contains(&format!("{name}: not a regular file")),
            "{name}: {err}"
        );
    }

    // A file past the size cap is refused without being read.
    std::fs::remove_file(&fifo).expect("rm");
    std::fs::remove_file(sites.join("zero.toml")).expect("rm");
    let big = std::fs::File::create(sites.join("big.toml")).expect("create");
    big.set_len(17 << 20).expect("grow");
    let (ok, err) = check_config_bounded(dir.path());
    assert!(!ok);
    assert!(
        err.contains("sites/big.toml: the file is 17825792 bytes"),
        "{err}"
    );
}

#[test]
fn status_of_a_missing_data_directory_is_an_error_and_logs_carry_no_colour_off_a_terminal() {
    let missing = tempfile::tempdir().expect("tmp").path().join("nowhere");
    let out = Command::new(vigie_bin())
        .args(["status", "--data"])
        .arg(&missing)
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no data directory"), "{err}");
    assert!(out.stdout.is_empty());

    // The daemon's log, with stderr a pipe: no ANSI codes.
    let cfg = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    std::fs::write(
        cfg.path().join("vigie.toml"),
        "[clients.c]\nname = \"Client\"\n",
    )
    .expect("write");
    std::fs::create_dir_all(cfg.path().join("sites")).expect("mkdir");
    let world = cfg.path().join("world.toml");
    std::fs::write(&world, "[default]\nstatus = \"up\"\n").expect("write");
    let mut child = Command::new(vigie_bin())
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(cfg.path())
        .arg("--data")
        .arg(data.path())
        .arg("--simulate")
        .arg(&world)
        .env("VIGIE_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("vigie run");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut first,
    )
    .expect("first line");
    assert!(first.starts_with("vigie listening on"), "{first}");
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vigie is running"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "colour codes off a terminal: {err:?}"
    );
}

#[test]
fn a_daemon_that_never_answers_makes_a_command_fail_at_its_timeout() {
    // A listener that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    let keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().take(4) {
            held.push(conn);
        }
        held
    });
    let data = tempfile::tempdir().expect("tmp");
    std::fs::write(
        data.path().join("daemon.json"),
        format!("{{\"pid\": 1, \"api\": \"http://{addr}\"}}"),
    )
    .expect("write");
    let mut child = Command::new(vigie_bin())
        .args(["ack", "1", "--timeout", "1s", "--data"])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ack");
    crate::support::exit_within(
        &mut child,
        std::time::Duration::from_secs(60),
        "vigie ack against a silent daemon",
    );
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr.to_string()), "{err}");
    assert!(err.contains("no HTTP answer within 1s"), "{err}");
    drop(keep);
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Command::new(vigie_bin())
        .arg("--help")
        .output()
        .expect("help");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Exit codes: 0 success",
        "1 an error",
        "2 a malformed command line",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let bad = Command::new(vigie_bin())
        .arg("--no-such-flag")
        .output()
        .expect("bad");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn run_paths_are_made_absolute_once() {
    let cfg = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(cfg.path().join("sites")).expect("mkdir");
    std::fs::write(cfg.path().join("vigie.toml"), main_file("")).expect("write");
    let world = cfg.path().join("world.toml");
    std::fs::write(&world, "[default]\nstatus = \"up\"\n").expect("write");
    let (opts, _listener) = vigie::server::prepare(vigie::server::RunSettings {
        config_dir: cfg.path().to_path_buf(),
        data_dir: std::path::PathBuf::from("relative-data"),
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        simulate: Some(world),
        plugins_dir: None,
    })
    .expect("prepare");
    assert!(opts.data_dir.is_absolute(), "{}", opts.data_dir.display());
    assert!(opts.data_dir.ends_with("relative-data"));
    assert!(
        !opts.data_dir.exists(),
        "nothing is created before the start"
    );
}

#[test]
fn oncall_prints_who_holds_each_role_and_the_next_hand_overs() {
    let dir = manifest_dir().join("../config/example");
    let out = Command::new(vigie_bin())
        .arg("oncall")
        .arg(&dir)
        .args(["--at", "2026-08-01T09:00:00+02:00"])
        .output()
        .expect("oncall");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for needle in [
        "on call at 2026-08-01 07:00 UTC (Europe/Paris 2026-08-01 09:00)",
        "technician         mleroy (Marie Leroy)",
        "manager            astreinte-manager",
        // 08:00 in Paris on Monday; the holiday override keeps Julien on from 10 to 17 August,
        // so the next change after his turn is on the 24th.
        "2026-08-03 06:00 UTC (Europe/Paris 2026-08-03 08:00): technician jdupont",
        "2026-08-24 06:00 UTC (Europe/Paris 2026-08-24 08:00): technician mleroy",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    let bad = Command::new(vigie_bin())
        .arg("oncall")
        .arg(&dir)
        .args(["--at", "tomorrow"])
        .output()
        .expect("oncall");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--at `tomorrow`"));
}
