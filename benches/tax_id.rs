//! `validate_tax_id` per call, natively: `cargo bench --bench tax_id`.
//! The same inputs are measured through WebAssembly in Node by bench/tax-id.mjs.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("validate_tax_id");
    for (name, input) in [
        ("valid_uscc", "91110000600037341L"),
        ("valid_resident", "110102199101010078"),
        ("checksum_error", "91110000600037341N"),
        ("typo_with_suggestion", "9111OOOO600037341L"),
    ] {
        g.bench_function(name, |b| b.iter(|| fapiao::validate_tax_id(black_box(input))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
