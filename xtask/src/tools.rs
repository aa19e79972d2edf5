//! Installs what the build and the tests need, skipping what is already there
//! at the right version: everything comes from crates.io, rustup or Debian.

use crate::{root, run_cmd};
use std::path::PathBuf;
use std::process::Command;

const TRUNK_VERSION: &str = "0.21.14";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const REDIS_SERVER: &str = "/usr/bin/redis-server";
const NGINX: &str = "/usr/sbin/nginx";

pub fn setup(browsers: bool) -> Result<(), String> {
    wasm_target()?;
    lint_components()?;
    cargo_tool("trunk", "trunk", TRUNK_VERSION, true)?;
    // Must equal the wasm-bindgen in Cargo.lock, or trunk and the test runner
    // refuse the build. Not --locked: its lock names a version crates.io lacks.
    cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &pinned_wasm_bindgen()?, false)?;
    if browsers {
        // A Hangul font, so the Korean pages (and "모임" in every title)
        // read in the e2e screenshots instead of as empty boxes; coturn, the
        // TURN server the relayed calls in e2e go through; Redis and nginx,
        // which the cluster's tests start on 127.0.0.1 (two nodes behind one
        // public address).
        debian_packages(&[
            ("chromium", CHROMIUM),
            ("chromium-driver", CHROMEDRIVER),
            ("fonts-nanum", "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
            ("coturn", "/usr/bin/turnserver"),
            ("redis-server", REDIS_SERVER),
            ("nginx", NGINX),
        ])?;
        axe_core()?;
    }
    Ok(())
}

/// axe-core at the version `e2e/axe/package.json` pins, into `target/axe`,
/// for the e2e accessibility test (it runs in the browser; npm only fetches it).
fn axe_core() -> Result<(), String> {
    let pinned = |path: &std::path::Path, key: &str| -> Option<String> {
        let text = std::fs::read_to_string(path).ok()?;
        let start = text.find(&format!("\"{key}\""))? + key.len() + 2;
        let rest = &text[start..];
        let value = rest.split('"').nth(1)?;
        Some(value.to_owned())
    };
    let wanted =
        pinned(&root().join("e2e/axe/package.json"), "axe-core").ok_or("e2e/axe/package.json pins no axe-core")?;
    let target = root().join("target/axe");
    if pinned(&target.join("node_modules/axe-core/package.json"), "version").as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    node()?;
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    std::fs::copy(root().join("e2e/axe/package.json"), target.join("package.json")).map_err(|e| e.to_string())?;
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--prefix"]).arg(&target);
    run_cmd(npm)
}

/// Node.js and npm, for the Socket.io server the relay benchmark compares with.
pub fn node() -> Result<(), String> {
    debian_packages(&[("nodejs", "/usr/bin/node"), ("npm", "/usr/bin/npm")])
}

/// Janus 1.1 (Debian's `janus`), which `cargo xtask bench sfu` measures
/// beside Moim's media server.
pub fn janus() -> Result<(), String> {
    debian_packages(&[("janus", "/usr/bin/janus")])
}

/// `~/.cargo/bin/<name>` when cargo installed it there, else `<name>` on PATH.
pub fn bin(name: &str) -> PathBuf {
    let installed = cargo_home().join("bin").join(name);
    if installed.exists() {
        installed
    } else {
        PathBuf::from(name)
    }
}

/// PATH with cargo's bin folder first, so the runner finds `wasm-bindgen-test-runner`.
pub fn path_with_cargo_bin() -> std::ffi::OsString {
    let bin = cargo_home().join("bin");
    let mut dirs = vec![bin.clone()];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).filter(|d| *d != bin));
    std::env::join_paths(dirs).expect("PATH entries are valid")
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"))
}

fn wasm_target() -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))
        .map_err(|e| format!("rustup is needed to add the wasm32 target: {e}"))?;
    if installed.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", "wasm32-unknown-unknown"]);
    run_cmd(add)
}

/// rustfmt and clippy, for `cargo xtask lint` (rustup's default profile
/// has them; a minimal one does not).
fn lint_components() -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["component", "list", "--installed"]))
        .map_err(|e| format!("rustup is needed to add rustfmt and clippy: {e}"))?;
    let missing: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|c| !installed.lines().any(|l| l.trim().starts_with(&format!("{c}-"))))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut add = Command::new("rustup");
    add.args(["component", "add"]).args(missing);
    run_cmd(add)
}

/// Installs `krate` at `version` unless `binary --version` already says so.
fn cargo_tool(binary: &str, krate: &str, version: &str, locked: bool) -> Result<(), String> {
    let have = output(Command::new(bin(binary)).arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(version) {
        return Ok(());
    }
    eprintln!("xtask: installing {krate} {version} (found {:?}); this compiles for several minutes", have.trim());
    let mut install = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    install.args(["install", krate, "--version", version, "--force"]);
    if locked {
        install.arg("--locked");
    }
    run_cmd(install)
}

fn pinned_wasm_bindgen() -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("reading Cargo.lock: {e}"))?;
    lock_version(&lock, "wasm-bindgen").ok_or_else(|| "Cargo.lock names no wasm-bindgen".into())
}

/// The version of package `name` in a Cargo.lock.
fn lock_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == wanted {
            let version = lines.next()?.strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(version.to_owned());
        }
    }
    None
}

/// Installs the Debian packages whose marker file is missing.
fn debian_packages(packages: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, marker)| !std::path::Path::new(marker).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let as_root = output(Command::new("id").arg("-u")).map(|id| id.trim() == "0").unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut cmd = if as_root { Command::new("apt-get") } else { Command::new("sudo") };
        if !as_root {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run_cmd(apt(&["update"]))?;
    let mut install = apt(&["install", "-y", "--no-install-recommends"]);
    install.args(&missing);
    run_cmd(install).map_err(|e| format!("{e}\n(install them by hand: apt-get install {})", missing.join(" ")))
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::lock_version;

    #[test]
    fn finds_the_exact_package_not_a_prefix() {
        let lock = "[[package]]\nname = \"wasm-bindgen-futures\"\nversion = \"0.4.1\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n";
        assert_eq!(lock_version(lock, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(lock_version(lock, "trunk"), None);
    }

    #[test]
    fn the_workspace_lock_pins_wasm_bindgen() {
        assert!(super::pinned_wasm_bindgen().is_ok());
    }
}
