//! wasm-bindgen's JS glue, minified. Trunk's own minifier (minify-js) stops
//! at the glue's last line, `export { initSync, __wbg_init as default };`,
//! and leaves the file as it is (trunk logs "Failed to minify JS"). This runs
//! the same minifier with that export renamed for the parse and named back
//! after, then puts the new file's hash in `index.html`'s `integrity`, which
//! the browser checks. About 2 KB less over the wire (docs/SIZE.md).

use base64::Engine;
use sha2::{Digest, Sha384};
use std::path::Path;

const DEFAULT_EXPORT: &str = "__wbg_init as default";
const STAND_IN: &str = "__moim_glue_default";

/// Minifies the one `.js` file in `dist` and updates `dist/index.html`.
pub fn minify(dist: &Path) -> Result<(), String> {
    let read = |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()));
    let write =
        |path: &Path, text: &str| std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()));
    let entries = std::fs::read_dir(dist).map_err(|e| format!("reading {}: {e}", dist.display()))?;
    let scripts: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "js"))
        .collect();
    let [glue] = &scripts[..] else {
        return Err(format!("expected one .js file in {}, found {}", dist.display(), scripts.len()));
    };
    let source = read(glue)?;
    let small = minify_module(&source).map_err(|e| format!("{}: {e}", glue.display()))?;
    let index_path = dist.join("index.html");
    let index = read(&index_path)?;
    let (old, new) = (integrity(source.as_bytes()), integrity(small.as_bytes()));
    if index.matches(&old).count() != 1 {
        return Err(format!("{} does not name {} by its hash once", index_path.display(), glue.display()));
    }
    write(glue, &small)?;
    write(&index_path, &index.replace(&old, &new))
}

/// The glue, minified, its default export kept.
fn minify_module(source: &str) -> Result<String, String> {
    if source.matches(DEFAULT_EXPORT).count() != 1 {
        return Err(format!("the glue's default export is no longer `{DEFAULT_EXPORT}`: see xtask/src/glue.rs"));
    }
    let parsable = source.replace(DEFAULT_EXPORT, &format!("__wbg_init as {STAND_IN}"));
    let session = minify_js::Session::new();
    let mut out = Vec::new();
    minify_js::minify(&session, minify_js::TopLevelMode::Module, parsable.as_bytes(), &mut out)
        .map_err(|e| format!("minify-js: {e:?}"))?;
    let out = String::from_utf8(out).map_err(|e| format!("minify-js wrote non-UTF-8: {e}"))?;
    if out.matches(STAND_IN).count() != 1 {
        return Err("minify-js renamed the default export".into());
    }
    Ok(out.replace(STAND_IN, "default"))
}

/// Subresource integrity, as trunk writes it.
fn integrity(bytes: &[u8]) -> String {
    format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLUE: &str = "let wasm;\nfunction __wbg_init(module_or_path) {\n    const imports = { answer: () => 42 };\n    return imports;\n}\nfunction initSync(module) {\n    return __wbg_init(module);\n}\nexport { initSync, __wbg_init as default };\n";

    #[test]
    fn the_glue_shrinks_and_keeps_its_default_export() {
        let small = minify_module(GLUE).unwrap();
        assert!(small.len() < GLUE.len(), "{small}");
        assert!(small.contains(" as default}") && small.contains(" as initSync"), "{small}");
        assert!(!small.contains(STAND_IN));
    }

    #[test]
    fn the_page_names_the_minified_glue_by_its_new_hash() {
        let dist = std::env::temp_dir().join(format!("moim-glue-{}", std::process::id()));
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("frontend-1.js"), GLUE).unwrap();
        let page = format!(r#"<link href=/frontend-1.js integrity={} rel=modulepreload>"#, integrity(GLUE.as_bytes()));
        std::fs::write(dist.join("index.html"), page).unwrap();
        minify(&dist).unwrap();
        let small = std::fs::read(dist.join("frontend-1.js")).unwrap();
        let page = std::fs::read_to_string(dist.join("index.html")).unwrap();
        assert!(page.contains(&integrity(&small)), "{page}");
        // A page whose hash does not match is an error, not a silent skip.
        std::fs::write(dist.join("frontend-1.js"), GLUE).unwrap();
        assert!(minify(&dist).is_err());
        std::fs::remove_dir_all(&dist).unwrap();
    }

    #[test]
    fn an_unexpected_default_export_is_an_error() {
        assert!(minify_module("export default function f() {}").is_err());
    }
}
