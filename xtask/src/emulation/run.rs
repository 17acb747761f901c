//! `cargo xtask arm64-root run`: one ARM64 Windows program in a session on the root, its
//! output passed on as it comes (so a caller can wait for a worker's `ready` line and talk HTTP
//! to it), optionally stopped by closing its stdin when ours ends, always within a deadline.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::Arm64Root;
use crate::winhost::WindowsHost;

/// How long a program may take to stop once its stdin is closed.
const STOP_GRACE: Duration = Duration::from_secs(30);

pub fn program(program: &Path, args: &[String], stdin_stops: bool, limit: Duration) -> Result<()> {
    let root = Arm64Root::locate()?
        .context("the emulated ARM64 root is not provisioned: run `cargo xtask arm64-root install` (as root)")?;
    let program = std::path::absolute(program).with_context(|| format!("cannot resolve {}", program.display()))?;
    if !program.is_file() {
        bail!("{} is not a file", program.display());
    }
    let session = root.session()?;
    let drive_c = session.drive_c();
    let (exe, copy) = if program.starts_with(&drive_c) {
        (program.clone(), None)
    } else {
        let dest = drive_c.join("archway-run").join(std::process::id().to_string());
        (dest.join(program.file_name().context("the program has no file name")?), Some(dest))
    };
    let result = copy
        .as_deref()
        .map_or(Ok(()), |dest| copy_folder(&program, dest))
        .and_then(|()| stream(&session, &exe, args, stdin_stops, limit));
    if let Some(dest) = &copy {
        let _ = std::fs::remove_dir_all(dest);
    }
    match result? {
        Some(0) => Ok(()),
        code => bail!(
            "{} exited with {} in the arm64 root",
            program.display(),
            code.map_or("a signal".to_string(), |c| c.to_string())
        ),
    }
}

/// Copies the .exe and .dll files of `program`'s folder to `dest`.
fn copy_folder(program: &Path, dest: &Path) -> Result<()> {
    let from = program.parent().context("the program has no folder")?;
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let path: PathBuf = entry?.path();
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if path.is_file() && (ext == "exe" || ext == "dll") {
            std::fs::copy(&path, dest.join(path.file_name().expect("a file")))
                .with_context(|| format!("cannot copy {} to {}", path.display(), dest.display()))?;
        }
    }
    Ok(())
}

/// Starts the program, passes its output on until it exits (or our stdin ends, or the
/// deadline passes), and returns its exit code.
fn stream(
    session: &dyn WindowsHost,
    exe: &Path,
    args: &[String],
    stdin_stops: bool,
    limit: Duration,
) -> Result<Option<i32>> {
    let windows = session.windows_path(exe)?;
    let cmd = session.command(&windows, args, &[]);
    let running = cmd.start()?;
    let (ended, stdin_ended) = mpsc::channel();
    if stdin_stops {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = ended.send(());
        });
    }
    let deadline = Instant::now() + limit;
    let mut shown = (0, 0);
    let mut late = false;
    loop {
        show(&running.stdout(), &running.stderr(), &mut shown);
        if running.exited() || stdin_ended.try_recv().is_ok() {
            break;
        }
        if Instant::now() >= deadline {
            late = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = running.stop(STOP_GRACE)?;
    show(&done.stdout, &done.stderr, &mut shown);
    if late {
        bail!("`{cmd}` was still running after {} and was stopped", crate::cmd::human(limit));
    }
    Ok(done.code)
}

/// Prints what was added to `stdout` and `stderr` since the last call.
fn show(stdout: &str, stderr: &str, shown: &mut (usize, usize)) {
    if stdout.len() > shown.0 {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&stdout.as_bytes()[shown.0..]);
        let _ = out.flush();
        shown.0 = stdout.len();
    }
    if stderr.len() > shown.1 {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&stderr.as_bytes()[shown.1..]);
        shown.1 = stderr.len();
    }
}
