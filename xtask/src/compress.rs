//! Precompressed twins (`.gz`, `.br`) of the client's text and wasm files, so
//! the backend serves them compressed without compressing on every request.
//! The `.gz` is made by zopfli: plain gzip any browser reads, 5–6 % smaller
//! than `gzip -9` for a few seconds of build time (docs/SIZE.md).

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
        let gz = zopfli_gzip(&raw)?;
        let br = brotli(&raw);
        write(&path, "gz", &gz)?;
        write(&path, "br", &br)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        report.push((name, [raw.len(), gzip9_len(&raw), gz.len(), br.len()]));
    }
    report.sort();
    let row = |name: &str, cells: [String; 4]| {
        eprintln!("xtask: {name:<34} {:>8} {:>8} {:>8} {:>8}", cells[0], cells[1], cells[2], cells[3])
    };
    row("client size (bytes)", ["raw", "gzip -9", ".gz", ".br"].map(String::from));
    let mut total = [0; 4];
    for (name, sizes) in &report {
        row(name, sizes.map(|n| n.to_string()));
        total.iter_mut().zip(sizes).for_each(|(t, n)| *t += n);
    }
    row("total", total.map(|n| n.to_string()));
    eprintln!("xtask: (.gz: zopfli, served to browsers that take gzip; .br: brotli 11)");
    Ok(())
}

fn write(path: &Path, ext: &str, bytes: &[u8]) -> Result<(), String> {
    let mut target = path.as_os_str().to_owned();
    target.push(".");
    target.push(ext);
    std::fs::write(&target, bytes).map_err(|e| format!("writing {}: {e}", Path::new(&target).display()))
}

fn zopfli_gzip(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    zopfli::compress(zopfli::Options::default(), zopfli::Format::Gzip, raw, &mut out)
        .map_err(|e| format!("zopfli: {e}"))?;
    Ok(out)
}

/// What `gzip -9` would make, for the report only.
fn gzip9_len(raw: &[u8]) -> usize {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(raw).expect("writing to memory");
    enc.finish().expect("writing to memory").len()
}

fn brotli(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &raw[..], &mut out, &params).expect("writing to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_gz_twin_is_plain_gzip_of_the_file() {
        let raw: Vec<u8> = (0..50_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let gz = zopfli_gzip(&raw).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, raw);
        assert!(gz.len() <= gzip9_len(&raw));
    }
}
