//! Signing end to end with a throwaway CA and code-signing certificate made by the test
//! (openssl): `cargo xtask dist --sign` gives packages whose every PE, inside every MSI, and
//! every MSI verify with `osslsigncode verify` (an independent reader), that msitools still
//! reads and the lint still passes; the build's own unsigned outputs stay as linked; a wrong
//! password, a missing certificate or an unreachable timestamp server fails before any file
//! changes; a PKCS#11 token (SoftHSM2) signs too; and no secret reaches a printed command line.

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use support::*;

const PASSWORD: &str = "correct horse battery staple";

/// A CA, a code-signing certificate it issued, and that certificate with its key as PKCS#12.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    fn p12(&self) -> PathBuf {
        self.dir.path().join("signing.p12")
    }
    fn password_file(&self) -> PathBuf {
        self.dir.path().join("password")
    }
}

fn tool(name: &str, how: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    if !found {
        missing(name, how);
    }
    found
}

/// The signing and PKI tools answer in seconds.
fn run(cmd: &mut Command) -> Output {
    run_ok_within(cmd, Duration::from_secs(120))
}

fn pki() -> Option<Pki> {
    if !tool("openssl", "`apt-get install openssl`") || !tool("osslsigncode", "`apt-get install osslsigncode`") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ca.cnf"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
    )
    .unwrap();
    std::fs::write(
        d.join("leaf.cnf"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(d));
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.csr",
        "-subj",
        "/CN=Archway Test CA",
    ]);
    openssl(&[
        "x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-days", "3650", "-extfile", "ca.cnf", "-out", "ca.pem",
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=Archway Test Signing",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "2",
        "-days",
        "3650",
        "-extfile",
        "leaf.cnf",
        "-out",
        "leaf.pem",
    ]);
    std::fs::write(d.join("password"), PASSWORD).unwrap();
    openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        "leaf.key",
        "-in",
        "leaf.pem",
        "-certfile",
        "ca.pem",
        "-out",
        "signing.p12",
        "-passout",
        "file:password",
    ]);
    Some(Pki { dir })
}

/// The xtask in `dir` with exactly these signing variables (all others removed).
fn xtask_signing(dir: &Path, args: &[&str], vars: &[(&str, &Path)]) -> Output {
    let mut cmd = xtask_cmd(dir, args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ARCHWAY_SIGN") {
            cmd.env_remove(key);
        }
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    output_within(&mut cmd, DEADLINE)
}

fn verifies(ca: &Path, file: &Path) -> bool {
    let out = output_within(
        Command::new("osslsigncode").arg("verify").arg("-CAfile").arg(ca).arg("-in").arg(file),
        Duration::from_secs(60),
    );
    out.status.success()
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        if entry.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)) {
            out.push(entry);
        }
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

/// The built DLLs (as `.ci/run` leaves them), copied; none when the tree was not built.
fn some_dlls(into: &Path) -> Option<Vec<PathBuf>> {
    let bin = bin_dir(&repo_root());
    let names = ["archway_x64.dll", "archway_x86.dll", "archway.dll"];
    if !names.iter().all(|n| bin.join(n).is_file()) {
        missing("the release build (target/archway/release/bin)", "run `cargo xtask build` first (.ci/run does)");
        return None;
    }
    Some(
        names
            .iter()
            .map(|n| {
                let to = into.join(n);
                std::fs::copy(bin.join(n), &to).unwrap();
                to
            })
            .collect(),
    )
}

#[test]
fn the_sign_verb_signs_pes_that_osslsigncode_verifies() {
    let Some(pki) = pki() else { return };
    let work = tempfile::tempdir().unwrap();
    let Some(dlls) = some_dlls(work.path()) else { return };
    assert!(!verifies(&pki.ca(), &dlls[0]), "an unsigned DLL verified: the check cannot fail");
    let mut args = vec!["sign"];
    args.extend(dlls.iter().map(|p| p.to_str().unwrap()));
    let out = xtask_signing(
        &repo_root(),
        &args,
        &[("ARCHWAY_SIGN_PKCS12", &pki.p12()), ("ARCHWAY_SIGN_PASSWORD_FILE", &pki.password_file())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for dll in &dlls {
        assert!(verifies(&pki.ca(), dll), "{} does not verify", dll.display());
    }
    let ca = pki.ca();
    let mut verify = vec!["sign", "--verify", "--ca", ca.to_str().unwrap()];
    verify.extend(dlls.iter().map(|p| p.to_str().unwrap()));
    let out = xtask_signing(&repo_root(), &verify, &[]);
    assert!(out.status.success() && stdout(&out).matches("verified ").count() == 3, "{}{}", stdout(&out), stderr(&out));
}

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The PKCS#11 path with a software token (SoftHSM2): the key goes onto the token, the
/// certificate chain stays a PEM file, the PIN is read from a file.
#[test]
fn a_pkcs11_token_signs_through_the_sign_verb() {
    let Some(pki) = pki() else { return };
    if !tool("softhsm2-util", "`apt-get install softhsm2 libengine-pkcs11-openssl opensc`")
        || !tool("pkcs11-tool", "`apt-get install opensc`")
    {
        return;
    }
    if !Path::new(SOFTHSM).is_file() {
        missing(SOFTHSM, "`apt-get install softhsm2`");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let Some(dlls) = some_dlls(work.path()) else { return };
    let d = pki.dir.path();
    let conf = d.join("softhsm2.conf");
    std::fs::create_dir(d.join("tokens")).unwrap();
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\n", d.join("tokens").display()),
    )
    .unwrap();
    run(Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "archway", "--pin", "4711", "--so-pin", "8642"])
        .env("SOFTHSM2_CONF", &conf));
    run(Command::new("openssl")
        .args(["pkey", "-in", "leaf.key", "-outform", "DER", "-out", "leaf.der"])
        .current_dir(d));
    run(Command::new("pkcs11-tool")
        .args([
            "--module",
            SOFTHSM,
            "--login",
            "--pin",
            "4711",
            "--token-label",
            "archway",
            "--write-object",
            "leaf.der",
            "--type",
            "privkey",
            "--id",
            "01",
            "--label",
            "signing",
        ])
        .current_dir(d)
        .env("SOFTHSM2_CONF", &conf));
    let pin = d.join("pin");
    std::fs::write(&pin, "4711").unwrap();
    let vars: [(&str, &Path); 5] = [
        ("ARCHWAY_SIGN_PKCS11_MODULE", Path::new(SOFTHSM)),
        ("ARCHWAY_SIGN_PKCS11_KEY", Path::new("pkcs11:token=archway;object=signing;type=private")),
        ("ARCHWAY_SIGN_CERTS", &d.join("leaf.pem")),
        ("ARCHWAY_SIGN_PASSWORD_FILE", &pin),
        ("SOFTHSM2_CONF", &conf),
    ];
    let out = xtask_signing(&repo_root(), &["sign", dlls[0].to_str().unwrap()], &vars);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(verifies(&pki.ca(), &dlls[0]), "the token's signature does not verify");
    // A wrong PIN fails on the throwaway copy.
    std::fs::write(&pin, "0000").unwrap();
    let before = std::fs::read(&dlls[1]).unwrap();
    let out = xtask_signing(&repo_root(), &["sign", dlls[1].to_str().unwrap()], &vars);
    assert!(!out.status.success() && stderr(&out).contains("the signing check on a copy of"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&dlls[1]).unwrap(), before);
}

/// A signed MSI whose PEs are not: `sign --verify` names them (rule unsigned-pe); the same
/// check makes `dist --sign` fail on such a package.
#[test]
fn verify_flags_an_unsigned_pe_inside_a_signed_msi() {
    let Some(pki) = pki() else { return };
    let dist = repo_root().join("target/dist");
    let Some(msi) = std::fs::read_dir(&dist)
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.to_string_lossy().ends_with("-x64.msi")))
    else {
        missing("target/dist (a `cargo xtask dist`)", "run `cargo xtask dist` first (.ci/run does)");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join(msi.file_name().unwrap());
    std::fs::copy(&msi, &copy).unwrap();
    let out = xtask_signing(
        &repo_root(),
        &["sign", copy.to_str().unwrap()],
        &[("ARCHWAY_SIGN_PKCS12", &pki.p12()), ("ARCHWAY_SIGN_PASSWORD_FILE", &pki.password_file())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(verifies(&pki.ca(), &copy), "the MSI's own signature");
    let ca = pki.ca();
    let out =
        xtask_signing(&repo_root(), &["sign", "--verify", "--ca", ca.to_str().unwrap(), copy.to_str().unwrap()], &[]);
    let text = stdout(&out);
    assert!(
        !out.status.success() && text.contains("NOT VALID") && text.contains("unsigned-pe") && text.contains(".dll"),
        "{text}\n{}",
        stderr(&out)
    );
}

#[test]
fn bad_keys_fail_before_any_file_changes_and_name_what_is_wrong() {
    let Some(pki) = pki() else { return };
    let work = tempfile::tempdir().unwrap();
    let Some(dlls) = some_dlls(work.path()) else { return };
    let before: Vec<Vec<u8>> = dlls.iter().map(|d| std::fs::read(d).unwrap()).collect();
    let wrong = work.path().join("wrong-password");
    std::fs::write(&wrong, "not it").unwrap();
    let nowhere = work.path().join("missing.p12");
    let dll = dlls[0].to_str().unwrap();
    let (p12, good) = (pki.p12(), pki.password_file());
    // (arguments, signing variables, what the error must say)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a Path)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["sign", dll],
            vec![("ARCHWAY_SIGN_PKCS12", &p12), ("ARCHWAY_SIGN_PASSWORD_FILE", &wrong)],
            "the signing check on a copy of",
        ),
        (
            vec!["sign", dll],
            vec![("ARCHWAY_SIGN_PKCS12", &nowhere), ("ARCHWAY_SIGN_PASSWORD_FILE", &wrong)],
            "ARCHWAY_SIGN_PKCS12=",
        ),
        (vec!["sign", dll], vec![], "no signing key: set ARCHWAY_SIGN_PKCS12"),
        (vec!["sign", dll], vec![("ARCHWAY_SIGN_PKCS12", &p12)], "needs its password"),
        (
            vec!["sign", dll],
            vec![("ARCHWAY_SIGN_PKCS11_MODULE", &p12), ("ARCHWAY_SIGN_PKCS11_KEY", Path::new("pkcs11:object=k"))],
            "needs its certificate",
        ),
        (
            vec!["sign", "--timestamp-url", "http://127.0.0.1:9/", dll],
            vec![("ARCHWAY_SIGN_PKCS12", &p12), ("ARCHWAY_SIGN_PASSWORD_FILE", &good)],
            "the signing check on a copy of",
        ),
        (vec!["dist", "--sign"], vec![("ARCHWAY_SIGN_PKCS12", &nowhere)], "ARCHWAY_SIGN_PKCS12="),
    ];
    for (args, vars, message) in cases {
        let out = xtask_signing(&repo_root(), &args, &vars);
        let err = stderr(&out);
        assert!(!out.status.success() && err.contains(message), "{args:?} {vars:?}: expected {message:?} in:\n{err}");
        assert!(!err.contains(PASSWORD) && !err.contains("not it"), "a password was printed:\n{err}");
        assert!(!err.contains("[dist "), "dist started before the key was checked:\n{err}");
    }
    let after: Vec<Vec<u8>> = dlls.iter().map(|d| std::fs::read(d).unwrap()).collect();
    assert!(before == after, "a failed signing changed a file");
}

#[test]
fn dist_sign_gives_packages_whose_every_pe_and_msi_verifies() {
    let Some(pki) = pki() else { return };
    if !tool("msiextract", "`apt-get install msitools`") {
        return;
    }
    let (_tmp, dir) = copy_checkout("archway");
    // The release build of this checkout, when there is one: the copy then rebuilds nothing.
    let built = repo_root().join("target/archway/release");
    if built.is_dir() {
        std::fs::create_dir_all(dir.join("target/archway")).unwrap();
        run(Command::new("cp").arg("-a").arg(&built).arg(dir.join("target/archway")));
    }
    if !toolchain_ready(&dir) {
        return;
    }
    let out = xtask_signing(
        &dir,
        &["dist", "--sign"],
        &[("ARCHWAY_SIGN_PKCS12", &pki.p12()), ("ARCHWAY_SIGN_PASSWORD_FILE", &pki.password_file())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(PASSWORD));
    let dist = dir.join("target/dist");
    let msis = files_with(&dist, "msi");
    assert_eq!(msis.len(), 3, "{msis:?}");
    let mut pes = 0;
    for msi in &msis {
        assert!(verifies(&pki.ca(), msi), "{} does not verify", msi.display());
        run(Command::new("msiinfo").arg("tables").arg(msi));
        let out_dir = tempfile::tempdir().unwrap();
        run(Command::new("msiextract").arg("-C").arg(out_dir.path()).arg(msi));
        for pe in files_with(out_dir.path(), "dll") {
            assert!(verifies(&pki.ca(), &pe), "{} from {} does not verify", pe.display(), msi.display());
            pes += 1;
        }
        let out = xtask(&dir, &["msi-check", msi.to_str().unwrap()]);
        assert!(out.status.success(), "the lint refuses the signed {}:\n{}", msi.display(), stdout(&out));
    }
    assert!(pes >= 9, "only {pes} PEs found in the MSIs");
    // The digests name the signed files.
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    for msi in &msis {
        let sha = sha256_of(msi);
        assert!(
            sums.contains(&format!("{sha}  {}", msi.file_name().unwrap().to_string_lossy())),
            "SHA256SUMS is not of the signed {}",
            msi.display()
        );
        assert!(std::fs::read_to_string(dist.join("manifest.json")).unwrap().contains(&sha));
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["signed"]["tool"], "osslsigncode");
    assert_eq!(manifest["signed"]["timestamped"], false);
    // The build's own outputs stay unsigned: what the reproducibility checks compare.
    for dll in files_with(&dir.join("target/archway/release/bin"), "dll") {
        assert!(!verifies(&pki.ca(), &dll), "{} in the build folder was signed in place", dll.display());
    }
}

fn sha256_of(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    stdout(&out).split_whitespace().next().unwrap().to_string()
}
