//! The amount engine on a full invoice, natively: `cargo bench --bench amount`.
//!
//! 2000 lines (the most an invoice may have): 1000 normal lines with quantity and
//! unit price, each followed by a discount line, tax-inclusive, mixed rates.

use criterion::{criterion_group, criterion_main, Criterion};
use fapiao::amount::{
    amount_in_words, compute_invoice, split_invoice, InvoiceInput, LineInput, SplitLimits, WordsOptions,
};
use std::hint::black_box;

fn invoice(lines: usize, price_includes_tax: bool) -> InvoiceInput {
    let rates = ["0.13", "0.09", "0.06", "0.03", "0.01"];
    let mut out = Vec::with_capacity(lines);
    for i in 0..lines / 2 {
        let name = format!("*办公用品*商品{i}");
        let rate = rates[i % rates.len()];
        out.push(LineInput {
            name: Some(name.clone()),
            quantity: Some(format!("{}", 1 + i % 17).into()),
            unit_price: Some(format!("{}.{:02}", 3 + i % 997, i % 100).into()),
            tax_rate: Some(rate.into()),
            ..Default::default()
        });
        out.push(LineInput {
            name: Some(name),
            amount: Some(format!("-0.{:02}", 1 + i % 99).into()),
            tax_rate: Some(rate.into()),
            kind: Some("discount".into()),
            ..Default::default()
        });
    }
    InvoiceInput {
        price_includes_tax,
        lines: out,
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("amount");
    let incl = invoice(2000, true);
    let excl = invoice(2000, false);
    assert!(compute_invoice(&incl).valid && compute_invoice(&excl).valid);
    g.bench_function("compute_invoice_2000_lines_incl", |b| {
        b.iter(|| compute_invoice(black_box(&incl)))
    });
    g.bench_function("compute_invoice_2000_lines_excl", |b| {
        b.iter(|| compute_invoice(black_box(&excl)))
    });
    let limits = SplitLimits {
        max_amount: Some("100000".into()),
        max_lines: Some(300),
        ..Default::default()
    };
    g.bench_function("split_invoice_2000_lines", |b| {
        b.iter(|| split_invoice(black_box(&incl), &limits))
    });
    g.bench_function("amount_in_words", |b| {
        b.iter(|| amount_in_words(black_box("107000.53"), WordsOptions::default()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
