//! Embeds the built web app (trunk's `dist/`, gzipped) in the binary, so the
//! binary alone is a deployment; and names the build for `--version`.
//!
//! Without a built `dist/` the binary embeds nothing and serves `--dist`.

use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-env-changed=MOIM_EMBED_DIST");
    let dist = std::env::var_os("MOIM_EMBED_DIST").map(PathBuf::from).unwrap_or_else(|| manifest.join("../dist"));
    // A folder: cargo looks for a change anywhere in it (or its appearing).
    println!("cargo:rerun-if-changed={}", dist.display());
    let files = if dist.join("index.html").is_file() { web_files(&dist) } else { Vec::new() };
    let stored = out.join("web");
    let _ = std::fs::remove_dir_all(&stored);
    std::fs::create_dir_all(&stored).expect("OUT_DIR is writable");
    let mut code = String::from("pub static FILES: &[EmbeddedFile] = &[\n");
    for (i, name) in files.iter().enumerate() {
        let gzip = gzipped(&dist, name);
        let path = stored.join(format!("{i}.gz"));
        std::fs::write(&path, &gzip).expect("OUT_DIR is writable");
        let mut hash = DefaultHasher::new();
        hash.write(&gzip);
        let _ = writeln!(
            code,
            "    EmbeddedFile {{ path: {name:?}, etag: \"\\\"{:016x}\\\"\", gzip: include_bytes!({:?}) }},",
            hash.finish(),
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let _ = writeln!(code, "pub const BUILD: &str = {:?};", build_name(&manifest, !files.is_empty()));
    std::fs::write(out.join("web_app.rs"), code).expect("OUT_DIR is writable");
}

/// Every file under `dist` but the precompressed twins, as `/`-separated
/// paths relative to it.
fn web_files(dist: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![dist.to_owned()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            let twin = matches!(path.extension().and_then(|e| e.to_str()), Some("gz" | "br"));
            if path.is_dir() {
                folders.push(path);
            } else if !twin {
                let relative = path.strip_prefix(dist).expect("under dist");
                found
                    .push(relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
            }
        }
    }
    found.sort();
    found
}

/// The file gzipped: `cargo xtask build`'s zopfli twin (`name.gz`, smaller)
/// if it holds this very file, else gzip -9 of it.
fn gzipped(dist: &Path, name: &str) -> Vec<u8> {
    let raw = std::fs::read(dist.join(name)).expect("a file listed a moment ago");
    if let Ok(twin) = std::fs::read(dist.join(format!("{name}.gz"))) {
        let mut unpacked = Vec::new();
        if GzDecoder::new(twin.as_slice()).read_to_end(&mut unpacked).is_ok() && unpacked == raw {
            return twin;
        }
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&raw).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// "0.1.0 (commit abc1234def, web app embedded)": what `--version` says.
fn build_name(manifest: &Path, embedded: bool) -> String {
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(manifest).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    // Named again when HEAD moves: a checkout changes HEAD, a commit its branch.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) {
        let head = git_dir.join("HEAD");
        println!("cargo:rerun-if-changed={}", head.display());
        let branch = std::fs::read_to_string(&head).ok().and_then(|h| Some(h.strip_prefix("ref: ")?.trim().to_owned()));
        if let Some(branch) = branch.map(|b| git_dir.join(b)).filter(|b| b.exists()) {
            println!("cargo:rerun-if-changed={}", branch.display());
        }
    }
    let commit =
        git(&["rev-parse", "--short=10", "HEAD"]).map_or_else(|| "commit unknown".into(), |c| format!("commit {c}"));
    let web = if embedded { "web app embedded" } else { "no web app embedded: serves --dist" };
    format!("{} ({commit}, {web})", std::env::var("CARGO_PKG_VERSION").unwrap_or_default())
}
