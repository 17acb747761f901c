//! `cargo xtask dist`: a release build, its forwarders and checks, then one MSI and one zip per
//! Windows platform in `target/dist/`, with `manifest.json` and `SHA256SUMS`. Every MSI is linted
//! (and, with `--previous`, checked as an upgrade of the last release) before dist succeeds.

pub mod archive;
pub mod layout;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::{
    binaries, build, fsx, matrix,
    msi::{self, IisModule, Package, PackageFile, Platform},
    project::{self, Project},
};
use layout::{PackageConfig, Placed};

/// Build (release), write the forwarders, verify, then write one MSI and one zip per Windows
/// platform, manifest.json and SHA256SUMS into target/dist/.
#[derive(clap::Args, Clone, Debug, Default)]
#[command(after_help = "Examples:\n  cargo xtask dist\n  \
    SOURCE_DATE_EPOCH=1767225600 cargo xtask dist --previous releases/0.1.0   # check the upgrade too\n\n\
    Every MSI is linted (versions, machines per folder, forwarder targets, tables); with --previous\n\
    each is also checked as a major upgrade of the last release's package of the same platform.")]
pub struct Args {
    /// A folder with the previous release's archway-<version>-<platform>.msi files.
    #[arg(long, value_name = "DIR")]
    pub previous: Option<PathBuf>,
    #[command(flatten)]
    pub build: build::Flags,
    /// Sign every shipped PE before the MSIs are written, then each MSI (key and password
    /// from the environment: see `cargo xtask sign --help`).
    #[arg(long)]
    pub sign: bool,
    /// RFC 3161 timestamp server for --sign (else ARCHWAY_SIGN_TIMESTAMP_URL; none by default).
    #[arg(long, value_name = "URL", requires = "sign")]
    pub timestamp_url: Option<String>,
}

/// Zip entries and MSI summary times are dated SOURCE_DATE_EPOCH, or 1980-01-01 (the first date
/// a zip archive can hold) when it is unset: never the clock.
const DEFAULT_EPOCH: i64 = archive::ZIP_EPOCH;

/// One platform's outputs, for the manifest and the summary.
#[derive(Serialize)]
struct PlatformOutput {
    platform: String,
    msi: Artifact,
    zip: Artifact,
    package_code: String,
    product_code: String,
    /// The Program Files files: installed everywhere, unconditionally.
    files: Vec<InstalledFile>,
    /// The IIS configuration schema copies, each installed only where its IIS is (and
    /// `httpplatform_schema.xml` only where no other product's copy is, README "Configuration
    /// schema"); paths as on 64-bit Windows.
    schema_files: Vec<SchemaCopy>,
}

#[derive(Serialize)]
struct SchemaCopy {
    install_path: String,
    size: u64,
    sha256: String,
    installed_when: String,
}

/// Every schema file in every schema folder of `package`, with its bytes.
fn schema_copies(package: &Package) -> Vec<(SchemaCopy, Vec<u8>)> {
    let Some(schema) = &package.iis_schema else { return Vec::new() };
    let mut out = Vec::new();
    for &dir in msi::SchemaDir::of(package.platform) {
        for file in &schema.files {
            let mut when = dir.installed_when().to_string();
            if file.name == msi::HPH_SCHEMA {
                when.push_str(", and the folder holds no other product's copy");
            }
            let copy = SchemaCopy {
                install_path: format!("{}\\{}", dir.windows_path(package.platform), file.name),
                size: file.bytes.len() as u64,
                sha256: fsx::sha256_hex(&file.bytes),
                installed_when: when,
            };
            out.push((copy, file.bytes.clone()));
        }
    }
    out
}

#[derive(Serialize)]
struct Artifact {
    file: String,
    size: u64,
    sha256: String,
}

#[derive(Serialize)]
struct InstalledFile {
    install_path: String,
    size: u64,
    sha256: String,
    machine: Option<&'static str>,
    version: Option<String>,
}

#[derive(Serialize)]
struct Manifest {
    product: String,
    version: String,
    source_date_epoch: i64,
    packages: Vec<PlatformOutput>,
}

/// The package folder a verb works on: `given`, or `target/dist` freshly built by `dist` (the
/// build is incremental, so an unchanged tree costs little). `who` prefixes the progress line.
pub fn given_or_built(given: Option<&Path>, project: &Project, who: &str) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir.to_path_buf());
    }
    eprintln!("[{who}] building the packages (`cargo xtask dist`)");
    run(project, Args::default())?;
    Ok(project.target_dir.join("dist"))
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    if args.sign {
        // Read and checked before the build: a missing key or tool fails at once.
        crate::sign::arm(crate::sign::from_env(args.timestamp_url.clone())?);
    }
    let configs = layout::package_configs(&project.root)?;
    let epoch = match project::source_date_epoch()? {
        None => DEFAULT_EPOCH,
        Some(seconds) => i64::try_from(seconds)
            .with_context(|| format!("SOURCE_DATE_EPOCH={seconds} is past what an MSI or zip can date"))?,
    };
    let steps = 3 + configs.len();
    let step = |n: usize, what: &str| eprintln!("[dist {n}/{steps}] {what}");

    step(1, "build (release), forwarders, verification");
    let report = build::run(project, &build::BuildOptions::release(&[], &args.build))?;
    build::print_summary(&report);

    // Everything is written into a staging folder that replaces target/dist only when every
    // step has succeeded: a failed run leaves the last good target/dist as it was.
    let final_dir = project.target_dir.join("dist");
    let out_dir = project.target_dir.join("dist.partial");
    if out_dir.exists() {
        std::fs::remove_dir_all(&out_dir).with_context(|| format!("cannot clear {}", out_dir.display()))?;
    }
    let manifest = match crate::sign::around(project, &report, &out_dir, |report| {
        write_packages(project, &args, &configs, report, &out_dir, epoch, steps)
    }) {
        Ok(manifest) => manifest,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&out_dir);
            return Err(err);
        }
    };
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).with_context(|| format!("cannot replace {}", final_dir.display()))?;
    }
    std::fs::rename(&out_dir, &final_dir)
        .with_context(|| format!("cannot rename {} to {}", out_dir.display(), final_dir.display()))?;

    step(steps, "summary");
    print_summary(&manifest, &final_dir);
    Ok(())
}

fn write_packages(
    project: &Project,
    args: &Args,
    configs: &[PackageConfig],
    report: &build::BuildReport,
    out_dir: &Path,
    epoch: i64,
    steps: usize,
) -> Result<Manifest> {
    let step = |n: usize, what: &str| eprintln!("[dist {n}/{steps}] {what}");
    let shipped = layout::shipped(&project.root, &binaries::discover(&project.root)?);
    let mut outputs = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        step(2 + i, &format!("{} package: MSI, zip, lint", config.platform));
        let placed = layout::layout(config.platform, &report.bin_dir, &shipped, &report.forwarders)?;
        let package = package(project, config, configs, &placed, epoch)?;
        outputs.push(write_platform(&package, out_dir, args.previous.as_deref())?);
    }

    step(steps - 1, "manifest.json and SHA256SUMS");
    let manifest = Manifest {
        product: project.product.clone(),
        version: project::dotted(project.version),
        source_date_epoch: epoch,
        packages: outputs,
    };
    let json = serde_json::to_string_pretty(&manifest)? + "\n";
    fsx::write_atomic(&out_dir.join("manifest.json"), json.as_bytes())?;
    let mut sums: Vec<(String, String)> =
        manifest.packages.iter().flat_map(|p| [&p.msi, &p.zip]).map(|a| (a.file.clone(), a.sha256.clone())).collect();
    sums.push(("manifest.json".into(), fsx::sha256_hex(json.as_bytes())));
    sums.sort();
    let text: String = sums.iter().map(|(file, sha)| format!("{sha}  {file}\n")).collect();
    fsx::write_atomic(&out_dir.join("SHA256SUMS"), text.as_bytes())?;
    Ok(manifest)
}

/// The MSI model of one platform.
pub fn package(
    project: &Project,
    config: &PackageConfig,
    all: &[PackageConfig],
    placed: &[Placed],
    epoch: i64,
) -> Result<Package> {
    if !placed.iter().any(|p| p.name == layout::SHIM) {
        bail!("the {} package would not install {}, the module IIS is registered with", config.platform, layout::SHIM);
    }
    let mut files = placed.iter().map(|p| PackageFile::read(p.dir, &p.name, &p.source)).collect::<Result<Vec<_>>>()?;
    // The section script beside the shim the package registers (64-bit folder on 64-bit Windows).
    let main =
        if config.platform.is_64bit() { msi::InstallDir::ProgramFiles64 } else { msi::InstallDir::ProgramFilesX86 };
    let script = project.root.join(layout::SCHEMA_DIR).join(layout::SECTIONS_SCRIPT);
    files.push(PackageFile::read(main, layout::SECTIONS_SCRIPT, &script)?);
    files.sort_by_key(|f| (!f.dir.is_64bit(), f.name.clone()));
    Ok(Package {
        platform: config.platform,
        product_name: project.product.clone(),
        manufacturer: project.company.clone(),
        version: project.version,
        upgrade_code: config.upgrade_code,
        sibling_upgrade_codes: all.iter().filter(|c| c.platform != config.platform).map(|c| c.upgrade_code).collect(),
        folder: project.product.clone(),
        files,
        // One path for every worker: `%ProgramFiles%` expands per process bitness (docs/iis.md §2.1).
        iis_module: Some(IisModule {
            name: project.product.clone(),
            image: format!("%ProgramFiles%\\{}\\{}", project.product, layout::SHIM),
        }),
        iis_schema: Some(layout::iis_schema(&project.root)?),
        source_date_epoch: epoch,
    })
}

fn write_platform(package: &Package, out_dir: &Path, previous: Option<&Path>) -> Result<PlatformOutput> {
    let stem = format!("archway-{}-{}", package.version_string(), package.platform);
    let msi_path = out_dir.join(format!("{stem}.msi"));
    let written = msi::write_msi(package, &msi_path)?;
    let previous_msi = previous.map(|dir| previous_package(dir, package.platform)).transpose()?;
    let check = msi::check_files(&msi_path, previous_msi.as_deref())?;
    if check.errors() > 0 {
        // `run` removes the whole staging folder on any error, this MSI with it.
        bail!("{} fails the MSI checks:\n{}", msi_path.file_name().unwrap().to_string_lossy(), check.render());
    }
    if check.warnings() > 0 {
        eprintln!("{}", check.render());
    }

    // The zip holds the MSI's install tree: the Program Files files, then every schema copy.
    let mut entries: Vec<(String, Vec<u8>)> = package
        .files
        .iter()
        .map(|f| (format!("{}/{}/{}", f.dir.windows_name(), package.folder, f.name), f.bytes.clone()))
        .collect();
    let schema_files = schema_copies(package);
    entries.extend(schema_files.iter().map(|(file, bytes)| (file.install_path.replace('\\', "/"), bytes.clone())));
    let zip_path = out_dir.join(format!("{stem}.zip"));
    let zip = archive::zip(&entries, package.source_date_epoch)?;
    fsx::write_atomic(&zip_path, &zip)?;

    let files = package
        .files
        .iter()
        .map(|f| InstalledFile {
            install_path: format!("{}\\{}\\{}", f.dir.windows_name(), package.folder, f.name),
            size: f.bytes.len() as u64,
            sha256: fsx::sha256_hex(&f.bytes),
            machine: f.pe.as_ref().map(|pe| matrix::machine::name(pe.machine, Some(pe.hybrid))),
            version: f.pe.as_ref().and_then(|pe| pe.version).map(project::dotted),
        })
        .collect();
    let artifact = |path: &Path, bytes: &[u8]| Artifact {
        file: path.file_name().unwrap().to_string_lossy().into_owned(),
        size: bytes.len() as u64,
        sha256: fsx::sha256_hex(bytes),
    };
    Ok(PlatformOutput {
        platform: package.platform.to_string(),
        msi: artifact(&msi_path, &written.bytes),
        zip: artifact(&zip_path, &zip),
        package_code: msi::braced(written.package_code),
        product_code: msi::braced(written.product_code),
        files,
        schema_files: schema_files.into_iter().map(|(file, _)| file).collect(),
    })
}

/// The one `archway-*-<platform>.msi` in `dir`.
fn previous_package(dir: &Path, platform: Platform) -> Result<PathBuf> {
    let suffix = format!("-{platform}.msi");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list --previous {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if name.starts_with("archway-") && name.ends_with(&suffix) {
            found.push(path);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("--previous {}: no archway-<version>{suffix} to check the new package against", dir.display()),
        _ => bail!("--previous {}: several archway-*{suffix}; keep only the last release there", dir.display()),
    }
}

fn print_summary(manifest: &Manifest, out_dir: &Path) {
    eprintln!("{:<8} {:>10} {:>10} {:>6}  msi", "platform", "msi bytes", "zip bytes", "files");
    for p in &manifest.packages {
        eprintln!("{:<8} {:>10} {:>10} {:>6}  {}", p.platform, p.msi.size, p.zip.size, p.files.len(), p.msi.file);
    }
    eprintln!("archway {} packages in {} (manifest.json, SHA256SUMS)", manifest.version, out_dir.display());
}
