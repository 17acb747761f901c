//! Authenticode signing: `cargo xtask sign FILE…` and `cargo xtask dist --sign`, which signs
//! every shipped PE (forwarders included) before the MSIs are written from them, then each MSI.
//! Keys and passwords come only from environment variables or files they name, never from an
//! echoed command line; a wrong password or a missing certificate fails on a throwaway copy
//! before any output is written.
//!
//! Signing changes bytes: a signed PE has a certificate table and a new checksum, so its
//! SHA-256 (in `manifest.json`) and size (in the MSI's File table, written from the signed
//! file) differ from the unsigned build; with an RFC 3161 timestamp the signature differs on
//! every run. Without a timestamp, osslsigncode's signature is a function of key, content and
//! `-time` (SOURCE_DATE_EPOCH), so a re-run with the same key gives the same bytes. Unsigned
//! builds are untouched: reproducibility claims are about them.

pub mod backend;
mod env;

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
    time::Duration,
};

use anyhow::{Context, Result, bail};

use crate::{build::BuildReport, fsx, project::Project};
pub use backend::Key;
pub use env::{Tool, from_env};

/// A configured signer: the tool, the key, the password file (if any) and the options.
pub struct Signer {
    pub tool: Tool,
    pub key: Key,
    password: Option<env::PasswordFile>,
    pub options: backend::Options,
}

const SIGN_DEADLINE: Duration = Duration::from_secs(5 * 60);

impl Signer {
    pub fn new(tool: Tool, key: Key, password: Option<env::PasswordFile>, options: backend::Options) -> Result<Signer> {
        match (&tool, &key) {
            (Tool::Osslsigncode(_), Key::Store { .. }) => bail!(
                "osslsigncode cannot use a Windows certificate store; set ARCHWAY_SIGN_PKCS12 or ARCHWAY_SIGN_PKCS11_MODULE"
            ),
            (Tool::Signtool(_), Key::Pkcs12 { .. } | Key::Pkcs11 { .. }) => {
                bail!(
                    "signtool signs here from a certificate store only (its PFX password would be on the command line): import the certificate and set ARCHWAY_SIGN_CERT_SHA1"
                )
            }
            _ => Ok(Signer { tool, key, password, options }),
        }
    }

    /// The command that signs `input` into `output` (signtool: signs `output`, a copy, in place).
    pub fn command(&self, input: &Path, output: &Path) -> crate::cmd::Cmd {
        match &self.tool {
            Tool::Osslsigncode(tool) => backend::osslsigncode(
                tool,
                &self.key,
                self.password.as_ref().map(|p| p.path()),
                &self.options,
                input,
                output,
            ),
            Tool::Signtool(tool) => backend::signtool(tool, &self.key, &self.options, output),
        }
    }

    /// Signs `file` in place: the signature goes to a temporary file beside it, renamed over the
    /// original only when the tool succeeded.
    pub fn sign_in_place(&self, file: &Path) -> Result<()> {
        let name = file
            .file_name()
            .with_context(|| format!("{} is not a file", file.display()))?
            .to_string_lossy()
            .into_owned();
        let tmp = file.with_file_name(format!(".{name}.signing"));
        let _ = std::fs::remove_file(&tmp);
        if matches!(self.tool, Tool::Signtool(_)) {
            std::fs::copy(file, &tmp).with_context(|| format!("cannot copy {} for signing", file.display()))?;
        }
        let result = self.command(file, &tmp).timeout(SIGN_DEADLINE).run();
        if let Err(err) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(err.context(format!("signing {} failed", file.display())));
        }
        std::fs::rename(&tmp, file).with_context(|| format!("cannot replace {} with its signed copy", file.display()))
    }

    /// Signs a throwaway copy of `sample`: a wrong password, a missing certificate or an
    /// unreachable timestamp server fails here, before any output is touched.
    pub fn preflight(&self, sample: &Path) -> Result<()> {
        let dir = tempfile::tempdir().context("cannot make a temporary folder for the signing check")?;
        let copy = dir.path().join(sample.file_name().unwrap_or_default());
        std::fs::copy(sample, &copy).with_context(|| format!("cannot copy {}", sample.display()))?;
        self.sign_in_place(&copy).with_context(|| {
            format!("the signing check on a copy of {} failed, so nothing was signed (check the key, its password and the certificate)", sample.display())
        })
    }
}

/// Whether a PE image carries an Authenticode certificate table (data directory 4).
pub fn pe_is_signed(bytes: &[u8]) -> bool {
    let u16_at = |o: usize| bytes.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| bytes.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let Some(pe) = u32_at(0x3c).map(|v| v as usize) else { return false };
    if bytes.get(pe..pe + 4) != Some(b"PE\0\0") {
        return false;
    }
    let optional = pe + 24;
    let dirs = match u16_at(optional) {
        Some(0x10b) => optional + 96,
        Some(0x20b) => optional + 112,
        _ => return false,
    };
    let (Some(rva), Some(size)) = (u32_at(dirs + 4 * 8), u32_at(dirs + 4 * 8 + 4)) else { return false };
    rva != 0 && size != 0
}

/// Whether an MSI (a compound file) holds the `\u{5}DigitalSignature` stream.
pub fn msi_is_signed(path: &Path) -> Result<bool> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let cf = cfb::CompoundFile::open(file).with_context(|| format!("{}: not a compound file", path.display()))?;
    Ok(cf.exists("\u{5}DigitalSignature"))
}

/// The cabinet members of an MSI (by File key) that are PE images without a certificate table:
/// in a package built with `--sign`, each is an error (rule `unsigned-pe`).
pub fn unsigned_pes(msi: &Path) -> Result<Vec<String>> {
    let package = crate::msi::read_msi(msi)?;
    Ok(package
        .payloads
        .iter()
        .filter(|(_, bytes)| bytes.starts_with(b"MZ") && !pe_is_signed(bytes))
        .map(|(key, _)| key.clone())
        .collect())
}

/// The signer `dist --sign` armed for this process (main.rs), used by [`around`].
static ARMED: OnceLock<Signer> = OnceLock::new();

pub fn arm(signer: Signer) {
    if ARMED.set(signer).is_err() {
        panic!("sign::arm called twice");
    }
}

/// `dist`'s one hook: with no signer armed, `write(report)`. Otherwise the shipped DLLs are
/// copied to `target/archway/signed/bin` and signed there (the build's own outputs stay as the
/// linker made them), the packages are written from those, then each MSI in `out_dir` is signed
/// and checked again, and `manifest.json` and `SHA256SUMS` get the signed MSIs' digests.
pub fn around<T>(
    project: &Project,
    report: &BuildReport,
    out_dir: &Path,
    write: impl FnOnce(&BuildReport) -> Result<T>,
) -> Result<T> {
    let Some(signer) = ARMED.get() else { return write(report) };
    let signed_dir = project.target_dir.join("archway").join("signed").join("bin");
    if signed_dir.exists() {
        std::fs::remove_dir_all(&signed_dir).with_context(|| format!("cannot clear {}", signed_dir.display()))?;
    }
    std::fs::create_dir_all(&signed_dir).with_context(|| format!("cannot create {}", signed_dir.display()))?;
    let mut dlls: Vec<PathBuf> = std::fs::read_dir(&report.bin_dir)
        .with_context(|| format!("cannot list {}", report.bin_dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    dlls.retain(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("dll")));
    dlls.sort();
    let Some(first) = dlls.first() else { bail!("{} holds no DLL to sign", report.bin_dir.display()) };
    signer.preflight(first)?;
    eprintln!("[sign] {} DLLs (forwarders included) in {}", dlls.len(), signed_dir.display());
    for dll in &dlls {
        let copy = signed_dir.join(dll.file_name().unwrap());
        std::fs::copy(dll, &copy).with_context(|| format!("cannot copy {}", dll.display()))?;
        signer.sign_in_place(&copy)?;
        if !pe_is_signed(&std::fs::read(&copy)?) {
            bail!("{}: signed, yet it has no certificate table", copy.display());
        }
    }
    let mut signed = report.clone();
    signed.bin_dir = signed_dir.clone();
    for w in &mut signed.forwarders {
        w.path = signed_dir.join(w.path.file_name().unwrap());
    }
    let result = write(&signed)?;
    sign_msis(signer, out_dir)?;
    Ok(result)
}

/// What `manifest.json` says about the signatures, so a reader knows which bytes an unsigned
/// rebuild can reproduce (the signed files' digests cannot match an unsigned build's).
fn signature_note(signer: &Signer) -> serde_json::Value {
    let tool = match signer.tool {
        Tool::Osslsigncode(_) => "osslsigncode",
        Tool::Signtool(_) => "signtool",
    };
    serde_json::json!({
        "tool": tool,
        "timestamped": signer.options.timestamp_url.is_some(),
        "what": "every PE (Authenticode, SHA-256) before the MSIs were written, then each MSI; the digests here are of the signed files",
    })
}

/// Signs every MSI of a package folder, lints it again, and rewrites the digests that name it.
fn sign_msis(signer: &Signer, out_dir: &Path) -> Result<()> {
    let mut msis: Vec<PathBuf> =
        std::fs::read_dir(out_dir)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>()?;
    msis.retain(|p| p.extension().is_some_and(|e| e == "msi"));
    msis.sort();
    for msi in &msis {
        eprintln!("[sign] {}", msi.file_name().unwrap().to_string_lossy());
        signer.sign_in_place(msi)?;
        if !msi_is_signed(msi)? {
            bail!("{}: signed, yet it has no DigitalSignature stream", msi.display());
        }
        let unsigned = unsigned_pes(msi)?;
        if !unsigned.is_empty() {
            bail!(
                "{}: unsigned-pe: built with --sign, yet it installs unsigned PE files: {}",
                msi.display(),
                unsigned.join(", ")
            );
        }
        let check = crate::msi::check_files(msi, None)?;
        if check.errors() > 0 {
            bail!("{} fails the MSI checks once signed:\n{}", msi.display(), check.render());
        }
    }
    update_digests(out_dir, &msis, signature_note(signer))
}

/// `manifest.json`'s `msi` entries and every line of `SHA256SUMS`, from the files as they are now.
fn update_digests(out_dir: &Path, msis: &[PathBuf], note: serde_json::Value) -> Result<()> {
    let manifest_path = out_dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path)?).context("manifest.json")?;
    manifest["signed"] = note;
    for msi in msis {
        let name = msi.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(msi)?;
        let packages = manifest["packages"].as_array_mut().context("manifest.json has no packages")?;
        let entry = packages
            .iter_mut()
            .map(|p| &mut p["msi"])
            .find(|m| m["file"] == name.as_str())
            .with_context(|| format!("manifest.json does not list {name}"))?;
        entry["size"] = bytes.len().into();
        entry["sha256"] = fsx::sha256_hex(&bytes).into();
    }
    let json = serde_json::to_string_pretty(&manifest)? + "\n";
    fsx::write_atomic(&manifest_path, json.as_bytes())?;
    let sums_path = out_dir.join("SHA256SUMS");
    let mut text = String::new();
    for line in std::fs::read_to_string(&sums_path)?.lines() {
        let (_, name) = line.split_once("  ").with_context(|| format!("SHA256SUMS: unexpected line {line:?}"))?;
        text += &format!("{}  {name}\n", fsx::hash_file(&out_dir.join(name))?);
    }
    fsx::write_atomic(&sums_path, text.as_bytes())
}

/// Authenticode-sign PE files and MSIs in place (osslsigncode anywhere, signtool on Windows).
#[derive(clap::Args, Clone, Debug)]
#[command(
    after_help = "Examples:\n  ARCHWAY_SIGN_PKCS12=release.p12 ARCHWAY_SIGN_PASSWORD_FILE=pw cargo xtask sign a.dll b.msi\n  \
    cargo xtask dist --sign --timestamp-url http://timestamp.example.com\n\n\
    Keys come only from the environment: ARCHWAY_SIGN_PKCS12 with ARCHWAY_SIGN_PASSWORD_FILE (or\n\
    ARCHWAY_SIGN_PASSWORD); a PKCS#11 token with ARCHWAY_SIGN_PKCS11_MODULE, ARCHWAY_SIGN_PKCS11_KEY and\n\
    ARCHWAY_SIGN_CERTS (or ARCHWAY_SIGN_PKCS11_CERT); on Windows, signtool with ARCHWAY_SIGN_CERT_SHA1\n\
    (a certificate in a store). ARCHWAY_SIGN_TIMESTAMP_URL adds an RFC 3161 timestamp. A copy of the\n\
    first file is signed first: a wrong password or certificate fails before any file changes."
)]
pub struct Args {
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// RFC 3161 timestamp server (else ARCHWAY_SIGN_TIMESTAMP_URL; none by default).
    #[arg(long, value_name = "URL", conflicts_with = "verify")]
    pub timestamp_url: Option<String>,
    /// Only verify the files' signatures (osslsigncode verify; signtool verify /pa on Windows).
    #[arg(long)]
    pub verify: bool,
    /// With --verify: the CA certificate(s) to trust, as PEM (default: the system's).
    #[arg(long, value_name = "PEM", requires = "verify")]
    pub ca: Option<PathBuf>,
}

/// `cargo xtask sign` (no checkout needed): sign, or with `--verify` check, the files.
pub fn run_verb(args: Args) -> Result<()> {
    match args.verify {
        true => verify(&args.files, args.ca.as_deref()),
        false => run(&args.files, args.timestamp_url),
    }
}

/// `cargo xtask sign FILE…`: PEs first, then MSIs, each in place, after a check on a copy.
pub fn run(files: &[PathBuf], timestamp_url: Option<String>) -> Result<()> {
    let signer = from_env(timestamp_url)?;
    for file in files {
        if !file.is_file() {
            bail!("{}: no such file", file.display());
        }
    }
    let (mut msis, mut pes): (Vec<&PathBuf>, Vec<&PathBuf>) =
        files.iter().partition(|f| f.extension().is_some_and(|e| e.eq_ignore_ascii_case("msi")));
    pes.sort();
    msis.sort();
    signer.preflight(pes.first().or(msis.first()).expect("clap requires one file"))?;
    for file in pes.into_iter().chain(msis) {
        signer.sign_in_place(file)?;
        println!("signed {}", file.display());
    }
    Ok(())
}

/// `cargo xtask sign --verify FILE…`: each file's signature checked by osslsigncode (against
/// `ca`, else the system's CA bundle) or, on Windows without osslsigncode, by `signtool verify /pa`.
pub fn verify(files: &[PathBuf], ca: Option<&Path>) -> Result<()> {
    let osslsigncode = env::tool_on_path(&["osslsigncode", "osslsigncode.exe"]);
    let mut failed = 0;
    for file in files {
        let cmd = match (&osslsigncode, ca) {
            (Some(tool), Some(ca)) => backend::osslsigncode_verify(tool, ca, file),
            (Some(tool), None) => crate::cmd::Cmd::new(tool).arg("verify").arg("-in").arg(file),
            (None, _) if cfg!(windows) => {
                let tool = env::signtool().context("neither osslsigncode nor signtool.exe was found to verify with")?;
                backend::signtool_verify(&tool, file)
            }
            (None, _) => bail!("osslsigncode was not found on PATH: `apt-get install osslsigncode`"),
        };
        let cmd = cmd.timeout(SIGN_DEADLINE);
        let out = cmd.output()?;
        // A signed MSI vouches for its own bytes only: the PEs it installs need their own.
        let unsigned = if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("msi")) {
            unsigned_pes(file)?
        } else {
            Vec::new()
        };
        if !out.success {
            failed += 1;
            println!("NOT VALID {}\n{}", file.display(), cmd.failure(&out));
        } else if !unsigned.is_empty() {
            failed += 1;
            println!(
                "NOT VALID {}: unsigned-pe: it installs unsigned PE files: {}",
                file.display(),
                unsigned.join(", ")
            );
        } else {
            println!("verified  {}", file.display());
        }
    }
    match failed {
        0 => Ok(()),
        n => bail!("{n} of {} file(s) failed verification", files.len()),
    }
}

#[cfg(test)]
mod tests;
