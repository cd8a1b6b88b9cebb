//! `fix-fuzz-run TARGET CORPUS_DIR [--mutations N] [--seed S] [--artifacts DIR]`: the
//! libFuzzer-free fallback. Runs a fuzz target (`fix_sim::fuzz`) on every file of the corpus and
//! on N mutations of them (bit flips, byte edits, splices), deterministic by seed. On a panic it
//! writes the input to `DIR/crash-<hash>` (default `fuzz/artifacts/TARGET`) and exits 1.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::ExitCode;

use fix_sim::Rng;
use fix_sim::fuzz::run_target;

const MAX_INPUT: usize = 64 << 10;

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>], input: &mut Vec<u8>) {
    let rounds = rng.range(1, 8);
    for _ in 0..rounds {
        let len = input.len() as u64;
        let at = usize::try_from(rng.below(len + 1)).unwrap_or(0);
        match rng.below(7) {
            0 if at < input.len() => input[at] ^= 1 << rng.below(8),
            1 if at < input.len() => input[at] = u8::try_from(rng.below(256)).unwrap_or(0),
            2 => input.insert(
                at,
                *b"\x01=0123456789|8A"[usize::try_from(rng.below(16)).unwrap_or(0)..]
                    .first()
                    .unwrap_or(&1),
            ),
            3 if at < input.len() => {
                let n = usize::try_from(rng.range(1, 16))
                    .unwrap_or(1)
                    .min(input.len() - at);
                input.drain(at..at + n);
            }
            4 if !corpus.is_empty() => {
                let other = &corpus[usize::try_from(rng.below(corpus.len() as u64)).unwrap_or(0)];
                let from = usize::try_from(rng.below(other.len() as u64 + 1)).unwrap_or(0);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            5 if at < input.len() => {
                let n = usize::try_from(rng.range(1, 32))
                    .unwrap_or(1)
                    .min(input.len() - at);
                let copy = input[at..at + n].to_vec();
                input.splice(at..at, copy);
            }
            _ => {
                // A digit run: numbers are where FIX parsers break.
                let digits = format!("{}", rng.next_u64() >> rng.below(64));
                input.splice(at..at, digits.into_bytes());
            }
        }
        input.truncate(MAX_INPUT);
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut target, mut dir, mut mutations, mut seed, mut artifacts) =
        (None, None, 10_000u64, 0u64, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mutations" => mutations = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--artifacts" => artifacts = args.next().map(PathBuf::from),
            _ if target.is_none() => target = Some(a),
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let (Some(target), Some(dir)) = (target, dir) else {
        eprintln!(
            "usage: fix-fuzz-run TARGET CORPUS_DIR [--mutations N] [--seed S] [--artifacts DIR]"
        );
        return ExitCode::from(2);
    };
    if !run_target(&target, b"") {
        eprintln!(
            "unknown target {target}; known: {:?}",
            fix_sim::fuzz::TARGETS
        );
        return ExitCode::from(2);
    }
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            let mut v: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
            v.sort();
            v.into_iter()
                .filter_map(|p| std::fs::read(p).ok())
                .collect()
        })
        .unwrap_or_default();
    corpus.retain(|c| c.len() <= MAX_INPUT);
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng::new(seed);
    let total = corpus.len() as u64 + mutations;
    for i in 0..total {
        let input = match usize::try_from(i).ok().and_then(|i| corpus.get(i)) {
            Some(c) => c.clone(),
            None => {
                let mut m = if corpus.is_empty() {
                    Vec::new()
                } else {
                    corpus[usize::try_from(rng.below(corpus.len() as u64)).unwrap_or(0)].clone()
                };
                mutate(&mut rng, &corpus, &mut m);
                m
            }
        };
        if catch_unwind(AssertUnwindSafe(|| run_target(&target, &input))).is_err() {
            let _ = std::panic::take_hook();
            let out = artifacts.unwrap_or_else(|| PathBuf::from("fuzz/artifacts").join(&target));
            let _ = std::fs::create_dir_all(&out);
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for &b in &input {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            let path = out.join(format!("crash-{h:016x}"));
            let _ = std::fs::write(&path, &input);
            // Run it again with the default hook to show the panic message.
            let _ = catch_unwind(AssertUnwindSafe(|| run_target(&target, &input)));
            println!(
                "{target}: crash after {i} inputs, written to {}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    println!(
        "{target}: {total} inputs ({} corpus, {mutations} mutations, seed {seed}), no crash",
        corpus.len()
    );
    ExitCode::SUCCESS
}
