//! A scripted stand-in for IIS and the backend's `/ws` echo, in memory, for the WebSocket step's
//! tests on Linux: it answers the upgrade, echoes messages and answers a close, or shows one of
//! the faults the step must report (no 101, the backend's accept for another key, a close left
//! unanswered, a connection left open, a message changed on the way, a connection that outlives
//! the backend).

use std::{
    cell::Cell,
    collections::VecDeque,
    io::{Error, ErrorKind, Read, Write},
    rc::Rc,
    time::Duration,
};

use super::websocket::{self, BINARY, CLOSE, TEXT, accept_for, decode, encode};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    None,
    /// The echo comes back in two fragments (not a fault: the client reassembles).
    Fragmented,
    /// The upgrade is answered 502.3, as when the handler cannot proxy it.
    NoUpgrade,
    /// The 101 carries the accept of another key (the backend's answer to WinHTTP's own key).
    ForeignAccept,
    /// The binary message comes back changed.
    Changed,
    /// A close from the client gets no answer.
    CloseUnanswered,
    /// The close is answered but the connection stays open.
    StaysOpen,
    /// The connection stays open after the backend exited.
    OutlivesBackend,
    /// After the backend exited, a close (1011) comes first and the end waits for the client's
    /// close (not a fault: a handler passing the loss on as a server close).
    CloseOnExit,
}

pub struct Peer {
    fault: Fault,
    input: Vec<u8>,
    output: VecDeque<u8>,
    upgraded: bool,
    ended: bool,
    /// This side sent a close and waits for the client's.
    closing: bool,
    /// Set when the backend was told to exit (by the recorder's GET /crash).
    killed: Rc<Cell<bool>>,
}

impl Peer {
    pub fn new(fault: Fault, killed: Rc<Cell<bool>>) -> Peer {
        Peer {
            fault,
            input: Vec::new(),
            output: VecDeque::new(),
            upgraded: false,
            ended: false,
            closing: false,
            killed,
        }
    }

    fn say(&mut self, bytes: &[u8]) {
        self.output.extend(bytes.iter().copied());
    }

    fn process(&mut self) {
        if !self.upgraded {
            let Some(end) = self.input.windows(4).position(|w| w == b"\r\n\r\n") else { return };
            let head = String::from_utf8_lossy(&self.input[..end]).into_owned();
            self.input.drain(..end + 4);
            let key = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Key"))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default();
            let accept = match self.fault {
                Fault::NoUpgrade => {
                    self.say(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 30\r\n\r\nHTTP Error 502.3 - Bad Gateway");
                    self.ended = true;
                    return;
                }
                Fault::ForeignAccept => accept_for("V2luSFRUUCdzIG93biBrZXk="),
                _ => accept_for(&key),
            };
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nServer: Microsoft-IIS/10.0\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            self.say(answer.as_bytes());
            self.upgraded = true;
        }
        while let Ok(Some((frame, size))) = decode(&self.input) {
            self.input.drain(..size);
            assert!(frame.masked, "the client sent an unmasked frame: {frame:?}");
            match frame.opcode {
                TEXT | BINARY => {
                    let mut data = frame.payload;
                    if self.fault == Fault::Changed && frame.opcode == BINARY {
                        data[0] ^= 1;
                    }
                    if self.fault == Fault::Fragmented {
                        let (a, b) = data.split_at(data.len() / 2);
                        let (first, second) = (encode(frame.opcode, false, a, None), encode(0, true, b, None));
                        self.say(&first);
                        self.say(&second);
                    } else {
                        self.say(&encode(frame.opcode, true, &data, None));
                    }
                }
                CLOSE if self.fault == Fault::CloseUnanswered => {}
                CLOSE if self.closing => self.ended = true,
                CLOSE => {
                    let code = frame.payload.get(..2).unwrap_or(&[0x03, 0xE8]).to_vec();
                    self.say(&encode(CLOSE, true, &code, None));
                    self.ended = self.fault != Fault::StaysOpen;
                }
                _ => {}
            }
        }
    }
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.fault {
            _ if !self.killed.get() || self.ended => {}
            Fault::OutlivesBackend => {}
            Fault::CloseOnExit if !self.closing => {
                self.closing = true;
                self.say(&encode(CLOSE, true, &[0x03, 0xF3], None));
            }
            Fault::CloseOnExit => {}
            _ => self.ended = true,
        }
        if self.output.is_empty() {
            return match self.ended {
                true => Ok(0),
                false => Err(Error::new(ErrorKind::TimedOut, "timed out (the scripted peer sends nothing more)")),
            };
        }
        let n = buf.len().min(self.output.len());
        for (slot, byte) in buf.iter_mut().zip(self.output.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.input.extend_from_slice(buf);
        self.process();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl websocket::Stream for Peer {
    fn set_deadline(&mut self, limit: Duration) -> std::io::Result<()> {
        assert!(!limit.is_zero() && limit <= websocket::STEP_DEADLINE, "{limit:?}");
        Ok(())
    }
}
