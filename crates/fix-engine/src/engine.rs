//! [`Engine`] and [`EngineBuilder`]: threads, the session registry, and session creation.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fix_codec::{Dictionary, ValidationOptions, Validator};
use fix_session::{CredentialCheck, ForceSeqNumReset, SeqState, Session, SessionConfig};
use fix_store::{Durability, MemoryStore, MmapStore, SessionStore, StoreOptions};
use mio::net::{TcpListener, TcpStream};
use parking_lot::{Mutex, RwLock};

use crate::app::{Application, NoApplication, UnregisteredLogon};
use crate::apps::{EchoApp, ExecutorApp};
use crate::clock::{Clock, unix_nanos};
use crate::config::{
    self, BeginString, Credentials, DurabilityMode, EngineSettings, IdleStrategy, Resolved, Role,
    SeqNumReset, SessionSettings, StorageType,
};
use crate::error::EngineError;
use crate::handle::{SessionHandle, SessionShared};
use crate::io_thread::{self, Command, IoThread, NewSession, ThreadRef};
use crate::message_log::MessageLogs;
use crate::worker::{FlushTask, WorkerPool};

/// How long [`Engine::stop`] waits for sessions to log out before closing their connections.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// `(BeginString, SenderCompID, TargetCompID)` from this engine's point of view.
type Identity = (String, String, String);

fn identity_string(id: &Identity) -> String {
    format!("{}-{}-{}", id.0, id.1, id.2)
}

#[derive(Default)]
struct Registry {
    by_name: HashMap<String, SessionHandle>,
    by_identity: HashMap<Identity, String>,
    /// Unregistered acceptors being created on a worker.
    creating: HashSet<Identity>,
    unregistered: usize,
}

/// Where an I/O thread sends a connection whose Logon it has read.
pub(crate) enum RouteTarget {
    Session { id: u64, thread: usize },
    Create(Box<UnregisteredRequest>),
    Refuse(&'static str),
}

/// An unregistered acceptor to create on a worker.
pub(crate) struct UnregisteredRequest {
    identity: Identity,
}

/// What every thread of one engine shares.
pub(crate) struct EngineShared {
    pub clock: Clock,
    settings: EngineSettings,
    threads: Vec<Arc<ThreadRef>>,
    registry: Mutex<Registry>,
    workers: RwLock<Option<WorkerPool>>,
    default_app: Arc<dyn Application>,
    next_id: AtomicU64,
    dictionaries: Mutex<HashMap<PathBuf, Arc<Dictionary>>>,
    listeners: Mutex<HashMap<(std::net::IpAddr, u16), SocketAddr>>,
    engine_listener: Mutex<Option<SocketAddr>>,
    stopping: AtomicBool,
    message_logs: MessageLogs,
}

impl EngineShared {
    pub(crate) fn thread(&self, i: usize) -> &Arc<ThreadRef> {
        &self.threads[i.min(self.threads.len() - 1)]
    }

    /// Decides where a connection whose Logon carries these fields goes. `ours` is the Logon's
    /// `TargetCompID <56>`, `theirs` its `SenderCompID <49>`.
    pub(crate) fn route(&self, begin: &[u8], ours: &[u8], theirs: &[u8]) -> RouteTarget {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let id: Identity = (text(begin), text(ours), text(theirs));
        let mut reg = self.registry.lock();
        if let Some(name) = reg.by_identity.get(&id)
            && let Some(h) = reg.by_name.get(name)
        {
            return RouteTarget::Session {
                id: h.shared.id,
                thread: h.shared.thread.index,
            };
        }
        if self.stopping.load(Ordering::Acquire) {
            return RouteTarget::Refuse("engine stopping");
        }
        let ua = &self.settings.unregistered_acceptor;
        if !ua.create_session {
            return RouteTarget::Refuse("no session for these CompIDs");
        }
        if BeginString::parse(&id.0).is_none() {
            return RouteTarget::Refuse("unknown BeginString");
        }
        if reg.creating.contains(&id) {
            return RouteTarget::Refuse("session for these CompIDs is being created");
        }
        if reg.unregistered + reg.creating.len() >= ua.max_sessions {
            return RouteTarget::Refuse("UnregisteredAcceptor.MaxSessions reached");
        }
        reg.creating.insert(id.clone());
        RouteTarget::Create(Box::new(UnregisteredRequest { identity: id }))
    }

    /// Creates an unregistered acceptor on a worker; the connection follows it to its I/O thread.
    pub(crate) fn create_unregistered(
        self: &Arc<Self>,
        req: Box<UnregisteredRequest>,
        stream: TcpStream,
        peer: Option<SocketAddr>,
        bytes: Vec<u8>,
    ) {
        let engine = Arc::clone(self);
        let identity = req.identity.clone();
        let job = move || {
            let (begin, ours, theirs) = req.identity.clone();
            let name = unregistered_name(&theirs, &ours, &begin);
            let logon = UnregisteredLogon {
                begin_string: begin.clone(),
                sender_comp_id: theirs.clone(),
                target_comp_id: ours.clone(),
                peer,
                session_name: name.clone(),
                logon: bytes.clone(),
            };
            let accepted = engine.default_app.on_unregistered_acceptor(&logon);
            let result = if accepted {
                let begin_string = BeginString::parse(&begin).unwrap_or(BeginString::Fix44);
                let settings =
                    engine
                        .settings
                        .unregistered_acceptor(name, begin_string, ours, theirs);
                create_session(&engine, settings, None, Some((stream, peer, bytes)), true)
                    .map(|_| ())
            } else {
                tracing::info!(identity = %identity_string(&req.identity), "unregistered acceptor refused by the application");
                let _ = stream.shutdown(std::net::Shutdown::Write);
                Ok(())
            };
            let mut reg = engine.registry.lock();
            reg.creating.remove(&req.identity);
            if let Err(e) = result {
                tracing::warn!(error = %e, "unregistered acceptor not created");
            }
        };
        let submitted = match self.workers.read().as_ref() {
            Some(w) => w.submit(job),
            None => Err(EngineError::Stopped),
        };
        if let Err(e) = submitted {
            tracing::warn!(error = %e, "cannot queue the creation of an unregistered acceptor");
            self.registry.lock().creating.remove(&identity);
        }
    }

    /// Forgets a released session.
    pub(crate) fn unregister(&self, h: &SessionHandle) {
        let mut reg = self.registry.lock();
        if reg
            .by_name
            .get(h.name())
            .is_some_and(|x| Arc::ptr_eq(&x.shared, &h.shared))
        {
            reg.by_name.remove(h.name());
            let s = h.settings();
            let id: Identity = (
                s.begin_string.as_str().to_owned(),
                s.primary.ids.sender_comp_id.clone(),
                s.primary.ids.target_comp_id.clone(),
            );
            reg.by_identity.remove(&id);
            if h.shared.unregistered {
                reg.unregistered = reg.unregistered.saturating_sub(1);
            }
        }
    }

    fn least_loaded(&self) -> &Arc<ThreadRef> {
        self.threads
            .iter()
            .min_by_key(|t| t.load.load(Ordering::Relaxed))
            .unwrap_or(&self.threads[0])
    }

    fn dictionary(&self, path: &PathBuf) -> Result<Arc<Dictionary>, EngineError> {
        if let Some(d) = self.dictionaries.lock().get(path) {
            return Ok(Arc::clone(d));
        }
        // Loaded outside the lock: parsing XML takes a while.
        let d = Arc::new(Dictionary::from_file(path)?);
        self.dictionaries
            .lock()
            .entry(path.clone())
            .or_insert_with(|| Arc::clone(&d));
        Ok(d)
    }

    fn validator(&self, s: &SessionSettings) -> Result<Option<Arc<Validator>>, EngineError> {
        if !s.validation.use_data_dictionary {
            return Ok(None);
        }
        let d = &s.dictionaries;
        let (transport, app) = if s.begin_string.is_fixt() {
            (
                d.transport_data_dictionary.as_ref(),
                d.app_data_dictionary.as_ref(),
            )
        } else {
            (d.data_dictionary.as_ref(), None)
        };
        let Some(transport) = transport else {
            return Ok(None);
        };
        let transport = self.dictionary(transport)?;
        let app = app.map(|p| self.dictionary(p)).transpose()?;
        let o = ValidationOptions {
            check_fields_out_of_order: s.validation.fields_out_of_order,
            check_fields_have_values: s.validation.fields_have_values,
            check_user_defined_fields: s.validation.user_defined_fields,
            allow_unknown_message_fields: s.validation.allow_unknown_msg_fields,
            ..ValidationOptions::default()
        };
        Ok(Some(Arc::new(Validator::new(transport, app, o))))
    }

    /// Binds (once) the listener for `addr:port`; returns the bound address and, when this call
    /// bound it, the listener, which accepts nothing until [`EngineShared::accept_on`] hands it
    /// to I/O thread 0. Binding first lets port 0 resolve before the sessions exist; accepting
    /// only after they are registered is what keeps an early Logon from being refused.
    fn bind(
        &self,
        ip: std::net::IpAddr,
        port: u16,
    ) -> Result<(SocketAddr, Option<PendingListener>), EngineError> {
        let mut ls = self.listeners.lock();
        if port != 0
            && let Some(a) = ls.get(&(ip, port))
        {
            return Ok((*a, None));
        }
        let want = SocketAddr::new(ip, port);
        let l =
            TcpListener::bind(want).map_err(|e| EngineError::io(format!("listen on {want}"), e))?;
        widen_backlog(&l, want)?;
        let bound = l
            .local_addr()
            .map_err(|e| EngineError::io("listener address", e))?;
        ls.insert((ip, port), bound);
        ls.insert((ip, bound.port()), bound);
        Ok((
            bound,
            Some(PendingListener {
                listener: l,
                keys: [(ip, port), (ip, bound.port())],
            }),
        ))
    }

    /// Starts accepting on listeners bound by [`EngineShared::bind`].
    fn accept_on(&self, pending: Vec<PendingListener>) -> Result<(), EngineError> {
        let mut result = Ok(());
        for p in pending {
            if result.is_err() {
                self.forget(&p);
                continue;
            }
            let keys = p.keys;
            if let Err((e, _)) = self.threads[0].send(Command::Listen(p.listener)) {
                let mut ls = self.listeners.lock();
                for k in keys {
                    ls.remove(&k);
                }
                result = Err(e);
            }
        }
        result
    }

    /// Unbinds a listener that never started accepting (its session was not created).
    fn forget(&self, p: &PendingListener) {
        let mut ls = self.listeners.lock();
        for k in p.keys {
            ls.remove(&k);
        }
    }
}

/// A bound listener not yet accepting (see [`EngineShared::bind`]).
struct PendingListener {
    listener: TcpListener,
    keys: [(std::net::IpAddr, u16); 2],
}

/// A valid session name for an unregistered acceptor.
fn unregistered_name(theirs: &str, ours: &str, begin: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    let mut n = format!("U-{}-{}-{}", clean(begin), clean(ours), clean(theirs));
    n.truncate(64);
    n
}

fn session_config(s: &SessionSettings, validator: Option<Arc<Validator>>) -> SessionConfig {
    let role = match s.role {
        Role::Initiator => fix_session::Role::Initiator,
        Role::Acceptor => fix_session::Role::Acceptor,
    };
    let ids = &s.primary.ids;
    let mut c = SessionConfig::new(
        s.begin_string.as_str(),
        ids.sender_comp_id.clone(),
        ids.target_comp_id.clone(),
        role,
    )
    .with_heart_bt_int(s.primary.heart_bt_int)
    .with_force_seq_num_reset(match s.primary.force_seq_num_reset {
        SeqNumReset::Never => ForceSeqNumReset::Never,
        SeqNumReset::FirstLogon => ForceSeqNumReset::FirstLogon,
        SeqNumReset::EveryLogon => ForceSeqNumReset::Always,
    })
    .with_reset_on_logon(s.reset_on_logon)
    .with_intraday_logout_tolerance(s.intraday_logout_tolerance)
    .with_max_latency(
        s.validation
            .check_latency
            .then_some(s.validation.max_latency),
    )
    .with_logon_timeout(s.primary.logon_timeout)
    .with_logout_timeout(s.logout_timeout)
    .with_next_expected_msg_seq_num(s.send_next_expected_msg_seq_num)
    .with_resend_batch(s.resend_batch)
    .with_max_held_bytes(s.max_held_bytes)
    .with_resend_request_timeout(s.resend_request_timeout)
    .with_sub_ids(
        ids.sender_sub_id.clone(),
        ids.sender_location_id.clone(),
        ids.target_sub_id.clone(),
        ids.target_location_id.clone(),
    )
    .with_credentials(
        s.primary.credentials.username.clone(),
        s.primary.credentials.password.clone(),
    );
    if let Some(v) = s.default_appl_ver_id {
        c = c.with_default_appl_ver_id(v.code());
    }
    if let Some(v) = validator {
        // fix-session implements its hook for the dictionary validator itself, including the
        // one-pass header read (`validate_with_header`).
        c = c.with_validator(v);
    }
    c.validate_incoming = s.validation.use_data_dictionary;
    c.max_frame_len = s.max_message_size;
    c
}

fn open_store(s: &SessionSettings, identity: &str) -> Result<Box<dyn SessionStore>, EngineError> {
    let now = unix_nanos();
    Ok(match s.storage.kind {
        StorageType::Transient => Box::new(MemoryStore::new(now)),
        StorageType::Persistent => {
            let durability = match s.storage.durability {
                DurabilityMode::None => Durability::None,
                DurabilityMode::Interval => Durability::Interval(s.storage.durability_interval),
                DurabilityMode::Every => Durability::EveryMessage,
            };
            Box::new(MmapStore::open(
                &s.storage.directory,
                identity,
                StoreOptions::with_durability(durability),
                now,
            )?)
        }
    })
}

fn resolve_endpoints(s: &SessionSettings) -> Result<Vec<SocketAddr>, EngineError> {
    if s.role != Role::Initiator {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for ep in s.endpoints() {
        let host = ep.host.as_deref().unwrap_or("127.0.0.1");
        let addr = (host, ep.port)
            .to_socket_addrs()
            .map_err(|_| EngineError::Resolve(ep.address()))?
            .next()
            .ok_or_else(|| EngineError::Resolve(ep.address()))?;
        out.push(addr);
    }
    Ok(out)
}

fn builtin_app(
    kind: config::Application,
    validator: Option<Arc<Validator>>,
    default: &Arc<dyn Application>,
) -> Arc<dyn Application> {
    match kind {
        config::Application::Echo => Arc::new(EchoApp::new(validator)),
        config::Application::Executor => Arc::new(ExecutorApp::new()),
        _ => Arc::clone(default),
    }
}

/// Where an acceptor is reached: its own `Port`; with port 0 the engine-wide listener when there
/// is one, else a listener of its own on a port the OS chooses. `None` for initiators. A listener
/// bound here is pushed to `pending`: the caller starts accepting on it once the session is
/// registered.
fn acceptor_listener(
    engine: &EngineShared,
    s: &SessionSettings,
    pending: &mut Vec<PendingListener>,
) -> Result<Option<SocketAddr>, EngineError> {
    if s.role != Role::Acceptor {
        return Ok(None);
    }
    if s.primary.port == 0
        && let Some(a) = *engine.engine_listener.lock()
    {
        return Ok(Some(a));
    }
    let (a, p) = engine.bind(s.listen_address, s.primary.port)?;
    pending.extend(p);
    Ok(Some(a))
}

/// The session that a credential check reports to, set once its handle exists.
type CheckTarget = Arc<OnceLock<(Arc<dyn Application>, SessionHandle)>>;

/// An acceptor's Logon check: the configured `Username` / `Password` (each only when set), then
/// [`Application::on_logon_credentials`].
fn credential_check(expected: &Credentials, target: CheckTarget) -> CredentialCheck {
    let user = expected.username.clone();
    let pass = expected.password.clone();
    Arc::new(move |u, p| {
        let user_ok = user.as_deref().is_none_or(|e| u == Some(e.as_bytes()));
        let pass_ok = pass
            .as_deref()
            .is_none_or(|e| p.is_some_and(|p| constant_time_eq(p, e.as_bytes())));
        if !(user_ok && pass_ok) {
            // The same text for both, so a refusal does not tell which one was wrong.
            return Err("Invalid username or password".into());
        }
        match target.get() {
            Some((app, h)) => app.on_logon_credentials(h, u, p),
            None => Ok(()),
        }
    })
}

/// Compares without an early exit on the first differing byte, so the time taken does not reveal
/// how much of a guessed password was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Creates a session and hands it to an I/O thread, then starts accepting on its own listener
/// if it has one. Heavy (store, dictionaries): never call it on an I/O thread.
fn create_session(
    engine: &Arc<EngineShared>,
    settings: SessionSettings,
    app: Option<Arc<dyn Application>>,
    connection: Option<(TcpStream, Option<SocketAddr>, Vec<u8>)>,
    unregistered: bool,
) -> Result<SessionHandle, EngineError> {
    let mut pending = Vec::new();
    match register_session(
        engine,
        settings,
        app,
        connection,
        unregistered,
        &mut pending,
    ) {
        Ok(h) => {
            engine.accept_on(pending)?;
            Ok(h)
        }
        Err(e) => {
            for p in &pending {
                engine.forget(p);
            }
            Err(e)
        }
    }
}

/// Creates a session and hands it to an I/O thread; a listener it binds is left in `pending`,
/// not accepting yet.
fn register_session(
    engine: &Arc<EngineShared>,
    settings: SessionSettings,
    app: Option<Arc<dyn Application>>,
    connection: Option<(TcpStream, Option<SocketAddr>, Vec<u8>)>,
    unregistered: bool,
    pending: &mut Vec<PendingListener>,
) -> Result<SessionHandle, EngineError> {
    if engine.stopping.load(Ordering::Acquire) {
        return Err(EngineError::Stopped);
    }
    let id: Identity = (
        settings.begin_string.as_str().to_owned(),
        settings.primary.ids.sender_comp_id.clone(),
        settings.primary.ids.target_comp_id.clone(),
    );
    let identity = identity_string(&id);
    {
        let reg = engine.registry.lock();
        if reg.by_name.contains_key(&settings.name) {
            return Err(EngineError::DuplicateSession(settings.name.clone()));
        }
        if let Some(existing) = reg.by_identity.get(&id) {
            return Err(EngineError::DuplicateIdentity {
                identity,
                existing: existing.clone(),
            });
        }
    }
    let endpoints = resolve_endpoints(&settings)?;
    let listen_addr = acceptor_listener(engine, &settings, pending)?;
    let validator = engine.validator(&settings)?;
    let mut cfg = session_config(&settings, validator.clone());
    let checker = Arc::new(OnceLock::new());
    if settings.role == Role::Acceptor {
        cfg = cfg.with_credential_check(credential_check(
            &settings.primary.credentials,
            Arc::clone(&checker),
        ));
    }
    let message_log = match &settings.message_log {
        Some(dir) => Some(engine.message_logs.open(dir, &identity)?),
        None => None,
    };
    let store = open_store(&settings, &identity)?;
    let seq = SeqState {
        next_sender: store.next_outgoing(),
        next_target: store.next_incoming(),
        first_logon: !store.existed_before(),
    };
    let session = Session::new(cfg, seq)?;
    let app = match app {
        Some(a) => a,
        None => builtin_app(settings.application, validator, &engine.default_app),
    };
    let flush = store.flush_handle();
    let thread = Arc::clone(engine.least_loaded());
    let mut shared = SessionShared::new(
        engine.next_id.fetch_add(1, Ordering::Relaxed),
        Arc::new(settings),
        identity.clone(),
        Arc::clone(&thread),
        seq.next_sender,
        seq.next_target,
    );
    shared.unregistered = unregistered;
    shared.message_log = message_log;
    shared.listen_addr = listen_addr;
    shared.segment_prep = flush.clone().and_then(|f| {
        engine
            .workers
            .read()
            .as_ref()
            .and_then(|w| w.segment_prep(f))
    });
    let handle = SessionHandle {
        shared: Arc::new(shared),
    };
    let _ = checker.set((Arc::clone(&app), handle.clone()));
    let ns = NewSession {
        session,
        store,
        app,
        handle: handle.clone(),
        endpoints,
        connection,
    };
    // Registered under the lock that also queues the session, so a Logon routed to it is
    // queued behind its creation on the same thread.
    let mut reg = engine.registry.lock();
    let name = handle.name().to_owned();
    if reg.by_name.contains_key(&name) {
        return Err(EngineError::DuplicateSession(name));
    }
    if let Some(existing) = reg.by_identity.get(&id) {
        return Err(EngineError::DuplicateIdentity {
            identity,
            existing: existing.clone(),
        });
    }
    thread
        .send(Command::AddSession(Box::new(ns)))
        .map_err(|(e, _)| e)?;
    thread.load.fetch_add(1, Ordering::Relaxed);
    reg.by_name.insert(name.clone(), handle.clone());
    reg.by_identity.insert(id, name);
    if unregistered {
        reg.unregistered += 1;
    }
    drop(reg);
    // A new store creates its journal files only when first needed, so its Logon does not wait
    // for them: the maintenance thread creates them once session creation pauses, ahead of the
    // first journaled message (a no-op for a store whose journal exists).
    if let Some(f) = &flush
        && let Some(w) = engine.workers.read().as_ref()
    {
        w.prepare_journal(f.clone());
    }
    if let Some(f) = flush
        && let Some(interval) = f.interval()
        && let Some(w) = engine.workers.read().as_ref()
    {
        w.flush_periodically(FlushTask {
            handle: f,
            interval,
            session: Arc::downgrade(&handle.shared),
        });
    }
    Ok(handle)
}

/// Builds and starts an [`Engine`].
#[must_use]
pub struct EngineBuilder {
    settings: EngineSettings,
    sessions: Vec<(SessionSettings, Option<Arc<dyn Application>>)>,
    app: Arc<dyn Application>,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("settings", &self.settings)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// An engine with these settings, no sessions, and an application that does nothing.
    pub fn new(settings: EngineSettings) -> Self {
        Self {
            settings,
            sessions: Vec::new(),
            app: Arc::new(NoApplication),
        }
    }

    /// The engine settings and the sessions a resolved configuration lists
    /// (`FixLayer.FixEngine.Sessions`).
    pub fn from_config(resolved: &Resolved) -> Self {
        let mut b = Self::new(resolved.engine.clone());
        for s in &resolved.sessions {
            b.sessions.push((s.clone(), None));
        }
        b
    }

    /// The application of every session that names none (`Application = none`), and the one
    /// asked about unregistered acceptors.
    pub fn application(mut self, app: Arc<dyn Application>) -> Self {
        self.app = app;
        self
    }

    /// A session to create at start, with the default application (or its built-in one).
    pub fn session(mut self, s: SessionSettings) -> Self {
        self.sessions.push((s, None));
        self
    }

    /// A session to create at start with its own application.
    pub fn session_with_app(mut self, s: SessionSettings, app: Arc<dyn Application>) -> Self {
        self.sessions.push((s, Some(app)));
        self
    }

    /// `IdleStrategy` of every I/O thread.
    pub fn idle_strategy(mut self, idle: IdleStrategy) -> Self {
        self.settings.idle_strategy = idle;
        self
    }

    /// `IoThreads` (1..=64); CPU pinning is reset to none.
    pub fn io_threads(mut self, n: usize) -> Self {
        let n = n.clamp(1, 64);
        self.settings.io_threads = n;
        self.settings.io_cpus = vec![None; n];
        self
    }

    /// `Workers` (1..=64).
    pub fn workers(mut self, n: usize) -> Self {
        self.settings.workers = n.clamp(1, 64);
        self
    }

    /// `ListenPort` (`Some(0)`: any free port, see [`Engine::listen_addr`]).
    pub fn listen_port(mut self, port: Option<u16>) -> Self {
        self.settings.listen_port = port;
        self
    }

    /// `UnregisteredAcceptor.CreateSession`.
    pub fn unregistered_acceptors(mut self, create: bool) -> Self {
        self.settings.unregistered_acceptor.create_session = create;
        self
    }

    /// The settings as built so far.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Mutable access to the settings (for keys without a builder method).
    pub fn settings_mut(&mut self) -> &mut EngineSettings {
        &mut self.settings
    }

    /// Starts the threads, binds the listeners and creates the sessions.
    ///
    /// # Errors
    /// Thread or socket failures, and any session that cannot be created (the engine is
    /// stopped again before returning).
    pub fn start(self) -> Result<Engine, EngineError> {
        let settings = self.settings;
        let n = settings.io_threads.clamp(1, 64);
        let mut refs = Vec::with_capacity(n);
        let mut polls = Vec::with_capacity(n);
        for i in 0..n {
            let (r, poll, rx) = io_thread::prepare(i)?;
            refs.push(r);
            polls.push((poll, rx));
        }
        let workers = WorkerPool::new(settings.workers)?;
        let shared = Arc::new(EngineShared {
            clock: Clock::new(),
            threads: refs.clone(),
            registry: Mutex::new(Registry::default()),
            workers: RwLock::new(Some(workers)),
            default_app: self.app,
            next_id: AtomicU64::new(1),
            dictionaries: Mutex::new(HashMap::new()),
            listeners: Mutex::new(HashMap::new()),
            engine_listener: Mutex::new(None),
            stopping: AtomicBool::new(false),
            message_logs: MessageLogs::default(),
            settings,
        });
        let mut engine = Engine {
            shared: Arc::clone(&shared),
            joins: Vec::new(),
            stopped: false,
        };
        for (i, (poll, rx)) in polls.into_iter().enumerate() {
            let t = IoThread::new(
                Arc::clone(&refs[i]),
                Arc::clone(&shared),
                poll,
                rx,
                shared.settings.idle_strategy,
            );
            let cpu = shared.settings.io_cpus.get(i).copied().flatten();
            let j = std::thread::Builder::new()
                .name(format!("fix-io-{i}"))
                .spawn(move || {
                    if let Some(cpu) = cpu
                        && !crate::affinity::pin_current_thread(cpu)
                    {
                        tracing::warn!(cpu, "cannot pin I/O thread; running unpinned");
                    }
                    t.run();
                })
                .map_err(|e| EngineError::io("spawn I/O thread", e))?;
            engine.joins.push(j);
        }
        // Every configured session is registered before any listener accepts: a Logon that
        // arrives the instant the port is open must find its session.
        let mut pending = Vec::new();
        if let Some(port) = shared.settings.listen_port {
            let (a, p) = shared.bind(shared.settings.listen_address, port)?;
            pending.extend(p);
            *shared.engine_listener.lock() = Some(a);
        }
        for (s, app) in self.sessions {
            register_session(&shared, s, app, None, false, &mut pending)?;
        }
        shared.accept_on(pending)?;
        Ok(engine)
    }
}

/// A running engine: I/O threads, workers, listeners, and sessions. Dropping it stops it.
pub struct Engine {
    shared: Arc<EngineShared>,
    joins: Vec<JoinHandle<()>>,
    stopped: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("io_threads", &self.shared.threads.len())
            .field("sessions", &self.shared.registry.lock().by_name.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts building an engine.
    pub fn builder(settings: EngineSettings) -> EngineBuilder {
        EngineBuilder::new(settings)
    }

    /// The engine settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.shared.settings
    }

    /// Creates a session while the engine runs (initiators start connecting at once; acceptors
    /// wait for a Logon). Opens its store on the calling thread.
    ///
    /// # Errors
    /// Duplicate name or identity, storage, dictionary or listener failures, back-pressure,
    /// a stopped engine.
    pub fn create_session(&self, settings: SessionSettings) -> Result<SessionHandle, EngineError> {
        create_session(&self.shared, settings, None, None, false)
    }

    /// [`Engine::create_session`] with the session's own application.
    ///
    /// # Errors
    /// As [`Engine::create_session`].
    pub fn create_session_with(
        &self,
        settings: SessionSettings,
        app: Arc<dyn Application>,
    ) -> Result<SessionHandle, EngineError> {
        create_session(&self.shared, settings, Some(app), None, false)
    }

    /// A session by name.
    pub fn session(&self, name: &str) -> Option<SessionHandle> {
        self.shared.registry.lock().by_name.get(name).cloned()
    }

    /// Every live session, sorted by name.
    pub fn sessions(&self) -> Vec<SessionHandle> {
        let mut v: Vec<_> = self
            .shared
            .registry
            .lock()
            .by_name
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// The address the engine-wide listener (`ListenPort`) is bound to.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        *self.shared.engine_listener.lock()
    }

    /// Message log lines dropped by all sessions of this engine because the log writer fell
    /// behind (see `MessageLog` in `docs/CONFIG.md`).
    pub fn message_log_dropped(&self) -> u64 {
        self.shared.message_logs.dropped()
    }

    /// Every listening address (engine-wide and per-session ports), sorted.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        let mut v: Vec<_> = self.shared.listeners.lock().values().copied().collect();
        v.sort();
        v.dedup();
        v
    }

    /// Number of I/O threads.
    pub fn io_threads(&self) -> usize {
        self.shared.threads.len()
    }

    /// Logs out every established session (waiting at most `timeout` for the confirmations),
    /// then stops and joins every thread. Idempotent.
    pub fn stop_with_timeout(&mut self, timeout: Duration) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.shared.stopping.store(true, Ordering::Release);
        let sessions = self.sessions();
        let mut waiting = Vec::new();
        for h in &sessions {
            let s = h.state();
            if matches!(
                s,
                fix_session::SessionState::Established
                    | fix_session::SessionState::WaitForConfirmLogout
            ) && h.disconnect("engine stopping").is_ok()
            {
                waiting.push(h);
            }
        }
        let deadline = Instant::now() + timeout;
        for h in waiting {
            let left = deadline.saturating_duration_since(Instant::now());
            // Acceptors that drop instead of confirming go back to waiting for a Logon.
            let _ = h.wait_for(left, |s| {
                s.is_terminated() || s == fix_session::SessionState::WaitForFirstLogon
            });
        }
        for t in &self.shared.threads {
            // The queue may be full: retry briefly rather than leave a thread running.
            for _ in 0..1000 {
                match t.send(Command::Shutdown) {
                    Err((EngineError::Backpressure, _)) => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    _ => break,
                }
            }
        }
        for j in self.joins.drain(..) {
            let _ = j.join();
        }
        // After the I/O threads: every line they queued is written before the files close.
        self.shared.message_logs.stop();
        if let Some(mut w) = self.shared.workers.write().take() {
            w.shutdown();
        }
    }

    /// [`Engine::stop_with_timeout`] with [`DEFAULT_STOP_TIMEOUT`].
    pub fn stop(&mut self) {
        self.stop_with_timeout(DEFAULT_STOP_TIMEOUT);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Accept queue length asked of the kernel for every listener (capped by
/// `net.core.somaxconn`, 4096 on current kernels).
pub const LISTEN_BACKLOG: i32 = 4096;

/// mio (like std) listens with a backlog of 128: a logon storm of a thousand counterparties
/// overflows it, and each dropped SYN costs its client a one-second retransmission. Calling
/// `listen` again on a listening socket only changes the backlog.
fn widen_backlog(l: &TcpListener, addr: SocketAddr) -> Result<(), EngineError> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall on a descriptor the listener owns and keeps open.
    let rc = unsafe { libc::listen(l.as_raw_fd(), LISTEN_BACKLOG) };
    if rc != 0 {
        return Err(EngineError::io(
            format!("listen backlog on {addr}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::session_config;
    use crate::config::SessionSettings;

    fn built(b: crate::config::SessionBuilder) -> fix_session::SessionConfig {
        session_config(&b.build().expect("valid settings"), None)
    }

    fn base() -> crate::config::SessionBuilder {
        SessionSettings::initiator("S", "FIX.4.4", "ME", "THEM", "127.0.0.1", 9001)
    }

    #[test]
    fn unset_resend_keys_leave_the_session_defaults() {
        let c = built(base());
        let d =
            fix_session::SessionConfig::new("FIX.4.4", "ME", "THEM", fix_session::Role::Initiator);
        assert_eq!(c.resend_batch, d.resend_batch);
        assert_eq!(c.max_held_bytes, d.max_held_bytes);
        assert_eq!(c.resend_request_timeout, None);
        assert_eq!(d.resend_request_timeout, None);
    }

    #[test]
    fn resend_keys_reach_the_session_config() {
        let c = built(
            base()
                .resend_batch(7)
                .max_held_bytes(4096)
                .resend_request_timeout(Some(Duration::from_secs(3))),
        );
        assert_eq!(c.resend_batch, 7);
        assert_eq!(c.max_held_bytes, 4096);
        assert_eq!(c.resend_request_timeout, Some(Duration::from_secs(3)));

        let off = built(
            base()
                .resend_batch(0)
                .max_held_bytes(0)
                .resend_request_timeout(Some(Duration::ZERO)),
        );
        assert_eq!(off.resend_batch, 0);
        assert_eq!(off.max_held_bytes, 0);
        assert_eq!(off.resend_request_timeout, Some(Duration::ZERO));
    }

    #[test]
    fn resend_keys_from_a_file_reach_the_session_config() {
        let text = "FixLayer.FixEngine.Sessions = S
ResendBatch = 16
MaxHeldBytes = 65536
ResendRequestTimeout = 0
FixLayer.FixEngine.Session.S.Role = Initiator
FixLayer.FixEngine.Session.S.Version = FIX.4.4
FixLayer.FixEngine.Session.S.SenderCompID = ME
FixLayer.FixEngine.Session.S.TargetCompID = THEM
FixLayer.FixEngine.Session.S.Host = 127.0.0.1
FixLayer.FixEngine.Session.S.Port = 9001
FixLayer.FixEngine.Session.S.ResendBatch = 32
";
        let r = crate::config::Config::from_str(text, "t.properties")
            .and_then(|c| c.resolve())
            .expect("valid file");
        let c = session_config(&r.sessions[0], None);
        assert_eq!(c.resend_batch, 32, "the session's own key wins");
        assert_eq!(c.max_held_bytes, 65536, "engine-wide default");
        assert_eq!(c.resend_request_timeout, Some(Duration::ZERO));
    }
}
