//! What the interpreter runs against: real TCP connections ([`TcpTransport`]) or anything else that
//! implements [`Transport`] (the session crate's in-process harness with a manual clock).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fix_codec::{FrameStatus, Framer, UtcTimestamp};

use crate::script::{ConnId, MAX_CONNECTIONS};

/// What a bounded read produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// One complete message as framed by [`fix_codec::Framer`], or the bytes the framer refused
    /// (so the comparison shows what the engine sent).
    Message(Vec<u8>),
    /// The peer closed the connection (or reset it) before a complete message arrived.
    Closed,
    /// Nothing complete arrived within the timeout.
    TimedOut,
}

/// A transport failure that is not an outcome of a read: the script fails with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The step uses a connection that is not open.
    #[error("connection {0} is not open")]
    NotConnected(ConnId),
    /// The connection number is beyond what this transport supports.
    #[error("connection {0} is out of range")]
    BadConnection(ConnId),
    /// Connecting failed.
    #[error("connect to {addr} failed: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Any other I/O error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A transport-specific failure (for in-process transports).
    #[error("{0}")]
    Other(String),
}

/// The engine under test, as the interpreter sees it.
///
/// Connection numbers are those of the script (1-based). Timeouts are bounds on the whole operation,
/// not per system call: an engine that trickles bytes cannot keep a read alive past its bound.
/// An in-process implementation with a manual clock advances its clock instead of waiting.
pub trait Transport {
    /// Open connection `conn`. A connection already open under that number is dropped first.
    fn connect(&mut self, conn: ConnId) -> Result<(), TransportError>;
    /// Close connection `conn` from the runner's side.
    fn disconnect(&mut self, conn: ConnId) -> Result<(), TransportError>;
    /// Send bytes exactly as given.
    fn send(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(), TransportError>;
    /// Read exactly one complete message, waiting at most `timeout`.
    fn recv(&mut self, conn: ConnId, timeout: Duration) -> Result<Received, TransportError>;
    /// Wait at most `timeout` for the peer to close `conn`. Returns [`Received::Closed`] if it
    /// closed having sent nothing more, [`Received::Message`] with what it sent instead (the
    /// connection is then left open), or [`Received::TimedOut`].
    fn expect_closed(
        &mut self,
        conn: ConnId,
        timeout: Duration,
    ) -> Result<Received, TransportError>;
    /// The current UTC time, for `<TIME>`.
    fn now_utc(&mut self) -> UtcTimestamp;
}

/// The current wall-clock time as a [`UtcTimestamp`].
pub fn system_now_utc() -> UtcTimestamp {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => UtcTimestamp::from_unix_nanos(d.as_nanos() as i128),
        Err(e) => UtcTimestamp::from_unix_nanos(-(e.duration().as_nanos() as i128)),
    }
}

/// Bytes read per system call.
const READ_CHUNK: usize = 16 * 1024;

/// One open connection: the socket and the bytes read but not yet framed.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The peer closed (EOF or reset) or a send failed: no more bytes will come.
    eof: bool,
}

/// Blocking `std::net` connections to an engine at one address.
#[derive(Debug)]
pub struct TcpTransport {
    addr: SocketAddr,
    connect_timeout: Duration,
    framer: Framer,
    conns: Vec<Option<Conn>>,
    /// Connections the script closed (`iDISCONNECT`): kept until [`TcpTransport::close_all`] so the
    /// engine's last bytes are read rather than answered with a reset.
    closing: Vec<TcpStream>,
}

impl TcpTransport {
    /// Connections to `addr`; connecting waits at most `connect_timeout`.
    pub fn new(addr: SocketAddr, connect_timeout: Duration) -> Self {
        Self {
            addr,
            connect_timeout,
            framer: Framer::default(),
            conns: Vec::new(),
            closing: Vec::new(),
        }
    }

    /// The address connections go to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Open a connection and close it without sending anything: the reference runner does this
    /// before each script, and the engine must shrug it off.
    pub fn probe(&self) -> Result<(), TransportError> {
        let stream = self.open()?;
        // An orderly FIN, as a peer that gives up would send.
        let _ = stream.shutdown(Shutdown::Both);
        Ok(())
    }

    /// Close every open connection and wait (at most `grace` in total) for the engine to close its
    /// side, so that a following script does not find the session still logged on.
    pub fn close_all(&mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        for slot in &mut self.conns {
            if let Some(mut c) = slot.take() {
                let _ = c.stream.shutdown(Shutdown::Write);
                if !c.eof {
                    drain_until_eof(&mut c.stream, deadline);
                }
            }
        }
        for mut stream in self.closing.drain(..) {
            drain_until_eof(&mut stream, deadline);
        }
    }

    fn open(&self) -> Result<TcpStream, TransportError> {
        let connect_err = |source| TransportError::Connect {
            addr: self.addr,
            source,
        };
        let stream =
            TcpStream::connect_timeout(&self.addr, self.connect_timeout).map_err(connect_err)?;
        // Scripts send several lines back to back; each must leave at once as the engine expects.
        stream.set_nodelay(true).map_err(connect_err)?;
        Ok(stream)
    }

    fn slot(&mut self, conn: ConnId) -> Result<&mut Option<Conn>, TransportError> {
        if conn == 0 || conn > MAX_CONNECTIONS {
            return Err(TransportError::BadConnection(conn));
        }
        let idx = conn as usize - 1;
        if self.conns.len() <= idx {
            self.conns.resize_with(idx + 1, || None);
        }
        Ok(&mut self.conns[idx])
    }

    fn conn(&mut self, conn: ConnId) -> Result<&mut Conn, TransportError> {
        self.slot(conn)?
            .as_mut()
            .ok_or(TransportError::NotConnected(conn))
    }

    /// Frame the buffered bytes, reading more until a frame, EOF or the deadline.
    fn read_frame(&mut self, conn: ConnId, deadline: Instant) -> Result<Received, TransportError> {
        let framer = self.framer;
        let max = framer.max_frame_len();
        let c = self.conn(conn)?;
        loop {
            match framer.next_frame(&c.buf) {
                FrameStatus::Complete { len } => {
                    let msg = c.buf.drain(..len).collect();
                    return Ok(Received::Message(msg));
                }
                FrameStatus::Garbled { skip, .. } => {
                    // The engine sent something that is not a valid message: hand it over so the
                    // comparison fails showing it.
                    let skip = skip.clamp(1, c.buf.len());
                    let bad = c.buf.drain(..skip).collect();
                    return Ok(Received::Message(bad));
                }
                FrameStatus::NeedMore => {}
            }
            if c.eof {
                return Ok(Received::Closed);
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(Received::TimedOut);
            };
            if left.is_zero() {
                return Ok(Received::TimedOut);
            }
            // The framer reports TooLarge before the buffer passes `max`, so this bounds the buffer.
            let room = READ_CHUNK.min(max.saturating_add(1).saturating_sub(c.buf.len()).max(1));
            match read_some(&mut c.stream, &mut c.buf, room, left) {
                Ok(0) => c.eof = true,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) if is_reset(&e) => c.eof = true,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Transport for TcpTransport {
    fn connect(&mut self, conn: ConnId) -> Result<(), TransportError> {
        let stream = self.open()?;
        *self.slot(conn)? = Some(Conn {
            stream,
            buf: Vec::new(),
            eof: false,
        });
        Ok(())
    }

    fn disconnect(&mut self, conn: ConnId) -> Result<(), TransportError> {
        let c = self
            .slot(conn)?
            .take()
            .ok_or(TransportError::NotConnected(conn))?;
        // FIN rather than RST: the engine gets to read what is pending, as it should.
        let _ = c.stream.shutdown(Shutdown::Write);
        if !c.eof {
            self.closing.push(c.stream);
        }
        Ok(())
    }

    fn send(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(), TransportError> {
        let c = self.conn(conn)?;
        c.stream.set_write_timeout(Some(crate::READ_TIMEOUT))?;
        match c.stream.write_all(bytes) {
            Ok(()) => Ok(()),
            // The engine already closed: what matters is what the script expects next (usually
            // `eDISCONNECT`), so the failure is recorded as the end of the stream, not reported here.
            Err(e) if is_reset(&e) || e.kind() == io::ErrorKind::BrokenPipe => {
                c.eof = true;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn recv(&mut self, conn: ConnId, timeout: Duration) -> Result<Received, TransportError> {
        self.read_frame(conn, Instant::now() + timeout)
    }

    fn expect_closed(
        &mut self,
        conn: ConnId,
        timeout: Duration,
    ) -> Result<Received, TransportError> {
        let deadline = Instant::now() + timeout;
        let c = self.conn(conn)?;
        loop {
            if !c.buf.is_empty() {
                // Anything at all, even a fragment, means the engine sent something more.
                let got = std::mem::take(&mut c.buf);
                return Ok(Received::Message(got));
            }
            if c.eof {
                break;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(Received::TimedOut);
            };
            if left.is_zero() {
                return Ok(Received::TimedOut);
            }
            match read_some(&mut c.stream, &mut c.buf, READ_CHUNK, left) {
                Ok(0) => c.eof = true,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) if is_reset(&e) => c.eof = true,
                Err(e) => return Err(e.into()),
            }
        }
        *self.slot(conn)? = None;
        Ok(Received::Closed)
    }

    fn now_utc(&mut self) -> UtcTimestamp {
        system_now_utc()
    }
}

/// One `read` of at most `room` bytes appended to `buf`, waiting at most `timeout`.
fn read_some(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    room: usize,
    timeout: Duration,
) -> io::Result<usize> {
    // A zero timeout means "block forever" to std; callers never pass zero, but clamp anyway.
    stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    let start = buf.len();
    buf.resize(start + room, 0);
    let r = stream.read(&mut buf[start..]);
    buf.truncate(start + *r.as_ref().unwrap_or(&0));
    r
}

/// Read and discard until EOF or the deadline (bounded by both).
fn drain_until_eof(stream: &mut TcpStream, deadline: Instant) {
    let mut scratch = [0u8; 4096];
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return;
        };
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}
