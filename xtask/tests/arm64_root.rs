//! The emulated ARM64 root (`cargo xtask arm64-root`): an ARM64 build of the load test runs
//! there natively as arm64 under qemu and arm64 Wine, two programs at once share the root and
//! leave nothing mounted, and a program in the root reaches this machine's loopback.
//!
//! Needs the root provisioned (`cargo xtask arm64-root install`, as root). Under CI=true a
//! missing root or prerequisite fails; elsewhere each test prints what is missing and returns.
//! Linux only (Windows on ARM64 runs ARM64 programs itself: the windows-11-arm job).

#![cfg(target_os = "linux")]

mod support;

use std::{
    io::{Read, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
    time::{Duration, Instant},
};

use serde_json::Value;
use support::*;

const HOW: &str = "as root: apt-get install qemu-user-static binfmt-support debootstrap, then `cargo xtask arm64-root install`";

/// The provisioned root's chroot folder, or None after reporting what is missing.
fn provisioned() -> Option<PathBuf> {
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
    text.lines().find_map(|l| l.strip_prefix("arm64 root:")).map(|p| PathBuf::from(p.trim()))
}

/// The ARM64 binaries, built once in a copy of the checkout.
fn built() -> Option<PathBuf> {
    static BUILT: SharedBuild = OnceLock::new();
    built_once(&BUILT, &["--arch", "arm64"]).map(bin_dir)
}

fn run_in_root(program: &Path) -> Output {
    xtask(&repo_root(), &["arm64-root", "run", &program.display().to_string()])
}

/// The last JSON line a load test printed.
fn json_line(out: &Output) -> Value {
    let text = stdout(out);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or("null");
    serde_json::from_str(line).unwrap_or(Value::Null)
}

fn assert_served_natively_as_arm64(out: &Output) {
    let log = format!("{}{}", stdout(out), stderr(out));
    assert!(out.status.success(), "{log}");
    let json = json_line(out);
    assert_eq!(json["status"], 200, "{log}");
    let body = &json["body"];
    assert_eq!(body["process"]["machine"], "arm64", "{log}");
    assert_eq!(body["process"]["native_machine"], "arm64", "{log}");
    assert_eq!(body["process"]["emulated"], false, "{log}");
    assert_eq!(body["shim"]["arch"], "arm64", "{log}");
    assert_eq!(body["handler"]["arch"], "arm64", "{log}");
    assert!(body["shim"]["path"].as_str().unwrap_or_default().ends_with("\\archway_arm64.dll"), "{log}");
}

#[test]
fn the_arm64_load_test_runs_natively_as_arm64_in_the_root() {
    let Some(_root) = provisioned() else { return };
    let Some(bin) = built() else { return };
    let started = Instant::now();
    let out = run_in_root(&bin.join("archway_loadtest_arm64.exe"));
    assert_served_natively_as_arm64(&out);
    eprintln!("note: one load test in the arm64 root, session included: {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn two_programs_at_once_share_the_root_and_leave_nothing_mounted() {
    let Some(root) = provisioned() else { return };
    let Some(bin) = built() else { return };
    let exe = bin.join("archway_loadtest_arm64.exe");
    let outs: Vec<Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2).map(|_| s.spawn(|| run_in_root(&exe))).collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for out in &outs {
        assert_served_natively_as_arm64(out);
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = root.display().to_string();
    assert!(!mountinfo.lines().any(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with(&root))), "left mounted below {root}:\n{mountinfo}");
}

/// The chroot shares this machine's network namespace: a program in the root connects to a
/// listener on 127.0.0.1 here (perl is in every Debian root: perl-base is essential).
#[test]
fn a_program_in_the_root_reaches_this_machines_loopback() {
    let Some(root) = provisioned() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:{port}', Timeout => 20) or die \"connect: $!\"; \
         print $s \"hello from arm64\\n\"; my $r = <$s>; print $r;"
    );
    let child = std::thread::spawn({
        let root = root.clone();
        move || Command::new("timeout").args(["120", "chroot"]).arg(&root).args(["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "/usr/bin/perl", "-e", &script]).output().expect("chroot runs")
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
    let uname = Command::new("timeout").args(["60", "chroot"]).arg(&root).args(["/usr/bin/uname", "-m"]).output().unwrap();
    assert_eq!(stdout(&uname).trim(), "aarch64");
}
