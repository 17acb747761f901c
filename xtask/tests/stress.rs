//! Stress of the pending-request path (issue 10): thousands of requests proxied by the platform
//! handler through the worker stand-in over a few keep-alive connections in parallel, each with
//! a deadline of its own, so a completion that is lost (the handler's `complete` never reaching
//! the shim, or the shim's PostCompletion never reaching the stand-in's OnAsyncCompletion) shows
//! as a named request that did not finish, not as a test that stalls.
//!
//! The mix, by request number: small GETs (echo), POSTs with a Content-Length body (echo of its
//! length and SHA-256), a sized response of about 100 KB, a chunked response from `/slow`, a
//! client that resets its connection in the middle of an 8 MB response, and a client that closes
//! its connection before the response head. The last two leave no client to report a hang, so
//! the worker is stopped gracefully at the end: its "requests still running after 5 s" (a
//! request the handler never completed; tests/worker/src/main.cpp) fails the test too.
//!
//! `ARCHWAY_STRESS_REQUESTS` sets the number of requests (default [`DEFAULT_REQUESTS`], under a
//! minute under Wine on two cores); a hunt runs tens of thousands. x64 under Wine, x86 with
//! `ARCHWAY_WINE32=1`, natively on Windows with ARCHWAY_RUN_NATIVELY (as platform.rs).

mod support;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, TcpStream},
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};
use support::{
    platform::{Bench, HttpPlatform, SiteFn},
    worker::{launcher, runnable},
    *,
};

/// Requests per run unless `ARCHWAY_STRESS_REQUESTS` says otherwise.
const DEFAULT_REQUESTS: usize = 3000;
/// Client connections, each with its own thread and keep-alive connection.
const CONNECTIONS: usize = 4;
/// How long one request may take from its first byte sent to its last byte read.
const PER_REQUEST: Duration = Duration::from_secs(10);
/// Failures after which the clients stop sending (the rest would only repeat them).
const STOP_AFTER: usize = 12;
/// The first request starts the backend (a cold Wine process start).
const FIRST_REQUEST: Duration = Duration::from_secs(90);

fn built() -> Option<PathBuf> {
    static BUILT: SharedBuild = OnceLock::new();
    built_once(&BUILT, &["--arch", &runnable().join(",")]).map(bin_dir)
}

fn requests() -> usize {
    match std::env::var("ARCHWAY_STRESS_REQUESTS") {
        Err(_) => DEFAULT_REQUESTS,
        Ok(v) => v.trim().parse::<usize>().ok().filter(|n| *n > 0).unwrap_or_else(|| {
            panic!("ARCHWAY_STRESS_REQUESTS={v:?} is not a positive whole number of requests (e.g. 20000)")
        }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Get,
    Post,
    Large,
    Chunked,
    ResetMidResponse,
    CloseBeforeHead,
}

/// Request `i`'s kind: four in ten small, the rest one of each heavier case.
fn kind_of(i: usize) -> Kind {
    match i % 10 {
        0 | 2 | 6 => Kind::Get,
        1 | 8 => Kind::Post,
        3 => Kind::Large,
        5 => Kind::Chunked,
        7 => Kind::ResetMidResponse,
        _ => Kind::CloseBeforeHead,
    }
}

fn post_body(i: usize) -> Vec<u8> {
    (0..1 + (i * 37) % 20_000).map(|k| (k % 251) as u8).collect()
}

fn large_size(i: usize) -> usize {
    100_000 + (i % 7) * 1_000
}

fn request_bytes(kind: Kind, i: usize) -> Vec<u8> {
    let head = |method: &str, target: String, extra: &str| {
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n").into_bytes()
    };
    match kind {
        Kind::Get => head("GET", format!("/stress?i={i}"), ""),
        Kind::Post => {
            let body = post_body(i);
            let mut r = head("POST", format!("/stress?i={i}"), &format!("Content-Length: {}\r\n", body.len()));
            r.extend_from_slice(&body);
            r
        }
        Kind::Large => head("GET", format!("/large?bytes={}&i={i}", large_size(i)), ""),
        Kind::Chunked => head("GET", format!("/slow?chunks=3&chunk_ms=1&i={i}"), ""),
        Kind::ResetMidResponse => head("GET", format!("/large?bytes=8000000&i={i}"), ""),
        Kind::CloseBeforeHead => head("GET", format!("/slow?head_ms=300&i={i}"), ""),
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads within `until`: every socket read gets only the time left.
struct Reader {
    inner: BufReader<TcpStream>,
    until: Instant,
}

impl Reader {
    fn arm(&mut self) -> Result<(), String> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the deadline passed".into());
        }
        self.inner.get_ref().set_read_timeout(Some(left)).map_err(|e| format!("set_read_timeout: {e}"))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        loop {
            self.arm()?;
            let before = line.len();
            match self.inner.read_until(b'\n', &mut line) {
                Ok(0) if line.len() == before => return Err(format!("connection closed after {line:?}")),
                Ok(_) if line.ends_with(b"\n") => break,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(format!("reading a line: {e}")),
            }
        }
        if !line.ends_with(b"\r\n") {
            return Err(format!("a line without CRLF: {:?}", String::from_utf8_lossy(&line)));
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|e| format!("a line that is not UTF-8: {e}"))
    }

    fn exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut data = vec![0; n];
        let mut got = 0;
        while got < n {
            self.arm()?;
            match self.inner.read(&mut data[got..]) {
                Ok(0) => return Err(format!("connection closed after {got} of {n} body bytes")),
                Ok(k) => got += k,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(format!("reading the body: {e}")),
            }
        }
        Ok(data)
    }

    fn head(&mut self) -> Result<Answer, String> {
        let status_line = self.line()?;
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("status line {status_line:?}"))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").ok_or_else(|| format!("header line {line:?}"))?;
            headers.push((name.to_string(), value.to_string()));
        }
        Ok(Answer { status, headers, body: Vec::new() })
    }

    fn response(&mut self) -> Result<Answer, String> {
        let mut a = self.head()?;
        if a.header("Transfer-Encoding").is_some() {
            loop {
                let line = self.line()?;
                let size = usize::from_str_radix(&line, 16).map_err(|_| format!("chunk size {line:?}"))?;
                if size == 0 {
                    if !self.line()?.is_empty() {
                        return Err("trailers after the last chunk".into());
                    }
                    break;
                }
                a.body.extend(self.exact(size)?);
                if !self.line()?.is_empty() {
                    return Err("no CRLF after chunk data".into());
                }
            }
        } else if let Some(length) = a.header("Content-Length") {
            let n = length.parse::<usize>().map_err(|_| format!("Content-Length {length:?}"))?;
            a.body = self.exact(n)?;
        } else {
            return Err("a response with neither Content-Length nor chunked on a kept-alive connection".into());
        }
        Ok(a)
    }
}

fn echo_field(a: &Answer, pointer: &str) -> Result<serde_json::Value, String> {
    let json: serde_json::Value = serde_json::from_slice(&a.body)
        .map_err(|e| format!("the echo is not JSON ({e}): {}", String::from_utf8_lossy(&a.body)))?;
    json.pointer(pointer).cloned().ok_or_else(|| format!("the echo has no {pointer}"))
}

fn check(kind: Kind, i: usize, a: &Answer) -> Result<(), String> {
    if a.status != 200 {
        return Err(format!("status {} with {}", a.status, String::from_utf8_lossy(&a.body)));
    }
    match kind {
        Kind::Get => {
            let url = echo_field(a, "/url")?;
            (url == format!("/stress?i={i}").as_str()).then_some(()).ok_or(format!("the echo's url is {url}"))
        }
        Kind::Post => {
            let body = post_body(i);
            let length = echo_field(a, "/body/length")?;
            let sha = echo_field(a, "/body/sha256")?;
            let want: String = Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
            (length == body.len() && sha == want.as_str())
                .then_some(())
                .ok_or(format!("the echo saw {length} bytes with SHA-256 {sha}; sent {} with {want}", body.len()))
        }
        Kind::Large => {
            let n = large_size(i);
            let good = a.body.len() == n && a.body.iter().enumerate().all(|(k, b)| *b == (k % 251) as u8);
            good.then_some(()).ok_or(format!("{} bytes, not the {n} of /large's pattern", a.body.len()))
        }
        Kind::Chunked => (a.body == b"chunk 1\nchunk 2\nchunk 3\n")
            .then_some(())
            .ok_or(format!("body {:?}", String::from_utf8_lossy(&a.body))),
        Kind::ResetMidResponse | Kind::CloseBeforeHead => Ok(()),
    }
}

fn connect(port: u16) -> Result<(TcpStream, Reader), String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connecting to 127.0.0.1:{port}: {e}"))?;
    stream.set_nodelay(true).ok();
    stream.set_write_timeout(Some(PER_REQUEST)).map_err(|e| e.to_string())?;
    let reader =
        Reader { inner: BufReader::new(stream.try_clone().map_err(|e| e.to_string())?), until: Instant::now() };
    Ok((stream, reader))
}

/// One request on `conn` (made or remade as needed); Err names what went wrong.
fn one(port: u16, conn: &mut Option<(TcpStream, Reader)>, i: usize, limit: Duration) -> Result<(), String> {
    let kind = kind_of(i);
    if conn.is_none() {
        *conn = Some(connect(port)?);
    }
    let (stream, reader) = conn.as_mut().unwrap();
    reader.until = Instant::now() + limit;
    stream.write_all(&request_bytes(kind, i)).map_err(|e| format!("sending: {e}"))?;
    match kind {
        Kind::CloseBeforeHead => {
            let _ = stream.shutdown(Shutdown::Both);
            *conn = None;
            Ok(())
        }
        Kind::ResetMidResponse => {
            let result = reader.head().and_then(|a| {
                check(kind, i, &a)?;
                reader.exact(64 * 1024).map(|_| ())
            });
            // Unread bytes in the receive buffer: closing sends a reset.
            *conn = None;
            result
        }
        _ => {
            let result = reader.response().and_then(|a| check(kind, i, &a));
            if result.is_err() {
                *conn = None;
            }
            result
        }
    }
}

fn site() -> Vec<(&'static str, SiteFn)> {
    vec![(
        "stress",
        Box::new(|c| {
            HttpPlatform::new()
                .attr("processPath", c.backend())
                .attr("arguments", format!("--tag {} --max-seconds 900", c.tag))
        }),
    )]
}

fn run(launcher: &'static support::worker::Launcher, bin: &Path, arch: &str) {
    let total = requests();
    let bench =
        Bench::start(launcher, bin, arch, &format!("stress-{arch}"), site(), &[("ARCHWAY_DETAILED_ERRORS", "1")]);
    let port = bench.site("stress").port;
    let mut first = None;
    if let Err(e) = one(port, &mut first, 0, FIRST_REQUEST) {
        panic!("the first request (which starts the backend) failed: {e}\n{}", bench.log());
    }
    drop(first);
    let failures = Mutex::new(Vec::<String>::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..CONNECTIONS {
            let failures = &failures;
            s.spawn(move || {
                let mut conn = None;
                for i in (1 + c..total).step_by(CONNECTIONS) {
                    // A crashed or wedged worker would cost PER_REQUEST for every request left.
                    if failures.lock().unwrap().len() >= STOP_AFTER {
                        break;
                    }
                    let t = Instant::now();
                    if let Err(e) = one(port, &mut conn, i, PER_REQUEST) {
                        failures.lock().unwrap().push(format!(
                            "request #{i} ({:?}) on client connection {c}, after {} ms: {e}",
                            kind_of(i),
                            t.elapsed().as_millis()
                        ));
                        conn = None;
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    eprintln!(
        "stress {arch}: {total} requests over {CONNECTIONS} connections in {:.1} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    // The reset and closed connections' requests end on the worker's side by themselves: give
    // them a moment, then stop gracefully (5 s for what is still in flight).
    std::thread::sleep(Duration::from_secs(2));
    let code = bench.stop();
    let log = bench.log();
    let mut failures = failures.into_inner().unwrap();
    for needle in ["requests still running after 5 s", "never completed", "Unhandled", "starting debugger"] {
        if log.contains(needle) {
            failures.push(format!("the worker's log says \"{needle}\": a request never completed, or a crash"));
        }
    }
    if code != Some(0) {
        failures.push(format!("the worker exited with {code:?} after its stdin closed, not 0"));
    }
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed on {arch}:\n{}\n{log}",
        failures.len(),
        failures.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn thousands_of_proxied_requests_over_keep_alive_connections_all_complete() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    for arch in runnable() {
        eprintln!("stress tests: the {arch} worker");
        run(launcher, &bin, &arch);
    }
}
