//! The command lines of the two signing tools, built from a [`Key`] and nothing else, so tests
//! can record them: osslsigncode (any host; a PKCS#12 file or a PKCS#11 token) and signtool
//! (Windows; a certificate in a certificate store). No argument ever holds a secret: the
//! password or PIN reaches osslsigncode through `-readpass <file>`, and signtool takes none.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;

/// Where the signing key is.
#[derive(Clone, Debug)]
pub enum Key {
    /// osslsigncode with a PKCS#12 (.p12/.pfx) file.
    Pkcs12 { file: PathBuf },
    /// osslsigncode with a PKCS#11 token: the module (`.so`/`.dll`), an optional OpenSSL
    /// engine, the key's URI or id, and the certificate as a PEM file or as a URI on the token.
    Pkcs11 { module: PathBuf, engine: Option<PathBuf>, key: String, cert: Cert },
    /// signtool with a certificate (and its private key) in a Windows certificate store,
    /// chosen by SHA-1 thumbprint: imported beforehand, so no password is on the command line.
    Store { sha1: String, store: String, machine: bool },
}

#[derive(Clone, Debug)]
pub enum Cert {
    File(PathBuf),
    Token(String),
}

/// What every signature carries.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// RFC 3161 timestamp server.
    pub timestamp_url: Option<String>,
    /// The signing time recorded in the signature (osslsigncode `-time`): SOURCE_DATE_EPOCH, so
    /// an untimestamped signature made twice with the same key is the same bytes.
    pub time: Option<u64>,
    /// The description shown by Windows' signature dialog.
    pub description: String,
}

/// `osslsigncode sign … -in input -out output`; `password_file` holds the PKCS#12 password or the
/// token PIN.
pub fn osslsigncode(
    tool: &Path,
    key: &Key,
    password_file: Option<&Path>,
    opts: &Options,
    input: &Path,
    output: &Path,
) -> Cmd {
    let mut cmd = Cmd::new(tool).arg("sign");
    match key {
        Key::Pkcs12 { file } => cmd = cmd.arg("-pkcs12").arg(file),
        Key::Pkcs11 { module, engine, key, cert } => {
            if let Some(engine) = engine {
                cmd = cmd.arg("-pkcs11engine").arg(engine);
            }
            cmd = cmd.arg("-pkcs11module").arg(module);
            cmd = match cert {
                Cert::File(file) => cmd.arg("-certs").arg(file),
                Cert::Token(uri) => cmd.arg("-pkcs11cert").arg(uri),
            };
            cmd = cmd.arg("-key").arg(key);
        }
        Key::Store { .. } => unreachable!("a certificate-store key is signtool's (Signer::new checks)"),
    }
    if let Some(file) = password_file {
        cmd = cmd.arg("-readpass").arg(file);
    }
    cmd = cmd.args(["-h", "sha256", "-n"]).arg(&opts.description);
    if let Some(time) = opts.time {
        cmd = cmd.arg("-time").arg(time.to_string());
    }
    if let Some(url) = &opts.timestamp_url {
        cmd = cmd.arg("-ts").arg(url);
    }
    cmd.arg("-in").arg(input).arg("-out").arg(output)
}

/// `signtool sign …` of `file` in place (the caller signs a copy and renames it).
pub fn signtool(tool: &Path, key: &Key, opts: &Options, file: &Path) -> Cmd {
    let Key::Store { sha1, store, machine } = key else {
        unreachable!("signtool signs from a certificate store (Signer::new checks)")
    };
    let mut cmd = Cmd::new(tool).args(["sign", "/fd", "SHA256", "/sha1"]).arg(sha1).arg("/s").arg(store);
    if *machine {
        cmd = cmd.arg("/sm");
    }
    cmd = cmd.arg("/d").arg(&opts.description);
    if let Some(url) = &opts.timestamp_url {
        cmd = cmd.arg("/tr").arg(url).args(["/td", "SHA256"]);
    }
    cmd.arg(file)
}

/// `osslsigncode verify` against a CA file: the check an independent reader makes.
pub fn osslsigncode_verify(tool: &Path, ca: &Path, file: &Path) -> Cmd {
    Cmd::new(tool).arg("verify").arg("-CAfile").arg(ca).arg("-in").arg(file)
}

/// `signtool verify /pa` (the default Authenticode policy).
pub fn signtool_verify(tool: &Path, file: &Path) -> Cmd {
    Cmd::new(tool).args(["verify", "/pa", "/all"]).arg(file)
}
