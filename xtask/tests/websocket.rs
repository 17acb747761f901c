//! WebSocket through the platform handler (issue 10): a client on loopback upgrades a request
//! to the worker stand-in (which plays IIS's WebSocket module, tests/worker/src/websocket.cpp),
//! the handler proxies the upgrade with WinHTTP's WebSocket API to the test backend's `/ws`
//! echo (tests/backend/src/ws.cpp), and messages cross both ways: text and binary, one larger
//! than a read, fragmented ones, a ping, a close from either side, two sessions at once, an
//! upgrade the server answers without a 101 (an ordinary response), and the worker stopping
//! cleanly afterwards, also with a session still open (no reader thread or handle left to keep
//! it alive).
//!
//! Facts relied on: docs/httpplatform.md §9 (the handler's WebSocket path, Wine 8's WinHTTP
//! WebSocket client), docs/iis.md §9 (IIS's WebSocket module as the handler ABI sees it).
//! Under Wine: x64 always, x86 with ARCHWAY_WINE32=1; natively with ARCHWAY_RUN_NATIVELY.

mod support;

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use base64::Engine as _;
use support::{
    platform::*,
    worker::{Launcher, launcher, runnable, windows_path},
    *,
};

fn built() -> Option<PathBuf> {
    static BUILT: SharedBuild = OnceLock::new();
    built_once(&BUILT, &["--arch", &runnable().join(",")]).map(bin_dir)
}

fn sites() -> Vec<(&'static str, SiteFn)> {
    vec![(
        "ws",
        Box::new(|c: &SiteCtx| {
            HttpPlatform::new()
                .attr("processPath", c.backend())
                .attr("arguments", format!("--tag {} --max-seconds {BENCH_MAX_SECONDS}", c.tag))
        }),
    )]
}

/// The shared bench of `arch`, started on first use.
fn bench(launcher: &'static Launcher, bin: &Path, arch: &str) -> &'static Bench {
    static BENCHES: Mutex<BTreeMap<String, &'static Bench>> = Mutex::new(BTreeMap::new());
    let mut benches = BENCHES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = benches.get(arch) {
        return b;
    }
    let dir = windows_path(bin);
    let env = [("ARCHWAY_DETAILED_ERRORS", "1"), ("ARCHWAY_TEST_BACKEND_DIR", dir.as_str())];
    let started: &'static Bench =
        Box::leak(Box::new(Bench::start(launcher, bin, arch, &format!("websocket-{arch}"), sites(), &env)));
    benches.insert(arch.to_string(), started);
    started
}

fn each_arch(check: impl Fn(&Bench)) {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    for arch in runnable() {
        eprintln!("websocket tests: the {arch} worker");
        check(bench(launcher, &bin, &arch));
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal RFC 6455 client: masked frames out, whole messages in.

/// SHA-1 (FIPS 180-4), for the handshake's Sec-WebSocket-Accept only: a second implementation
/// beside the backend's and the stand-in's (archway/websocket_frame.h).
fn sha1(data: &[u8]) -> [u8; 20] {
    sha1_smol::Sha1::from(data).digest().bytes()
}

fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

/// One message (or control frame) as the client received it.
#[derive(Debug, PartialEq)]
struct Message {
    opcode: u8,
    data: Vec<u8>,
}

struct Client {
    stream: TcpStream,
    /// The 101's header lines, lower-cased names.
    headers: Vec<(String, String)>,
}

impl Client {
    /// Opens `path` on `port` with the upgrade handshake (and `extra` header lines), checks
    /// the 101 and its Sec-WebSocket-Accept.
    fn open(b: &Bench, path: &str, extra: &[&str]) -> Client {
        let port = b.site("ws").port;
        let mut stream = connect(port);
        let key = base64(b"archway-ws-key16");
        let extra: String = extra.iter().map(|h| format!("{h}\r\n")).collect();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                other => {
                    panic!("the 101 head ended early ({other:?}): {:?}\n{}", String::from_utf8_lossy(&head), b.log())
                }
            }
        }
        let text = String::from_utf8_lossy(&head).to_string();
        assert!(text.starts_with("HTTP/1.1 101 "), "expected a 101 for {path}, got:\n{text}\n{}", b.log());
        let headers: Vec<(String, String)> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let want = base64(&sha1(format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes()));
        let accept = headers.iter().find(|(n, _)| n == "sec-websocket-accept").map(|(_, v)| v.as_str());
        assert_eq!(accept, Some(want.as_str()), "Sec-WebSocket-Accept of the 101:\n{text}");
        Client { stream, headers }
    }

    fn frame(&mut self, opcode: u8, fin: bool, data: &[u8]) {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match data.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n < 65536 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12, 0x34, 0x56, 0x78];
        out.extend_from_slice(&mask);
        out.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&out).unwrap();
    }

    fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.stream.read_exact(&mut buf).unwrap_or_else(|e| panic!("reading {n} bytes of a frame: {e}"));
        buf
    }

    /// The next message: data frames reassembled, control frames one by one.
    fn next(&mut self) -> Message {
        let mut opcode = 0;
        let mut data = Vec::new();
        loop {
            let h = self.read_exact(2);
            assert_eq!(h[1] & 0x80, 0, "a server frame must not be masked");
            let len = match h[1] & 0x7F {
                126 => u16::from_be_bytes(self.read_exact(2).try_into().unwrap()) as usize,
                127 => u64::from_be_bytes(self.read_exact(8).try_into().unwrap()) as usize,
                n => n as usize,
            };
            let payload = self.read_exact(len);
            let op = h[0] & 0x0F;
            if op >= CLOSE {
                return Message { opcode: op, data: payload };
            }
            if op != 0 {
                assert_eq!(opcode, 0, "a new message began inside a fragmented one");
                opcode = op;
            }
            data.extend_from_slice(&payload);
            if h[0] & 0x80 != 0 {
                return Message { opcode, data };
            }
        }
    }

    /// After the close handshake: the connection ends (EOF) within `limit`.
    fn expect_eof(&mut self, limit: Duration) {
        self.stream.set_read_timeout(Some(limit)).unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 256];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("{n} bytes after the close: {:?}", &buf[..n]),
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted) => {}
            Err(e) => panic!("the connection did not end within {limit:?} of the close ({e}, {:?})", start.elapsed()),
        }
    }
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

// ---------------------------------------------------------------------------------------------

#[test]
fn text_and_binary_messages_are_echoed_both_ways_and_the_backend_sees_the_forwarded_upgrade() {
    each_arch(|b| {
        let mut c =
            Client::open(b, "/ws?hello=1", &["Sec-WebSocket-Extensions: permessage-deflate", "X-Test: websocket"]);
        assert!(
            c.headers.iter().any(|(n, v)| n == "upgrade" && v.eq_ignore_ascii_case("websocket")),
            "{:?}",
            c.headers
        );
        // The backend's first message lists the request headers it received.
        let hello = c.next();
        assert_eq!(hello.opcode, TEXT, "{hello:?}");
        let seen = String::from_utf8(hello.data).unwrap();
        assert!(seen.starts_with("headers\n"), "{seen}");
        let has = |name: &str| {
            seen.lines().any(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
        };
        assert!(has("X-Test") && has("MS-ASPNETCORE-TOKEN") && has("X-Forwarded-For"), "forwarded headers:\n{seen}");
        assert!(has("Sec-WebSocket-Key") && has("Upgrade"), "WinHTTP's own upgrade headers:\n{seen}");
        assert!(
            !has("Sec-WebSocket-Extensions"),
            "Sec-WebSocket-Extensions must not reach the server (docs/httpplatform.md §3):\n{seen}"
        );

        c.frame(TEXT, true, "hello, ünïcode".as_bytes());
        assert_eq!(c.next(), Message { opcode: TEXT, data: "hello, ünïcode".as_bytes().to_vec() });
        let binary: Vec<u8> = (0..=255u8).collect();
        c.frame(BINARY, true, &binary);
        assert_eq!(c.next(), Message { opcode: BINARY, data: binary });
        c.frame(BINARY, true, &[]);
        assert_eq!(c.next(), Message { opcode: BINARY, data: vec![] });
        // A ping is answered by IIS's WebSocket module (the stand-in), with its payload.
        c.frame(PING, true, b"are you there");
        assert_eq!(c.next(), Message { opcode: PONG, data: b"are you there".to_vec() });
        c.frame(CLOSE, true, &close_payload(1000, "done"));
        let close = c.next();
        assert_eq!((close.opcode, close.data.get(..2)), (CLOSE, Some(&[0x03, 0xE8][..])), "{close:?}");
        c.expect_eof(Duration::from_secs(20));
    });
}

#[test]
fn a_message_larger_than_one_read_and_a_fragmented_one_arrive_whole() {
    each_arch(|b| {
        let mut c = Client::open(b, "/ws", &[]);
        // 300 KB: more than the handler's 64 KiB buffers on each side, so it crosses as fragments.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        c.frame(BINARY, true, &big);
        let echoed = c.next();
        assert_eq!(echoed.opcode, BINARY);
        assert!(echoed.data == big, "the 300 KB message came back changed ({} bytes)", echoed.data.len());
        // A text message sent in three frames comes back as one message.
        c.frame(TEXT, false, b"one ");
        c.frame(0, false, b"two ");
        c.frame(0, true, b"three");
        assert_eq!(c.next(), Message { opcode: TEXT, data: b"one two three".to_vec() });
        c.frame(CLOSE, true, &close_payload(1001, ""));
        let close = c.next();
        assert_eq!(
            (close.opcode, close.data.get(..2)),
            (CLOSE, Some(&[0x03, 0xE9][..])),
            "the client's code crosses: {close:?}"
        );
        c.expect_eof(Duration::from_secs(20));
    });
}

#[test]
fn a_close_from_the_server_reaches_the_client_and_the_connection_ends() {
    each_arch(|b| {
        let mut c = Client::open(b, "/ws", &[]);
        c.frame(TEXT, true, b"close-please");
        let close = c.next();
        assert_eq!(close.opcode, CLOSE, "{close:?}");
        assert_eq!(close.data, close_payload(1000, "server closing"), "the server's code and reason cross");
        c.frame(CLOSE, true, &close_payload(1000, ""));
        c.expect_eof(Duration::from_secs(20));
        // The site still serves new connections afterwards.
        let mut again = Client::open(b, "/ws", &[]);
        again.frame(TEXT, true, b"again");
        assert_eq!(again.next(), Message { opcode: TEXT, data: b"again".to_vec() });
        again.frame(CLOSE, true, &close_payload(1000, ""));
        assert_eq!(again.next().opcode, CLOSE);
    });
}

#[test]
fn the_worker_stops_cleanly_after_websockets_including_one_the_client_dropped() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    for arch in runnable() {
        let dir = windows_path(&bin);
        let env = [("ARCHWAY_DETAILED_ERRORS", "1"), ("ARCHWAY_TEST_BACKEND_DIR", dir.as_str())];
        let b = Bench::start(launcher, &bin, &arch, &format!("websocket-stop-{arch}"), sites(), &env);
        let mut closed = Client::open(&b, "/ws", &[]);
        closed.frame(TEXT, true, b"x");
        assert_eq!(closed.next().data, b"x");
        closed.frame(CLOSE, true, &close_payload(1000, ""));
        assert_eq!(closed.next().opcode, CLOSE);
        closed.expect_eof(Duration::from_secs(20));
        // A client that vanishes without a close: the session must still end.
        let mut dropped = Client::open(&b, "/ws", &[]);
        dropped.frame(TEXT, true, b"y");
        assert_eq!(dropped.next().data, b"y");
        drop(dropped);
        std::thread::sleep(Duration::from_secs(2));
        // And one still open when the worker is told to stop: the stop must not wait for it.
        let mut open = Client::open(&b, "/ws", &[]);
        open.frame(TEXT, true, b"z");
        assert_eq!(open.next().data, b"z");
        let stopping = Instant::now();
        let code = b.stop();
        let took = stopping.elapsed();
        assert!(
            took < Duration::from_secs(30),
            "{arch}: the worker took {took:?} to stop with a WebSocket open\n{}",
            b.log()
        );
        eprintln!("{arch}: the worker stopped in {took:?} with a WebSocket open");
        // That client's connection has ended (a close frame first, or at once).
        open.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        match open.stream.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty() || rest[0] & 0x0F == CLOSE,
                "{arch}: after the stop the open client got {rest:?}"
            ),
            Err(e) => assert!(
                matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted),
                "{arch}: the open client's connection did not end with the worker: {e}"
            ),
        }
        let log = b.log();
        assert_eq!(code, Some(0), "{arch}: the worker's exit code after WebSocket sessions\n{log}");
        assert!(!log.contains("still outstanding"), "{arch}: a WebSocket read was left outstanding:\n{log}");
        assert!(log.contains("GET /ws -> 101"), "{arch}: the worker logged the upgrades:\n{log}");
    }
}

#[test]
fn an_upgrade_the_server_does_not_accept_is_an_ordinary_response() {
    each_arch(|b| {
        // The echo route answers 200 with JSON: no WebSocket, the response is proxied as usual.
        let r = get_with(
            b.site("ws").port,
            "/not-a-websocket",
            &[
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Key: YXJjaHdheS13cy1rZXkxNg==",
                "Sec-WebSocket-Version: 13",
            ],
        );
        assert_eq!(r.status, 200, "{}\n{}", r.text(), b.log());
        let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()));
        assert_eq!(json["url"], "/not-a-websocket", "{json}");
    });
}

#[test]
fn two_websockets_at_once_keep_their_own_messages() {
    each_arch(|b| {
        let mut one = Client::open(b, "/ws", &[]);
        let mut two = Client::open(b, "/ws", &[]);
        for i in 0..5 {
            one.frame(TEXT, true, format!("one {i}").as_bytes());
            two.frame(BINARY, true, format!("two {i}").as_bytes());
            assert_eq!(two.next(), Message { opcode: BINARY, data: format!("two {i}").into_bytes() });
            assert_eq!(one.next(), Message { opcode: TEXT, data: format!("one {i}").into_bytes() });
        }
        for c in [&mut one, &mut two] {
            c.frame(CLOSE, true, &close_payload(1000, ""));
            assert_eq!(c.next().opcode, CLOSE);
            c.expect_eof(Duration::from_secs(20));
        }
    });
}
