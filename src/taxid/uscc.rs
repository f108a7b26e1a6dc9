//! 统一社会信用代码 (unified social credit code, GB 32100-2015).
//!
//! Eighteen characters from a 31-symbol alphabet (digits and capital letters
//! without I, O, S, V, Z):
//!
//! | positions | content |
//! |---|---|
//! | 1 | 登记管理部门码, registration authority |
//! | 2 | 机构类别码, entity type (meaning depends on position 1) |
//! | 3–8 | 登记管理机关行政区划码, GB/T 2260 region code |
//! | 9–17 | 主体标识码: the GB 11714 organization code, with its own check character |
//! | 18 | check character, mod 31 with weights 3^(i−1) mod 31 |
//!
//! ```
//! use fapiao::taxid::uscc;
//! assert_eq!(uscc::check_character("91110000600037341"), Some('L'));
//! assert!(uscc::is_well_formed("91110000600037341L"));
//! ```

/// The 31 symbols, in value order.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights for positions 1–17 (3^(i−1) mod 31).
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

const fn value_table() -> [u8; 128] {
    let mut t = [255u8; 128];
    let mut i = 0;
    while i < ALPHABET.len() {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}
const VALUES: [u8; 128] = value_table();

/// The value (0–30) of a symbol, or `None` if it is not in the alphabet.
pub fn value(c: u8) -> Option<u8> {
    VALUES.get(c as usize).copied().filter(|&v| v != 255)
}

/// The check character for the first 17 characters, or `None` when the input is
/// not 17 symbols of the alphabet.
pub fn check_character(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in b.iter().zip(WEIGHTS) {
        sum += u32::from(value(*c)?) * w;
    }
    // The outer `% 31` matters: a remainder of 0 gives check `0`, not index 31.
    Some(ALPHABET[((31 - sum % 31) % 31) as usize] as char)
}

/// The character that, at position `hole` (0-based) of an 18-character code,
/// satisfies the mod-31 check, whatever is there now; `None` when the code is not
/// 18 bytes or another position is not a symbol of the alphabet.
///
/// ```
/// use fapiao::taxid::uscc;
/// assert_eq!(uscc::fill_check(b"91110000600037341?", 17), Some(b'L'));
/// assert_eq!(uscc::fill_check(b"9111000060003?341L", 13), Some(b'7'));
/// ```
pub fn fill_check(code: &[u8], hole: usize) -> Option<u8> {
    if code.len() != 18 || hole >= 18 {
        return None;
    }
    let weight = |i: usize| WEIGHTS.get(i).copied().unwrap_or(1);
    let mut sum = 0u32;
    for (i, &c) in code.iter().enumerate().filter(|&(i, _)| i != hole) {
        sum += u32::from(value(c)?) * weight(i);
    }
    // v·w ≡ −sum (mod 31); 31 is prime, so w has an inverse.
    let w = weight(hole);
    let inverse = (1..31).find(|x| x * w % 31 == 1)?;
    Some(ALPHABET[((31 - sum % 31) % 31 * inverse % 31) as usize])
}

/// Every code that differs from `code` in exactly one position and satisfies the
/// mod-31 check: at most one per position, because each weight is invertible mod 31.
/// Empty when `code` is not 18 symbols of the alphabet.
pub fn one_change_repairs(code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let Some(values) = b.iter().map(|&c| value(c)).collect::<Option<Vec<u8>>>() else {
        return Vec::new();
    };
    if values.len() != 18 {
        return Vec::new();
    }
    let sum: u32 = values[..17].iter().zip(WEIGHTS).map(|(&v, w)| u32::from(v) * w).sum();
    // Valid exactly when (sum + check value) ≡ 0 (mod 31).
    let excess = (sum + u32::from(values[17])) % 31;
    let mut out = Vec::new();
    for i in 0..18 {
        let w = if i < 17 { WEIGHTS[i] } else { 1 };
        // Change v_i by d with d·w ≡ −excess (mod 31); w⁻¹ found by search (31 is prime).
        let inverse = (1..31).find(|x| x * w % 31 == 1).unwrap_or(1);
        let d = (31 - excess) % 31 * inverse % 31;
        if d == 0 {
            continue;
        }
        let mut n = b.to_vec();
        n[i] = ALPHABET[((u32::from(values[i]) + d) % 31) as usize];
        out.push(String::from_utf8_lossy(&n).into_owned());
    }
    out
}

/// A registration authority: its code (position 1), its name, and the entity types
/// (position 2 code and name) known for it.
pub type Authority = (char, &'static str, &'static [(char, &'static str)]);

/// Registration authorities (position 1) and the entity types (position 2) known
/// for each. Source: GB 32100-2015 and its later assignments, as reproduced by
/// several independent implementations (../shared/spec/rules.md §1.3).
pub const AUTHORITIES: &[Authority] = &[
    (
        '1',
        "机构编制",
        &[
            ('1', "机关"),
            ('2', "事业单位"),
            ('3', "中央编办直接管理机构编制的群众团体"),
            ('9', "其他"),
        ],
    ),
    ('2', "外交", &[('1', "外国常驻新闻机构"), ('9', "其他")]),
    (
        '3',
        "司法行政",
        &[
            ('1', "律师执业机构"),
            ('2', "公证处"),
            ('3', "基层法律服务所"),
            ('4', "司法鉴定机构"),
            ('5', "仲裁委员会"),
            ('9', "其他"),
        ],
    ),
    ('4', "文化", &[('1', "外国在华文化中心"), ('9', "其他")]),
    (
        '5',
        "民政",
        &[
            ('1', "社会团体"),
            ('2', "民办非企业单位"),
            ('3', "基金会"),
            ('9', "其他"),
        ],
    ),
    (
        '6',
        "旅游",
        &[
            ('1', "外国旅游部门常驻代表机构"),
            ('2', "港澳台地区旅游部门常驻内地（大陆）代表机构"),
            ('9', "其他"),
        ],
    ),
    ('7', "宗教", &[('1', "宗教活动场所"), ('2', "宗教院校"), ('9', "其他")]),
    ('8', "工会", &[('1', "基层工会"), ('9', "其他")]),
    (
        '9',
        "工商（市场监督管理）",
        &[('1', "企业"), ('2', "个体工商户"), ('3', "农民专业合作社")],
    ),
    ('A', "中央军委改革和编制办公室", &[('1', "军队事业单位"), ('9', "其他")]),
    (
        'N',
        "农业",
        &[
            ('1', "组级集体经济组织"),
            ('2', "村级集体经济组织"),
            ('3', "乡镇级集体经济组织"),
            ('9', "其他"),
        ],
    ),
    ('Y', "其他", &[('1', "其他")]),
];

/// The registration authority's name and the entity type's name, where known.
pub fn authority(c: char) -> Option<(&'static str, &'static [(char, &'static str)])> {
    AUTHORITIES.iter().find(|a| a.0 == c).map(|a| (a.1, a.2))
}

/// The entity type's name for an authority and type character, where known.
pub fn entity_type(authority_char: char, type_char: char) -> Option<&'static str> {
    authority(authority_char)?
        .1
        .iter()
        .find(|t| t.0 == type_char)
        .map(|t| t.1)
}

/// True when every hard rule holds: alphabet, authority code, digits in the region
/// part, the organization-code check and the mod-31 check. Region and entity-type
/// tables are not consulted (they only give warnings).
pub fn is_well_formed(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 18
        && b.iter().all(|&c| value(c).is_some())
        && authority(b[0] as char).is_some()
        && b[2..8].iter().all(u8::is_ascii_digit)
        && super::orgcode::check_character(&code[8..16]) == Some(b[16] as char)
        && check_character(&code[..17]) == Some(b[17] as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1u32;
        for expected in WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn remainder_zero_gives_check_zero() {
        // peers.md §1.4: npm `stdnum` rejects this valid code.
        assert_eq!(check_character("91110000100000286"), Some('0'));
        assert!(is_well_formed("911100001000002860"));
    }

    #[test]
    fn letter_authorities_are_well_formed() {
        // peers.md §1.4: python-stdnum rejects these.
        assert!(is_well_formed("N21100001234567885"));
        assert!(is_well_formed("Y1440300MA5D12340P"));
        assert_eq!(check_character("A1110000600037341"), Some('K'));
    }

    #[test]
    fn repairs_are_one_change_away_and_pass_mod_31() {
        let repairs = one_change_repairs("91110000600037341N");
        assert!(repairs.contains(&"91110000600037341L".to_owned()));
        assert!(repairs.len() <= 18);
        for r in &repairs {
            let diff = r
                .bytes()
                .zip("91110000600037341N".bytes())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(diff, 1, "{r}");
            assert_eq!(check_character(&r[..17]), r.chars().nth(17), "{r}");
        }
        assert!(one_change_repairs("9111000060003734IN").is_empty());
        assert!(one_change_repairs("short").is_empty());
    }

    #[test]
    fn excluded_letters_have_no_value() {
        for c in *b"IOSVZ" {
            assert_eq!(value(c), None);
        }
        assert_eq!(value(b'Y'), Some(30));
        assert_eq!(value(b'a'), None);
        assert_eq!(value(200), None);
    }
}
