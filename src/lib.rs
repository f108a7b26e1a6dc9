//! # fapiao
//!
//! The rules of China's fully digitalized e-invoices (数电发票), written once in Rust
//! and run in both places that need them: the browser (compiled to WebAssembly and
//! published to npm) and the server (as this native crate).
//!
//! - [`taxid`]: taxpayer IDs — 统一社会信用代码, the legacy 15/17/20-character forms
//!   and resident ID numbers — with checks, details and typo suggestions.
//! - [`buyer`]: the buyer part of an invoice request (购买方信息) for 数电专票 and 数电普票.
//! - [`region`]: GB/T 2260 division codes, current and retired.
//! - [`amount`]: invoice arithmetic in exact decimals — 价税分离, discount lines,
//!   差额征税, red invoices, 大写 totals and splitting.
//! - [`request`]: the canonical issuing and red-letter requests the proxy accepts.
//! - [`qr`]: scanned codes — the 抬头 QR (便捷开票二维码) and receipt order tokens —
//!   and an SVG QR encoder.
//! - `batch` (cargo feature `batch`): 批量开票 — spreadsheets read, checked cell by
//!   cell with the rules above and written back.
//! - [`taxcode`]: 商品和服务税收分类编码 — lookup, search as the cashier types
//!   (Chinese, pinyin, code prefix), `*简称*名称` item names.
//!
//! Every problem is an [`Issue`]: a stable code, the field, a Chinese and an English
//! message. Nothing here panics on bad input.
//!
//! ```
//! let r = fapiao::validate_tax_id("91110000600037341L");
//! assert!(r.valid);
//! assert_eq!(r.details.region_name, Some(Some("北京市".to_owned())));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod amount;
#[cfg(feature = "batch")]
pub mod batch;
pub mod buyer;
pub mod clock;
mod from_json;
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub use from_json::fuzz_hooks;
pub mod issue;
mod json;
pub mod limits;
mod packed;
pub mod qr;
pub mod region;
pub mod request;
mod sort;
pub mod taxcode;
pub mod taxid;
pub mod text;

/// The JavaScript bindings (only in the WebAssembly build). Public so that the
/// wasm tests can call them as JavaScript would; JavaScript users see them as the
/// npm package's exports.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use amount::{amount_in_words, compute_invoice, InvoiceInput, InvoiceResult, LineInput};
pub use buyer::{validate_buyer, BuyerInput, BuyerOptions, BuyerResult, InvoiceType};
pub use issue::{Issue, Rule, Severity};
pub use request::{build_issue_request, build_red_request, IssueForm, IssueRequest, RedForm, RedRequest};
pub use taxcode::{
    format_item_name, load as load_tax_codes, lookup as lookup_tax_code, search as search_tax_codes, TaxCode,
    TaxCodeHit, TaxCodeProblem,
};
pub use taxid::{validate_tax_id, TaxIdKind, TaxIdResult};

/// The Rust examples in README.md, run as doctests so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
