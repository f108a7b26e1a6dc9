//! 税率 (VAT rates and levy rates), 零税率标识 and 优惠政策标识 (rules.md §5).

use rust_decimal::Decimal;

use crate::issue::Issues;

use super::money::{parse_ref, DecimalRef, ParseFailure};
use super::problem::{AmountProblem, NumberKind};

/// The rates a 数电 line may carry, as fractions: 13%, 9%, 6% (general), 5%, 3%
/// (simplified levy), 1.5% (5% reduced, housing rental), 1% (3% reduced,
/// small-scale), 0.5% (used-car dealers) and 0.
pub const RATES: [Decimal; 9] = [
    Decimal::from_parts(13, 0, 0, false, 2),
    Decimal::from_parts(9, 0, 0, false, 2),
    Decimal::from_parts(6, 0, 0, false, 2),
    Decimal::from_parts(5, 0, 0, false, 2),
    Decimal::from_parts(3, 0, 0, false, 2),
    Decimal::from_parts(15, 0, 0, false, 3),
    Decimal::from_parts(1, 0, 0, false, 2),
    Decimal::from_parts(5, 0, 0, false, 3),
    Decimal::ZERO,
];

/// Whether a rate (a fraction, `0.13`) is one of [`RATES`].
///
/// ```
/// use fapiao::amount::rate::is_supported;
/// use rust_decimal::Decimal;
/// assert!(is_supported(Decimal::new(13, 2)));
/// assert!(is_supported(Decimal::new(1500, 5))); // 0.01500 = 1.5%
/// assert!(!is_supported(Decimal::new(17, 2)));  // 17%: abolished in 2018
/// ```
pub fn is_supported(rate: Decimal) -> bool {
    // Equal values have the same mantissa and scale once trailing zeros are gone,
    // and the rates are written without them: no decimal comparison needed.
    let r = super::rounding::normalize(rate);
    let (m, scale) = (r.mantissa(), r.scale());
    RATE_PARTS.iter().any(|&(rm, rs)| rs == scale && rm == m)
}

/// [`RATES`] as mantissa and scale.
const RATE_PARTS: [(i128, u32); 9] = {
    let mut t = [(0, 0); 9];
    let mut i = 0;
    while i < RATES.len() {
        t[i] = (RATES[i].mantissa(), RATES[i].scale());
        i += 1;
    }
    t
};

/// Reads a rate such as `"0.13"`, `"13%"` or `0`; pushes the issue and returns
/// `None` when it is missing or not a rate in force.
pub(crate) fn read_rate(issues: &mut Issues, i: usize, input: Option<DecimalRef<'_>>) -> Option<Decimal> {
    let field = || format!("lines[{i}].taxRate");
    let Some(input) = input else {
        issues.push(&field(), &AmountProblem::TaxRateRequired);
        return None;
    };
    let text = || match input {
        DecimalRef::Text(t) => t.trim().to_owned(),
        DecimalRef::Integer(i) => i.to_string(),
        DecimalRef::NonInteger => String::new(),
    };
    match parse_ref(input, 3, 6, true) {
        Ok(None) => {
            issues.push(&field(), &AmountProblem::TaxRateRequired);
            None
        }
        Ok(Some(r)) if is_supported(r) => Some(super::rounding::normalize(r)),
        Ok(Some(r)) => {
            issues.push(
                &field(),
                &AmountProblem::TaxRateUnsupported {
                    rate: super::money::format_plain(r),
                },
            );
            None
        }
        Err(ParseFailure::Precision | ParseFailure::TooLarge) => {
            issues.push(&field(), &AmountProblem::TaxRateUnsupported { rate: text() });
            None
        }
        Err(ParseFailure::NonInteger) => {
            issues.push(
                &field(),
                &AmountProblem::NotAString {
                    kind: NumberKind::TaxRate,
                },
            );
            None
        }
        Err(ParseFailure::Format) => {
            issues.push(
                &field(),
                &AmountProblem::Format {
                    kind: NumberKind::TaxRate,
                    found: text(),
                },
            );
            None
        }
    }
}

/// 零税率标识.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroRateFlag {
    /// `1`: 出口免税和其他免税优惠政策 (exempt).
    Exempt,
    /// `2`: 不征增值税 (outside VAT).
    NotTaxable,
    /// `3`: 普通零税率 (zero rate).
    ZeroRate,
}

impl ZeroRateFlag {
    fn code(self) -> &'static str {
        match self {
            ZeroRateFlag::Exempt => "1",
            ZeroRateFlag::NotTaxable => "2",
            ZeroRateFlag::ZeroRate => "3",
        }
    }
}

/// The 18 数电 优惠政策 codes (诺诺 `favouredPolicyFlag`, fa-piao 附件2).
pub const POLICIES: [(&str, &str); 18] = [
    ("01", "简易征收"),
    ("02", "稀土产品"),
    ("03", "免税"),
    ("04", "不征税"),
    ("05", "先征后退"),
    ("06", "100%先征后退"),
    ("07", "50%先征后退"),
    ("08", "按3%简易征收"),
    ("09", "按5%简易征收"),
    ("10", "按5%简易征收减按1.5%计征"),
    ("11", "即征即退30%"),
    ("12", "即征即退50%"),
    ("13", "即征即退70%"),
    ("14", "即征即退100%"),
    ("15", "超税负3%即征即退"),
    ("16", "超税负8%即征即退"),
    ("17", "超税负12%即征即退"),
    ("18", "超税负6%即征即退"),
];

/// Policies whose name fixes the rate (legacy provider rules 107108–107111).
const POLICY_RATES: [(&str, &str, &str, Decimal, &str); 5] = [
    ("03", "免税", "exempt", Decimal::ZERO, "0"),
    ("04", "不征税", "not taxable", Decimal::ZERO, "0"),
    (
        "08",
        "按3%简易征收",
        "simplified levy at 3%",
        Decimal::from_parts(3, 0, 0, false, 2),
        "3%",
    ),
    (
        "09",
        "按5%简易征收",
        "simplified levy at 5%",
        Decimal::from_parts(5, 0, 0, false, 2),
        "5%",
    ),
    (
        "10",
        "按5%简易征收减按1.5%计征",
        "5% levy reduced to 1.5%",
        Decimal::from_parts(15, 0, 0, false, 3),
        "1.5%",
    ),
];

/// Checks the zero-rate flag and the policy code of one line against its rate.
pub(crate) fn check_flags(
    issues: &mut Issues,
    i: usize,
    flag: Option<&str>,
    policy: Option<&str>,
    rate: Option<Decimal>,
) {
    let flag_field = || format!("lines[{i}].zeroRateFlag");
    let policy_field = || format!("lines[{i}].preferentialPolicy");
    let flag = match flag.map(str::trim) {
        None | Some("") | Some("0") => None,
        Some("1") => Some(ZeroRateFlag::Exempt),
        Some("2") => Some(ZeroRateFlag::NotTaxable),
        Some("3") => Some(ZeroRateFlag::ZeroRate),
        Some(other) => {
            issues.push(
                &flag_field(),
                &AmountProblem::ZeroRateFlagInvalid {
                    found: other.to_owned(),
                },
            );
            None
        }
    };
    let policy = match policy.map(str::trim) {
        None | Some("") => None,
        Some(p) => match POLICIES.iter().find(|(code, _)| *code == p) {
            Some((code, _)) => Some(*code),
            None => {
                issues.push(&policy_field(), &AmountProblem::PolicyInvalid { found: p.to_owned() });
                None
            }
        },
    };
    if let Some(rate) = rate {
        if flag.is_some() && !rate.is_zero() {
            issues.push(&flag_field(), &AmountProblem::ZeroRateFlagRate);
        }
        if let Some(&(code, name_zh, name_en, required, text)) = POLICY_RATES.iter().find(|p| Some(p.0) == policy) {
            if rate != required {
                issues.push(
                    &policy_field(),
                    &AmountProblem::PolicyRate {
                        policy: code,
                        name_zh,
                        name_en,
                        rate: text,
                    },
                );
            }
        }
        if rate.is_zero() && flag.is_none() && !matches!(policy, Some("03" | "04")) {
            issues.push(&format!("lines[{i}].taxRate"), &AmountProblem::ZeroRateUnspecified);
        }
    }
    if let (Some(flag), Some(policy)) = (flag, policy) {
        let agrees = match flag {
            ZeroRateFlag::Exempt => policy == "03",
            ZeroRateFlag::NotTaxable => policy == "04",
            ZeroRateFlag::ZeroRate => false,
        };
        if !agrees {
            issues.push(
                &flag_field(),
                &AmountProblem::ZeroRatePolicyMismatch {
                    flag: flag.code(),
                    policy: policy.to_owned(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(flag: Option<&str>, policy: Option<&str>, rate: &str) -> Vec<&'static str> {
        let mut issues = Issues::default();
        check_flags(&mut issues, 0, flag, policy, Some(rate.parse().unwrap()));
        issues
            .errors
            .iter()
            .chain(issues.warnings.iter())
            .map(|i| i.code)
            .collect()
    }

    #[test]
    fn rates() {
        let mut issues = Issues::default();
        for (s, want) in [
            ("0.13", "0.13"),
            ("13%", "0.13"),
            ("0.015", "0.015"),
            ("1.5%", "0.015"),
            ("0", "0"),
            ("0.0900", "0.09"),
        ] {
            let r = read_rate(&mut issues, 0, Some(DecimalRef::Text(s)));
            assert_eq!(r.map(|r| r.to_string()), Some(want.to_owned()), "{s}");
        }
        assert_eq!(
            read_rate(&mut issues, 0, Some(DecimalRef::Integer(0))),
            Some(Decimal::ZERO)
        );
        assert!(issues.errors.is_empty());
        for (s, code) in [
            ("0.17", "TAX_RATE_UNSUPPORTED"),
            ("13", "TAX_RATE_UNSUPPORTED"),
            ("abc", "TAX_RATE_FORMAT"),
            ("", "TAX_RATE_REQUIRED"),
            ("0.1234567", "TAX_RATE_UNSUPPORTED"),
        ] {
            let mut issues = Issues::default();
            assert_eq!(read_rate(&mut issues, 0, Some(DecimalRef::Text(s))), None);
            assert_eq!(issues.errors[0].code, code, "{s}");
        }
    }

    /// The same answer as a comparison of values with every rate in force.
    #[test]
    fn supported_rates_by_value() {
        for m in -20_000i64..20_000 {
            for scale in 0..7 {
                let r = Decimal::new(m, scale);
                assert_eq!(is_supported(r), RATES.contains(&r), "{r}");
            }
        }
        let mut negative_zero = Decimal::new(0, 3);
        negative_zero.set_sign_negative(true);
        assert!(is_supported(negative_zero));
        assert!(!is_supported(Decimal::MAX));
    }

    #[test]
    fn flags_and_policies() {
        assert!(codes(Some("1"), Some("03"), "0").is_empty());
        assert!(codes(Some("2"), Some("04"), "0").is_empty());
        assert!(codes(Some("3"), None, "0").is_empty());
        assert!(codes(None, Some("03"), "0").is_empty());
        assert!(codes(None, None, "0.13").is_empty());
        assert_eq!(codes(None, None, "0"), ["ZERO_RATE_UNSPECIFIED"]);
        assert_eq!(codes(Some("1"), None, "0.13"), ["ZERO_RATE_FLAG_RATE"]);
        assert_eq!(codes(None, Some("03"), "0.06"), ["PREFERENTIAL_POLICY_RATE"]);
        assert_eq!(codes(None, Some("10"), "0.05"), ["PREFERENTIAL_POLICY_RATE"]);
        assert!(codes(None, Some("10"), "0.015").is_empty());
        assert_eq!(codes(Some("1"), Some("04"), "0"), ["ZERO_RATE_POLICY_MISMATCH"]);
        assert_eq!(codes(Some("3"), Some("03"), "0"), ["ZERO_RATE_POLICY_MISMATCH"]);
        assert_eq!(codes(Some("7"), None, "0.13"), ["ZERO_RATE_FLAG_INVALID"]);
        assert_eq!(codes(None, Some("19"), "0.13"), ["PREFERENTIAL_POLICY_INVALID"]);
        assert!(codes(Some("0"), Some("11"), "0.13").is_empty());
    }
}
