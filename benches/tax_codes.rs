//! Tax classification code search per query, natively: `cargo bench --bench tax_codes`.
//!
//! The queries are what a cashier types, keystroke by keystroke: Chinese, pinyin
//! initials, full pinyin, a code prefix, and one-letter queries (the widest).
//! `index_build` is the one-off cost of the first search on a fresh table (the
//! embedded table's parsing is not included). The same queries can be run through
//! WebAssembly with `searchTaxCodes` against a plain `Array.filter` + `includes`.

use criterion::{criterion_group, criterion_main, Criterion};
use fapiao::taxcode::{SearchOptions, TaxCodeTable};
use std::hint::black_box;

/// `(label, query)`: ASCII labels for criterion's report.
pub const QUERIES: &[(&str, &str)] = &[
    ("han_1_char", "餐"),
    ("han_2_chars", "餐饮"),
    ("han_exact_short_name", "餐饮服务"),
    ("han_common", "服务"),
    ("initials_cyfw", "cyfw"),
    ("initials_1_letter", "c"),
    ("pinyin_canyin", "canyin"),
    ("pinyin_fuwu", "fuwu"),
    ("code_prefix_7", "1070101"),
    ("code_prefix_1", "1"),
    ("no_match", "没有这种商品"),
];

fn search(c: &mut Criterion) {
    let table = TaxCodeTable::embedded();
    table.prepare();
    let options = SearchOptions::default();
    let mut g = c.benchmark_group("search_tax_codes");
    for &(label, query) in QUERIES {
        g.bench_function(label, |b| b.iter(|| table.search(black_box(query), &options)));
    }
    g.finish();
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("tax_code_index");
    g.sample_size(20);
    g.bench_function("index_build", |b| {
        b.iter_with_setup(TaxCodeTable::embedded, |t| {
            t.prepare();
            t
        })
    });
    g.bench_function("embedded_parse", |b| b.iter(TaxCodeTable::embedded));
    g.finish();
}

criterion_group!(benches, search, build);
criterion_main!(benches);
