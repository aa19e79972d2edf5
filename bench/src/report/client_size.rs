//! Figure 4: the size of the release client in dist/, raw and gzipped.

use super::thousands;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Figure 4: what a browser downloads, from the release build in dist/.
pub(super) fn client_size(out: &mut String, root: &Path) {
    let _ = writeln!(out, "### Client size (figure 4)\n");
    let dist = root.join("dist");
    let Ok(entries) = std::fs::read_dir(&dist) else {
        let _ = writeln!(
            out,
            "Not measured: there is no `dist/` (the release client) on this machine. \
             `cargo xtask build` makes it (it needs trunk and wasm-bindgen-cli, which \
             `cargo xtask setup` compiles); the last figures measured are in docs/SIZE.md.\n"
        );
        return;
    };
    let mut files: Vec<(String, u64, u64)> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if !["wasm", "js", "css", "html"].contains(&ext) {
            continue;
        }
        let Ok(raw) = std::fs::read(&path) else {
            continue;
        };
        let mut gz_path = path.clone().into_os_string();
        gz_path.push(".gz");
        let gz = match std::fs::metadata(&gz_path) {
            Ok(meta) => meta.len(),
            Err(_) => gzip_len(&raw),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        files.push((name, raw.len() as u64, gz));
    }
    files.sort();
    if files.is_empty() {
        let _ = writeln!(
            out,
            "Not measured: `dist/` holds no wasm, JS, CSS or HTML (a build in progress, or a \
             failed one). `cargo xtask build` makes it; the last figures measured are in \
             docs/SIZE.md.\n"
        );
        return;
    }
    let _ = writeln!(out, "| file in `dist/` | raw | gzip (`.gz`) |\n|---|---:|---:|");
    let (mut raw_total, mut gz_total) = (0, 0);
    for (name, raw, gz) in &files {
        raw_total += raw;
        gz_total += gz;
        let _ = writeln!(out, "| `{name}` | {} | {} |", thousands(*raw as f64), thousands(*gz as f64));
    }
    let _ = writeln!(
        out,
        "| **total** | **{}** | **{}** |\n\nAs docs/SIZE.md measures it: the files \
         `cargo xtask build` leaves in dist/, gzip from their `.gz` twins (zopfli, \
         as served).\n",
        thousands(raw_total as f64),
        thousands(gz_total as f64)
    );
}

fn gzip_len(raw: &[u8]) -> u64 {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = enc.write_all(raw);
    enc.finish().map_or(0, |v| v.len() as u64)
}
