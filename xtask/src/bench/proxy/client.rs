//! The bench's HTTP/1.1 client: one kept-alive connection with TCP_NODELAY, the same for every
//! peer of `bench proxy`, so a difference between peers is the path, not the client.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    time::Duration,
};

use anyhow::{Context, Result, bail};

pub struct Client {
    address: String,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(address: &str) -> Result<Client> {
        let stream = TcpStream::connect(address).with_context(|| format!("cannot connect to {address}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?; // the first request starts the backend
        stream.set_nodelay(true)?;
        Ok(Client { address: address.to_string(), writer: stream.try_clone()?, reader: BufReader::new(stream) })
    }

    /// GET `path`: the body of a 200 (Content-Length or chunked); anything else is an error.
    /// The request leaves in one write; the answer must keep the connection open.
    pub fn get(&mut self, path: &str) -> Result<String> {
        let address = &self.address;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
        self.writer.write_all(request.as_bytes()).with_context(|| format!("sending to {address}"))?;
        let mut line = String::new();
        self.reader.read_line(&mut line).with_context(|| format!("reading the status from {address}"))?;
        let status = line.split(' ').nth(1).unwrap_or_default().to_string();
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line).with_context(|| format!("reading headers from {address}"))?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.trim().eq_ignore_ascii_case("chunked");
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).with_context(|| format!("reading a chunk size from {address}"))?;
                let size = usize::from_str_radix(line.trim_end(), 16)
                    .with_context(|| format!("{address}{path}: a bad chunk size line {line:?}"))?;
                let mut data = vec![0; size + 2];
                self.reader.read_exact(&mut data).with_context(|| format!("reading a chunk from {address}"))?;
                if size == 0 {
                    break; // no trailers: the CRLF after the last chunk was just read
                }
                body.extend_from_slice(&data[..size]);
            }
        } else {
            let length = length.with_context(|| {
                format!("{address}{path}: an answer with neither Content-Length nor chunked (status {status})")
            })?;
            body.resize(length, 0);
            self.reader.read_exact(&mut body).with_context(|| format!("reading the body from {address}"))?;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        if status != "200" {
            bail!("{address}{path}: status {status}: {body}");
        }
        if close {
            bail!("{address}{path}: the answer closes the connection (Connection: close); the bench needs keep-alive");
        }
        Ok(body)
    }
}
