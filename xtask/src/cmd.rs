//! The one way the xtask runs other programs: an argument vector (never a shell string) that is
//! recorded so every failure shows the exact command line, and whose run time is counted for
//! `cargo xtask bench`.

use std::{
    ffi::{OsStr, OsString},
    fmt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use anyhow::{Context, Result, bail};

/// Wall-clock nanoseconds spent in child processes, summed over all threads.
static CHILD_NANOS: AtomicU64 = AtomicU64::new(0);

/// Total time spent in child processes so far; `bench` divides by the core count.
pub fn child_time() -> std::time::Duration {
    std::time::Duration::from_nanos(CHILD_NANOS.load(Ordering::Relaxed))
}

#[derive(Clone, Debug)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
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
        Cmd { program: program.as_ref().to_path_buf(), args: Vec::new(), cwd: None, env: Vec::new() }
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

    /// Runs to completion whatever the exit status; only a failure to start is an error.
    pub fn output(&self) -> Result<Output> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let start = Instant::now();
        let out = command.output().with_context(|| format!("cannot start `{self}`"))?;
        CHILD_NANOS.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(Output {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The message for a failed run: status, command line (with its folder), then what it said.
    pub fn failure(&self, out: &Output) -> String {
        let status = out.code.map_or("was killed".to_string(), |c| format!("exited with {c}"));
        let mut msg = format!("command {status}: {self}");
        if let Some(dir) = &self.cwd {
            msg.push_str(&format!("\n  (in {})", dir.display()));
        }
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
        let words: Vec<String> = self.argv().iter().map(|a| quote(a)).collect();
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
    fn a_missing_program_is_an_error_naming_it() {
        let err = Cmd::new("archway-no-such-tool").output().unwrap_err();
        assert!(format!("{err:#}").contains("cannot start `archway-no-such-tool`"));
    }
}
