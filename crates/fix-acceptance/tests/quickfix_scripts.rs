//! Every QuickFIX acceptance script in `../shared` parses, every line is accounted for, and the
//! transform computes the BodyLength the scripts spell out elsewhere.

use std::path::PathBuf;

use fix_acceptance::suite::discover;
use fix_acceptance::{Script, Step, transform};
use fix_codec::UtcTimestamp;

fn quickfix_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/acceptance/quickfix")
}

fn all_scripts() -> Vec<(String, Vec<u8>)> {
    let root = quickfix_dir();
    let dirs: Vec<PathBuf> = ["fix40", "fix41", "fix42", "fix44"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    let groups = discover(&dirs).unwrap_or_else(|e| panic!("shared acceptance scripts: {e}"));
    assert_eq!(groups.len(), 4);
    groups
        .iter()
        .flat_map(|g| &g.scripts)
        .map(|p| {
            (
                fix_acceptance::suite::script_name(p),
                std::fs::read(p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn all_quickfix_scripts_parse_and_every_line_is_a_step() {
    let scripts = all_scripts();
    assert_eq!(
        scripts.len(),
        229,
        "fix40+fix41+fix42+fix44 hold 229 scripts"
    );
    let (mut connect, mut disconnect, mut send, mut expect, mut expect_disc) = (0, 0, 0, 0, 0);
    for (name, bytes) in &scripts {
        let script = Script::parse(name, bytes).unwrap_or_else(|e| panic!("{e}"));
        let meaningful = bytes
            .split(|&b| b == b'\n')
            .filter(|l| {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                !l.is_empty() && !l.starts_with(b"#")
            })
            .count();
        assert_eq!(script.steps.len(), meaningful, "{name}");
        assert!(
            matches!(
                script.steps.first().map(|l| &l.step),
                Some(Step::Connect(_))
            ),
            "{name} starts with a connect"
        );
        for l in &script.steps {
            match l.step {
                Step::Connect(_) => connect += 1,
                Step::Disconnect(_) => disconnect += 1,
                Step::Send(..) => send += 1,
                Step::Expect(..) => expect += 1,
                Step::ExpectDisconnect(_) => expect_disc += 1,
            }
        }
    }
    // Counted with grep over the files: 237 `iCONNECT` + 8 `i1,CONNECT` + 8 `i2,CONNECT`;
    // 4 `i1,DISCONNECT`; 1099 `I`; 967 `E`; 237 `eDISCONNECT` + 4 `e1,` + 8 `e2,`.
    assert_eq!(
        (connect, disconnect, send, expect, expect_disc),
        (253, 4, 1099, 967, 249)
    );
}

/// Where a script gives `9=` and the transform computes it for a same-shaped line, they agree: the
/// `E` lines without `9=` get the length the engine's reply must carry. Checked on the FIX.4.0 Logon
/// reply, whose explicit form `9=59` appears in other scripts.
#[test]
fn computed_body_length_matches_the_scripts_explicit_one() {
    let now = UtcTimestamp::from_unix_secs(1_709_251_198);
    let implicit = b"8=FIX.4.0\x0135=A\x0134=1\x0149=ISLD\x0152=00000000-00:00:00\x0156=TW40\x0198=0\x01108=30\x01";
    let out = transform(implicit, now);
    assert!(out.starts_with(b"8=FIX.4.0\x019=59\x0135=A"), "{out:?}");
    let scripts = all_scripts();
    let needle: &[u8] = b"\nE8=FIX.4.0\x019=59\x0135=A\x0134=1\x01";
    let explicit = scripts
        .iter()
        .any(|(_, b)| b.windows(needle.len()).any(|w| w == needle));
    assert!(
        explicit,
        "some script spells the FIX.4.0 Logon reply with 9=59"
    );
}
