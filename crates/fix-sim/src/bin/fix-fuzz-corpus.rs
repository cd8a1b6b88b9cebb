//! `fix-fuzz-corpus SCRIPTS_DIR OUT_DIR`: the seed corpus of every fuzz target, built from the
//! messages of the QuickFIX acceptance scripts (`I` lines after the `<TIME>` / `9=` / `10=`
//! transform, at the fixed instant the session targets use as "now").
//!
//! Writes `OUT_DIR/<target>/<hash>`; existing files are kept (libFuzzer adds its own there).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fix_codec::UtcTimestamp;

/// FNV-1a: a stable file name for a seed.
fn name(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn defs(dir: &Path, out: &mut Vec<PathBuf>, depth: u32) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && depth < 4 {
            defs(&p, out, depth + 1);
        } else if p.extension().is_some_and(|e| e == "def") {
            out.push(p);
        }
    }
}

/// The messages the runner sends on connection 1, and on any connection.
fn messages(script: &[u8], now: UtcTimestamp) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut first, mut all) = (Vec::new(), Vec::new());
    for line in script.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(rest) = line.strip_prefix(b"I") else {
            continue;
        };
        let (conn, msg) = match rest.iter().position(|&b| b == b',') {
            Some(i) if i <= 3 && rest[..i].iter().all(u8::is_ascii_digit) => {
                (&rest[..i], &rest[i + 1..])
            }
            _ => (&b"1"[..], rest),
        };
        if msg.is_empty() || msg.starts_with(b"CONNECT") || msg.starts_with(b"DISCONNECT") {
            continue;
        }
        let m = fix_acceptance::transform(msg, now);
        if conn == b"1" {
            first.push(m.clone());
        }
        all.push(m);
    }
    (first, all)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scripts, out] = args.as_slice() else {
        eprintln!("usage: fix-fuzz-corpus SCRIPTS_DIR OUT_DIR");
        return ExitCode::from(2);
    };
    // The instant fix_sim::fuzz's session targets use as "now".
    let now = UtcTimestamp::from_unix_nanos(1_704_164_645_678_000_000 + 1_000_000_000_000);
    let mut files = Vec::new();
    defs(Path::new(scripts), &mut files, 0);
    if files.is_empty() {
        eprintln!("no .def scripts under {scripts}");
        return ExitCode::FAILURE;
    }
    let mut seeds: Vec<(&str, BTreeSet<Vec<u8>>)> = fix_sim::fuzz::TARGETS
        .iter()
        .map(|t| (*t, BTreeSet::new()))
        .collect();
    let mut add = |target: &str, bytes: Vec<u8>| {
        if let Some((_, set)) = seeds.iter_mut().find(|(t, _)| *t == target) {
            set.insert(bytes);
        }
    };
    for f in &files {
        let Ok(script) = std::fs::read(f) else {
            continue;
        };
        let (first, all) = messages(&script, now);
        for m in &all {
            add("framer", m.clone());
            add("fields", m.clone());
            add("validate", m.clone());
        }
        add("framer", all.concat());
        let stream = first.concat();
        if stream.is_empty() {
            continue;
        }
        // Control byte (see fix_sim::fuzz::session): whole reads; 64-byte reads with
        // application sends and one second between reads; SendingTime checked.
        for ctl in [0x00u8, 0x1a | 0x20, 0x80] {
            let mut seed = vec![ctl];
            seed.extend_from_slice(&stream);
            add("session_acceptor", seed.clone());
            add("session_initiator", seed);
        }
        // The initiator sees the acceptor's side: prepend a confirming Logon (bit 0).
        let mut seed = vec![0x01];
        seed.extend(first.iter().skip(1).flatten());
        add("session_initiator", seed);
    }
    // Store edits: none, a flipped state word, a flipped record, a truncated segment and index.
    for seed in [
        vec![],
        vec![0, 16, 0, 4, 0xff, 0xff, 0xff, 0xff],
        vec![0, 64, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
        vec![1, 80, 0, 2, 0x55, 0xaa],
        vec![1, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![7, 100, 0, 0],
        vec![2, 64, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![3, 10, 0, 0],
    ] {
        add("store_recovery", seed);
    }
    let mut total = 0;
    for (target, set) in &seeds {
        let dir = Path::new(out).join(target);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        for s in set {
            if let Err(e) = std::fs::write(dir.join(name(s)), s) {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
        total += set.len();
        println!("{target}: {} seeds", set.len());
    }
    println!("{total} seeds from {} scripts in {out}", files.len());
    ExitCode::SUCCESS
}
