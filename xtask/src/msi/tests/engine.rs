//! The lint's seeded upgrade faults replayed through an installer engine nobody here wrote
//! (Wine's msiexec): a changed component GUID and an unversioned DLL at the shim's path, each
//! with archway's early RemoveExistingProducts (after InstallInitialize) and with a late one
//! (after InstallFinalize, as the ASP.NET Core Module's installer has it). The test-only pairs
//! are written from the fixture packages; the outcome per fault and schedule is asserted as
//! measured and printed with the log lines that show it.

use std::path::{Path, PathBuf};

use msi::Value;
use uuid::Uuid;

use super::fixture::{self, AMD64, package};
use crate::msi::finding::Rule;
use crate::{
    installer::{Engine, log, products},
    msi::{InstallDir, Package, Platform, check_files, plan, to_bytes},
    winhost::{WindowsHost, wine::HostWine},
};

const SHIM: &str = r"Program Files\Archway\archway.dll";
/// After InstallFinalize (6600): WiX's `afterInstallFinalize`, the ANCM installers' schedule.
const LATE: i32 = 6601;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// The shim's component gets a new GUID at the same path (lint: component-guid-changed).
    ChangedGuid,
    /// The new shim has no VERSIONINFO, as the first Arm64X forwarders had (lint: unversioned-pe,
    /// versioned-to-unversioned); the x64 package stands in, since Wine on x86_64 refuses Arm64.
    Unversioned,
    /// Both at once: the dotnet/aspnetcore#60764 forwarder (a new component, no VERSIONINFO).
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Schedule {
    Early,
    Late,
}

/// What the upgrade left at the shim's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Missing,
    /// The old product's bytes: the new file was not copied.
    Stale,
    New,
}

fn write(pkg: &Package, dir: &Path, name: &str, seed: impl FnOnce(&mut crate::msi::Database)) -> PathBuf {
    let mut plan = plan(pkg).unwrap();
    seed(&mut plan.database);
    // Every variant is its own package (a package code names exactly one file).
    plan.summary.package_code = Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes());
    let path = dir.join(name);
    std::fs::write(&path, to_bytes(&plan).unwrap()).unwrap();
    path
}

/// The new package of a replay: version 1.3 with `fault`, RemoveExistingProducts per `schedule`.
fn faulty(dir: &Path, fault: Fault, schedule: Schedule) -> (PathBuf, Vec<u8>) {
    let mut pkg = package(Platform::X64, [1, 3, 0, 0]);
    if matches!(fault, Fault::Unversioned | Fault::Both) {
        fixture::replace(&mut pkg, InstallDir::ProgramFiles64, "archway.dll", fixture::dll(AMD64, false, None));
    }
    let shim = fixture::shim64(&pkg);
    let name = format!("archway-1.3.0.0-x64-{fault:?}-{schedule:?}.msi").to_lowercase();
    let path = write(&pkg, dir, &name, |db| {
        if matches!(fault, Fault::ChangedGuid | Fault::Both) {
            fixture::change_shim64_guid(db);
        }
        if schedule == Schedule::Late {
            assert_eq!(
                db.set("InstallExecuteSequence", "Action", "RemoveExistingProducts", "Sequence", Value::Int(LATE)),
                1
            );
        }
    });
    (path, shim)
}

/// What Windows Installer does per docs/msi.md §2.3 (documented, not measured here).
fn windows_would(fault: Fault, schedule: Schedule) -> Outcome {
    match (fault, schedule) {
        (_, Schedule::Early) => Outcome::New,
        (Fault::ChangedGuid | Fault::Both, Schedule::Late) => Outcome::Missing,
        (Fault::Unversioned, Schedule::Late) => Outcome::Stale,
    }
}

/// Wine's verbose log names no file decision; its msi.dll trace does: the copy decision for the
/// 64-bit shim, its component's clients, and what the old product's removal did with the file.
fn decisions(trace: &str) -> Vec<String> {
    let shim = "L\"pf64_archway.dll\"";
    let path = "Program Files\\\\Archway\\\\archway.dll";
    trace
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let about_shim = l.contains(shim) || l.contains(path);
            let decision = [
                "calculate_install_state",
                "cabinet_copy_file",
                "ACTION_ProcessComponents",
                "disallowing",
                "nobody wants",
                "DeleteFile",
                "delete",
            ]
            .iter()
            .any(|d| l.contains(d));
            (about_shim && decision && !l.contains("not scheduled for install")) || l.contains("not removing file")
        })
        .map(|(i, l)| format!("trace {}: {}", i + 1, l.split_once("trace:msi:").map_or(l, |(_, rest)| rest).trim_end()))
        .collect()
}

struct Replay {
    fault: Fault,
    schedule: Schedule,
    outcome: Outcome,
    rule_named: bool,
    evidence: Vec<String>,
}

fn replay(engine: &Engine, dir: &Path, old: &Path, old_shim: &[u8], fault: Fault, schedule: Schedule) -> Replay {
    let host = engine.host();
    let (new, new_shim) = faulty(dir, fault, schedule);
    let rules: &[Rule] = match fault {
        Fault::ChangedGuid => &[Rule::ComponentGuidChanged],
        Fault::Unversioned => &[Rule::VersionedToUnversioned],
        Fault::Both => &[Rule::ComponentGuidChanged, Rule::VersionedToUnversioned],
    };
    let report = check_files(&new, Some(old)).unwrap().render();
    let label = format!("{fault:?} {schedule:?}");
    let install = engine.install(old, &format!("install 1.2 for {label}"), &[]).unwrap();
    assert!(install.succeeded(), "{}", install.explain());
    let upgrade = engine.install(&new, &format!("upgrade {label}"), &[]).unwrap();
    assert!(
        upgrade.succeeded(),
        "the faulty upgrade itself must succeed (the hazard is silent):\n{}",
        upgrade.explain()
    );
    let shim = host.drive_c().join("Program Files/Archway/archway.dll");
    let outcome = match std::fs::read(&shim) {
        Err(_) => Outcome::Missing,
        Ok(bytes) if bytes == new_shim => Outcome::New,
        Ok(bytes) if bytes == old_shim => Outcome::Stale,
        Ok(_) => panic!("{label}: C:\\{SHIM} holds bytes of neither package"),
    };
    let mut evidence = log::action_lines(&upgrade.log, "RemoveExistingProducts");
    evidence.extend(decisions(&std::fs::read_to_string(upgrade.log_path.with_extension("trace")).unwrap_or_default()));
    let listed: Vec<String> = products::installed(host)
        .unwrap()
        .into_iter()
        .filter(|p| p.name == "Archway")
        .map(|p| format!("{} {}", p.version, p.code))
        .collect();
    evidence.push(format!("installed products after the upgrade: {}", listed.join(", ")));
    evidence.push(format!(
        "lint ({}): {}",
        rules.iter().map(|r| r.id()).collect::<Vec<_>>().join(", "),
        report
            .lines()
            .filter(|l| rules.iter().any(|r| l.contains(r.id())))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    // Leave the prefix clean for the next replay.
    for p in products::installed(host).unwrap().into_iter().filter(|p| p.name == "Archway") {
        let call = engine.uninstall(&p.code, &format!("clean up after {label}")).unwrap();
        assert!(call.succeeded(), "{}", call.explain());
    }
    for folder in ["Program Files/Archway", "Program Files (x86)/Archway"] {
        let _ = std::fs::remove_dir_all(host.drive_c().join(folder));
    }
    Replay { fault, schedule, outcome, rule_named: rules.iter().all(|r| report.contains(r.id())), evidence }
}

#[test]
fn seeded_upgrade_faults_through_wines_msiexec() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return;
    }
    let Some(wine) = fixture::wine() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let host = HostWine::open(&wine, &scratch.path().join("prefix")).unwrap();
    let engine = Engine::new(&host, &scratch.path().join("logs")).unwrap().with_trace();
    let old_pkg = package(Platform::X64, [1, 2, 0, 0]);
    let old_shim = fixture::shim64(&old_pkg);
    let old = write(&old_pkg, scratch.path(), "archway-1.2.0.0-x64.msi", |_| {});

    let mut replays = Vec::new();
    for fault in [Fault::ChangedGuid, Fault::Unversioned, Fault::Both] {
        for schedule in [Schedule::Early, Schedule::Late] {
            replays.push(replay(&engine, scratch.path(), &old, &old_shim, fault, schedule));
        }
    }
    println!("seeded faults upgraded 1.2 -> 1.3 by Wine's msiexec ({}), C:\\{SHIM} afterwards:", host.describe());
    println!("{:<12} {:<9} {:<9} {:<18} lint names the rule", "fault", "schedule", "Wine", "Windows (docs/msi.md)");
    for r in &replays {
        let windows = windows_would(r.fault, r.schedule);
        let note = if r.outcome == windows { "" } else { "  <- Wine differs" };
        println!(
            "{:<12} {:<9} {:<9} {:<18} {}{note}",
            format!("{:?}", r.fault),
            format!("{:?}", r.schedule),
            format!("{:?}", r.outcome),
            format!("{windows:?}"),
            r.rule_named
        );
        for line in &r.evidence {
            println!("    {}", line.trim_start());
        }
    }
    for r in &replays {
        assert!(r.rule_named, "{:?} {:?}: the lint did not name the rule", r.fault, r.schedule);
    }
    let measured: Vec<(Fault, Schedule, Outcome)> = replays.iter().map(|r| (r.fault, r.schedule, r.outcome)).collect();
    assert_eq!(
        measured,
        [
            (Fault::ChangedGuid, Schedule::Early, Outcome::New),
            // Wine keeps the file: its RemoveFiles spares a file whose version on disk is newer
            // than the removing product's File.Version ("newer version detected, not removing
            // file"); Windows Installer deletes it (docs/msi.md §2.3).
            (Fault::ChangedGuid, Schedule::Late, Outcome::New),
            (Fault::Unversioned, Schedule::Early, Outcome::New),
            // Wine copies an unversioned file over a versioned one whose size differs; Windows
            // Installer keeps the versioned file (docs/msi.md §2.1), leaving the old bytes.
            (Fault::Unversioned, Schedule::Late, Outcome::New),
            (Fault::Both, Schedule::Early, Outcome::New),
            // The dotnet/aspnetcore#60764 combination: Wine deletes the DLL as Windows does.
            (Fault::Both, Schedule::Late, Outcome::Missing),
        ],
        "what Wine's msiexec did per fault and schedule (see the table above)"
    );
    let reproduced: Vec<String> = replays
        .iter()
        .filter(|r| r.outcome == Outcome::Missing)
        .map(|r| format!("{:?} {:?}", r.fault, r.schedule))
        .collect();
    println!(
        "the missing-DLL hazard reproduced by Wine's engine: {}; the early schedule upgraded cleanly in every case",
        reproduced.join(", ")
    );
}
