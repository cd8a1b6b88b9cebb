//! Built-in applications, chosen per session with `FixLayer.FixEngine.Session.<Name>.Application`
//! so that counterparties and tests can exercise the engine without writing Rust.
//!
//! * [`NoneApp`] (`none`, the default): logs application messages, answers nothing.
//! * [`EchoApp`] (`echo`): the QuickFIX acceptance-suite application.
//! * [`ExecutorApp`] (`executor`): a simulated venue acknowledging every `NewOrderSingle <D>`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fix_codec::encode::write_body_sorted;
use fix_codec::{MessageRef, Validator};
use parking_lot::Mutex;

use crate::app::{Application, Replies};
use crate::config::BeginString;
use crate::handle::SessionHandle;

/// Logs each application message (`tracing`, target `fix_engine::apps`) and answers nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoneApp;

impl Application for NoneApp {
    fn on_message(&self, session: &SessionHandle, msg: MessageRef<'_>, _: &mut Replies<'_>) {
        tracing::info!(
            session = %session.name(),
            msg_type = %String::from_utf8_lossy(msg.msg_type().unwrap_or(b"?")),
            seq = msg.seq_num().unwrap_or(0),
            "application message"
        );
    }
}

fn at_least_42(b: BeginString) -> bool {
    !matches!(b, BeginString::Fix40 | BeginString::Fix41)
}

/// The QuickFIX acceptance-suite application: echoes `NewOrderSingle <D>` (and
/// `SecurityDefinition <d>` on 4.2+) with the body in dictionary order (tag order without a
/// dictionary), values byte for byte; drops a `PossResend <97>=Y` order whose `ClOrdID <11>` it
/// already saw in this session; answers every other application message with
/// `BusinessMessageReject <j>` (`380=3`) on 4.2+, or a session `Reject <3>` with
/// "Unsupported message type" on 4.0/4.1. The seen ClOrdIDs are forgotten at a Logon that
/// resets the sequence numbers.
#[derive(Debug, Default)]
pub struct EchoApp {
    validator: Option<Arc<Validator>>,
    seen: Mutex<HashMap<String, HashSet<Vec<u8>>>>,
}

impl EchoApp {
    /// An echo application; `validator` (the session's dictionaries) gives the body order.
    pub fn new(validator: Option<Arc<Validator>>) -> Self {
        Self {
            validator,
            seen: Mutex::new(HashMap::new()),
        }
    }
}

impl Application for EchoApp {
    fn on_logon(&self, session: &SessionHandle, reset: bool) {
        if reset {
            self.seen.lock().remove(session.name());
        }
    }

    fn on_message(&self, session: &SessionHandle, msg: MessageRef<'_>, replies: &mut Replies<'_>) {
        let Some(t) = msg.msg_type() else { return };
        let v42 = at_least_42(session.settings().begin_string);
        if t == b"D" || (t == b"d" && v42) {
            if t == b"D" {
                let id = msg.get(11).unwrap_or(b"");
                let poss_resend = msg.get(97) == Some(b"Y");
                let mut seen = self.seen.lock();
                let set = seen.entry(session.name().to_owned()).or_default();
                if poss_resend && set.contains(id) {
                    return;
                }
                set.insert(id.to_vec());
            }
            let bytes = msg.as_bytes();
            // QuickFIX's test application echoes PossResend <97> in the header
            // (19b_PossResendMessageThatHasNotBeenSent).
            let poss_resend: &[(u32, &[u8])] = if msg.get(97) == Some(b"Y") {
                &[(97, b"Y")]
            } else {
                &[]
            };
            let r = replies.send_with_header(t, poss_resend, |e| match &self.validator {
                Some(v) => {
                    if v.write_body_canonical(bytes, e).is_err() {
                        write_body_sorted(bytes, e);
                    }
                }
                None => write_body_sorted(bytes, e),
            });
            if let Err(e) = r {
                tracing::warn!(error = %e, "echo reply not queued");
            }
        } else if v42 {
            let seq = msg.get(34).unwrap_or(b"0");
            let _ = replies.send(b"j", |e| {
                e.field(45, seq)
                    .field(58, b"Unsupported Message Type")
                    .field(372, t)
                    .field(380, b"3");
            });
        } else {
            let _ = replies.reject(None, None, Some("Unsupported message type"));
        }
    }
}

/// A simulated venue: answers each `NewOrderSingle <D>` with an `ExecutionReport <8>`
/// acknowledging it (`OrdStatus <39>=0` New), echoing `ClOrdID <11>`, `Symbol <55>`, `Side <54>`
/// and `OrderQty <38>`, with fresh `OrderID <37>` / `ExecID <17>`. An order carrying `PossDupFlag <43>=Y` is answered with `PossResend <97>=Y`. Other messages
/// are logged.
#[derive(Debug, Default)]
pub struct ExecutorApp {
    next_id: AtomicU64,
}

impl ExecutorApp {
    /// A new executor; order and execution ids start at 1.
    pub fn new() -> Self {
        Self {
            next_id: AtomicU64::new(1),
        }
    }
}

impl Application for ExecutorApp {
    fn on_message(&self, session: &SessionHandle, msg: MessageRef<'_>, replies: &mut Replies<'_>) {
        if msg.msg_type() != Some(b"D") {
            tracing::debug!(session = %session.name(), "executor ignores a non-order message");
            return;
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let begin = session.settings().begin_string;
        let v42 = at_least_42(begin);
        let old = matches!(
            begin,
            BeginString::Fix40 | BeginString::Fix41 | BeginString::Fix42
        );
        let [cl, symbol, side, qty, poss_dup] = msg.get_many([11, 55, 54, 38, 43]);
        let (cl, symbol) = (cl.unwrap_or(b""), symbol.unwrap_or(b""));
        let (side, qty) = (side.unwrap_or(b"1"), qty.unwrap_or(b"0"));
        let mut ids = [0u8; 24];
        // A PossDup order may have been answered before a crash (its number was not yet
        // committed): the answer is flagged PossResend, so the client dedupes it by ClOrdID.
        let poss_resend: &[(u32, &[u8])] = if poss_dup == Some(b"Y") {
            &[(97, b"Y")]
        } else {
            &[]
        };
        let r = replies.send_with_header(b"8", poss_resend, |e| {
            ids[0] = b'O';
            let len = 1 + write_u64(&mut ids[1..], n);
            e.field(6, b"0").field(11, cl).field(14, b"0");
            ids[0] = b'E';
            e.field(17, &ids[..len]);
            if old {
                e.field(20, b"0");
            }
            if !v42 {
                e.field(31, b"0").field(32, b"0");
            }
            ids[0] = b'O';
            e.field(37, &ids[..len])
                .field(38, qty)
                .field(39, b"0")
                .field(54, side)
                .field(55, symbol);
            if begin != BeginString::Fix40 {
                e.field(150, b"0").field(151, qty);
            }
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "execution report not queued");
        }
    }
}

/// Decimal digits of `n` into `out`; returns how many.
fn write_u64(out: &mut [u8], mut n: u64) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = (tmp.len() - i).min(out.len());
    out[..len].copy_from_slice(&tmp[i..i + len]);
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits() {
        let mut b = [0u8; 20];
        assert_eq!(write_u64(&mut b, 0), 1);
        assert_eq!(&b[..1], b"0");
        assert_eq!(write_u64(&mut b, 18_446_744_073_709_551_615), 20);
        assert_eq!(&b[..20], b"18446744073709551615");
    }

    #[test]
    fn sorted_body_skips_the_envelope() {
        let msg =
            b"8=FIX.4.2\x019=40\x0135=D\x0134=2\x0149=A\x0156=B\x0155=X\x0111=C\x0110=000\x01";
        let mut buf = fix_codec::EncodeBuffer::default();
        write_body_sorted(msg, &mut buf.appender());
        assert_eq!(buf.staged(), b"11=C\x0155=X\x01");
    }
}
