//! A minimal RFC 6455 client for the WebSocket step of `pools --host iis`: the upgrade handshake
//! (the 101 must carry the Sec-WebSocket-Accept of the client's own key, whatever part of IIS
//! writes it: docs/iis.md §9.3), masked client frames, server frames read back and reassembled,
//! and one exchange through IIS to the backend's `/ws` echo (text, binary, close). Every read has
//! a deadline; a failure names its step and carries the transcript of what was sent and received.

use std::{
    io::{ErrorKind, Read, Write},
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow, bail};
use base64::Engine as _;

pub const TEXT: u8 = 1;
pub const BINARY: u8 = 2;
pub const CLOSE: u8 = 8;
pub const PING: u8 = 9;
pub const PONG: u8 = 10;

/// How long one step (the 101, one echo, the close) may take.
pub const STEP_DEADLINE: Duration = Duration::from_secs(30);
/// The most a 101 head may be.
const MAX_HEAD: usize = 16 * 1024;
/// The most one echoed message may be (the exchange sends far less).
const MAX_MESSAGE: usize = 1 << 20;

/// A connection the exchange runs on: a TCP stream on the real machine, a scripted peer in tests.
pub trait Stream: Read + Write {
    /// How long the next read (and write) may wait.
    fn set_deadline(&mut self, limit: Duration) -> std::io::Result<()>;
}

impl Stream for std::net::TcpStream {
    fn set_deadline(&mut self, limit: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(limit))?;
        self.set_write_timeout(Some(limit))
    }
}

/// SHA-1 (FIPS 180-4), for Sec-WebSocket-Accept only (`sha1_smol`, already in the tree for
/// uuid's v5 names).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// Base64 with padding (RFC 4648 §4), as the handshake's headers carry it.
pub fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The Sec-WebSocket-Accept that answers `key` (RFC 6455 §4.2.2).
pub fn accept_for(key: &str) -> String {
    base64(&sha1(format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes()))
}

/// One frame: masked with `mask` (a client's, RFC 6455 §5.3) or not (a server's).
pub fn encode(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(bit | n as u8),
        n if n < 65536 => {
            out.push(bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(m) => {
            out.extend_from_slice(&m);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame as read, payload unmasked.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// The frame at the start of `buf` and its size, or None while it is incomplete; an error for a
/// frame no peer may send (reserved bits, a length over `MAX_MESSAGE`).
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] & 0x70 != 0 {
        bail!("a frame with reserved bits set (no extension was negotiated): {:02x?}", &buf[..2]);
    }
    let masked = buf[1] & 0x80 != 0;
    let (length, mut at) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes")), 10),
        126 | 127 => return Ok(None),
        n => (n as u64, 2),
    };
    if length > MAX_MESSAGE as u64 {
        bail!("a frame of {length} bytes (this client takes at most {MAX_MESSAGE})");
    }
    let mask = match masked {
        true if buf.len() < at + 4 => return Ok(None),
        true => {
            at += 4;
            Some([buf[at - 4], buf[at - 3], buf[at - 2], buf[at - 1]])
        }
        false => None,
    };
    let end = at + length as usize;
    if buf.len() < end {
        return Ok(None);
    }
    let mut payload = buf[at..end].to_vec();
    if let Some(m) = mask {
        payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= m[i % 4]);
    }
    Ok(Some((Frame { fin: buf[0] & 0x80 != 0, opcode: buf[0] & 0x0F, masked, payload }, end)))
}

/// What crossed the connection, for the error of a failed step.
fn show(opcode: u8, data: &[u8]) -> String {
    let kind = match opcode {
        TEXT => "text",
        BINARY => "binary",
        CLOSE => "close",
        PING => "ping",
        PONG => "pong",
        0 => "continuation",
        _ => "opcode?",
    };
    let shown = match opcode {
        CLOSE if data.len() >= 2 => format!(
            "code {} {:?}",
            u16::from_be_bytes([data[0], data[1]]),
            String::from_utf8_lossy(&data[2..data.len().min(125)])
        ),
        TEXT | CLOSE | PING | PONG => format!("{:?}", String::from_utf8_lossy(&data[..data.len().min(120)])),
        _ => format!("{:02x?}", &data[..data.len().min(24)]),
    };
    format!("{kind} of {} bytes {shown}{}", data.len(), if data.len() > 120 { "…" } else { "" })
}

/// One client connection: the bytes read but not yet used, and the transcript.
pub struct Client<'a> {
    stream: &'a mut dyn Stream,
    buf: Vec<u8>,
    transcript: Vec<String>,
    masks: u32,
}

impl<'a> Client<'a> {
    pub fn new(stream: &'a mut dyn Stream) -> Client<'a> {
        Client { stream, buf: Vec::new(), transcript: Vec::new(), masks: 0 }
    }

    /// `why` with the transcript: what was sent and received up to the failure.
    fn failed(&self, why: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{why}\n      transcript:\n        {}", self.transcript.join("\n        "))
    }

    /// More bytes within `until`: how many (0: the peer ended the connection); an error names
    /// `what` was awaited.
    fn read_some(&mut self, what: &str, until: Instant) -> Result<usize> {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.failed(format!("{what}: nothing complete within {STEP_DEADLINE:?}")));
        }
        self.stream.set_deadline(left).map_err(|e| self.failed(format!("{what}: {e}")))?;
        let mut piece = [0u8; 16384];
        match self.stream.read(&mut piece) {
            Ok(n) => {
                self.buf.extend_from_slice(&piece[..n]);
                Ok(n)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(self.failed(format!("{what}: nothing within {STEP_DEADLINE:?} ({e})")))
            }
            Err(e) => Err(self.failed(format!("{what}: {e}"))),
        }
    }

    /// More bytes within `until`; the end of the connection is an error here.
    fn fill(&mut self, what: &str, until: Instant) -> Result<()> {
        match self.read_some(what, until)? {
            0 => Err(self.failed(format!("{what}: the connection ended ({} bytes unused)", self.buf.len()))),
            _ => Ok(()),
        }
    }

    fn send(&mut self, bytes: &[u8], shown: String) -> Result<()> {
        self.transcript.push(format!("sent {shown}"));
        self.stream.set_deadline(STEP_DEADLINE).map_err(|e| self.failed(format!("sending: {e}")))?;
        self.stream.write_all(bytes).and_then(|_| self.stream.flush()).map_err(|e| self.failed(format!("sending: {e}")))
    }

    /// Sends one masked frame (each with its own mask, from a counter: reproducible).
    pub fn frame(&mut self, opcode: u8, data: &[u8]) -> Result<()> {
        self.masks += 1;
        let mask = self.masks.wrapping_mul(0x9E37_79B9).to_be_bytes();
        self.send(&encode(opcode, true, data, Some(mask)), show(opcode, data))
    }

    /// The upgrade of `path` with `key`; checks the 101 and its Sec-WebSocket-Accept.
    pub fn handshake(&mut self, host: &str, path: &str, key: &str) -> Result<()> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        self.send(request.as_bytes(), format!("{request:?}"))?;
        let until = Instant::now() + STEP_DEADLINE;
        let end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(self.failed(format!("the answer to the upgrade has no end of head in {MAX_HEAD} bytes")));
            }
            self.fill("the answer to the upgrade", until)?;
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end);
        self.transcript.push(format!("received {head:?}"));
        let status = head.lines().next().unwrap_or_default();
        if status.split(' ').nth(1) != Some("101") {
            let body = String::from_utf8_lossy(&self.buf[..self.buf.len().min(300)]).into_owned();
            return Err(self.failed(format!("the upgrade was answered {status:?}, not 101 (body begins {body:?})")));
        }
        let header = |name: &str| -> Vec<&str> {
            head.lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
                .collect()
        };
        let want = accept_for(key);
        if header("Sec-WebSocket-Accept") != [want.as_str()] {
            return Err(self.failed(format!(
                "Sec-WebSocket-Accept {:?} is not {want:?}, the answer to the client's key {key:?} \
                 (docs/iis.md §9.3: which side writes it)",
                header("Sec-WebSocket-Accept")
            )));
        }
        if !header("Upgrade").iter().any(|v| v.eq_ignore_ascii_case("websocket")) {
            return Err(self.failed(format!("the 101 has Upgrade {:?}, not websocket", header("Upgrade"))));
        }
        if !header("Connection").iter().flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case("upgrade")) {
            return Err(self.failed(format!("the 101 has Connection {:?}, without upgrade", header("Connection"))));
        }
        Ok(())
    }

    /// The next message (data frames reassembled) or control frame; a ping is answered.
    pub fn next(&mut self, what: &str) -> Result<(u8, Vec<u8>)> {
        let until = Instant::now() + STEP_DEADLINE;
        let mut message: Option<(u8, Vec<u8>)> = None;
        loop {
            let decoded = decode(&self.buf).map_err(|e| self.failed(format!("{what}: {e:#}")))?;
            let Some((frame, size)) = decoded else {
                self.fill(what, until)?;
                continue;
            };
            self.buf.drain(..size);
            self.transcript.push(format!(
                "received {}{}",
                show(frame.opcode, &frame.payload),
                if frame.fin { "" } else { " (not final)" }
            ));
            if frame.masked {
                return Err(self.failed(format!("{what}: a masked frame from the server (RFC 6455 §5.1)")));
            }
            match (frame.opcode, &mut message) {
                (PING, _) => self.frame(PONG, &frame.payload)?,
                (PONG, _) => {}
                (CLOSE, _) => return Ok((CLOSE, frame.payload)),
                (TEXT | BINARY, None) => message = Some((frame.opcode, frame.payload)),
                (0, Some((_, data))) => data.extend_from_slice(&frame.payload),
                (op, _) => {
                    return Err(self.failed(format!("{what}: a frame with opcode {op} out of place")));
                }
            }
            if frame.fin
                && let Some(done) = message.take()
            {
                return Ok(done);
            }
        }
    }

    /// After the close handshake the server ends the connection (RFC 6455 §7.1.1): EOF, or a
    /// reset, within the deadline, and nothing more before it.
    pub fn expect_end(&mut self) -> Result<()> {
        let what = "the end of the connection after the close";
        let mut piece = [0u8; 1];
        self.stream.set_deadline(STEP_DEADLINE).map_err(|e| self.failed(format!("{what}: {e}")))?;
        let ended = match self.stream.read(&mut piece) {
            Ok(0) => true,
            Ok(_) => {
                self.buf.push(piece[0]);
                false
            }
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(self.failed(format!("{what}: still open {STEP_DEADLINE:?} after the close ({e})")));
            }
            Err(e) => return Err(self.failed(format!("{what}: {e}"))),
        };
        if ended && self.buf.is_empty() {
            self.transcript.push("the connection ended".into());
            return Ok(());
        }
        Err(self.failed(format!("{} bytes after the close: {:02x?}", self.buf.len(), self.buf)))
    }
}

/// The close payload: code and UTF-8 reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// The step's exchange on `stream`, already connected to `host`: the upgrade of `path` with
/// `key`, a text and a binary message echoed, a close answered by a close and the connection's
/// end. The steps that passed, or the first failure with the transcript.
pub fn exchange(stream: &mut dyn Stream, host: &str, path: &str, key: &str) -> Result<Vec<String>> {
    let mut c = Client::new(stream);
    c.handshake(host, path, key)?;
    let text = "archway through IIS: ünïcode ✓".as_bytes();
    // 300 bytes: the 16-bit length form; the backend's echo comes back whole.
    let binary: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();
    for (opcode, data) in [(TEXT, text), (BINARY, &binary[..])] {
        c.frame(opcode, data)?;
        let got = c.next("the echo")?;
        if got != (opcode, data.to_vec()) {
            return Err(c.failed(format!("the echo is {}, not the message sent", show(got.0, &got.1))));
        }
    }
    c.frame(CLOSE, &close_payload(1000, "done"))?;
    let (op, payload) = c.next("the answer to the close")?;
    if op != CLOSE || payload.get(..2) != Some(&[0x03, 0xE8][..]) {
        return Err(c.failed(format!("the close was answered with {}, not a close with code 1000", show(op, &payload))));
    }
    c.expect_end()?;
    Ok(c.transcript)
}

/// The abort case on `stream`: the upgrade of `path`, one echo, then `kill` makes the backend
/// exit (what it answered goes into the transcript). The handler then aborts the client's side
/// (websocket_abort: IWebSocketContext::CloseTcpConnection, docs/iis.md §9.3): the connection must
/// end within the deadline, at most a close frame before it (answered) and no data.
pub fn abort_exchange(
    stream: &mut dyn Stream,
    host: &str,
    path: &str,
    key: &str,
    kill: &mut dyn FnMut() -> String,
) -> Result<Vec<String>> {
    let mut c = Client::new(stream);
    c.handshake(host, path, key)?;
    let text = b"before the backend exits";
    c.frame(TEXT, text)?;
    let got = c.next("the echo")?;
    if got != (TEXT, text.to_vec()) {
        return Err(c.failed(format!("the echo is {}, not the message sent", show(got.0, &got.1))));
    }
    let answer = kill();
    c.transcript.push(format!("asked the backend to exit: {answer}"));
    let until = Instant::now() + STEP_DEADLINE;
    let what = "the end of the connection after the backend exited";
    let mut answered = false;
    loop {
        while let Some((frame, size)) = decode(&c.buf).map_err(|e| c.failed(format!("{what}: {e:#}")))? {
            c.buf.drain(..size);
            c.transcript.push(format!("received {}", show(frame.opcode, &frame.payload)));
            if frame.opcode != CLOSE {
                return Err(c.failed(format!("{what}: a {} frame instead", show(frame.opcode, &frame.payload))));
            }
            // A close passed on from the backend's side: answered once, as a client must
            // (RFC 6455 §5.5.1), so the end does not wait for it.
            if !answered {
                answered = true;
                c.frame(CLOSE, frame.payload.get(..2).unwrap_or_default())?;
            }
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        c.stream.set_deadline(left).map_err(|e| c.failed(format!("{what}: {e}")))?;
        let mut piece = [0u8; 4096];
        match c.stream.read(&mut piece) {
            Ok(0) => {
                c.transcript.push("the connection ended".into());
                return Ok(c.transcript);
            }
            Ok(n) => c.buf.extend_from_slice(&piece[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                c.transcript.push(format!("the connection was reset ({e})"));
                return Ok(c.transcript);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => return Err(c.failed(format!("{what}: {e}"))),
        }
    }
    Err(c.failed(format!(
        "{what}: still open {STEP_DEADLINE:?} after the backend exited (websocket_abort's \
         CloseTcpConnection did not end it: docs/iis.md §9.3)"
    )))
}

/// The step's key: 16 bytes from `seed` (the row's name), base64 (RFC 6455 §4.1); a fixed key
/// per row keeps the step's output reproducible.
pub fn key_for(seed: &str) -> String {
    let digest = sha1(format!("archway-iis-websocket {seed}").as_bytes());
    base64(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key_gives_the_rfc_example_accept() {
        // RFC 6455 §1.3.
        assert_eq!(accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(base64(b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
        // FIPS 180-4's "abc", and the padding edges of base64.
        assert_eq!(
            base64(&sha1(b"abc")),
            base64(&[
                0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c,
                0xd0, 0xd8, 0x9d
            ])
        );
        assert_eq!([base64(b"f"), base64(b"fo"), base64(b"foo")], ["Zg==", "Zm8=", "Zm9v"]);
        // A message longer than one 64-byte block.
        let long = sha1(&[b'a'; 1000]);
        assert_eq!(long[..4], [0x29, 0x1e, 0x9a, 0x6c]);
    }

    #[test]
    fn client_frames_are_the_rfc_examples_byte_for_byte() {
        // RFC 6455 §5.7: a single-frame masked text message "Hello", and a masked pong.
        let mask = Some([0x37, 0xfa, 0x21, 0x3d]);
        let hello = [0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        assert_eq!(encode(TEXT, true, b"Hello", mask), [&[0x81, 0x85][..], &hello].concat());
        assert_eq!(encode(PONG, true, b"Hello", mask), [&[0x8a, 0x85][..], &hello].concat());
        // The 16-bit and 64-bit length forms (unmasked, as the RFC shows them).
        assert_eq!(encode(BINARY, true, &[0; 256], None)[..4], [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(
            encode(BINARY, true, &vec![0; 65536], None)[..10],
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        // A masked frame of the 16-bit form: the mask follows the length.
        let f = encode(BINARY, true, &[1; 300], Some([1, 2, 3, 4]));
        assert_eq!(f[..8], [0x82, 0xFE, 0x01, 0x2C, 1, 2, 3, 4]);
        assert_eq!(f[8..12], [0, 3, 2, 5]);
    }

    #[test]
    fn server_frames_are_read_from_the_rfc_examples() {
        // RFC 6455 §5.7: unmasked "Hello", the masked one, and "Hel" + "lo" in two fragments.
        let plain = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (f, n) = decode(&plain).unwrap().unwrap();
        assert_eq!((f.fin, f.opcode, f.masked, f.payload.as_slice(), n), (true, TEXT, false, &b"Hello"[..], 7));
        let masked = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let (f, _) = decode(&masked).unwrap().unwrap();
        assert_eq!((f.masked, f.payload.as_slice()), (true, &b"Hello"[..]));
        let two = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
        let (first, n) = decode(&two).unwrap().unwrap();
        let (second, m) = decode(&two[n..]).unwrap().unwrap();
        assert_eq!((first.fin, first.opcode, first.payload.as_slice()), (false, TEXT, &b"Hel"[..]));
        assert_eq!((second.fin, second.opcode, second.payload.as_slice(), n + m), (true, 0, &b"lo"[..], 9));
        // Every prefix of a frame is incomplete, not an error.
        for cut in 0..masked.len() {
            assert!(decode(&masked[..cut]).unwrap().is_none(), "{cut}");
        }
        let long = encode(BINARY, true, &[9; 70000], None);
        assert!(decode(&long[..9]).unwrap().is_none());
        assert_eq!(decode(&long).unwrap().unwrap().0.payload.len(), 70000);
        // Reserved bits (no extension) and an oversized length are errors.
        assert!(format!("{:#}", decode(&[0xC1, 0x00]).unwrap_err()).contains("reserved bits"));
        let huge = [0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0];
        assert!(format!("{:#}", decode(&huge).unwrap_err()).contains("4294967296 bytes"));
    }

    #[test]
    fn the_transcript_shows_a_close_as_its_code_and_reason() {
        assert_eq!(show(CLOSE, &close_payload(1000, "done")), "close of 6 bytes code 1000 \"done\"");
        assert_eq!(show(BINARY, &[1, 2]), "binary of 2 bytes [01, 02]");
    }

    #[test]
    fn the_key_is_sixteen_bytes_of_base64_fixed_per_row() {
        let key = key_for("x64");
        assert_eq!(key.len(), 24);
        assert!(key.ends_with("=="), "{key}");
        assert_eq!(key, key_for("x64"));
        assert_ne!(key, key_for("x86"));
    }
}
