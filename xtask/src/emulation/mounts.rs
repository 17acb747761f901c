//! The file systems mounted into the arm64 root while it is used (proc, sys, an rslave rbind of
//! /dev), found through `/proc/self/mountinfo`, and a guard whose Drop unmounts everything
//! below the root, lazily when a plain unmount fails, so no failure leaves a mount behind.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;

const MOUNT_TIMEOUT: Duration = Duration::from_secs(60);

/// A file system mounted into the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Proc,
    Sys,
    /// The host's /dev, recursively bound and made rslave (so unmounting inside never
    /// propagates back to the host).
    Dev,
}

impl Kind {
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Proc => "proc",
            Kind::Sys => "sys",
            Kind::Dev => "dev",
        }
    }

    /// The `mount` argument vectors that mount this kind at `at`.
    pub fn mount_argvs(self, at: &Path) -> Vec<Vec<String>> {
        let at = at.display().to_string();
        match self {
            Kind::Proc => vec![vec!["-t".into(), "proc".into(), "proc".into(), at]],
            Kind::Sys => vec![vec!["-t".into(), "sysfs".into(), "sysfs".into(), at]],
            Kind::Dev => vec![vec!["--rbind".into(), "/dev".into(), at.clone()], vec!["--make-rslave".into(), at]],
        }
    }
}

/// Mount points in `/proc/self/mountinfo` text (field 5, with its octal escapes undone).
pub fn parse_mountinfo(text: &str) -> Vec<PathBuf> {
    text.lines().filter_map(|l| l.split(' ').nth(4)).map(|p| PathBuf::from(unescape(p))).collect()
}

fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let n = bytes[i + 1..i + 4].iter().fold(0u32, |n, b| n * 8 + u32::from(b - b'0'));
            out.push(n as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount points at or below `root`, deepest first (the order to unmount them in).
pub fn below(points: &[PathBuf], root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = points.iter().filter(|p| p.starts_with(root)).cloned().collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// The mount points below `root` now.
pub fn mounted_below(root: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    below(&parse_mountinfo(&text), root)
}

/// Unmounts everything below `root` (deepest first; lazily when a plain unmount fails) and
/// fails if something is still mounted afterwards.
pub fn unmount_all(root: &Path) -> Result<()> {
    // A point can be mounted twice (an rbind of a /dev with /dev/shm stacked): read the table
    // again after each round.
    for _ in 0..4 {
        let points = mounted_below(root);
        if points.is_empty() {
            break;
        }
        for point in points {
            let plain = Cmd::new("umount").arg(&point).timeout(MOUNT_TIMEOUT).output();
            if !plain.as_ref().is_ok_and(|o| o.success) {
                let _ = Cmd::new("umount").arg("-l").arg(&point).timeout(MOUNT_TIMEOUT).output();
            }
        }
    }
    let left = mounted_below(root);
    if !left.is_empty() {
        let list: Vec<String> = left.iter().map(|p| p.display().to_string()).collect();
        bail!("still mounted after unmounting: {} (unmount them by hand with `umount -l`)", list.join(", "));
    }
    Ok(())
}

/// File systems mounted into a root; dropping it unmounts everything below the root.
pub struct Mounts {
    root: PathBuf,
    armed: bool,
}

impl Mounts {
    /// Mounts each of `kinds` into `root` that is not mounted there already.
    pub fn ensure(root: &Path, kinds: &[Kind]) -> Result<Mounts> {
        let mut guard = Mounts { root: root.to_path_buf(), armed: true };
        let present = mounted_below(root);
        for kind in kinds {
            let at = root.join(kind.dir());
            if present.contains(&at) {
                continue;
            }
            std::fs::create_dir_all(&at).with_context(|| format!("cannot create {}", at.display()))?;
            for argv in kind.mount_argvs(&at) {
                Cmd::new("mount")
                    .args(&argv)
                    .timeout(MOUNT_TIMEOUT)
                    .run()
                    .with_context(|| format!("cannot mount {} into the arm64 root", kind.dir()))?;
            }
        }
        guard.armed = true;
        Ok(guard)
    }

    /// Unmounts now, reporting what could not be unmounted.
    pub fn release(mut self) -> Result<()> {
        self.armed = false;
        unmount_all(&self.root)
    }

    /// Leaves the mounts in place (another user of the root still needs them).
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = unmount_all(&self.root)
        {
            eprintln!("warning: {e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
        90 22 0:5 / /c/arm64-root/bookworm-1/sysroot/dev rw,nosuid master:2 - devtmpfs udev rw\n\
        91 90 0:21 / /c/arm64-root/bookworm-1/sysroot/dev/pts rw master:3 - devpts devpts rw\n\
        92 22 0:22 / /c/arm64-root/bookworm-1/sysroot/proc rw - proc proc rw\n\
        93 22 0:23 / /c/with\\040space/sysroot/proc rw - proc proc rw\n\
        94 22 0:24 / /c/arm64-root/bookworm-1/sysrootfs/proc rw - proc proc rw\n";

    #[test]
    fn mount_points_below_the_root_come_deepest_first() {
        let points = parse_mountinfo(MOUNTINFO);
        let root = Path::new("/c/arm64-root/bookworm-1/sysroot");
        let found = below(&points, root);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0], root.join("dev/pts"));
        assert!(found.contains(&root.join("proc")) && found.contains(&root.join("dev")));
        // A sibling whose name merely starts the same is not below the root.
        assert!(!found.iter().any(|p| p.starts_with("/c/arm64-root/bookworm-1/sysrootfs")));
    }

    #[test]
    fn escaped_mount_points_are_unescaped() {
        let points = parse_mountinfo(MOUNTINFO);
        assert!(points.contains(&PathBuf::from("/c/with space/sysroot/proc")), "{points:?}");
    }

    #[test]
    fn dev_is_bound_recursively_then_made_rslave() {
        let argvs = Kind::Dev.mount_argvs(Path::new("/r/dev"));
        assert_eq!(argvs, vec![vec!["--rbind", "/dev", "/r/dev"], vec!["--make-rslave", "/r/dev"]]);
        assert_eq!(Kind::Proc.mount_argvs(Path::new("/r/proc")), vec![vec!["-t", "proc", "proc", "/r/proc"]]);
    }
}
