//! The 便捷开票二维码 (peers.md §5.3): `$01` + Base64(名称`</>`税号`</>`地址|电话`</>`开户行|账号`</>`CRC) + `$`.

use serde::Serialize;

use super::{base64_decode, crc16_umts, gbk, QrProblem};
use crate::issue::{Issue, Issues};

const SEP: &str = "</>";
const FIELD: &str = "titleQr";

/// The buyer fields a title QR carries (empty strings where it has none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TitleBuyer {
    /// 名称.
    pub name: String,
    /// 纳税人识别号, as written in the code (the form validates it).
    pub tax_id: String,
    /// 地址.
    pub address: String,
    /// 电话.
    pub phone: String,
    /// 开户行.
    pub bank_name: String,
    /// 账号.
    pub bank_account: String,
}

/// What [`parse_title_qr`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TitleQrResult {
    /// `errors` is empty.
    pub valid: bool,
    /// The decoded fields (`None` when the code could not be read).
    pub buyer: Option<TitleBuyer>,
    /// Problems that make the code unusable.
    pub errors: Vec<Issue>,
    /// Problems to show (a check code that does not match).
    pub warnings: Vec<Issue>,
}

fn format(detail: &'static str, detail_zh: &'static str) -> QrProblem {
    QrProblem::TitleFormat { detail, detail_zh }
}

/// Splits `地址|电话` (or `开户行|账号`) at the last `|`; without one, a trailing run of
/// digits after a space is taken as the phone or account.
fn split_pair(s: &str) -> (String, String) {
    let s = s.trim();
    if let Some((a, b)) = s.rsplit_once('|') {
        return (a.trim().to_owned(), b.trim().to_owned());
    }
    if let Some((a, b)) = s.rsplit_once(char::is_whitespace) {
        if !b.is_empty() && b.chars().all(|c| c.is_ascii_digit() || c == '-') && b.chars().any(|c| c.is_ascii_digit()) {
            return (a.trim().to_owned(), b.to_owned());
        }
    }
    (s.to_owned(), String::new())
}

/// Decodes a 便捷开票二维码.
///
/// ```
/// let r = fapiao::qr::parse_title_qr("$015rWL6K+V5YWs5Y+4PC8+OTExMTAwMDA2MDAwMzczNDFMPC8+5YyX5Lqs5biC5rW35reA5Yy6fDAxMC0xMjM0NTY3ODwvPuS4reWbveW3peWVhumTtuihjHw2MjIyMDAwMDAwMDAwMDAwPC8+Njc5Mg==$");
/// assert!(r.valid && r.warnings.is_empty());
/// let b = r.buyer.unwrap();
/// assert_eq!((b.name.as_str(), b.tax_id.as_str(), b.phone.as_str()), ("测试公司", "91110000600037341L", "010-12345678"));
/// ```
pub fn parse_title_qr(text: &str) -> TitleQrResult {
    let mut issues = Issues::default();
    let buyer = decode(text, &mut issues);
    TitleQrResult {
        valid: issues.errors.is_empty(),
        buyer,
        errors: issues.errors,
        warnings: issues.warnings,
    }
}

fn decode(text: &str, issues: &mut Issues) -> Option<TitleBuyer> {
    // Scanners may add spaces or line ends; full-width forms are not expected in Base64.
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if t.is_empty() {
        issues.push(FIELD, &QrProblem::TitleEmpty);
        return None;
    }
    let Some(rest) = t.strip_prefix('$') else {
        issues.push(FIELD, &format("it does not start with “$”", "不以“$”开头"));
        return None;
    };
    let body = rest.strip_suffix('$').unwrap_or(rest);
    if body.len() < 2 || !body.is_char_boundary(2) {
        issues.push(FIELD, &format("it is too short", "内容过短"));
        return None;
    }
    let (version, payload) = body.split_at(2);
    if version != "01" {
        issues.push(
            FIELD,
            &QrProblem::TitleVersion {
                version: version.chars().take(8).collect(),
            },
        );
        return None;
    }
    let Some(bytes) = base64_decode(payload) else {
        issues.push(FIELD, &format("the content is not Base64", "内容不是 Base64 编码"));
        return None;
    };
    // As implemented by producers: UTF-8; a GBK payload is read too.
    let Some(decoded) = String::from_utf8(bytes.clone()).ok().or_else(|| gbk::decode(&bytes)) else {
        issues.push(
            FIELD,
            &format(
                "the content is neither UTF-8 nor GBK text",
                "内容不是 UTF-8 或 GBK 文本",
            ),
        );
        return None;
    };
    let parts: Vec<&str> = decoded.split(SEP).collect();
    if parts.len() < 4 {
        issues.push(FIELD, &format("fewer than four fields", "字段不足四项"));
        return None;
    }
    let (addr, phone) = split_pair(parts[2]);
    let (bank, account) = split_pair(parts[3]);
    let buyer = TitleBuyer {
        name: parts[0].trim().to_owned(),
        tax_id: parts[1].trim().to_owned(),
        address: addr,
        phone,
        bank_name: bank,
        bank_account: account,
    };
    if buyer.name.is_empty() {
        issues.push(FIELD, &format("the name is empty", "名称为空"));
        return None;
    }
    // The check code: everything after the fourth separator.
    let crc_text = parts.get(4).map(|s| s.trim()).unwrap_or("");
    let crc = (crc_text.len() == 4)
        .then(|| u16::from_str_radix(crc_text, 16).ok())
        .flatten();
    let Some(crc) = crc else {
        issues.push(FIELD, &QrProblem::TitleCrc);
        return Some(buyer);
    };
    let covered_len = parts[..4].iter().map(|p| p.len() + SEP.len()).sum::<usize>();
    let with_sep = &decoded[..covered_len];
    let without_sep = with_sep.strip_suffix(SEP).unwrap_or(with_sep);
    let gbk_with = gbk::encode(with_sep);
    let gbk_without = gbk::encode(without_sep);
    if gbk_with.as_deref().map(crc16_umts) == Some(crc) {
        return Some(buyer);
    }
    let variant = if crc16_umts(with_sep.as_bytes()) == crc {
        Some("UTF-8 with the closing separator")
    } else if gbk_without.as_deref().map(crc16_umts) == Some(crc) {
        Some("GBK without the closing separator")
    } else if crc16_umts(without_sep.as_bytes()) == crc {
        Some("UTF-8 without the closing separator")
    } else {
        None
    };
    match variant {
        Some(variant) => issues.push(FIELD, &QrProblem::TitleCrcVariant { variant }),
        None => issues.push(FIELD, &QrProblem::TitleCrc),
    }
    Some(buyer)
}

/// Encodes a title the standard way (GBK check code, closing separator) — for tests
/// and for producers.
///
/// ```
/// use fapiao::qr::{encode_title_qr, parse_title_qr, TitleBuyer};
/// let b = TitleBuyer { name: "测试公司".into(), tax_id: "91110000600037341L".into(), ..Default::default() };
/// let text = encode_title_qr(&b).unwrap();
/// assert_eq!(parse_title_qr(&text).buyer, Some(b));
/// ```
pub fn encode_title_qr(b: &TitleBuyer) -> Option<String> {
    let pair = |a: &str, b: &str| {
        if b.is_empty() {
            a.to_owned()
        } else {
            format!("{a}|{b}")
        }
    };
    let text = format!(
        "{}{SEP}{}{SEP}{}{SEP}{}{SEP}",
        b.name,
        b.tax_id,
        pair(&b.address, &b.phone),
        pair(&b.bank_name, &b.bank_account)
    );
    let crc = crc16_umts(&gbk::encode(&text)?);
    Some(format!("$01{}$", base64_encode(format!("{text}{crc:04X}").as_bytes())))
}

fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                A[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_TEXT: &str =
        "测试公司</>91110000600037341L</>北京市海淀区|010-12345678</>中国工商银行|6222000000000000</>";
    const EXAMPLE_QR: &str = "$015rWL6K+V5YWs5Y+4PC8+OTExMTAwMDA2MDAwMzczNDFMPC8+5YyX5Lqs5biC5rW35reA5Yy6fDAxMC0xMjM0NTY3ODwvPuS4reWbveW3peWVhumTtuihjHw2MjIyMDAwMDAwMDAwMDAwPC8+Njc5Mg==$";

    fn qr(text: &str) -> String {
        format!("$01{}$", base64_encode(text.as_bytes()))
    }

    fn codes(v: &[Issue]) -> Vec<&str> {
        v.iter().map(|i| i.code).collect()
    }

    #[test]
    fn peers_worked_example() {
        // peers.md §5.3: CRC over GBK = 6792, over UTF-8 = 2F19.
        assert_eq!(crc16_umts(&gbk::encode(EXAMPLE_TEXT).unwrap()), 0x6792);
        assert_eq!(crc16_umts(EXAMPLE_TEXT.as_bytes()), 0x2F19);
        assert_eq!(qr(&format!("{EXAMPLE_TEXT}6792")), EXAMPLE_QR);
        let r = parse_title_qr(EXAMPLE_QR);
        assert!(r.valid, "{r:?}");
        assert!(r.warnings.is_empty(), "{r:?}");
        assert_eq!(
            r.buyer.unwrap(),
            TitleBuyer {
                name: "测试公司".into(),
                tax_id: "91110000600037341L".into(),
                address: "北京市海淀区".into(),
                phone: "010-12345678".into(),
                bank_name: "中国工商银行".into(),
                bank_account: "6222000000000000".into(),
            }
        );
        // Scanner noise: surrounding whitespace and a line break.
        assert!(parse_title_qr(&format!("  {}\r\n", EXAMPLE_QR)).warnings.is_empty());
    }

    #[test]
    fn variants_warn() {
        let r = parse_title_qr(&qr(&format!("{EXAMPLE_TEXT}2F19")));
        assert!(r.valid);
        assert_eq!(codes(&r.warnings), ["TITLE_QR_CRC_VARIANT"]);
        assert!(r.warnings[0].message.contains("UTF-8"));
        let without = EXAMPLE_TEXT.strip_suffix(SEP).unwrap();
        for crc in [
            crc16_umts(&gbk::encode(without).unwrap()),
            crc16_umts(without.as_bytes()),
        ] {
            let r = parse_title_qr(&qr(&format!("{EXAMPLE_TEXT}{crc:04X}")));
            assert!(r.valid);
            assert_eq!(codes(&r.warnings), ["TITLE_QR_CRC_VARIANT"], "{crc:04X}");
        }
        // Lower-case hex, no closing `$`.
        let r = parse_title_qr(EXAMPLE_QR.strip_suffix('$').unwrap());
        assert!(r.valid && r.warnings.is_empty());
        let r = parse_title_qr(&qr(&format!("{EXAMPLE_TEXT}67a2")));
        assert_eq!(codes(&r.warnings), ["TITLE_QR_CRC"]);
        let crc = crc16_umts(&gbk::encode(EXAMPLE_TEXT).unwrap());
        assert!(parse_title_qr(&qr(&format!("{EXAMPLE_TEXT}{crc:04x}")))
            .warnings
            .is_empty());
    }

    #[test]
    fn wrong_or_missing_crc_is_a_warning() {
        let r = parse_title_qr(&qr(&format!("{EXAMPLE_TEXT}0000")));
        assert!(r.valid);
        assert_eq!(codes(&r.warnings), ["TITLE_QR_CRC"]);
        let r = parse_title_qr(&qr("某公司</>91110000600037341L</></>"));
        assert!(r.valid);
        assert_eq!(codes(&r.warnings), ["TITLE_QR_CRC"]);
        assert_eq!(r.buyer.unwrap().address, "");
    }

    #[test]
    fn gbk_payload_and_space_separated_pairs() {
        let text = "北京某某科技有限公司</>91110000600037341L</>北京市朝阳区 010-88886666</>招商银行北京分行 110912345610101</>";
        let crc = crc16_umts(&gbk::encode(text).unwrap());
        let gbk_bytes = gbk::encode(&format!("{text}{crc:04X}")).unwrap();
        let r = parse_title_qr(&format!("$01{}$", base64_encode(&gbk_bytes)));
        assert!(r.valid && r.warnings.is_empty(), "{r:?}");
        let b = r.buyer.unwrap();
        assert_eq!((b.address.as_str(), b.phone.as_str()), ("北京市朝阳区", "010-88886666"));
        assert_eq!(
            (b.bank_name.as_str(), b.bank_account.as_str()),
            ("招商银行北京分行", "110912345610101")
        );
    }

    #[test]
    fn not_a_title_qr() {
        assert_eq!(codes(&parse_title_qr("  ").errors), ["TITLE_QR_EMPTY"]);
        assert_eq!(
            codes(&parse_title_qr("https://example.com").errors),
            ["TITLE_QR_FORMAT"]
        );
        assert_eq!(codes(&parse_title_qr("$02abcd$").errors), ["TITLE_QR_VERSION"]);
        assert_eq!(codes(&parse_title_qr("$01***$").errors), ["TITLE_QR_FORMAT"]);
        assert_eq!(codes(&parse_title_qr(&qr("只有名称")).errors), ["TITLE_QR_FORMAT"]);
        assert_eq!(codes(&parse_title_qr("$").errors), ["TITLE_QR_FORMAT"]);
        assert_eq!(codes(&parse_title_qr("$0").errors), ["TITLE_QR_FORMAT"]);
        assert_eq!(codes(&parse_title_qr("$测试").errors), ["TITLE_QR_FORMAT"]);
        let r = parse_title_qr("FP1.abc.def");
        assert!(r.errors[0].message.contains("不是发票抬头二维码"));
        assert!(r.buyer.is_none());
    }

    #[test]
    fn round_trip() {
        let b = TitleBuyer {
            name: "上海（浦东）某某有限公司".into(),
            tax_id: "91310115MA1K4XXXXX".into(),
            address: "上海市浦东新区".into(),
            phone: "021-1".into(),
            bank_name: "交通银行".into(),
            bank_account: "310066".into(),
        };
        let r = parse_title_qr(&encode_title_qr(&b).unwrap());
        assert!(r.valid && r.warnings.is_empty());
        assert_eq!(r.buyer, Some(b));
    }
}
