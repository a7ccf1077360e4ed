//! A minimal websocket client for the load generator: the upgrade, masked
//! frames out, frames in, and permessage-deflate both ways, presented as a
//! plain byte stream (`Read + Write`) so every workload runs over TCP and
//! websocket alike. Independent of the product's own codec on purpose.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush};

const TAIL: [u8; 4] = [0, 0, 0xFF, 0xFF];

/// A connected, upgraded websocket.
pub(crate) struct WsStream {
    stream: TcpStream,
    /// Raw bytes read and not yet framed.
    raw: Vec<u8>,
    /// Decoded bytes not yet handed to the reader.
    ready: Vec<u8>,
    ready_at: usize,
    /// A compressed message being collected (RSV1 frames).
    message: Option<Vec<u8>>,
    out: Vec<u8>,
    /// Compression state, only where permessage-deflate was negotiated
    /// (a flood of thousands of clients must not carry it each).
    deflater: Option<Box<CompressorOxide>>,
    inflater: Option<Box<InflateState>>,
    mask_seed: u32,
}

impl WsStream {
    /// Connects and upgrades; `deflate` offers permessage-deflate.
    pub(crate) fn connect(addr: SocketAddr, deflate: bool) -> io::Result<Self> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let offer = if deflate {
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        } else {
            ""
        };
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
        );
        stream.write_all(request.as_bytes())?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during the upgrade",
                ));
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        if !head.starts_with("HTTP/1.1 101") {
            return Err(io::Error::other(format!(
                "upgrade refused: {}",
                head.lines().next().unwrap_or_default()
            )));
        }
        let compress = head.to_ascii_lowercase().contains("permessage-deflate");
        Ok(Self {
            stream,
            raw: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            message: None,
            out: Vec::new(),
            deflater: compress.then(|| {
                Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                    1, -15, 0,
                )))
            }),
            inflater: compress.then(|| InflateState::new_boxed(DataFormat::Raw)),
            mask_seed: 0x9E37_79B9,
        })
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.stream.set_nonblocking(nonblocking)
    }

    /// Decodes every complete frame in `raw` into `ready`.
    fn decode(&mut self) -> io::Result<()> {
        let mut at = 0;
        loop {
            let buf = &self.raw[at..];
            if buf.len() < 2 {
                break;
            }
            let (b0, b1) = (buf[0], buf[1]);
            let (len, header) = match b1 & 0x7F {
                126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
                127 if buf.len() >= 10 => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(&buf[2..10]);
                    (u64::from_be_bytes(be), 10)
                }
                126 | 127 => break,
                n => (u64::from(n), 2),
            };
            let total = header + len as usize;
            if buf.len() < total {
                break;
            }
            let payload = buf[header..total].to_vec();
            at += total;
            let (fin, rsv1, opcode) = (b0 & 0x80 != 0, b0 & 0x40 != 0, b0 & 0x0F);
            match opcode {
                0x9 => self.send_frame(0xA, &payload, false)?,
                0x8 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "close frame")),
                0x0..=0x2 => {
                    if rsv1 || self.message.is_some() {
                        let message = self.message.get_or_insert_with(Vec::new);
                        message.extend_from_slice(&payload);
                        if fin {
                            let compressed = self.message.take().unwrap_or_default();
                            self.inflate(&compressed)?;
                        }
                    } else {
                        self.ready.extend_from_slice(&payload);
                    }
                }
                _ => {}
            }
        }
        self.raw.drain(..at);
        Ok(())
    }

    fn inflate(&mut self, compressed: &[u8]) -> io::Result<()> {
        let inflater = self
            .inflater
            .get_or_insert_with(|| InflateState::new_boxed(DataFormat::Raw));
        inflater.reset(DataFormat::Raw);
        for part in [compressed, &TAIL[..]] {
            let mut input = part;
            loop {
                let start = self.ready.len();
                self.ready.resize(start + 64 * 1024, 0);
                let r = miniz_oxide::inflate::stream::inflate(
                    inflater,
                    input,
                    &mut self.ready[start..],
                    MZFlush::Sync,
                );
                self.ready.truncate(start + r.bytes_written);
                input = &input[r.bytes_consumed..];
                if r.status.is_err() && r.bytes_written == 0 && r.bytes_consumed == 0 {
                    break;
                }
                if input.is_empty() && r.bytes_written < 64 * 1024 {
                    break;
                }
            }
        }
        Ok(())
    }

    fn send_frame(&mut self, opcode: u8, payload: &[u8], rsv1: bool) -> io::Result<()> {
        self.mask_seed = self
            .mask_seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let mask = self.mask_seed.to_be_bytes();
        self.out.clear();
        self.out.push(0x80 | if rsv1 { 0x40 } else { 0 } | opcode);
        match payload.len() {
            n if n <= 125 => self.out.push(0x80 | n as u8),
            n if n <= 65535 => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&mask);
        let start = self.out.len();
        self.out.extend_from_slice(payload);
        for (i, byte) in self.out[start..].iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
        self.stream.write_all(&self.out)
    }
}

impl Read for WsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.ready_at == self.ready.len() {
            self.ready.clear();
            self.ready_at = 0;
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(0);
            }
            self.raw.extend_from_slice(&chunk[..n]);
            self.decode()?;
        }
        let n = buf.len().min(self.ready.len() - self.ready_at);
        buf[..n].copy_from_slice(&self.ready[self.ready_at..self.ready_at + n]);
        self.ready_at += n;
        Ok(n)
    }
}

impl Write for WsStream {
    /// Each write is one binary message, compressed when negotiated.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(deflater) = self.deflater.as_mut().filter(|_| data.len() >= 64) {
            deflater.reset();
            let mut compressed = vec![0u8; data.len() + 1024];
            let r = miniz_oxide::deflate::stream::deflate(
                deflater,
                data,
                &mut compressed,
                MZFlush::Sync,
            );
            compressed.truncate(r.bytes_written);
            if compressed.ends_with(&TAIL) {
                compressed.truncate(compressed.len() - 4);
            }
            self.send_frame(0x2, &compressed, true)?;
        } else {
            self.send_frame(0x2, data, false)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
