//! Bad input: every error names `FILE:LINE: KEY` and says what is wrong.

use fix_engine::config::{Config, ConfigError};

const S: &str = "FixLayer.FixEngine.Session.S.";

fn parse_err(text: &str) -> ConfigError {
    match Config::from_str(text, "test.properties") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts the error's Display starts with `test.properties:LINE: KEY: `.
fn assert_at(e: &ConfigError, line: u32, key: &str) {
    let shown = e.to_string();
    let prefix = format!("test.properties:{line}: {key}: ");
    assert!(
        shown.starts_with(&prefix),
        "`{shown}` does not start with `{prefix}`"
    );
    let at = e.location().expect("file errors carry a location");
    assert_eq!(&*at.source, "test.properties");
    assert_eq!(at.line, line);
}

#[test]
fn every_kind_of_bad_value_names_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        // bool
        ("ForcedReconnect", "maybe"),
        ("UseDataDictionary", "2"),
        // ranged ints
        ("IoThreads", "0"),
        ("IoThreads", "65"),
        ("Workers", "-1"),
        ("Workers", "+2"),
        ("MaxMessageSize", "12"),
        ("UnregisteredAcceptor.MaxSessions", "65536"),
        // ports
        ("ListenPort", "-1"),
        ("ListenPort", "65536"),
        ("ListenPort", "http"),
        // seconds / milliseconds
        ("HeartBtInt", "-1"),
        ("HeartBtInt", "30s"),
        ("HeartBtInt", "86401"),
        ("ReconnectInterval", "0"),
        ("ReconnectInterval", "1.5"),
        ("Reconnect.Interval", "0"),
        ("DurabilityIntervalMs", "60001"),
        ("MaxLatency", "0"),
        ("LogonTimeout", "3601"),
        // tries
        ("ReconnectMaxTries", "-2"),
        ("Reconnect.MaxTries", "unlimited"),
        ("MaxConnectAttempts", "1000001"),
        // ids, hosts, addresses
        ("SenderCompID", "MY FIRM"),
        ("ListenAddress", "0.0.0.0.0"),
        ("ListenAddress", "localhost"),
        // enums
        ("Role", "Server"),
        ("Version", "FIX.4.5"),
        ("Version", "fix.4.4"),
        ("DefaultApplVerID", "10"),
        ("ForceSeqNumReset", "3"),
        ("IdleStrategy", "spin"),
        ("StorageType", "disk"),
        ("Durability", "always"),
        ("Application", "bank"),
        ("EndpointPolicy", "random"),
        // lists
        ("IoCpus", "0,,1"),
        ("IoCpus", "0-3"),
        ("IoCpus", "4096"),
        ("FixLayer.FixEngine.Sessions", "A, B C"),
        ("FixLayer.FixEngine.Sessions", "A, A"),
        ("FixLayer.FixEngine.Sessions", "A.B"),
    ];
    for (key, value) in cases {
        let text = format!("# header\n\n{key} = {value}\n");
        let e = parse_err(&text);
        assert!(
            matches!(&e, ConfigError::InvalidValue { value: v, .. } if v == value),
            "{key} = {value}: {e:?}"
        );
        assert_at(&e, 3, key);
        assert!(e.to_string().contains("expected"), "{e}");
    }
}

#[test]
fn bad_session_and_backup_values_name_the_full_key() {
    let cases: &[(&str, &str)] = &[
        ("Port", "65536"),
        ("Host", "bad host"),
        ("TargetCompID", "A\u{7f}B"),
        ("Password", "a\tb"),
        ("Backup.Port", "70000"),
        ("Backup.2.HeartBtInt", "x"),
        ("Backup.ForceSeqNumReset", "yes please"),
        ("Backup.EnableAutoSwitchToBackupConnection", "on"),
        ("Backup.Reconnect.Interval", "-5"),
    ];
    for (key, value) in cases {
        let full = format!("{S}{key}");
        let e = parse_err(&format!("{S}Role = Initiator\n{full} = {value}\n"));
        assert!(
            matches!(e, ConfigError::InvalidValue { .. }),
            "{full}: {e:?}"
        );
        assert_at(&e, 2, &full);
    }
}

#[test]
fn empty_value_is_an_error() {
    let e = parse_err("HeartBtInt =\n");
    assert!(matches!(e, ConfigError::InvalidValue { .. }), "{e:?}");
    assert_at(&e, 1, "HeartBtInt");
}

#[test]
fn unknown_keys() {
    let cases: &[(&str, &str)] = &[
        ("Foo", "unknown key"),
        ("heartbtint", "did you mean HeartBtInt?"),
        ("FixLayer.FixEngine.Session.S.Foo", "unknown key"),
        ("FixLayer.FixEngine.Session.S.Backup.Foo", "unknown key"),
        ("FixLayer.FixEngine.Session.S.IoThreads", "engine-wide"),
        (
            "FixLayer.FixEngine.Session.S.UnregisteredAcceptor.CreateSession",
            "engine-wide",
        ),
        ("Host", "per session"),
        ("TargetCompID", "per session"),
        ("Backup.Host", "belong to a session"),
        (
            "FixLayer.FixEngine.Session.S.Backup.Role",
            "cannot be set per backup",
        ),
        (
            "FixLayer.FixEngine.Session.S.Backup.StorageDirectory",
            "cannot be set per backup",
        ),
        ("FixLayer.FixEngine.Session.S.Backup.0.Host", "backup index"),
        (
            "FixLayer.FixEngine.Session.S.Backup.17.Host",
            "backup index",
        ),
        ("FixLayer.FixEngine.Session.S.Backup.1.Foo", "unknown key"),
        (
            "FixLayer.FixEngine.Session.S",
            "no key after the session name",
        ),
        (
            "FixLayer.FixEngine.Session.S/1.Host",
            "not a valid session name",
        ),
        (
            "FixLayer.FixEngine.Session..Host",
            "not a valid session name",
        ),
        ("IoThread.x.Cpu", "unknown key"),
        ("IoThread.64.Cpu", "unknown key"),
    ];
    for (key, hint) in cases {
        let e = parse_err(&format!("ForcedReconnect = true\n{key} = 1\n"));
        assert!(matches!(e, ConfigError::UnknownKey { .. }), "{key}: {e:?}");
        assert_at(&e, 2, key);
        assert!(e.to_string().contains(hint), "{key}: `{e}` lacks `{hint}`");
    }
}

#[test]
fn duplicate_key_names_both_lines() {
    let e = parse_err("HeartBtInt = 30\n# again\nHeartBtInt=31\n");
    assert!(matches!(e, ConfigError::Duplicate { .. }), "{e:?}");
    assert_at(&e, 3, "HeartBtInt");
    assert!(e.to_string().contains("test.properties:1"), "{e}");
}

#[test]
fn duplicate_under_two_spellings() {
    // Same setting in two units is still one setting.
    let e = parse_err("ReconnectInterval = 5\nReconnect.Interval = 5000\n");
    assert_at(&e, 2, "Reconnect.Interval");
    assert!(
        e.to_string().contains("first set at test.properties:1"),
        "{e}"
    );

    let e = parse_err(&format!(
        "{S}Backup.Host = 127.0.0.1\n{S}Backup.1.Host = 127.0.0.2\n"
    ));
    assert!(matches!(e, ConfigError::Duplicate { .. }), "{e:?}");
    assert_at(&e, 2, &format!("{S}Backup.1.Host"));

    let e = parse_err(&format!("{S}Version = FIX.4.2\n{S}BeginString = FIX.4.2\n"));
    assert!(matches!(e, ConfigError::Duplicate { .. }), "{e:?}");
}

#[test]
fn same_key_in_session_and_engine_is_not_a_duplicate() {
    let c = Config::from_str(&format!("HeartBtInt = 30\n{S}HeartBtInt = 31\n"), "t").unwrap();
    assert_eq!(c.keys().count(), 2);
}

#[test]
fn syntax_errors() {
    let e = parse_err("ForcedReconnect = true\nthis line has no equals sign\n");
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e:?}");
    assert_at(&e, 2, "this line has no equals sign");

    let e = parse_err("\n\n = value\n");
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e:?}");
    assert_eq!(e.location().unwrap().line, 3);
}

#[test]
fn an_error_leaves_the_configuration_unchanged() {
    let mut c = Config::from_str("HeartBtInt = 10\n", "a").unwrap();
    assert!(c.load_str("HeartBtInt = 20\nBogus = 1\n", "b").is_err());
    let e = c.engine_settings().unwrap();
    assert_eq!(e.session_defaults.primary.heart_bt_int, 10);
}

#[test]
fn override_errors_name_the_set_source() {
    let mut c = Config::new();
    c.set_override("HeartBtInt", "5").unwrap();
    let e = c.set_override("IoThreads", "zero").unwrap_err();
    assert!(e.to_string().starts_with("--set:2: IoThreads: "), "{e}");
    let e = c.set_override("NoSuchKey", "1").unwrap_err();
    assert!(e.to_string().starts_with("--set:3: NoSuchKey: "), "{e}");
    let e = c.set_override_arg("NoEquals").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e:?}");
    assert!(e.to_string().starts_with("--set:4: "), "{e}");
}

#[test]
fn file_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.properties");
    let e = Config::from_file(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("absent.properties"), "{e}");

    let path = dir.path().join("bad.properties");
    std::fs::write(&path, "# ok\nIdleStrategy = sleepy\n").unwrap();
    let e = Config::from_file(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: IdleStrategy: invalid value `sleepy`: expected busy-spin, backoff or block",
            path.display()
        )
    );

    let big = dir.path().join("big.properties");
    let line = "# padding padding padding padding padding padding padding padding\n";
    std::fs::write(&big, line.repeat((4 << 20) / line.len() + 1)).unwrap();
    let e = Config::from_file(&big).unwrap_err();
    assert!(matches!(e, ConfigError::TooLarge { .. }), "{e:?}");

    let bin = dir.path().join("bin.properties");
    std::fs::write(&bin, b"HeartBtInt = \xff\xfe\n").unwrap();
    assert!(matches!(
        Config::from_file(&bin),
        Err(ConfigError::Io { .. })
    ));
}
