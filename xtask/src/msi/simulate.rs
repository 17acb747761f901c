//! The major-upgrade simulator of docs/msi.md §2.8: install the old package on a clean machine, then
//! run the new one under its own RemoveExistingProducts schedule with Windows Installer's File
//! Versioning Rules (§2.1) and per-GUID reference counting (§2.2), and report the final file set
//! — path, version, which product wrote it — and every path missing or stale afterwards.
//! Assumptions: all features installed, every component's condition true, default
//! REINSTALLMODE, no user-modified files, no SharedDLLs counts. (Only the shared
//! `httpplatform_schema.xml` sets attribute 8; between two archway versions its count goes 1 -> 0
//! -> 1 under the early schedule, which changes nothing here. What conditions and counts do with
//! HttpPlatformHandler on the machine is `scenario.rs`'s subject.)

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::{
    finding::{Finding, Rule},
    ids::braced,
    view::{PackageView, Schedule, ViewFile, dotted, parse_version},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Product {
    Old,
    New,
}

/// One file on the simulated disk after the upgrade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskFile {
    pub path: String,
    pub version: Option<[u16; 4]>,
    pub md5: [u8; 16],
    pub language: Option<String>,
    /// Which product's bytes these are.
    pub writer: Product,
}

#[derive(Clone, Debug)]
pub struct Simulation {
    pub schedule: Schedule,
    pub old_version: String,
    pub new_version: String,
    /// The final installed files, by path.
    pub files: Vec<DiskFile>,
    /// What happened to each path, in order (for reports).
    pub log: Vec<String>,
    pub findings: Vec<Finding>,
}

struct Machine {
    disk: BTreeMap<String, DiskFile>,
    clients: BTreeMap<Uuid, BTreeSet<Product>>,
    log: Vec<String>,
}

fn entry(file: &ViewFile, writer: Product) -> DiskFile {
    DiskFile {
        path: file.path.clone(),
        version: file.version.as_deref().and_then(parse_version),
        md5: file.payload.as_ref().map(|p| p.md5).unwrap_or_default(),
        language: file.language.clone(),
        writer,
    }
}

/// Simulates upgrading an installed `old` with `new` (both assumed to be the same product; the
/// lint reports otherwise). A package without RemoveExistingProducts is simulated as late.
pub fn major_upgrade(old: &PackageView, new: &PackageView) -> Simulation {
    let schedule = new.removal_schedule().unwrap_or(Schedule::Late);
    let mut machine = Machine { disk: BTreeMap::new(), clients: BTreeMap::new(), log: Vec::new() };
    for file in &old.files {
        machine.disk.insert(file.path_key(), entry(file, Product::Old));
    }
    for guid in old.files.iter().filter_map(|f| f.component_guid) {
        machine.clients.entry(guid).or_default().insert(Product::Old);
    }
    match schedule {
        Schedule::Early => {
            machine.remove(old, Product::Old);
            machine.install(new);
        }
        Schedule::Late => {
            machine.install(new);
            machine.remove(old, Product::Old);
        }
    }
    let findings = report(old, new, &machine, schedule);
    let label = |v: &PackageView| v.product_version().map(dotted).unwrap_or_else(|| "?".into());
    Simulation {
        schedule,
        old_version: label(old),
        new_version: label(new),
        files: machine.disk.into_values().collect(),
        log: machine.log,
        findings,
    }
}

impl Machine {
    /// Step 6: the new product's components gain their client, RemoveFile (install mode) runs,
    /// then each file meets the File Versioning Rules against what is on disk.
    fn install(&mut self, new: &PackageView) {
        for guid in new.files.iter().filter_map(|f| f.component_guid) {
            self.clients.entry(guid).or_default().insert(Product::New);
        }
        self.remove_file_rows(new, &[1, 3]);
        for file in &new.files {
            let incoming = entry(file, Product::New);
            let key = file.path_key();
            let decision = match self.disk.get(&key) {
                None => Some("copied (nothing there)"),
                Some(disk) => match (disk.version, incoming.version) {
                    (Some(d), Some(n)) if n > d => Some("copied (higher version)"),
                    (Some(d), Some(n)) if n == d && disk.language.is_none() && incoming.language.is_some() => {
                        Some("copied (same version, only the new one has a language)")
                    }
                    (Some(_), Some(_)) => None,
                    (Some(_), None) => None,
                    (None, Some(_)) => Some("copied (versioned replaces unversioned)"),
                    (None, None) if disk.md5 != incoming.md5 => Some("copied (unversioned, hash differs)"),
                    (None, None) => None,
                },
            };
            match decision {
                Some(why) => {
                    self.log.push(format!("install new: {} {why}", file.path));
                    self.disk.insert(key, incoming);
                }
                None => {
                    let disk = &self.disk[&key];
                    let show = |v: Option<[u16; 4]>| v.map_or("unversioned".to_string(), dotted);
                    self.log.push(format!(
                        "install new: {} kept on disk ({} on disk, {} incoming)",
                        file.path,
                        show(disk.version),
                        show(incoming.version)
                    ));
                }
            }
        }
    }

    /// Step 7: the product's components lose their client; a component left without clients
    /// has its files deleted, whoever wrote the bytes last.
    fn remove(&mut self, view: &PackageView, product: Product) {
        let mut orphaned = BTreeSet::new();
        for file in &view.files {
            let Some(guid) = file.component_guid else { continue }; // unmanaged: never removed
            if let Some(clients) = self.clients.get_mut(&guid) {
                clients.remove(&product);
                if clients.is_empty() {
                    orphaned.insert(guid);
                }
            }
        }
        for file in &view.files {
            let Some(guid) = file.component_guid else { continue };
            if orphaned.contains(&guid) {
                if self.disk.remove(&file.path_key()).is_some() {
                    self.log.push(format!(
                        "remove old: {} deleted (component {} has no other client)",
                        file.path,
                        braced(guid)
                    ));
                }
            } else {
                self.log.push(format!("remove old: {} left (component {} is still used)", file.path, braced(guid)));
            }
        }
        self.remove_file_rows(view, &[2, 3]);
    }

    /// RemoveFile rows with one of `modes` delete matching names in their folder.
    fn remove_file_rows(&mut self, view: &PackageView, modes: &[i32]) {
        for row in view.database.rows("RemoveFile").filter(|r| r.int("InstallMode").is_some_and(|m| modes.contains(&m)))
        {
            let folder =
                view.files.iter().find(|f| f.component == row.string("Component_")).map(|f| f.folder.to_lowercase());
            let (Some(folder), Some(pattern)) = (folder, row.str("FileName")) else { continue };
            let pattern = super::ids::long_name(pattern).to_lowercase();
            let doomed: Vec<String> = self
                .disk
                .keys()
                .filter(|k| k.rsplit_once('\\').is_some_and(|(d, n)| d == folder && wildcard(&pattern, n)))
                .cloned()
                .collect();
            for key in doomed {
                self.log.push(format!("RemoveFile {}: {} deleted", row.string("FileKey"), self.disk[&key].path));
                self.disk.remove(&key);
            }
        }
    }
}

/// `*` and `?` as in RemoveFile.FileName. Greedy with one backtrack point (the last `*`), so a
/// pattern of many stars costs at most pattern × name steps, never exponential time.
pub(crate) fn wildcard(pattern: &str, name: &str) -> bool {
    let (pattern, name): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut p, mut n) = (0, 0);
    // (pattern index after the last `*`, name index it was tried at)
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((after, tried)) => {
                    p = after;
                    n = tried + 1;
                    star = Some((after, tried + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Step 8: new files missing or not at the new version/hash; old files left behind.
fn report(old: &PackageView, new: &PackageView, machine: &Machine, schedule: Schedule) -> Vec<Finding> {
    let when = match schedule {
        Schedule::Early => "RemoveExistingProducts runs before InstallFiles",
        Schedule::Late => "RemoveExistingProducts runs after InstallFiles",
    };
    let mut out = Vec::new();
    for file in &new.files {
        let want = entry(file, Product::New);
        match machine.disk.get(&file.path_key()) {
            None => {
                let old_guid =
                    old.files.iter().find(|o| o.path_key() == file.path_key()).and_then(|o| o.component_guid);
                let why = match old_guid {
                    Some(g) if Some(g) != file.component_guid => format!(
                        "the old product's component {} (a different GUID) lost its last client and its removal deleted the file",
                        braced(g)
                    ),
                    _ => "the old product's removal deleted it".to_string(),
                };
                out.push(Finding::error(
                    Rule::PathRemovedByUpgrade,
                    Some(&file.path),
                    format!("missing after the simulated upgrade: {why} ({when}; docs/msi.md §2.3)"),
                ));
            }
            Some(disk) if disk.md5 != want.md5 || disk.version != want.version => {
                let show = |v: Option<[u16; 4]>| v.map_or("unversioned".to_string(), dotted);
                out.push(Finding::error(Rule::PathStaleAfterUpgrade, Some(&file.path), format!(
                    "after the simulated upgrade it holds the {} product's bytes ({}) instead of the new {}: the File Versioning Rules kept the file on disk (docs/msi.md §2.1)",
                    if disk.writer == Product::Old { "old" } else { "new" }, show(disk.version), show(want.version)
                )));
            }
            Some(_) => {}
        }
    }
    let owned: BTreeSet<String> = new.files.iter().map(ViewFile::path_key).collect();
    for disk in machine.disk.iter().filter(|(k, _)| !owned.contains(*k)).map(|(_, d)| d) {
        out.push(Finding::warning(
            Rule::PathLeftBehind,
            Some(&disk.path),
            "an old file the new package does not own stays on disk after the simulated upgrade",
        ));
    }
    out
}
