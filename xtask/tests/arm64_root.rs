//! The emulated ARM64 root (`cargo xtask arm64-root`): ARM64 builds of the worker stand-in
//! run there natively as arm64 under qemu and arm64 Wine and serve HTTP on this machine's
//! loopback, two at once (two processes sharing the root's session), leaving nothing mounted;
//! and a program in the root reaches a listener here.
//!
//! Needs the root provisioned (`cargo xtask arm64-root install`, as root). Under CI=true a
//! missing root or prerequisite fails; elsewhere each test prints what is missing and returns.
//! Linux only (Windows on ARM64 runs ARM64 programs itself: the windows-11-arm job).

#![cfg(target_os = "linux")]

mod support;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{OnceLock, mpsc},
    time::{Duration, Instant},
};

use serde_json::Value;
use support::*;

const HOW: &str =
    "as root: apt-get install qemu-user-static binfmt-support debootstrap, then `cargo xtask arm64-root install`";
/// How long a worker in the root may take to say it is ready (a cold session starts Wine's
/// services under qemu).
const READY: Duration = Duration::from_secs(180);

/// The provisioned root: (the chroot's folder, the host path of its C:\), or None after
/// reporting what is missing.
fn provisioned() -> Option<(PathBuf, PathBuf)> {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing("root privileges for the emulated ARM64 root (chroot, mount)", "run the tests as root");
        return None;
    }
    let status = xtask(&repo_root(), &["arm64-root", "status"]);
    let text = stdout(&status);
    if !status.status.success() {
        missing(&format!("the emulated ARM64 root ({})", text.lines().nth(1).unwrap_or_default().trim()), HOW);
        return None;
    }
    let root = text.lines().find_map(|l| l.strip_prefix("arm64 root:")).map(|p| PathBuf::from(p.trim()));
    let drive_c = text
        .lines()
        .find_map(|l| l.split_once("(C:\\ is "))
        .map(|(_, p)| PathBuf::from(p.trim_end().trim_end_matches(')')));
    Some((root.expect("status names the root"), drive_c.expect("status names C:\\")))
}

/// The ARM64 binaries, built once in a copy of the checkout.
fn built() -> Option<PathBuf> {
    static BUILT: SharedBuild = OnceLock::new();
    built_once(&BUILT, &["--arch", "arm64"]).map(bin_dir)
}

/// A folder below the root's C:\ with the ARM64 worker, shim and handler and a configuration
/// naming the shim as the global module; removed when dropped.
struct Site {
    dir: PathBuf,
    windows: String,
}

impl Site {
    fn new(drive_c: &Path, bin: &Path, name: &str) -> Site {
        let folder = format!("archway-test-{}-{name}", std::process::id());
        let dir = drive_c.join(&folder);
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["archway_worker_arm64.exe", "archway_arm64.dll", "archway_diagnostics_arm64.dll"] {
            std::fs::copy(bin.join(file), dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        let windows = format!("C:\\{folder}");
        let config = support::worker::config("arm64", &format!(r"{windows}\archway_arm64.dll"), "127.0.0.1:0:");
        std::fs::write(dir.join("applicationHost.config"), config).unwrap();
        Site { dir, windows }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A worker started with `cargo xtask arm64-root run --stdin-stops`: ready, with its port.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    said: Vec<String>,
    port: u16,
}

impl Worker {
    fn start(site: &Site) -> Worker {
        let exe = site.dir.join("archway_worker_arm64.exe");
        let config = format!("{}\\applicationHost.config", site.windows);
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["arm64-root", "run", "--stdin-stops", "--timeout", "400"])
            .arg(&exe)
            .args(["--", "-ap", "arm64", "-h", &config, "-max-seconds", "300"])
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the xtask binary runs");
        let (tx, lines) = mpsc::channel();
        for pipe in
            [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())]
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let stdin = child.stdin.take();
        let mut worker = Worker { child, stdin, lines, said: Vec::new(), port: 0 };
        let end = Instant::now() + READY;
        while !worker.said.iter().any(|l| l == "archway_worker: ready") {
            match worker.lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("archway_worker: listening ") {
                        let address =
                            rest.split_whitespace().find_map(|w| w.strip_prefix("address=")).unwrap_or_default();
                        worker.port = address.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
                    }
                    worker.said.push(line);
                }
                Err(_) => {
                    let _ = worker.child.kill();
                    panic!("the arm64 worker was not ready within {READY:?}:\n{}", worker.said.join("\n"));
                }
            }
        }
        assert_ne!(worker.port, 0, "no `listening … address=` line:\n{}", worker.said.join("\n"));
        worker
    }

    /// GET `path` over HTTP/1.0 on 127.0.0.1: status and body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects to the worker in the root");
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, body.to_string())
    }

    /// Closes stdin (the worker's stop signal) and waits for the xtask to exit.
    fn stop(mut self) -> (bool, String) {
        drop(self.stdin.take());
        let end = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(200));
        self.said.extend(self.lines.try_iter());
        (status.is_some_and(|s| s.success()), self.said.join("\n"))
    }
}

fn assert_served_natively_as_arm64(status: u16, body: &str, log: &str) {
    assert_eq!(status, 200, "{body}\n{log}");
    let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(json["process"]["machine"], "arm64", "{json}");
    assert_eq!(json["process"]["native_machine"], "arm64", "{json}");
    assert_eq!(json["process"]["emulated"], false, "{json}");
    assert_eq!(json["shim"]["arch"], "arm64", "{json}");
    assert_eq!(json["handler"]["arch"], "arm64", "{json}");
    assert!(json["shim"]["path"].as_str().unwrap_or_default().ends_with("\\archway_arm64.dll"), "{json}");
}

/// Two workers at once, each its own `cargo xtask arm64-root run` process: the second shares
/// the session the first set up; both serve natively as arm64 on loopback; once both stopped,
/// the last one out has unmounted everything.
#[test]
fn arm64_workers_in_the_root_serve_http_natively_as_arm64_and_leave_nothing_mounted() {
    let Some((root, drive_c)) = provisioned() else { return };
    let Some(bin) = built() else { return };
    let sites = [Site::new(&drive_c, &bin, "a"), Site::new(&drive_c, &bin, "b")];
    let started = Instant::now();
    let workers: Vec<Worker> = std::thread::scope(|s| {
        let starts: Vec<_> = sites.iter().map(|site| s.spawn(|| Worker::start(site))).collect();
        starts.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("note: two arm64 workers ready in {:.1} s", started.elapsed().as_secs_f64());
    for worker in &workers {
        let (status, body) = worker.get("/arm64-root");
        assert_served_natively_as_arm64(status, &body, &worker.said.join("\n"));
    }
    for worker in workers {
        let (ok, log) = worker.stop();
        assert!(ok, "the worker did not stop cleanly on end of input:\n{log}");
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = root.display().to_string();
    assert!(
        !mountinfo.lines().any(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with(&root))),
        "left mounted below {root}:\n{mountinfo}"
    );
}

/// The chroot shares this machine's network namespace: a program in the root connects to a
/// listener on 127.0.0.1 here (perl is in every Debian root: perl-base is essential).
#[test]
fn a_program_in_the_root_reaches_this_machines_loopback() {
    let Some((root, _)) = provisioned() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:{port}', Timeout => 20) or die \"connect: $!\"; \
         print $s \"hello from arm64\\n\"; my $r = <$s>; print $r;"
    );
    let child = std::thread::spawn({
        let root = root.clone();
        move || {
            output_within(
                Command::new("chroot").arg(&root).args([
                    "/usr/bin/env",
                    "-i",
                    "PATH=/usr/bin:/bin",
                    "/usr/bin/perl",
                    "-e",
                    &script,
                ]),
                Duration::from_secs(120),
            )
        }
    });
    // Accept with a deadline: a program that cannot connect must fail the test, not hang it.
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(_) if child.is_finished() || Instant::now() > deadline => {
                panic!("nothing in the root connected to 127.0.0.1:{port}: {:?}", child.join().map(|o| stderr(&o)))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut got = [0u8; 17];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello from arm64\n");
    conn.write_all(b"hello from the host\n").unwrap();
    drop(conn);
    let out = child.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello from the host\n");
    // The program really is arm64.
    let uname =
        output_within(Command::new("chroot").arg(&root).args(["/usr/bin/uname", "-m"]), Duration::from_secs(60));
    assert_eq!(stdout(&uname).trim(), "aarch64");
}
