//! `cargo xtask <command>`: the project's own set-up, run and test commands,
//! so a fresh machine (Rust by rustup, nothing else) needs no manual steps.

mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <command> [-- backend flags]

commands:
  setup   install what is missing: wasm32 target, trunk, wasm-bindgen-cli;
          with --browsers also Chromium and chromedriver
  build   setup, then build the release client into dist/
  run     build, then start Moim on http://localhost:8080
          (flags after `--` go to the backend, e.g. `cargo xtask run -- --port 9000`)
  test    every test: protocol and backend, browser tests of the client
          modules, and the real app end to end in headless Chromium
  bench   release builds, then Moim against a Socket.io 4 relay on loopback
          (socket.io from npm into target/bench): docs/BENCHMARKS.md;
          --smoke for a tiny run (report in target/bench/)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("", &[][..]),
    };
    let outcome = match command {
        "setup" => tools::setup(rest.iter().any(|a| a == "--browsers")),
        "build" => tools::setup(false).and_then(|()| build()),
        "run" => tools::setup(false).and_then(|()| build()).and_then(|()| run(passthrough(rest))),
        "test" => tools::setup(true).and_then(|()| test()),
        "bench" => bench(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command {command:?}\n\n{USAGE}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn passthrough(rest: &[String]) -> &[String] {
    match rest.first() {
        Some(first) if first == "--" => &rest[1..],
        _ => rest,
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_owned()
}

/// Runs `cmd` in the workspace root; a non-zero exit is an error naming it.
pub fn run_cmd(mut cmd: Command) -> Result<(), String> {
    cmd.current_dir(root());
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd.status().map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The release client: `dist/` with wasm, JS, CSS and their .gz/.br twins.
fn build() -> Result<(), String> {
    let mut trunk = Command::new(tools::bin("trunk"));
    trunk.args(["build", "--release"]);
    run_cmd(trunk)?;
    compress::precompress(&root().join("dist"))
}

fn run(backend_args: &[String]) -> Result<(), String> {
    let mut backend = cargo();
    backend.args(["run", "--release", "--package", "backend", "--"]).args(backend_args);
    run_cmd(backend)
}

/// `bench/`: both servers, one load generator; its flags pass through.
fn bench(args: &[String]) -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "--release", "--package", "backend", "--package", "bench"]);
    run_cmd(build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let mut bench = Command::new(target.join("release").join("bench"));
    bench.args(passthrough(args));
    run_cmd(bench)
}

fn test() -> Result<(), String> {
    // 1. Native: protocol, negotiation state machine, backend over real WebSockets.
    let mut native = cargo();
    native.args(["test", "--workspace", "--exclude", "frontend", "--exclude", "e2e"]);
    run_cmd(native)?;

    // 2. The client's browser-facing modules in headless Chromium.
    let mut browser = cargo();
    browser
        .args(["test", "--package", "frontend", "--target", "wasm32-unknown-unknown", "--tests"])
        .env("CHROMEDRIVER", tools::CHROMEDRIVER)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "60")
        .env("PATH", tools::path_with_cargo_bin());
    run_cmd(browser)?;

    // 3. The real app end to end: the backend serving the release build.
    build()?;
    let mut e2e = cargo();
    e2e.args(["test", "--package", "e2e", "--", "--test-threads=1"])
        .env("CHROMEDRIVER", tools::CHROMEDRIVER)
        .env("MOIM_DIST", root().join("dist"));
    run_cmd(e2e)
}

mod compress;
