//! 批量开票 natively: `cargo bench --bench batch`. A 10,000-row sheet (2,000
//! invoices of 5 lines) read from .xlsx and from CSV, then checked cell by cell.

use criterion::{criterion_group, criterion_main, Criterion};
use fapiao::batch::{check, read_sheet, write_sheet, CheckOptions, Format, Sheet, SheetRow};
use std::hint::black_box;

fn sheet() -> Sheet {
    let headers = [
        "订单号",
        "发票类型",
        "购买方类型",
        "购买方名称",
        "购买方税号",
        "收票邮箱",
        "项目名称",
        "税收分类编码",
        "单位",
        "数量",
        "单价",
        "金额",
        "税率",
        "含税标志",
    ];
    let mut rows = Vec::new();
    for o in 0..2000 {
        for l in 0..5 {
            let first = l == 0;
            let q = 1 + (o + l) % 7;
            let cents = 1050 + ((o * 7 + l * 3) % 90) * 100;
            let amount = q * cents;
            let food = l % 2 == 0;
            let opt = |v: String| if first { v } else { String::new() };
            rows.push(SheetRow {
                row: rows.len() as u32 + 2,
                cells: vec![
                    format!("BENCH-{o}"),
                    opt("数电普票".into()),
                    opt("企业".into()),
                    opt(format!("北京某某科技有限公司第{o}分公司")),
                    opt("91110000600037341L".into()),
                    opt("caiwu@example.com".into()),
                    if food { "工作午餐" } else { "服务器" }.into(),
                    if food {
                        "3070401000000000000"
                    } else {
                        "1090511030000000000"
                    }
                    .into(),
                    if food { "份" } else { "台" }.into(),
                    q.to_string(),
                    format!("{}.{:02}", cents / 100, cents % 100),
                    format!("{}.{:02}", amount / 100, amount % 100),
                    if food { "6%" } else { "13%" }.into(),
                    "是".into(),
                ],
            });
        }
    }
    Sheet {
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        header_row: 1,
        rows,
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let s = sheet();
    let xlsx = write_sheet(&s, Format::Xlsx);
    let csv = write_sheet(&s, Format::Csv);
    let read = read_sheet(&xlsx, "a.xlsx").unwrap();
    let report = check(&read, &CheckOptions::default());
    assert!(report.valid, "{:?}", &report.findings[..report.findings.len().min(3)]);
    assert_eq!(report.invoices.len(), 2000);
    let mut g = c.benchmark_group("batch 10,000 rows");
    g.sample_size(10);
    g.bench_function("read_sheet .xlsx", |b| {
        b.iter(|| read_sheet(black_box(&xlsx), "a.xlsx").unwrap())
    });
    g.bench_function("read_sheet .csv", |b| {
        b.iter(|| read_sheet(black_box(&csv), "a.csv").unwrap())
    });
    g.bench_function("check", |b| {
        b.iter(|| check(black_box(&read), &CheckOptions::default()))
    });
    g.bench_function("write_sheet .xlsx", |b| {
        b.iter(|| write_sheet(black_box(&read), Format::Xlsx))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
