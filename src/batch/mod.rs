//! 批量开票: invoices from a spreadsheet, every cell checked before anything is sent.
//!
//! Finance staff export orders from an ERP or keep a sheet; [`read_sheet`] reads it
//! (`.xlsx`, or `.csv` in UTF-8, GBK or UTF-16), [`check`] runs every rule of this
//! crate over it — the same [`build_issue_request`](crate::request::build_issue_request)
//! the proxy runs again on what it receives — and gives a [`Finding`] per wrong cell
//! (with one-tap [`Fix`]es where the right value is certain) and one [`BatchInvoice`]
//! per invoice, whose `form` is the [`IssueForm`] to send.
//!
//! The layout is [`COLUMNS`]: one row per invoice line, rows with the same 订单号
//! form one invoice (the buyer and other invoice-level columns are read from the
//! order's first row that fills them; later rows may leave them empty). Headers are
//! matched by name, with common synonyms (`购方名称`, `纳税人识别号`, `商品名称` …),
//! in any order; a title row above the header is skipped. [`template`] writes the
//! template with an example.
//!
//! An order over the per-invoice limit ([`CheckOptions::max_amount`], and at most
//! [`MAX_LINES`](crate::amount::MAX_LINES) lines) is split by
//! [`split_invoice`](crate::amount::split_invoice) into invoices `<订单号>-1`,
//! `<订单号>-2`, … that add up to the order to the cent.
//!
//! ```
//! use fapiao::batch::{check, read_sheet, CheckOptions};
//!
//! let csv = "订单号,购买方名称,购买方税号,项目名称,税收分类编码,数量,单价,金额,税率\n\
//!            A001,北京某某科技有限公司,91110000600037341L,笔记本电脑,1090511030000000000,2,5000,10000,13%\n\
//!            A001,,,鼠标,1090511030000000000,1,99,99,13%\n\
//!            A002,上海某某有限公司,911100OO600037341L,咨询费,3040201990000000000,,,1000,6%\n";
//! let sheet = read_sheet(csv.as_bytes(), "orders.csv").unwrap();
//! let report = check(&sheet, &CheckOptions::default());
//! assert_eq!(report.invoices.len(), 2);
//! assert_eq!(report.invoices[0].rows, vec![2, 3]);
//! // The second tax ID has letters O for zeros: one finding on that cell, with a fix.
//! let f = &report.findings[0];
//! assert_eq!((f.row, f.column.as_str(), f.code), (4, "buyerTaxId", "TAXID_CHARSET"));
//! assert_eq!(f.fixes[0].value, "91110000600037341L");
//! assert_eq!(report.totals.valid_invoices, 1);
//! assert_eq!(report.totals.amount_incl_tax, "10099.00");
//! ```

mod check;
pub mod columns;
mod read;
mod write;
mod xlsx;

use serde::{Deserialize, Serialize};

use crate::issue::{Rule, Severity};
use crate::request::IssueForm;

pub use check::check;
pub use columns::{ColumnSpec, COLUMNS};
pub use write::{template, write_results, write_sheet, ResultError, ResultFiles, ResultRow};

/// The most data rows a sheet may have.
pub const MAX_ROWS: usize = 100_000;
/// The most columns a sheet may have.
pub const MAX_COLUMNS: usize = 200;

/// A file format for [`write_results`] and [`template`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Office Open XML workbook.
    Xlsx,
    /// Comma-separated values, UTF-8 with a BOM (Excel opens it with the right encoding).
    Csv,
}

impl Format {
    /// `"xlsx"` or `"csv"` (any case).
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "xlsx" | ".xlsx" => Some(Format::Xlsx),
            "csv" | ".csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// A sheet as read: the header and the non-empty rows below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sheet {
    /// The header texts, as in the file (trimmed).
    pub headers: Vec<String>,
    /// The header's 1-based row in the file.
    pub header_row: u32,
    /// The data rows (blank rows left out), each as long as `headers`.
    pub rows: Vec<SheetRow>,
    /// How it was read: `xlsx`, `utf-8`, `gbk`, `utf-16le` or `utf-16be`.
    pub source: String,
    /// The worksheet read (the first) of an `.xlsx`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet_name: Option<String>,
}

/// One data row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SheetRow {
    /// 1-based row in the file (the record number of a CSV).
    pub row: u32,
    /// The cells, one per header.
    pub cells: Vec<String>,
}

/// How to check a sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckOptions {
    /// Whether prices include VAT where the 含税标志 column is missing or empty
    /// (含税 when not given).
    pub price_includes_tax: Option<bool>,
    /// 单张开票限额: the largest amount per invoice; larger orders are split.
    pub max_amount: Option<String>,
    /// Whether `max_amount` limits 价税合计 rather than 金额 (不含税).
    pub max_amount_includes_tax: bool,
    /// The most lines per invoice (and at most 2,000).
    pub max_lines: Option<usize>,
    /// Overridable codes confirmed for every invoice of the sheet (a row's 确认项
    /// column confirms codes for its invoice only).
    pub confirmed: Vec<String>,
}

/// A one-tap fix: the value to put in a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fix {
    /// What the fix does, in Chinese (e.g. `改为 91110000600037341L`).
    pub label: String,
    /// The same in English.
    pub label_en: String,
    /// The column to change: the finding's own, or another of its row.
    pub column: String,
    /// The new value.
    pub value: String,
}

/// A problem with one cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// 1-based row in the file (the header row for a problem with the header).
    pub row: u32,
    /// The column's stable key ([`COLUMNS`]), also when the sheet lacks the column.
    pub column: String,
    /// The column's header in the sheet, or the template's when the sheet lacks it.
    pub header: String,
    /// The order the row belongs to (empty for header problems).
    pub order_id: String,
    /// Stable upper-snake code: the core rule's (`TAXID_CHECKSUM`, `TAXCODE_SUMMARY`,
    /// `LINE_AMOUNT_TOLERANCE` …) or a sheet one (`BATCH_…`).
    pub code: &'static str,
    /// Chinese message.
    pub message: String,
    /// English message.
    pub message_en: String,
    /// Error (blocks the invoice) or warning.
    pub severity: Severity,
    /// Whether the code may be confirmed (put in the row's 确认项 column).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overridable: bool,
    /// One-tap fixes, when the right value is certain.
    pub fixes: Vec<Fix>,
}

/// Amounts of an invoice, two decimals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceTotals {
    /// 合计金额.
    pub amount_excl_tax: String,
    /// 合计税额.
    pub tax_amount: String,
    /// 价税合计.
    pub amount_incl_tax: String,
}

/// One invoice of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInvoice {
    /// The invoice's order number: the sheet's, or `<订单号>-<n>` for a part of a split order.
    pub order_id: String,
    /// The 订单号 in the sheet.
    pub source_order_id: String,
    /// 1-based part of a split order, and how many parts (1 and 1 when not split).
    pub part: usize,
    /// Parts of the order.
    pub parts: usize,
    /// The sheet rows of its lines.
    pub rows: Vec<u32>,
    /// The form to send (`buildIssueRequest(form)`, `POST /v1/batches`).
    pub form: IssueForm,
    /// True when the form builds a valid request.
    pub valid: bool,
    /// Error findings of its rows.
    pub errors: usize,
    /// Its amounts (when valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<InvoiceTotals>,
}

/// Counts and sums over the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTotals {
    /// Data rows.
    pub rows: usize,
    /// Orders (distinct 订单号).
    pub orders: usize,
    /// Invoices (split orders count each part).
    pub invoices: usize,
    /// Invoices without errors.
    pub valid_invoices: usize,
    /// Findings that block.
    pub errors: usize,
    /// Findings that do not.
    pub warnings: usize,
    /// Rows with at least one error.
    pub rows_with_errors: usize,
    /// 合计金额 of the valid invoices.
    pub amount_excl_tax: String,
    /// 合计税额 of the valid invoices.
    pub tax_amount: String,
    /// 价税合计 of the valid invoices.
    pub amount_incl_tax: String,
}

/// Where a column of the template is in the sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnUse {
    /// The stable key.
    pub key: &'static str,
    /// The sheet's header.
    pub header: String,
    /// 0-based index into `Sheet::headers` and each row's cells.
    pub index: usize,
}

/// The outcome of [`check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// True when nothing blocks: every invoice may be submitted.
    pub valid: bool,
    /// The template columns found in the sheet.
    pub columns: Vec<ColumnUse>,
    /// Headers that name no column (their cells are ignored).
    pub ignored_headers: Vec<String>,
    /// Every problem, by row then column.
    pub findings: Vec<Finding>,
    /// The invoices, in the order of their first row.
    pub invoices: Vec<BatchInvoice>,
    /// Counts and sums.
    pub totals: BatchTotals,
}

/// A sheet that cannot be read. `Display` gives the English message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// No bytes, or no rows.
    #[error("The file is empty.")]
    Empty,
    /// Neither `.xlsx` nor `.csv`.
    #[error("“{name}” is not a .xlsx or .csv file.")]
    FileType {
        /// The file name.
        name: String,
    },
    /// The old binary `.xls` format.
    #[error("The old .xls format cannot be read; save the sheet as .xlsx or CSV.")]
    XlsUnsupported,
    /// A broken `.xlsx`.
    #[error("The .xlsx file cannot be read: {detail}.")]
    Xlsx {
        /// What is wrong.
        detail: String,
    },
    /// Text that is neither UTF-8, UTF-16 nor GBK.
    #[error("The CSV file is neither UTF-8 nor GBK text.")]
    Encoding,
    /// A quoted CSV field that never ends.
    #[error("A quoted field starting in row {row} is not closed.")]
    CsvQuote {
        /// The row where the file ends inside quotes.
        row: u32,
    },
    /// More rows than [`MAX_ROWS`].
    #[error("The sheet has more than {max} rows; split it into several files.")]
    TooManyRows {
        /// The limit.
        max: usize,
    },
    /// More columns than [`MAX_COLUMNS`].
    #[error("The sheet has more than {max} columns.")]
    TooManyColumns {
        /// The limit.
        max: usize,
    },
}

impl BatchError {
    #[cfg(test)]
    pub(crate) fn code_str(&self) -> &'static str {
        self.code()
    }
}

impl Rule for BatchError {
    fn code(&self) -> &'static str {
        match self {
            BatchError::Empty => "BATCH_EMPTY",
            BatchError::FileType { .. } => "BATCH_FILE_TYPE",
            BatchError::XlsUnsupported => "BATCH_XLS_UNSUPPORTED",
            BatchError::Xlsx { .. } => "BATCH_XLSX_UNREADABLE",
            BatchError::Encoding => "BATCH_ENCODING",
            BatchError::CsvQuote { .. } => "BATCH_CSV_QUOTE",
            BatchError::TooManyRows { .. } => "BATCH_TOO_MANY_ROWS",
            BatchError::TooManyColumns { .. } => "BATCH_TOO_MANY_COLUMNS",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            BatchError::Empty => "文件是空的。".into(),
            BatchError::FileType { name } => format!("“{name}”不是 .xlsx 或 .csv 文件。"),
            BatchError::XlsUnsupported => "不支持旧版 .xls 格式，请另存为 .xlsx 或 CSV。".into(),
            BatchError::Xlsx { detail } => format!("无法读取 .xlsx 文件：{detail}。"),
            BatchError::Encoding => "CSV 文件既不是 UTF-8 也不是 GBK 编码。".into(),
            BatchError::CsvQuote { row } => format!("第{row}行开始的引号字段没有结束。"),
            BatchError::TooManyRows { max } => format!("表格超过{max}行，请拆分为多个文件。"),
            BatchError::TooManyColumns { max } => format!("表格超过{max}列。"),
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }
}

/// Reads a sheet: `.xlsx` (its first worksheet) or `.csv` — UTF-8 with or without
/// BOM, UTF-16 with BOM (Excel's 「Unicode 文本」, tab-separated), else GBK (Excel's
/// 「CSV（逗号分隔）」 on a Chinese system). The format is told by the content (an
/// `.xlsx` is a zip archive), the name only breaks ties. Separators `,` `\t` `;`
/// are recognised. Blank rows are left out; a title row above the header is skipped.
///
/// ```
/// use fapiao::batch::read_sheet;
/// // 订单号,金额 / A1,10 in GBK, as Chinese Excel saves a CSV.
/// let gbk = b"\xb6\xa9\xb5\xa5\xba\xc5,\xbd\xf0\xb6\xee\r\nA1,10\r\n";
/// let sheet = read_sheet(gbk, "orders.csv").unwrap();
/// assert_eq!(sheet.headers, ["订单号", "金额"]);
/// assert_eq!(sheet.source, "gbk");
/// assert_eq!(sheet.rows[0].row, 2);
/// assert_eq!(read_sheet(b"", "x.csv").unwrap_err().to_string(), "The file is empty.");
/// ```
pub fn read_sheet(bytes: &[u8], file_name: &str) -> Result<Sheet, BatchError> {
    read::read(bytes, file_name)
}

// calamine and rust_xlsxwriter, the independent implementations the tests hold
// src/batch/xlsx.rs to, are native dev-dependencies.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
