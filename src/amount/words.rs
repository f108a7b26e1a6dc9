//! 大写金额 (amount in Chinese financial capitals), as written on cheques and printed
//! as 价税合计（大写） on invoices.
//!
//! Rules (PBOC 《正确填写票据和结算凭证的基本规定》, rules.md §4.7): digits
//! 零壹贰叁肆伍陆柒捌玖, units 拾佰仟万亿 and 元 角 分; 整 after 元 when there are no
//! 角 and 分, none after 分 (and none after 角, as in the standard's own examples);
//! one 零 for a run of zeros inside the number; 零 after 元 when the 元 digit is 0
//! and 角 is not, or when 角 is 0 and 分 is not. Where the rule allows both forms,
//! the first form of the standard's examples is used (`107000.53` →
//! `壹拾万柒仟元零伍角叁分`).
//!
//! The invoice style is the form the 数电 platform prints: `⊗` before the text and
//! 圆 for 元 (`⊗壹佰零陆圆整`).
//!
//! Negative amounts are refused: how a red invoice renders them was not found in
//! any source, and the platform renders it itself.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::issue::{Rule, Severity};

use super::money::{parse, DecimalInput, ParseFailure};

const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
const IN_GROUP: [&str; 4] = ["", "拾", "佰", "仟"];
const GROUPS: [&str; 4] = ["", "万", "亿", "万"];

/// How to write an amount in words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordsStyle {
    /// `壹万零贰拾元整`: the financial form for cheques and vouchers.
    #[default]
    Plain,
    /// `⊗壹万零贰拾圆整`: the form printed on 数电 invoices.
    Invoice,
}

/// Options of [`amount_in_words`]; `{ style: "invoice" }` in JS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WordsOptions {
    /// Plain (元) or invoice (⊗, 圆).
    pub style: WordsStyle,
}

/// Why an amount cannot be written in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WordsError {
    /// Not a decimal number.
    #[error("“{0}” is not an amount.")]
    Format(String),
    /// More than two decimals.
    #[error("An amount in words has at most two decimals (角 and 分).")]
    Precision,
    /// Negative.
    #[error("Negative amounts are not written in words here; the platform renders red invoices.")]
    Negative,
    /// 10 000 000 000 000 000 (一亿亿) or more.
    #[error("The amount is too large to write in words.")]
    TooLarge,
}

impl Rule for WordsError {
    fn code(&self) -> &'static str {
        match self {
            WordsError::Format(_) => "WORDS_FORMAT",
            WordsError::Precision => "WORDS_PRECISION",
            WordsError::Negative => "WORDS_NEGATIVE",
            WordsError::TooLarge => "WORDS_TOO_LARGE",
        }
    }

    fn message_zh(&self) -> String {
        match self {
            WordsError::Format(s) => format!("“{s}”不是金额。"),
            WordsError::Precision => "大写金额最多精确到分（两位小数）。".into(),
            WordsError::Negative => "负数金额不转换为大写，红字发票由平台生成大写金额。".into(),
            WordsError::TooLarge => "金额过大，无法转换为大写。".into(),
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }
}

/// Writes a decimal string in Chinese financial capitals.
///
/// ```
/// use fapiao::amount::{amount_in_words, WordsOptions, WordsStyle};
///
/// let plain = WordsOptions::default();
/// assert_eq!(amount_in_words("10020.05", plain).unwrap(), "壹万零贰拾元零伍分");
/// assert_eq!(amount_in_words("10020", plain).unwrap(), "壹万零贰拾元整");
/// let invoice = WordsOptions { style: WordsStyle::Invoice };
/// assert_eq!(amount_in_words("1265.77", invoice).unwrap(), "⊗壹仟贰佰陆拾伍圆柒角柒分");
/// assert!(amount_in_words("-1", plain).is_err());
/// ```
pub fn amount_in_words(value: &str, options: WordsOptions) -> Result<String, WordsError> {
    let parsed = parse(&DecimalInput::from(value), 16, 2, false).map_err(|e| match e {
        ParseFailure::Precision => WordsError::Precision,
        ParseFailure::TooLarge => WordsError::TooLarge,
        ParseFailure::Format | ParseFailure::NonInteger => WordsError::Format(value.to_owned()),
    })?;
    let v = parsed.ok_or_else(|| WordsError::Format(value.to_owned()))?;
    decimal_in_words(v, options.style)
}

/// Writes a [`Decimal`] with at most two decimals in Chinese financial capitals.
///
/// ```
/// use fapiao::amount::{decimal_in_words, WordsStyle};
/// use rust_decimal::Decimal;
/// assert_eq!(decimal_in_words(Decimal::new(10600, 2), WordsStyle::Invoice).unwrap(), "⊗壹佰零陆圆整");
/// ```
pub fn decimal_in_words(value: Decimal, style: WordsStyle) -> Result<String, WordsError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(WordsError::Negative);
    }
    let v = value.normalize();
    if v.scale() > 2 {
        return Err(WordsError::Precision);
    }
    // Whole cents as an integer: at most 16 integer digits + 2.
    let mut cents_dec = v;
    cents_dec.rescale(2);
    let cents = cents_dec.mantissa().unsigned_abs();
    let yuan = cents / 100;
    if yuan >= 10u128.pow(16) {
        return Err(WordsError::TooLarge);
    }
    let (jiao, fen) = ((cents / 10 % 10) as usize, (cents % 10) as usize);
    let unit = match style {
        WordsStyle::Plain => "元",
        WordsStyle::Invoice => "圆",
    };
    let mut out = String::new();
    if style == WordsStyle::Invoice {
        out.push('⊗');
    }
    if yuan > 0 {
        integer_words(yuan, &mut out);
        out.push_str(unit);
    }
    match (jiao, fen) {
        (0, 0) => {
            if yuan == 0 {
                out.push('零');
                out.push_str(unit);
            }
            out.push('整');
        }
        (0, f) => {
            if yuan > 0 {
                out.push('零');
            }
            out.push(DIGITS[f]);
            out.push('分');
        }
        (j, f) => {
            if yuan > 0 && yuan.is_multiple_of(10) {
                out.push('零');
            }
            out.push(DIGITS[j]);
            out.push('角');
            if f > 0 {
                out.push(DIGITS[f]);
                out.push('分');
            }
        }
    }
    Ok(out)
}

/// Appends the words of a positive integer below 10^16.
fn integer_words(n: u128, out: &mut String) {
    // Four-digit groups, most significant first: 万亿, 亿, 万, units.
    let groups: [usize; 4] = [
        (n / 1_000_000_000_000 % 10_000) as usize,
        (n / 100_000_000 % 10_000) as usize,
        (n / 10_000 % 10_000) as usize,
        (n % 10_000) as usize,
    ];
    let mut started = false;
    let mut pending_zero = false;
    for (gi, &g) in groups.iter().enumerate() {
        let level = 3 - gi;
        if g == 0 {
            pending_zero |= started;
            // 万亿 followed by an empty 亿 group still needs its 亿 when lower groups
            // are not empty; the 万 of "万亿" is already written, so nothing to add.
            continue;
        }
        if started && (pending_zero || g < 1000) {
            out.push('零');
        }
        group_words(g, out);
        out.push_str(GROUPS[level]);
        if level == 3 && groups[1] == 0 {
            // 壹万亿: the 亿 belongs to the 万亿 unit when the 亿 group is empty.
            out.push('亿');
        }
        started = true;
        pending_zero = false;
    }
}

/// Appends the words of 1..=9999 without leading 零.
fn group_words(g: usize, out: &mut String) {
    let digits = [g / 1000, g / 100 % 10, g / 10 % 10, g % 10];
    let mut started = false;
    let mut zero = false;
    for (i, &d) in digits.iter().enumerate() {
        if d == 0 {
            zero |= started;
            continue;
        }
        if zero {
            out.push('零');
            zero = false;
        }
        out.push(DIGITS[d]);
        out.push_str(IN_GROUP[3 - i]);
        started = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> String {
        amount_in_words(s, WordsOptions::default()).unwrap()
    }

    #[test]
    fn standard_examples() {
        // rules.md §4.7, from the PBOC rule [S19], first form of each.
        assert_eq!(plain("1409.50"), "壹仟肆佰零玖元伍角");
        assert_eq!(plain("6007.14"), "陆仟零柒元壹角肆分");
        assert_eq!(plain("1680.32"), "壹仟陆佰捌拾元零叁角贰分");
        assert_eq!(plain("107000.53"), "壹拾万柒仟元零伍角叁分");
        assert_eq!(plain("16409.02"), "壹万陆仟肆佰零玖元零贰分");
        assert_eq!(plain("325.04"), "叁佰贰拾伍元零肆分");
        assert_eq!(plain("100000001"), "壹亿零壹元整");
        assert_eq!(plain("10020.05"), "壹万零贰拾元零伍分");
        assert_eq!(plain("10020.00"), "壹万零贰拾元整");
        assert_eq!(plain("10020"), "壹万零贰拾元整");
    }

    #[test]
    fn invoice_examples() {
        let inv = WordsOptions {
            style: WordsStyle::Invoice,
        };
        assert_eq!(amount_in_words("1265.77", inv).unwrap(), "⊗壹仟贰佰陆拾伍圆柒角柒分");
        assert_eq!(amount_in_words("106.00", inv).unwrap(), "⊗壹佰零陆圆整");
        assert_eq!(amount_in_words("0", inv).unwrap(), "⊗零圆整");
    }

    #[test]
    fn zeros_and_units() {
        assert_eq!(plain("0"), "零元整");
        assert_eq!(plain("0.05"), "伍分");
        assert_eq!(plain("0.5"), "伍角");
        assert_eq!(plain("0.15"), "壹角伍分");
        assert_eq!(plain("10"), "壹拾元整");
        assert_eq!(plain("10.05"), "壹拾元零伍分");
        assert_eq!(plain("10.5"), "壹拾元零伍角");
        assert_eq!(plain("100700"), "壹拾万零柒佰元整");
        assert_eq!(plain("1000000"), "壹佰万元整");
        assert_eq!(plain("100010000"), "壹亿零壹万元整");
        assert_eq!(plain("120000000"), "壹亿贰仟万元整");
        assert_eq!(plain("1000000000000"), "壹万亿元整");
        assert_eq!(plain("1000100000000"), "壹万零壹亿元整");
        assert_eq!(
            plain("9999999999999999.99"),
            "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"
        );
        assert_eq!(plain("1001"), "壹仟零壹元整");
        assert_eq!(plain("1010"), "壹仟零壹拾元整");
    }

    #[test]
    fn refusals() {
        let o = WordsOptions::default();
        assert_eq!(amount_in_words("-5", o), Err(WordsError::Negative));
        assert_eq!(amount_in_words("1.005", o), Err(WordsError::Precision));
        assert_eq!(amount_in_words("10000000000000000", o), Err(WordsError::TooLarge));
        assert_eq!(amount_in_words("", o), Err(WordsError::Format(String::new())));
        assert_eq!(amount_in_words("abc", o).unwrap_err().code(), "WORDS_FORMAT");
        assert_eq!(plain("-0"), "零元整");
    }
}
