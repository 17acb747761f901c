//! The package model: what one platform's MSI holds (product identity, files and the PE facts
//! that drive Windows Installer's versioning rules, the IIS module to register), independent of
//! how `dist` gathers the files and of how the MSI is laid out.

use std::{fmt, path::Path};

use anyhow::{Context, Result, bail};
use uuid::Uuid;

/// One MSI per platform: the Template summary property names exactly one (docs/msi.md §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    X86,
    X64,
    Arm64,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::X64, Platform::Arm64, Platform::X86];

    /// archway's name, as in `archway-<version>-<name>.msi`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::X86 => "x86",
            Platform::X64 => "x64",
            Platform::Arm64 => "arm64",
        }
    }

    /// The platform part of the Template summary property (docs/msi.md §1.7).
    pub fn template(self) -> &'static str {
        match self {
            Platform::X86 => "Intel",
            Platform::X64 => "x64",
            Platform::Arm64 => "Arm64",
        }
    }

    pub fn from_template(platform: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.template().eq_ignore_ascii_case(platform))
    }

    pub fn is_64bit(self) -> bool {
        self != Platform::X86
    }

    /// The lowest Page Count (installer version × 100) the platform allows: Arm64 packages below
    /// 500 do not open (docs/msi.md §1.7, WiX issue 6137). archway writes 500 for every platform.
    pub fn min_page_count(self) -> i32 {
        match self {
            Platform::X86 | Platform::X64 => 200,
            Platform::Arm64 => 500,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Platform {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Platform> {
        Platform::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .with_context(|| format!("unknown platform {s:?}; expected x64, arm64 or x86"))
    }
}

/// The two standard folders archway installs into (docs/msi.md §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstallDir {
    /// `C:\Program Files` on 64-bit Windows (x64 and ARM64): 64-bit components.
    ProgramFiles64,
    /// `C:\Program Files (x86)` on 64-bit Windows, `C:\Program Files` on 32-bit Windows.
    ProgramFilesX86,
}

impl InstallDir {
    /// The standard Directory id the installer resolves from the OS.
    pub fn standard_folder(self) -> &'static str {
        match self {
            InstallDir::ProgramFiles64 => "ProgramFiles64Folder",
            InstallDir::ProgramFilesX86 => "ProgramFilesFolder",
        }
    }

    /// What the folder is called on 64-bit Windows, as in the zip archives' install tree.
    pub fn windows_name(self) -> &'static str {
        match self {
            InstallDir::ProgramFiles64 => "Program Files",
            InstallDir::ProgramFilesX86 => "Program Files (x86)",
        }
    }

    pub fn is_64bit(self) -> bool {
        self == InstallDir::ProgramFiles64
    }
}

/// What Windows Installer and the loader care about in a PE file. Fill it from the bytes with
/// [`crate::msi::pe_info`]; tests may write it by hand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeInfo {
    /// COFF file-header machine as stored (native view): 0x014C, 0x8664 (x64 and ARM64EC) or
    /// 0xAA64 (ARM64 and Arm64X).
    pub machine: u16,
    /// CHPE metadata present: an ARM64EC image (0x8664) or an Arm64X image (0xAA64).
    pub hybrid: bool,
    /// FILEVERSION from VS_FIXEDFILEINFO; `None` when the file has no version resource, which
    /// makes it *unversioned* for Windows Installer (docs/msi.md §2.1).
    pub version: Option<[u16; 4]>,
    /// Languages from VarFileInfo\Translation (File.Language), e.g. `[1033]`.
    pub languages: Vec<u16>,
    /// DLLs the native export table forwards to, as file names (`archway_arm64.dll`).
    pub forwards_native: Vec<String>,
    /// DLLs the EC view's export table (Arm64X) forwards to (`archway_x64.dll`).
    pub forwards_ec: Vec<String>,
}

impl PeInfo {
    /// A pure forwarder: in some view every export forwards elsewhere (the forward lists are
    /// filled only for such views).
    pub fn is_forwarder(&self) -> bool {
        !self.forwards_native.is_empty() || !self.forwards_ec.is_empty()
    }
}

/// One file of the package; each becomes its own component with the file as key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageFile {
    pub dir: InstallDir,
    /// Long file name inside `<dir>\<Package::folder>\`.
    pub name: String,
    pub bytes: Vec<u8>,
    /// `None` for a file that is not a PE image.
    pub pe: Option<PeInfo>,
}

impl PackageFile {
    /// Reads `source` and its PE facts (a PE that cannot be parsed is an error naming it).
    pub fn read(dir: InstallDir, name: &str, source: &Path) -> Result<PackageFile> {
        let bytes = std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
        let pe =
            super::pe::pe_info(&bytes).with_context(|| format!("{}: not a readable PE image", source.display()))?;
        Ok(PackageFile { dir, name: name.to_string(), bytes, pe })
    }
}

/// One IIS global module registered with appcmd (docs/iis.md §2.1, §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IisModule {
    /// The `globalModules` entry name, e.g. `Archway`.
    pub name: String,
    /// Written verbatim, e.g. `%ProgramFiles%\Archway\archway.dll`: each worker process expands
    /// `%ProgramFiles%` for its own bitness (docs/iis.md §2.1, the single-path pattern).
    pub image: String,
}

/// The IIS configuration schema folders a package installs into, one per copy of IIS it serves
/// (docs/iis.md §2.2, §3.3): each reads the `.xml` files of its own `config\schema` folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemaDir {
    /// `%windir%\System32\inetsrv\config\schema`: System64Folder in the x64 and arm64
    /// packages (IIS is a 64-bit service there), SystemFolder in the x86 one.
    Iis,
    /// `Program Files\IIS Express\config\schema` (64-bit packages only).
    IisExpress64,
    /// `Program Files (x86)\IIS Express\config\schema` (`Program Files` on 32-bit Windows).
    IisExpressX86,
}

impl SchemaDir {
    /// The folders of `platform`'s package.
    pub fn of(platform: Platform) -> &'static [SchemaDir] {
        if platform.is_64bit() {
            &[SchemaDir::Iis, SchemaDir::IisExpress64, SchemaDir::IisExpressX86]
        } else {
            &[SchemaDir::Iis, SchemaDir::IisExpressX86]
        }
    }

    /// The standard folder at the root of the path (docs/msi.md §3.2).
    pub fn standard_folder(self, platform: Platform) -> &'static str {
        match (self, platform.is_64bit()) {
            (SchemaDir::Iis, true) => "System64Folder",
            (SchemaDir::Iis, false) => "SystemFolder",
            (SchemaDir::IisExpress64, _) => "ProgramFiles64Folder",
            (SchemaDir::IisExpressX86, _) => "ProgramFilesFolder",
        }
    }

    /// The folders below the standard one.
    pub fn subfolders(self) -> &'static [&'static str] {
        match self {
            SchemaDir::Iis => &["inetsrv", "config", "schema"],
            SchemaDir::IisExpress64 | SchemaDir::IisExpressX86 => &["IIS Express", "config", "schema"],
        }
    }

    /// A 64-bit component (attribute 256): the 64-bit System32 and Program Files.
    pub fn is_64bit(self, platform: Platform) -> bool {
        match self {
            SchemaDir::Iis => platform.is_64bit(),
            SchemaDir::IisExpress64 => true,
            SchemaDir::IisExpressX86 => false,
        }
    }

    /// The folder as named on 64-bit Windows, like the package's other paths (docs/msi.md §2.8):
    /// the x86 package's SystemFolder shows as `Windows\SysWOW64`, its Program Files as
    /// `Program Files (x86)`; on the 32-bit Windows it installs on both are the only ones.
    pub fn windows_path(self, platform: Platform) -> String {
        let root = match (self, platform.is_64bit()) {
            (SchemaDir::Iis, true) => "Windows\\System32",
            (SchemaDir::Iis, false) => "Windows\\SysWOW64",
            (SchemaDir::IisExpress64, _) => "Program Files",
            (SchemaDir::IisExpressX86, _) => "Program Files (x86)",
        };
        format!("{root}\\{}", self.subfolders().join("\\"))
    }

    /// What must be installed for the package to write this folder (the component condition).
    pub fn installed_when(self) -> &'static str {
        match self {
            SchemaDir::Iis => "IIS is installed",
            SchemaDir::IisExpress64 => "the 64-bit IIS Express is installed",
            SchemaDir::IisExpressX86 => "the x86 IIS Express is installed",
        }
    }

    /// Short id used in table keys.
    pub fn id(self) -> &'static str {
        match self {
            SchemaDir::Iis => "iis",
            SchemaDir::IisExpress64 => "iisx64",
            SchemaDir::IisExpressX86 => "iisx86",
        }
    }
}

/// HttpPlatformHandler's schema file: archway installs the same file name (the same section),
/// and must never overwrite or remove a copy another product installed (README, "Configuration
/// schema").
pub const HPH_SCHEMA: &str = "httpplatform_schema.xml";

/// One IIS configuration schema file (not a PE: unversioned, hashed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The configuration schema a package installs and the sections it declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IisSchema {
    /// Installed into every [`SchemaDir`] of the package whose IIS is present.
    pub files: Vec<SchemaFile>,
    /// `group/section` names declared in each applicationHost.config at install, when missing.
    pub declare: Vec<String>,
    /// Of those, the sections archway alone defines: removed again at uninstall. (The
    /// httpPlatform declaration stays: HttpPlatformHandler may use it.)
    pub owned: Vec<String>,
    /// The declaring script, one of [`Package::files`] in the package's main folder.
    pub script: String,
}

/// Everything one MSI holds.
#[derive(Clone, Debug)]
pub struct Package {
    pub platform: Platform,
    pub product_name: String,
    pub manufacturer: String,
    /// The workspace version; ProductVersion is written with all four fields, but Windows
    /// Installer compares only the first three (docs/msi.md §2.5): major ≤ 255, minor ≤ 255.
    pub version: [u16; 4],
    /// This platform's UpgradeCode, fixed in the repository, never shared between platforms.
    pub upgrade_code: Uuid,
    /// UpgradeCodes of archway's other platforms: when one of those products is installed this
    /// package refuses to install (their component GUIDs for the same paths differ).
    pub sibling_upgrade_codes: Vec<Uuid>,
    /// The folder under each Program Files folder, e.g. `Archway`.
    pub folder: String,
    pub files: Vec<PackageFile>,
    pub iis_module: Option<IisModule>,
    /// Schema files and section declarations; needs `iis_module` (the same IIS searches).
    pub iis_schema: Option<IisSchema>,
    /// Seconds since 1970 (SOURCE_DATE_EPOCH): summary-info times and cabinet dates.
    pub source_date_epoch: i64,
}

impl Package {
    /// `a.b.c.d`.
    pub fn version_string(&self) -> String {
        self.version.map(|p| p.to_string()).join(".")
    }

    /// The checks that make a package impossible to write (anything else is the lint's job).
    pub fn validate(&self) -> Result<()> {
        let [major, minor, ..] = self.version;
        if major > 255 || minor > 255 {
            bail!(
                "ProductVersion {} is out of range: major and minor must be at most 255 (docs/msi.md §2.5)",
                self.version_string()
            );
        }
        if self.files.is_empty() {
            bail!("the {} package has no files", self.platform);
        }
        if self.folder.is_empty() || self.folder.contains(['\\', '/', ':', '|']) {
            bail!("install folder {:?} must be one plain folder name", self.folder);
        }
        let mut seen = std::collections::BTreeSet::new();
        for file in &self.files {
            if file.name.is_empty() || file.name.contains(['\\', '/', ':', '|', '*', '?', '"', '<', '>']) {
                bail!("file name {:?} is not a plain Windows file name", file.name);
            }
            if !seen.insert((file.dir, file.name.to_lowercase())) {
                bail!("{} is listed twice: one path, one component (docs/msi.md §2.2)", self.display_path(file));
            }
            if !self.platform.is_64bit() && file.dir.is_64bit() {
                bail!("the x86 package cannot install {} into the 64-bit Program Files folder", file.name);
            }
        }
        if let Some(schema) = &self.iis_schema {
            if self.iis_module.is_none() {
                bail!("schema files need the IIS module's registration (the same appcmd searches decide where IIS is)");
            }
            let main = if self.platform.is_64bit() { InstallDir::ProgramFiles64 } else { InstallDir::ProgramFilesX86 };
            if !self.files.iter().any(|f| f.dir == main && f.name.eq_ignore_ascii_case(&schema.script)) {
                bail!("the section script {} is not among the files of {}", schema.script, main.windows_name());
            }
            let mut names = std::collections::BTreeSet::new();
            for file in &schema.files {
                if !names.insert(file.name.to_lowercase())
                    || !file.name.to_lowercase().ends_with(".xml")
                    || file.name.contains(['\\', '/', ':', '|'])
                {
                    bail!("schema file name {:?} must be a plain, unique .xml file name", file.name);
                }
            }
            for section in schema.declare.iter().chain(&schema.owned) {
                let ok = section.split('/').count() >= 2
                    && section
                        .split('/')
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
                if !ok {
                    bail!("section {section:?} is not a <group>/<section> name such as system.webServer/archway");
                }
            }
        }
        Ok(())
    }

    /// `Program Files\Archway\archway.dll`.
    pub fn display_path(&self, file: &PackageFile) -> String {
        format!("{}\\{}\\{}", file.dir.windows_name(), self.folder, file.name)
    }
}
