//! Problems with the parts of a request that no other module checks: the order
//! number, the invoice type, the remark, the red-letter fields.

use crate::issue::{Rule, Severity};

/// A problem with an issuing or red-letter request. `Display` gives the English message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestProblem {
    /// `schemaVersion` is not one this crate reads.
    #[error("Request schema version {found} is not supported; this version reads schema version {supported}.")]
    SchemaVersion {
        /// What was given.
        found: String,
        /// The version this crate reads and writes.
        supported: u32,
    },
    /// No order number.
    #[error("Enter the order number.")]
    OrderIdRequired,
    /// An order number the providers do not accept.
    #[error("An order number has 1 to {max} letters, digits, “-” or “_”; “{found}” is not one.")]
    OrderIdFormat {
        /// What was given (shortened).
        found: String,
        /// The longest order number allowed.
        max: usize,
    },
    /// An invoice type other than 数电专票 / 数电普票.
    #[error("The invoice type must be “special” (数电专票) or “normal” (数电普票), not “{found}”.")]
    InvoiceTypeInvalid {
        /// What was given.
        found: String,
    },
    /// The remark is too long.
    #[error("The remark may have at most {max} characters; this one has {len}.")]
    RemarkTooLong {
        /// Characters found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Control characters in the remark.
    #[error("The remark contains invisible control characters.")]
    RemarkControl,
    /// A red request without the blue invoice's number.
    #[error("Enter the 20-digit number of the invoice to reverse.")]
    BlueNumberRequired,
    /// A blue invoice number that is not 20 digits.
    #[error("A fully digitalized invoice number has 20 digits; “{found}” does not.")]
    BlueNumberFormat {
        /// What was given (shortened).
        found: String,
    },
    /// No or an unknown red-letter reason.
    #[error("The reason must be 开票有误 (01), 销货退回 (02), 服务中止 (03) or 销售折让 (04), not “{found}”.")]
    RedReasonInvalid {
        /// What was given.
        found: String,
    },
    /// `full: true` together with lines, or neither.
    #[error("Either reverse the whole invoice (full) or list the lines to reverse, not both.")]
    RedScope,
    /// The red invoice's order number equals the blue one's.
    #[error("The red invoice needs an order number of its own, different from the blue invoice's.")]
    RedOrderIdSame,
    /// A 特定业务 block where the build carries no 特定业务 rules (the npm package's
    /// `fapiao/invoice` part; `fapiao/advanced` and the package root have them).
    #[error("This build of fapiao does not check 特定业务 (special business) blocks; load fapiao/advanced or the package root for construction, transport and real-estate invoices.")]
    SpecialBusinessUnsupported,
}

impl Rule for RequestProblem {
    fn code(&self) -> &'static str {
        use RequestProblem::*;
        match self {
            SchemaVersion { .. } => "REQUEST_SCHEMA_VERSION",
            OrderIdRequired => "ORDER_ID_REQUIRED",
            OrderIdFormat { .. } => "ORDER_ID_FORMAT",
            InvoiceTypeInvalid { .. } => "INVOICE_TYPE_INVALID",
            RemarkTooLong { .. } => "REMARK_TOO_LONG",
            RemarkControl => "REMARK_CONTROL_CHARACTERS",
            BlueNumberRequired => "RED_BLUE_NUMBER_REQUIRED",
            BlueNumberFormat { .. } => "RED_BLUE_NUMBER_FORMAT",
            RedReasonInvalid { .. } => "RED_REASON_INVALID",
            RedScope => "RED_SCOPE",
            RedOrderIdSame => "RED_ORDER_ID_SAME",
            SpecialBusinessUnsupported => "SPECIAL_BUSINESS_UNSUPPORTED",
        }
    }

    fn message_zh(&self) -> String {
        use RequestProblem::*;
        match self {
            SchemaVersion { found, supported } => format!("不支持请求结构版本{found}，当前版本为{supported}。"),
            OrderIdRequired => "请填写订单号。".into(),
            OrderIdFormat { found, max } => format!("订单号应为1至{max}位字母、数字、“-”或“_”，“{found}”不符合。"),
            InvoiceTypeInvalid { found } => format!("发票类型应为“special”（数电专票）或“normal”（数电普票），而不是“{found}”。"),
            RemarkTooLong { len, max } => format!("备注最多{max}个字符，当前为{len}个。"),
            RemarkControl => "备注含有不可见的控制字符。".into(),
            BlueNumberRequired => "请填写要冲红的蓝字发票号码（20位）。".into(),
            BlueNumberFormat { found } => format!("数电发票号码为20位数字，“{found}”不符合。"),
            RedReasonInvalid { found } => {
                format!("冲红原因应为开票有误（01）、销货退回（02）、服务中止（03）或销售折让（04），而不是“{found}”。")
            }
            RedScope => "请选择全额冲红，或列出部分冲红的明细行，二者只选其一。".into(),
            RedOrderIdSame => "红字发票需要单独的订单号，不能与蓝字发票相同。".into(),
            SpecialBusinessUnsupported => {
                "当前加载的 fapiao 模块不含特定业务（建筑服务、货物运输、不动产）规则，请加载 fapiao/advanced 或完整包。".into()
            }
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }
}
