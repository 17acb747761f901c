//! The upgrade-safety cycle through the installer engine, for one platform: install the current
//! package, check every file against the manifest; upgrade to the next version, check again and
//! that the old product is gone; try the older package again (refused, nothing touched);
//! uninstall (nothing left, product gone). Each step keeps the log lines that show what happened.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use super::{
    engine::{Call, Engine},
    log,
    manifest::{self, SetPackage},
    products::{self, Product},
};

/// One step of the cycle as the table shows it.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    /// The msiexec call (e.g. `/i archway-0.2.0.0-x64.msi`).
    pub call: String,
    pub expected: &'static str,
    pub observed: String,
    pub passed: bool,
    /// Log lines and facts that show the outcome.
    pub evidence: Vec<String>,
}

/// Runs the cycle from `old` to `new` with `engine`. `wow64`: the host is 64-bit Windows (two
/// Program Files folders). Stops after the first step that fails: the later ones would only
/// repeat it.
pub fn run(engine: &Engine, old: &SetPackage, new: &SetPackage, wow64: bool) -> Result<Vec<Step>> {
    let drive_c = engine.host().drive_c();
    let folder = manifest::folder(&new.entry)?;
    let mut steps = Vec::new();
    steps.push(prepare(engine, &new.product, &folder)?);

    // 1. Install the current version.
    let call = engine.install(&old.msi, &format!("install {}", old.version), &[])?;
    let mut step = from_call("install", &call, "exit 0, manifest files, product listed", &old.entry.msi.file);
    if call.succeeded() {
        let mut problems = manifest::compare(&drive_c, &old.entry.files, wow64);
        problems.extend(extra_files(engine, &folder, old, wow64)?);
        problems.extend(listed_exactly(engine, &new.product, &[&old.entry.product_code])?);
        step.evidence.push(iis_registration(&call));
        finish(
            &mut step,
            problems,
            format!("{} files match; {} listed", old.entry.files.len(), old.entry.product_code),
        );
    }
    if !record(&mut steps, step) {
        return Ok(steps);
    }

    // 2. Major upgrade to the next version.
    let call = engine.install(&new.msi, &format!("upgrade to {}", new.version), &[])?;
    let mut step = from_call("upgrade", &call, "exit 0, new files only, old product gone", &new.entry.msi.file);
    if call.succeeded() {
        let mut problems = manifest::compare(&drive_c, &new.entry.files, wow64);
        problems.extend(versions(new));
        problems.extend(extra_files(engine, &folder, new, wow64)?);
        problems.extend(listed_exactly(engine, &new.product, &[&new.entry.product_code])?);
        step.evidence.extend(log::lines_mentioning(&call.log, "Found application", 4));
        step.evidence.extend(log::action_lines(&call.log, "RemoveExistingProducts"));
        step.evidence.extend(log::lines_mentioning(&call.log, "_OLDER_FOUND =", 2));
        finish(
            &mut step,
            problems,
            format!("{} files at {}; {} gone", new.entry.files.len(), new.version, old.entry.product_code),
        );
    }
    if !record(&mut steps, step) {
        return Ok(steps);
    }

    // 3. The older package again: a downgrade, refused by its launch condition.
    let before = manifest::tree(&drive_c, &folder)?;
    let call = engine.install(&old.msi, &format!("downgrade to {}", old.version), &[])?;
    let mut step = from_call("downgrade", &call, "refused, nothing touched", &old.entry.msi.file);
    step.observed = format!("refused: {}", call.code());
    let mut problems = Vec::new();
    if call.succeeded() {
        problems.push(format!(
            "msiexec accepted the older package {}; archway must refuse a downgrade",
            old.entry.msi.file
        ));
    }
    let after = manifest::tree(&drive_c, &folder)?;
    problems.extend(changed(&before, &after));
    problems.extend(listed_exactly(engine, &new.product, &[&new.entry.product_code])?);
    step.evidence.extend(log::lines_mentioning(&call.log, "Found application", 4));
    step.evidence.extend(log::lines_mentioning(&call.log, "_NEWER_FOUND =", 2));
    step.evidence.extend(log::action_lines(&call.log, "LaunchConditions"));
    step.evidence.push(format!("verbose log: {}", call.log_path.display()));
    finish(&mut step, problems, format!("refused ({}), {} files untouched", call.code(), after.len()));
    if !record(&mut steps, step) {
        return Ok(steps);
    }

    // 4. Uninstall.
    let call = engine.uninstall(&new.entry.product_code, &format!("uninstall {}", new.version))?;
    let mut step =
        from_call("uninstall", &call, "exit 0, no file left, product gone", &format!("/x {}", new.entry.product_code));
    step.call = format!("/x {}", new.entry.product_code);
    if call.succeeded() {
        let left: Vec<String> =
            manifest::tree(&drive_c, &folder)?.into_keys().map(|p| format!("C:\\{p} is left behind")).collect();
        let mut problems = left;
        problems.extend(listed_exactly(engine, &new.product, &[])?);
        step.evidence.extend(log::action_lines(&call.log, "RemoveFiles"));
        finish(&mut step, problems, "no file left, no product listed".to_string());
    }
    record(&mut steps, step);
    Ok(steps)
}

/// Removes what an earlier, interrupted run left in the prefix: products named `product` and the
/// product's folders.
fn prepare(engine: &Engine, product: &str, folder: &str) -> Result<Step> {
    let mut step = Step {
        name: "prepare".into(),
        call: "-".into(),
        expected: "no earlier install in the prefix",
        observed: "clean".into(),
        passed: true,
        evidence: Vec::new(),
    };
    for left in products::installed(engine.host())?.into_iter().filter(|p| p.name == product) {
        let call = engine.uninstall(&left.code, &format!("remove leftover {}", left.version))?;
        step.evidence.push(format!("removed {} {} left by an earlier run ({})", left.code, left.version, call.code()));
        step.call = format!("/x {}", left.code);
    }
    let drive_c = engine.host().drive_c();
    for program_files in ["Program Files", "Program Files (x86)"] {
        let dir = drive_c.join(program_files).join(folder);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| anyhow::anyhow!("cannot empty {} before the cycle: {e}", dir.display()))?;
            step.evidence.push(format!("removed files left in C:\\{program_files}\\{folder}"));
        }
    }
    if !step.evidence.is_empty() {
        step.observed = "cleaned".into();
    }
    Ok(step)
}

fn from_call(name: &str, call: &Call, expected: &'static str, what: &str) -> Step {
    let verb = if call.command.contains(" /x ") { "/x" } else { "/i" };
    let mut step = Step {
        name: name.into(),
        call: format!("{verb} {what}"),
        expected,
        observed: format!("exit {}", call.code()),
        passed: call.succeeded(),
        evidence: Vec::new(),
    };
    if !call.succeeded() && name != "downgrade" {
        step.evidence.extend(call.explain().lines().map(str::to_string));
    }
    step
}

fn finish(step: &mut Step, problems: Vec<String>, good: String) {
    step.passed = problems.is_empty();
    if step.passed {
        step.observed = good;
    } else {
        step.observed = format!("{} problem(s)", problems.len());
        step.evidence.splice(0..0, problems);
    }
}

/// Adds the step; whether the cycle goes on.
fn record(steps: &mut Vec<Step>, step: Step) -> bool {
    let passed = step.passed;
    steps.push(step);
    passed
}

/// Files in the product's folders that the package does not list.
fn extra_files(engine: &Engine, folder: &str, set: &SetPackage, wow64: bool) -> Result<Vec<String>> {
    let drive_c = engine.host().drive_c();
    let expected: BTreeSet<String> = set
        .entry
        .files
        .iter()
        .map(|f| {
            manifest::host_path(&drive_c, &f.install_path, wow64)
                .strip_prefix(&drive_c)
                .unwrap_or(&drive_c)
                .to_string_lossy()
                .replace('/', "\\")
        })
        .collect();
    Ok(manifest::tree(&drive_c, folder)?
        .into_keys()
        .filter(|p| !expected.contains(p))
        .map(|p| format!("C:\\{p} is not in the {} package (left from an earlier version?)", set.version))
        .collect())
}

/// Every file's VERSIONINFO in the manifest is the set's version (a new build, not a stale one).
fn versions(set: &SetPackage) -> Vec<String> {
    set.entry
        .files
        .iter()
        .filter(|f| f.version.as_deref().is_some_and(|v| v != set.version))
        .map(|f| format!("C:\\{} has file version {:?} in the {} manifest", f.install_path, f.version, set.version))
        .collect()
}

/// The products named `product` are exactly `codes`.
fn listed_exactly(engine: &Engine, product: &str, codes: &[&str]) -> Result<Vec<String>> {
    let listed: Vec<Product> = products::installed(engine.host())?.into_iter().filter(|p| p.name == product).collect();
    let mut problems = Vec::new();
    for p in &listed {
        if !codes.iter().any(|c| c.eq_ignore_ascii_case(&p.code)) {
            problems.push(format!("installed-products list still has {} {} {}", p.name, p.version, p.code));
        }
    }
    for code in codes {
        if !listed.iter().any(|p| p.code.eq_ignore_ascii_case(code)) {
            problems.push(format!("installed-products list lacks {code}"));
        }
    }
    Ok(problems)
}

fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, sha) in before {
        match after.get(path) {
            None => out.push(format!("C:\\{path} disappeared")),
            Some(now) if now != sha => out.push(format!("C:\\{path} changed")),
            Some(_) => {}
        }
    }
    out.extend(after.keys().filter(|p| !before.contains_key(*p)).map(|p| format!("C:\\{p} appeared")));
    out
}

/// What the log shows of archway's IIS registration: its custom actions are conditioned on
/// AppSearch finding appcmd.exe (`ARCHWAY_APPCMD`), which a host without IIS does not have.
pub fn iis_registration(call: &Call) -> String {
    let ran: Vec<String> =
        log::started_actions(&call.log).into_iter().filter(|a| a.starts_with("ArchwayIis")).collect();
    let found = log::property(&call.log, "ARCHWAY_APPCMD");
    match (found, ran.is_empty()) {
        (None, true) => "IIS registration skipped as designed: AppSearch set no ARCHWAY_APPCMD (no appcmd.exe), so no ArchwayIis* custom action started".to_string(),
        (Some(appcmd), _) => format!("IIS registration: AppSearch found appcmd at {appcmd}; custom actions started: {}", ran.join(", ")),
        (None, false) => format!("IIS registration: custom actions started without appcmd found: {}", ran.join(", ")),
    }
}

/// The step table.
pub fn render(title: &str, steps: &[Step]) -> String {
    let mut rows = vec![[
        "step".to_string(),
        "msiexec".to_string(),
        "expected".to_string(),
        "observed".to_string(),
        "result".to_string(),
    ]];
    for s in steps {
        rows.push([
            s.name.clone(),
            s.call.clone(),
            s.expected.to_string(),
            s.observed.clone(),
            if s.passed { "ok" } else { "FAILED" }.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..5).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = format!("{title}\n");
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            out.push('\n');
        }
    }
    for s in steps.iter().filter(|s| !s.evidence.is_empty()) {
        out.push_str(&format!("{}:\n", s.name));
        for line in &s.evidence {
            out.push_str(&format!("  {}\n", line.trim_start()));
        }
    }
    out
}
