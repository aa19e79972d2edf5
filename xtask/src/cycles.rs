//! No import cycles between a crate's top-level modules (issue 21): each
//! shared name lives where both sides can take it from below. Read from the
//! source text, so the check needs no compiler: `crate::x` paths and
//! `use crate::{x, y::z}` groups, outside tests and comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Fails with the first cycle found in each crate's `src` folder (relative to the workspace).
pub fn check(src_dirs: &[&str]) -> Result<(), String> {
    let mut found = vec![];
    for dir in src_dirs {
        if let Some(path) = cycle(&graph(&crate::root().join(dir))?) {
            found.push(format!("{dir}: {}", path.join(" → ")));
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!("import cycles between modules: {}", found.join("; ")))
    }
}

/// Each top-level module (a file or a folder of `src`) and the modules it names.
fn graph(src: &Path) -> Result<Graph, String> {
    let mut graph = Graph::new();
    for file in rust_files(src)? {
        let rel = file.strip_prefix(src).map_err(|e| e.to_string())?;
        let top = rel.components().next().map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned());
        let Some(top) = top.filter(|t| t != "lib" && t != "main") else { continue };
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        graph.entry(top.clone()).or_default().extend(named_modules(&text).into_iter().filter(|m| *m != top));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    graph.values_mut().for_each(|deps| deps.retain(|d| modules.contains(d)));
    Ok(graph)
}

fn rust_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut files = vec![];
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(files)
}

/// The first segment of every `crate::` path in `text` (before its tests).
fn named_modules(text: &str) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => named.extend(group_heads(group)),
            None => {
                named.insert(ident(rest));
            }
        }
    }
    named.remove("");
    named
}

/// The first identifier of each item of a `{a, b::c, d::{e, f}}` group (after its `{`).
fn group_heads(group: &str) -> Vec<String> {
    let (mut heads, mut depth, mut item_start) = (vec![], 0, true);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && depth == 0 && !c.is_whitespace() => {
                heads.push(ident(&group[i..]));
                item_start = false;
            }
            _ => {}
        }
    }
    heads
}

fn ident(text: &str) -> String {
    text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// A path that comes back to where it began, if any.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn walk(graph: &Graph, node: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        let found = graph.get(node).into_iter().flatten().find_map(|next| walk(graph, next, path, done));
        path.pop();
        found
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| walk(graph, node, &mut vec![], &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_groups_name_their_first_segment_outside_tests_and_comments() {
        let text = "use crate::a::X;\nuse crate::{b, c::{D, E}, d::F};\n// crate::e\nfn f() { crate::g::h(); }\n\
                    #[cfg(test)]\nuse crate::t;";
        assert_eq!(named_modules(text), ["a", "b", "c", "d", "g"].map(String::from).into());
    }

    #[test]
    fn a_cycle_is_found_and_a_chain_is_not() {
        let graph = |edges: &[(&str, &str)]| {
            let mut g = Graph::new();
            for (from, to) in edges {
                g.entry(from.to_string()).or_default().insert(to.to_string());
                g.entry(to.to_string()).or_default();
            }
            g
        };
        assert_eq!(cycle(&graph(&[("a", "b"), ("b", "c")])), None);
        assert_eq!(
            cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "b")])),
            Some(vec!["b".into(), "c".into(), "b".into()])
        );
    }
}
