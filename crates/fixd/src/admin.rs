//! The admin socket: a Unix socket on which `fixd run` answers every connection with the status
//! of its live sessions, then closes it. `fixd status` is the client.
//!
//! The protocol is one-way text: connect, read until end of file. Lines are those of
//! [`crate::status::session_line`], preceded by a header:
//!
//! ```text
//! fixd pid 4242 up 310 s, 10 session(s), message log lines dropped: 0
//! TW44 ESTABLISHED seq out=12 in=9 | inbound n=5 p50=4.1us ... | send-to-wire n=0
//! ```

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest socket path the kernel accepts (`sun_path` minus the terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;
/// File name of the socket in the storage directory when none is given.
pub const DEFAULT_SOCKET_NAME: &str = "fixd.sock";
/// Bound on writing one answer, so a client that does not read cannot stall the admin thread.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound on reading an answer in `fixd status` (the server may wait up to 5 s per session for
/// statistics; that is the engine's own bound, this one covers a hung server).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer `fixd status` reads.
const MAX_ANSWER: u64 = 16 << 20;

/// A running admin socket. [`AdminSocket::stop`] (or dropping it) closes it and removes the file.
#[derive(Debug)]
pub struct AdminSocket {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
}

impl AdminSocket {
    /// Binds `path` and answers each connection with `status()`'s text on a thread of its own
    /// (`fixd-admin`). A stale socket file (nobody listening) is replaced; a live one is an error,
    /// as another `fixd` owns it.
    ///
    /// # Errors
    /// The path is too long, another process listens on it, or it cannot be bound.
    pub fn start(
        path: &Path,
        status: impl Fn() -> String + Send + 'static,
    ) -> Result<Self, String> {
        let shown = path.display();
        if path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(format!(
                "admin socket {shown}: path longer than {MAX_SOCKET_PATH} bytes"
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("admin socket {shown}: {e}"))?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "admin socket {shown}: another process is listening on it"
                ));
            }
            std::fs::remove_file(path).map_err(|e| format!("admin socket {shown}: {e}"))?;
        }
        let listener =
            UnixListener::bind(path).map_err(|e| format!("admin socket {shown}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let join = std::thread::Builder::new()
            .name("fixd-admin".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(mut conn) = conn else { continue };
                    let _ = conn.set_write_timeout(Some(WRITE_TIMEOUT));
                    let _ = conn.write_all(status().as_bytes());
                    let _ = conn.shutdown(std::net::Shutdown::Both);
                }
            })
            .map_err(|e| format!("cannot start the admin thread: {e}"))?;
        Ok(Self {
            path: path.to_owned(),
            stop,
            join: Some(join),
        })
    }

    /// Where it listens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops answering, joins the thread and removes the socket file. Idempotent.
    pub fn stop(&mut self) {
        let Some(j) = self.join.take() else { return };
        self.stop.store(true, Ordering::Release);
        // The thread blocks in accept: one connection wakes it to see the flag.
        if UnixStream::connect(&self.path).is_ok() {
            let _ = j.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `fixd status`: connects to `path` and returns the answer.
///
/// # Errors
/// Nobody listens there, or the answer does not come within [`READ_TIMEOUT`].
pub fn query(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let mut s = UnixStream::connect(path).map_err(|e| {
        format!("cannot connect to {shown}: {e} (is `fixd run` running with this admin socket?)")
    })?;
    let deadline = Instant::now() + READ_TIMEOUT;
    let _ = s.set_read_timeout(Some(READ_TIMEOUT));
    let mut out = Vec::new();
    Read::by_ref(&mut s)
        .take(MAX_ANSWER)
        .read_to_end(&mut out)
        .map_err(|e| format!("reading from {shown}: {e}"))?;
    if Instant::now() > deadline {
        return Err(format!(
            "{shown}: no complete answer within {READ_TIMEOUT:?}"
        ));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_each_connection_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/fixd.sock");
        let mut a = AdminSocket::start(&path, || "line one\nline two\n".to_owned()).unwrap();
        assert_eq!(query(&path).unwrap(), "line one\nline two\n");
        assert_eq!(query(&path).unwrap(), "line one\nline two\n");
        // A second server on a live socket is refused.
        let e = AdminSocket::start(&path, String::new).unwrap_err();
        assert!(e.contains("another process"), "{e}");
        a.stop();
        assert!(!path.exists());
        assert!(query(&path).is_err());
        // A stale file (nobody listening) is replaced.
        std::fs::write(&path, b"").unwrap();
        let _b = AdminSocket::start(&path, || "again\n".to_owned()).unwrap();
        assert_eq!(query(&path).unwrap(), "again\n");
    }

    #[test]
    fn overlong_paths_are_refused() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
        let e = AdminSocket::start(&long, String::new).unwrap_err();
        assert!(e.contains("longer than"), "{e}");
    }
}
