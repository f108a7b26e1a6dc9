//! Scanned codes: the tax administration's 抬头 QR (便捷开票二维码) and the receipt
//! QR that carries an order token, decoded for display — plus a QR encoder for the
//! download link a kiosk shows.
//!
//! - [`parse_title_qr`]: `$01` + Base64(名称`</>`税号`</>`地址|电话`</>`开户行|账号`</>`CRC) + `$`,
//!   CRC-16/UMTS over the GBK bytes (the UTF-8 and no-trailing-separator variants that
//!   real producers emit are accepted with a warning);
//! - [`parse_receipt`]: the proxy's order token `FP1.<payload>.<signature>`; the
//!   signature is **not** checked here (only the proxy holds the key);
//! - [`qr_svg`]: an SVG QR code for a short text (a download link).

#[cfg(feature = "camera")]
mod camera;
pub mod gbk;
mod receipt;
mod title;

#[cfg(feature = "camera")]
pub use camera::{decode_rgba, MAX_PIXELS};
pub use receipt::{parse_receipt, parse_receipt_at, Receipt, ReceiptResult, ReceiptTotals};
pub use title::{encode_title_qr, parse_title_qr, TitleBuyer, TitleQrResult};

use crate::issue::{Rule, Severity};

/// What can be wrong with a scanned code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrProblem {
    /// Nothing was scanned.
    #[error("Nothing was scanned")]
    TitleEmpty,
    /// Not a 便捷开票二维码.
    #[error("This is not an invoice-title QR code ({detail})")]
    TitleFormat {
        /// What did not fit, in English.
        detail: &'static str,
        /// The same in Chinese.
        detail_zh: &'static str,
    },
    /// A version other than 01.
    #[error("Invoice-title QR code version {version} is not supported")]
    TitleVersion {
        /// The version found.
        version: String,
    },
    /// The check code does not match in any known form.
    #[error("The QR code's check code does not match; please check the name and tax ID")]
    TitleCrc,
    /// The check code matches only a non-standard form.
    #[error(
        "The QR code's check code is computed over {variant}, not GBK with the closing separator as the standard says"
    )]
    TitleCrcVariant {
        /// Which form matched.
        variant: &'static str,
    },
    /// Nothing was scanned.
    #[error("No receipt code was scanned")]
    ReceiptEmpty,
    /// Not an order token.
    #[error("This is not a receipt code of this shop ({detail})")]
    ReceiptFormat {
        /// What did not fit, in English.
        detail: &'static str,
        /// The same in Chinese.
        detail_zh: &'static str,
    },
    /// A token for a red-letter invoice, not a sale.
    #[error("This code is for a red-letter invoice, not a receipt")]
    ReceiptPurpose,
    /// The token is past its expiry.
    #[error("This receipt's invoicing period has ended")]
    ReceiptExpired,
}

impl Rule for QrProblem {
    fn code(&self) -> &'static str {
        use QrProblem::*;
        match self {
            TitleEmpty => "TITLE_QR_EMPTY",
            TitleFormat { .. } => "TITLE_QR_FORMAT",
            TitleVersion { .. } => "TITLE_QR_VERSION",
            TitleCrc => "TITLE_QR_CRC",
            TitleCrcVariant { .. } => "TITLE_QR_CRC_VARIANT",
            ReceiptEmpty => "RECEIPT_EMPTY",
            ReceiptFormat { .. } => "RECEIPT_FORMAT",
            ReceiptPurpose => "RECEIPT_PURPOSE",
            ReceiptExpired => "RECEIPT_EXPIRED",
        }
    }

    fn message_zh(&self) -> String {
        use QrProblem::*;
        match self {
            TitleEmpty => "未扫描到内容".into(),
            TitleFormat { detail_zh, .. } => format!("不是发票抬头二维码（{detail_zh}）"),
            TitleVersion { version } => format!("不支持版本为 {version} 的抬头二维码"),
            TitleCrc => "二维码校验码不符，请核对名称和税号".into(),
            TitleCrcVariant { variant } => format!(
                "二维码校验码按非标准方式（{}）计算，请核对名称和税号",
                match *variant {
                    "UTF-8 with the closing separator" => "UTF-8 编码，含末尾分隔符",
                    "GBK without the closing separator" => "GBK 编码，不含末尾分隔符",
                    _ => "UTF-8 编码，不含末尾分隔符",
                }
            ),
            ReceiptEmpty => "未扫描到小票二维码".into(),
            ReceiptFormat { detail_zh, .. } => format!("不是本店的小票二维码（{detail_zh}）"),
            ReceiptPurpose => "这是红字发票的二维码，不是购物小票".into(),
            ReceiptExpired => "该小票已过开票期限".into(),
        }
    }

    fn severity(&self) -> Severity {
        match self {
            QrProblem::TitleCrc | QrProblem::TitleCrcVariant { .. } | QrProblem::ReceiptExpired => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// CRC-16/UMTS (poly 0x8005, init 0, no reflection, no final xor; also called
/// BUYPASS): the check code of the 便捷开票二维码.
///
/// ```
/// assert_eq!(fapiao::qr::crc16_umts(b"123456789"), 0xFEE8);
/// ```
pub fn crc16_umts(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Decodes Base64 in either alphabet (`+/` or `-_`), padding optional, whitespace ignored.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut ended = false;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                ended = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if ended {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover symbol (6 bits) cannot be valid Base64.
    (bits < 6).then_some(out)
}

/// An SVG drawing of `text` as a QR code (byte mode, error correction M, the
/// smallest version that fits), with a 4-module quiet zone; `None` when the text is
/// too long for a QR code. One `<path>`, `shape-rendering="crispEdges"`, scales freely.
///
/// ```
/// let svg = fapiao::qr::qr_svg("https://example.com/v1/invoices/A1/files/pdf").unwrap();
/// assert!(svg.starts_with("<svg"));
/// ```
pub fn qr_svg(text: &str) -> Option<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let full = size + 8;
    let mut d = String::new();
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if qr.get_module(x, y) {
                let start = x;
                while x < size && qr.get_module(x, y) {
                    x += 1;
                }
                d.push_str(&format!("M{} {}h{}v1h-{}z", start + 4, y + 4, x - start, x - start));
            } else {
                x += 1;
            }
        }
    }
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {full} {full}" shape-rendering="crispEdges" role="img"><rect width="{full}" height="{full}" fill="#fff"/><path d="{d}" fill="#000"/></svg>"##
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16_umts(b"123456789"), 0xFEE8);
        assert_eq!(crc16_umts(b""), 0);
    }

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(base64_decode("5rWL6K+V").unwrap(), "测试".as_bytes());
        assert_eq!(base64_decode("5rWL6K-V").unwrap(), "测试".as_bytes());
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("Y*Q").is_none());
        assert!(base64_decode("YQ==YQ").is_none());
    }

    #[test]
    fn svg_qr() {
        let svg = qr_svg("https://kiosk.example/v1/invoices/DEMO-1/files/html").unwrap();
        assert!(
            svg.contains("viewBox=\"0 0 41 41\""),
            "51 bytes need version 4 (33 modules) at level M"
        );
        assert!(qr_svg(&"x".repeat(3000)).is_none());
    }
}
