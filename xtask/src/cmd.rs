//! The one way the xtask runs other programs: an argument vector (never a shell string) that is
//! recorded so every failure shows the exact command line, whose run time is counted for
//! `cargo xtask bench`, and which never runs past a deadline. Short commands run to completion
//! (`run`, `read`, `output`); long-running children (a worker process, a wineserver) are started
//! through `duct` and handed back as a [`Running`] (`start`, in `running.rs`).

use std::{
    ffi::{OsStr, OsString},
    fmt,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

mod groups;
mod running;
pub use groups::end_children_on_interrupt;
pub use running::Running;

/// Wall-clock nanoseconds spent in child processes, summed over all threads.
static CHILD_NANOS: AtomicU64 = AtomicU64::new(0);

/// Total time spent in child processes so far; `bench` divides by the core count.
pub fn child_time() -> Duration {
    Duration::from_nanos(CHILD_NANOS.load(Ordering::Relaxed))
}

/// Set (to anything but empty or `0`), every command is printed to stderr as it starts
/// (`archway trace: start …`), and `main` ends with `archway trace: N processes started`: how
/// the build test proves that a no-op build starts none (issue 12).
pub const TRACE_VAR: &str = "ARCHWAY_TRACE_COMMANDS";

/// Processes started so far through [`Cmd`] (short and long-running alike).
static STARTED: AtomicU64 = AtomicU64::new(0);

pub fn processes_started() -> u64 {
    STARTED.load(Ordering::Relaxed)
}

/// Whether [`TRACE_VAR`] asks for the trace (read once).
pub fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os(TRACE_VAR).is_some_and(|v| !v.is_empty() && v != "0"))
}

/// One trace line (only when tracing).
pub fn trace(what: &str) {
    if tracing() {
        eprintln!("archway trace: {what}");
    }
}

/// Counts a process about to start, and traces it.
fn note_start(cmd: &Cmd) {
    STARTED.fetch_add(1, Ordering::Relaxed);
    if tracing() {
        trace(&format!("start {cmd}{}", cmd.cwd_note().replace('\n', " ")));
    }
}

/// How long a command may run unless its caller says otherwise: generous, so only a hung tool
/// (a Wine that never returns, a vswhere waiting on a dialog) reaches it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Debug)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    timeout: Duration,
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Cmd {
    pub fn new(program: impl AsRef<Path>) -> Cmd {
        Cmd {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.env.push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Removes a variable from the child's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.env_remove.push(key.as_ref().to_os_string());
        self
    }

    /// The deadline for `run`, `read` and `output` (default [`DEFAULT_TIMEOUT`]): past it the
    /// command and every process in its process group are killed and the run is an error naming
    /// the command and the limit.
    pub fn timeout(mut self, limit: Duration) -> Cmd {
        self.timeout = limit;
        self
    }

    /// The arguments as recorded (for fingerprints: what would change the output).
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// Runs to completion; a non-zero exit is an error carrying the command line and its output.
    pub fn run(&self) -> Result<Output> {
        let out = self.output()?;
        if !out.success {
            bail!("{}", self.failure(&out));
        }
        Ok(out)
    }

    /// Runs to completion and returns standard output, trimmed.
    pub fn read(&self) -> Result<String> {
        Ok(self.run()?.stdout.trim().to_string())
    }

    /// Runs to completion whatever the exit status; a failure to start, or running past the
    /// deadline, is an error.
    pub fn output(&self) -> Result<Output> {
        let start = Instant::now();
        let done = self.spawn(self.expression().stdin_null())?.finish(self.timeout)?;
        CHILD_NANOS.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if done.killed {
            bail!(
                "command timed out after {}: {self}{}\n  (killed with its process group)",
                human(self.timeout),
                self.cwd_note()
            );
        }
        Ok(Output { success: done.success, code: done.code, stdout: done.stdout, stderr: done.stderr })
    }

    /// The command as a duct expression: program, arguments, folder, environment, and on Unix a
    /// process group of its own, so a deadline kills what it started too.
    pub(crate) fn expression(&self) -> duct::Expression {
        // Every start (`output`, `start`) builds its expression here, once.
        note_start(self);
        // As an OsStr, not a Path: duct would turn a bare `sh` given as a Path into `./sh`.
        let mut expr = duct::cmd(self.program.as_os_str(), &self.args);
        if let Some(dir) = &self.cwd {
            expr = expr.dir(dir);
        }
        // duct applies the innermost `env` last, so the first call would win: keep only the
        // last value given for each variable, as `std::process::Command` does.
        for (i, (k, v)) in self.env.iter().enumerate() {
            if !self.env[i + 1..].iter().any(|(later, _)| later == k) {
                expr = expr.env(k, v);
            }
        }
        for k in &self.env_remove {
            expr = expr.env_remove(k);
        }
        #[cfg(unix)]
        {
            expr = expr.before_spawn(|command| {
                std::os::unix::process::CommandExt::process_group(command, 0);
                Ok(())
            });
        }
        expr
    }

    fn cwd_note(&self) -> String {
        self.cwd.as_ref().map(|d| format!("\n  (in {})", d.display())).unwrap_or_default()
    }

    /// The message for a failed run: status, command line (with its folder), then what it said.
    pub fn failure(&self, out: &Output) -> String {
        let status = out.code.map_or("was killed".to_string(), |c| format!("exited with {c}"));
        let mut msg = format!("command {status}: {self}{}", self.cwd_note());
        for text in [&out.stderr, &out.stdout] {
            let text = text.trim_end();
            if !text.is_empty() {
                msg.push('\n');
                msg.push_str(text);
            }
        }
        msg
    }
}

/// Kills the command's process group (Unix; each `Cmd` leads its own) or the process itself
/// (Windows), then reaps it.
pub(crate) fn kill_tree(handle: &duct::Handle) {
    #[cfg(unix)]
    for pid in handle.pids() {
        // SAFETY: kill(2) with a negative pid signals the process group the child leads
        // (`process_group(0)` in `expression`); no memory is involved.
        unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
    }
    let _ = handle.kill();
    let _ = handle.wait_timeout(Duration::from_secs(10));
}

/// "90 s", "15 min": a limit as people say it.
pub fn human(limit: Duration) -> String {
    let secs = limit.as_secs_f64();
    if secs >= 120.0 && limit.as_secs().is_multiple_of(60) {
        format!("{} min", limit.as_secs() / 60)
    } else if secs >= 1.0 {
        format!("{} s", (secs * 10.0).round() / 10.0)
    } else {
        format!("{} ms", limit.as_millis())
    }
}

/// Shell-style quoting, for people reading an error; never handed to a shell.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = |s: &str| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c)) {
                s.to_string()
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        };
        // A message stays readable however many arguments there are (a build of 100,000
        // sources): the first ones, then how many more.
        const SHOWN: usize = 24;
        let argv = self.argv();
        let mut words: Vec<String> = argv.iter().take(SHOWN).map(|a| quote(a)).collect();
        if argv.len() > SHOWN {
            words.push(format!("… ({} more arguments)", argv.len() - SHOWN));
        }
        f.write_str(&words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let cmd = Cmd::new("clang-cl").arg("/c").arg("a b.cpp").arg("it's");
        assert_eq!(cmd.to_string(), r"clang-cl /c 'a b.cpp' 'it'\''s'");
    }

    #[test]
    fn a_failure_names_the_command_line_and_its_output() {
        let cmd = Cmd::new("sh").args(["-c", "echo oops >&2; exit 3"]);
        let err = cmd.run().unwrap_err().to_string();
        assert!(err.starts_with("command exited with 3: sh -c 'echo oops >&2; exit 3'"), "{err}");
        assert!(err.ends_with("oops"), "{err}");
    }

    #[test]
    fn a_command_past_its_deadline_is_killed_with_its_children_and_named() {
        let marker = tempfile::tempdir().unwrap();
        let late = marker.path().join("late");
        // The shell starts a grandchild that would write the file after the deadline.
        let script = format!("(sleep 3; touch '{}') & sleep 30", late.display());
        let started = Instant::now();
        let err = Cmd::new("sh").args(["-c", &script]).timeout(Duration::from_millis(300)).output().unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10), "not killed in time");
        let err = format!("{err:#}");
        assert!(err.starts_with("command timed out after 300 ms: sh -c"), "{err}");
        std::thread::sleep(Duration::from_secs(4));
        assert!(!late.exists(), "the grandchild outlived the deadline");
    }

    #[test]
    fn a_daemon_holding_the_output_pipes_does_not_hold_up_the_command() {
        // As `wine` does when it starts a wineserver that outlives it.
        let started = Instant::now();
        let out = Cmd::new("sh")
            .args(["-c", "echo started; setsid sleep 30 & exit 0"])
            .timeout(Duration::from_secs(20))
            .run()
            .unwrap();
        assert_eq!(out.stdout, "started\n");
        assert!(started.elapsed() < Duration::from_secs(10), "waited for the daemon");
    }

    #[test]
    fn a_long_command_line_is_shown_short() {
        let cmd = Cmd::new("lld-link").args((0..100_000).map(|i| format!("u{i}.obj")));
        let shown = cmd.to_string();
        assert!(shown.ends_with("u22.obj … (99977 more arguments)"), "{shown}");
        assert_eq!(cmd.argv().len(), 100_001, "fingerprints still see every argument");
    }

    #[test]
    fn the_last_value_given_for_a_variable_wins() {
        let out = Cmd::new("sh")
            .args(["-c", "echo $ARCHWAY_T"])
            .env("ARCHWAY_T", "first")
            .env("ARCHWAY_T", "last")
            .read()
            .unwrap();
        assert_eq!(out, "last");
    }

    #[test]
    fn every_start_is_counted() {
        // Other tests start processes in parallel: the count only grows, by at least these two.
        let before = processes_started();
        Cmd::new("sh").args(["-c", "exit 0"]).run().unwrap();
        Cmd::new("sh").args(["-c", "exit 0"]).start().unwrap().stop(Duration::from_secs(10)).unwrap();
        assert!(processes_started() >= before + 2);
    }

    #[test]
    fn limits_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(900)), "15 min");
        assert_eq!(human(Duration::from_secs(90)), "90 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn a_missing_program_is_an_error_naming_it() {
        let err = Cmd::new("archway-no-such-tool").output().unwrap_err();
        assert!(format!("{err:#}").contains("cannot start `archway-no-such-tool`"));
    }
}
