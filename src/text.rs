//! Text clean-up shared by every rule: what a user types is not what a rule checks.

/// Maps a full-width ASCII form (U+FF01..U+FF5E) and the ideographic space to its
/// half-width character; every other character is returned as it is.
///
/// ```
/// assert_eq!(fapiao::text::half_width('９'), '9');
/// assert_eq!(fapiao::text::half_width('Ａ'), 'A');
/// assert_eq!(fapiao::text::half_width('中'), '中');
/// ```
pub fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Characters that are not visible and carry no meaning in an identifier:
/// all white space plus zero-width spaces, joiners and the byte-order mark.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Dashes people type between groups of an identifier (ASCII and Unicode).
pub fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}')
}

/// Normalises an identifier the way a clerk would read it: full-width to
/// half-width, spaces and dashes dropped, letters upper-cased.
///
/// ```
/// assert_eq!(fapiao::text::compact_id(" ９１ 110000-600037341l "), "91110000600037341L");
/// ```
pub fn compact_id(input: &str) -> String {
    input
        .chars()
        .map(half_width)
        .filter(|&c| !is_invisible(c) && !is_dash(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Trims a free-text field, maps full-width ASCII letters and digits to half-width
/// and folds runs of white space into one space. Full-width punctuation is kept:
/// names such as `某某有限公司（北京分公司）` are registered with it.
pub fn clean_text(input: &str) -> String {
    clean_text_cow(input).into_owned()
}

/// [`clean_text`], borrowing the input when it is clean already (most text is).
pub(crate) fn clean_text_cow(input: &str) -> std::borrow::Cow<'_, str> {
    // Printable ASCII and the characters from U+3001 to U+FEFE (CJK punctuation,
    // kana, Han, Hangul…; none of them white space, invisible or full-width) are
    // clean without a look at the tables.
    let clean = |c: char| {
        matches!(c, '\u{21}'..='\u{7E}' | '\u{3001}'..='\u{FEFE}')
            || !is_invisible(c) && (c.is_ascii_alphanumeric() || letter_or_digit_half_width(c) == c)
    };
    // The same test on the bytes first: printable ASCII, and the three-byte
    // characters U+4000–U+EFFF and U+3001–U+3FFF (lead bytes E4–EE, or E3 but
    // not E3 80 80, U+3000).
    let b = input.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0x21..=0x7E => i += 1,
            0xE4..=0xEE => i += 3,
            0xE3 if b.get(i + 1..i + 3) != Some(&[0x80, 0x80]) => i += 3,
            _ => break,
        }
    }
    if i >= b.len() || input.chars().all(clean) {
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut space = false;
    for c in input.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c
        } else {
            letter_or_digit_half_width(c)
        };
        if is_invisible(c) {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out.into()
}

fn letter_or_digit_half_width(c: char) -> char {
    let h = half_width(c);
    if h.is_ascii_alphanumeric() {
        h
    } else {
        c
    }
}

/// Number of characters (not bytes) — the unit the providers' length limits use.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// True for characters that no form field may contain (control characters).
pub fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

/// `str::to_lowercase` (Unicode's default case mapping, final sigma included).
/// In WebAssembly, text that is not ASCII is lowercased by JavaScript's own
/// `String.prototype.toLowerCase`, the same mapping (a wasm test compares them):
/// `core`'s case tables would cost the module about 8 KB gzipped, and the only
/// user is the domain of an e-mail address.
pub fn to_lowercase(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    #[cfg(target_arch = "wasm32")]
    {
        String::from(js_sys::JsString::from(s).to_lower_case())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        s.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_folds_space_and_keeps_full_width_punctuation() {
        assert_eq!(
            clean_text("  北京　某某  有限公司（分公司） "),
            "北京 某某 有限公司（分公司）"
        );
        assert_eq!(clean_text("ＡＢＣ１２３"), "ABC123");
        assert_eq!(clean_text("\u{200B}x"), "x");
    }

    /// The quick tests on bytes and characters borrow exactly the text that the
    /// character-by-character cleaning would leave as it is.
    #[test]
    fn clean_text_borrows_only_clean_text() {
        let alphabet: Vec<char> = "ab1*（）·-_ \t\u{3000}\u{3001}\u{2FFF}\u{3FFF}\u{4E00}名\u{EFFF}\u{F000}\u{FEFE}\u{FEFF}\u{FF01}\u{FF5E}\u{FF5F}\u{200B}\u{2060}\u{A0}\u{85}\u{1680}😴"
            .chars()
            .collect();
        let mut seed = 5u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let mut borrowed = 0;
        for _ in 0..50_000 {
            let text: String = (0..next(6)).map(|_| alphabet[next(alphabet.len())]).collect();
            let slow_clean = text
                .chars()
                .all(|c| !is_invisible(c) && (c.is_ascii_alphanumeric() || letter_or_digit_half_width(c) == c));
            let cow = clean_text_cow(&text);
            assert_eq!(matches!(cow, std::borrow::Cow::Borrowed(_)), slow_clean, "{text:?}");
            borrowed += usize::from(slow_clean);
            if slow_clean {
                assert_eq!(cow, text);
            }
        }
        assert!(borrowed > 1_000, "{borrowed}");
    }

    #[test]
    fn compact_id_drops_all_kinds_of_dash_and_space() {
        assert_eq!(
            compact_id("91\u{2014}1100\u{3000}00\u{FF0D}60003734 1l"),
            "91110000600037341L"
        );
        assert_eq!(compact_id(""), "");
    }
}
