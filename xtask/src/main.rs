//! `cargo xtask <command>`: the project's own set-up, run and test commands,
//! so a fresh machine (Rust by rustup, nothing else) needs no manual steps.

mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <command> [-- backend flags]

commands:
  setup   install what is missing: wasm32 target, trunk, wasm-bindgen-cli;
          with --browsers also Chromium, chromedriver, coturn, redis-server, nginx and axe-core
          (npm, into target/axe); with --janus also
          Janus (Debian's janus, for `bench sfu`)
  build   setup, then build the release client into dist/
  run     build, then start Moim on http://localhost:8080
          (flags after `--` go to the backend, e.g. `cargo xtask run -- --port 9000`)
  lint    rustfmt --check and clippy (native, and the client for wasm32),
          warnings as errors
  test    lint, then every test: protocol and backend, browser tests of the
          client modules, and the real app end to end in headless Chromium
  bench   [relay|browser|sfu|cluster] [--smoke] [flags]: the benchmarks
          (all four by default).
          relay: Moim against a Socket.io 4 relay on loopback (Node.js and
          npm from Debian, socket.io from npm into target/bench), report in
          docs/BENCHMARKS.md; browser: call setup and page load in headless
          Chromium, report in target/bench/browser.md; sfu: Moim's media
          server beside Janus's videoroom, one load bot (str0m), Janus from
          Debian, report in docs/BENCHMARKS.md; cluster: two nodes on one
          redis-server, pairs within a node and across the two, report in
          docs/BENCHMARKS.md. --smoke: tiny runs, reports in target/bench/
          (what CI runs)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("", &[][..]),
    };
    let outcome = match command {
        "setup" => tools::setup(rest.iter().any(|a| a == "--browsers")).and_then(|()| {
            if rest.iter().any(|a| a == "--janus") {
                tools::janus()
            } else {
                Ok(())
            }
        }),
        "build" => tools::setup(false).and_then(|()| build()),
        "run" => tools::setup(false).and_then(|()| build()).and_then(|()| run(passthrough(rest))),
        "lint" => tools::setup(false).and_then(|()| lint()),
        "test" => tools::setup(true).and_then(|()| lint()).and_then(|()| test()),
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
    glue::minify(&root().join("dist"))?;
    compress::precompress(&root().join("dist"))
}

fn run(backend_args: &[String]) -> Result<(), String> {
    let mut backend = cargo();
    backend.args(["run", "--release", "--package", "backend", "--"]).args(backend_args);
    run_cmd(backend)
}

/// `bench/` (both servers, one load generator), `e2e`'s browser_bench and
/// `bench/`'s sfu_bench; flags after the part's name pass through to it.
fn bench(args: &[String]) -> Result<(), String> {
    let (relay, browser, sfu, cluster, flags) = match args.first().map(String::as_str) {
        Some("relay") => (true, false, false, false, passthrough(&args[1..])),
        Some("browser") => (false, true, false, false, passthrough(&args[1..])),
        Some("sfu") => (false, false, true, false, passthrough(&args[1..])),
        Some("cluster") => (false, false, false, true, passthrough(&args[1..])),
        _ => (true, true, true, true, passthrough(args)),
    };
    if (relay && browser) && flags.iter().any(|a| a != "--smoke") {
        return Err(
            "name the part (`bench relay ...`, `bench browser ...`, `bench sfu ...` or `bench cluster ...`) to give it flags"
                .into(),
        );
    }
    // A smoke run only proves the benchmarks work: debug builds, which the
    // tests have already compiled, spare a fresh machine minutes of release builds.
    let smoke = flags.iter().any(|a| a == "--smoke");
    let (profile, release) = if smoke { ("debug", &[][..]) } else { ("release", &["--release"][..]) };
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    if relay {
        tools::node()?;
        let mut build = cargo();
        build.arg("build").args(release).args(["--package", "backend", "--package", "bench"]);
        run_cmd(build)?;
        let mut bench = Command::new(target.join(profile).join("bench"));
        bench.args(flags);
        run_cmd(bench)?;
    }
    if cluster {
        // Two nodes on one redis-server (`cargo xtask setup --browsers` installs it).
        tools::setup(true)?;
        let mut build = cargo();
        build.arg("build").args(release).args(["--package", "backend", "--package", "bench"]);
        run_cmd(build)?;
        let mut bench = Command::new(target.join(profile).join("bench"));
        bench.arg("--cluster").args(flags);
        run_cmd(bench)?;
    }
    if sfu {
        // A smoke run installs nothing: without Janus it measures Moim alone
        // (and says so), so CI needs no Janus.
        if !smoke {
            tools::janus()?;
        }
        let mut build = cargo();
        build.arg("build").args(release).args(["--package", "backend", "--package", "bench", "--bin", "moim"]);
        build.args(["--bin", "sfu_bench"]);
        run_cmd(build)?;
        let mut bench = Command::new(target.join(profile).join("sfu_bench"));
        bench.args(flags);
        run_cmd(bench)?;
    }
    if browser {
        tools::setup(true)?;
        build()?;
        let mut bench = cargo();
        bench
            .arg("run")
            .args(release)
            .args(["--package", "e2e", "--bin", "browser_bench", "--"])
            .args(flags)
            .env("CHROMEDRIVER", tools::CHROMEDRIVER);
        run_cmd(bench)?;
    }
    Ok(())
}

/// Formatting and clippy, the gate before the tests: unformatted code or a
/// clippy warning fails the run.
fn lint() -> Result<(), String> {
    cycles::check(&["backend/src", "shared/src", "sfu/src"])?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_cmd(fmt)?;
    let mut native = cargo();
    native.args(["clippy", "--workspace", "--exclude", "frontend", "--all-targets", "--", "-D", "warnings"]);
    run_cmd(native)?;
    let mut client = cargo();
    client.args(["clippy", "--package", "frontend", "--target", "wasm32-unknown-unknown", "--all-targets"]);
    client.args(["--", "-D", "warnings"]);
    run_cmd(client)
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

    // 3. The real app end to end: the backend serving the release build;
    // the cluster's nodes are `moim` processes of their own.
    build()?;
    let mut binary = cargo();
    binary.args(["build", "--package", "backend", "--bin", "moim"]);
    run_cmd(binary)?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let mut e2e = cargo();
    e2e.args(["test", "--package", "e2e", "--", "--test-threads=1"])
        .env("CHROMEDRIVER", tools::CHROMEDRIVER)
        .env("MOIM_DIST", root().join("dist"))
        .env("MOIM_BINARY", target.join("debug").join("moim"));
    run_cmd(e2e)
}

mod compress;
mod cycles;
mod glue;
