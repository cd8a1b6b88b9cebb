//! A fault-injecting TCP proxy for loopback tests: put it between an initiator and its
//! counterparty, then kill and revive the "server" without restarting any engine.
//!
//! [`Proxy::start`] listens on `127.0.0.1` (a port from the OS) and handles every connection by
//! its current [`Mode`]: forward to the upstream address, refuse (the listener is closed, so a
//! connect fails with "connection refused"), drop (accept, close at once), black hole (accept,
//! never forward, never answer) or respond (answer the first bytes with fixed bytes, then close:
//! a counterparty that rejects the Logon). [`Proxy::cut`] closes every live connection
//! mid-stream, [`Proxy::half_close`] sends FIN to the clients only.
//!
//! Mode changes take effect before [`Proxy::set_mode`] returns (for `Refuse`: the listener is
//! closed; leaving it: listening again on the same port), so tests need no sleeps. Threads: one
//! accept thread, plus one or two per live connection (at most [`MAX_PROXY_CONNECTIONS`]);
//! every blocking read ends when the connection is cut or the proxy dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most live connections a proxy keeps; more are closed at once.
pub const MAX_PROXY_CONNECTIONS: usize = 64;
/// How long a [`Mode::Respond`] connection waits for the first bytes.
const RESPOND_WAIT: Duration = Duration::from_secs(5);
/// Bound on re-binding the port when leaving [`Mode::Refuse`].
const REBIND_TRIES: u32 = 200;

/// What the proxy does with connections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Connect to the upstream address and copy bytes both ways (live connections resume
    /// forwarding when set back from `BlackHole`).
    #[default]
    Forward,
    /// Close the listener: connects are refused. Live connections are not touched.
    Refuse,
    /// Accept, then close at once.
    Drop,
    /// Accept and read, never forward, never answer (a hung server). Live connections stop
    /// forwarding in both directions too.
    BlackHole,
    /// Wait for the first bytes, answer with these bytes, then close (a server rejecting the
    /// Logon with a Logout).
    Respond(Vec<u8>),
}

struct State {
    mode: Mode,
    /// Times the proxy became a black hole: a connection that lived through one stays silent
    /// until the mode is `Forward` again, whatever mode comes in between (a test's "kill" goes
    /// black hole, refuse, cut: a pump scheduled late must not forward in the refuse step what
    /// the black hole should have swallowed).
    holes: u64,
    stop: bool,
    /// Whether the accept thread holds a bound listener.
    listening: bool,
    bind_error: Option<String>,
    /// Every live connection: the client side and, when forwarding, the upstream side.
    conns: Vec<(TcpStream, Option<TcpStream>)>,
    accepted: usize,
}

struct Inner {
    addr: SocketAddr,
    upstream: SocketAddr,
    state: Mutex<State>,
    cv: Condvar,
    /// Set while the accept thread is blocked in `accept`, so a mode change knows to wake it.
    in_accept: AtomicBool,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A test thread that panicked while holding the lock leaves the data usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>, until: Instant) -> MutexGuard<'a, State> {
        let left = until.saturating_duration_since(Instant::now());
        match self.cv.wait_timeout(g, left) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        }
    }

    fn mode(&self) -> Mode {
        self.lock().mode.clone()
    }

    /// Unblocks the accept thread with a connection to ourselves; it sees the new state.
    fn wake(&self) {
        if self.in_accept.load(Ordering::SeqCst) {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        }
    }
}

/// A fault-injecting TCP proxy on `127.0.0.1`. Dropping it closes everything.
pub struct Proxy {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.inner.addr)
            .field("upstream", &self.inner.upstream)
            .field("mode", &self.inner.mode())
            .finish()
    }
}

impl Proxy {
    /// A proxy forwarding to `upstream`, listening on a free loopback port.
    ///
    /// # Errors
    /// When the listener cannot be bound or the accept thread not started.
    pub fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        Self::start_in(upstream, Mode::Forward)
    }

    /// A proxy starting in `mode` (with `Mode::Refuse` the port is reserved, then closed).
    ///
    /// # Errors
    /// When the listener cannot be bound or the accept thread not started.
    pub fn start_in(upstream: SocketAddr, mode: Mode) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let refuse = mode == Mode::Refuse;
        let inner = Arc::new(Inner {
            addr,
            upstream,
            state: Mutex::new(State {
                mode,
                holes: 0,
                stop: false,
                listening: !refuse,
                bind_error: None,
                conns: Vec::new(),
                accepted: 0,
            }),
            cv: Condvar::new(),
            in_accept: AtomicBool::new(false),
        });
        let listener = if refuse {
            drop(listener);
            None
        } else {
            Some(listener)
        };
        let i = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(&i, listener))?;
        Ok(Self {
            inner,
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.inner.mode()
    }

    /// Changes the mode; returns once it is in force (listener closed for `Refuse`, bound again
    /// when leaving it).
    ///
    /// # Errors
    /// When the port cannot be bound again after `Refuse` (another process took it), or the
    /// accept thread did not react within a few seconds.
    pub fn set_mode(&self, mode: Mode) -> std::io::Result<()> {
        let want_listening = mode != Mode::Refuse;
        {
            let mut g = self.inner.lock();
            if mode == Mode::BlackHole && g.mode != Mode::BlackHole {
                g.holes += 1;
            }
            g.mode = mode;
            g.bind_error = None;
        }
        self.inner.cv.notify_all();
        if !want_listening {
            // Only closing the listener needs the accept thread: other modes are read per
            // connection (and a wake-up connection would count as a client).
            self.inner.wake();
        }
        let until = Instant::now() + Duration::from_secs(5);
        let mut g = self.inner.lock();
        // Bounded by the deadline.
        loop {
            if let Some(e) = g.bind_error.take() {
                return Err(std::io::Error::new(ErrorKind::AddrInUse, e));
            }
            if g.listening == want_listening {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(std::io::Error::new(
                    ErrorKind::TimedOut,
                    "proxy did not change mode",
                ));
            }
            g = self.inner.wait(g, until);
        }
    }

    /// Closes every live connection now, both sides (a server crash, or a cable cut).
    pub fn cut(&self) {
        let conns = std::mem::take(&mut self.inner.lock().conns);
        for (client, upstream) in conns {
            let _ = client.shutdown(Shutdown::Both);
            if let Some(u) = upstream {
                let _ = u.shutdown(Shutdown::Both);
            }
        }
    }

    /// Sends FIN to every live client (the server closed its writing side), keeping the rest.
    pub fn half_close(&self) {
        for (client, _) in &self.inner.lock().conns {
            let _ = client.shutdown(Shutdown::Write);
        }
    }

    /// Connections accepted so far (any mode but `Refuse`).
    pub fn accepted(&self) -> usize {
        self.inner.lock().accepted
    }

    /// Live connections (not yet closed by either side or cut).
    pub fn live(&self) -> usize {
        self.inner.lock().conns.len()
    }

    /// Waits until at least `n` connections were accepted; returns whether they were in time.
    pub fn wait_accepted(&self, n: usize, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut g = self.inner.lock();
        // Bounded by the deadline.
        loop {
            if g.accepted >= n {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            g = self.inner.wait(g, until);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.lock().stop = true;
        self.inner.cv.notify_all();
        self.inner.wake();
        self.cut();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(inner: &Arc<Inner>, mut listener: Option<TcpListener>) {
    // Bounded: ends when the proxy is dropped (`stop`, with a wake-up connection).
    loop {
        let mut g = inner.lock();
        if g.stop {
            return;
        }
        if g.mode == Mode::Refuse {
            if listener.take().is_some() || g.listening {
                g.listening = false;
                inner.cv.notify_all();
            }
            // Parked until the mode changes or the proxy is dropped.
            let g = inner.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            drop(g);
            continue;
        }
        if listener.is_none() {
            drop(g);
            match rebind(inner.addr) {
                Ok(l) => {
                    listener = Some(l);
                    let mut g = inner.lock();
                    g.listening = true;
                    inner.cv.notify_all();
                }
                Err(e) => {
                    let mut g = inner.lock();
                    g.bind_error = Some(format!("cannot bind {} again: {e}", inner.addr));
                    g.mode = Mode::Refuse;
                    inner.cv.notify_all();
                }
            }
            continue;
        }
        drop(g);
        let Some(l) = listener.as_ref() else { continue };
        inner.in_accept.store(true, Ordering::SeqCst);
        // A mode change between the check above and here has already tried to wake us: look
        // again before blocking.
        let changed = {
            let g = inner.lock();
            g.stop || g.mode == Mode::Refuse
        };
        let res = if changed {
            Err(std::io::Error::from(ErrorKind::Interrupted))
        } else {
            l.accept()
        };
        inner.in_accept.store(false, Ordering::SeqCst);
        let Ok((stream, _)) = res else { continue };
        let mut g = inner.lock();
        if g.stop || g.mode == Mode::Refuse {
            // The wake-up connection (or a client caught by the change): close it.
            continue;
        }
        g.accepted += 1;
        inner.cv.notify_all();
        if g.conns.len() >= MAX_PROXY_CONNECTIONS {
            drop(stream);
            continue;
        }
        let mode = g.mode.clone();
        drop(g);
        handle(inner, stream, mode);
    }
}

fn rebind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..REBIND_TRIES {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(ErrorKind::AddrInUse)))
}

fn register(inner: &Inner, client: &TcpStream, upstream: Option<&TcpStream>) -> bool {
    let (Ok(c), u) = (client.try_clone(), upstream.map(TcpStream::try_clone)) else {
        return false;
    };
    let u = match u {
        Some(Ok(u)) => Some(u),
        Some(Err(_)) => return false,
        None => None,
    };
    inner.lock().conns.push((c, u));
    true
}

fn unregister(inner: &Inner, client: &TcpStream) {
    let Ok(me) = client
        .local_addr()
        .and_then(|l| Ok((l, client.peer_addr()?)))
    else {
        return;
    };
    inner.lock().conns.retain(|(c, _)| {
        c.local_addr()
            .and_then(|l| Ok((l, c.peer_addr()?)))
            .is_ok_and(|x| x != me)
    });
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    // Thread creation failing leaves the connection to be closed by the caller's drop.
    let _ = std::thread::Builder::new().name(name.into()).spawn(f);
}

fn handle(inner: &Arc<Inner>, client: TcpStream, mode: Mode) {
    let _ = client.set_nodelay(true);
    match mode {
        Mode::Refuse | Mode::Drop => {
            let _ = client.shutdown(Shutdown::Both);
        }
        Mode::BlackHole => {
            if !register(inner, &client, None) {
                return;
            }
            let i = Arc::clone(inner);
            spawn("proxy-hole", move || {
                discard(&client);
                unregister(&i, &client);
            });
        }
        Mode::Respond(bytes) => {
            if !register(inner, &client, None) {
                return;
            }
            let i = Arc::clone(inner);
            spawn("proxy-respond", move || {
                respond(&client, &bytes);
                unregister(&i, &client);
            });
        }
        Mode::Forward => {
            let Ok(up) = TcpStream::connect_timeout(&inner.upstream, Duration::from_secs(2)) else {
                let _ = client.shutdown(Shutdown::Both);
                return;
            };
            let _ = up.set_nodelay(true);
            if !register(inner, &client, Some(&up)) {
                return;
            }
            let (Ok(c2), Ok(u2)) = (client.try_clone(), up.try_clone()) else {
                let _ = client.shutdown(Shutdown::Both);
                let _ = up.shutdown(Shutdown::Both);
                return;
            };
            // Read here, not in the pumps: a thread scheduled late must not miss a black hole.
            let holes = inner.lock().holes;
            let i = Arc::clone(inner);
            spawn("proxy-up", move || {
                pump(&i, &client, &up, holes);
                unregister(&i, &client);
            });
            let i = Arc::clone(inner);
            spawn("proxy-down", move || pump(&i, &u2, &c2, holes));
        }
    }
}

/// Copies `from` to `to` until either closes; discards while the proxy is a black hole.
/// `holes_at_start`: [`State::holes`] when the connection was accepted.
fn pump(inner: &Inner, from: &TcpStream, to: &TcpStream, holes_at_start: u64) {
    let mut buf = [0u8; 16 << 10];
    let (mut from, mut to) = (from, to);
    // Bounded: every iteration reads bytes or ends on EOF / error (a cut shuts both down).
    loop {
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                let silent = {
                    let g = inner.lock();
                    g.mode == Mode::BlackHole
                        || (g.mode != Mode::Forward && g.holes != holes_at_start)
                };
                if silent {
                    continue;
                }
                if to.write_all(&buf[..n]).is_err() {
                    let _ = from.shutdown(Shutdown::Both);
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

fn discard(s: &TcpStream) {
    let mut buf = [0u8; 4096];
    let mut s = s;
    // Bounded: ends on EOF or error (a cut shuts the socket down).
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn respond(s: &TcpStream, bytes: &[u8]) {
    let _ = s.set_read_timeout(Some(RESPOND_WAIT));
    let mut buf = [0u8; 4096];
    let mut r = s;
    if matches!(r.read(&mut buf), Ok(n) if n > 0) {
        let _ = r.write_all(bytes);
    }
    let _ = s.shutdown(Shutdown::Write);
    // Wait (bounded) for the client's FIN so unread bytes do not turn the close into a reset.
    discard(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> (SocketAddr, JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            // Serves a bounded number of connections: enough for the tests below.
            for _ in 0..4 {
                let Ok((s, _)) = l.accept() else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    let mut s = s;
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, t)
    }

    fn roundtrip(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
        let mut c = TcpStream::connect(addr)?;
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        c.write_all(b"ping")?;
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf)?;
        Ok(buf.to_vec())
    }

    #[test]
    fn forward_refuse_revive_respond_black_hole_cut() {
        let (up, _t) = echo_server();
        let p = Proxy::start(up).unwrap();
        assert_eq!(roundtrip(p.addr()).unwrap(), b"ping");
        assert_eq!(p.accepted(), 1);

        p.set_mode(Mode::Refuse).unwrap();
        let e = TcpStream::connect(p.addr()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        assert_eq!(p.accepted(), 1, "refused connections are not accepted");

        p.set_mode(Mode::Respond(b"nope".to_vec())).unwrap();
        let mut c = TcpStream::connect(p.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"hello").unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"nope");

        p.set_mode(Mode::BlackHole).unwrap();
        let mut c = TcpStream::connect(p.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        c.write_all(b"hello").unwrap();
        let mut buf = [0u8; 8];
        let e = c.read(&mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::WouldBlock | ErrorKind::TimedOut
        ));
        assert!(p.wait_accepted(3, Duration::from_secs(5)));
        p.cut();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)), "cut closes it");

        p.set_mode(Mode::Drop).unwrap();
        let mut c = TcpStream::connect(p.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(
            matches!(c.read(&mut buf), Ok(0) | Err(_)),
            "dropped at once"
        );

        p.set_mode(Mode::Forward).unwrap();
        assert_eq!(roundtrip(p.addr()).unwrap(), b"ping");
    }

    /// A live connection that went through a black hole stays silent in the modes after it
    /// (refuse, as a test's "kill" does before cutting) until the proxy forwards again.
    #[test]
    fn a_black_hole_outlasts_the_modes_after_it() {
        let (up, _t) = echo_server();
        let p = Proxy::start(up).unwrap();
        let mut c = TcpStream::connect(p.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        p.set_mode(Mode::BlackHole).unwrap();
        p.set_mode(Mode::Refuse).unwrap();
        c.write_all(b"lost").unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let e = c.read(&mut buf).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "forwarded after the black hole: {e}"
        );
        // Forwarding again: the connection resumes.
        p.set_mode(Mode::Forward).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"back").unwrap();
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"back");
    }
}
