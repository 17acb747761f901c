//! The signer's configuration from the environment, and nowhere else: which tool, which key,
//! the password (a file it names, or a variable copied into a private temporary file that is
//! deleted afterwards), the timestamp server. Every missing or contradictory piece is an error
//! naming the variable.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `ARCHWAY_SIGN_PKCS12` | a .p12/.pfx file (osslsigncode) |
//! | `ARCHWAY_SIGN_PKCS11_MODULE`, `ARCHWAY_SIGN_PKCS11_KEY` | a PKCS#11 token's module and key URI (osslsigncode) |
//! | `ARCHWAY_SIGN_CERTS` or `ARCHWAY_SIGN_PKCS11_CERT` | with PKCS#11: the certificate chain as a PEM file, or the certificate's URI on the token |
//! | `ARCHWAY_SIGN_PKCS11_ENGINE` | with PKCS#11: the OpenSSL engine (only where OpenSSL needs one) |
//! | `ARCHWAY_SIGN_PASSWORD_FILE` or `ARCHWAY_SIGN_PASSWORD` | the PKCS#12 password or token PIN |
//! | `ARCHWAY_SIGN_CERT_SHA1` | signtool: the thumbprint of a certificate in a store (`ARCHWAY_SIGN_CERT_STORE`, default `My`; `ARCHWAY_SIGN_MACHINE_STORE=1` for the machine's) |
//! | `ARCHWAY_SIGN_TIMESTAMP_URL` | an RFC 3161 timestamp server (or `--timestamp-url`) |
//! | `ARCHWAY_OSSLSIGNCODE`, `ARCHWAY_SIGNTOOL` | the tool's path, when not on PATH (signtool: also the newest Windows SDK's) |

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};

use super::{
    Signer,
    backend::{Cert, Key, Options},
};

#[derive(Clone, Debug)]
pub enum Tool {
    Osslsigncode(PathBuf),
    Signtool(PathBuf),
}

/// The password or PIN as a file osslsigncode reads (`-readpass`): the one the user named, or a
/// private copy of the variable's value (mode 0600 on Unix), deleted when dropped.
pub struct PasswordFile {
    path: PathBuf,
    _owned: Option<tempfile::TempPath>,
}

impl PasswordFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn from_value(value: &str) -> Result<PasswordFile> {
        let mut file = tempfile::Builder::new()
            .prefix("archway-sign-")
            .tempfile()
            .context("cannot create a private file for the signing password")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(value.as_bytes())?;
        file.flush()?;
        let path = file.into_temp_path();
        Ok(PasswordFile { path: path.to_path_buf(), _owned: Some(path) })
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A file named by `name`, which must exist.
fn file_var(name: &str) -> Result<Option<PathBuf>> {
    match var(name) {
        None => Ok(None),
        Some(v) => {
            let path = PathBuf::from(&v);
            if !path.is_file() {
                bail!("{name}={v}: no such file");
            }
            Ok(Some(path))
        }
    }
}

/// The first of `names` in PATH.
pub fn tool_on_path(names: &[&str]) -> Option<PathBuf> {
    on_path(names)
}

/// signtool.exe: ARCHWAY_SIGNTOOL, PATH, then the newest Windows SDK's.
pub fn signtool() -> Option<PathBuf> {
    file_var("ARCHWAY_SIGNTOOL").ok().flatten().or_else(|| on_path(&["signtool.exe"])).or_else(sdk_signtool)
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|d| names.iter().map(move |n| d.join(n))).find(|p| p.is_file())
}

/// signtool.exe of the newest Windows SDK for this host (docs/toolchains.md §1.5: `bin\<ver>\<host>`).
fn sdk_signtool() -> Option<PathBuf> {
    let root = PathBuf::from(std::env::var_os("ProgramFiles(x86)")?).join("Windows Kits").join("10").join("bin");
    let host = if cfg!(target_arch = "aarch64") { "arm64" } else { "x64" };
    let mut versions: Vec<PathBuf> = std::fs::read_dir(&root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(host).join("signtool.exe").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.file_name().map(|n| n.to_string_lossy().split('.').map(|x| x.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>())
    });
    versions.pop().map(|v| v.join(host).join("signtool.exe"))
}

/// The password or PIN, from `ARCHWAY_SIGN_PASSWORD_FILE` or `ARCHWAY_SIGN_PASSWORD`.
fn password() -> Result<Option<PasswordFile>> {
    if let Some(path) = file_var("ARCHWAY_SIGN_PASSWORD_FILE")? {
        if std::env::var_os("ARCHWAY_SIGN_PASSWORD").is_some() {
            bail!("set ARCHWAY_SIGN_PASSWORD_FILE or ARCHWAY_SIGN_PASSWORD, not both");
        }
        return Ok(Some(PasswordFile { path, _owned: None }));
    }
    // An empty value is a real (empty) password here, unlike the other variables.
    match std::env::var("ARCHWAY_SIGN_PASSWORD") {
        Ok(value) => Ok(Some(PasswordFile::from_value(&value)?)),
        Err(_) => Ok(None),
    }
}

/// The signer the environment describes, or an error naming what is missing.
pub fn from_env(timestamp_url: Option<String>) -> Result<Signer> {
    let timestamp_url = timestamp_url.or_else(|| var("ARCHWAY_SIGN_TIMESTAMP_URL"));
    if let Some(url) = &timestamp_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bail!("timestamp URL {url:?}: an RFC 3161 server's http:// or https:// URL");
    }
    let options = Options { timestamp_url, time: crate::project::source_date_epoch()?, description: "Archway".into() };
    let pkcs12 = file_var("ARCHWAY_SIGN_PKCS12")?;
    let module = file_var("ARCHWAY_SIGN_PKCS11_MODULE")?;
    let thumbprint = var("ARCHWAY_SIGN_CERT_SHA1");
    let chosen = [pkcs12.is_some(), module.is_some(), thumbprint.is_some()].iter().filter(|b| **b).count();
    if chosen == 0 {
        bail!(
            "no signing key: set ARCHWAY_SIGN_PKCS12 (a .p12/.pfx file, with ARCHWAY_SIGN_PASSWORD_FILE or ARCHWAY_SIGN_PASSWORD), \
             ARCHWAY_SIGN_PKCS11_MODULE and ARCHWAY_SIGN_PKCS11_KEY (a token), or, on Windows, ARCHWAY_SIGN_CERT_SHA1 (signtool, a certificate in a store)"
        );
    }
    if chosen > 1 {
        bail!("set only one of ARCHWAY_SIGN_PKCS12, ARCHWAY_SIGN_PKCS11_MODULE and ARCHWAY_SIGN_CERT_SHA1");
    }
    if let Some(sha1) = thumbprint {
        if !(sha1.len() == 40 && sha1.bytes().all(|b| b.is_ascii_hexdigit())) {
            bail!("ARCHWAY_SIGN_CERT_SHA1={sha1}: a certificate thumbprint is 40 hex digits");
        }
        let tool = file_var("ARCHWAY_SIGNTOOL")?.or_else(|| on_path(&["signtool.exe"])).or_else(sdk_signtool).context(
            "signtool.exe was not found (PATH, the Windows SDK's bin folder): install the Windows SDK's signing tools or set ARCHWAY_SIGNTOOL",
        )?;
        let key = Key::Store {
            sha1,
            store: var("ARCHWAY_SIGN_CERT_STORE").unwrap_or_else(|| "My".into()),
            machine: var("ARCHWAY_SIGN_MACHINE_STORE").as_deref() == Some("1"),
        };
        return Signer::new(Tool::Signtool(tool), key, None, options);
    }
    let tool = file_var("ARCHWAY_OSSLSIGNCODE")?.or_else(|| on_path(&["osslsigncode", "osslsigncode.exe"])).context(
        "osslsigncode was not found on PATH: `apt-get install osslsigncode` (Debian/Ubuntu), or set ARCHWAY_OSSLSIGNCODE",
    )?;
    let password = password()?;
    let key = match (pkcs12, module) {
        (Some(file), None) => {
            if password.is_none() {
                bail!(
                    "ARCHWAY_SIGN_PKCS12 needs its password: set ARCHWAY_SIGN_PASSWORD_FILE (a file holding it) or ARCHWAY_SIGN_PASSWORD (empty for none)"
                );
            }
            Key::Pkcs12 { file }
        }
        (None, Some(module)) => {
            let key = var("ARCHWAY_SIGN_PKCS11_KEY")
                .context("ARCHWAY_SIGN_PKCS11_MODULE needs ARCHWAY_SIGN_PKCS11_KEY, the key's PKCS#11 URI or id")?;
            for (name, value) in [
                ("ARCHWAY_SIGN_PKCS11_KEY", Some(&key)),
                ("ARCHWAY_SIGN_PKCS11_CERT", var("ARCHWAY_SIGN_PKCS11_CERT").as_ref()),
            ] {
                if value.is_some_and(|v| v.contains("pin-value") || v.contains("pin-source")) {
                    bail!(
                        "{name} holds a PIN, which would be on the command line: put the PIN in ARCHWAY_SIGN_PASSWORD_FILE or ARCHWAY_SIGN_PASSWORD"
                    );
                }
            }
            let cert = match (file_var("ARCHWAY_SIGN_CERTS")?, var("ARCHWAY_SIGN_PKCS11_CERT")) {
                (Some(file), None) => Cert::File(file),
                (None, Some(uri)) => Cert::Token(uri),
                (None, None) => bail!(
                    "a PKCS#11 key needs its certificate: ARCHWAY_SIGN_CERTS (a PEM file with the chain) or ARCHWAY_SIGN_PKCS11_CERT (its URI on the token)"
                ),
                (Some(_), Some(_)) => bail!("set ARCHWAY_SIGN_CERTS or ARCHWAY_SIGN_PKCS11_CERT, not both"),
            };
            Key::Pkcs11 { module, engine: file_var("ARCHWAY_SIGN_PKCS11_ENGINE")?, key, cert }
        }
        _ => unreachable!("exactly one key source (checked above)"),
    };
    Signer::new(Tool::Osslsigncode(tool), key, password, options)
}
