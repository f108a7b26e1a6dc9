//! Problems the proxy itself reports, in the package's `Issue` shape, and the
//! mapping of provider error codes onto the package's codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fapiao::{Issue, Rule, Severity};

/// A problem found by the proxy. `Display` gives the English message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyProblem {
    /// The body is not JSON of the expected shape.
    #[error("The request body is not valid: {detail}.")]
    BodyInvalid {
        /// What is wrong (no values echoed).
        detail: String,
    },
    /// The body is larger than `FAPIAO_BODY_LIMIT`.
    #[error("The request body is larger than {limit} bytes.")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not sent as `application/json`.
    #[error("The request body must be sent as application/json.")]
    ContentType,
    /// No order token.
    #[error("An order token is required.")]
    TokenMissing,
    /// The token is not in the documented format.
    #[error("The order token is malformed.")]
    TokenMalformed,
    /// The signature does not verify under the merchant key.
    #[error("The order token's signature is not valid.")]
    TokenSignature,
    /// The token has expired.
    #[error("The order token has expired.")]
    TokenExpired,
    /// Reading an order without its access token or order token.
    #[error("Reading this order needs its access token (returned when it was submitted) or its order token.")]
    AccessDenied,
    /// The token is for another seller or purpose.
    #[error("The order token is not for this request: {what}.")]
    TokenMismatch {
        /// What differs.
        what: &'static str,
        /// The same in Chinese.
        what_zh: &'static str,
    },
    /// The order id is used with another payload.
    #[error("Order {order_id} was already submitted with different content.")]
    OrderConflict {
        /// The order id.
        order_id: String,
    },
    /// No such order.
    #[error("There is no order {order_id}.")]
    OrderNotFound {
        /// The order id.
        order_id: String,
    },
    /// The blue invoice cannot be reversed (not issued yet, or already reversed).
    #[error("Order {order_id} has no issued invoice that can be reversed.")]
    NotReversible {
        /// The order id.
        order_id: String,
    },
    /// Too many requests from this client.
    #[error("Too many requests; try again in a moment.")]
    RateLimited,
    /// The demo endpoint is off.
    #[error("The demo endpoint is only available with the sandbox provider.")]
    DemoDisabled,
    /// The callback token is wrong.
    #[error("The callback is not authorised.")]
    CallbackUnauthorized,
    /// A store failure.
    #[error("The order could not be stored; nothing was issued. Try again.")]
    StoreUnavailable,
    /// The provider refused the request with a code the proxy maps to no package code.
    #[error("The invoicing provider refused the request ({provider_code}).")]
    ProviderRejected {
        /// The provider's code.
        provider_code: String,
        /// The provider's text (Chinese).
        detail: String,
    },
    /// The seller tax ID is not registered with the provider (诺诺 E9301).
    #[error("The seller's taxpayer ID is not registered with the invoicing provider.")]
    SellerNotRegistered,
    /// The seller tax ID differs from the authorised one (诺诺 E9302).
    #[error("The seller's taxpayer ID does not match the provider account.")]
    SellerMismatch,
    /// Issuing failed at the tax bureau (诺诺 status 22/24).
    #[error("Issuing failed at the tax bureau: {detail}")]
    IssuingFailed {
        /// The reason given by the provider.
        detail: String,
    },
    /// The buyer's tax ID is not known to the tax bureau.
    #[error("The tax bureau does not know the buyer's taxpayer ID; check it.")]
    BuyerTaxIdUnknown,
    /// The provider has no such method (e.g. listing invoices).
    #[error("The invoicing provider does not support this ({what}).")]
    ProviderUnsupported {
        /// The method.
        what: String,
    },
    /// Delivery needs an e-mail address or a mobile number.
    #[error("Give an e-mail address or a mobile number to deliver the invoice to.")]
    DeliveryChannelRequired,
    /// Only an issued invoice can be delivered.
    #[error("Order {order_id} has no issued invoice to deliver.")]
    DeliveryNotIssued {
        /// The order id.
        order_id: String,
    },
    /// Too many deliveries of one order.
    #[error("This invoice was delivered too often recently; try again later.")]
    DeliveryRateLimited,
    /// The provider did not deliver.
    #[error("The invoicing provider did not deliver the invoice: {detail}")]
    DeliveryFailed {
        /// Why.
        detail: String,
    },
    /// The admin endpoints are off (no `FAPIAO_ADMIN_TOKEN`).
    #[error("The admin endpoints are disabled.")]
    AdminDisabled,
    /// Wrong or missing admin token.
    #[error("The admin token is missing or wrong.")]
    AdminUnauthorized,
    /// The archived file is not (yet) available.
    #[error("The file {kind} of order {order_id} is not available.")]
    FileNotAvailable {
        /// The order id.
        order_id: String,
        /// The file kind.
        kind: String,
    },
    /// The red-letter confirmation lapsed or was rejected.
    #[error("The red-letter confirmation form was not confirmed ({detail}).")]
    RedNotConfirmed {
        /// The provider's status text.
        detail: String,
    },
    /// The provider holds an invoice under the order's number that is not the
    /// order's (another system of the seller used the number).
    #[error("The invoicing provider holds another invoice under this order number (it differs in: {fields}); it was not taken as this order's. A person must look at it.")]
    ProviderInvoiceMismatch {
        /// The facts that differ (`amountInclTax, buyer.name, …`).
        fields: String,
    },
    /// With the deployment's order-number prefix, the order id is too long for the provider.
    #[error("With this deployment's order-number prefix the order id may have at most {max} characters.")]
    OrderIdTooLongForPrefix {
        /// The most characters the order id may have.
        max: usize,
    },
    /// The token's `issuedAt` lies in the future beyond the allowed clock skew.
    #[error("The order token is issued in the future; check the clock of the system that signed it.")]
    TokenNotYetValid,
    /// The query string is not valid for this endpoint.
    #[error("The query string is not valid: {detail}.")]
    QueryInvalid {
        /// What is wrong.
        detail: String,
    },
    /// A path parameter is not valid.
    #[error("The path is not valid: {detail}.")]
    PathInvalid {
        /// What is wrong.
        detail: String,
    },
    /// The request target is not an absolute path (`GET db.sqlite`).
    #[error("The request target must be a path starting with “/”.")]
    TargetInvalid,
    /// The endpoint does not take this method.
    #[error("This endpoint does not take the method {method}.")]
    MethodNotAllowed {
        /// The method.
        method: String,
    },
    /// No such endpoint.
    #[error("There is no such endpoint.")]
    RouteNotFound,
    /// The token names a seller this deployment does not invoice for.
    #[error("This deployment does not invoice for seller {tax_id}.")]
    SellerUnknown {
        /// The tax ID the token names.
        tax_id: String,
    },
    /// The credential is another seller's: an order token or key of one seller
    /// grants nothing over another seller's orders.
    #[error("The credential belongs to another seller.")]
    SellerForbidden,
    /// The seller does not offer this invoice type (its `invoice_types`).
    #[error("The seller does not offer this invoice type.")]
    InvoiceTypeNotOffered,
    /// The sellers file has problems (a reload kept the sellers in force).
    #[error("The sellers file has problems: {detail}")]
    SellersInvalid {
        /// The problems, one per line.
        detail: String,
    },
    /// A batch endpoint was called without an operator key.
    #[error("An operator key is required (Authorization: Bearer …).")]
    OperatorKeyRequired,
    /// The key presented is no configured operator key (an order token or the
    /// admin token is none either).
    #[error("The key is not a valid operator key.")]
    OperatorKeyInvalid,
    /// No such batch.
    #[error("There is no batch {batch_id}.")]
    BatchNotFound {
        /// The batch id.
        batch_id: String,
    },
    /// A batch holds 1 to `max` orders.
    #[error("A batch holds 1 to {max} orders; this one has {count}.")]
    BatchSize {
        /// The most orders.
        max: usize,
        /// The orders sent.
        count: usize,
    },
}

impl Rule for ProxyProblem {
    fn code(&self) -> &'static str {
        use ProxyProblem::*;
        match self {
            BodyInvalid { .. } => "REQUEST_BODY_INVALID",
            BodyTooLarge { .. } => "REQUEST_BODY_TOO_LARGE",
            ContentType => "REQUEST_CONTENT_TYPE",
            TokenMissing => "ORDER_TOKEN_MISSING",
            TokenMalformed => "ORDER_TOKEN_MALFORMED",
            TokenSignature => "ORDER_TOKEN_SIGNATURE",
            TokenExpired => "ORDER_TOKEN_EXPIRED",
            AccessDenied => "ORDER_ACCESS_DENIED",
            TokenMismatch { .. } => "ORDER_TOKEN_MISMATCH",
            OrderConflict { .. } => "ORDER_CONFLICT",
            OrderNotFound { .. } => "ORDER_NOT_FOUND",
            NotReversible { .. } => "RED_NOT_REVERSIBLE",
            RateLimited => "RATE_LIMITED",
            DemoDisabled => "DEMO_DISABLED",
            CallbackUnauthorized => "CALLBACK_UNAUTHORIZED",
            StoreUnavailable => "STORE_UNAVAILABLE",
            ProviderRejected { .. } => "PROVIDER_REJECTED",
            SellerNotRegistered => "SELLER_NOT_REGISTERED",
            SellerMismatch => "SELLER_TAXID_MISMATCH",
            IssuingFailed { .. } => "ISSUING_FAILED",
            BuyerTaxIdUnknown => "BUYER_TAXID_NOT_FOUND",
            RedNotConfirmed { .. } => "RED_NOT_CONFIRMED",
            ProviderUnsupported { .. } => "PROVIDER_UNSUPPORTED",
            DeliveryChannelRequired => "DELIVERY_CHANNEL_REQUIRED",
            DeliveryNotIssued { .. } => "DELIVERY_NOT_ISSUED",
            DeliveryRateLimited => "DELIVERY_RATE_LIMITED",
            DeliveryFailed { .. } => "DELIVERY_FAILED",
            AdminDisabled => "ADMIN_DISABLED",
            AdminUnauthorized => "ADMIN_UNAUTHORIZED",
            FileNotAvailable { .. } => "FILE_NOT_AVAILABLE",
            ProviderInvoiceMismatch { .. } => "PROVIDER_INVOICE_MISMATCH",
            OrderIdTooLongForPrefix { .. } => "ORDER_ID_TOO_LONG_FOR_PREFIX",
            TokenNotYetValid => "ORDER_TOKEN_NOT_YET_VALID",
            QueryInvalid { .. } => "REQUEST_QUERY_INVALID",
            PathInvalid { .. } => "REQUEST_PATH_INVALID",
            TargetInvalid => "REQUEST_TARGET_INVALID",
            MethodNotAllowed { .. } => "REQUEST_METHOD_NOT_ALLOWED",
            RouteNotFound => "ROUTE_NOT_FOUND",
            SellerUnknown { .. } => "SELLER_UNKNOWN",
            SellerForbidden => "SELLER_FORBIDDEN",
            SellersInvalid { .. } => "SELLERS_INVALID",
            InvoiceTypeNotOffered => "INVOICE_TYPE_NOT_OFFERED",
            OperatorKeyRequired => "OPERATOR_KEY_REQUIRED",
            OperatorKeyInvalid => "OPERATOR_KEY_INVALID",
            BatchNotFound { .. } => "BATCH_NOT_FOUND",
            BatchSize { .. } => "BATCH_SIZE",
        }
    }

    fn message_zh(&self) -> String {
        use ProxyProblem::*;
        match self {
            BodyInvalid { detail } => format!("请求内容无效：{detail}。"),
            BodyTooLarge { limit } => format!("请求内容超过{limit}字节。"),
            ContentType => "请求内容须以application/json发送。".into(),
            TokenMissing => "缺少订单令牌。".into(),
            TokenMalformed => "订单令牌格式不正确。".into(),
            TokenSignature => "订单令牌签名无效。".into(),
            TokenExpired => "订单令牌已过期。".into(),
            AccessDenied => "查看此订单需要提交时返回的访问令牌或该订单的订单令牌。".into(),
            TokenMismatch { what_zh, .. } => format!("订单令牌与本次请求不符：{what_zh}。"),
            OrderConflict { order_id } => format!("订单{order_id}已以不同内容提交过。"),
            OrderNotFound { order_id } => format!("没有订单{order_id}。"),
            NotReversible { order_id } => format!("订单{order_id}没有可冲红的已开发票。"),
            RateLimited => "请求过于频繁，请稍后再试。".into(),
            DemoDisabled => "演示接口仅在沙箱模式下可用。".into(),
            CallbackUnauthorized => "回调未授权。".into(),
            StoreUnavailable => "订单未能保存，未开票，请重试。".into(),
            ProviderRejected { provider_code, detail } => format!("开票服务商拒绝了请求（{provider_code}）：{detail}"),
            SellerNotRegistered => "销方税号未在开票服务商处备案。".into(),
            SellerMismatch => "销方税号与开票服务商授权的企业税号不一致。".into(),
            IssuingFailed { detail } => format!("税务机关开票失败：{detail}"),
            BuyerTaxIdUnknown => "税务机关未查到购买方纳税人识别号，请核对。".into(),
            RedNotConfirmed { detail } => format!("红字确认单未获确认（{detail}）。"),
            ProviderUnsupported { what } => format!("开票服务商不支持此操作（{what}）。"),
            DeliveryChannelRequired => "请提供接收发票的邮箱或手机号。".into(),
            DeliveryNotIssued { order_id } => format!("订单{order_id}没有可交付的已开发票。"),
            DeliveryRateLimited => "该发票近期交付次数过多，请稍后再试。".into(),
            DeliveryFailed { detail } => format!("开票服务商未能交付发票：{detail}"),
            AdminDisabled => "管理接口未启用。".into(),
            AdminUnauthorized => "管理令牌缺失或错误。".into(),
            FileNotAvailable { order_id, kind } => format!("订单{order_id}的{kind}文件不可用。"),
            ProviderInvoiceMismatch { fields } => {
                format!("开票服务商在此订单号下已有另一张发票（不一致：{fields}），未作为本订单的发票，需人工处理。")
            }
            OrderIdTooLongForPrefix { max } => format!("加上本部署的订单号前缀后，订单号最多{max}个字符。"),
            TokenNotYetValid => "订单令牌的签发时间在未来，请检查签发系统的时钟。".into(),
            QueryInvalid { detail } => format!("查询参数无效：{detail}。"),
            PathInvalid { detail } => format!("路径参数无效：{detail}。"),
            TargetInvalid => "请求目标必须是以“/”开头的路径。".into(),
            MethodNotAllowed { method } => format!("此接口不支持{method}方法。"),
            RouteNotFound => "没有此接口。".into(),
            SellerUnknown { tax_id } => format!("本系统不为销方{tax_id}开票。"),
            SellerForbidden => "该凭证属于其他销方。".into(),
            SellersInvalid { detail } => format!("销方配置文件有误：{detail}"),
            InvoiceTypeNotOffered => "该销方不开具此类发票。".into(),
            OperatorKeyRequired => "需要操作员密钥（Authorization: Bearer …）。".into(),
            OperatorKeyInvalid => "该密钥不是有效的操作员密钥。".into(),
            BatchNotFound { batch_id } => format!("没有批次{batch_id}。"),
            BatchSize { max, count } => format!("一个批次须有1至{max}张订单，本批次有{count}张。"),
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }
}

/// An error answer: an HTTP status and `{ errors: Issue[] }`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The issues.
    pub errors: Vec<Issue>,
}

impl ApiError {
    /// One problem on a field.
    pub fn new(status: StatusCode, field: &str, problem: ProxyProblem) -> ApiError {
        ApiError {
            status,
            errors: vec![Issue::new(field, &problem)],
        }
    }
    /// Validation errors from the package.
    pub fn invalid(errors: Vec<Issue>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(serde_json::json!({ "errors": self.errors }))).into_response()
    }
}

/// A provider's error code mapped onto the package's codes: the issue and whether
/// the failure is definitive (the order is `failed`) or calls for a query.
pub fn map_nuonuo_code(code: &str, describe: &str) -> Issue {
    let field = "provider";
    let plain = |code: &'static str, zh: &str, en: &str| Issue {
        code,
        field: field.into(),
        message: zh.into(),
        message_en: en.into(),
        overridable: false,
    };
    match code {
        "E9301" => Issue::new(field, &ProxyProblem::SellerNotRegistered),
        "E9302" => Issue::new(field, &ProxyProblem::SellerMismatch),
        "E9131" => plain(
            "LINE_TAX_TOLERANCE",
            "税额与金额×税率之差超过0.06。",
            "The tax differs from amount × rate by more than 0.06.",
        ),
        "E9130" => plain(
            "LINE_TAX_TOLERANCE",
            "不含税金额加税额不等于含税金额。",
            "Amount plus tax does not equal the amount including tax.",
        ),
        "E9121" | "E9138" => plain(
            "TAXCODE_UNKNOWN",
            "税收分类编码匹配失败，请填写正确的编码。",
            "The provider could not match the tax classification code.",
        ),
        "E9122" => plain(
            "INVOICE_NO_LINES",
            "发票至少需要一行明细。",
            "An invoice needs at least one line.",
        ),
        "E9306" => plain(
            "TAXID_LENGTH",
            "购方税号只支持6-20位。",
            "The buyer's taxpayer ID must have 6 to 20 characters.",
        ),
        "E9307" => plain(
            "TAXID_CHARSET",
            "税号只能包含数字和字母。",
            "A taxpayer ID has letters and digits only.",
        ),
        "E9103" => plain(
            "RED_NOTHING_LEFT",
            "该发票已全额冲红，不能重复冲红。",
            "The invoice has already been reversed in full.",
        ),
        "E9113" | "E9115" | "E9117" | "E9118" | "E9120" => plain(
            "RED_BUYER_MISMATCH",
            "红字发票的购方信息与蓝字发票不一致。",
            "The red invoice's buyer differs from the blue invoice's.",
        ),
        "E9104" => plain(
            "BUYER_TOO_LONG",
            "邮箱长度超过50。",
            "The e-mail address is longer than 50 characters.",
        ),
        _ => Issue::new(
            field,
            &ProxyProblem::ProviderRejected {
                provider_code: code.chars().take(20).collect(),
                detail: describe.chars().take(200).collect(),
            },
        ),
    }
}

/// A failure reason (诺诺 `failCause`) mapped onto a code.
pub fn map_fail_cause(cause: &str) -> Issue {
    if cause.contains("购方税号") || cause.contains("纳税人识别号") {
        Issue::new("buyer.taxId", &ProxyProblem::BuyerTaxIdUnknown)
    } else {
        Issue::new(
            "provider",
            &ProxyProblem::IssuingFailed {
                detail: cause.chars().take(200).collect(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn provider_codes_map_to_package_codes() {
        assert_eq!(
            super::map_nuonuo_code("E9301", "企业信息备案错误").code,
            "SELLER_NOT_REGISTERED"
        );
        assert_eq!(super::map_nuonuo_code("E9302", "").code, "SELLER_TAXID_MISMATCH");
        assert_eq!(super::map_nuonuo_code("E9131", "").code, "LINE_TAX_TOLERANCE");
        assert_eq!(super::map_nuonuo_code("E9999", "x").code, "PROVIDER_REJECTED");
        assert_eq!(super::map_fail_cause("购方税号有误").code, "BUYER_TAXID_NOT_FOUND");
    }
}
