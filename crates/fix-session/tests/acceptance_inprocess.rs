//! The QuickFIX acceptance scripts (fix40, fix41, fix42, fix44), played in-process against the
//! session with a manual clock: the fast pre-check of the TCP acceptance run.

use std::path::PathBuf;

use fix_acceptance::{RunConfig, Script, run_script_with};
use fix_testkit::ManualClock;
use fix_testkit::inproc::{InProcessAcceptor, acceptance_sessions};

/// Every script (229 of 229). The test fails if fewer pass.
const MIN_PASSING: usize = 229;

#[test]
fn quickfix_acceptance_scripts_pass_in_process() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scripts_dir = root.join("../shared/acceptance/quickfix");
    assert!(scripts_dir.is_dir(), "{} is missing", scripts_dir.display());
    let specs = acceptance_sessions(&root.join("spec")).expect("dictionaries load");
    let config = RunConfig::default();
    let mut passed = 0;
    let mut failed = Vec::new();
    for dir in ["fix40", "fix41", "fix42", "fix44"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(scripts_dir.join(dir))
            .expect("script directory")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "def"))
            .collect();
        files.sort();
        for f in files {
            let name = format!("{dir}/{}", f.file_name().unwrap().to_string_lossy());
            let bytes = std::fs::read(&f).expect("script");
            let script = match Script::parse(&name, &bytes) {
                Ok(s) => s,
                Err(e) => {
                    failed.push(format!("{name}: parse error {e}"));
                    continue;
                }
            };
            let mut t = InProcessAcceptor::new(&specs, ManualClock::default().now().utc);
            match run_script_with(&script, &mut t, &config) {
                Ok(()) => passed += 1,
                Err(e) => failed.push(format!("{name}: {e}")),
            }
        }
    }
    for f in &failed {
        println!("FAIL {f}");
    }
    println!("{passed} passed, {} failed", failed.len());
    assert!(
        passed >= MIN_PASSING,
        "{passed} passed, fewer than {MIN_PASSING}"
    );
}
