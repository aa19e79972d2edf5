//! Precompressed twins (`.gz`, `.br`) of the client's text and wasm files, so
//! the backend serves them compressed without compressing on every request.

use std::io::Write;
use std::path::Path;

const COMPRESSIBLE: [&str; 4] = ["wasm", "js", "css", "html"];

pub fn precompress(dist: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dist).map_err(|e| format!("reading {}: {e}", dist.display()))?;
    let mut report = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if !COMPRESSIBLE.contains(&ext) {
            continue;
        }
        let raw = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let gz = gzip(&raw);
        let br = brotli(&raw);
        write(&path, "gz", &gz)?;
        write(&path, "br", &br)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        report.push((name, raw.len(), gz.len(), br.len()));
    }
    report.sort();
    let total = report.iter().fold((0, 0, 0), |t, r| (t.0 + r.1, t.1 + r.2, t.2 + r.3));
    eprintln!("xtask: client size (bytes)   raw      gzip    brotli");
    for (name, raw, gz, br) in &report {
        eprintln!("xtask:   {name:<24} {raw:>8} {gz:>8} {br:>8}");
    }
    eprintln!("xtask:   {:<24} {:>8} {:>8} {:>8}", "total", total.0, total.1, total.2);
    Ok(())
}

fn write(path: &Path, ext: &str, bytes: &[u8]) -> Result<(), String> {
    let mut target = path.as_os_str().to_owned();
    target.push(".");
    target.push(ext);
    std::fs::write(&target, bytes).map_err(|e| format!("writing {}: {e}", Path::new(&target).display()))
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(raw).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

fn brotli(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &raw[..], &mut out, &params).expect("writing to memory");
    out
}
