//! The resend knobs `ResendBatch`, `MaxHeldBytes` and `ResendRequestTimeout`: defaults, engine-wide
//! defaults with per-session overrides, the builder, and bad values naming file, line and key.

use std::time::Duration;

use fix_engine::config::{
    BeginString, Config, ConfigError, DEFAULT_MAX_HELD_BYTES, SessionSettings,
};

const S: &str = "FixLayer.FixEngine.Session.S.";

const SESSION: &str = "FixLayer.FixEngine.Session.S.Role = Initiator
FixLayer.FixEngine.Session.S.Version = FIX.4.4
FixLayer.FixEngine.Session.S.SenderCompID = ME
FixLayer.FixEngine.Session.S.TargetCompID = THEM
FixLayer.FixEngine.Session.S.Host = 127.0.0.1
FixLayer.FixEngine.Session.S.Port = 9001
";

const OTHER: &str = "FixLayer.FixEngine.Session.T.Role = Acceptor
FixLayer.FixEngine.Session.T.Version = FIX.4.2
FixLayer.FixEngine.Session.T.SenderCompID = ME
FixLayer.FixEngine.Session.T.TargetCompID = OTHER
FixLayer.FixEngine.Session.T.Port = 9002
";

fn resolve(text: &str) -> fix_engine::config::Resolved {
    Config::from_str(text, "test.properties")
        .and_then(|c| c.resolve())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn parse_err(text: &str) -> ConfigError {
    match Config::from_str(text, "test.properties") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_are_the_session_defaults() {
    let r = resolve(&format!("FixLayer.FixEngine.Sessions = S\n{SESSION}"));
    let s = &r.sessions[0];
    assert_eq!(s.resend_batch, fix_session::DEFAULT_RESEND_BATCH);
    assert_eq!(s.resend_batch, 1024);
    assert_eq!(s.max_held_bytes, DEFAULT_MAX_HELD_BYTES);
    assert_eq!(s.max_held_bytes, 1 << 20);
    assert_eq!(s.resend_request_timeout, None, "unset: 2 x HeartBtInt");
    let d = fix_session::SessionConfig::new("FIX.4.4", "ME", "THEM", fix_session::Role::Initiator);
    assert_eq!(s.max_held_bytes, d.max_held_bytes);
    assert_eq!(s.resend_batch, d.resend_batch);
}

#[test]
fn engine_wide_keys_are_defaults_and_sessions_override_them() {
    let text = format!(
        "FixLayer.FixEngine.Sessions = S, T
ResendBatch = 100
MaxHeldBytes = 4096
ResendRequestTimeout = 7
{SESSION}{OTHER}{S}ResendBatch = 0
{S}MaxHeldBytes = 0
{S}ResendRequestTimeout = 0
"
    );
    let r = resolve(&text);
    let s = r.session("S").unwrap();
    assert_eq!(s.resend_batch, 0);
    assert_eq!(s.max_held_bytes, 0);
    assert_eq!(s.resend_request_timeout, Some(Duration::ZERO));
    let t = r.session("T").unwrap();
    assert_eq!(t.resend_batch, 100);
    assert_eq!(t.max_held_bytes, 4096);
    assert_eq!(t.resend_request_timeout, Some(Duration::from_secs(7)));

    let defaults = &r.engine.session_defaults;
    assert_eq!(defaults.resend_batch, 100);
    let u = r
        .engine
        .unregistered_acceptor("U", BeginString::Fix44, "ME", "NEW");
    assert_eq!(u.max_held_bytes, 4096);
    assert_eq!(u.resend_request_timeout, Some(Duration::from_secs(7)));
}

#[test]
fn the_largest_values_are_accepted() {
    let text = format!(
        "FixLayer.FixEngine.Sessions = S
{SESSION}{S}ResendBatch = 1000000
{S}MaxHeldBytes = 67108864
{S}ResendRequestTimeout = 86400
"
    );
    let r = resolve(&text);
    let s = &r.sessions[0];
    assert_eq!(s.resend_batch, 1_000_000);
    assert_eq!(s.max_held_bytes, 64 << 20);
    assert_eq!(s.resend_request_timeout, Some(Duration::from_secs(86_400)));
}

#[test]
fn bad_values_name_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        ("ResendBatch", "-1"),
        ("ResendBatch", "1000001"),
        ("ResendBatch", "many"),
        ("ResendBatch", "1e3"),
        ("MaxHeldBytes", "-1"),
        ("MaxHeldBytes", "67108865"),
        ("MaxHeldBytes", "1MiB"),
        ("ResendRequestTimeout", "-1"),
        ("ResendRequestTimeout", "86401"),
        ("ResendRequestTimeout", "2s"),
        ("ResendRequestTimeout", "1.5"),
    ];
    for (key, value) in cases {
        for full in [key.to_string(), format!("{S}{key}")] {
            let e = parse_err(&format!("# header\n\n{full} = {value}\n"));
            assert!(
                matches!(&e, ConfigError::InvalidValue { value: v, .. } if v == value),
                "{full} = {value}: {e:?}"
            );
            let shown = e.to_string();
            let prefix = format!("test.properties:3: {full}: ");
            assert!(shown.starts_with(&prefix), "`{shown}` lacks `{prefix}`");
            assert!(shown.contains("expected"), "{shown}");
            let at = e.location().expect("file errors carry a location");
            assert_eq!(at.line, 3);
        }
    }
}

#[test]
fn resend_keys_belong_to_the_session_not_a_backup() {
    for key in ["ResendBatch", "MaxHeldBytes", "ResendRequestTimeout"] {
        let full = format!("{S}Backup.{key}");
        let e = parse_err(&format!("ForcedReconnect = true\n{full} = 1\n"));
        assert!(matches!(e, ConfigError::UnknownKey { .. }), "{key}: {e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("test.properties:2: {full}: ")),
            "{e}"
        );
        assert!(e.to_string().contains("cannot be set per backup"), "{e}");
    }
}

#[test]
fn builder_sets_and_checks_them() {
    let base = || SessionSettings::initiator("S", "FIX.4.4", "ME", "THEM", "127.0.0.1", 9001);
    let s = base()
        .resend_batch(5)
        .max_held_bytes(10)
        .resend_request_timeout(Some(Duration::from_millis(250)))
        .build()
        .unwrap();
    assert_eq!(s.resend_batch, 5);
    assert_eq!(s.max_held_bytes, 10);
    assert_eq!(s.resend_request_timeout, Some(Duration::from_millis(250)));

    let built = base().build().unwrap();
    assert_eq!(built.resend_batch, 1024);
    assert_eq!(built.max_held_bytes, 1 << 20);
    assert_eq!(built.resend_request_timeout, None);

    let e = base().resend_batch(1_000_001).build().unwrap_err();
    assert!(e.to_string().starts_with("session S: ResendBatch: "), "{e}");
    let e = base().max_held_bytes((64 << 20) + 1).build().unwrap_err();
    assert!(
        e.to_string().starts_with("session S: MaxHeldBytes: "),
        "{e}"
    );
    let e = base()
        .resend_request_timeout(Some(Duration::from_secs(86_401)))
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("session S: ResendRequestTimeout: "),
        "{e}"
    );

    // The file and the builder agree.
    let r = resolve(&format!(
        "FixLayer.FixEngine.Sessions = S\n{SESSION}{S}ResendBatch = 5\n{S}MaxHeldBytes = 10\n{S}ResendRequestTimeout = 3\n"
    ));
    let b = base()
        .resend_batch(5)
        .max_held_bytes(10)
        .resend_request_timeout(Some(Duration::from_secs(3)))
        .build()
        .unwrap();
    assert_eq!(r.sessions[0], b);
}
