//! `Arm64Wine`: the emulated ARM64 root as a `WindowsHost`. A session mounts /proc into the
//! root and keeps a persistent wineserver (`wineserver -p`) there, so each program costs under a
//! second instead of about four (Wine's services start once, when the session opens); the last session to close stops the server and unmounts.
//!
//! Sharing: within a process, every `session()` while one is open returns the same session
//! (a `Weak` in a static; the last clone's Drop tears down). Across processes, each session
//! holds a shared flock on the root's users lock; setup and teardown hold the setup lock
//! exclusively, and only a process that can take the users lock exclusively (no one else has
//! a session) cleans up stale state, starts the server, or stops it and unmounts.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, Weak},
    thread::sleep,
    time::Duration,
};

use anyhow::{Context, Result, bail};

use super::{
    Arm64Root, host, inside,
    lock::{Flock, Mode},
    mounts::{self, Mounts},
    provision::{WINE_MOUNTS, stop_wineserver},
};
use crate::{
    cmd::Cmd,
    winhost::{WindowsHost, under_drive_c},
};

/// How long a program run may take unless its caller says otherwise (qemu is ~10× slower
/// than the host's Wine).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);
const SERVER_TIMEOUT: Duration = Duration::from_secs(60);
/// `QEMU_CPU` for the root's programs when set (qemu's default, `max`, works for Wine 8).
const QEMU_CPU_VAR: &str = "ARCHWAY_QEMU_CPU";

static OPEN: Mutex<Weak<Shared>> = Mutex::new(Weak::new());

/// A session on the emulated ARM64 root; clones share it.
#[derive(Clone)]
pub struct Arm64Wine {
    shared: Arc<Shared>,
}

struct Shared {
    root: Arm64Root,
    users: Flock,
    mounts: Option<Mounts>,
    version: String,
}

impl Arm64Wine {
    pub(super) fn open(root: &Arm64Root) -> Result<Arm64Wine> {
        host::check_for_session()?;
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = open.upgrade()
            && shared.root.dir == root.dir
        {
            return Ok(Arm64Wine { shared });
        }
        let setup = Flock::wait(&root.setup_lock(), Mode::Exclusive)?;
        if !root.complete() {
            bail!("the arm64 root {} is not complete: run `cargo xtask arm64-root install`", root.dir.display());
        }
        let users = Flock::wait(&root.users_lock(), Mode::Shared)?;
        let alone = users.try_convert(Mode::Exclusive)?;
        if alone {
            // Left by a killed session: a persistent server, mounts.
            if !mounts::mounted_below(&root.path()).is_empty() {
                stop_wineserver(root);
                mounts::unmount_all(&root.path())?;
            }
        }
        let mounted = Mounts::ensure(&root.path(), &WINE_MOUNTS)?;
        if alone {
            if let Err(e) = start_wineserver(root).and_then(|()| warm_up(root)) {
                drop(mounted);
                return Err(e);
            }
            users.try_convert(Mode::Shared)?;
        }
        drop(setup);
        let shared =
            Arc::new(Shared { root: root.clone(), users, mounts: Some(mounted), version: root.wine_version() });
        *open = Arc::downgrade(&shared);
        Ok(Arm64Wine { shared })
    }
}

/// `wineserver -p` in the root. It exits with 2 while another server runs for the prefix (a
/// short-lived one from a program that just ended): stop that one and try again.
fn start_wineserver(root: &Arm64Root) -> Result<()> {
    let cmd =
        inside::command(&root.path(), None, &inside::wine_env(&[]), "/usr/bin/wineserver", &inside::strings(&["-p"]));
    let mut last = None;
    for _ in 0..5 {
        match run_detached(&cmd, SERVER_TIMEOUT)? {
            Some(0) => return Ok(()),
            code => last = Some(format!("`{cmd}` exited with {code:?}")),
        }
        stop_wineserver(root);
        sleep(Duration::from_millis(500));
    }
    bail!("cannot start the arm64 root's wineserver: {}", last.unwrap_or_default())
}

/// Runs `cmd` with its standard streams on /dev/null, within `limit`, and returns its exit
/// code. For a command that leaves a daemon behind: the wineserver keeps the stderr it was
/// given for as long as it runs, so a captured stream would hold `output()` until it exits.
fn run_detached(cmd: &Cmd, limit: Duration) -> Result<Option<i32>> {
    let handle = cmd
        .expression()
        .stdin_null()
        .stdout_null()
        .stderr_null()
        .unchecked()
        .start()
        .with_context(|| format!("cannot start `{cmd}`"))?;
    match handle.wait_timeout(limit).with_context(|| format!("waiting for `{cmd}`"))? {
        Some(out) => Ok(out.status.code()),
        None => {
            crate::cmd::kill_tree(&handle);
            bail!("`{cmd}` did not return within {}", crate::cmd::human(limit))
        }
    }
}

/// Runs one program so Wine starts its services (services.exe, explorer, winedevice, rpcss…:
/// about 4 s under qemu) now, under this command, rather than under the caller's first
/// program, whose process group a deadline may kill with them.
fn warm_up(root: &Arm64Root) -> Result<()> {
    // Detached: the services keep the streams they were given for a while (2 s more).
    let cmd = wine_command(&root.path(), None, "cmd", &inside::strings(&["/c", "exit"]), &[]);
    if run_detached(&cmd, SERVER_TIMEOUT * 2)? != Some(0) {
        // Once more, captured, for the message.
        cmd.timeout(SERVER_TIMEOUT * 2).run().context("the arm64 root's Wine does not start (`wine cmd /c exit`)")?;
    }
    Ok(())
}

impl Drop for Shared {
    fn drop(&mut self) {
        let Ok(_setup) = Flock::wait(&self.root.setup_lock(), Mode::Exclusive) else { return };
        let last = self.users.try_convert(Mode::Exclusive).unwrap_or(false);
        let Some(mounted) = self.mounts.take() else { return };
        if last {
            stop_wineserver(&self.root);
            if let Err(e) = mounted.release() {
                eprintln!("warning: closing the arm64 root's session: {e:#}");
            }
        } else {
            mounted.keep();
        }
    }
}

impl WindowsHost for Arm64Wine {
    fn describe(&self) -> String {
        format!("arm64 {} under qemu", self.shared.version)
    }

    fn drive_c(&self) -> PathBuf {
        self.shared.root.prefix().join("drive_c")
    }

    fn windows_path(&self, host_path: &Path) -> Result<String> {
        under_drive_c(&self.drive_c(), host_path)
    }

    fn command(&self, program: &str, args: &[String], env: &[(String, String)]) -> Cmd {
        wine_command(&self.shared.root.path(), std::env::var(QEMU_CPU_VAR).ok().as_deref(), program, args, env)
    }
}

/// `chroot ROOT env -i -C <drive_c> … wine PROGRAM ARGS…`, with the Wine environment, then
/// `QEMU_CPU` when given, then the caller's variables.
pub fn wine_command(
    root: &Path,
    qemu_cpu: Option<&str>,
    program: &str,
    args: &[String],
    env: &[(String, String)],
) -> Cmd {
    let mut vars = inside::wine_env(&[]);
    if let Some(cpu) = qemu_cpu.filter(|c| !c.is_empty()) {
        vars.push(("QEMU_CPU".to_string(), cpu.to_string()));
    }
    vars.extend(env.iter().cloned());
    let drive_c = format!("{}/drive_c", inside::PREFIX);
    let argv: Vec<String> = std::iter::once(program.to_string()).chain(args.iter().cloned()).collect();
    inside::command(root, Some(&drive_c), &vars, "/usr/bin/wine", &argv).timeout(RUN_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_runs_through_chroot_env_and_the_roots_wine() {
        let env = [("ARCHWAY_DETAILED_ERRORS".to_string(), "1".to_string())];
        let cmd = wine_command(
            Path::new("/c/root"),
            Some("cortex-a72"),
            r"C:\windows\system32\inetsrv\archway_worker.exe",
            &["-ap".into(), "p 1".into()],
            &env,
        );
        let argv = cmd.argv();
        assert_eq!(&argv[..6], ["chroot", "/c/root", "/usr/bin/env", "-i", "-C", "/var/lib/archway-wine/drive_c"]);
        let wine = argv.iter().position(|a| a == "/usr/bin/wine").unwrap();
        assert_eq!(&argv[wine + 1..], [r"C:\windows\system32\inetsrv\archway_worker.exe", "-ap", "p 1"]);
        let vars = &argv[6..wine];
        for want in [
            "WINEPREFIX=/var/lib/archway-wine",
            "WINEDEBUG=-all",
            "QEMU_CPU=cortex-a72",
            "ARCHWAY_DETAILED_ERRORS=1",
            "HOME=/root",
        ] {
            assert!(vars.contains(&want.to_string()), "{want} in {vars:?}");
        }
        assert_eq!(vars.last().unwrap(), "ARCHWAY_DETAILED_ERRORS=1", "the caller's variables come last");
    }

    /// Needs the provisioned root and root privileges; says so and returns without them.
    #[test]
    fn sessions_opened_at_once_in_one_process_are_one_and_the_last_closes_it() {
        let root = match (host::is_root(), Arm64Root::locate()) {
            (true, Ok(Some(root))) => root,
            _ => return eprintln!("skipped: needs root and `cargo xtask arm64-root install`"),
        };
        let sessions: Vec<Arm64Wine> = std::thread::scope(|s| {
            let opening: Vec<_> = (0..2).map(|_| s.spawn(|| root.session().unwrap())).collect();
            opening.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(Arc::ptr_eq(&sessions[0].shared, &sessions[1].shared));
        assert!(mounts::mounted_below(&root.path()).contains(&root.path().join("proc")));
        let out = sessions[1]
            .command(
                "cmd",
                &inside::strings(&["/c", "echo", "%ARCHWAY_X%"]),
                &[("ARCHWAY_X".into(), "from the caller".into())],
            )
            .run()
            .unwrap();
        assert_eq!(out.stdout.trim(), "from the caller");
        assert!(sessions[0].drive_c().join("windows").is_dir());
        assert_eq!(sessions[0].windows_path(&sessions[0].drive_c().join("a").join("b.exe")).unwrap(), r"C:\a\b.exe");
        drop(sessions);
        assert!(mounts::mounted_below(&root.path()).is_empty(), "the last session unmounts");
    }

    #[test]
    fn without_a_cpu_qemu_keeps_its_default() {
        let argv = wine_command(Path::new("/r"), Some(""), "x.exe", &[], &[]).argv();
        assert!(!argv.iter().any(|a| a.starts_with("QEMU_CPU=")), "{argv:?}");
    }
}
