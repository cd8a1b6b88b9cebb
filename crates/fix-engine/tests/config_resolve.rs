//! Resolution: defaults, engine-wide keys and their per-session overrides, backups, required keys,
//! overrides from the command line, and the builder producing the same types.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use fix_engine::config::{
    ApplVerId, Application, BeginString, Config, ConfigError, DurabilityMode, EndpointPolicy,
    IdleStrategy, Role, SeqNumReset, SessionSettings, StorageType, Tries,
};

const INITIATOR: &str = "FixLayer.FixEngine.Sessions = S
FixLayer.FixEngine.Session.S.Role = Initiator
FixLayer.FixEngine.Session.S.Version = FIX.4.4
FixLayer.FixEngine.Session.S.SenderCompID = ME
FixLayer.FixEngine.Session.S.TargetCompID = THEM
FixLayer.FixEngine.Session.S.Host = 127.0.0.1
FixLayer.FixEngine.Session.S.Port = 9001
";

fn resolve(text: &str) -> fix_engine::config::Resolved {
    Config::from_str(text, "test.properties")
        .unwrap_or_else(|e| panic!("parse: {e}"))
        .resolve()
        .unwrap_or_else(|e| panic!("resolve: {e}"))
}

fn resolve_err(text: &str) -> ConfigError {
    Config::from_str(text, "test.properties")
        .unwrap_or_else(|e| panic!("parse: {e}"))
        .resolve()
        .expect_err("resolution must fail")
}

/// `text` without the line starting with `prefix`.
fn without(text: &str, prefix: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with(prefix))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn engine_defaults() {
    let e = Config::new().engine_settings().unwrap();
    assert_eq!(e.listen_port, None);
    assert_eq!(e.listen_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(e.io_threads, 1);
    assert_eq!(e.io_cpus, vec![None]);
    assert_eq!(e.idle_strategy, IdleStrategy::Backoff);
    assert_eq!(e.workers, 2);
    assert!(!e.unregistered_acceptor.create_session);
    assert_eq!(e.unregistered_acceptor.max_sessions, 64);
    assert!(e.sessions.is_empty());
}

#[test]
fn session_defaults_are_the_documented_ones() {
    let r = resolve(INITIATOR);
    let s = &r.sessions[0];
    assert_eq!(s.role, Role::Initiator);
    assert_eq!(s.begin_string, BeginString::Fix44);
    assert_eq!(s.default_appl_ver_id, None);
    assert_eq!(s.listen_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let p = &s.primary;
    assert_eq!(p.address(), "127.0.0.1:9001");
    assert_eq!(p.ids.sender_comp_id, "ME");
    assert_eq!(p.ids.target_comp_id, "THEM");
    assert_eq!(p.ids.sender_sub_id, None);
    assert_eq!(p.credentials.username, None);
    assert_eq!(p.heart_bt_int, 30);
    assert_eq!(p.force_seq_num_reset, SeqNumReset::Never);
    assert!(!p.reconnect.forced);
    assert_eq!(p.reconnect.max_tries, Tries::Limited(3));
    assert_eq!(p.reconnect.interval, Duration::from_secs(5));
    assert_eq!(p.logon_timeout, Duration::from_secs(10));
    assert!(!p.auto_switch && !p.cyclic_switch);
    assert_eq!(p.endpoint_tries, None);
    assert_eq!(
        p.tries_before_switch(),
        Tries::Limited(0),
        "no ForcedReconnect: no retry"
    );
    assert!(s.backups.is_empty());
    assert_eq!(s.endpoint_policy, EndpointPolicy::Priority);
    assert_eq!(s.max_connect_attempts, Tries::Unlimited);
    assert!(!s.intraday_logout_tolerance);
    assert!(!s.reset_on_logon);
    assert_eq!(s.logout_timeout, Duration::from_secs(5));
    assert!(!s.send_next_expected_msg_seq_num);
    assert_eq!(s.max_message_size, 1 << 20);
    assert_eq!(s.storage.kind, StorageType::Persistent);
    assert_eq!(s.storage.directory, PathBuf::from("store"));
    assert_eq!(s.storage.durability, DurabilityMode::Interval);
    assert_eq!(s.storage.durability_interval, Duration::from_millis(100));
    assert_eq!(s.message_log, None);
    assert_eq!(s.application, Application::None);
    assert_eq!(s.dictionaries.data_dictionary, None);
    let v = s.validation;
    assert!(v.use_data_dictionary && v.fields_out_of_order && v.fields_have_values);
    assert!(v.user_defined_fields && !v.allow_unknown_msg_fields && v.check_latency);
    assert_eq!(v.max_latency, Duration::from_secs(120));
}

#[test]
fn engine_keys() {
    let r = resolve(
        "ListenPort = 9100
ListenAddress = 127.0.0.2
IoThreads = 2
IoCpus = 2, 3
IdleStrategy = busy-spin
Workers = 4
UnregisteredAcceptor.CreateSession = Y
UnregisteredAcceptor.MaxSessions = 10
",
    );
    let e = &r.engine;
    assert_eq!(e.listen_port, Some(9100));
    assert_eq!(e.listen_address, "127.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(e.io_threads, 2);
    assert_eq!(e.io_cpus, vec![Some(2), Some(3)]);
    assert_eq!(e.idle_strategy, IdleStrategy::BusySpin);
    assert_eq!(e.workers, 4);
    assert!(e.unregistered_acceptor.create_session);
    assert_eq!(e.unregistered_acceptor.max_sessions, 10);

    let r = resolve(
        "Engine.IoThreads = 3\nIoThread.0.Cpu = 5\nIoThread.2.Cpu = 7\nEngine.IdleStrategy = BLOCK\n",
    );
    assert_eq!(r.engine.io_cpus, vec![Some(5), None, Some(7)]);
    assert_eq!(r.engine.idle_strategy, IdleStrategy::Block);
}

#[test]
fn cpu_keys_must_agree_with_the_thread_count() {
    let e = resolve_err("IoThreads = 2\nIoCpus = 1\n");
    assert!(
        e.to_string().starts_with("test.properties:2: IoCpus: "),
        "{e}"
    );
    let e = resolve_err("IoThreads = 2\nIoThread.2.Cpu = 1\n");
    assert!(
        e.to_string()
            .starts_with("test.properties:2: IoThread.2.Cpu: "),
        "{e}"
    );
    let e = resolve_err("IoCpus = 1\nIoThread.0.Cpu = 1\n");
    assert!(
        e.to_string().starts_with("test.properties:1: IoCpus: "),
        "{e}"
    );
}

#[test]
fn engine_wide_session_keys_are_defaults_and_sessions_override_them() {
    let text = format!(
        "HeartBtInt = 20
ForcedReconnect = true
ReconnectMaxTries = 7
Reconnect.Interval = 250
IntradayLogoutTolerance = true
ForceSeqNumReset = 1
StorageDirectory = /var/lib/fix
StorageType = transient
Durability = every
MessageLog = logs
Application = echo
ValidateFieldsHaveValues = N
MaxLatency = 30
{INITIATOR}FixLayer.FixEngine.Session.S.HeartBtInt = 45
FixLayer.FixEngine.Session.S.ReconnectInterval = 2
FixLayer.FixEngine.Session.S.MessageLog = off
FixLayer.FixEngine.Session.S.ForceSeqNumReset = false
FixLayer.FixEngine.Session.T.Role = Acceptor
FixLayer.FixEngine.Session.T.Version = FIX.4.2
FixLayer.FixEngine.Session.T.SenderCompID = ME
FixLayer.FixEngine.Session.T.TargetCompID = OTHER
FixLayer.FixEngine.Session.T.Port = 9002
"
    );
    let r = resolve(&text);
    let s = r.session("S").unwrap();
    let t = r.session("T").unwrap();
    // Overridden in S.
    assert_eq!(s.primary.heart_bt_int, 45);
    assert_eq!(s.primary.reconnect.interval, Duration::from_secs(2));
    assert_eq!(s.message_log, None);
    assert_eq!(s.primary.force_seq_num_reset, SeqNumReset::Never);
    // Inherited by both.
    for x in [s, t] {
        assert!(x.primary.reconnect.forced);
        assert_eq!(x.primary.reconnect.max_tries, Tries::Limited(7));
        assert!(x.intraday_logout_tolerance);
        assert_eq!(x.storage.directory, PathBuf::from("/var/lib/fix"));
        assert_eq!(x.storage.kind, StorageType::Transient);
        assert_eq!(x.storage.durability, DurabilityMode::Every);
        assert_eq!(x.application, Application::Echo);
        assert!(!x.validation.fields_have_values);
        assert_eq!(x.validation.max_latency, Duration::from_secs(30));
    }
    assert_eq!(t.primary.heart_bt_int, 20);
    assert_eq!(t.primary.reconnect.interval, Duration::from_millis(250));
    assert_eq!(t.message_log, Some(PathBuf::from("logs")));
    assert_eq!(t.primary.force_seq_num_reset, SeqNumReset::FirstLogon);
    assert_eq!(t.primary.port, 9002);
    assert_eq!(t.primary.host, None);
}

#[test]
fn command_line_override_replaces_file_values() {
    let mut c = Config::from_str(&format!("HeartBtInt = 20\n{INITIATOR}"), "f").unwrap();
    c.set_override("HeartBtInt", "7").unwrap();
    c.set_override_arg("FixLayer.FixEngine.Session.S.Port=9999")
        .unwrap();
    c.set_override("ReconnectInterval", "9").unwrap();
    c.set_override("Reconnect.Interval", "1500").unwrap(); // the later spelling wins
    let r = c.resolve().unwrap();
    assert_eq!(r.sessions[0].primary.heart_bt_int, 7);
    assert_eq!(r.sessions[0].primary.port, 9999);
    assert_eq!(
        r.sessions[0].primary.reconnect.interval,
        Duration::from_millis(1500)
    );
    // A later file also replaces an earlier one's value.
    c.load_str("HeartBtInt = 8\n", "g").unwrap();
    assert_eq!(c.resolve().unwrap().sessions[0].primary.heart_bt_int, 8);
}

#[test]
fn comments_blank_lines_spacing_and_crlf() {
    let text =
        "# comment\r\n! also a comment\r\n\r\n   \r\nHeartBtInt=12   \r\n  Workers   =   3\t\r\n";
    let r = resolve(text);
    assert_eq!(r.engine.session_defaults.primary.heart_bt_int, 12);
    assert_eq!(r.engine.workers, 3);
}

#[test]
fn booleans_accept_every_documented_spelling() {
    for (v, expect) in [
        ("true", true),
        ("TRUE", true),
        ("Y", true),
        ("y", true),
        ("yes", true),
        ("1", true),
        ("false", false),
        ("False", false),
        ("N", false),
        ("no", false),
        ("0", false),
    ] {
        let r = resolve(&format!("CheckLatency = {v}\n"));
        assert_eq!(
            r.engine.session_defaults.validation.check_latency, expect,
            "{v}"
        );
    }
    for (v, expect) in [
        ("0", SeqNumReset::Never),
        ("false", SeqNumReset::Never),
        ("1", SeqNumReset::FirstLogon),
        ("true", SeqNumReset::FirstLogon),
        ("2", SeqNumReset::EveryLogon),
    ] {
        let r = resolve(&format!("ForceSeqNumReset = {v}\n"));
        assert_eq!(
            r.engine.session_defaults.primary.force_seq_num_reset, expect,
            "{v}"
        );
    }
}

#[test]
fn missing_required_keys_name_session_and_key() {
    let p = "FixLayer.FixEngine.Session.S.";
    for key in [
        "Role",
        "Version",
        "SenderCompID",
        "TargetCompID",
        "Host",
        "Port",
    ] {
        let e = resolve_err(&without(INITIATOR, &format!("{p}{key} ")));
        assert!(
            matches!(&e, ConfigError::Missing { session, .. } if session == "S"),
            "{key}: {e:?}"
        );
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("{p}{key}: missing for session S")),
            "{shown}"
        );
        assert!(shown.starts_with("test.properties:"), "{shown}");
    }
    // Role, Version and SenderCompID may come from the engine-wide defaults instead.
    let text = format!(
        "Role = Initiator\nVersion = FIX.4.2\nSenderCompID = ME\n{}",
        without(
            &without(
                &without(INITIATOR, &format!("{p}Role")),
                &format!("{p}Version")
            ),
            &format!("{p}SenderCompID")
        )
    );
    let r = resolve(&text);
    assert_eq!(r.sessions[0].begin_string, BeginString::Fix42);
    assert_eq!(r.sessions[0].primary.ids.sender_comp_id, "ME");
}

#[test]
fn fixt_needs_default_appl_ver_id() {
    let fixt = INITIATOR.replace("FIX.4.4", "FIXT.1.1");
    let e = resolve_err(&fixt);
    assert!(
        e.to_string()
            .contains("S.DefaultApplVerID: missing for session S"),
        "{e}"
    );
    for (v, expect) in [
        ("9", ApplVerId::Fix50Sp2),
        ("FIX.5.0SP1", ApplVerId::Fix50Sp1),
        ("7", ApplVerId::Fix50),
    ] {
        let r = resolve(&format!(
            "{fixt}FixLayer.FixEngine.Session.S.DefaultApplVerID = {v}\n"
        ));
        assert_eq!(r.sessions[0].default_appl_ver_id, Some(expect));
        assert_eq!(r.sessions[0].begin_string, BeginString::Fixt11);
    }
    let e = resolve_err(&format!(
        "{INITIATOR}FixLayer.FixEngine.Session.S.DefaultApplVerID = 9\n"
    ));
    assert!(
        e.to_string().starts_with(
            "test.properties:8: FixLayer.FixEngine.Session.S.DefaultApplVerID: only allowed"
        ),
        "{e}"
    );
}

#[test]
fn acceptor_port_falls_back_to_listen_port() {
    let acceptor = "FixLayer.FixEngine.Session.A.Role = acceptor
FixLayer.FixEngine.Session.A.Version = FIX.4.0
FixLayer.FixEngine.Session.A.SenderCompID = ISLD
FixLayer.FixEngine.Session.A.TargetCompID = TW40
";
    let e = resolve_err(acceptor);
    assert!(
        e.to_string()
            .contains("FixLayer.FixEngine.Session.A.Port: missing"),
        "{e}"
    );
    let r = resolve(&format!("ListenPort = 54321\n{acceptor}"));
    let a = r.session("A").unwrap();
    assert_eq!(a.role, Role::Acceptor);
    assert_eq!(a.primary.port, 54321);
    let r = resolve(&format!(
        "ListenPort = 54321\n{acceptor}FixLayer.FixEngine.Session.A.SocketAcceptPort = 6000\n"
    ));
    assert_eq!(r.session("A").unwrap().primary.port, 6000);
    let e = resolve_err(&format!(
        "ListenPort = 1\n{acceptor}FixLayer.FixEngine.Session.A.Host = 127.0.0.1\n"
    ));
    assert!(
        e.to_string()
            .starts_with("test.properties:6: FixLayer.FixEngine.Session.A.Host: "),
        "{e}"
    );
}

#[test]
fn session_list_and_deferred_sessions() {
    let text = "FixLayer.FixEngine.Sessions = B, A
FixLayer.FixEngine.Session.A.Role = Acceptor
FixLayer.FixEngine.Session.A.Version = FIX.4.4
FixLayer.FixEngine.Session.A.SenderCompID = ME
FixLayer.FixEngine.Session.A.TargetCompID = A
FixLayer.FixEngine.Session.A.Port = 7001
FixLayer.FixEngine.Session.B.Role = Acceptor
FixLayer.FixEngine.Session.B.Version = FIX.4.4
FixLayer.FixEngine.Session.B.SenderCompID = ME
FixLayer.FixEngine.Session.B.TargetCompID = B
FixLayer.FixEngine.Session.B.Port = 7002
FixLayer.FixEngine.Session.Later.Role = Acceptor
FixLayer.FixEngine.Session.Later.Version = FIX.4.4
FixLayer.FixEngine.Session.Later.SenderCompID = ME
FixLayer.FixEngine.Session.Later.TargetCompID = LATER
FixLayer.FixEngine.Session.Later.Port = 7003
";
    let r = resolve(text);
    let names: Vec<&str> = r.sessions.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["B", "A"], "started in list order");
    assert_eq!(r.deferred.len(), 1);
    assert_eq!(r.deferred[0].name, "Later");
    let c = Config::from_str(text, "t").unwrap();
    assert_eq!(
        c.session("Later").unwrap().primary.ids.target_comp_id,
        "LATER"
    );
    assert!(matches!(
        c.session("Nope"),
        Err(ConfigError::NoSuchSession { .. })
    ));
    assert_eq!(c.session_names(), ["A", "B", "Later"]);

    // A listed session without keys.
    let e = resolve_err(&text.replace("= B, A", "= B, A, Ghost"));
    assert!(
        matches!(&e, ConfigError::EmptySession { session, .. } if session == "Ghost"),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("test.properties:1: FixLayer.FixEngine.Sessions: "),
        "{e}"
    );

    // A broken deferred session is reported at start too.
    let e = resolve_err(&without(text, "FixLayer.FixEngine.Session.Later.Port"));
    assert!(e.to_string().contains("Session.Later.Port: missing"), "{e}");
}

#[test]
fn two_sessions_with_the_same_identity_conflict() {
    let text = format!(
        "{INITIATOR}FixLayer.FixEngine.Session.S2.Role = Initiator
FixLayer.FixEngine.Session.S2.Version = FIX.4.4
FixLayer.FixEngine.Session.S2.SenderCompID = ME
FixLayer.FixEngine.Session.S2.TargetCompID = THEM
FixLayer.FixEngine.Session.S2.Host = 127.0.0.1
FixLayer.FixEngine.Session.S2.Port = 9009
"
    );
    let e = resolve_err(&text);
    assert!(e.to_string().contains("session S has the same"), "{e}");
    // A different version is a different session.
    resolve(&text.replace("S2.Version = FIX.4.4", "S2.Version = FIX.4.3"));
}

#[test]
fn many_backups_with_policy_and_per_endpoint_overrides() {
    let p = "FixLayer.FixEngine.Session.S.";
    let text = format!(
        "ForcedReconnect = true
{INITIATOR}{p}EnableAutoSwitchToBackupConnection = true
{p}EnableCyclicSwitchBackupConnection = true
{p}EndpointPolicy = round-robin
{p}EndpointTries = 2
{p}MaxConnectAttempts = 20
{p}Backup.Host = 127.0.0.2
{p}Backup.EnableAutoSwitchToBackupConnection = true
{p}Backup.SenderCompID = ME_B1
{p}Backup.HeartBtInt = 10
{p}Backup.Reconnect.Interval = 100
{p}Backup.EndpointTries = -1
{p}Backup.2.Host = 127.0.0.3
{p}Backup.2.Port = 9003
{p}Backup.2.TargetCompID = THEM_B2
{p}Backup.2.ForceSeqNumReset = 2
{p}Backup.2.Username = user
{p}Backup.2.Password = s3cret
{p}Backup.3.Port = 9004
"
    );
    let r = resolve(&text);
    let s = &r.sessions[0];
    assert_eq!(s.endpoint_policy, EndpointPolicy::RoundRobin);
    assert_eq!(s.max_connect_attempts, Tries::Limited(20));
    let addrs: Vec<String> = s.endpoints().map(|e| e.address()).collect();
    assert_eq!(
        addrs,
        [
            "127.0.0.1:9001",
            "127.0.0.2:9001",
            "127.0.0.3:9003",
            "127.0.0.1:9004"
        ]
    );
    let [b1, b2, b3] = &s.backups[..] else {
        panic!("three backups")
    };
    assert_eq!(s.primary.tries_before_switch(), Tries::Limited(2));
    assert!(b1.auto_switch && !b1.cyclic_switch);
    assert_eq!(b1.ids.sender_comp_id, "ME_B1");
    assert_eq!(b1.ids.target_comp_id, "THEM");
    assert_eq!(b1.heart_bt_int, 10);
    assert_eq!(b1.reconnect.interval, Duration::from_millis(100));
    assert_eq!(b1.tries_before_switch(), Tries::Unlimited);
    assert!(!b2.auto_switch);
    assert_eq!(b2.ids.sender_comp_id, "ME");
    assert_eq!(b2.ids.target_comp_id, "THEM_B2");
    assert_eq!(b2.heart_bt_int, 30);
    assert_eq!(b2.force_seq_num_reset, SeqNumReset::EveryLogon);
    assert_eq!(b2.credentials.password.as_deref(), Some("s3cret"));
    assert!(
        !format!("{b2:?}").contains("s3cret"),
        "Debug must not print the password"
    );
    assert_eq!(
        b2.endpoint_tries,
        Some(Tries::Limited(2)),
        "inherited from the session"
    );
    assert_eq!(b3.force_seq_num_reset, SeqNumReset::Never);
    assert!(b3.reconnect.forced);
}

#[test]
fn backup_errors() {
    let p = "FixLayer.FixEngine.Session.S.";
    let e = resolve_err(&format!(
        "{INITIATOR}{p}Backup.1.Host = 127.0.0.2\n{p}Backup.3.Host = 127.0.0.3\n"
    ));
    assert!(
        e.to_string()
            .starts_with(&format!("test.properties:9: {p}Backup.3.Host: ")),
        "{e}"
    );
    assert!(e.to_string().contains("Backup.2 has no keys"), "{e}");

    let e = resolve_err(&format!(
        "{INITIATOR}{p}EnableAutoSwitchToBackupConnection = true\n"
    ));
    assert!(
        e.to_string().starts_with(&format!(
            "test.properties:8: {p}EnableAutoSwitchToBackupConnection: no backup"
        )),
        "{e}"
    );

    let acceptor = INITIATOR
        .replace("Role = Initiator", "Role = Acceptor")
        .replace(&format!("{p}Host = 127.0.0.1\n"), "");
    resolve(&acceptor);
    let e = resolve_err(&format!("{acceptor}{p}Backup.Port = 9100\n"));
    assert!(e.to_string().contains("initiators only"), "{e}");
}

#[test]
fn aliases() {
    let text = "FixLayer.FixEngine.Session.Q.ConnectionType = initiator
FixLayer.FixEngine.Session.Q.BeginString = FIX.4.1
FixLayer.FixEngine.Session.Q.SenderCompID = A
FixLayer.FixEngine.Session.Q.TargetCompID = B
FixLayer.FixEngine.Session.Q.SocketConnectHost = 127.0.0.1
FixLayer.FixEngine.Session.Q.SocketConnectPort = 5001
FixLayer.FixEngine.Session.Q.FileStorePath = st
FixLayer.FixEngine.Session.Q.Reconnect.MaxTries = -1
Engine.Workers = 5
";
    let r = resolve(text);
    let q = r.session("Q").unwrap();
    assert_eq!(q.role, Role::Initiator);
    assert_eq!(q.begin_string, BeginString::Fix41);
    assert_eq!(q.primary.address(), "127.0.0.1:5001");
    assert_eq!(q.storage.directory, PathBuf::from("st"));
    assert_eq!(q.primary.reconnect.max_tries, Tries::Unlimited);
    assert_eq!(r.engine.workers, 5);
}

#[test]
fn builder_produces_the_same_settings_as_the_file() {
    let p = "FixLayer.FixEngine.Session.S.";
    let text = format!(
        "{INITIATOR}{p}HeartBtInt = 15
{p}ForcedReconnect = true
{p}ReconnectMaxTries = -1
{p}ReconnectInterval = 5
{p}EnableAutoSwitchToBackupConnection = true
{p}ForceSeqNumReset = 2
{p}Backup.Host = 127.0.0.2
{p}Backup.Port = 9002
{p}Backup.EnableAutoSwitchToBackupConnection = true
"
    );
    let from_file = resolve(&text).sessions.remove(0);

    let b = SessionSettings::initiator("S", "FIX.4.4", "ME", "THEM", "127.0.0.1", 9001)
        .heart_bt_int(15)
        .reconnect(true, Tries::Unlimited, Duration::from_secs(5))
        .switching(true, false)
        .force_seq_num_reset(SeqNumReset::EveryLogon);
    let mut backup = b.settings().backup_endpoint("127.0.0.2", 9002);
    backup.auto_switch = true;
    let built = b.backup(backup).build().unwrap();
    assert_eq!(built, from_file);
}

#[test]
fn builder_with_engine_defaults_and_unregistered_acceptors() {
    let e = Config::from_str(
        "HeartBtInt = 9\nListenPort = 7000\nVersion = FIX.4.2\n",
        "t",
    )
    .unwrap()
    .engine_settings()
    .unwrap();
    let s = SessionSettings::acceptor("X", "FIX.4.4", "ME", "YOU", 7100)
        .with_defaults(&e.session_defaults)
        .build()
        .unwrap();
    assert_eq!(s.primary.heart_bt_int, 9);
    assert_eq!(s.primary.port, 7100);
    assert_eq!(
        s.begin_string,
        BeginString::Fix44,
        "the builder's version wins"
    );

    let u = e.unregistered_acceptor("TW-1", BeginString::Fix42, "ME", "TW");
    assert_eq!(u.role, Role::Acceptor);
    assert_eq!(u.primary.port, 7000);
    assert_eq!(u.primary.heart_bt_int, 9);
    assert_eq!(u.primary.ids.target_comp_id, "TW");
}

#[test]
fn builder_errors_name_session_and_key() {
    let e = SessionSettings::initiator("S", "FIX.4.9", "A", "B", "127.0.0.1", 1)
        .build()
        .unwrap_err();
    assert_eq!(
        e.to_string().split(':').take(2).collect::<Vec<_>>(),
        ["session S", " Version"]
    );
    let e = SessionSettings::acceptor("S", "FIXT.1.1", "A", "B", 1)
        .build()
        .unwrap_err();
    assert!(
        e.to_string().starts_with("session S: DefaultApplVerID: "),
        "{e}"
    );
    SessionSettings::acceptor("S", "FIXT.1.1", "A", "B", 1)
        .default_appl_ver_id(ApplVerId::Fix50Sp2)
        .build()
        .unwrap();
    let e = SessionSettings::initiator("S", "FIX.4.4", "A", "B", "127.0.0.1", 0)
        .build()
        .unwrap_err();
    assert!(e.to_string().starts_with("session S: Port: "), "{e}");
    let e = SessionSettings::initiator("S", "FIX.4.4", "", "B", "127.0.0.1", 1)
        .build()
        .unwrap_err();
    assert!(
        e.to_string().starts_with("session S: SenderCompID: "),
        "{e}"
    );
    let e = SessionSettings::initiator("bad name", "FIX.4.4", "A", "B", "h", 1)
        .build()
        .unwrap_err();
    assert!(e.to_string().starts_with("session bad name: Name: "), "{e}");
    let a = SessionSettings::acceptor("S", "FIX.4.4", "A", "B", 1);
    let backup = a.settings().backup_endpoint("127.0.0.1", 2);
    let e = a.backup(backup).build().unwrap_err();
    assert!(e.to_string().contains("initiators only"), "{e}");
}

#[test]
fn config_md_documents_every_key() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIG.md"))
        .expect("docs/CONFIG.md exists");
    for name in fix_engine::config::all_key_names() {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/CONFIG.md does not list `{name}`"
        );
    }
}

/// The QuickFIX acceptance suite's `cfg/at.cfg`, written in this format.
#[test]
fn acceptance_configuration() {
    let mut text = String::from(
        "ListenPort = 54321
Role = Acceptor
SenderCompID = ISLD
ResetOnLogon = Y
StorageDirectory = store
Application = echo
FixLayer.FixEngine.Sessions = TW40, TW41, TW42, TW43, TW44, TW50, TW50SP1, TW50SP2, TW, NO_CHECK_FIELDS_HAVE_VALUES
",
    );
    let fix4 = [
        ("TW40", "FIX.4.0", "FIX40"),
        ("TW41", "FIX.4.1", "FIX41"),
        ("TW42", "FIX.4.2", "FIX42"),
        ("TW43", "FIX.4.3", "FIX43"),
        ("TW44", "FIX.4.4", "FIX44"),
        ("TW", "FIX.4.4", "FIX44"),
        ("NO_CHECK_FIELDS_HAVE_VALUES", "FIX.4.4", "FIX44"),
    ];
    for (name, version, dict) in fix4 {
        let p = format!("FixLayer.FixEngine.Session.{name}.");
        text += &format!(
            "{p}Version = {version}\n{p}TargetCompID = {name}\n{p}DataDictionary = spec/{dict}.xml\n"
        );
    }
    text += "FixLayer.FixEngine.Session.NO_CHECK_FIELDS_HAVE_VALUES.ValidateFieldsHaveValues = N\n";
    for (name, appl) in [
        ("TW50", "FIX.5.0"),
        ("TW50SP1", "FIX.5.0SP1"),
        ("TW50SP2", "FIX.5.0SP2"),
    ] {
        let p = format!("FixLayer.FixEngine.Session.{name}.");
        text += &format!(
            "{p}Version = FIXT.1.1\n{p}TargetCompID = {name}\n{p}DefaultApplVerID = {appl}\n\
             {p}TransportDataDictionary = spec/FIXT11.xml\n{p}AppDataDictionary = spec/{}.xml\n",
            appl.replace('.', "")
        );
    }
    let r = resolve(&text);
    assert_eq!(r.sessions.len(), 10);
    assert!(r.deferred.is_empty());
    for s in &r.sessions {
        assert_eq!(s.role, Role::Acceptor);
        assert_eq!(s.primary.port, 54321);
        assert_eq!(s.primary.ids.sender_comp_id, "ISLD");
        assert_eq!(s.primary.ids.target_comp_id, s.name);
        assert!(s.reset_on_logon);
        assert_eq!(s.application, Application::Echo);
        assert_eq!(
            s.validation.fields_have_values,
            s.name != "NO_CHECK_FIELDS_HAVE_VALUES"
        );
    }
    let sp2 = r.session("TW50SP2").unwrap();
    assert_eq!(sp2.default_appl_ver_id, Some(ApplVerId::Fix50Sp2));
    assert_eq!(
        sp2.dictionaries.app_data_dictionary,
        Some(PathBuf::from("spec/FIX50SP2.xml"))
    );
}
