//! [`check`]: every cell of a sheet through the crate's rules.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use super::columns::{self, COLUMNS};
use super::{BatchInvoice, BatchTotals, CheckOptions, ColumnUse, Finding, Fix, InvoiceTotals, Report, Sheet, SheetRow};
use crate::amount::money::format_money;
use crate::amount::rounding::round_half_up;
use crate::amount::{split_invoice, InvoiceInput, LineInput, SplitLimits, MAX_LINES};
use crate::buyer::InvoiceType;
use crate::issue::{Issue, Rule, Severity};
use crate::request::{build_issue_request, Delivery, IssueForm, IssueRequest, ORDER_ID_MAX};

/// A problem of the sheet itself (its layout, or cells read before the core rules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum SheetProblem {
    #[error("The sheet has no column “{header}” ({en}).")]
    ColumnMissing { header: &'static str, en: &'static str },
    #[error("The column “{header}” appears twice; the second is ignored.")]
    ColumnDuplicate { header: String },
    #[error("The sheet has no rows below its header.")]
    NoRows,
    #[error("This row has no order number; rows with the same order number form one invoice.")]
    OrderIdMissing,
    #[error("The rows of one order must agree on “{header}”: row {row} has “{value}”.")]
    OrderConflict { header: String, row: u32, value: String },
    #[error("“{found}” is not a yes/no value (是/否, Y/N, 1/0, 含税/不含税).")]
    FlagInvalid { found: String },
    #[error("The order is split into {parts} invoices numbered {id}-1 … {id}-{parts}, which is longer than {max} characters; shorten the order number.")]
    SplitOrderId { id: String, parts: usize, max: usize },
}

impl Rule for SheetProblem {
    fn code(&self) -> &'static str {
        match self {
            SheetProblem::ColumnMissing { .. } => "BATCH_COLUMN_MISSING",
            SheetProblem::ColumnDuplicate { .. } => "BATCH_COLUMN_DUPLICATE",
            SheetProblem::NoRows => "BATCH_NO_ROWS",
            SheetProblem::OrderIdMissing => "BATCH_ORDER_ID_MISSING",
            SheetProblem::OrderConflict { .. } => "BATCH_ORDER_CONFLICT",
            SheetProblem::FlagInvalid { .. } => "BATCH_FLAG_INVALID",
            SheetProblem::SplitOrderId { .. } => "BATCH_SPLIT_ORDER_ID",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            SheetProblem::ColumnMissing { header, .. } => format!("表格缺少“{header}”列。"),
            SheetProblem::ColumnDuplicate { header } => format!("“{header}”列出现了两次，第二列已忽略。"),
            SheetProblem::NoRows => "表头下面没有数据行。".into(),
            SheetProblem::OrderIdMissing => "此行没有订单号；订单号相同的行合开一张发票。".into(),
            SheetProblem::OrderConflict { header, row, value } => {
                format!("同一订单各行的“{header}”应一致：第{row}行为“{value}”。")
            }
            SheetProblem::FlagInvalid { found } => {
                format!("“{found}”不是“是/否”（可填 是/否、Y/N、1/0、含税/不含税）。")
            }
            SheetProblem::SplitOrderId { id, parts, max } => {
                format!("该订单将拆分为{parts}张发票，编号 {id}-1 … {id}-{parts} 超过{max}个字符，请缩短订单号。")
            }
        }
    }

    fn severity(&self) -> Severity {
        match self {
            SheetProblem::ColumnDuplicate { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// Where each template column is in the sheet, by the column's place in [`COLUMNS`].
struct Layout {
    index: [Option<usize>; COLUMNS.len()],
}

/// The place of a key in [`COLUMNS`] (a `match`: no hashing in the per-cell path).
fn place(key: &str) -> Option<usize> {
    Some(match key {
        "orderId" => 0,
        "invoiceType" => 1,
        "buyerType" => 2,
        "buyerName" => 3,
        "buyerTaxId" => 4,
        "buyerAddress" => 5,
        "buyerPhone" => 6,
        "buyerBankName" => 7,
        "buyerBankAccount" => 8,
        "email" => 9,
        "mobile" => 10,
        "itemName" => 11,
        "taxCode" => 12,
        "spec" => 13,
        "unit" => 14,
        "quantity" => 15,
        "unitPrice" => 16,
        "amount" => 17,
        "taxRate" => 18,
        "priceIncludesTax" => 19,
        "lineKind" => 20,
        "preferentialPolicy" => 21,
        "zeroRateFlag" => 22,
        "remark" => 23,
        "confirmed" => 24,
        _ => return None,
    })
}

impl Layout {
    fn at(&self, key: &str) -> Option<usize> {
        self.index[place(key)?]
    }

    /// The trimmed cell of a column in a row ("" when the sheet lacks the column).
    fn cell<'r>(&self, row: &'r SheetRow, key: &str) -> &'r str {
        self.at(key)
            .and_then(|i| row.cells.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    }
}

struct Out<'a> {
    sheet: &'a Sheet,
    layout: &'a Layout,
    findings: Vec<Finding>,
    seen: HashSet<(u32, &'static str, &'static str)>,
}

impl Out<'_> {
    fn header(&self, key: &str) -> String {
        match self.layout.at(key) {
            Some(i) => self.sheet.headers[i].clone(),
            None => columns::by_key(key).map(|c| c.header).unwrap_or(key).to_owned(),
        }
    }

    fn push(&mut self, row: u32, key: &'static str, order_id: &str, issue: Issue, severity: Severity, fixes: Vec<Fix>) {
        if !self.seen.insert((row, key, issue.code)) {
            return;
        }
        self.findings.push(Finding {
            row,
            column: key.to_owned(),
            header: self.header(key),
            order_id: order_id.to_owned(),
            code: issue.code,
            message: issue.message,
            message_en: issue.message_en,
            severity,
            overridable: issue.overridable,
            fixes,
        });
    }

    fn problem(&mut self, row: u32, key: &'static str, order_id: &str, p: &SheetProblem, fixes: Vec<Fix>) {
        self.push(row, key, order_id, Issue::new(key, p), p.severity(), fixes);
    }
}

fn fix(label: String, label_en: String, column: &str, value: String) -> Fix {
    Fix {
        label,
        label_en,
        column: column.to_owned(),
        value,
    }
}

fn set_to(column: &str, value: &str) -> Fix {
    fix(
        format!("改为 {value}"),
        format!("Change to {value}"),
        column,
        value.to_owned(),
    )
}

/// The column of an issue's field path.
fn column_of(field: &str) -> (&'static str, Option<usize>) {
    if let Some(rest) = field.strip_prefix("lines[") {
        let (i, name) = rest.split_once(']').unwrap_or((rest, ""));
        let line = i.parse::<usize>().ok();
        let key = match name.trim_start_matches('.') {
            "taxCode" => "taxCode",
            "spec" => "spec",
            "unit" => "unit",
            "quantity" => "quantity",
            "unitPrice" => "unitPrice",
            "amount" | "taxAmount" | "deduction" => "amount",
            "taxRate" => "taxRate",
            "kind" => "lineKind",
            "preferentialPolicy" => "preferentialPolicy",
            "zeroRateFlag" => "zeroRateFlag",
            _ => "itemName",
        };
        return (key, line);
    }
    let key = match field {
        "buyer.type" => "buyerType",
        "buyer.name" => "buyerName",
        "buyer.taxId" => "buyerTaxId",
        "buyer.address" => "buyerAddress",
        "buyer.phone" => "buyerPhone",
        "buyer.bankName" => "buyerBankName",
        "buyer.bankAccount" => "buyerBankAccount",
        "buyer.email" | "delivery.email" => "email",
        "buyer.mobile" | "delivery.mobile" => "mobile",
        "invoiceType" => "invoiceType",
        "remark" => "remark",
        "confirmed" => "confirmed",
        _ => "orderId",
    };
    (key, None)
}

fn invoice_type(s: &str) -> Option<String> {
    Some(
        match s {
            "" => return None,
            "专票"
            | "数电专票"
            | "专用发票"
            | "增值税专用发票"
            | "电子专票"
            | "电子发票（增值税专用发票）"
            | "special"
            | "SPECIAL" => "special",
            "普票"
            | "数电普票"
            | "普通发票"
            | "增值税普通发票"
            | "电子普票"
            | "电子发票（普通发票）"
            | "normal"
            | "NORMAL" => "normal",
            other => other,
        }
        .to_owned(),
    )
}

fn buyer_type(s: &str) -> Option<String> {
    Some(
        match s {
            "" => return None,
            "企业" | "单位" | "公司" | "非自然人" | "组织" | "company" | "Company" | "COMPANY" => "company",
            "个人" | "自然人" | "person" | "Person" | "PERSON" => "person",
            other => other,
        }
        .to_owned(),
    )
}

fn flag(s: &str) -> Option<Result<bool, ()>> {
    Some(match s.to_ascii_lowercase().as_str() {
        "" => return None,
        "是" | "y" | "yes" | "true" | "1" | "含税" | "√" => Ok(true),
        "否" | "n" | "no" | "false" | "0" | "不含税" => Ok(false),
        _ => Err(()),
    })
}

/// A number cell without thousands separators, currency signs or spaces.
fn number(s: &str) -> Option<String> {
    let t: String = s
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | '¥' | '￥' | ' ' | '\u{3000}'))
        .collect();
    (!t.is_empty()).then_some(t)
}

fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn decimal(s: &str) -> Option<Decimal> {
    number(s)?.parse().ok()
}

/// One order: its rows, and where each invoice-level value came from.
struct Order {
    id: String,
    rows: Vec<usize>,
}

/// Checks every cell of a sheet; see the [module documentation](super).
pub fn check(sheet: &Sheet, options: &CheckOptions) -> Report {
    // The header.
    let mut index = HashMap::new();
    let mut used = Vec::new();
    let mut ignored = Vec::new();
    let mut duplicates = Vec::new();
    for (i, h) in sheet.headers.iter().enumerate() {
        match columns::find(h) {
            Some(c) if index.contains_key(c.key) => duplicates.push(h.clone()),
            Some(c) => {
                index.insert(c.key, i);
                used.push(ColumnUse {
                    key: c.key,
                    header: h.clone(),
                    index: i,
                });
            }
            None if h.is_empty() => {}
            None => ignored.push(h.clone()),
        }
    }
    let mut places = [None; COLUMNS.len()];
    for (key, i) in &index {
        if let Some(p) = place(key) {
            places[p] = Some(*i);
        }
    }
    let layout = Layout { index: places };
    let mut out = Out {
        sheet,
        layout: &layout,
        findings: Vec::new(),
        seen: HashSet::new(),
    };
    let hr = sheet.header_row;
    for c in COLUMNS.iter().filter(|c| c.required) {
        let has_parts = layout.at("quantity").is_some() && layout.at("unitPrice").is_some();
        if layout.at(c.key).is_none() && !(c.key == "amount" && has_parts) {
            let p = SheetProblem::ColumnMissing {
                header: c.header,
                en: c.header_en,
            };
            out.problem(hr, c.key, "", &p, Vec::new());
        }
    }
    for h in duplicates {
        let key = columns::find(&h).map(|c| c.key).unwrap_or("orderId");
        out.problem(hr, key, "", &SheetProblem::ColumnDuplicate { header: h }, Vec::new());
    }
    if sheet.rows.is_empty() {
        out.problem(hr, "orderId", "", &SheetProblem::NoRows, Vec::new());
    }

    // Orders, in the order of their first row.
    let mut orders: Vec<Order> = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let has_order_column = layout.at("orderId").is_some();
    for (i, row) in sheet.rows.iter().enumerate() {
        let id = layout.cell(row, "orderId");
        if id.is_empty() {
            if has_order_column {
                out.problem(row.row, "orderId", "", &SheetProblem::OrderIdMissing, Vec::new());
            }
            continue;
        }
        match by_id.get(id) {
            Some(&o) => orders[o].rows.push(i),
            None => {
                by_id.insert(id, orders.len());
                orders.push(Order {
                    id: id.to_owned(),
                    rows: vec![i],
                });
            }
        }
    }

    let mut invoices = Vec::with_capacity(orders.len());
    for order in &orders {
        check_order(sheet, &layout, options, order, &mut out, &mut invoices);
    }

    // Error counts per order; an invoice with an error finding is not valid.
    let mut errors_of: HashMap<&str, usize> = HashMap::new();
    for f in out.findings.iter().filter(|f| f.severity == Severity::Error) {
        *errors_of.entry(f.order_id.as_str()).or_default() += 1;
    }
    for inv in invoices.iter_mut() {
        inv.errors = errors_of.get(inv.source_order_id.as_str()).copied().unwrap_or(0);
        if inv.errors > 0 {
            inv.valid = false;
            inv.totals = None;
        }
    }

    let mut findings = out.findings;
    let order_of = |key: &str| layout.at(key).unwrap_or(usize::MAX);
    findings.sort_by_key(|f| (f.row, order_of(&f.column)));
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let rows_with_errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.row != hr)
        .map(|f| f.row)
        .collect::<HashSet<_>>()
        .len();
    let (mut excl, mut tax, mut incl) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for t in invoices.iter().filter_map(|i| i.totals.as_ref()) {
        excl += t.amount_excl_tax.parse::<Decimal>().unwrap_or_default();
        tax += t.tax_amount.parse::<Decimal>().unwrap_or_default();
        incl += t.amount_incl_tax.parse::<Decimal>().unwrap_or_default();
    }
    let totals = BatchTotals {
        rows: sheet.rows.len(),
        orders: orders.len(),
        invoices: invoices.len(),
        valid_invoices: invoices.iter().filter(|i| i.valid).count(),
        errors,
        warnings: findings.len() - errors,
        rows_with_errors,
        amount_excl_tax: format_money(excl),
        tax_amount: format_money(tax),
        amount_incl_tax: format_money(incl),
    };
    Report {
        valid: errors == 0 && !invoices.is_empty(),
        columns: used,
        ignored_headers: ignored,
        findings,
        invoices,
        totals,
    }
}

fn check_order(
    sheet: &Sheet,
    layout: &Layout,
    options: &CheckOptions,
    order: &Order,
    out: &mut Out<'_>,
    invoices: &mut Vec<BatchInvoice>,
) {
    let rows: Vec<&SheetRow> = order.rows.iter().map(|&i| &sheet.rows[i]).collect();
    let first = rows[0].row;
    let id = order.id.as_str();

    // Invoice-level values: the first non-empty cell; later rows may not differ.
    let mut source: HashMap<&'static str, u32> = HashMap::new();
    let mut value: HashMap<&'static str, &str> = HashMap::new();
    for c in COLUMNS.iter().filter(|c| c.order_level && c.key != "orderId") {
        if layout.at(c.key).is_none() {
            continue;
        }
        for r in &rows {
            let v = layout.cell(r, c.key);
            if v.is_empty() {
                continue;
            }
            match value.get(c.key) {
                None => {
                    value.insert(c.key, v);
                    source.insert(c.key, r.row);
                }
                Some(&v0) if v0 != v => {
                    let header = out.header(c.key);
                    let p = SheetProblem::OrderConflict {
                        header: header.clone(),
                        row: source[c.key],
                        value: v0.to_owned(),
                    };
                    out.problem(r.row, c.key, id, &p, vec![set_to(c.key, v0)]);
                }
                Some(_) => {}
            }
        }
    }
    let get = |key: &str| value.get(key).copied().unwrap_or("");
    let row_of = |key: &str| source.get(key).copied().unwrap_or(first);

    let price_includes_tax = match flag(get("priceIncludesTax")) {
        None => options.price_includes_tax.unwrap_or(true),
        Some(Ok(b)) => b,
        Some(Err(())) => {
            let found = get("priceIncludesTax").to_owned();
            out.problem(
                row_of("priceIncludesTax"),
                "priceIncludesTax",
                id,
                &SheetProblem::FlagInvalid { found },
                Vec::new(),
            );
            options.price_includes_tax.unwrap_or(true)
        }
    };
    let mut confirmed = options.confirmed.clone();
    for code in get("confirmed").split(|c: char| matches!(c, ',' | '，' | ';' | '；' | '、') || c.is_whitespace()) {
        if !code.is_empty() && !confirmed.iter().any(|c| c == code) {
            confirmed.push(code.to_owned());
        }
    }

    let lines: Vec<LineInput> = rows
        .iter()
        .map(|r| {
            let cell = |k: &str| layout.cell(r, k);
            let mut zero_rate_flag = text(cell("zeroRateFlag"));
            let rate = match cell("taxRate") {
                "免税" => {
                    zero_rate_flag.get_or_insert_with(|| "1".into());
                    Some("0".to_owned())
                }
                "不征税" => {
                    zero_rate_flag.get_or_insert_with(|| "2".into());
                    Some("0".to_owned())
                }
                s => number(s),
            };
            let kind = match cell("lineKind") {
                "" | "正常" | "正常行" | "被折扣行" => None,
                "折扣" | "折扣行" => Some("discount".to_owned()),
                other => Some(other.to_owned()),
            };
            LineInput {
                name: text(cell("itemName")),
                tax_code: text(cell("taxCode")),
                spec: text(cell("spec")),
                unit: text(cell("unit")),
                quantity: number(cell("quantity")).map(Into::into),
                unit_price: number(cell("unitPrice")).map(Into::into),
                amount: number(cell("amount")).map(Into::into),
                tax_rate: rate.map(Into::into),
                kind,
                preferential_policy: text(cell("preferentialPolicy")),
                zero_rate_flag,
                ..Default::default()
            }
        })
        .collect();
    let form = IssueForm {
        order_id: Some(id.to_owned()),
        invoice_type: invoice_type(get("invoiceType")),
        buyer: crate::BuyerInput {
            kind: buyer_type(get("buyerType")),
            name: text(get("buyerName")),
            tax_id: text(get("buyerTaxId")),
            address: text(get("buyerAddress")),
            phone: text(get("buyerPhone")),
            bank_name: text(get("buyerBankName")),
            bank_account: text(get("buyerBankAccount")),
            ..Default::default()
        },
        confirmed,
        price_includes_tax,
        lines,
        remark: text(get("remark")),
        delivery: Delivery {
            email: text(get("email")),
            mobile: text(get("mobile")),
        },
        ..Default::default()
    };
    let row_numbers: Vec<u32> = rows.iter().map(|r| r.row).collect();

    // Split when the order has more lines than an invoice holds, or a limit is set.
    let max_lines = options.max_lines.unwrap_or(MAX_LINES).clamp(1, MAX_LINES);
    let may_split = form.lines.len() > max_lines || options.max_amount.is_some();
    let built = build_issue_request(&form);
    let blocking: Vec<&Issue> = built
        .errors
        .iter()
        .filter(|e| !(may_split && e.code == "INVOICE_TOO_MANY_LINES"))
        .collect();
    let report = |out: &mut Out<'_>, issues: &[Issue], severity: Severity, line_map: &dyn Fn(usize) -> usize| {
        for issue in issues {
            let (key, line) = column_of(&issue.field);
            let (row, r) = match line {
                Some(l) => {
                    let l = line_map(l).min(rows.len() - 1);
                    (rows[l].row, rows[l])
                }
                None => {
                    let row = row_of(key);
                    (row, *rows.iter().find(|r| r.row == row).unwrap_or(&rows[0]))
                }
            };
            let fixes = fixes_for(issue, key, r, layout);
            out.push(row, key, id, issue.clone(), severity, fixes);
        }
    };
    let identity = |l: usize| l;
    report(out, &built.warnings, Severity::Warning, &identity);
    if !blocking.is_empty() || !may_split {
        let errors: Vec<Issue> = blocking.into_iter().cloned().collect();
        report(out, &errors, Severity::Error, &identity);
        invoices.push(whole(id, row_numbers, built.valid, totals_of(&built.request), form));
        return;
    }

    let limits = SplitLimits {
        max_amount: options.max_amount.clone().map(Into::into),
        amount_includes_tax: options.max_amount_includes_tax,
        max_lines: Some(max_lines),
    };
    let input = InvoiceInput {
        price_includes_tax,
        invoice_type: if form.invoice_type.as_deref() == Some("special") {
            InvoiceType::Special
        } else {
            InvoiceType::Normal
        },
        lines: form.lines.clone(),
        ..Default::default()
    };
    let split = split_invoice(&input, &limits);
    if !split.valid {
        report(out, &split.errors, Severity::Error, &identity);
        invoices.push(whole(id, row_numbers, false, None, form));
        return;
    }
    let parts = split.parts.len();
    if parts <= 1 {
        invoices.push(whole(id, row_numbers, built.valid, totals_of(&built.request), form));
        return;
    }
    let suffix_len = 1 + parts.to_string().len();
    let id_fits = id.len() + suffix_len <= ORDER_ID_MAX;
    if !id_fits {
        let p = SheetProblem::SplitOrderId {
            id: id.to_owned(),
            parts,
            max: ORDER_ID_MAX,
        };
        out.problem(first, "orderId", id, &p, Vec::new());
    }
    for (j, part) in split.parts.iter().enumerate() {
        let part_form = IssueForm {
            order_id: Some(format!("{id}-{}", j + 1)),
            lines: part.input.lines.clone(),
            ..form.clone()
        };
        let b = build_issue_request(&part_form);
        let map = |l: usize| part.source_lines.get(l).copied().unwrap_or(0);
        let errors: Vec<Issue> = b
            .errors
            .iter()
            .filter(|e| id_fits || e.field != "orderId")
            .cloned()
            .collect();
        report(out, &errors, Severity::Error, &map);
        let mut part_rows: Vec<u32> = part
            .source_lines
            .iter()
            .map(|&l| rows[l.min(rows.len() - 1)].row)
            .collect();
        part_rows.dedup();
        invoices.push(BatchInvoice {
            order_id: format!("{id}-{}", j + 1),
            source_order_id: id.to_owned(),
            part: j + 1,
            parts,
            rows: part_rows,
            valid: b.valid,
            errors: 0,
            totals: totals_of(&b.request),
            form: part_form,
        });
    }
}

/// An order that stays one invoice.
fn whole(id: &str, rows: Vec<u32>, valid: bool, totals: Option<InvoiceTotals>, form: IssueForm) -> BatchInvoice {
    BatchInvoice {
        order_id: id.to_owned(),
        source_order_id: id.to_owned(),
        part: 1,
        parts: 1,
        rows,
        valid,
        errors: 0,
        totals,
        form,
    }
}

/// The totals of a built request.
fn totals_of(request: &Option<IssueRequest>) -> Option<InvoiceTotals> {
    request.as_ref().map(|r| InvoiceTotals {
        amount_excl_tax: r.totals.amount_excl_tax.clone(),
        tax_amount: r.totals.tax_amount.clone(),
        amount_incl_tax: r.totals.amount_incl_tax.clone(),
    })
}

/// One-tap fixes where the right value is certain.
fn fixes_for(issue: &Issue, key: &str, row: &SheetRow, layout: &Layout) -> Vec<Fix> {
    let cell = |k: &str| layout.cell(row, k);
    let mut fixes = Vec::new();
    match issue.code {
        c if c.starts_with("TAXID_") && key == "buyerTaxId" => {
            let r = crate::validate_tax_id(cell("buyerTaxId"));
            if let [only] = r.suggestions.as_slice() {
                fixes.push(set_to("buyerTaxId", only));
            }
        }
        "BUYER_EMAIL_DOMAIN_TYPO" => {
            let email = cell("email");
            let lowered = match email.rsplit_once('@') {
                Some((l, d)) => format!("{l}@{}", d.to_ascii_lowercase()),
                None => email.to_owned(),
            };
            if let Some(s) = crate::buyer::email_typo_fix(&lowered) {
                fixes.push(set_to("email", &s));
            }
        }
        "LINE_AMOUNT_TOLERANCE" if key == "amount" => {
            if let (Some(q), Some(p)) = (decimal(cell("quantity")), decimal(cell("unitPrice"))) {
                if let Some(product) = q.checked_mul(p) {
                    let v = format_money(round_half_up(product, 2));
                    fixes.push(fix(
                        format!("金额改为 数量×单价 = {v}"),
                        format!("Set the amount to quantity × unit price = {v}"),
                        "amount",
                        v,
                    ));
                }
            }
        }
        "ITEM_NAME_SHORT_NAME" => {
            let r = crate::taxcode::check_item_name(cell("taxCode"), cell("itemName"));
            if !r.item_name.is_empty() {
                fixes.push(set_to("itemName", &r.item_name));
            }
        }
        "TAX_RATE_UNSUPPORTED" | "TAX_RATE_FORMAT" => {
            if let Some(n) = decimal(cell("taxRate")) {
                if n > Decimal::ONE && crate::amount::rate::is_supported(n / Decimal::ONE_HUNDRED) {
                    let v = format!("{}%", n.normalize());
                    fixes.push(fix(format!("改为 {v}"), format!("Change to {v}"), "taxRate", v));
                }
            }
        }
        "BUYER_PERSON_SPECIAL" => fixes.push(fix(
            "改开数电普票".into(),
            "Issue a normal invoice (数电普票) instead".into(),
            "invoiceType",
            "数电普票".into(),
        )),
        _ => {}
    }
    fixes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_follow_the_columns() {
        for (i, c) in COLUMNS.iter().enumerate() {
            assert_eq!(place(c.key), Some(i), "{}", c.key);
        }
        assert_eq!(place("nope"), None);
    }
}
