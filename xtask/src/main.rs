//! Regenerates the data tables that the `fapiao` crate embeds.
//!
//! ```text
//! cargo xtask gen-regions [--shared ../shared] [--check]
//! cargo xtask gen-tax-codes [--shared ../shared] [--check]
//! ```
//!
//! The inputs live in `../shared/data` (see its SOURCES.md); the outputs are
//! committed under `data/` so that a fresh clone builds without `../shared`.
//! `--check` compares instead of writing and fails when the committed file differs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xtask::{regions, taxcodes};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let mut shared = root.join("../shared");
    let mut check = false;
    let mut task = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--shared" => match it.next() {
                Some(p) => shared = PathBuf::from(p),
                None => return usage("--shared needs a folder"),
            },
            "--check" => check = true,
            "-h" | "--help" => return usage(""),
            t if task.is_none() => task = Some(t.to_owned()),
            other => return usage(&format!("unexpected argument `{other}`")),
        }
    }
    let result = match task.as_deref() {
        Some("gen-regions") => {
            let input = shared.join(regions::INPUT);
            regions::generate_file(&input).and_then(|text| emit(&root.join(regions::OUTPUT), &text, check))
        }
        Some("gen-tax-codes") => {
            let input = shared.join(taxcodes::INPUT);
            taxcodes::generate_file(&input).and_then(|out| {
                out.files()
                    .into_iter()
                    .try_for_each(|(path, text)| emit(&root.join(path), text, check))
            })
        }
        _ => return usage("name a task"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn emit(out: &Path, text: &str, check: bool) -> Result<(), String> {
    if check {
        let old = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
        if old != text {
            return Err(format!(
                "{} is out of date; run the generator without --check",
                out.display()
            ));
        }
        println!("{} is up to date", out.display());
        return Ok(());
    }
    std::fs::write(out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("wrote {} ({} bytes)", out.display(), text.len());
    Ok(())
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("xtask: {problem}");
    }
    eprintln!("usage: cargo xtask gen-regions|gen-tax-codes [--shared DIR] [--check]");
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
