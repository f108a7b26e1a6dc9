//! 组织机构代码 (organization code, GB 11714-1997): eight body characters and a
//! check character. It is positions 9–17 of a unified social credit code and
//! positions 7–15 of a 15-character legacy tax ID.
//!
//! Body characters are digits (their value) or capital letters (A=10 … Z=35),
//! weighted 3, 7, 9, 10, 5, 8, 4, 2; the check is 11 − (Σ mod 11), written `X` for
//! 10 and `0` for 11.
//!
//! ```
//! assert_eq!(fapiao::taxid::orgcode::check_character("60003734"), Some('1'));
//! ```

const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// The check character of an eight-character body, or `None` when the body is
/// not eight digits or capital letters.
pub fn check_character(body: &str) -> Option<char> {
    let b = body.as_bytes();
    if b.len() != 8 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in b.iter().zip(WEIGHTS) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    Some(match 11 - sum % 11 {
        11 => '0',
        10 => 'X',
        d => char::from(b'0' + d as u8),
    })
}

/// True when the nine characters are a body with its correct check character.
pub fn is_valid(code: &str) -> bool {
    code.len() == 9 && code.is_char_boundary(8) && check_character(&code[..8]) == code[8..].chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        assert!(is_valid("600037341"));
        assert!(!is_valid("600037345"));
        assert!(is_valid("M0001QKT1"));
        assert_eq!(check_character("6000373"), None);
        assert_eq!(check_character("6000373a"), None);
        assert!(!is_valid("60003734中"));
    }
}
