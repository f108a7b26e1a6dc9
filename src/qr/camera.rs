//! QR codes read from camera frames, for browsers without `BarcodeDetector`
//! (Chrome on Windows and Linux, Firefox): the kiosk and the checkout grab a frame
//! of the video into a canvas and hand its pixels here.

/// The largest frame read, in pixels; a larger one gives nothing (scale it down
/// first: a QR code needs a few pixels per module, not a full camera frame).
pub const MAX_PIXELS: usize = 4096 * 4096;

/// The text of every QR code found and read in an RGBA image (`ImageData.data` of
/// a canvas: four bytes a pixel, row by row), in the order found. An image whose
/// size does not match its bytes gives none; so does a code whose text is not
/// UTF-8.
///
/// ```
/// use fapiao::qr::decode_rgba;
/// assert!(decode_rgba(&[255; 4 * 64 * 64], 64, 64).is_empty());
/// assert!(decode_rgba(&[0; 3], 1, 1).is_empty());
/// ```
pub fn decode_rgba(rgba: &[u8], width: usize, height: usize) -> Vec<String> {
    let Some(pixels) = width.checked_mul(height).filter(|&n| n > 0 && n <= MAX_PIXELS) else {
        return Vec::new();
    };
    if rgba.len() != pixels * 4 {
        return Vec::new();
    }
    // ITU-R BT.601 luma, in integers.
    let luma: Vec<u8> = rgba
        .chunks_exact(4)
        .map(|p| ((u32::from(p[0]) * 77 + u32::from(p[1]) * 150 + u32::from(p[2]) * 29) >> 8) as u8)
        .collect();
    let mut decoder = quircs::Quirc::default();
    decoder
        .identify(width, height, &luma)
        .filter_map(|code| code.ok()?.decode().ok())
        .filter_map(|data| String::from_utf8(data.payload).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrcodegen::{QrCode, QrCodeEcc};

    /// An RGBA image of `text` as a QR code: `scale` pixels a module, a quiet zone
    /// of four modules, on a grey background with the given contrast.
    fn image(text: &str, scale: usize, dark: u8) -> (Vec<u8>, usize) {
        let qr = QrCode::encode_text(text, QrCodeEcc::Medium).unwrap();
        let modules = qr.size() as usize + 8;
        let side = modules * scale;
        let mut rgba = vec![0u8; side * side * 4];
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = ((x / scale) as i32 - 4, (y / scale) as i32 - 4);
                let v = if qr.get_module(mx, my) { dark } else { 235 };
                rgba[(y * side + x) * 4..][..4].copy_from_slice(&[v, v, v, 255]);
            }
        }
        (rgba, side)
    }

    #[test]
    fn reads_what_the_encoder_wrote() {
        // A 抬头 QR (peers.md §5.3's example) and a receipt token of a kiosk's size.
        let title = "$015rWL6K+V5YWs5Y+4PC8+OTExMTAwMDA2MDAwMzczNDFMPC8+5YyX5Lqs5biC5rW35reA5Yy6fDAxMC0xMjM0NTY3ODwvPuS4reWbveW3peWVhumTtuihjHw2MjIyMDAwMDAwMDAwMDAwPC8+Njc5Mg==$";
        let receipt = format!(
            "FP1.{}.{}",
            "eyJ2IjoxLCJtZXJjaGFudCI6IjMzOTkwMjk5OTk5OTc4OTExMyJ9".repeat(12),
            "c2ln".repeat(10)
        );
        for (text, scale, dark) in [(title, 3, 20), (title, 2, 90), (receipt.as_str(), 3, 40)] {
            let (rgba, side) = image(text, scale, dark);
            assert_eq!(
                decode_rgba(&rgba, side, side),
                vec![text.to_owned()],
                "{} px a module",
                scale
            );
        }
    }

    #[test]
    fn noise_and_odd_sizes_give_nothing_and_never_panic() {
        let mut seed = 1u32;
        let noise: Vec<u8> = (0..200 * 150 * 4)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (seed >> 16) as u8
            })
            .collect();
        assert!(decode_rgba(&noise, 200, 150).is_empty());
        assert!(decode_rgba(&noise, 150, 200).is_empty());
        assert!(decode_rgba(&noise, 0, 0).is_empty());
        assert!(decode_rgba(&noise, 100_000, 100_000).is_empty());
        assert!(decode_rgba(&noise[..7], 1, 2).is_empty());
    }
}
