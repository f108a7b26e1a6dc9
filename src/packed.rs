//! Text tables as build.rs stores them for the light npm parts: the distinct characters
//! once, most frequent first, then each character of the text as its place in
//! that list — one byte for the 128 most frequent, two for the others.
//!
//! A Han character takes one or two bytes instead of UTF-8's three, and reading it
//! back needs no code-page table: the tax-ID and invoice parts of the npm package
//! carry region names and tax-code 简称 without the GBK tables (about 16 KB
//! gzipped), which only the 抬头-QR check needs.
//!
//! Layout: the alphabet's length in bytes (u32, little-endian), the alphabet in
//! UTF-8, then the places: `0xxxxxxx` is place 0–127, `1xxxxxxx yyyyyyyy` is place
//! `x << 8 | y`.

/// A table build.rs wrote into `OUT_DIR` as `<name>.gbk` and `<name>.packed`,
/// decoded: the GBK copy where the module carries the GBK tables anyway (the `qr`
/// feature; gzip compresses it best), else the packed one.
macro_rules! embedded_table {
    ($name:literal) => {{
        #[cfg(feature = "qr")]
        let text =
            crate::qr::gbk::decode(include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".gbk"))).unwrap_or_default();
        #[cfg(not(feature = "qr"))]
        let text = crate::packed::decode(include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".packed")));
        text
    }};
}
pub(crate) use embedded_table;

/// Packs `text` (build.rs). Panics beyond 32,768 distinct characters.
#[allow(dead_code)]
pub(crate) fn encode(text: &str) -> Vec<u8> {
    let mut counts: Vec<(char, usize)> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for c in text.chars() {
        let i = *seen.entry(c).or_insert_with(|| {
            counts.push((c, 0));
            counts.len() - 1
        });
        counts[i].1 += 1;
    }
    // Most frequent first; ties in order of first appearance (a stable sort).
    counts.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    assert!(counts.len() <= 0x8000, "too many distinct characters to pack");
    let alphabet: String = counts.iter().map(|&(c, _)| c).collect();
    let place: std::collections::HashMap<char, usize> = counts.iter().enumerate().map(|(i, &(c, _))| (c, i)).collect();
    let mut out = (alphabet.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(alphabet.as_bytes());
    for c in text.chars() {
        let i = place[&c];
        if i < 0x80 {
            out.push(i as u8);
        } else {
            out.push(0x80 | (i >> 8) as u8);
            out.push((i & 0xFF) as u8);
        }
    }
    out
}

/// Unpacks what [`encode`] wrote; an empty string for bytes it did not write.
#[cfg_attr(feature = "qr", allow(dead_code))]
pub(crate) fn decode(bytes: &[u8]) -> String {
    let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
        return String::new();
    };
    let Some((alphabet, mut places)) = rest.split_at_checked(u32::from_le_bytes(*len) as usize) else {
        return String::new();
    };
    let Ok(alphabet) = core::str::from_utf8(alphabet) else {
        return String::new();
    };
    let alphabet: Vec<char> = alphabet.chars().collect();
    let mut out = String::with_capacity(places.len() * 2);
    while let Some((&b, tail)) = places.split_first() {
        let (i, tail) = if b < 0x80 {
            (usize::from(b), tail)
        } else {
            let Some((&lo, tail)) = tail.split_first() else {
                return String::new();
            };
            (usize::from(b & 0x7F) << 8 | usize::from(lo), tail)
        };
        let Some(&c) = alphabet.get(i) else {
            return String::new();
        };
        out.push(c);
        places = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut text = String::from("北京市\n东城区\n市辖区\n");
        // More than 128 distinct characters, so that two-byte places occur.
        text.extend((0x4E00u32..0x4E00 + 300).filter_map(char::from_u32));
        text.push_str("a\tb\n");
        let packed = encode(&text);
        assert_eq!(decode(&packed), text);
        // Repeated text packs smaller than its UTF-8.
        let repeated = text.repeat(4);
        assert!(encode(&repeated).len() < repeated.len());
    }

    #[test]
    fn damaged_input_gives_an_empty_string() {
        assert_eq!(decode(&[]), "");
        assert_eq!(decode(&[9, 0, 0, 0, b'a']), "");
        let mut packed = encode(&"中".repeat(3));
        packed.push(0x80); // a two-byte place cut short
        assert_eq!(decode(&packed), "");
        assert_eq!(decode(&[1, 0, 0, 0, b'a', 5]), ""); // place beyond the alphabet
        assert_eq!(decode(&encode("")), "");
    }
}
