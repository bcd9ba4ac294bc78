//! The command line: `vigie check-config` against golden files, one per class of config
//! error, each with the exact expected output (file:line:col and message).
//!
//! Set `VIGIE_UPDATE_GOLDEN=1` to rewrite the expected files after an intended change.

use crate::support::vigie_bin;
use std::path::Path;
use std::process::Command;

fn golden_root() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/golden/config"
    ))
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
        let expected_path = golden_root().join(case).join("expected.txt");
        if update {
            std::fs::write(&expected_path, &text).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != text {
            failures.push(format!("== {case}: expected\n{expected}\n== got\n{text}"));
        }
        let valid = case.starts_with("good-");
        assert_eq!(out.status.success(), valid, "{case}: exit status");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_shipped_example_config_is_valid() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/example"));
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
