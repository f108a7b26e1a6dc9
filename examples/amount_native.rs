//! `compute_invoice` natively on an input given as JSON, for bench/amount.mjs,
//! which runs the same input through WebAssembly and prints the ratio:
//!   cargo run --release --example amount_native -- input.json [runs]
//! Prints the median and the fastest run in milliseconds, as JSON.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: amount_native INPUT.json [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(30);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let input = match fapiao::fuzz_hooks::invoice_input(&text) {
        Some(Ok(input)) => input,
        other => panic!("{path}: not an invoice input: {other:?}"),
    };
    let first = fapiao::compute_invoice(&input);
    assert!(first.valid, "the input must compute: {:?}", first.errors.first());
    let mut times: Vec<f64> = (0..runs + 3)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(fapiao::compute_invoice(std::hint::black_box(&input)));
            start.elapsed().as_secs_f64() * 1e3
        })
        .skip(3)
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"medianMs\":{:.4},\"minMs\":{:.4},\"lines\":{}}}",
        times[times.len() / 2],
        times[0],
        input.lines.len()
    );
}
