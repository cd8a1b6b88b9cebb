//! SIGINT / SIGTERM without a signal handler: both are blocked in every thread and the main
//! thread collects them with `sigtimedwait`, so the wait doubles as the status-line timer and no
//! async-signal-safety rules apply.

use std::time::Duration;

/// The blocked set of termination signals.
#[derive(Debug)]
pub struct TermSignals {
    set: libc::sigset_t,
}

impl TermSignals {
    /// Blocks SIGINT and SIGTERM in the calling thread. Call it before any other thread is
    /// started: threads inherit the mask, so the signals are only ever collected by
    /// [`TermSignals::wait`].
    ///
    /// # Errors
    /// The signal mask cannot be changed.
    pub fn block() -> std::io::Result<Self> {
        // SAFETY: `sigset_t` is plain data; sigemptyset initialises it before any other use, and
        // every pointer passed below refers to this local.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            Ok(Self { set })
        }
    }

    /// Waits at most `timeout` for SIGINT or SIGTERM; returns the signal's name, or `None` when
    /// the time ran out (or another signal interrupted the wait).
    pub fn wait(&self, timeout: Duration) -> Option<&'static str> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: `self.set` was initialised in `block`; a null info pointer is allowed.
        let sig = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
        match sig {
            libc::SIGINT => Some("SIGINT"),
            libc::SIGTERM => Some("SIGTERM"),
            _ => None,
        }
    }
}
