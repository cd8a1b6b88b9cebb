//! The FIX engine: the only crate with threads, sockets, real clocks and core pinning.
//!
//! * [`config`]: properties files (FIX Antenna `engine.properties` engine-wide keys and FIXEdge
//!   `FixLayer.FixEngine.Session.<Name>.` per-session keys with `Backup.` endpoints), resolved into
//!   typed [`config::EngineSettings`] and [`config::SessionSettings`], plus a typed builder for the API.
//!   Every key, default and unit is listed in `docs/CONFIG.md`.
//! * [`Engine`] / [`EngineBuilder`]: I/O threads (`fix-io-N`, `mio`, optionally pinned), a worker
//!   pool (`fix-worker-N`), listeners, and the session registry. Sessions come from the
//!   configuration at start, from [`Engine::create_session`] at any time, or on demand for
//!   unregistered acceptors (`UnregisteredAcceptor.CreateSession`), created on a worker.
//! * [`SessionHandle`]: `Send + Sync + Clone`; send, disconnect (both ways), wait for states,
//!   release, statistics.
//! * [`Application`]: the callbacks (on the I/O thread: they must not block) and [`Replies`].
//! * [`apps`]: the built-in applications `none`, `echo` and `executor`.
//!
//! `docs/ENGINE.md` describes the threads, queues, bounds and lifecycle.
//!
//! ```no_run
//! use std::time::Duration;
//! use fix_engine::config::{EngineSettings, IdleStrategy, SessionSettings};
//! use fix_engine::{Engine, EngineBuilder};
//!
//! let acceptor = SessionSettings::acceptor("ACC", "FIX.4.4", "VENUE", "CLIENT", 0).build()?;
//! let engine = EngineBuilder::new(EngineSettings::default())
//!     .idle_strategy(IdleStrategy::Block)
//!     .listen_port(Some(0))
//!     .session(acceptor)
//!     .start()?;
//! let port = engine.listen_addr().expect("listening").port();
//! let initiator = SessionSettings::initiator("INI", "FIX.4.4", "CLIENT", "VENUE", "127.0.0.1", port)
//!     .build()?;
//! # let _ = (initiator, Duration::ZERO);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod affinity;
pub mod app;
pub mod apps;
mod clock;
pub mod config;
mod engine;
mod error;
mod handle;
mod idle;
mod io_thread;
mod message_log;
pub mod stats;
mod store_io;
mod worker;

pub use app::{Application, ConnectionEvent, RejectInfo, Replies, UnregisteredLogon};
pub use engine::{DEFAULT_STOP_TIMEOUT, Engine, EngineBuilder};
pub use error::EngineError;
pub use fix_session::SessionState;
pub use handle::{API_REPLY_TIMEOUT, MAX_SEND_BODY, MAX_SEND_BUFFERS, SessionHandle};
pub use io_thread::{COMMAND_QUEUE_CAPACITY, ConnectPhase, MAX_CONNECTIONS_PER_THREAD};
pub use message_log::{MESSAGE_LOG_BUFFER, MESSAGE_LOG_QUEUE};
pub use stats::StatsSnapshot;
pub use store_io::MAX_OUTBOUND_BUFFER;
pub use worker::WORKER_QUEUE_CAPACITY;
