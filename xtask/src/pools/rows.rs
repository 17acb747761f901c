//! The pool rows of `matrix.toml` and the rule WAS follows to choose a worker's architecture
//! from the host and the two pool attributes (docs/pools.md, "Worker bitness"). The rule is one
//! pure function; every row is checked against it when the file is read.

use std::{fmt, path::Path, str::FromStr};

use anyhow::{Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::{config, matrix::Arch, msi::Platform};

/// The Windows machine a pool runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostMachine {
    X64,
    Arm64,
}

impl HostMachine {
    pub fn name(self) -> &'static str {
        match self {
            HostMachine::X64 => "x64",
            HostMachine::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for HostMachine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HostMachine {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<HostMachine> {
        match s {
            "x64" => Ok(HostMachine::X64),
            "arm64" => Ok(HostMachine::Arm64),
            _ => bail!("unknown host machine `{s}`; expected x64 or arm64"),
        }
    }
}

/// The architecture of a worker process. ARM64EC code runs inside x64 workers; there is no
/// ARM64EC worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerArch {
    X86,
    X64,
    Arm64,
}

impl WorkerArch {
    pub fn name(self) -> &'static str {
        self.arch().name()
    }

    /// The build architecture of a program that runs as this worker.
    pub fn arch(self) -> Arch {
        match self {
            WorkerArch::X86 => Arch::X86,
            WorkerArch::X64 => Arch::X64,
            WorkerArch::Arm64 => Arch::Arm64,
        }
    }

    pub fn is_64bit(self) -> bool {
        self != WorkerArch::X86
    }
}

impl fmt::Display for WorkerArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WorkerArch {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<WorkerArch> {
        match s {
            "x86" => Ok(WorkerArch::X86),
            "x64" => Ok(WorkerArch::X64),
            "arm64" => Ok(WorkerArch::Arm64),
            _ => bail!("unknown worker architecture `{s}`; expected x86, x64 or arm64"),
        }
    }
}

/// The two application-pool attributes that decide a worker's bitness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolAttributes {
    pub enable_32bit_app_on_win64: bool,
    /// `None` leaves the attribute unset (IIS's default, true, applies on ARM64 hosts).
    pub enable_emulation_on_win_arm64: Option<bool>,
}

/// What WAS starts for a pool, and whether any source documents it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerChoice {
    pub worker: WorkerArch,
    /// False for the one combination no source documents (docs/pools.md, "Worker bitness"):
    /// `enable32BitAppOnWin64=true` with `enableEmulationOnWinArm64=false` on ARM64.
    pub documented: bool,
}

/// WAS's rule (docs/pools.md, "Worker bitness"): 32-bit applications always run as an x86
/// worker under WOW64; otherwise x64 Windows starts an x64 worker, and ARM64 Windows an x64
/// worker under emulation unless emulation is switched off, when the worker is native ARM64.
pub fn worker_arch(host: HostMachine, attributes: PoolAttributes) -> WorkerChoice {
    let emulation = attributes.enable_emulation_on_win_arm64.unwrap_or(true);
    match (host, attributes.enable_32bit_app_on_win64, emulation) {
        (_, true, true) | (HostMachine::X64, true, _) => WorkerChoice { worker: WorkerArch::X86, documented: true },
        // UNCERTAIN (docs/pools.md): undocumented; presumed x86. The windows-11-arm job runs
        // the `x86-on-arm64-noemu` row against real IIS, which measures it.
        (HostMachine::Arm64, true, false) => WorkerChoice { worker: WorkerArch::X86, documented: false },
        (HostMachine::X64, false, _) => WorkerChoice { worker: WorkerArch::X64, documented: true },
        (HostMachine::Arm64, false, true) => WorkerChoice { worker: WorkerArch::X64, documented: true },
        (HostMachine::Arm64, false, false) => WorkerChoice { worker: WorkerArch::Arm64, documented: true },
    }
}

/// One `[[pool]]` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolRow {
    pub name: String,
    pub host: HostMachine,
    pub attributes: PoolAttributes,
    pub worker: WorkerArch,
    pub package: Platform,
    /// Why the row is not documented, when it is not.
    pub uncertain: Option<String>,
}

impl PoolRow {
    /// "32bit=false emu=true" as the table shows it (`-` for an attribute left unset).
    pub fn attributes_text(&self) -> String {
        let emu = self.attributes.enable_emulation_on_win_arm64.map_or("-".to_string(), |b| b.to_string());
        format!("32bit={} emu={emu}", self.attributes.enable_32bit_app_on_win64)
    }
}

#[derive(Deserialize)]
struct RawMatrix {
    #[serde(default)]
    pool: Vec<RawPool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    name: Spanned<String>,
    host: HostMachine,
    #[serde(rename = "enable32BitAppOnWin64")]
    enable_32bit: bool,
    #[serde(rename = "enableEmulationOnWinArm64")]
    enable_emulation: Option<Spanned<bool>>,
    worker: Spanned<WorkerArch>,
    package: Spanned<String>,
    uncertain: Option<Spanned<String>>,
}

/// The `[[pool]]` rows of `matrix.toml` (other tables are read elsewhere), each checked: a
/// unique name usable in a site name, the emulation attribute only on ARM64 hosts, the worker
/// WAS would start, and a package that can serve it.
pub fn load(root: &Path) -> Result<Vec<PoolRow>> {
    let doc = config::load_in::<RawMatrix>(root, Path::new("matrix.toml"))?;
    let mut rows: Vec<PoolRow> = Vec::new();
    for raw in &doc.value.pool {
        let name = raw.name.get_ref();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(doc.error_at(
                raw.name.span(),
                format!("pool name `{name}`: use letters, digits and `-` (it names an IIS pool and site)"),
            ));
        }
        if rows.iter().any(|r| &r.name == name) {
            return Err(doc.error_at(raw.name.span(), format!("pool `{name}` is listed twice")));
        }
        if let (HostMachine::X64, Some(emu)) = (raw.host, &raw.enable_emulation) {
            return Err(doc.error_at(
                emu.span(),
                "enableEmulationOnWinArm64 is for ARM64 hosts only; x64 servers may reject it (docs/pools.md)",
            ));
        }
        let attributes = PoolAttributes {
            enable_32bit_app_on_win64: raw.enable_32bit,
            enable_emulation_on_win_arm64: raw.enable_emulation.as_ref().map(|s| *s.get_ref()),
        };
        let choice = worker_arch(raw.host, attributes);
        let worker = *raw.worker.get_ref();
        if worker != choice.worker {
            return Err(doc.error_at(
                raw.worker.span(),
                format!("WAS starts an {} worker for this pool on an {} host, not {worker}", choice.worker, raw.host),
            ));
        }
        match (&raw.uncertain, choice.documented) {
            (None, false) => {
                return Err(doc.error_at(
                    raw.name.span(),
                    "no source documents this combination: say why the row is presumed in `uncertain = \"…\"`",
                ));
            }
            (Some(u), true) => return Err(doc.error_at(u.span(), "this combination is documented: drop `uncertain`")),
            _ => {}
        }
        let package: Platform = raw.package.get_ref().parse().map_err(|e| doc.error_at(raw.package.span(), e))?;
        let fits = match package {
            Platform::X64 => raw.host == HostMachine::X64,
            Platform::Arm64 => raw.host == HostMachine::Arm64,
            Platform::X86 => worker == WorkerArch::X86,
        };
        if !fits {
            return Err(doc.error_at(
                raw.package.span(),
                format!("the {package} package does not serve an {worker} worker on an {} host", raw.host),
            ));
        }
        rows.push(PoolRow {
            name: name.clone(),
            host: raw.host,
            attributes,
            worker,
            package,
            uncertain: raw.uncertain.as_ref().map(|u| u.get_ref().clone()),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(bit32: bool, emulation: Option<bool>) -> PoolAttributes {
        PoolAttributes { enable_32bit_app_on_win64: bit32, enable_emulation_on_win_arm64: emulation }
    }

    fn choice(host: HostMachine, bit32: bool, emulation: Option<bool>) -> (WorkerArch, bool) {
        let c = worker_arch(host, attrs(bit32, emulation));
        (c.worker, c.documented)
    }

    // docs/pools.md, "Worker bitness": each documented row of the two tables.
    #[test]
    fn x64_windows_starts_x64_workers_and_x86_for_32_bit_pools() {
        assert_eq!(choice(HostMachine::X64, false, None), (WorkerArch::X64, true));
        assert_eq!(choice(HostMachine::X64, true, None), (WorkerArch::X86, true));
    }

    #[test]
    fn the_emulation_attribute_means_nothing_on_x64_windows() {
        for emulation in [Some(true), Some(false)] {
            assert_eq!(choice(HostMachine::X64, false, emulation), (WorkerArch::X64, true));
            assert_eq!(choice(HostMachine::X64, true, emulation), (WorkerArch::X86, true));
        }
    }

    #[test]
    fn arm64_windows_emulates_x64_by_default_and_runs_arm64_only_when_asked() {
        assert_eq!(choice(HostMachine::Arm64, false, None), (WorkerArch::X64, true), "IIS's default is true");
        assert_eq!(choice(HostMachine::Arm64, false, Some(true)), (WorkerArch::X64, true));
        assert_eq!(choice(HostMachine::Arm64, false, Some(false)), (WorkerArch::Arm64, true));
        assert_eq!(choice(HostMachine::Arm64, true, Some(true)), (WorkerArch::X86, true));
        assert_eq!(choice(HostMachine::Arm64, true, None), (WorkerArch::X86, true));
    }

    #[test]
    fn the_undocumented_arm64_row_is_presumed_x86_and_marked() {
        assert_eq!(choice(HostMachine::Arm64, true, Some(false)), (WorkerArch::X86, false));
    }

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn the_repository_rows_cover_every_pool_bitness_of_both_hosts() {
        let rows = load(root()).unwrap();
        let have: Vec<(HostMachine, WorkerArch)> = rows.iter().map(|r| (r.host, r.worker)).collect();
        for want in [
            (HostMachine::X64, WorkerArch::X64),
            (HostMachine::X64, WorkerArch::X86),
            (HostMachine::Arm64, WorkerArch::Arm64),
            (HostMachine::Arm64, WorkerArch::X64),
            (HostMachine::Arm64, WorkerArch::X86),
        ] {
            assert!(have.contains(&want), "no row for an {} worker on {}", want.1, want.0);
        }
        assert_eq!(rows.iter().filter(|r| r.uncertain.is_some()).count(), 1);
    }

    fn load_text(text: &str) -> Result<Vec<PoolRow>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("matrix.toml"), text).unwrap();
        load(dir.path())
    }

    #[test]
    fn a_row_whose_worker_disagrees_with_was_points_at_its_line() {
        let err = load_text("[[pool]]\nname = \"p\"\nhost = \"arm64\"\nenable32BitAppOnWin64 = false\nworker = \"arm64\"\npackage = \"arm64\"\n").unwrap_err().to_string();
        assert!(err.contains("matrix.toml:5:10") && err.contains("WAS starts an x64 worker"), "{err}");
    }

    #[test]
    fn the_emulation_attribute_on_an_x64_host_is_refused() {
        let err = load_text("[[pool]]\nname = \"p\"\nhost = \"x64\"\nenable32BitAppOnWin64 = false\nenableEmulationOnWinArm64 = false\nworker = \"x64\"\npackage = \"x64\"\n").unwrap_err().to_string();
        assert!(err.contains("matrix.toml:5:") && err.contains("ARM64 hosts only"), "{err}");
    }

    #[test]
    fn an_undocumented_row_must_say_so_and_a_documented_one_must_not() {
        let base = "[[pool]]\nname = \"p\"\nhost = \"arm64\"\nenable32BitAppOnWin64 = true\nenableEmulationOnWinArm64 = false\nworker = \"x86\"\npackage = \"arm64\"\n";
        assert!(load_text(base).unwrap_err().to_string().contains("uncertain"));
        assert_eq!(
            load_text(&format!("{base}uncertain = \"presumed\"\n")).unwrap()[0].uncertain.as_deref(),
            Some("presumed")
        );
        let documented = base.replace("= false\nworker", "= true\nworker");
        assert!(
            load_text(&format!("{documented}uncertain = \"x\"\n"))
                .unwrap_err()
                .to_string()
                .contains("drop `uncertain`")
        );
    }

    #[test]
    fn a_package_that_cannot_serve_the_row_is_refused() {
        let err = load_text("[[pool]]\nname = \"p\"\nhost = \"arm64\"\nenable32BitAppOnWin64 = false\nworker = \"x64\"\npackage = \"x64\"\n").unwrap_err().to_string();
        assert!(err.contains("the x64 package does not serve an x64 worker on an arm64 host"), "{err}");
    }

    #[test]
    fn names_are_unique_and_fit_a_site_name() {
        let row = "[[pool]]\nname = \"p\"\nhost = \"x64\"\nenable32BitAppOnWin64 = false\nworker = \"x64\"\npackage = \"x64\"\n";
        assert!(load_text(&format!("{row}{row}")).unwrap_err().to_string().contains("listed twice"));
        assert!(load_text(&row.replace("\"p\"", "\"a b\"")).unwrap_err().to_string().contains("letters, digits"));
    }
}
