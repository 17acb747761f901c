//! The `// slot N` comments (in ahadmin.h a bare `// N` after a declaration) of our
//! hand-written IIS interfaces (`native/include/archway/*.h`)
//! checked against the MSVC vtable layout clang computes (`-Xclang -fdump-vtable-layouts`,
//! x86 and x64): the worker stand-in derives from the same headers, so a slot mistake would
//! cancel out in every other test (docs/iis.md §4.2 for the overload rule that makes them subtle).

mod support;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use support::*;

/// The MSVC targets whose layouts are compared (ARM64 and ARM64EC share x64's layout rules).
const TARGETS: [&str; 2] = ["i686-pc-windows-msvc", "x86_64-pc-windows-msvc"];
const CLANG_DEADLINE: Duration = Duration::from_secs(120);

/// One `// slot N` comment: where it is, the class and method it belongs to, and the method's
/// parameter types with spaces removed and ` const` for a const method (None for a
/// macro-declared method).
#[derive(Clone, Debug)]
struct SlotComment {
    header: String,
    line: usize,
    class: String,
    method: String,
    params: Option<String>,
    slot: usize,
}

/// One vtable entry as clang prints it: the slot, the method name and its parameter types
/// with spaces removed (and ` const` for a const method).
#[derive(Debug, PartialEq)]
struct Entry {
    slot: usize,
    method: String,
    params: String,
}

/// The number after `// slot ` at the start of a comment, if the comment is a slot comment.
fn slot_number(comment: &str) -> Option<usize> {
    let rest = comment.trim_start().strip_prefix("slot ")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Does this line start a method declaration (`virtual …` or one of the headers' own
/// declaration macros, `ARCHWAY_DEFAULT_…(name, …)`)?
fn starts_declaration(code: &str) -> bool {
    let code = code.trim_start();
    !code.starts_with('#') && (code.starts_with("virtual ") || (code.starts_with("ARCHWAY_") && code.contains('(')))
}

/// The code of a line without its `//` comment.
fn code_of(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

/// The text between the parenthesis at `open` and its match, and the text after the match.
fn parenthesized(text: &str, open: usize) -> Option<(&str, &str)> {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&text[open + 1..open + i], &text[open + i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// `" const"` when the text after a method's parameter list makes it a const method (overloads
/// may differ only in that: `GetRawHttpRequest()` and `GetRawHttpRequest() const`).
fn qualifier(after_params: &str) -> &'static str {
    if after_params.trim_start().starts_with("const") { " const" } else { "" }
}

/// `PCSTR pszName, DWORD* pcch = nullptr` → `PCSTR,DWORD*`: parameter types as clang prints
/// them, with spaces removed.
fn param_types(list: &str) -> String {
    let mut types = Vec::new();
    for param in
        list.split(',').map(|p| p.split('=').next().unwrap_or("").trim()).filter(|p| !p.is_empty() && *p != "void")
    {
        let tokens: Vec<&str> = param.split_whitespace().collect();
        let named = tokens.len() >= 2
            && tokens.last().is_some_and(|t| t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let kept = if named { &tokens[..tokens.len() - 1] } else { &tokens[..] };
        types.push(kept.concat());
    }
    types.join(",")
}

/// Name and parameter types of the declaration in `text` (the declaration's lines joined).
fn declared(text: &str) -> Option<(String, Option<String>)> {
    let text = text.trim_start();
    if let Some(rest) = text.strip_prefix("virtual ") {
        let rest = rest.replace("STDMETHODCALLTYPE ", "");
        let rest = rest.as_str();
        let open = rest.find('(')?;
        let name = rest[..open]
            .trim_end()
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '~'))
            .next()?
            .to_string();
        let (params, after) = parenthesized(rest, open)?;
        return Some((name, Some(format!("{}{}", param_types(params), qualifier(after)))));
    }
    let open = text.find('(')?;
    let (args, _) = parenthesized(text, open)?;
    Some((args.split(',').next()?.trim().to_string(), None))
}

/// Every slot comment of a header: a trailing `// slot N` belongs to the declaration that ends
/// on its line; a comment line starting `// slot N` to the next declaration.
fn slot_comments(header: &str, text: &str) -> Result<Vec<SlotComment>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut class = None;
    for (i, line) in lines.iter().enumerate() {
        let code = code_of(line);
        if let Some(rest) =
            code.trim_start().strip_prefix("class ").or_else(|| code.trim_start().strip_prefix("struct "))
            && code.contains('{')
        {
            class = rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().map(str::to_string);
        }
        let Some(comment) = line.find("//").map(|at| &line[at + 2..]) else { continue };
        // `// slot N`, or (ahadmin.h's form) a bare `// N` ending a declaration's line.
        let bare = comment.trim();
        let slot = match slot_number(comment) {
            Some(n) => n,
            None if !code.trim().is_empty() && !bare.is_empty() && bare.chars().all(|c| c.is_ascii_digit()) => {
                match bare.parse() {
                    Ok(n) => n,
                    Err(_) => continue,
                }
            }
            None => continue,
        };
        let where_ = format!("{header}:{}", i + 1);
        if slot_number(comment).is_none()
            && !(0..=i)
                .rev()
                .take_while(|&j| j == i || !code_of(lines[j]).contains(';'))
                .any(|j| starts_declaration(code_of(lines[j])))
        {
            continue; // a bare number that ends no declaration is not a slot comment
        }
        let (first, last) = if code.trim().is_empty() {
            // A comment line: the next declaration, its lines up to the one ending it.
            let first = (i + 1..lines.len())
                .find(|&j| starts_declaration(code_of(lines[j])))
                .ok_or_else(|| format!("{where_}: `// slot {slot}` is followed by no declaration"))?;
            let last = (first..lines.len())
                .find(|&j| {
                    code_of(lines[j]).contains(';')
                        || code_of(lines[j]).contains('}')
                        || code_of(lines[j]).trim_end().ends_with(')') && lines[j].contains("ARCHWAY_")
                })
                .unwrap_or(first);
            (first, last)
        } else {
            let first = (0..=i)
                .rev()
                .find(|&j| starts_declaration(code_of(lines[j])))
                .ok_or_else(|| format!("{where_}: `// slot {slot}` ends no declaration"))?;
            (first, i)
        };
        let joined: String = lines[first..=last].iter().map(|l| code_of(l)).collect::<Vec<_>>().join(" ");
        let (method, params) = declared(&joined)
            .ok_or_else(|| format!("{where_}: cannot read the method that `// slot {slot}` belongs to"))?;
        let class = class.clone().ok_or_else(|| format!("{where_}: `// slot {slot}` is outside a class"))?;
        found.push(SlotComment { header: header.to_string(), line: i + 1, class, method, params, slot });
    }
    Ok(found)
}

/// The vtable of each class as clang's MSVC layout dump prints it: the first table whose most
/// derived class is that class, and in it the entries the class itself declares.
fn dumped_layouts(dump: &str) -> BTreeMap<String, Vec<Entry>> {
    let mut layouts: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in dump.lines() {
        if let Some(rest) = line.strip_prefix("VFTable for '") {
            // `VFTable for 'C' (N entries).`, `VFTable for 'Base' in 'C' (N entries).` or, deeper,
            // `VFTable for 'Base' in 'Middle' in 'C' (N entries).`: the table is C's (the last name).
            let names: Vec<&str> = rest.split('\'').collect();
            let class = names.len().checked_sub(2).and_then(|i| names.get(i));
            current = class.map(|c| c.to_string()).filter(|c| !layouts.contains_key(c));
            if let Some(c) = &current {
                layouts.insert(c.clone(), Vec::new());
            }
            continue;
        }
        if line.trim().is_empty() || line.starts_with("VFTable indices") {
            current = None;
            continue;
        }
        let Some(class) = &current else { continue };
        let Some((slot, signature)) = line.split_once(" | ") else { continue };
        let Ok(slot) = slot.trim().parse::<usize>() else { continue };
        let qualified = format!("{class}::");
        let Some(at) = signature.find(&qualified) else { continue };
        let after = &signature[at + qualified.len()..];
        let Some(open) = after.find('(') else { continue };
        let (list, rest) = parenthesized(after, open).unwrap_or(("", ""));
        let params = list.split_whitespace().collect::<String>();
        let params = format!("{}{}", if params == "void" { "" } else { &params }, qualifier(rest));
        layouts.get_mut(class).expect("inserted above").push(Entry { slot, method: after[..open].to_string(), params });
    }
    layouts
}

/// Each slot comment that disagrees with `layouts`, as a message naming header, line, method,
/// the comment's slot and the real one.
fn disagreements(comments: &[SlotComment], layouts: &BTreeMap<String, Vec<Entry>>, target: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for c in comments {
        let at = format!("{}:{}: {}::{}", c.header, c.line, c.class, c.method);
        let Some(entries) = layouts.get(&c.class) else {
            problems.push(format!("{at}: clang printed no vtable for {} ({target})", c.class));
            continue;
        };
        let named: Vec<&Entry> = entries.iter().filter(|e| e.method == c.method).collect();
        let candidates: Vec<&Entry> = match &c.params {
            Some(params) if named.len() > 1 => named.iter().copied().filter(|e| &e.params == params).collect(),
            _ => named,
        };
        match candidates.as_slice() {
            [entry] if entry.slot == c.slot => {}
            [entry] => problems.push(format!(
                "{at}({}): the comment says slot {}, clang's {target} layout has it in slot {}",
                entry.params, c.slot, entry.slot
            )),
            [] => problems.push(format!("{at}: no such method in clang's {target} vtable of {}", c.class)),
            several => problems.push(format!(
                "{at}: {} overloads in clang's {target} vtable and the comment's declaration does not say which",
                several.len()
            )),
        }
    }
    problems
}

/// The headers with slot comments, as (name relative to the include folder, text).
fn headers(include: &Path) -> Vec<(String, String)> {
    let dir = include.join("archway");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "h"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let slots = text.contains("// slot ")
                || text.lines().any(|l| {
                    l.trim_start().starts_with("virtual ")
                        && l.rsplit("//").next().is_some_and(|c| c.trim().parse::<usize>().is_ok())
                });
            slots.then(|| (format!("archway/{}", p.file_name().unwrap().to_string_lossy()), text))
        })
        .collect();
    found.sort();
    found
}

/// A translation unit that includes `headers` and makes clang lay out the vtable of every class
/// with slot comments: a derived class whose constructor is defined needs the base's vftable.
fn translation_unit(headers: &[(String, String)], classes: &[String]) -> String {
    let mut tu = String::from("// Generated by xtask/tests/abi_layout.rs.\n");
    for (name, _) in headers {
        tu.push_str(&format!("#include \"{name}\"\n"));
    }
    for class in classes {
        tu.push_str(&format!("struct ArchwayProbe_{class} : {class} {{ ArchwayProbe_{class}(); }};\nArchwayProbe_{class}::ArchwayProbe_{class}() {{}}\n"));
    }
    tu
}

fn clang() -> Option<PathBuf> {
    let out = xtask(&repo_root(), &["toolchain", "which", "clang"]);
    if !out.status.success() {
        missing(
            &format!("clang ({})", stderr(&out).trim()),
            "install clang-19 (apt-get install clang-19) or run `cargo xtask toolchain install`",
        );
        return None;
    }
    Some(PathBuf::from(stdout(&out).trim()))
}

/// clang's MSVC vtable layouts for `target` of the classes in `headers` (from `include`).
fn layouts(
    clang: &Path,
    include: &Path,
    headers: &[(String, String)],
    classes: &[String],
    target: &str,
) -> BTreeMap<String, Vec<Entry>> {
    let dir = tempfile::tempdir().unwrap();
    let tu = dir.path().join("abi_layout.cpp");
    std::fs::write(&tu, translation_unit(headers, classes)).unwrap();
    let out = output_within(
        Command::new(clang)
            .arg(format!("--target={target}"))
            .args([
                "-std=c++17",
                "-ffreestanding",
                "-fno-exceptions",
                "-fno-rtti",
                "-Xclang",
                "-fdump-vtable-layouts",
                "-S",
                "-o",
            ])
            .arg(dir.path().join("abi_layout.s"))
            .arg("-I")
            .arg(include)
            .arg(&tu),
        CLANG_DEADLINE,
    );
    assert!(
        out.status.success(),
        "clang --target={target} on the generated translation unit failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dumped_layouts(&String::from_utf8_lossy(&out.stdout))
}

/// Every problem of the headers under `include`, for both targets.
fn check(clang: &Path, include: &Path) -> Vec<String> {
    let headers = headers(include);
    assert!(!headers.is_empty(), "no header under {} has `// slot N` comments", include.display());
    let mut comments = Vec::new();
    for (name, text) in &headers {
        comments.extend(slot_comments(&format!("native/include/{name}"), text).unwrap_or_else(|e| panic!("{e}")));
    }
    let mut classes: Vec<String> = comments.iter().map(|c| c.class.clone()).collect();
    classes.sort();
    classes.dedup();
    println!(
        "{} slot comments in {} classes of {} header(s), against {}",
        comments.len(),
        classes.len(),
        headers.len(),
        TARGETS.join(" and ")
    );
    TARGETS
        .iter()
        .flat_map(|target| disagreements(&comments, &layouts(clang, include, &headers, &classes, target), target))
        .collect()
}

#[test]
fn every_slot_comment_is_the_slot_clang_gives_the_method() {
    let Some(clang) = clang() else { return };
    let include = repo_root().join("native").join("include");
    let problems = check(&clang, &include);
    assert!(
        problems.is_empty(),
        "{} slot comment(s) disagree with clang's MSVC vtable layout:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The check can fail: a copy of the headers with two slot comments swapped is reported twice
/// per target, naming both methods.
#[test]
fn a_swapped_slot_comment_is_reported() {
    let Some(clang) = clang() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let include = scratch.path().join("include");
    std::fs::create_dir_all(include.join("archway")).unwrap();
    for entry in std::fs::read_dir(repo_root().join("native").join("include").join("archway")).unwrap().flatten() {
        std::fs::copy(entry.path(), include.join("archway").join(entry.file_name())).unwrap();
    }
    let path = include.join("archway").join("httpserv.h");
    let text = std::fs::read_to_string(&path).unwrap();
    let get_request = "virtual IHttpRequest* GetRequest() = 0;                              // slot 3";
    let get_response = "virtual IHttpResponse* GetResponse() = 0;                            // slot 4";
    assert!(
        text.contains(get_request) && text.contains(get_response),
        "the IHttpContext lines this test swaps changed; update the test"
    );
    let swapped = text
        .replace(get_request, "@REQUEST@")
        .replace(get_response, &get_response.replace("slot 4", "slot 3"))
        .replace("@REQUEST@", &get_request.replace("slot 3", "slot 4"));
    std::fs::write(&path, swapped).unwrap();
    let problems = check(&clang, &include);
    assert_eq!(problems.len(), 2 * TARGETS.len(), "{problems:#?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("IHttpContext::GetRequest") && p.contains("says slot 4") && p.contains("in slot 3")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("IHttpContext::GetResponse") && p.contains("says slot 3") && p.contains("in slot 4")),
        "{problems:#?}"
    );
}

#[test]
fn declarations_and_dumps_are_read_as_clang_prints_them() {
    let header = "class IX {\npublic:\n    // slot 2: the destructor\n    virtual ~IX() {}\n    virtual HRESULT Get(PCSTR pszName, PCWSTR* ppsz,\n                        DWORD* pcch) = 0;  // slot 1\n    ARCHWAY_DEFAULT_X(OnThing, (IA*))  // slot 0\n};\n";
    let comments = slot_comments("x.h", header).unwrap();
    let read: Vec<(usize, &str, &str, Option<&str>, usize)> =
        comments.iter().map(|c| (c.line, c.class.as_str(), c.method.as_str(), c.params.as_deref(), c.slot)).collect();
    assert_eq!(
        read,
        [
            (3, "IX", "~IX", Some(""), 2),
            (6, "IX", "Get", Some("PCSTR,PCWSTR*,DWORD*"), 1),
            (7, "IX", "OnThing", None, 0)
        ]
    );
    let dump = "VFTable for 'IX' (3 entries).\n   0 | GLOBAL_NOTIFICATION_STATUS IX::OnThing(IA *)\n   1 | HRESULT IX::Get(PCSTR, PCWSTR *, DWORD *) [pure]\n   2 | IX::~IX() [vector deleting]\n\nVFTable for 'IX' in 'ArchwayProbe_IX' (3 entries).\n   0 | x\n";
    let layouts = dumped_layouts(dump);
    assert_eq!(layouts["IX"][1], Entry { slot: 1, method: "Get".into(), params: "PCSTR,PCWSTR*,DWORD*".into() });
    assert!(disagreements(&comments, &layouts, "t").is_empty());

    // ahadmin.h's form: a bare `// N` after a declaration counts; one after anything else not.
    let com = "enum E {\n    A = 1,  // 4\n};\nclass IC : public IUnknown {\npublic:\n    virtual HRESULT STDMETHODCALLTYPE get_Item(VARIANT cIndex,\n                                               IX** pp) = 0;  // 4\n};\n";
    let comments = slot_comments("c.h", com).unwrap();
    let read: Vec<(usize, &str, &str, Option<&str>, usize)> =
        comments.iter().map(|c| (c.line, c.class.as_str(), c.method.as_str(), c.params.as_deref(), c.slot)).collect();
    assert_eq!(read, [(7, "IC", "get_Item", Some("VARIANT,IX**"), 4)]);
    let layouts = dumped_layouts(
        "VFTable for 'IUnknown' in 'IC' (5 entries).\n   0 | HRESULT IUnknown::QueryInterface(const IID &, void **)\n   3 | HRESULT IC::get_Count(DWORD *)\n   4 | HRESULT IC::get_Item(VARIANT, IX **)\n",
    );
    assert!(disagreements(&comments, &layouts, "t").is_empty());
    let wrong = SlotComment { slot: 3, ..comments[0].clone() };
    assert_eq!(
        disagreements(&[wrong], &layouts, "t"),
        ["c.h:7: IC::get_Item(VARIANT,IX**): the comment says slot 3, clang's t layout has it in slot 4"]
    );
}
