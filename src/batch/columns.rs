//! The columns of a batch sheet: their stable keys, the template's headers and the
//! header texts accepted for each (ERP exports name them in many ways).

/// One column of the batch template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Stable key, as in [`Finding::column`](super::Finding::column).
    pub key: &'static str,
    /// The template's header.
    pub header: &'static str,
    /// English name, for documentation and English messages.
    pub header_en: &'static str,
    /// Taken once per invoice (the first non-empty cell of the order's rows);
    /// the other rows may leave it empty, and may not contradict it.
    pub order_level: bool,
    /// Whether the template requires the column.
    pub required: bool,
    /// Other header texts read as this column (compared without spaces, `*`,
    /// brackets' width and case).
    pub synonyms: &'static [&'static str],
}

macro_rules! col {
    ($key:literal, $header:literal, $en:literal, $order:expr, $req:expr, [$($syn:literal),* $(,)?]) => {
        ColumnSpec { key: $key, header: $header, header_en: $en, order_level: $order, required: $req, synonyms: &[$($syn),*] }
    };
}

/// The template's columns, in template order.
pub const COLUMNS: &[ColumnSpec] = &[
    col!(
        "orderId",
        "订单号",
        "Order number",
        true,
        true,
        [
            "订单编号",
            "单据号",
            "单据编号",
            "业务单号",
            "流水号",
            "发票流水号",
            "订单",
            "order",
            "orderno",
            "order id"
        ]
    ),
    col!(
        "invoiceType",
        "发票类型",
        "Invoice type",
        true,
        false,
        ["票种", "发票种类", "开票类型", "invoice type"]
    ),
    col!(
        "buyerType",
        "购买方类型",
        "Buyer type",
        true,
        false,
        ["购方类型", "抬头类型", "客户类型", "购买方性质", "buyer type"]
    ),
    col!(
        "buyerName",
        "购买方名称",
        "Buyer name",
        true,
        true,
        [
            "购方名称",
            "客户名称",
            "发票抬头",
            "抬头",
            "购买方",
            "名称",
            "buyer",
            "buyer name"
        ]
    ),
    col!(
        "buyerTaxId",
        "购买方税号",
        "Buyer tax ID",
        true,
        false,
        [
            "购方税号",
            "纳税人识别号",
            "购买方纳税人识别号",
            "购方纳税人识别号",
            "统一社会信用代码",
            "税号",
            "客户税号",
            "tax id",
            "buyer tax id"
        ]
    ),
    col!(
        "buyerAddress",
        "购买方地址",
        "Buyer address",
        true,
        false,
        ["购方地址", "地址", "客户地址", "address"]
    ),
    col!(
        "buyerPhone",
        "购买方电话",
        "Buyer phone",
        true,
        false,
        ["购方电话", "电话", "联系电话", "客户电话", "phone"]
    ),
    col!(
        "buyerBankName",
        "购买方开户行",
        "Buyer bank",
        true,
        false,
        ["购方开户行", "开户行", "开户银行", "购买方开户银行", "bank"]
    ),
    col!(
        "buyerBankAccount",
        "购买方银行账号",
        "Buyer bank account",
        true,
        false,
        [
            "购方银行账号",
            "银行账号",
            "账号",
            "开户账号",
            "购买方账号",
            "bank account"
        ]
    ),
    col!(
        "email",
        "收票邮箱",
        "E-mail",
        true,
        false,
        ["邮箱", "电子邮箱", "购买方邮箱", "交付邮箱", "email", "e-mail"]
    ),
    col!(
        "mobile",
        "收票手机号",
        "Mobile",
        true,
        false,
        ["手机号", "手机", "手机号码", "购买方手机", "交付手机", "mobile"]
    ),
    col!(
        "itemName",
        "项目名称",
        "Item name",
        false,
        true,
        [
            "商品名称",
            "货物名称",
            "品名",
            "货物或应税劳务、服务名称",
            "货物或应税劳务名称",
            "商品和服务名称",
            "item",
            "item name"
        ]
    ),
    col!(
        "taxCode",
        "税收分类编码",
        "Tax code",
        false,
        true,
        [
            "税收编码",
            "商品编码",
            "税收分类",
            "商品和服务税收分类编码",
            "税收分类代码",
            "tax code"
        ]
    ),
    col!("spec", "规格型号", "Spec", false, false, ["规格", "型号", "spec"]),
    col!("unit", "单位", "Unit", false, false, ["计量单位", "unit"]),
    col!("quantity", "数量", "Quantity", false, false, ["quantity", "qty"]),
    col!("unitPrice", "单价", "Unit price", false, false, ["unit price", "price"]),
    col!("amount", "金额", "Amount", false, true, ["行金额", "amount"]),
    col!(
        "taxRate",
        "税率",
        "Tax rate",
        false,
        true,
        ["征收率", "税率/征收率", "tax rate"]
    ),
    col!(
        "priceIncludesTax",
        "含税标志",
        "Prices include tax",
        true,
        false,
        ["是否含税", "含税", "单价含税", "金额含税", "price includes tax"]
    ),
    col!(
        "lineKind",
        "行性质",
        "Line kind",
        false,
        false,
        ["发票行性质", "行类型", "line kind"]
    ),
    col!(
        "preferentialPolicy",
        "优惠政策标识",
        "Preferential policy",
        false,
        false,
        ["优惠政策", "优惠政策类型"]
    ),
    col!(
        "zeroRateFlag",
        "零税率标识",
        "Zero-rate flag",
        false,
        false,
        ["零税率标志", "免税类型"]
    ),
    col!("remark", "备注", "Remark", true, false, ["发票备注", "remark"]),
    col!(
        "confirmed",
        "确认项",
        "Confirmed codes",
        true,
        false,
        ["已确认", "confirmed"]
    ),
];

/// The column of a key.
pub fn by_key(key: &str) -> Option<&'static ColumnSpec> {
    COLUMNS.iter().find(|c| c.key == key)
}

/// A header as compared: no spaces or `*`, half-width brackets and their content
/// dropped (`金额(含税)` reads as 金额), ASCII lower case.
pub(crate) fn normalize_header(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut depth = 0u32;
    for c in h.chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '*' | '＊' | ' ' | '\u{3000}' | '\t' | '\r' | '\n' | '\u{feff}' | ':' | '：' | '_' => {}
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// The column a header names, if any.
pub fn find(header: &str) -> Option<&'static ColumnSpec> {
    let h = normalize_header(header);
    if h.is_empty() {
        return None;
    }
    COLUMNS.iter().find(|c| {
        normalize_header(c.header) == h
            || c.key.eq_ignore_ascii_case(&h)
            || c.synonyms.iter().any(|s| normalize_header(s) == h)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_synonyms() {
        assert_eq!(find("订单号").unwrap().key, "orderId");
        assert_eq!(find(" *购方名称 ").unwrap().key, "buyerName");
        assert_eq!(find("金额(含税)").unwrap().key, "amount");
        assert_eq!(find("纳税人识别号").unwrap().key, "buyerTaxId");
        assert_eq!(find("taxCode").unwrap().key, "taxCode");
        assert_eq!(find("Tax Code").unwrap().key, "taxCode");
        assert!(find("颜色").is_none());
        assert!(find("").is_none());
        // Every header and synonym names one column only.
        for c in COLUMNS {
            for h in std::iter::once(&c.header).chain(c.synonyms.iter()) {
                assert_eq!(find(h).map(|f| f.key), Some(c.key), "{h}");
            }
        }
    }
}
