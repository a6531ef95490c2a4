//! The module check: reads every file of this crate and fails on a cycle between files or
//! between top-level modules, and on an import that goes up the layer table below. It is a
//! unit test, so `make test` (and `cargo nextest run -p userhub`) runs it; ARCHITECTURE.md,
//! "Layers", draws the same table.
//!
//! An edge is a path that names another module: `crate::a::b`, `super::x` (resolved from the
//! file, and from an inline `mod tests` one level deeper), and in a folder's `mod.rs` a path
//! through one of its own child modules. A folder's re-exports of its children (`pub use
//! child::X`) are its facade, not a dependency, and are not edges. Comments are skipped.

use std::collections::{BTreeMap, BTreeSet};

/// The layers, bottom to top: a module may import its own layer and the layers below it.
/// A module belongs to the layer of its longest listed prefix.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &["domain"]),
    ("config", &["config"]),
    (
        "foundation",
        &["faults", "telemetry", "sdk_http", "secrets"],
    ),
    ("store", &["store"]),
    (
        "primitives",
        &[
            "mail",
            "auth",
            "cursor",
            "auth::passwords",
            "auth::tokens",
            "auth::api_keys",
        ],
    ),
    ("error", &["error"]),
    ("app", &["app"]),
    (
        "flows",
        &["accounts", "users", "jobs", "export", "import", "check"],
    ),
    ("http", &["http"]),
    ("lambda", &["lambda"]),
];

/// The store is a layer of its own that may import only these, not the foundation below
/// it: it classifies its own SDK errors and takes its settings from `config`.
const STORE_MAY_IMPORT: &[&str] = &["domain", "config", "store"];

/// One file: its module path (`store::users`; `store` for `store/mod.rs`) and its code.
struct File {
    module: String,
    code: String,
    /// The modules it declares with `mod x;` (a folder's `mod.rs`).
    children: BTreeSet<String>,
    /// Byte ranges of inline modules (`mod tests { ... }`), where `super` is one level deeper.
    inline: Vec<(usize, usize)>,
}

impl File {
    fn new(path: &str, text: &str) -> Self {
        let code = strip_comments(text);
        let children = code
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l
                    .strip_prefix("pub(crate) ")
                    .or_else(|| l.strip_prefix("pub "))
                    .unwrap_or(l);
                l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
            })
            .collect();
        Self {
            module: module_of(path),
            children,
            inline: inline_modules(&code),
            code,
        }
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Problem {
    /// A cycle between files (modules), as the path around it.
    FileCycle(Vec<String>),
    /// A cycle between top-level modules.
    ModuleCycle(Vec<String>),
    /// `from` imports `to`, which sits in a higher layer (or outside what the store may use).
    Upward { from: String, to: String },
}

/// The module a file path (relative to `src/`) defines.
fn module_of(path: &str) -> String {
    let path = path.trim_end_matches(".rs");
    let path = path.strip_suffix("/mod").unwrap_or(path);
    path.replace('/', "::")
}

/// The code without comments (string literals of ours never hold `//` next to a path).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Byte ranges of the inline modules that start at the beginning of a line and end at the
/// next line that is a lone `}`.
fn inline_modules(code: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    let mut open = None;
    for line in code.split_inclusive('\n') {
        let trimmed = line.trim_end();
        let starts_module = ["mod ", "pub mod ", "pub(crate) mod "]
            .iter()
            .any(|p| trimmed.starts_with(p))
            && trimmed.ends_with('{');
        if open.is_none() && starts_module {
            open = Some(offset);
        } else if trimmed == "}" {
            if let Some(start) = open.take() {
                ranges.push((start, offset));
            }
        }
        offset += line.len();
    }
    ranges
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths a `use` tree or expression path starting at `text` names, as segment lists
/// relative to where it starts (`{a, b::c}` gives `[a]` and `[b, c]`; `*` and `self` add
/// nothing to the prefix).
fn paths_at(text: &str) -> Vec<Vec<String>> {
    let mut rest = text;
    let mut prefix = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            return split_top_level(&group[..end])
                .into_iter()
                .flat_map(paths_at)
                .map(|tail| prefix.iter().cloned().chain(tail).collect())
                .collect();
        }
        let len = rest.find(|c| !is_ident(c)).unwrap_or(rest.len());
        let ident = &rest[..len];
        if !ident.is_empty() && ident != "self" {
            prefix.push(ident.to_owned());
        }
        match rest[len..].strip_prefix("::") {
            Some(next) if !ident.is_empty() => rest = next,
            _ => return vec![prefix],
        }
    }
}

/// The items of a `use` group, split at its top-level commas.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items.into_iter().filter(|i| !i.trim().is_empty()).collect()
}

/// Whether `keyword` at byte `at` of `code` starts a path (not the tail of another one).
fn starts_path(code: &str, at: usize) -> bool {
    !code[..at].ends_with(|c: char| is_ident(c) || c == ':' || c == '$')
}

/// Every module path `file` names, absolute from the crate root (unresolved tails included).
fn referenced(file: &File) -> Vec<Vec<String>> {
    let code = &file.code;
    let own: Vec<&str> = file.module.split("::").collect();
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if starts_path(code, at) {
            found.extend(paths_at(&code[at + "crate::".len()..]));
        }
    }
    for (at, _) in code.match_indices("super::") {
        if !starts_path(code, at) {
            continue;
        }
        let mut rest = &code[at..];
        let mut ups = 0;
        while let Some(next) = rest.strip_prefix("super::") {
            ups += 1;
            rest = next;
        }
        let inline = file.inline.iter().any(|&(s, e)| s <= at && at < e);
        // A folder's `mod.rs` is the folder's module: its `super` is the folder's parent.
        let depth = (own.len() + usize::from(inline)).saturating_sub(ups);
        let base: Vec<String> = own[..depth.min(own.len())]
            .iter()
            .map(|s| s.to_string())
            .collect();
        found.extend(
            paths_at(rest)
                .into_iter()
                .map(|tail| base.iter().cloned().chain(tail).collect()),
        );
    }
    for line in code.lines() {
        let line = line.trim_start();
        let reexport = line.starts_with("pub use ") || line.starts_with("pub(crate) use ");
        let Some(tree) = line.strip_prefix("use ") else {
            continue;
        };
        if reexport {
            continue;
        }
        for path in paths_at(tree) {
            if path.first().is_some_and(|p| file.children.contains(p)) {
                found.push(own.iter().map(|s| s.to_string()).chain(path).collect());
            }
        }
    }
    found
}

/// The layer of a module: the index of its longest listed prefix in `LAYERS`.
fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, (_, prefixes))| prefixes.iter().map(move |p| (i, *p)))
        .filter(|(_, p)| module == *p || module.starts_with(&format!("{p}::")))
        .max_by_key(|(_, p)| p.len())
        .map(|(i, _)| i)
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// Checks a crate given as (path under `src/`, text) pairs; `lib.rs` is the root and only
/// declares modules, so it is left out.
pub(crate) fn check(sources: &[(String, String)]) -> Vec<Problem> {
    let files: Vec<File> = sources
        .iter()
        .filter(|(path, _)| path != "lib.rs")
        .map(|(path, text)| File::new(path, text))
        .collect();
    let modules: BTreeSet<&str> = files.iter().map(|f| f.module.as_str()).collect();
    let roots = root_reexports(sources);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let targets = edges.entry(file.module.clone()).or_default();
        for path in referenced(file) {
            if let Some(to) = resolve(&path, &modules, &roots) {
                if to != file.module {
                    targets.insert(to);
                }
            }
        }
    }
    let mut problems = upward(&edges);
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &edges {
        let targets = tops.entry(top(from).to_owned()).or_default();
        targets.extend(
            tos.iter()
                .map(|t| top(t).to_owned())
                .filter(|t| t != top(from)),
        );
    }
    problems.extend(cycles(edges).into_iter().map(Problem::FileCycle));
    problems.extend(cycles(tops).into_iter().map(Problem::ModuleCycle));
    problems
}

/// What `lib.rs` re-exports at the root (`pub use app::{AppState, Ctx}`): name to module.
fn root_reexports(sources: &[(String, String)]) -> BTreeMap<String, String> {
    let Some((_, lib)) = sources.iter().find(|(path, _)| path == "lib.rs") else {
        return BTreeMap::new();
    };
    strip_comments(lib)
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("pub use "))
        .flat_map(paths_at)
        .filter_map(|path| {
            let (name, module) = path.split_last()?;
            Some((name.clone(), module.join("::")))
        })
        .collect()
}

/// The module a path lands in: its longest prefix that is a file of the crate.
fn resolve(
    path: &[String],
    modules: &BTreeSet<&str>,
    roots: &BTreeMap<String, String>,
) -> Option<String> {
    if let Some(module) = path.first().and_then(|name| roots.get(name)) {
        return Some(module.clone());
    }
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m.as_str()))
}

fn upward(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (from, tos) in edges {
        for to in tos {
            let up = match (layer_of(from), layer_of(to)) {
                (Some(a), Some(b)) => b > a,
                _ => false,
            };
            let store_escape = top(from) == "store" && !STORE_MAY_IMPORT.contains(&top(to));
            if up || store_escape {
                problems.push(Problem::Upward {
                    from: from.clone(),
                    to: to.clone(),
                });
            }
        }
    }
    problems
}

/// Cycles of the graph, each as the nodes around it (first repeated at the end): one, then
/// another once an edge of the first is taken out, until none is left, so that a failure
/// lists every tangle rather than the first.
fn cycles(mut edges: BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    while let Some(cycle) = find_cycle(&edges) {
        if let Some(targets) = edges.get_mut(&cycle[0]) {
            targets.remove(&cycle[1]);
        }
        found.push(cycle);
    }
    found
}

/// A cycle of the graph, as the nodes around it (first repeated at the end), if any.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<&'a str>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    fn read_crate() -> Vec<(String, String)> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("src is readable") {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let name = path.strip_prefix(&src).expect("under src");
                    let text = std::fs::read_to_string(&path).expect("source is readable");
                    found.push((name.to_string_lossy().replace('\\', "/"), text));
                }
            }
        }
        found
    }

    #[test]
    fn the_crate_has_no_cycles_and_no_upward_imports() {
        let problems = check(&read_crate());
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn catches_cycles_and_upward_imports() {
        let problems = check(&sources(&[
            ("lib.rs", "pub use error::Error;"),
            ("error.rs", "use crate::domain::Email;"),
            ("domain/mod.rs", "pub mod user;\npub use user::Email;"),
            ("domain/user.rs", "use super::input::{Changes, FieldError};"),
            (
                "domain/input.rs",
                "fn f() -> crate::Error { super::user::x() }",
            ),
            ("store/mod.rs", "mod keys;\nuse keys::profile;"),
            ("store/keys.rs", "use crate::faults::is_unavailable;"),
            ("faults.rs", ""),
        ]));
        assert_eq!(
            problems,
            vec![
                Problem::Upward {
                    from: "domain::input".into(),
                    to: "error".into()
                },
                Problem::Upward {
                    from: "store::keys".into(),
                    to: "faults".into()
                },
                Problem::FileCycle(vec![
                    "domain::input".into(),
                    "domain::user".into(),
                    "domain::input".into()
                ]),
                Problem::ModuleCycle(vec!["domain".into(), "error".into(), "domain".into()]),
            ]
        );
    }

    #[test]
    fn reads_groups_super_chains_and_test_modules() {
        let file = File::new(
            "store/tx.rs",
            "use super::{keys, item::{n, s}};\nmod tests {\n    use super::super::key;\n}\n",
        );
        let paths: Vec<String> = referenced(&file).iter().map(|p| p.join("::")).collect();
        assert_eq!(
            paths,
            [
                "store::keys",
                "store::item::n",
                "store::item::s",
                "store::key"
            ]
        );
    }
}
