//! Every problem the amount engine reports, with its stable code and both messages.

use crate::issue::{Rule, Severity};

/// Which number a format problem concerns; it decides the code prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    /// 金额 / 含税金额 / 税额 / 扣除额 / a discount: `AMOUNT_*`.
    Amount,
    /// 数量: `QUANTITY_*`.
    Quantity,
    /// 单价: `UNIT_PRICE_*`.
    UnitPrice,
    /// 税率: `TAX_RATE_*`.
    TaxRate,
}

impl NumberKind {
    fn en(self) -> &'static str {
        match self {
            NumberKind::Amount => "The amount",
            NumberKind::Quantity => "The quantity",
            NumberKind::UnitPrice => "The unit price",
            NumberKind::TaxRate => "The tax rate",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            NumberKind::Amount => "金额",
            NumberKind::Quantity => "数量",
            NumberKind::UnitPrice => "单价",
            NumberKind::TaxRate => "税率",
        }
    }
}

/// A problem with invoice amounts. `Display` gives the English message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountProblem {
    /// Not a decimal number.
    #[error("{} “{found}” is not a decimal number.", kind.en())]
    Format {
        /// Which number.
        kind: NumberKind,
        /// The input.
        found: String,
    },
    /// A JS number with a fraction (it may already be off by a cent).
    #[error("{} must be sent as a decimal string such as \"12.50\"; a number with a fraction is not accepted.", kind.en())]
    NotAString {
        /// Which number.
        kind: NumberKind,
    },
    /// More decimals than allowed.
    #[error("{} may have at most {max} decimal places.", kind.en())]
    Precision {
        /// Which number.
        kind: NumberKind,
        /// The allowed decimals.
        max: u32,
    },
    /// Absurdly large.
    #[error("{} is too large (at most {max_digits} digits before the decimal point).", kind.en())]
    TooLarge {
        /// Which number.
        kind: NumberKind,
        /// Integer digits allowed.
        max_digits: usize,
    },
    /// No tax rate.
    #[error("Enter the tax rate.")]
    TaxRateRequired,
    /// A rate that is not in force.
    #[error("{rate} is not a VAT rate or levy rate in force (13%, 9%, 6%, 5%, 3%, 1.5%, 1%, 0.5%, 0).")]
    TaxRateUnsupported {
        /// The rate as a decimal.
        rate: String,
    },
    /// `kind` is neither normal nor discount.
    #[error("The line kind must be “normal” or “discount”, not “{found}”.")]
    LineKindInvalid {
        /// The input.
        found: String,
    },
    /// No item name.
    #[error("Enter the item name.")]
    LineNameRequired,
    /// Neither an amount nor quantity and unit price.
    #[error("Enter the amount, or both the quantity and the unit price.")]
    LineAmountRequired,
    /// Quantity without unit price or the reverse, and no amount.
    #[error("Quantity and unit price go together: enter both, or leave both empty and enter the amount.")]
    QuantityPriceTogether,
    /// A zero amount.
    #[error("A line amount cannot be zero.")]
    LineAmountZero,
    /// A sign that does not fit the line.
    #[error("{}", match context { SignContext::Blue => "A line of a blue invoice must have a positive amount; give a reduction as a discount line.", SignContext::Red => "Every amount on a red invoice is negative.", SignContext::Discount => "A discount line's amount is negative." })]
    LineAmountSign {
        /// What the line is.
        context: SignContext,
    },
    /// The given tax has the wrong sign.
    #[error("The tax must have the same sign as the amount.")]
    LineTaxSign,
    /// A quantity of the wrong sign (or zero).
    #[error("{}", if *red { "The quantity of a red or discount line is negative." } else { "The quantity must be greater than zero." })]
    QuantitySign {
        /// Whether a negative quantity was expected.
        red: bool,
    },
    /// A unit price of zero or below.
    #[error("The unit price must be greater than zero (red lines too: their quantity is negative).")]
    UnitPriceSign,
    /// |单价 × 数量 − 金额| > 0.01.
    #[error("Unit price × quantity = {product}, which differs from the amount {amount} by more than 0.01.")]
    LineAmountTolerance {
        /// 单价 × 数量, exactly.
        product: String,
        /// 金额.
        amount: String,
    },
    /// |金额 × 税率 − 税额| > 0.06.
    #[error("The tax {found} differs from amount × rate = {expected} by more than 0.06.")]
    LineTaxTolerance {
        /// Amount × rate (less the deduction).
        expected: String,
        /// The tax given.
        found: String,
    },
    /// Tax on a zero-rate line.
    #[error("A line at 0% has no tax.")]
    ZeroRateTax,
    /// A 零税率标识 that does not exist.
    #[error("The zero-rate flag must be 1 (exempt), 2 (not taxable) or 3 (zero rate), not “{found}”.")]
    ZeroRateFlagInvalid {
        /// The input.
        found: String,
    },
    /// A zero-rate flag on a line whose rate is not 0.
    #[error("A zero-rate flag requires the tax rate 0.")]
    ZeroRateFlagRate,
    /// Rate 0 with nothing saying why (warning).
    #[error("The rate is 0 but neither the zero-rate flag nor a preferential policy (03 exempt, 04 not taxable) says why; it will be read as an ordinary zero rate.")]
    ZeroRateUnspecified,
    /// An unknown 优惠政策 code.
    #[error("The preferential policy code must be 01–18, not “{found}”.")]
    PolicyInvalid {
        /// The input.
        found: String,
    },
    /// A policy whose name fixes the rate, with another rate.
    #[error("Policy {policy} ({name_en}) requires the tax rate {rate}.")]
    PolicyRate {
        /// The policy code.
        policy: &'static str,
        /// Its Chinese name.
        name_zh: &'static str,
        /// Its English name.
        name_en: &'static str,
        /// The rate it requires.
        rate: &'static str,
    },
    /// A zero-rate flag and a policy that say different things.
    #[error("Zero-rate flag {flag} does not agree with preferential policy {policy}.")]
    ZeroRatePolicyMismatch {
        /// The flag.
        flag: &'static str,
        /// The policy code.
        policy: String,
    },
    /// 专票 with a 0% line.
    #[error("A special VAT invoice (数电专票) cannot carry a 0% line; issue a normal invoice for exempt or zero-rated items.")]
    SpecialZeroRate,
    /// A discount line not directly after a normal line.
    #[error(
        "A discount line must come directly after the line it discounts, and a line has at most one discount line."
    )]
    DiscountPosition,
    /// A discount line named differently from its line.
    #[error("A discount line must have the same item name as the line it discounts (“{expected}”).")]
    DiscountName {
        /// The discounted line's name.
        expected: String,
    },
    /// A discount line at another rate.
    #[error("A discount line must have the same tax rate as the line it discounts ({expected}).")]
    DiscountRate {
        /// The discounted line's rate.
        expected: String,
    },
    /// |discount| > discounted amount.
    #[error("The discount {discount} is larger than the amount {amount} of the line it discounts.")]
    DiscountExceedsLine {
        /// The discount's amount (absolute).
        discount: String,
        /// The line's amount.
        amount: String,
    },
    /// 扣除额 out of range.
    #[error("The deduction must be greater than zero and less than the line amount {amount} (on a red invoice: negative, and smaller in size).")]
    DeductionRange {
        /// The line amount in the input basis.
        amount: String,
    },
    /// 扣除额 on a 0% line.
    #[error("A line at 0% cannot have a deduction (差额征税).")]
    DeductionZeroRate,
    /// 扣除额 on an invoice with more than one line.
    #[error("An invoice with a deduction (差额征税) has exactly one line.")]
    DeductionSingleLine,
    /// 扣除额 on a discount line.
    #[error("A discount line cannot carry a deduction.")]
    DeductionOnDiscount,
    /// No lines at all.
    #[error("An invoice needs at least one line.")]
    NoLines,
    /// More lines than the providers accept.
    #[error("An invoice has at most {max} lines (discount lines included); this one has {count}.")]
    TooManyLines {
        /// Lines given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// 价税合计 ≤ 0 on a blue invoice.
    #[error("The total of a blue invoice must be greater than zero.")]
    TotalNotPositive,
    /// 价税合计 ≥ 0 on a red invoice.
    #[error("The total of a red invoice must be less than zero.")]
    RedTotalNotNegative,
    /// The total is larger than the amount fields hold.
    #[error(
        "The invoice total is too large for one invoice (at most 13 digits before the decimal point); split the order."
    )]
    TotalTooLarge,
    /// A discount line on a red invoice.
    #[error("A red invoice has normal lines only; include the discount in the line's amount.")]
    RedDiscountLine,
    /// A decimals option out of range.
    #[error("{what} must be between 0 and {max}.")]
    DecimalsOption {
        /// The option name.
        what: &'static str,
        /// The largest value.
        max: u32,
    },
    /// A 红冲原因 code that does not exist.
    #[error("The red-invoice reason must be 01 (issued in error), 02 (goods returned), 03 (service stopped) or 04 (sales allowance), not “{found}”.")]
    RedReasonInvalid {
        /// The input.
        found: String,
    },
    /// Partial red with reason 01.
    #[error("An invoice issued in error (reason 01) can only be reversed in full.")]
    RedPartialReason,
    /// A blue line number that does not exist or is a discount line.
    #[error("Line {line_no} of the blue invoice does not exist or is a discount line.")]
    RedLineUnknown {
        /// The 1-based line number given.
        line_no: usize,
    },
    /// Red lines not in the order of the blue lines.
    #[error("Red lines must follow the order of the blue invoice's lines, each at most once.")]
    RedLineOrder,
    /// Neither quantity nor amount for a partial red line.
    #[error("Enter the quantity returned or the amount to reverse.")]
    RedLineEmpty,
    /// A quantity for a blue line that has none.
    #[error("Line {line_no} of the blue invoice has no quantity; reverse an amount instead.")]
    RedQuantityNotApplicable {
        /// The 1-based line number.
        line_no: usize,
    },
    /// More than what remains.
    #[error("Only {remaining} of this line remains to be reversed.")]
    RedExceedsRemaining {
        /// What remains (amount or quantity).
        remaining: String,
    },
    /// Everything is reversed already.
    #[error("The blue invoice has already been reversed in full.")]
    RedNothingLeft,
    /// Partial red of a 差额 invoice.
    #[error("A deduction (差额征税) invoice can only be reversed in full here.")]
    RedDeductionPartial,
    /// An order discount that cannot be spread.
    #[error("The order discount {discount} must be greater than zero and at most the order amount {total}.")]
    SpreadDiscountRange {
        /// The discount.
        discount: String,
        /// The order amount.
        total: String,
    },
    /// A split limit that cannot be met.
    #[error("The split limits are not usable: {reason}")]
    SplitLimit {
        /// Why, in English.
        reason: &'static str,
        /// Why, in Chinese.
        reason_zh: &'static str,
    },
    /// A single unit of a line exceeds the per-invoice amount limit.
    #[error("One unit of this line ({unit_amount}) already exceeds the per-invoice limit.")]
    SplitUnitTooLarge {
        /// The amount of one unit.
        unit_amount: String,
    },
    /// Only blue invoices without deduction are split.
    #[error("Only blue invoices without a deduction (差额征税) can be split.")]
    SplitUnsupported,
    /// A part failed its own checks (a defect; nothing is returned).
    #[error("Splitting produced a part that fails its checks ({code}); the order was not split.")]
    SplitFailed {
        /// The first error code of the part.
        code: &'static str,
    },
}

/// What kind of line a sign rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignContext {
    /// A normal line of a blue invoice.
    Blue,
    /// A line of a red invoice.
    Red,
    /// A discount line.
    Discount,
}

impl Rule for AmountProblem {
    fn code(&self) -> &'static str {
        use AmountProblem::*;
        use NumberKind as K;
        match self {
            Format { kind, .. } | NotAString { kind } => match kind {
                K::Amount => "AMOUNT_FORMAT",
                K::Quantity => "QUANTITY_FORMAT",
                K::UnitPrice => "UNIT_PRICE_FORMAT",
                K::TaxRate => "TAX_RATE_FORMAT",
            },
            Precision { kind, .. } => match kind {
                K::Amount => "AMOUNT_PRECISION",
                K::Quantity => "QUANTITY_PRECISION",
                K::UnitPrice => "UNIT_PRICE_PRECISION",
                K::TaxRate => "TAX_RATE_UNSUPPORTED",
            },
            TooLarge { kind, .. } => match kind {
                K::Amount => "AMOUNT_TOO_LARGE",
                K::Quantity => "QUANTITY_TOO_LARGE",
                K::UnitPrice => "UNIT_PRICE_TOO_LARGE",
                K::TaxRate => "TAX_RATE_UNSUPPORTED",
            },
            TaxRateRequired => "TAX_RATE_REQUIRED",
            TaxRateUnsupported { .. } => "TAX_RATE_UNSUPPORTED",
            LineKindInvalid { .. } => "LINE_KIND_INVALID",
            LineNameRequired => "LINE_NAME_REQUIRED",
            LineAmountRequired => "LINE_AMOUNT_REQUIRED",
            QuantityPriceTogether => "LINE_QUANTITY_PRICE_TOGETHER",
            LineAmountZero => "LINE_AMOUNT_ZERO",
            LineAmountSign { .. } => "LINE_AMOUNT_SIGN",
            LineTaxSign => "LINE_TAX_SIGN",
            QuantitySign { .. } => "QUANTITY_SIGN",
            UnitPriceSign => "UNIT_PRICE_SIGN",
            LineAmountTolerance { .. } => "LINE_AMOUNT_TOLERANCE",
            LineTaxTolerance { .. } => "LINE_TAX_TOLERANCE",
            ZeroRateTax => "ZERO_RATE_TAX",
            ZeroRateFlagInvalid { .. } => "ZERO_RATE_FLAG_INVALID",
            ZeroRateFlagRate => "ZERO_RATE_FLAG_RATE",
            ZeroRateUnspecified => "ZERO_RATE_UNSPECIFIED",
            PolicyInvalid { .. } => "PREFERENTIAL_POLICY_INVALID",
            PolicyRate { .. } => "PREFERENTIAL_POLICY_RATE",
            ZeroRatePolicyMismatch { .. } => "ZERO_RATE_POLICY_MISMATCH",
            SpecialZeroRate => "SPECIAL_INVOICE_ZERO_RATE",
            DiscountPosition => "DISCOUNT_POSITION",
            DiscountName { .. } => "DISCOUNT_NAME_MISMATCH",
            DiscountRate { .. } => "DISCOUNT_RATE_MISMATCH",
            DiscountExceedsLine { .. } => "DISCOUNT_EXCEEDS_LINE",
            DeductionRange { .. } => "DEDUCTION_RANGE",
            DeductionZeroRate => "DEDUCTION_ZERO_RATE",
            DeductionSingleLine => "DEDUCTION_SINGLE_LINE",
            DeductionOnDiscount => "DEDUCTION_ON_DISCOUNT",
            NoLines => "INVOICE_NO_LINES",
            TooManyLines { .. } => "INVOICE_TOO_MANY_LINES",
            TotalNotPositive => "INVOICE_TOTAL_NOT_POSITIVE",
            RedTotalNotNegative => "RED_TOTAL_NOT_NEGATIVE",
            TotalTooLarge => "INVOICE_TOTAL_TOO_LARGE",
            RedDiscountLine => "RED_DISCOUNT_LINE",
            DecimalsOption { .. } => "DECIMALS_OPTION_INVALID",
            RedReasonInvalid { .. } => "RED_REASON_INVALID",
            RedPartialReason => "RED_PARTIAL_REASON",
            RedLineUnknown { .. } => "RED_LINE_UNKNOWN",
            RedLineOrder => "RED_LINE_ORDER",
            RedLineEmpty => "RED_LINE_EMPTY",
            RedQuantityNotApplicable { .. } => "RED_QUANTITY_NOT_APPLICABLE",
            RedExceedsRemaining { .. } => "RED_EXCEEDS_REMAINING",
            RedNothingLeft => "RED_NOTHING_LEFT",
            RedDeductionPartial => "RED_DEDUCTION_PARTIAL",
            SpreadDiscountRange { .. } => "DISCOUNT_SPREAD_RANGE",
            SplitLimit { .. } => "SPLIT_LIMIT_INVALID",
            SplitUnitTooLarge { .. } => "SPLIT_UNIT_TOO_LARGE",
            SplitUnsupported => "SPLIT_UNSUPPORTED",
            SplitFailed { .. } => "SPLIT_FAILED",
        }
    }

    fn message_zh(&self) -> String {
        use AmountProblem::*;
        match self {
            Format { kind, found } => format!("{}“{found}”不是有效的数字。", kind.zh()),
            NotAString { kind } => format!(
                "{}请以字符串形式传入（如\"12.50\"），不接受带小数的数值类型。",
                kind.zh()
            ),
            Precision { kind, max } => format!("{}最多保留{max}位小数。", kind.zh()),
            TooLarge { kind, max_digits } => {
                format!("{}过大（整数部分最多{max_digits}位）。", kind.zh())
            }
            TaxRateRequired => "请填写税率。".into(),
            TaxRateUnsupported { rate } => {
                format!("{rate}不是现行税率或征收率（13%、9%、6%、5%、3%、1.5%、1%、0.5%、0）。")
            }
            LineKindInvalid { found } => {
                format!("发票行性质应为“normal”（正常行）或“discount”（折扣行），而不是“{found}”。")
            }
            LineNameRequired => "请填写项目名称。".into(),
            LineAmountRequired => "请填写金额，或同时填写数量和单价。".into(),
            QuantityPriceTogether => "单价和数量必须同时填写，或同时为空并填写金额。".into(),
            LineAmountZero => "明细行金额不能为0。".into(),
            LineAmountSign { context } => match context {
                SignContext::Blue => "蓝字发票的正常行金额应为正数；优惠请使用折扣行。".into(),
                SignContext::Red => "红字发票的金额应为负数。".into(),
                SignContext::Discount => "折扣行金额应为负数。".into(),
            },
            LineTaxSign => "税额应与金额同号。".into(),
            QuantitySign { red } => {
                if *red {
                    "红字发票和折扣行的数量应为负数。".into()
                } else {
                    "数量应大于0。".into()
                }
            }
            UnitPriceSign => "单价应大于0（红字发票以负数数量表示）。".into(),
            LineAmountTolerance { product, amount } => {
                format!("单价×数量={product}，与金额{amount}的误差超过0.01。")
            }
            LineTaxTolerance { expected, found } => {
                format!("税额{found}与金额×税率={expected}的误差超过0.06。")
            }
            ZeroRateTax => "税率为0的行税额应为0。".into(),
            ZeroRateFlagInvalid { found } => {
                format!("零税率标识应为1（免税）、2（不征税）或3（普通零税率），而不是“{found}”。")
            }
            ZeroRateFlagRate => "填写了零税率标识时税率必须为0。".into(),
            ZeroRateUnspecified => {
                "税率为0，但未填写零税率标识或优惠政策（03免税、04不征税），将按普通零税率处理。".into()
            }
            PolicyInvalid { found } => format!("优惠政策标识应为01–18，而不是“{found}”。"),
            PolicyRate {
                policy, name_zh, rate, ..
            } => format!("优惠政策{policy}（{name_zh}）要求税率为{rate}。"),
            ZeroRatePolicyMismatch { flag, policy } => {
                format!("零税率标识{flag}与优惠政策{policy}不一致。")
            }
            SpecialZeroRate => "数电专票不能开具税率为0的项目；免税或零税率项目请开具数电普票。".into(),
            DiscountPosition => "折扣行必须紧跟在被折扣行之后，且每行最多一个折扣行。".into(),
            DiscountName { expected } => {
                format!("折扣行的项目名称必须与被折扣行相同（“{expected}”）。")
            }
            DiscountRate { expected } => format!("折扣行的税率必须与被折扣行相同（{expected}）。"),
            DiscountExceedsLine { discount, amount } => {
                format!("折扣金额{discount}大于被折扣行金额{amount}。")
            }
            DeductionRange { amount } => {
                format!("扣除额应大于0且小于本行金额{amount}（红字发票为负数，且绝对值小于本行金额）。")
            }
            DeductionZeroRate => "税率为0的行不能差额征税（填写扣除额）。".into(),
            DeductionSingleLine => "差额征税发票只能有一行明细。".into(),
            DeductionOnDiscount => "折扣行不能填写扣除额。".into(),
            NoLines => "发票至少需要一行明细。".into(),
            TooManyLines { count, max } => {
                format!("一张发票最多{max}行明细（含折扣行），当前为{count}行。")
            }
            TotalNotPositive => "蓝字发票的价税合计必须大于0。".into(),
            RedTotalNotNegative => "红字发票的价税合计必须小于0。".into(),
            TotalTooLarge => "价税合计过大（整数部分最多13位），请拆分开票。".into(),
            RedDiscountLine => "红字发票只能有正常行，折扣请并入该行金额。".into(),
            DecimalsOption { what, max } => format!("{what}应在0到{max}之间。"),
            RedReasonInvalid { found } => {
                format!("红冲原因应为01（开票有误）、02（销货退回）、03（服务中止）或04（销售折让），而不是“{found}”。")
            }
            RedPartialReason => "开票有误（原因01）只能全额红冲。".into(),
            RedLineUnknown { line_no } => format!("蓝字发票第{line_no}行不存在或是折扣行。"),
            RedLineOrder => "红冲明细须按蓝字发票的行序排列，每行最多一次。".into(),
            RedLineEmpty => "请填写退回数量或红冲金额。".into(),
            RedQuantityNotApplicable { line_no } => {
                format!("蓝字发票第{line_no}行没有数量，请按金额红冲。")
            }
            RedExceedsRemaining { remaining } => format!("该行剩余可红冲的只有{remaining}。"),
            RedNothingLeft => "该蓝字发票已全额红冲。".into(),
            RedDeductionPartial => "差额征税发票只能全额红冲。".into(),
            SpreadDiscountRange { discount, total } => {
                format!("整单折扣{discount}应大于0且不超过订单金额{total}。")
            }
            SplitLimit { reason_zh, .. } => format!("拆分限额不可用：{reason_zh}"),
            SplitUnitTooLarge { unit_amount } => {
                format!("该行单个数量的金额（{unit_amount}）已超过单张发票限额。")
            }
            SplitUnsupported => "只有不含扣除额（差额征税）的蓝字发票可以拆分。".into(),
            SplitFailed { code } => format!("拆分后的发票未通过校验（{code}），订单未拆分。"),
        }
    }

    fn severity(&self) -> Severity {
        match self {
            AmountProblem::ZeroRateUnspecified => Severity::Warning,
            _ => Severity::Error,
        }
    }
}
