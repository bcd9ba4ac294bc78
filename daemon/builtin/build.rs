//! Builds the vendor plugins (`plugins/*`) for `wasm32-wasip2` with the `plugin` profile, in a
//! target directory of their own beside the build's (a nested cargo cannot share the outer
//! one's lock), and writes the list that `src/lib.rs` embeds. The target is added with rustup
//! when missing; when it cannot be, the build says what to run.

use std::path::{Path, PathBuf};
use std::process::Command;

const PLUGINS: [&str; 4] = ["axis", "dahua", "hikvision", "onvif"];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let root = manifest
        .parent()
        .and_then(Path::parent)
        .expect("the workspace root")
        .to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    for dir in ["plugins", "plugin-sdk"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    let target_dir = wasm_target_dir(&root, &out);
    ensure_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--profile",
            "plugin",
            "--target",
            TARGET,
            "--locked",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for p in PLUGINS {
        cmd.args(["-p", &format!("vigie-plugin-{p}")]);
    }
    // The outer build's flags and wrappers are for the host, not for WebAssembly.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    if !status.success() {
        panic!(
            "building the vendor plugins for {TARGET} failed (see above); if the target is missing, run `rustup target add {TARGET}`"
        );
    }
    let built = target_dir.join(TARGET).join("plugin");
    let mut list = String::from(
        "/// The embedded plugins, by file name.\nstatic PLUGINS: &[(&str, &[u8])] = &[\n",
    );
    for p in PLUGINS {
        let file = format!("vigie_plugin_{p}.wasm");
        let path = built.join(&file);
        assert!(path.is_file(), "{} was not built", path.display());
        list.push_str(&format!(
            "    ({file:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    list.push_str("];\n");
    std::fs::write(out.join("builtin.rs"), list).expect("write builtin.rs");
}

/// `TARGET_ROOT/wasm-plugins`, beside the outer build's profiles (OUT_DIR is
/// `TARGET_ROOT/PROFILE/build/PKG-HASH/out`, or one level deeper when cross-compiling), so
/// debug, release and clippy builds share one plugin build; the same directory the tests use.
fn wasm_target_dir(root: &Path, out: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("wasm-plugins");
    }
    out.ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|t| t.join("wasm-plugins"))
        .unwrap_or_else(|| root.join("target").join("wasm-plugins"))
}

/// Adds the WebAssembly target with rustup when the toolchain lacks it.
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let installed = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|dir| dir.is_dir());
    if installed {
        return;
    }
    println!("cargo:warning=adding the {TARGET} target with rustup to build the vendor plugins");
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    if !added {
        panic!(
            "the vendor plugins are built for {TARGET}, which this toolchain lacks and rustup could not add: run `rustup target add {TARGET}`"
        );
    }
}
