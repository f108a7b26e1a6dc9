//! Bindings for scanned codes (`shared/spec/js-api.md`, "Scanned codes") and the QR
//! encoder, with their TypeScript declarations. Conversion only: every rule is in
//! `crate::qr`.

use wasm_bindgen::prelude::*;

use super::to_js;

#[wasm_bindgen(typescript_custom_section)]
const TS_QR: &'static str = r#"
/** The buyer fields of a 抬头 QR code (empty strings where it has none). */
export interface TitleBuyer {
  name: string;
  taxId: string;
  address: string;
  phone: string;
  bankName: string;
  bankAccount: string;
}

/**
 * `parseTitleQr`: errors TITLE_QR_EMPTY, TITLE_QR_FORMAT, TITLE_QR_VERSION; warnings
 * TITLE_QR_CRC (check code wrong or missing) and TITLE_QR_CRC_VARIANT (computed over
 * UTF-8 or without the closing separator).
 */
export interface TitleQrResult {
  valid: boolean;
  buyer: TitleBuyer | null;
  errors: Issue[];
  warnings: Issue[];
}

/** A receipt's order token, decoded for display (the signature is not checked). */
export interface Receipt {
  /** The token itself: send it as `orderToken`. */
  token: string;
  /** The seller's tax ID. */
  merchant: string;
  /** The store's name when the token carries one. */
  merchantName: string | null;
  orderId: string;
  /** `YYYY-MM-DDTHH:MM:SS+08:00`. */
  issuedAt: string | null;
  expiresAt: string | null;
  priceIncludesTax: boolean;
  lines: LineInput[];
  totals: { amountInclTax: string | null; amountExclTax: string | null; taxAmount: string | null };
}

/** `parseReceipt`: errors RECEIPT_EMPTY, RECEIPT_FORMAT, RECEIPT_PURPOSE; warning RECEIPT_EXPIRED. */
export interface ReceiptResult {
  valid: boolean;
  receipt: Receipt | null;
  errors: Issue[];
  warnings: Issue[];
}
"#;

#[cfg(feature = "qr")]
/// `parseTitleQr(text) → TitleQrResult`
#[wasm_bindgen(js_name = parseTitleQr, unchecked_return_type = "TitleQrResult")]
pub fn parse_title_qr(text: &str) -> JsValue {
    to_js(&crate::qr::parse_title_qr(text))
}

#[cfg(feature = "qr")]
/// `parseReceipt(text) → ReceiptResult`
#[wasm_bindgen(js_name = parseReceipt, unchecked_return_type = "ReceiptResult")]
pub fn parse_receipt(text: &str) -> JsValue {
    to_js(&crate::qr::parse_receipt(text))
}

#[cfg(feature = "qr")]
/// `qrSvg(text) → string | null`: an SVG QR code (level M, quiet zone included),
/// `null` when the text is too long.
#[wasm_bindgen(js_name = qrSvg)]
pub fn qr_svg(text: &str) -> Option<String> {
    crate::qr::qr_svg(text)
}

/// `decodeQrImage(rgba, width, height) → string | undefined`: the first QR code
/// read in a camera frame (`ImageData.data` of a canvas), for browsers without
/// `BarcodeDetector`; `undefined` when none is found.
#[cfg(feature = "camera")]
#[wasm_bindgen(js_name = decodeQrImage)]
pub fn decode_qr_image(rgba: &[u8], width: u32, height: u32) -> Option<String> {
    crate::qr::decode_rgba(rgba, width as usize, height as usize)
        .into_iter()
        .next()
}
