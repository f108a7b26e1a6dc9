//! 公民身份号码 (resident identity number, GB 11643-1999): 6-digit region code,
//! 8-digit birth date, 3-digit sequence (odd for men), and an ISO 7064 MOD 11-2
//! check character (`0`–`9` or `X`).
//!
//! ```
//! assert_eq!(fapiao::taxid::resident::check_character("11010219910101007"), Some('8'));
//! ```

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character for the first 17 digits, or `None` if they are not 17 digits.
pub fn check_character(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b.iter().zip(WEIGHTS).map(|(c, w)| u32::from(c - b'0') * w).sum();
    Some(CHECK[(sum % 11) as usize] as char)
}

/// The character that, at position `hole` (0-based) of an 18-character ID,
/// satisfies the check, whatever is there now: the check character for position 18,
/// else the digit that matches the check character; `None` when there is no such
/// digit or another position is not a digit (or `X` at the end).
///
/// ```
/// use fapiao::taxid::resident;
/// assert_eq!(resident::fill_check(b"11010219910101007?", 17), Some(b'8'));
/// assert_eq!(resident::fill_check(b"1101021991010100?8", 16), Some(b'7'));
/// ```
pub fn fill_check(id: &[u8], hole: usize) -> Option<u8> {
    if id.len() != 18 || hole >= 18 {
        return None;
    }
    let mut sum = 0u32;
    for i in (0..17).filter(|&i| i != hole) {
        if !id[i].is_ascii_digit() {
            return None;
        }
        sum += u32::from(id[i] - b'0') * WEIGHTS[i];
    }
    if hole == 17 {
        return Some(CHECK[(sum % 11) as usize]);
    }
    // The check character stands for Σ mod 11; find d with d·w ≡ that − sum.
    let target = CHECK.iter().position(|&c| c == id[17])? as u32;
    let w = WEIGHTS[hole];
    let inverse = (1..11).find(|x| x * w % 11 == 1)?;
    let d = (target + 11 - sum % 11) % 11 * inverse % 11;
    (d <= 9).then(|| b'0' + d as u8)
}

/// True for 17 digits followed by a digit or `X` (the shape, not the check).
pub fn has_shape(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X')
}

/// True when the shape and the check character are right (the date is not checked).
pub fn is_checksum_valid(id: &str) -> bool {
    has_shape(id) && check_character(&id[..17]) == Some(id.as_bytes()[17] as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_rules_md() {
        for id in [
            "360426199101010071",
            "44011320141005001X",
            "110102199101010078",
            "412723199010050012",
            "120110198012010073",
        ] {
            assert!(is_checksum_valid(id), "{id}");
        }
        assert!(!is_checksum_valid("36042619910102009X"));
        assert_eq!(check_character("36042619910102009"), Some('3'));
        assert!(!has_shape("T60426199101010078"));
    }
}
