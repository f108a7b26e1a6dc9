//! Writing result files and the template: `.xlsx` (src/batch/xlsx.rs) and `.csv`
//! (UTF-8 with a BOM, so that Excel opens it with the right encoding).

use serde::{Deserialize, Serialize};

use super::columns::COLUMNS;
use super::Format;

/// An order's error, as the proxy reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultError {
    /// Stable code.
    pub code: String,
    /// Message.
    pub message: String,
}

/// Links to an issued invoice's files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultFiles {
    /// PDF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdf: Option<String>,
    /// OFD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ofd: Option<String>,
    /// XML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xml: Option<String>,
}

/// One order of a submitted batch, in the shape of the proxy's
/// `GET /v1/batches/{id}` `orders[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultRow {
    /// The order number.
    pub order_id: String,
    /// `pending`, `submitted`, `issued`, `failed` or `cancelled`.
    pub status: String,
    /// The 20-digit invoice number, once issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    /// When it was issued (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ResultError>,
    /// Links to its files (absolute URLs are best in a file read elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<ResultFiles>,
}

/// The Chinese name of a status.
fn status_zh(status: &str) -> &str {
    match status {
        "pending" => "待提交",
        "submitted" => "开具中",
        "issued" => "已开具",
        "failed" => "失败",
        "cancelled" => "已撤销",
        other => other,
    }
}

const RESULT_HEADERS: [&str; 10] = [
    "订单号",
    "状态",
    "状态代码",
    "发票号码",
    "开票时间",
    "错误代码",
    "错误信息",
    "PDF",
    "OFD",
    "XML",
];

fn result_cells(r: &ResultRow) -> [String; 10] {
    let files = r.files.clone().unwrap_or_default();
    let error = r.error.clone().unwrap_or_default();
    [
        r.order_id.clone(),
        status_zh(&r.status).to_owned(),
        r.status.clone(),
        r.invoice_number.clone().unwrap_or_default(),
        r.issued_at.clone().unwrap_or_default(),
        error.code,
        error.message,
        files.pdf.unwrap_or_default(),
        files.ofd.unwrap_or_default(),
        files.xml.unwrap_or_default(),
    ]
}

/// Writes the result table of a batch (订单号, 状态, 发票号码, 开票时间, 错误, links
/// to PDF/OFD/XML), one row per order. In `.xlsx` the invoice number is text (all
/// 20 digits kept) and the links are clickable; a cell longer than Excel's 32,767
/// characters is cut.
///
/// ```
/// use fapiao::batch::{write_results, Format, ResultRow};
/// let rows = vec![ResultRow {
///     order_id: "A001".into(),
///     status: "issued".into(),
///     invoice_number: Some("26442000000123456789".into()),
///     ..Default::default()
/// }];
/// let csv = String::from_utf8(write_results(&rows, Format::Csv)).unwrap();
/// assert!(csv.starts_with('\u{feff}'));
/// assert!(csv.contains("A001,已开具,issued,26442000000123456789"));
/// assert!(write_results(&rows, Format::Xlsx).starts_with(b"PK"));
/// ```
pub fn write_results(rows: &[ResultRow], format: Format) -> Vec<u8> {
    let table: Vec<Vec<String>> = rows.iter().map(|r| result_cells(r).to_vec()).collect();
    match format {
        Format::Csv => csv(&RESULT_HEADERS, &table),
        Format::Xlsx => super::xlsx::write("开票结果", &RESULT_HEADERS, &table, &[0, 3], &[7, 8, 9]),
    }
}

/// The template's example: two lines of one order to a company (数电专票) and one
/// line to a person.
fn example() -> Vec<Vec<String>> {
    let rows: [&[(&str, &str)]; 3] = [
        &[
            ("orderId", "A20261201-001"),
            ("invoiceType", "数电专票"),
            ("buyerType", "企业"),
            ("buyerName", "北京某某科技有限公司"),
            ("buyerTaxId", "91110000600037341L"),
            ("buyerAddress", "北京市海淀区中关村大街1号"),
            ("buyerPhone", "010-62345678"),
            ("buyerBankName", "中国工商银行北京中关村支行"),
            ("buyerBankAccount", "0200000000000000000"),
            ("email", "caiwu@example.com"),
            ("itemName", "笔记本电脑"),
            ("taxCode", "1090511030000000000"),
            ("spec", "X1"),
            ("unit", "台"),
            ("quantity", "2"),
            ("unitPrice", "5650"),
            ("amount", "11300.00"),
            ("taxRate", "13%"),
            ("priceIncludesTax", "是"),
            ("remark", "合同号 HT-2026-001"),
        ],
        &[
            ("orderId", "A20261201-001"),
            ("itemName", "技术服务费"),
            ("taxCode", "3040201990000000000"),
            ("amount", "1060.00"),
            ("taxRate", "6%"),
        ],
        &[
            ("orderId", "A20261201-002"),
            ("invoiceType", "数电普票"),
            ("buyerType", "个人"),
            ("buyerName", "张三"),
            ("mobile", "13800138000"),
            ("itemName", "午餐"),
            ("taxCode", "3070401000000000000"),
            ("amount", "88.00"),
            ("taxRate", "6%"),
            ("priceIncludesTax", "是"),
        ],
    ];
    rows.iter()
        .map(|cells| {
            COLUMNS
                .iter()
                .map(|c| {
                    cells
                        .iter()
                        .find(|(k, _)| *k == c.key)
                        .map(|(_, v)| (*v).to_owned())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

/// The batch template ([`COLUMNS`], in order) with an example: two lines of one
/// order and a one-line order to a person. In `.xlsx` every column is formatted
/// as text, so that Excel keeps the 19-digit tax codes and long IDs as typed.
///
/// ```
/// use fapiao::batch::{check, read_sheet, template, CheckOptions, Format};
/// for (format, name) in [(Format::Csv, "t.csv"), (Format::Xlsx, "t.xlsx")] {
///     let sheet = read_sheet(&template(format), name).unwrap();
///     let report = check(&sheet, &CheckOptions::default());
///     assert!(report.valid, "{:?}", report.findings);
///     assert_eq!(report.invoices.len(), 2);
/// }
/// ```
pub fn template(format: Format) -> Vec<u8> {
    let headers: Vec<&str> = COLUMNS.iter().map(|c| c.header).collect();
    let rows = example();
    match format {
        Format::Csv => csv(&headers, &rows),
        Format::Xlsx => {
            let all: Vec<usize> = (0..headers.len()).collect();
            super::xlsx::write("批量开票", &headers, &rows, &all, &[])
        }
    }
}

/// Writes a sheet back (e.g. after fixes in the page): its header and rows, every
/// cell as text. Blank rows and the rows above the header are not kept.
///
/// ```
/// use fapiao::batch::{read_sheet, write_sheet, Format};
/// let sheet = read_sheet("订单号,金额\nA1,10\n".as_bytes(), "a.csv").unwrap();
/// let again = read_sheet(&write_sheet(&sheet, Format::Xlsx), "a.xlsx").unwrap();
/// assert_eq!(again.rows, sheet.rows);
/// ```
pub fn write_sheet(sheet: &super::Sheet, format: Format) -> Vec<u8> {
    let headers: Vec<&str> = sheet.headers.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = sheet.rows.iter().map(|r| r.cells.clone()).collect();
    match format {
        Format::Csv => csv(&headers, &rows),
        Format::Xlsx => {
            let all: Vec<usize> = (0..headers.len()).collect();
            super::xlsx::write("Sheet1", &headers, &rows, &all, &[])
        }
    }
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv<S: AsRef<str>>(headers: &[&str], rows: &[Vec<S>]) -> Vec<u8> {
    let mut out = String::from('\u{feff}');
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, h);
    }
    out.push_str("\r\n");
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, c.as_ref());
        }
        out.push_str("\r\n");
    }
    out.into_bytes()
}
