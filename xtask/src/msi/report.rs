//! What `cargo xtask msi-check NEW.msi [--previous OLD.msi]` (and `dist --previous`) runs and
//! prints: the lint alone, the lint against the previous package, the simulated upgrade.

use std::{fmt::Write as _, path::Path};

use anyhow::{Result, bail};

use super::{
    check::lint,
    compare::compare,
    finding::{Finding, Rule, Severity},
    ids::braced,
    read::read_msi,
    simulate::{Product, Simulation, major_upgrade},
    view::{PackageView, Schedule, dotted},
};

#[derive(Clone, Debug)]
pub struct CheckReport {
    pub package: String,
    pub previous: Option<String>,
    pub findings: Vec<Finding>,
    pub simulation: Option<Simulation>,
    /// The schema scenarios with HttpPlatformHandler (`scenario.rs`), when the package has them.
    pub scenarios: Vec<super::scenario::Outcome>,
}

impl CheckReport {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Warning).count()
    }

    /// Findings one per line, then the simulated upgrade's final file set, then a count.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            let _ = writeln!(out, "{finding}");
        }
        if let Some(sim) = &self.simulation {
            let schedule = match sim.schedule {
                Schedule::Early => "early: the old product is removed before files are installed",
                Schedule::Late => "late: files are installed before the old product is removed",
            };
            let _ = writeln!(
                out,
                "simulated major upgrade {} -> {} (RemoveExistingProducts {schedule}):",
                sim.old_version, sim.new_version
            );
            if !sim.findings.is_empty() {
                // How each path got where it is, to explain the findings above.
                for line in &sim.log {
                    let _ = writeln!(out, "  | {line}");
                }
            }
            let width = sim.files.iter().map(|f| f.path.len()).max().unwrap_or(0);
            for file in &sim.files {
                let version = file.version.map_or("unversioned".to_string(), dotted);
                let writer = match file.writer {
                    Product::Old => format!("old {}", sim.old_version),
                    Product::New => format!("new {}", sim.new_version),
                };
                let _ = writeln!(out, "  {:width$}  {version:<13}  {writer}", file.path);
            }
        }
        if !self.scenarios.is_empty() {
            let _ = writeln!(
                out,
                "schema scenarios (IIS, with and without HttpPlatformHandler's httpplatform_schema.xml):"
            );
            for outcome in &self.scenarios {
                let result = outcome.failure.as_ref().map_or("ok".to_string(), |why| format!("FAILED: {why}"));
                let _ = writeln!(out, "  {:<62} {result}", outcome.name);
            }
        }
        let against = self.previous.as_ref().map(|p| format!(" (as an upgrade of {p})")).unwrap_or_default();
        let _ = write!(out, "{}{against}: {} error(s), {} warning(s)", self.package, self.errors(), self.warnings());
        out
    }
}

/// Lints `new` alone, or against `previous` with the simulated upgrade. Unreadable input and a
/// previous package of another product are errors, not findings.
pub fn check_files(new: &Path, previous: Option<&Path>) -> Result<CheckReport> {
    let new_view = PackageView::from_read(&read_msi(new)?);
    let old_view = match previous {
        Some(path) => {
            let old = PackageView::from_read(&read_msi(path)?);
            if old.upgrade_code() != new_view.upgrade_code() {
                let show = |v: &PackageView| v.upgrade_code().map_or("none".to_string(), braced);
                bail!(
                    "{} is a package of another product (UpgradeCode {}; {} has {}): --previous must be an earlier release of the same platform's package",
                    path.display(),
                    show(&old),
                    new.display(),
                    show(&new_view)
                );
            }
            Some(old)
        }
        None => None,
    };
    Ok(check_views(&new_view, old_view.as_ref()))
}

/// The same on views already in memory.
pub fn check_views(new: &PackageView, previous: Option<&PackageView>) -> CheckReport {
    let mut findings = lint(new);
    let mut simulation = None;
    if let Some(old) = previous {
        let compared = compare(old, new);
        let other_product = compared.iter().any(|f| f.rule == Rule::UpgradeCodeDiffers);
        findings.extend(compared);
        if !other_product {
            let sim = major_upgrade(old, new);
            findings.extend(sim.findings.iter().cloned());
            simulation = Some(sim);
        }
    }
    let (scenarios, failed) = super::scenario::run(new, previous);
    findings.extend(failed);
    findings.sort_by(|a, b| (a.severity, &a.path, a.rule.id()).cmp(&(b.severity, &b.path, b.rule.id())));
    CheckReport {
        package: new.source.clone(),
        previous: previous.map(|p| p.source.clone()),
        findings,
        simulation,
        scenarios,
    }
}
