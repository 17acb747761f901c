//! Long-running children (a worker process serving HTTP, a wineserver): started through `duct`
//! with a stdin pipe the caller closes to ask for a graceful stop, stdout and stderr collected
//! by reader threads so a caller can wait for a line with a deadline, and the process group
//! killed when the caller gives up or drops the handle.

use std::{
    io::{BufRead, BufReader, Read},
    sync::{Arc, Condvar, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{Cmd, human, kill_tree};

/// A started command. Dropping it kills the process group.
pub struct Running {
    line: String,
    handle: duct::Handle,
    stdin: Option<os_pipe::PipeWriter>,
    stdout: Arc<Stream>,
    stderr: Arc<Stream>,
    readers: Vec<JoinHandle<()>>,
    /// Listed for the interrupt handler while the process may run (`groups`).
    _listed: super::groups::Listed,
}

/// How a stopped command ended.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    /// True when it did not stop within the grace period and was killed.
    pub killed: bool,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Text a reader thread appends to, with a flag for end of file.
#[derive(Default)]
struct Stream {
    state: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Stream {
    fn text(&self) -> String {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }
}

impl Cmd {
    /// Starts the command with its stdin a pipe held by the returned [`Running`], and its
    /// output collected as it comes. The deadline set by `timeout` does not apply: the caller
    /// bounds each wait instead.
    pub fn start(&self) -> Result<Running> {
        let (stdin_read, stdin_write) = os_pipe::pipe().context("cannot create a pipe")?;
        let mut running = self.spawn(self.expression().stdin_file(stdin_read))?;
        running.stdin = Some(stdin_write);
        Ok(running)
    }

    /// Starts `expression` (this command with its stdin chosen) with stdout and stderr read by
    /// threads: a process that leaves a daemon holding the pipes (Wine starting its wineserver)
    /// still counts as finished when it exits.
    pub(super) fn spawn(&self, expression: duct::Expression) -> Result<Running> {
        let (stdout_read, stdout_write) = os_pipe::pipe().context("cannot create a pipe")?;
        let (stderr_read, stderr_write) = os_pipe::pipe().context("cannot create a pipe")?;
        let handle = expression
            .stdout_file(stdout_write)
            .stderr_file(stderr_write)
            .unchecked()
            .start()
            .with_context(|| format!("cannot start `{self}`"))?;
        // The expression (and with it the parent's copies of the write ends) is gone now, so the
        // readers see end of file when the child and whatever it started close theirs.
        let stdout = Arc::new(Stream::default());
        let stderr = Arc::new(Stream::default());
        let readers = vec![collect(stdout_read, stdout.clone()), collect(stderr_read, stderr.clone())];
        let _listed = super::groups::list(handle.pids());
        Ok(Running { line: self.to_string(), handle, stdin: None, stdout, stderr, readers, _listed })
    }
}

fn collect(pipe: os_pipe::PipeReader, into: Arc<Stream>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.by_ref().take(1 << 20).read_until(b'\n', &mut line).unwrap_or(0);
            let mut state = into.state.lock().unwrap_or_else(|e| e.into_inner());
            if n == 0 {
                state.1 = true;
                into.changed.notify_all();
                return;
            }
            state.0.push_str(&String::from_utf8_lossy(&line).replace("\r\n", "\n"));
            into.changed.notify_all();
        }
    })
}

impl Running {
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Whether the process has exited.
    pub fn exited(&self) -> bool {
        matches!(self.handle.try_wait(), Ok(Some(_)) | Err(_))
    }

    /// Waits until a stdout line satisfies `wanted` and returns it. Fails, with what the
    /// command printed, when stdout ends first (the process exited) or `limit` passes.
    pub fn wait_for_line(&self, limit: Duration, wanted: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + limit;
        let mut state = self.stdout.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(line) = state.0.lines().find(|l| wanted(l)) {
                return Ok(line.to_string());
            }
            if state.1 {
                drop(state);
                // Let the stderr reader catch up with what the process said before it exited.
                let _ = self.handle.wait_timeout(Duration::from_secs(2));
                bail!("`{}` ended before it was ready\n{}", self.line, self.said());
            }
            let now = Instant::now();
            if now >= deadline {
                drop(state);
                bail!("`{}` was not ready after {}\n{}", self.line, human(limit), self.said());
            }
            state = self.stdout.changed.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Closes stdin (the graceful stop signal), waits up to `grace`, kills the process group if
    /// it is still running, and returns how it ended with everything it printed.
    pub fn stop(mut self, grace: Duration) -> Result<Finished> {
        drop(self.stdin.take());
        self.finish(grace)
    }

    /// Waits up to `limit` for the process to exit, kills the process group if it has not, and
    /// returns how it ended with everything it printed.
    pub(super) fn finish(mut self, limit: Duration) -> Result<Finished> {
        let exited =
            self.handle.wait_timeout(limit).with_context(|| format!("waiting for `{}`", self.line))?.map(|o| o.status);
        let killed = exited.is_none();
        if killed {
            kill_tree(&self.handle);
        }
        // A daemon the process started (and that left its process group) may hold the pipes
        // open for ever: give the readers a moment, then go on without them.
        let until = Instant::now() + Duration::from_secs(2);
        for reader in self.readers.drain(..) {
            while !reader.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(Finished {
            code: exited.and_then(|s| s.code()),
            killed,
            success: exited.is_some_and(|s| s.success()),
            stdout: self.stdout(),
            stderr: self.stderr(),
        })
    }

    fn said(&self) -> String {
        let mut text = String::new();
        for (name, body) in [("stderr", self.stderr()), ("stdout", self.stdout())] {
            let body = body.trim_end();
            if !body.is_empty() {
                let tail: Vec<&str> = body.lines().rev().take(40).collect();
                text.push_str(&format!("--- {name} (last {} lines)\n", tail.len()));
                for l in tail.iter().rev() {
                    text.push_str(l);
                    text.push('\n');
                }
            }
        }
        text
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.exited() {
            kill_tree(&self.handle);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_awaited_and_closing_stdin_stops_the_child() {
        let running =
            Cmd::new("sh").args(["-c", "echo starting; echo ready; cat >/dev/null; echo bye >&2"]).start().unwrap();
        let line = running.wait_for_line(Duration::from_secs(10), |l| l == "ready").unwrap();
        assert_eq!(line, "ready");
        let done = running.stop(Duration::from_secs(10)).unwrap();
        assert_eq!((done.code, done.killed), (Some(0), false));
        assert_eq!(done.stderr, "bye\n");
    }

    #[test]
    fn a_child_that_ignores_the_stop_is_killed() {
        let running = Cmd::new("sh").args(["-c", "echo ready; exec sleep 60"]).start().unwrap();
        running.wait_for_line(Duration::from_secs(10), |l| l == "ready").unwrap();
        let done = running.stop(Duration::from_millis(200)).unwrap();
        assert!(done.killed);
    }

    #[test]
    fn a_child_that_exits_early_fails_the_wait_with_what_it_said() {
        let running =
            Cmd::new("sh").args(["-c", "echo 'config.xml(3,5): error: no pool' >&2; exit 3"]).start().unwrap();
        let err = running.wait_for_line(Duration::from_secs(10), |l| l == "ready").unwrap_err().to_string();
        assert!(err.contains("ended before it was ready") && err.contains("config.xml(3,5)"), "{err}");
    }

    #[test]
    fn a_wait_past_its_limit_fails_naming_the_limit() {
        let running = Cmd::new("sleep").arg("30").start().unwrap();
        let err = running.wait_for_line(Duration::from_millis(100), |_| true).unwrap_err().to_string();
        assert!(err.contains("was not ready after 100 ms"), "{err}");
    }
}
