//! Every configuration snippet of the two seed documents, verbatim, parsed and resolved.
//!
//! The FIXEdge snippets contain placeholders (`<backup server host>`, `<backup server port>`); only
//! those are substituted, with loopback values. The minimal session keys the snippets assume (Role,
//! Version, CompIDs, Host, Port) are added as a separate text, not mixed into the snippet.

use std::time::Duration;

use fix_engine::config::{Config, Resolved, Role, SeqNumReset, SessionSettings, Tries};

/// FIX Antenna HFT, "Session reconnection / Initiator" (engine.properties).
const ANTENNA_RECONNECT: &str = "ForcedReconnect = true
ReconnectMaxTries = -1
ReconnectInterval = 5
";

/// FIXEdge "Switching to the backup connection".
const EDGE_SWITCH_TO_BACKUP: &str =
    "FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.Host = <backup server host>
FixLayer.FixEngine.Session.MySession.Backup.Port = <backup server port>
";

/// FIXEdge "Switching back to the primary connection".
const EDGE_SWITCH_BACK: &str =
    "FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.Host = <backup server host>
FixLayer.FixEngine.Session.MySession.Backup.Port = <backup server port>
";

/// FIXEdge "Cyclic reconnection".
const EDGE_CYCLIC: &str =
    "FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.EnableCyclicSwitchBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.EnableCyclicSwitchBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.Host = <backup server host>
FixLayer.FixEngine.Session.MySession.Backup.Port = <backup server port>
";

/// FIXEdge "Message sequence numbers reset".
const EDGE_RESET: &str =
    "FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.EnableCyclicSwitchBackupConnection = true
FixLayer.FixEngine.Session.MySession.ForceSeqNumReset = 2
FixLayer.FixEngine.Session.MySession.Backup.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.EnableCyclicSwitchBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.ForceSeqNumReset = 2
FixLayer.FixEngine.Session.MySession.Backup.Host = <backup server host>
FixLayer.FixEngine.Session.MySession.Backup.Port = <backup server port>
";

/// The session keys the FIXEdge snippets take for granted.
const BASE_SESSION: &str = "FixLayer.FixEngine.Sessions = MySession
FixLayer.FixEngine.Session.MySession.Role = Initiator
FixLayer.FixEngine.Session.MySession.Version = FIX.4.4
FixLayer.FixEngine.Session.MySession.SenderCompID = CLIENT
FixLayer.FixEngine.Session.MySession.TargetCompID = SERVER
FixLayer.FixEngine.Session.MySession.Host = 127.0.0.1
FixLayer.FixEngine.Session.MySession.Port = 9801
";

const BACKUP_HOST: &str = "127.0.0.2";
const BACKUP_PORT: u16 = 9802;

fn substitute(snippet: &str) -> String {
    snippet
        .replace("<backup server host>", BACKUP_HOST)
        .replace("<backup server port>", &BACKUP_PORT.to_string())
}

/// Loads the base session and the snippet as two sources (two files), then resolves.
fn resolve_edge(snippet: &str) -> Resolved {
    let mut c = Config::from_str(BASE_SESSION, "base.properties").expect("base parses");
    c.load_str(&substitute(snippet), "FIXEdge.properties")
        .unwrap_or_else(|e| panic!("snippet must parse verbatim: {e}"));
    c.resolve()
        .unwrap_or_else(|e| panic!("snippet must resolve: {e}"))
}

fn my_session(r: &Resolved) -> &SessionSettings {
    assert_eq!(r.sessions.len(), 1);
    let s = &r.sessions[0];
    assert_eq!(s.name, "MySession");
    assert_eq!(s.role, Role::Initiator);
    assert_eq!(s.primary.host.as_deref(), Some("127.0.0.1"));
    assert_eq!(s.primary.port, 9801);
    assert_eq!(s.backups.len(), 1, "exactly one backup endpoint");
    let b = &s.backups[0];
    assert_eq!(b.host.as_deref(), Some(BACKUP_HOST));
    assert_eq!(b.port, BACKUP_PORT);
    // Absent Backup. keys fall back to the session's.
    assert_eq!(b.ids, s.primary.ids);
    assert_eq!(b.heart_bt_int, s.primary.heart_bt_int);
    assert_eq!(b.reconnect, s.primary.reconnect);
    s
}

#[test]
fn antenna_reconnect_snippet_sets_engine_wide_reconnection() {
    let c = Config::from_str(ANTENNA_RECONNECT, "engine.properties").expect("verbatim snippet");
    let e = c.engine_settings().expect("resolves");
    let r = e.session_defaults.primary.reconnect;
    assert!(r.forced);
    assert_eq!(r.max_tries, Tries::Unlimited);
    assert_eq!(
        r.interval,
        Duration::from_secs(5),
        "ReconnectInterval is in seconds"
    );
}

#[test]
fn antenna_reconnect_snippet_is_inherited_by_sessions_and_backups() {
    let mut c = Config::from_str(ANTENNA_RECONNECT, "engine.properties").expect("verbatim");
    c.load_str(BASE_SESSION, "sessions.properties").unwrap();
    c.load_str(&substitute(EDGE_SWITCH_TO_BACKUP), "FIXEdge.properties")
        .unwrap();
    let r = c.resolve().unwrap();
    let s = my_session(&r);
    for ep in s.endpoints() {
        assert!(ep.reconnect.forced);
        assert_eq!(ep.reconnect.max_tries, Tries::Unlimited);
        assert_eq!(ep.reconnect.interval, Duration::from_secs(5));
    }
    // Unlimited retries on a switching endpoint would never reach the backup: one try, then switch.
    assert_eq!(s.primary.tries_before_switch(), Tries::Limited(1));
    // The backup does not switch back, so it keeps retrying forever.
    assert_eq!(s.backups[0].tries_before_switch(), Tries::Unlimited);
}

#[test]
fn edge_switch_to_backup() {
    let r = resolve_edge(EDGE_SWITCH_TO_BACKUP);
    let s = my_session(&r);
    assert!(s.primary.auto_switch, "primary switches to the backup");
    assert!(
        !s.backups[0].auto_switch,
        "backup does not switch back unless told"
    );
    assert!(!s.primary.cyclic_switch && !s.backups[0].cyclic_switch);
    assert_eq!(s.primary.force_seq_num_reset, SeqNumReset::Never);
    assert_eq!(s.backups[0].force_seq_num_reset, SeqNumReset::Never);
}

#[test]
fn edge_switch_back_to_primary() {
    let r = resolve_edge(EDGE_SWITCH_BACK);
    let s = my_session(&r);
    assert!(s.primary.auto_switch);
    assert!(
        s.backups[0].auto_switch,
        "backup switches back to the primary"
    );
    assert!(!s.primary.cyclic_switch && !s.backups[0].cyclic_switch);
    assert_eq!(s.backups[0].force_seq_num_reset, SeqNumReset::Never);
}

#[test]
fn edge_cyclic_reconnection() {
    let r = resolve_edge(EDGE_CYCLIC);
    let s = my_session(&r);
    assert!(s.primary.auto_switch && s.backups[0].auto_switch);
    assert!(s.primary.cyclic_switch && s.backups[0].cyclic_switch);
    assert_eq!(s.primary.force_seq_num_reset, SeqNumReset::Never);
}

#[test]
fn edge_seq_num_reset_on_every_logon() {
    let r = resolve_edge(EDGE_RESET);
    let s = my_session(&r);
    assert!(s.primary.auto_switch && s.backups[0].auto_switch);
    assert!(s.primary.cyclic_switch && s.backups[0].cyclic_switch);
    assert_eq!(s.primary.force_seq_num_reset, SeqNumReset::EveryLogon);
    assert_eq!(s.backups[0].force_seq_num_reset, SeqNumReset::EveryLogon);
}

#[test]
fn edge_snippets_in_one_file_with_the_base_keys() {
    // The same snippets also parse when pasted into one file after the base keys.
    for snippet in [
        EDGE_SWITCH_TO_BACKUP,
        EDGE_SWITCH_BACK,
        EDGE_CYCLIC,
        EDGE_RESET,
    ] {
        let text = format!(
            "{BASE_SESSION}\n# from the vendor document\n{}",
            substitute(snippet)
        );
        let c = Config::from_str(&text, "FIXEdge.properties").unwrap();
        assert_eq!(c.resolve().unwrap().sessions[0].backups.len(), 1);
    }
}

/// The embedded snippets are the seed document's code blocks, byte for byte (when `../shared` is
/// beside the project, as it is for developers and CI).
#[test]
fn embedded_snippets_match_the_seed_documents() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/seeds/");
    let Ok(edge) = std::fs::read_to_string(format!("{root}fixedge-backup-connection.md")) else {
        eprintln!("../shared/seeds not present: skipping the verbatim comparison");
        return;
    };
    let blocks: Vec<String> = edge
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.trim_start_matches('\n').to_owned())
        .collect();
    assert_eq!(
        blocks,
        [
            EDGE_SWITCH_TO_BACKUP,
            EDGE_SWITCH_BACK,
            EDGE_CYCLIC,
            EDGE_RESET
        ]
    );
    let antenna =
        std::fs::read_to_string(format!("{root}fix-antenna-hft-session-management.md")).unwrap();
    assert!(antenna.contains(ANTENNA_RECONNECT));
}
