//! The process groups of the children running now. Each child leads a group of its own, so a
//! deadline can kill what it started too; the terminal's Ctrl-C (and a CI runner's SIGTERM)
//! signals only the xtask's own group, so the handler installed here passes the end on to every
//! live group before the xtask exits.

use std::sync::Mutex;

static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A live child's group, listed until this guard is dropped.
pub struct Listed(Vec<u32>);

pub fn list(pids: Vec<u32>) -> Listed {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).extend(&pids);
    Listed(pids)
}

impl Drop for Listed {
    fn drop(&mut self) {
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| !self.0.contains(p));
    }
}

/// On an interrupt or termination: kill every live child's group, then exit with 130 as shells
/// do after Ctrl-C. Call once, from `main`.
pub fn end_children_on_interrupt() {
    let installed = ctrlc::set_handler(|| {
        #[cfg(unix)]
        for pid in LIVE.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            // SAFETY: kill(2) on the group the child leads; no memory is involved.
            unsafe { libc::kill(-(*pid as libc::pid_t), libc::SIGKILL) };
        }
        eprintln!("\ninterrupted: stopped the commands that were running");
        std::process::exit(130);
    });
    if let Err(e) = installed {
        eprintln!("note: no interrupt handler ({e}); an interrupted run may leave its commands running");
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_listed_while_its_guard_lives() {
        let guard = list(vec![999_999]);
        assert!(LIVE.lock().unwrap().contains(&999_999));
        drop(guard);
        assert!(!LIVE.lock().unwrap().contains(&999_999));
    }
}
