//! The buyer part of an invoice request (购买方信息), as a checkout form collects it.
//!
//! [`validate_buyer`] normalises every field, applies the rules for the buyer type
//! (company or person) and the invoice type (数电专票 or 数电普票), and reports each
//! problem as an [`Issue`](crate::Issue) under `buyer.<field>`.
//!
//! ```
//! use fapiao::buyer::{validate_buyer, BuyerInput, BuyerOptions, InvoiceType};
//!
//! let input = BuyerInput {
//!     kind: Some("company".into()),
//!     name: Some(" 北京某某科技有限公司(北京分公司) ".into()),
//!     tax_id: Some("91110000600037341l".into()),
//!     email: Some("caiwu@qq。com".into()),
//!     ..Default::default()
//! };
//! let r = validate_buyer(&input, &BuyerOptions { invoice_type: InvoiceType::Special, ..Default::default() });
//! assert!(r.valid, "{:?}", r.errors);
//! assert_eq!(r.normalized.name, "北京某某科技有限公司（北京分公司）");
//! assert_eq!(r.normalized.tax_id, "91110000600037341L");
//! assert_eq!(r.normalized.email, "caiwu@qq.com");
//! ```

use serde::{Deserialize, Serialize};

use crate::issue::{Issues, Rule, Severity};
use crate::taxid::{self, TaxIdKind};
use crate::text::{char_len, clean_text, compact_id, half_width, has_control, is_dash, is_invisible};
use crate::{limits, Issue};

/// 数电专票 or 数电普票.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceType {
    /// 电子发票（增值税专用发票）, 数电专票.
    Special,
    /// 电子发票（普通发票）, 数电普票.
    #[default]
    Normal,
}

/// Whether the buyer is an organisation (company, 个体工商户, institution) or a natural person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuyerKind {
    /// An organisation: a tax ID is required.
    #[default]
    Company,
    /// A natural person: the ID number is optional, no 专票.
    Person,
}

/// The buyer as entered; every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuyerInput {
    /// `"company"` (the default when missing) or `"person"`.
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// 名称: company name or the person's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 纳税人识别号 (or a person's ID number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    /// 地址.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// 电话, landline or mobile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// 开户行.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_name: Option<String>,
    /// 账号.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<String>,
    /// Delivery e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Delivery mobile number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

/// How to validate a buyer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuyerOptions {
    /// The invoice type; 数电普票 when missing.
    pub invoice_type: InvoiceType,
    /// Codes of overridable errors the user has confirmed (e.g. `TAXID_CHECKSUM`).
    pub confirmed: Vec<String>,
}

/// The buyer after normalisation; empty strings for fields not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    /// `"company"` or `"person"`.
    #[serde(rename = "type")]
    pub kind: BuyerKind,
    /// Name, trimmed; half-width brackets in a Chinese name become full-width.
    pub name: String,
    /// Tax ID, compact and upper case.
    pub tax_id: String,
    /// The form of the tax ID, when one was given and recognised.
    pub tax_id_kind: Option<TaxIdKind>,
    /// Address.
    pub address: String,
    /// Phone: spaces removed, `(010)` written `010-`.
    pub phone: String,
    /// Bank name.
    pub bank_name: String,
    /// Bank account, digits only.
    pub bank_account: String,
    /// E-mail, with the domain in lower case.
    pub email: String,
    /// Mobile, eleven digits.
    pub mobile: String,
}

/// The outcome of [`validate_buyer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuyerResult {
    /// True when there are no errors (after confirmed overridable ones are dropped).
    pub valid: bool,
    /// The cleaned buyer.
    pub normalized: Buyer,
    /// Problems that block issuing.
    pub errors: Vec<Issue>,
    /// Problems that do not.
    pub warnings: Vec<Issue>,
}

/// A problem with the buyer. `Display` gives the English message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuyerProblem {
    /// `type` is neither company nor person.
    #[error("The buyer type must be “company” or “person”, not “{found}”.")]
    KindInvalid {
        /// What was given.
        found: String,
    },
    /// A 数电专票 for a natural person.
    #[error("A special VAT invoice (数电专票) cannot be issued to a natural person; choose a normal invoice or a company title.")]
    PersonSpecial,
    /// No name.
    #[error("Enter the buyer's name.")]
    NameRequired,
    /// A field is longer than the providers accept.
    #[error("{what} may have at most {max} characters; this one has {len}.")]
    TooLong {
        /// Which field, in English.
        what: &'static str,
        /// Which field, in Chinese.
        what_zh: &'static str,
        /// The limit.
        max: usize,
        /// The length found.
        len: usize,
    },
    /// Control characters in a text field.
    #[error("{what} contains invisible control characters.")]
    ControlCharacters {
        /// Which field, in English.
        what: &'static str,
        /// Which field, in Chinese.
        what_zh: &'static str,
    },
    /// A company name of four characters or fewer (warning).
    #[error("A company name of {len} characters looks like a person's name; check it, or choose “person”.")]
    NameShort {
        /// Its length.
        len: usize,
    },
    /// A person's name that looks like an organisation's (warning).
    #[error("“{name}” looks like an organisation's name; should the buyer type be “company”?")]
    NameLooksCompany {
        /// The name.
        name: String,
    },
    /// No tax ID where one is required.
    #[error("Enter the buyer's taxpayer ID: {reason}")]
    TaxIdRequired {
        /// Why, in English.
        reason: &'static str,
        /// Why, in Chinese.
        reason_zh: &'static str,
    },
    /// A company whose tax ID is a resident ID number (warning).
    #[error("This is a resident ID number, not an organisation's taxpayer ID; should the buyer type be “person”?")]
    ResidentIdForCompany,
    /// A phone number with characters a phone number does not have.
    #[error("“{found}” is not a phone number.")]
    PhoneFormat {
        /// The input.
        found: String,
    },
    /// A phone number of no known shape (warning).
    #[error("“{found}” is neither a mobile number nor a landline with area code; check it.")]
    PhoneUnrecognized {
        /// The input.
        found: String,
    },
    /// A bank account with characters other than digits.
    #[error("A bank account number has digits only.")]
    BankAccountFormat,
    /// A bank account of unusual length (warning).
    #[error("A bank account number of {len} digits is unusual; check it.")]
    BankAccountLength {
        /// Number of digits.
        len: usize,
    },
    /// Bank name without account or the other way round (warning).
    #[error("Enter both the bank name and the account number, or neither.")]
    BankIncomplete,
    /// Not an e-mail address.
    #[error("“{found}” is not an e-mail address.")]
    EmailFormat {
        /// The input.
        found: String,
    },
    /// A likely misspelt mail domain (warning).
    #[error("Did you mean {suggestion}?")]
    EmailDomainTypo {
        /// The corrected address.
        suggestion: String,
    },
    /// Not a mainland mobile number.
    #[error("“{found}” is not an 11-digit mobile number.")]
    MobileFormat {
        /// The input.
        found: String,
    },
}

impl Rule for BuyerProblem {
    fn code(&self) -> &'static str {
        use BuyerProblem::*;
        match self {
            KindInvalid { .. } => "BUYER_TYPE_INVALID",
            PersonSpecial => "BUYER_PERSON_SPECIAL",
            NameRequired => "BUYER_NAME_REQUIRED",
            TooLong { .. } => "BUYER_TOO_LONG",
            ControlCharacters { .. } => "BUYER_CONTROL_CHARACTERS",
            NameShort { .. } => "BUYER_NAME_SHORT",
            NameLooksCompany { .. } => "BUYER_NAME_LOOKS_COMPANY",
            TaxIdRequired { .. } => "BUYER_TAXID_REQUIRED",
            ResidentIdForCompany => "BUYER_TAXID_IS_RESIDENT_ID",
            PhoneFormat { .. } => "BUYER_PHONE_FORMAT",
            PhoneUnrecognized { .. } => "BUYER_PHONE_UNRECOGNIZED",
            BankAccountFormat => "BUYER_BANK_ACCOUNT_FORMAT",
            BankAccountLength { .. } => "BUYER_BANK_ACCOUNT_LENGTH",
            BankIncomplete => "BUYER_BANK_INCOMPLETE",
            EmailFormat { .. } => "BUYER_EMAIL_FORMAT",
            EmailDomainTypo { .. } => "BUYER_EMAIL_DOMAIN_TYPO",
            MobileFormat { .. } => "BUYER_MOBILE_FORMAT",
        }
    }

    fn message_zh(&self) -> String {
        use BuyerProblem::*;
        match self {
            KindInvalid { found } => format!("购买方类型应为“company”（单位）或“person”（个人），而不是“{found}”。"),
            PersonSpecial => "数电专票不能开具给自然人，请选择数电普票或单位抬头。".into(),
            NameRequired => "请填写购买方名称。".into(),
            TooLong { what_zh, max, len, .. } => format!("{what_zh}最多{max}个字符，当前为{len}个。"),
            ControlCharacters { what_zh, .. } => format!("{what_zh}含有不可见的控制字符。"),
            NameShort { len } => format!("单位名称只有{len}个字，像是个人姓名，请核对，或改选“个人”。"),
            NameLooksCompany { name } => format!("“{name}”像是单位名称，是否应选择“单位”？"),
            TaxIdRequired { reason_zh, .. } => format!("请填写购买方纳税人识别号：{reason_zh}"),
            ResidentIdForCompany => "这是居民身份证号码，不是单位的纳税人识别号；是否应选择“个人”？".into(),
            PhoneFormat { found } => format!("“{found}”不是电话号码。"),
            PhoneUnrecognized { found } => format!("“{found}”既不是手机号，也不是带区号的固定电话，请核对。"),
            BankAccountFormat => "银行账号只能包含数字。".into(),
            BankAccountLength { len } => format!("{len}位的银行账号不常见，请核对。"),
            BankIncomplete => "开户行和银行账号请同时填写或同时留空。".into(),
            EmailFormat { found } => format!("“{found}”不是有效的电子邮箱地址。"),
            EmailDomainTypo { suggestion } => format!("您是否要填写 {suggestion}？"),
            MobileFormat { found } => format!("“{found}”不是11位手机号码。"),
        }
    }

    fn severity(&self) -> Severity {
        use BuyerProblem::*;
        match self {
            NameShort { .. }
            | NameLooksCompany { .. }
            | ResidentIdForCompany
            | PhoneUnrecognized { .. }
            | BankAccountLength { .. }
            | BankIncomplete
            | EmailDomainTypo { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// Validates a buyer for an invoice of the given type. Never panics.
pub fn validate_buyer(input: &BuyerInput, options: &BuyerOptions) -> BuyerResult {
    let mut issues = Issues::default();
    let mut out = Buyer::default();
    let text = |v: &Option<String>| v.as_deref().map(clean_text).unwrap_or_default();

    out.kind = match input.kind.as_deref().map(str::trim) {
        None | Some("") | Some("company") => BuyerKind::Company,
        Some("person") => BuyerKind::Person,
        Some(other) => {
            issues.push(
                "buyer.type",
                &BuyerProblem::KindInvalid {
                    found: other.to_owned(),
                },
            );
            BuyerKind::Company
        }
    };
    let person = out.kind == BuyerKind::Person;
    if person && options.invoice_type == InvoiceType::Special {
        issues.push("buyer.type", &BuyerProblem::PersonSpecial);
    }

    // Name.
    out.name = full_width_brackets(&text(&input.name));
    let name_len = char_len(&out.name);
    if out.name.is_empty() {
        issues.push("buyer.name", &BuyerProblem::NameRequired);
    } else {
        check_text(
            &mut issues,
            "buyer.name",
            &out.name,
            limits::BUYER_NAME,
            "The name",
            "名称",
        );
        if !person && name_len <= limits::SHORT_COMPANY_NAME && has_cjk(&out.name) {
            issues.push("buyer.name", &BuyerProblem::NameShort { len: name_len });
        }
        if person && looks_like_organisation(&out.name) {
            issues.push("buyer.name", &BuyerProblem::NameLooksCompany { name: out.name.clone() });
        }
    }

    // Tax ID.
    let raw_tax_id = input.tax_id.as_deref().unwrap_or("");
    if compact_id(raw_tax_id).is_empty() {
        if options.invoice_type == InvoiceType::Special && !person {
            issues.push(
                "buyer.taxId",
                &BuyerProblem::TaxIdRequired {
                    reason: "a special VAT invoice (数电专票) needs it.",
                    reason_zh: "开具数电专票必须填写。",
                },
            );
        } else if !person {
            issues.push(
                "buyer.taxId",
                &BuyerProblem::TaxIdRequired {
                    reason: "an organisation must give it even for a normal invoice.",
                    reason_zh: "单位抬头开具数电普票也必须填写。",
                },
            );
        }
    } else {
        // A person's 18 digits are read as a resident ID first, so that an
        // impossible birth date is not taken for a confirmable USCC checksum error.
        let holder = if person {
            taxid::Holder::Person
        } else {
            taxid::Holder::Unknown
        };
        let r = taxid::validate_for(raw_tax_id, holder);
        out.tax_id = r.normalized;
        out.tax_id_kind = r.kind;
        let mut tax = Issues {
            errors: r.errors,
            warnings: r.warnings,
        }
        .prefixed("buyer");
        tax.apply_confirmed(&options.confirmed);
        issues.extend(tax);
        if !person && r.kind == Some(TaxIdKind::Resident) {
            issues.push("buyer.taxId", &BuyerProblem::ResidentIdForCompany);
        }
    }

    // Address.
    out.address = text(&input.address);
    check_text(
        &mut issues,
        "buyer.address",
        &out.address,
        limits::ADDRESS,
        "The address",
        "地址",
    );

    // Phone.
    out.phone = normalize_phone(&text(&input.phone));
    if !out.phone.is_empty() {
        check_text(
            &mut issues,
            "buyer.phone",
            &out.phone,
            limits::PHONE,
            "The phone number",
            "电话",
        );
        match phone_shape(&out.phone) {
            PhoneShape::NotAPhone => issues.push(
                "buyer.phone",
                &BuyerProblem::PhoneFormat {
                    found: out.phone.clone(),
                },
            ),
            PhoneShape::Unrecognized => issues.push(
                "buyer.phone",
                &BuyerProblem::PhoneUnrecognized {
                    found: out.phone.clone(),
                },
            ),
            PhoneShape::Known => {}
        }
    }

    // Address and phone print on one line: together at most 100 characters (like
    // the bank name and account); reported once, unless either is over its own limit.
    let address_phone = char_len(&out.address) + char_len(&out.phone);
    if address_phone > limits::ADDRESS_AND_PHONE
        && char_len(&out.address) <= limits::ADDRESS
        && char_len(&out.phone) <= limits::PHONE
    {
        issues.push(
            "buyer.address",
            &BuyerProblem::TooLong {
                what: "The address and phone number together",
                what_zh: "地址和电话合计",
                max: limits::ADDRESS_AND_PHONE,
                len: address_phone,
            },
        );
    }

    // Bank.
    out.bank_name = text(&input.bank_name);
    check_text(
        &mut issues,
        "buyer.bankName",
        &out.bank_name,
        limits::BANK_NAME_AND_ACCOUNT,
        "The bank name",
        "开户行",
    );
    let account: String = input
        .bank_account
        .as_deref()
        .unwrap_or("")
        .chars()
        .map(half_width)
        .filter(|&c| !is_invisible(c) && !is_dash(c))
        .collect();
    out.bank_account = account;
    if !out.bank_account.is_empty() {
        if !out.bank_account.bytes().all(|b| b.is_ascii_digit()) {
            issues.push("buyer.bankAccount", &BuyerProblem::BankAccountFormat);
        } else if char_len(&out.bank_account) > limits::BANK_ACCOUNT {
            check_text(
                &mut issues,
                "buyer.bankAccount",
                &out.bank_account,
                limits::BANK_ACCOUNT,
                "The account number",
                "银行账号",
            );
        } else if !(8..=30).contains(&out.bank_account.len()) {
            issues.push(
                "buyer.bankAccount",
                &BuyerProblem::BankAccountLength {
                    len: out.bank_account.len(),
                },
            );
        }
    }
    let bank_total = char_len(&out.bank_name) + char_len(&out.bank_account);
    if bank_total > limits::BANK_NAME_AND_ACCOUNT && char_len(&out.bank_name) <= limits::BANK_NAME_AND_ACCOUNT {
        issues.push(
            "buyer.bankName",
            &BuyerProblem::TooLong {
                what: "The bank name and account together",
                what_zh: "开户行和账号合计",
                max: limits::BANK_NAME_AND_ACCOUNT,
                len: bank_total,
            },
        );
    }
    if out.bank_name.is_empty() != out.bank_account.is_empty() {
        let field = if out.bank_name.is_empty() {
            "buyer.bankName"
        } else {
            "buyer.bankAccount"
        };
        issues.push(field, &BuyerProblem::BankIncomplete);
    }

    // Delivery.
    out.email = normalize_email(input.email.as_deref().unwrap_or(""));
    if !out.email.is_empty() {
        check_text(
            &mut issues,
            "buyer.email",
            &out.email,
            limits::EMAIL,
            "The e-mail address",
            "邮箱",
        );
        if !is_email(&out.email) {
            issues.push(
                "buyer.email",
                &BuyerProblem::EmailFormat {
                    found: out.email.clone(),
                },
            );
        } else if let Some(suggestion) = email_typo_fix(&out.email) {
            issues.push("buyer.email", &BuyerProblem::EmailDomainTypo { suggestion });
        }
    }
    let raw_mobile = input.mobile.as_deref().unwrap_or("");
    out.mobile = normalize_mobile(raw_mobile);
    if !out.mobile.is_empty() && !is_mobile(&out.mobile) {
        issues.push(
            "buyer.mobile",
            &BuyerProblem::MobileFormat {
                found: out.mobile.clone(),
            },
        );
    }

    BuyerResult {
        valid: issues.is_ok(),
        normalized: out,
        errors: issues.errors,
        warnings: issues.warnings,
    }
}

fn check_text(issues: &mut Issues, field: &str, value: &str, max: usize, what: &'static str, what_zh: &'static str) {
    let len = char_len(value);
    if len > max {
        issues.push(
            field,
            &BuyerProblem::TooLong {
                what,
                what_zh,
                max,
                len,
            },
        );
    }
    if has_control(value) {
        issues.push(field, &BuyerProblem::ControlCharacters { what, what_zh });
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3134F}')
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(is_cjk)
}

/// Chinese names are registered with full-width brackets; people type half-width ones.
fn full_width_brackets(name: &str) -> String {
    if !has_cjk(name) {
        return name.to_owned();
    }
    name.chars()
        .map(|c| match c {
            '(' => '（',
            ')' => '）',
            _ => c,
        })
        .collect()
}

fn looks_like_organisation(name: &str) -> bool {
    const MARKERS: &[&str] = &[
        "公司",
        "集团",
        "有限",
        "股份",
        "合伙",
        "企业",
        "工厂",
        "商行",
        "事务所",
        "研究院",
        "委员会",
        "中心",
        "学校",
        "医院",
        "大学",
        "银行",
        "协会",
        "分行",
        "支行",
        "门市部",
        "经营部",
    ];
    MARKERS.iter().any(|m| name.contains(m))
}

fn normalize_phone(phone: &str) -> String {
    let mut s: String = phone
        .chars()
        .map(|c| match half_width(c) {
            '（' => '(',
            '）' => ')',
            c if is_dash(c) => '-',
            c => c,
        })
        .filter(|c| !is_invisible(*c))
        .collect();
    // (010)12345678 → 010-12345678
    if let Some(rest) = s.strip_prefix('(') {
        if let Some(close) = rest.find(')') {
            let area = &rest[..close];
            if area.len() >= 3 && area.len() <= 4 && area.bytes().all(|b| b.is_ascii_digit()) {
                s = format!("{area}-{}", &rest[close + 1..]);
            }
        }
    }
    s
}

enum PhoneShape {
    Known,
    Unrecognized,
    NotAPhone,
}

fn phone_shape(phone: &str) -> PhoneShape {
    // Letters (other than an extension word) or other symbols: not a phone number.
    let ext_free = phone.replace("转", "-").replace("EXT", "-").replace("ext", "-");
    if !ext_free
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '(' | ')'))
    {
        return PhoneShape::NotAPhone;
    }
    if !ext_free.chars().any(|c| c.is_ascii_digit()) {
        return PhoneShape::NotAPhone;
    }
    let mobile = normalize_mobile(&ext_free);
    if is_mobile(&mobile) {
        return PhoneShape::Known;
    }
    let groups: Vec<&str> = ext_free.split('-').filter(|g| !g.is_empty()).collect();
    let digits = |g: &str| g.bytes().all(|b| b.is_ascii_digit());
    if !groups
        .iter()
        .all(|g| digits(g) || (g.starts_with('+') && digits(&g[1..])))
    {
        return PhoneShape::Unrecognized;
    }
    let known = match groups.as_slice() {
        // 010-12345678, 0755-1234567, optionally with an extension.
        [area, number] | [area, number, _]
            if area.starts_with('0') && (3..=4).contains(&area.len()) && (7..=8).contains(&number.len()) =>
        {
            true
        }
        // 01012345678 (area code and number written together).
        [all] if all.starts_with('0') && (10..=12).contains(&all.len()) => true,
        // 400-123-4567, 800-123-4567, 4001234567.
        [a, b, c] if (*a == "400" || *a == "800") && b.len() == 3 && c.len() == 4 => true,
        [all] if (all.starts_with("400") || all.starts_with("800")) && all.len() == 10 => true,
        // Hong Kong, Macao, Taiwan and abroad: +852 12345678.
        [intl, ..] if intl.starts_with('+') => true,
        _ => false,
    };
    if known {
        PhoneShape::Known
    } else {
        PhoneShape::Unrecognized
    }
}

fn normalize_mobile(mobile: &str) -> String {
    let digits: String = mobile
        .chars()
        .map(half_width)
        .filter(|&c| !is_invisible(c) && !is_dash(c))
        .collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    for prefix in ["0086", "86"] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            if rest.len() == 11 {
                return rest.to_owned();
            }
        }
    }
    digits.to_owned()
}

fn is_mobile(m: &str) -> bool {
    let b = m.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

fn normalize_email(email: &str) -> String {
    let s: String = email
        .chars()
        .map(|c| match c {
            '。' | '．' => '.',
            c => half_width(c),
        })
        .filter(|&c| !is_invisible(c))
        .collect();
    match s.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", crate::text::to_lowercase(domain)),
        None => s,
    }
}

fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    local_ok && domain_ok
}

/// Mail domains common in China, to catch `qq.con` and `163.cm`.
const COMMON_DOMAINS: &[&str] = &[
    "qq.com",
    "163.com",
    "126.com",
    "yeah.net",
    "sina.com",
    "sina.cn",
    "sohu.com",
    "foxmail.com",
    "139.com",
    "189.cn",
    "aliyun.com",
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "yahoo.com",
    "live.com",
];

pub(crate) fn email_typo_fix(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    if COMMON_DOMAINS.contains(&domain) {
        return None;
    }
    let candidates: Vec<&&str> = COMMON_DOMAINS.iter().filter(|d| one_edit_apart(domain, d)).collect();
    match candidates.as_slice() {
        [only] => Some(format!("{local}@{only}")),
        _ => None,
    }
}

/// True when `a` becomes `b` by one insertion, deletion, substitution or swap of
/// neighbours.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match ra.len().cmp(&rb.len()) {
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..] || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Greater => ra[1..] == *rb,
        std::cmp::Ordering::Less => *ra == rb[1..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buyer(kind: &str, name: &str, tax_id: &str) -> BuyerInput {
        BuyerInput {
            kind: Some(kind.into()),
            name: Some(name.into()),
            tax_id: Some(tax_id.into()),
            ..Default::default()
        }
    }

    fn special() -> BuyerOptions {
        BuyerOptions {
            invoice_type: InvoiceType::Special,
            confirmed: vec![],
        }
    }

    fn codes(r: &BuyerResult) -> (Vec<&str>, Vec<&str>) {
        (
            r.errors.iter().map(|i| i.code).collect(),
            r.warnings.iter().map(|i| i.code).collect(),
        )
    }

    #[test]
    fn company_needs_tax_id_even_for_normal_invoices() {
        let r = validate_buyer(&buyer("company", "北京某某科技有限公司", ""), &BuyerOptions::default());
        assert_eq!(codes(&r).0, ["BUYER_TAXID_REQUIRED"]);
        assert_eq!(r.errors[0].field, "buyer.taxId");
        let r = validate_buyer(&buyer("person", "张三", ""), &BuyerOptions::default());
        assert!(r.valid, "{:?}", r.errors);
    }

    #[test]
    fn person_cannot_get_special_invoice() {
        let r = validate_buyer(&buyer("person", "张三", ""), &special());
        assert_eq!(codes(&r).0, ["BUYER_PERSON_SPECIAL"]);
    }

    #[test]
    fn tax_id_issues_are_under_buyer_and_can_be_confirmed() {
        let input = buyer("company", "厦门某某贸易有限公司", "91350203M0001QKT19");
        let r = validate_buyer(&input, &special());
        assert_eq!(codes(&r).0, ["TAXID_CHECKSUM"]);
        assert_eq!(r.errors[0].field, "buyer.taxId");
        let confirmed = BuyerOptions {
            invoice_type: InvoiceType::Special,
            confirmed: vec!["TAXID_CHECKSUM".into()],
        };
        assert!(validate_buyer(&input, &confirmed).valid);
        // Confirming a code that is not overridable changes nothing.
        let bad = buyer("company", "某某贸易有限公司", "0111000060003734XX");
        let confirmed = BuyerOptions {
            invoice_type: InvoiceType::Normal,
            confirmed: vec!["TAXID_AUTHORITY".into()],
        };
        assert!(!validate_buyer(&bad, &confirmed).valid);
    }

    #[test]
    fn short_company_name_and_company_like_person_name_warn() {
        let r = validate_buyer(&buyer("company", "张三", "91110000600037341L"), &special());
        assert!(r.valid);
        assert_eq!(codes(&r).1, ["BUYER_NAME_SHORT"]);
        let r = validate_buyer(&buyer("person", "某某科技有限公司", ""), &BuyerOptions::default());
        assert_eq!(codes(&r).1, ["BUYER_NAME_LOOKS_COMPANY"]);
    }

    #[test]
    fn name_rules() {
        let r = validate_buyer(&buyer("company", "  ", "91110000600037341L"), &special());
        assert_eq!(codes(&r).0, ["BUYER_NAME_REQUIRED"]);
        let long = "长".repeat(101);
        let r = validate_buyer(&buyer("company", &long, "91110000600037341L"), &special());
        assert_eq!(codes(&r).0, ["BUYER_TOO_LONG"]);
        assert!(r.errors[0].message.contains("100"));
        let r = validate_buyer(&buyer("company", "某某\u{7}有限公司", "91110000600037341L"), &special());
        assert_eq!(codes(&r).0, ["BUYER_CONTROL_CHARACTERS"]);
        let r = validate_buyer(&buyer("firm", "某某有限公司", "91110000600037341L"), &special());
        assert_eq!(codes(&r).0, ["BUYER_TYPE_INVALID"]);
    }

    #[test]
    fn phones() {
        for (p, norm) in [
            ("13800138000", "13800138000"),
            ("+86 138 0013 8000", "+8613800138000"),
            ("010-12345678", "010-12345678"),
            ("(010)12345678", "010-12345678"),
            ("（0755）1234567转808", "0755-1234567转808"),
            ("400-123-4567", "400-123-4567"),
            ("01012345678", "01012345678"),
            ("+852 21234567", "+85221234567"),
        ] {
            let mut b = buyer("person", "张三", "");
            b.phone = Some(p.into());
            let r = validate_buyer(&b, &BuyerOptions::default());
            assert!(r.valid && r.warnings.is_empty(), "{p}: {:?} {:?}", r.errors, r.warnings);
            assert_eq!(r.normalized.phone, norm);
        }
        let mut b = buyer("person", "张三", "");
        b.phone = Some("call me".into());
        assert_eq!(
            codes(&validate_buyer(&b, &BuyerOptions::default())).0,
            ["BUYER_PHONE_FORMAT"]
        );
        b.phone = Some("12345".into());
        assert_eq!(
            codes(&validate_buyer(&b, &BuyerOptions::default())).1,
            ["BUYER_PHONE_UNRECOGNIZED"]
        );
    }

    #[test]
    fn address_and_phone_together_at_most_100() {
        // 80 + 23 characters: each within its own limit, together over 100.
        let mut b = buyer("company", "某某科技有限公司", "91110000600037341L");
        b.address = Some("北".repeat(80));
        b.phone = Some("0571-88888888转123456789".into());
        let r = validate_buyer(&b, &special());
        assert_eq!(codes(&r).0, ["BUYER_TOO_LONG"], "{:?}", r.errors);
        assert_eq!(r.errors[0].field, "buyer.address");
        assert!(
            r.errors[0].message.contains("100") && r.errors[0].message_en.contains("100"),
            "{:?}",
            r.errors[0]
        );
        // Exactly 100 together is accepted.
        b.address = Some("北".repeat(77));
        let r = validate_buyer(&b, &special());
        assert!(r.valid, "{:?}", r.errors);
        // An address over its own limit is reported once, as the address.
        b.address = Some("北".repeat(81));
        assert_eq!(codes(&validate_buyer(&b, &special())).0, ["BUYER_TOO_LONG"]);
    }

    #[test]
    fn bank_account() {
        let mut b = buyer("company", "某某科技有限公司", "91110000600037341L");
        b.bank_name = Some("中国工商银行北京分行".into());
        b.bank_account = Some("0200 0045 0910 0123 456".into());
        let r = validate_buyer(&b, &special());
        assert!(r.valid && r.warnings.is_empty(), "{:?} {:?}", r.errors, r.warnings);
        assert_eq!(r.normalized.bank_account, "0200004509100123456");
        b.bank_account = Some("6222-0200-ABC".into());
        assert_eq!(codes(&validate_buyer(&b, &special())).0, ["BUYER_BANK_ACCOUNT_FORMAT"]);
        b.bank_account = None;
        assert_eq!(codes(&validate_buyer(&b, &special())).1, ["BUYER_BANK_INCOMPLETE"]);
    }

    #[test]
    fn email_and_mobile() {
        let mut b = buyer("person", "张三", "");
        b.email = Some(" Zhang.San@QQ.COM ".into());
        b.mobile = Some("+86 138-0013-8000".into());
        let r = validate_buyer(&b, &BuyerOptions::default());
        assert!(r.valid && r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.normalized.email, "Zhang.San@qq.com");
        assert_eq!(r.normalized.mobile, "13800138000");
        b.email = Some("zhangsan@qq.con".into());
        let r = validate_buyer(&b, &BuyerOptions::default());
        assert_eq!(codes(&r).1, ["BUYER_EMAIL_DOMAIN_TYPO"]);
        assert!(r.warnings[0].message.contains("zhangsan@qq.com"));
        b.email = Some("zhangsan@".into());
        assert_eq!(
            codes(&validate_buyer(&b, &BuyerOptions::default())).0,
            ["BUYER_EMAIL_FORMAT"]
        );
        b.email = None;
        b.mobile = Some("1380013800".into());
        assert_eq!(
            codes(&validate_buyer(&b, &BuyerOptions::default())).0,
            ["BUYER_MOBILE_FORMAT"]
        );
    }

    #[test]
    fn one_edit() {
        assert!(one_edit_apart("qq.con", "qq.com"));
        assert!(one_edit_apart("gmial.com", "gmail.com"));
        assert!(one_edit_apart("163.cm", "163.com"));
        assert!(!one_edit_apart("qq.com", "qq.com"));
        assert!(!one_edit_apart("example.org", "qq.com"));
    }
}
