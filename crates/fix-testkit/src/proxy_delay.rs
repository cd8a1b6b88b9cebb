//! A delaying TCP proxy for loopback tests: every chunk read from one side is written to the other
//! side `delay` later (both directions), so a link has latency and bytes are still in flight when a
//! test cuts it. [`DelayProxy::cut_client_side`] closes only the client's side of each connection:
//! what the client had already sent keeps travelling and reaches the server late, after the closed
//! connection's FIN would have, and possibly after the client has connected again (bytes of an old
//! connection arriving after a new one started: reordering across reconnects).
//!
//! Bounds: at most [`MAX_DELAY_CONNECTIONS`] live connections (more are closed at accept); per
//! direction at most [`MAX_IN_FLIGHT_CHUNKS`] chunks of at most 16 KiB in flight (the reader blocks
//! when the queue is full, which is TCP back-pressure, not a buffer growing).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most live connections a delay proxy keeps; more are closed at once.
pub const MAX_DELAY_CONNECTIONS: usize = 64;
/// Most chunks in flight per direction of a connection.
pub const MAX_IN_FLIGHT_CHUNKS: usize = 256;
const CHUNK: usize = 16 * 1024;

struct Inner {
    addr: SocketAddr,
    upstream: SocketAddr,
    delay_nanos: AtomicU64,
    stop: AtomicBool,
    /// Client and upstream sockets of every live connection (clones, for cutting), with the
    /// number of its directions still writing (0: finished, pruned at the next accept).
    conns: Mutex<Vec<Conn>>,
    accepted: AtomicUsize,
}

type Conn = (TcpStream, TcpStream, Arc<AtomicUsize>);

/// A proxy adding a fixed delay to every byte in both directions (see the module documentation).
pub struct DelayProxy {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DelayProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayProxy")
            .field("addr", &self.inner.addr)
            .field("upstream", &self.inner.upstream)
            .field("delay", &self.delay())
            .finish()
    }
}

impl DelayProxy {
    /// A proxy to `upstream` on a free loopback port, delaying by `delay`.
    ///
    /// # Errors
    /// When the listener cannot be bound or the accept thread not started.
    pub fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let inner = Arc::new(Inner {
            addr: listener.local_addr()?,
            upstream,
            delay_nanos: AtomicU64::new(nanos(delay)),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
        });
        let i = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("delay-proxy-accept".into())
            .spawn(move || accept_loop(&i, &listener))?;
        Ok(Self {
            inner,
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    /// The current delay.
    pub fn delay(&self) -> Duration {
        Duration::from_nanos(self.inner.delay_nanos.load(Ordering::Relaxed))
    }

    /// Changes the delay of chunks read from now on (chunks in flight keep theirs).
    pub fn set_delay(&self, delay: Duration) {
        self.inner
            .delay_nanos
            .store(nanos(delay), Ordering::Relaxed);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.inner.accepted.load(Ordering::Relaxed)
    }

    /// Sends FIN to the client of every live connection now (the client then closes); what the
    /// client had sent keeps going to the server with its delay, then the server gets a FIN.
    pub fn cut_client_side(&self) {
        for (client, _, _) in self.take_conns() {
            let _ = client.shutdown(Shutdown::Write);
        }
    }

    /// Closes both sides of every live connection now, dropping what is in flight.
    pub fn cut(&self) {
        for (client, upstream, _) in self.take_conns() {
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
        }
    }

    fn take_conns(&self) -> Vec<Conn> {
        std::mem::take(
            &mut *self
                .inner
                .conns
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.inner.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn accept_loop(inner: &Arc<Inner>, listener: &TcpListener) {
    // Bounded by `stop`: each iteration handles one accept.
    while !inner.stop.load(Ordering::SeqCst) {
        let Ok((client, _)) = listener.accept() else {
            continue;
        };
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        let mut conns = inner.conns.lock().unwrap_or_else(PoisonError::into_inner);
        conns.retain(|c| c.2.load(Ordering::SeqCst) > 0);
        if conns.len() >= MAX_DELAY_CONNECTIONS {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(upstream) = TcpStream::connect_timeout(&inner.upstream, Duration::from_secs(2))
        else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        inner.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        let alive = Arc::new(AtomicUsize::new(2));
        conns.push((c2, u2, Arc::clone(&alive)));
        drop(conns);
        pump(inner, &client, &upstream, &alive);
        pump(inner, &upstream, &client, &alive);
    }
}

/// Starts the two threads of one direction: `from` -> delay -> `to`.
fn pump(inner: &Arc<Inner>, from: &TcpStream, to: &TcpStream, alive: &Arc<AtomicUsize>) {
    let (Ok(mut from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
        alive.fetch_sub(1, Ordering::SeqCst);
        return;
    };
    let alive = Arc::clone(alive);
    let (tx, rx) = sync_channel::<Option<(Instant, Vec<u8>)>>(MAX_IN_FLIGHT_CHUNKS);
    let i = Arc::clone(inner);
    let _ = std::thread::Builder::new()
        .name("delay-proxy-read".into())
        .spawn(move || read_side(&i, &mut from, &tx));
    let _ = std::thread::Builder::new()
        .name("delay-proxy-write".into())
        .spawn(move || {
            write_side(to, &rx);
            alive.fetch_sub(1, Ordering::SeqCst);
        });
}

fn read_side(inner: &Inner, from: &mut TcpStream, tx: &SyncSender<Option<(Instant, Vec<u8>)>>) {
    let mut buf = vec![0u8; CHUNK];
    // Bounded by the peer: ends at EOF or an error.
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let due = Instant::now()
                    + Duration::from_nanos(inner.delay_nanos.load(Ordering::Relaxed));
                if tx.send(Some((due, buf[..n].to_vec()))).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = tx.send(None);
}

fn write_side(mut to: TcpStream, rx: &Receiver<Option<(Instant, Vec<u8>)>>) {
    while let Ok(Some((due, bytes))) = rx.recv() {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if to.write_all(&bytes).is_err() {
            return;
        }
    }
    // The source ended: pass its FIN on after everything it sent.
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_both_ways_and_delivers_late_bytes_after_a_client_side_cut() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy =
            DelayProxy::start(server.local_addr().unwrap(), Duration::from_millis(50)).unwrap();
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        let (mut s, _) = server.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

        let t0 = Instant::now();
        c.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        assert!(
            t0.elapsed() >= Duration::from_millis(50),
            "{:?}",
            t0.elapsed()
        );
        s.write_all(b"pong").unwrap();
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"pong");
        assert!(t0.elapsed() >= Duration::from_millis(100));

        // Sent just before the cut: still delivered to the server, after the client is gone.
        c.write_all(b"late").unwrap();
        proxy.cut_client_side();
        // The client sees the FIN at once; its last bytes are still on their way to the server.
        let mut eof = Vec::new();
        c.read_to_end(&mut eof).unwrap();
        assert!(eof.is_empty());
        drop(c);
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"late");
        assert_eq!(proxy.accepted(), 1);
    }
}
