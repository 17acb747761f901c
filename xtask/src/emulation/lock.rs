//! Advisory file locks (flock) that order the root's users across processes: one lock held
//! exclusively while the root is set up, torn down or provisioned, one held shared by every
//! process with a session open (the last to leave sees it can take it exclusively).

use std::{
    fs::File,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

/// A held lock; dropping it (closing the file) releases it.
pub struct Flock {
    file: File,
    path: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

impl Flock {
    /// Waits for the lock.
    pub fn wait(path: &Path, mode: Mode) -> Result<Flock> {
        let file = open(path)?;
        flock(&file, mode, false).with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(Flock { file, path: path.to_path_buf() })
    }

    /// Takes the lock if nobody holds it in a conflicting mode, else None.
    pub fn try_take(path: &Path, mode: Mode) -> Result<Option<Flock>> {
        let file = open(path)?;
        match flock(&file, mode, true) {
            Ok(()) => Ok(Some(Flock { file, path: path.to_path_buf() })),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
    }

    /// Lets the programs started from now on inherit the lock, so one that outlives this
    /// process (its parent killed) keeps holding it until it exits: an install that was
    /// killed while debootstrap or apt-get ran makes the next one wait for them.
    pub fn inherit_into_children(&self) -> Result<()> {
        // SAFETY: fcntl(2) F_SETFD on a descriptor this File owns; clears FD_CLOEXEC only.
        if unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETFD, 0) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot make {} inheritable", self.path.display()));
        }
        Ok(())
    }

    /// Changes the mode of this lock without waiting: true when it now has `mode`. (flock
    /// converts by releasing first, so a failed conversion to exclusive leaves it shared again.)
    pub fn try_convert(&self, mode: Mode) -> Result<bool> {
        match flock(&self.file, mode, true) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {
                flock(&self.file, Mode::Shared, false)
                    .with_context(|| format!("cannot lock {} again", self.path.display()))?;
                Ok(false)
            }
            Err(e) => Err(e).with_context(|| format!("cannot lock {}", self.path.display())),
        }
    }
}

fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))
}

fn flock(file: &File, mode: Mode, nonblocking: bool) -> std::io::Result<()> {
    let mut op = match mode {
        Mode::Shared => libc::LOCK_SH,
        Mode::Exclusive => libc::LOCK_EX,
    };
    if nonblocking {
        op |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: flock(2) on a descriptor this File owns for the call's duration.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_holders_coexist_and_the_last_one_can_take_it_exclusively() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.lock");
        let a = Flock::wait(&path, Mode::Shared).unwrap();
        let b = Flock::try_take(&path, Mode::Shared).unwrap().expect("shared locks coexist");
        assert!(Flock::try_take(&path, Mode::Exclusive).unwrap().is_none());
        assert!(!a.try_convert(Mode::Exclusive).unwrap(), "b still holds it");
        drop(b);
        assert!(a.try_convert(Mode::Exclusive).unwrap(), "a is the last holder");
        assert!(Flock::try_take(&path, Mode::Shared).unwrap().is_none());
    }

    #[test]
    fn an_inherited_lock_is_held_by_a_child_that_outlives_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("setup.lock");
        let lock = Flock::wait(&path, Mode::Exclusive).unwrap();
        lock.inherit_into_children().unwrap();
        let mut child = std::process::Command::new("sleep").arg("2").spawn().unwrap();
        drop(lock);
        assert!(Flock::try_take(&path, Mode::Exclusive).unwrap().is_none(), "the child holds it");
        child.wait().unwrap();
        assert!(Flock::try_take(&path, Mode::Exclusive).unwrap().is_some());
    }
}
