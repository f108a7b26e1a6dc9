//! Item names as printed on an invoice: `*简称*名称`.
//!
//! Since 2018-01-01 (国家税务总局公告2017年第45号) the 项目名称 on an invoice is
//! the 简称 of the line's tax classification code between asterisks, followed
//! by the seller's own name for the item: `*谷物*东北大米`. The providers take
//! the 名称 without the prefix and count their length limit
//! ([`limits::ITEM_NAME`](crate::limits::ITEM_NAME)) on it.

use serde::Serialize;

use super::{lookup_in, TaxCodeProblem, TaxCodeTable};
use crate::issue::Issues;
use crate::text::{char_len, clean_text, half_width, has_control};
use crate::{limits, Issue};

/// An item name split into its `*简称*` prefix (if any) and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemName<'a> {
    /// The 简称 between the asterisks, `None` when the text has no prefix.
    pub short_name: Option<&'a str>,
    /// The name after the prefix (the whole text when there is none).
    pub name: &'a str,
}

/// Splits `*简称*名称` into its parts. Full-width asterisks (`＊`) count as
/// asterisks; a text that does not start with one has no prefix.
///
/// ```
/// use fapiao::taxcode::parse_item_name;
/// let p = parse_item_name("*谷物*东北大米");
/// assert_eq!((p.short_name, p.name), (Some("谷物"), "东北大米"));
/// assert_eq!(parse_item_name("东北大米").short_name, None);
/// assert_eq!(parse_item_name("**x").short_name, None);
/// ```
pub fn parse_item_name(text: &str) -> ItemName<'_> {
    let is_star = |c: char| half_width(c) == '*';
    let trimmed = text.trim_start();
    let mut chars = trimmed.char_indices();
    if let Some((_, c)) = chars.next() {
        if is_star(c) {
            let start = c.len_utf8();
            if let Some((end, star)) = chars.find(|&(_, c)| is_star(c)) {
                let short = trimmed[start..end].trim();
                if !short.is_empty() {
                    return ItemName {
                        short_name: Some(short),
                        name: trimmed[end + star.len_utf8()..].trim(),
                    };
                }
            }
        }
    }
    ItemName {
        short_name: None,
        name: text.trim(),
    }
}

/// The item name to print for a code: `*简称*名称`. An existing prefix on
/// `name` is replaced by the code's 简称; the name itself is cleaned (white space
/// folded, full-width letters and digits made half-width) but not length-checked
/// (see [`check_item_name`]).
///
/// ```
/// use fapiao::taxcode::format_item_name;
/// assert_eq!(format_item_name("3070401000000000000", " 午餐 ").unwrap(), "*餐饮服务*午餐");
/// assert_eq!(format_item_name("1010101010000000000", "*大米*东北大米").unwrap(), "*谷物*东北大米");
/// assert!(format_item_name("9990000000000000000", "x").is_err());
/// ```
pub fn format_item_name(code: &str, name: &str) -> Result<String, TaxCodeProblem> {
    let table = super::current();
    format_in(&table, code, name)
}

pub(crate) fn format_in(table: &TaxCodeTable, code: &str, name: &str) -> Result<String, TaxCodeProblem> {
    let found = lookup_in(table, code)?;
    let name = clean_text(parse_item_name(name).name);
    Ok(format!("*{}*{name}", found.short_name))
}

/// The result of [`check_item_name`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemNameResult {
    /// True when there are no errors.
    pub valid: bool,
    /// `*简称*名称` for the code, or `""` when the code is not known.
    pub item_name: String,
    /// The code's 简称, `""` when the code is not known.
    pub short_name: String,
    /// The name without any prefix, cleaned: what a provider's API takes.
    pub name: String,
    /// Problems that block issuing.
    pub errors: Vec<Issue>,
    /// Problems that only inform.
    pub warnings: Vec<Issue>,
}

/// Checks one invoice line's code and name together: the code must be a leaf of
/// the table, the name (without its prefix) must be 1 to
/// [`limits::ITEM_NAME`] characters without control characters, and a `*简称*`
/// prefix typed by the user must be the code's 简称. Issues are on the fields
/// `taxCode` and `name`; move them under a line with
/// [`Issues::prefixed`](crate::issue::Issues::prefixed).
///
/// A wrong prefix is overridable: the embedded table is from 2017, and some
/// 简称 have changed since (e.g. 其他软件服务).
///
/// ```
/// use fapiao::taxcode::check_item_name;
/// let r = check_item_name("3070401000000000000", "*餐饮*午餐");
/// assert!(!r.valid);
/// assert_eq!(r.errors[0].code, "ITEM_NAME_SHORT_NAME");
/// assert_eq!(r.item_name, "*餐饮服务*午餐");
/// assert!(check_item_name("3070401000000000000", "午餐").valid);
/// ```
pub fn check_item_name(code: &str, name: &str) -> ItemNameResult {
    let table = super::current();
    check_in(&table, code, name)
}

pub(crate) fn check_in(table: &TaxCodeTable, code: &str, name: &str) -> ItemNameResult {
    let mut issues = Issues::default();
    let parsed = parse_item_name(name);
    let clean = clean_text(parsed.name);
    let mut short_name = String::new();
    match super::validate_in(table, code) {
        Ok(found) => short_name = found.short_name,
        Err(problem) => {
            issues.push("taxCode", &problem);
            if let TaxCodeProblem::Summary { .. } = problem {
                short_name = lookup_in(table, code).map(|c| c.short_name).unwrap_or_default();
            }
        }
    }
    if let (Some(typed), false) = (parsed.short_name, short_name.is_empty()) {
        let typed = clean_text(typed);
        if typed != short_name {
            issues.push(
                "name",
                &TaxCodeProblem::ShortNameMismatch {
                    found: typed,
                    expected: short_name.clone(),
                },
            );
        }
    }
    let len = char_len(&clean);
    if clean.is_empty() {
        issues.push("name", &TaxCodeProblem::ItemNameEmpty);
    } else if len > limits::ITEM_NAME {
        issues.push(
            "name",
            &TaxCodeProblem::ItemNameLength {
                len,
                max: limits::ITEM_NAME,
            },
        );
    }
    if has_control(&clean) {
        issues.push("name", &TaxCodeProblem::ItemNameControl);
    }
    let item_name = if short_name.is_empty() {
        String::new()
    } else {
        format!("*{short_name}*{clean}")
    };
    ItemNameResult {
        valid: issues.is_ok(),
        item_name,
        short_name,
        name: clean,
        errors: issues.errors,
        warnings: issues.warnings,
    }
}
