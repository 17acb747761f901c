//! The schema scenarios: archway's package on a machine with IIS, with and without
//! HttpPlatformHandler v1.2, whose installer puts its own `httpplatform_schema.xml` (its own
//! component GUID, no SharedDLLs attribute) into the same IIS schema folder (README,
//! "Configuration schema"). Each scenario is a sequence of installs and uninstalls simulated with
//! Windows Installer's rules as docs/msi.md states them: AppSearch before RemoveExistingProducts
//! (§1.5), component conditions, File Versioning Rules for unversioned files (§2.1), per-GUID
//! clients, and the SharedDLLs count of a key file (§2.2: kept by components with attribute 8,
//! and by any component whose key file already has a count). [UNCERTAIN] the SharedDLLs rules
//! come from the documentation (docs/msi.md §7); the Windows jobs check the count
//! (tests/msi_install.rs).

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::{
    finding::{Finding, Rule},
    iis_schema::SHARED_DLL_REF_COUNT,
    model::HPH_SCHEMA,
    view::{PackageView, ViewFile},
};

/// Who installed a component or wrote a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Old,
    New,
    Hph,
}

/// HttpPlatformHandler's component as the scenarios model it (a GUID of its own; the real one is
/// whatever its MSI says, which only matters by being different from archway's).
const HPH_GUID: Uuid = Uuid::from_u128(0x4850_4800_0000_4000_8000_0000_0000_0012);
const HPH_BYTES: [u8; 16] = *b"HttpPlatformV1.2";

#[derive(Default)]
struct Machine {
    /// path key -> (md5 of the bytes, who wrote them)
    disk: BTreeMap<String, ([u8; 16], Owner)>,
    clients: BTreeMap<Uuid, BTreeSet<Owner>>,
    shared_dlls: BTreeMap<String, u32>,
    /// What each product installed: (GUID, key path).
    installed: BTreeMap<Owner, Vec<(Uuid, String)>>,
}

/// One step of a scenario.
#[derive(Clone, Copy)]
enum Step<'a> {
    Install(&'a PackageView, Owner),
    /// A major upgrade of the installed old version by this view.
    Upgrade(&'a PackageView),
    Remove(Owner),
    InstallHph,
}

/// One scenario's outcome, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub name: &'static str,
    /// `None` when every expectation holds.
    pub failure: Option<String>,
}

/// Every scenario for `new` (and the upgrade ones from `old`), when the package installs a
/// `httpplatform_schema.xml` into full IIS's schema folder; otherwise none.
pub fn run(new: &PackageView, old: Option<&PackageView>) -> (Vec<Outcome>, Vec<Finding>) {
    let Some(ours) = new.files.iter().find(|f| is_iis_hph(f)) else { return (Vec::new(), Vec::new()) };
    let path = ours.path_key();
    let fresh_bytes = ours.payload.as_ref().map(|p| p.md5).unwrap_or_default();
    use Step::*;
    let present = |m: &Machine| m.disk.get(&path).map(|(_, w)| *w);
    let mut outcomes = Vec::new();
    let mut check = |name: &'static str, steps: &[Step], expect: &dyn Fn(&Machine) -> Option<String>| {
        let mut m = Machine::default();
        for step in steps {
            match *step {
                Install(view, owner) => m.install(view, owner),
                Upgrade(view) => m.upgrade(view),
                Remove(owner) => m.remove(owner),
                InstallHph => m.install_hph(&path),
            }
        }
        outcomes.push(Outcome { name, failure: expect(&m) });
    };
    let is = |want: Option<Owner>, m: &Machine, what: &str| {
        let got = present(m);
        (got != want).then(|| format!("{HPH_SCHEMA} should be {what}, but it is {}", describe(got)))
    };
    let kept = |m: &Machine| {
        present(m).is_none().then(|| format!("{HPH_SCHEMA} should stay for HttpPlatformHandler, but it was deleted"))
    };
    let ours_new = Install(new, Owner::New);
    check("fresh install", &[ours_new], &|m| {
        is(Some(Owner::New), m, "archway's copy").or_else(|| {
            m.disk
                .get(&path)
                .is_some_and(|(md5, _)| *md5 != fresh_bytes)
                .then(|| "archway's copy with other bytes than the package's".into())
        })
    });
    check("install over HttpPlatformHandler", &[InstallHph, ours_new], &|m| {
        is(Some(Owner::Hph), m, "HttpPlatformHandler's copy, untouched")
    });
    check("uninstall, HttpPlatformHandler installed first", &[InstallHph, ours_new, Remove(Owner::New)], &|m| {
        is(Some(Owner::Hph), m, "HttpPlatformHandler's copy, still there")
    });
    check("uninstall, HttpPlatformHandler installed after", &[ours_new, InstallHph, Remove(Owner::New)], &kept);
    check("HttpPlatformHandler removed, archway stays", &[ours_new, InstallHph, Remove(Owner::Hph)], &|m| {
        present(m).is_none().then(|| format!("{HPH_SCHEMA} should stay for archway, but it was deleted"))
    });
    check("both removed", &[ours_new, InstallHph, Remove(Owner::New), Remove(Owner::Hph)], &|m| {
        present(m).map(|w| format!("{HPH_SCHEMA} is left behind ({}) after both products are gone", describe(Some(w))))
    });
    if let Some(old) = old.filter(|o| o.files.iter().any(is_iis_hph)) {
        let ours_old = Install(old, Owner::Old);
        check("upgrade", &[ours_old, Upgrade(new)], &|m| is(Some(Owner::New), m, "the new version's copy"));
        check(
            "upgrade, HttpPlatformHandler installed after the old version",
            &[ours_old, InstallHph, Upgrade(new), Remove(Owner::New)],
            &kept,
        );
        check("upgrade over HttpPlatformHandler", &[InstallHph, ours_old, Upgrade(new)], &|m| {
            is(Some(Owner::Hph), m, "HttpPlatformHandler's copy, untouched")
        });
    }
    let findings = outcomes
        .iter()
        .filter_map(|o| {
            let why = o.failure.as_ref()?;
            Some(Finding::error(
                Rule::SchemaScenario,
                Some(&ours.path),
                format!("scenario \"{}\": {why} (README, \"Configuration schema\")", o.name),
            ))
        })
        .collect();
    (outcomes, findings)
}

fn describe(owner: Option<Owner>) -> &'static str {
    match owner {
        None => "missing",
        Some(Owner::Hph) => "HttpPlatformHandler's copy",
        Some(_) => "archway's copy",
    }
}

fn is_iis_hph(file: &ViewFile) -> bool {
    file.is_schema()
        && file.name.eq_ignore_ascii_case(HPH_SCHEMA)
        && matches!(file.root.as_str(), "System64Folder" | "SystemFolder")
}

impl Machine {
    /// AppSearch on this machine (IIS and cscript present, IIS Express absent), then each
    /// component's condition.
    fn properties(&self, view: &PackageView) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for row in view.database.rows("AppSearch") {
            let (property, signature) = (row.string("Property"), row.string("Signature_"));
            let found = if let Some(locator) = view.database.find("CompLocator", "Signature_", &signature) {
                let guid = super::ids::parse_guid(&locator.string("ComponentId"));
                guid.is_some_and(|g| self.clients.get(&g).is_some_and(|c| !c.is_empty()))
            } else {
                let name = view
                    .database
                    .find("Signature", "Signature", &signature)
                    .map(|s| s.string("FileName"))
                    .unwrap_or_default();
                let name = super::ids::long_name(&name).to_lowercase();
                let folder = view
                    .database
                    .find("DrLocator", "Signature_", &signature)
                    .map(|d| d.string("Path"))
                    .unwrap_or_default();
                match name.as_str() {
                    "appcmd.exe" => !folder.contains("IIS Express"),
                    "cscript.exe" => true,
                    _ => self.disk.contains_key(&format!("{}\\{name}", resolve(&folder)).to_lowercase()),
                }
            };
            if found {
                out.insert(property.to_uppercase());
            }
        }
        out
    }

    fn install(&mut self, view: &PackageView, owner: Owner) {
        let properties = self.properties(view);
        self.install_with(view, owner, &properties);
    }

    /// A major upgrade, RemoveExistingProducts early (archway's schedule): AppSearch first, then
    /// the old product removed, then the new one installed.
    fn upgrade(&mut self, view: &PackageView) {
        let properties = self.properties(view);
        self.remove(Owner::Old);
        self.install_with(view, Owner::New, &properties);
    }

    fn install_with(&mut self, view: &PackageView, owner: Owner, properties: &BTreeSet<String>) {
        for file in view.files.iter().filter(|f| f.is_schema()) {
            let Some(guid) = file.component_guid else { continue };
            if !file.condition.as_deref().is_none_or(|c| evaluate(c, properties)) {
                continue;
            }
            let md5 = file.payload.as_ref().map(|p| p.md5).unwrap_or_default();
            self.add(owner, guid, &file.path_key(), md5, file.component_attributes & SHARED_DLL_REF_COUNT != 0);
        }
    }

    fn install_hph(&mut self, path: &str) {
        self.add(Owner::Hph, HPH_GUID, path, HPH_BYTES, false);
    }

    fn add(&mut self, owner: Owner, guid: Uuid, path: &str, md5: [u8; 16], shared_dll: bool) {
        self.clients.entry(guid).or_default().insert(owner);
        self.installed.entry(owner).or_default().push((guid, path.to_string()));
        if shared_dll || self.shared_dlls.contains_key(path) {
            *self.shared_dlls.entry(path.to_string()).or_default() += 1;
        }
        // Both unversioned: copied when missing or when the hash differs (docs/msi.md §2.1).
        if self.disk.get(path).is_none_or(|(on_disk, _)| *on_disk != md5) {
            self.disk.insert(path.to_string(), (md5, owner));
        }
    }

    fn remove(&mut self, owner: Owner) {
        for (guid, path) in self.installed.remove(&owner).unwrap_or_default() {
            let clients = self.clients.entry(guid).or_default();
            clients.remove(&owner);
            if !clients.is_empty() {
                continue;
            }
            match self.shared_dlls.get_mut(&path) {
                Some(count) if *count > 1 => *count -= 1,
                Some(_) => {
                    self.shared_dlls.remove(&path);
                    self.disk.remove(&path);
                }
                None => {
                    self.disk.remove(&path);
                }
            }
        }
    }
}

/// `[System64Folder]inetsrv\config\schema` as the view names paths (64-bit Windows).
fn resolve(formatted: &str) -> String {
    let mut out = formatted.to_string();
    for (property, folder) in [
        ("[System64Folder]", r"Windows\System32\"),
        ("[SystemFolder]", r"Windows\SysWOW64\"),
        ("[ProgramFiles64Folder]", r"Program Files\"),
        ("[ProgramFilesFolder]", r"Program Files (x86)\"),
    ] {
        out = out.replace(property, folder);
    }
    out.trim_end_matches('\\').to_string()
}

/// A condition of properties, NOT, AND, OR and parentheses (what archway's schema components
/// use; NOT binds tighter than AND, AND tighter than OR, as in Windows Installer's condition
/// syntax); a property is true when set. Anything else evaluates false.
pub fn evaluate(condition: &str, properties: &BTreeSet<String>) -> bool {
    let spaced = condition.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<String> = spaced.split_whitespace().map(str::to_uppercase).collect();
    // The parser recurses per NOT and parenthesis: a Condition column holds 255 characters, and
    // anything longer (a damaged or fuzzed table) is not evaluated at all.
    if tokens.len() > 255 {
        return false;
    }
    let mut at = 0;
    let value = or(&tokens, &mut at, properties);
    value == Some(true) && at == tokens.len()
}

fn or(t: &[String], at: &mut usize, p: &BTreeSet<String>) -> Option<bool> {
    let mut value = and(t, at, p)?;
    while t.get(*at).map(String::as_str) == Some("OR") {
        *at += 1;
        value |= and(t, at, p)?;
    }
    Some(value)
}

fn and(t: &[String], at: &mut usize, p: &BTreeSet<String>) -> Option<bool> {
    let mut value = not(t, at, p)?;
    while t.get(*at).map(String::as_str) == Some("AND") {
        *at += 1;
        value &= not(t, at, p)?;
    }
    Some(value)
}

fn not(t: &[String], at: &mut usize, p: &BTreeSet<String>) -> Option<bool> {
    let token = t.get(*at)?.clone();
    *at += 1;
    match token.as_str() {
        "NOT" => not(t, at, p).map(|v| !v),
        "(" => {
            let value = or(t, at, p)?;
            (t.get(*at).map(String::as_str) == Some(")")).then(|| *at += 1)?;
            Some(value)
        }
        name if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') => Some(p.contains(name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_evaluate_like_windows_installer_for_the_forms_archway_writes() {
        let set: BTreeSet<String> = ["A".to_string(), "C".to_string()].into();
        for (condition, want) in [
            ("A", true),
            ("B", false),
            ("A AND (NOT B OR C)", true),
            ("A AND (NOT C OR B)", false),
            ("NOT A OR C", true),
            ("B OR A AND C", true),
            ("NOT NOT A", true),
            ("a and not b", true),
            ("A AND", false),
            ("(A", false),
            ("A = 1", false),
        ] {
            assert_eq!(evaluate(condition, &set), want, "{condition}");
        }
        assert!(!evaluate(&"(".repeat(100_000), &set), "deep input is refused, not recursed into");
    }
}
