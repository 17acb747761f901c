//! What this machine needs before an arm64 root can be made or used: root privileges (chroot
//! and mount), the Debian packages (`qemu-user-static`, `binfmt-support`, `debootstrap`), and
//! `qemu-aarch64` registered with binfmt_misc with the `F` flag (the interpreter keeps working
//! inside a chroot without a copy in it). Each failure says exactly what to run.

use std::{path::Path, time::Duration};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;

pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";
pub const PACKAGES: [&str; 3] = ["qemu-user-static", "binfmt-support", "debootstrap"];
const QUICK: Duration = Duration::from_secs(30);

/// A missing prerequisite's message: what is missing and how to get it.
pub fn install_hint() -> String {
    format!("apt-get install {}", PACKAGES.join(" "))
}

/// Whether this process may chroot and mount.
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn require_root(what: &str) -> Result<()> {
    if !is_root() {
        bail!(
            "{what} needs root privileges (chroot and mount): run it as root, e.g. `sudo -E cargo xtask arm64-root install`"
        );
    }
    Ok(())
}

/// A program on PATH, or in the sbin folders root's PATH has but a user's may not.
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(Into::into))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The host tools the recipe runs, each found or named with its package.
pub fn missing_tools() -> Vec<&'static str> {
    let tools = [
        ("debootstrap", "debootstrap"),
        ("update-binfmts", "binfmt-support"),
        ("qemu-aarch64-static", "qemu-user-static"),
        ("chroot", "coreutils"),
        ("mount", "mount"),
    ];
    let mut missing: Vec<&str> =
        tools.iter().filter(|(tool, _)| find_program(tool).is_none()).map(|(_, package)| *package).collect();
    missing.dedup();
    missing
}

/// The flags of a `/proc/sys/fs/binfmt_misc/<name>` entry, if it is enabled.
pub fn parse_binfmt_entry(text: &str) -> Option<String> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "enabled" {
        return None;
    }
    text.lines().find_map(|l| l.strip_prefix("flags:")).map(|f| f.trim().to_string())
}

/// Mounts binfmt_misc if needed, enables `qemu-aarch64` if binfmt-support knows it but the
/// kernel does not, and checks the registration carries the `F` flag.
pub fn ensure_binfmt() -> Result<()> {
    let dir = Path::new(BINFMT_DIR);
    if !dir.join("register").exists() {
        eprintln!("mounting binfmt_misc on {BINFMT_DIR}");
        Cmd::new("mount")
            .args(["-t", "binfmt_misc", "binfmt_misc", BINFMT_DIR])
            .timeout(QUICK)
            .run()
            .with_context(|| format!("cannot mount binfmt_misc (a container may forbid it; on the host run `mount -t binfmt_misc binfmt_misc {BINFMT_DIR}`)"))?;
    }
    let entry = dir.join("qemu-aarch64");
    let flags = std::fs::read_to_string(&entry).ok().and_then(|t| parse_binfmt_entry(&t));
    let flags = match flags {
        Some(f) => f,
        None => {
            eprintln!("registering qemu-aarch64 with binfmt_misc (update-binfmts --enable qemu-aarch64)");
            Cmd::new("update-binfmts").args(["--enable", "qemu-aarch64"]).timeout(QUICK).run().with_context(|| {
                format!(
                    "cannot register qemu-aarch64 with binfmt_misc: is qemu-user-static installed? ({})",
                    install_hint()
                )
            })?;
            let text = std::fs::read_to_string(&entry).with_context(|| {
                format!("{} is still missing after update-binfmts --enable qemu-aarch64", entry.display())
            })?;
            parse_binfmt_entry(&text).with_context(|| {
                format!("{} is not enabled after update-binfmts --enable qemu-aarch64", entry.display())
            })?
        }
    };
    if !flags.contains('F') {
        bail!(
            "qemu-aarch64 is registered without the F flag (flags: {flags}), so it cannot run inside a chroot: \
             install Debian's qemu-user-static (its binfmt entry has F), then `update-binfmts --disable qemu-aarch64 && update-binfmts --enable qemu-aarch64`"
        );
    }
    Ok(())
}

/// Everything `install` needs of this machine, checked before anything is written.
pub fn check_for_install() -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("the emulated ARM64 root is made on Linux (qemu-user and chroot)");
    }
    require_root("`cargo xtask arm64-root install`")?;
    let missing = missing_tools();
    if !missing.is_empty() {
        bail!("missing host packages: {}: run `apt-get install {}`", missing.join(", "), PACKAGES.join(" "));
    }
    ensure_binfmt()
}

/// Everything a session needs: root, and a working binfmt registration (a reboot drops it).
pub fn check_for_session() -> Result<()> {
    require_root("running programs in the emulated ARM64 root")?;
    if find_program("qemu-aarch64-static").is_none() {
        bail!("qemu-user-static is not installed: run `{}`", install_hint());
    }
    ensure_binfmt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enabled_entry_gives_its_flags_and_a_disabled_one_none() {
        let on = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f45\n";
        assert_eq!(parse_binfmt_entry(on).as_deref(), Some("PF"));
        assert_eq!(parse_binfmt_entry("disabled\ninterpreter /x\nflags: PF\n"), None);
        assert_eq!(parse_binfmt_entry("enabled\ninterpreter /x\nflags: \n").as_deref(), Some(""));
    }
}
