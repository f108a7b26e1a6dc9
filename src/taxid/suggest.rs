//! Valid taxpayer IDs one likely typo away from an invalid input.
//!
//! A shopper at a kiosk who typed `O` for `0` should fix it in one tap. Candidates
//! come in tiers, best first:
//!
//! 1. look-alike characters: letters a USCC never contains replaced by the digit
//!    they resemble (O→0, I→1, Z→2, S→5, V→U/Y), and single swaps of look-alikes
//!    that are both allowed (B↔8, D↔0, G↔6, …);
//! 2. two neighbouring characters swapped;
//! 3. one character changed, added or dropped — only when exactly one such change
//!    gives a code whose region and entity type are both known, since otherwise
//!    the guess would be arbitrary.
//!
//! Every candidate passes all hard rules (and the warnings decide the order within
//! a tier); the input itself is never suggested.

use super::{check, resident, uscc, TaxIdKind, TaxIdResult};
use crate::clock::Date;

/// At most this many suggestions are returned.
const MAX: usize = 3;

/// Characters a USCC cannot contain, and what they were probably meant to be.
fn forced(c: u8) -> &'static [u8] {
    match c {
        b'O' => b"0",
        b'I' => b"1",
        b'Z' => b"2",
        b'S' => b"5",
        b'V' => b"UY",
        _ => b"",
    }
}

/// Look-alike characters that are both allowed, either way round.
fn lookalikes(c: u8) -> &'static [u8] {
    match c {
        b'0' => b"DQ",
        b'D' | b'Q' => b"0",
        b'1' => b"7L",
        b'7' => b"1T",
        b'L' => b"1",
        b'8' => b"B",
        b'B' => b"8",
        b'6' => b"G",
        b'G' => b"6",
        b'T' => b"7",
        b'U' => b"Y",
        b'Y' => b"U",
        b'2' => b"Z",
        _ => b"",
    }
}

struct Found {
    id: String,
    tier: u8,
    warnings: usize,
}

/// A candidate is accepted when it has no errors and is a USCC or a resident ID.
fn accept(candidate: &str, today: Date) -> Option<TaxIdResult> {
    let ok = uscc::is_well_formed(candidate) || resident::is_checksum_valid(candidate);
    if !ok {
        return None;
    }
    let r = check(candidate, today);
    (r.valid && matches!(r.kind, Some(TaxIdKind::Uscc | TaxIdKind::Resident))).then_some(r)
}

pub(super) fn suggestions(input: &str, today: Date) -> Vec<String> {
    if !input.is_ascii() || !(17..=19).contains(&input.len()) {
        return Vec::new();
    }
    let mut found: Vec<Found> = Vec::new();
    let add = |id: String, tier: u8, found: &mut Vec<Found>| {
        if id == input || found.iter().any(|f| f.id == id) {
            return;
        }
        if let Some(r) = accept(&id, today) {
            found.push(Found { id, tier, warnings: r.warnings.len() });
        }
    };

    if input.len() == 18 {
        let bytes = input.as_bytes();
        // Tier 1a: every forbidden letter replaced at once (a person who types O
        // for 0 usually does it every time).
        let mut bases: Vec<Vec<u8>> = vec![bytes.to_vec()];
        for (i, &c) in bytes.iter().enumerate() {
            let options = forced(c);
            if options.is_empty() {
                continue;
            }
            bases = bases
                .into_iter()
                .flat_map(|b| {
                    options.iter().map(move |&o| {
                        let mut n = b.clone();
                        n[i] = o;
                        n
                    })
                })
                .take(16)
                .collect();
        }
        for b in &bases {
            add(String::from_utf8_lossy(b).into_owned(), 1, &mut found);
        }
        // Tier 1b: one look-alike swap on top of that.
        for b in &bases {
            for i in 0..18 {
                for &o in lookalikes(b[i]) {
                    let mut n = b.clone();
                    n[i] = o;
                    add(String::from_utf8_lossy(&n).into_owned(), 1, &mut found);
                }
            }
        }
        // Tier 2: neighbours swapped.
        for i in 0..17 {
            if bytes[i] != bytes[i + 1] {
                let mut n = bytes.to_vec();
                n.swap(i, i + 1);
                add(String::from_utf8_lossy(&n).into_owned(), 2, &mut found);
            }
        }
    }

    if found.is_empty() {
        // Tier 3: one character changed, added or dropped, if exactly one such
        // change gives a code without any warning.
        let mut clean: Vec<String> = Vec::new();
        let consider = |id: String, clean: &mut Vec<String>| {
            if clean.len() <= 1 && !clean.contains(&id) {
                if let Some(r) = accept(&id, today) {
                    if r.warnings.is_empty() {
                        clean.push(id);
                    }
                }
            }
        };
        let b = input.as_bytes();
        match b.len() {
            18 => {
                // A USCC has at most one mod-31 repair per position; a resident ID
                // has digits only, so trying each digit everywhere is cheap.
                for id in uscc::one_change_repairs(input) {
                    consider(id, &mut clean);
                }
                if b[..17].iter().all(u8::is_ascii_digit) {
                    let mut n = b.to_vec();
                    for i in 0..18 {
                        let original = n[i];
                        let options: &[u8] = if i == 17 { b"0123456789X" } else { b"0123456789" };
                        for &o in options.iter().filter(|&&o| o != original) {
                            n[i] = o;
                            if let Ok(s) = std::str::from_utf8(&n) {
                                if resident::is_checksum_valid(s) {
                                    consider(s.to_owned(), &mut clean);
                                }
                            }
                        }
                        n[i] = original;
                    }
                }
            }
            17 => {
                for i in 0..=17 {
                    for &o in uscc::ALPHABET.iter() {
                        let mut n = b.to_vec();
                        n.insert(i, o);
                        if let Ok(s) = std::str::from_utf8(&n) {
                            if uscc::is_well_formed(s) {
                                consider(s.to_owned(), &mut clean);
                            }
                        }
                    }
                }
            }
            _ => {
                for i in 0..b.len() {
                    let mut n = b.to_vec();
                    n.remove(i);
                    consider(String::from_utf8_lossy(&n).into_owned(), &mut clean);
                }
            }
        }
        if clean.len() == 1 {
            let id = clean.pop().unwrap_or_default();
            found.push(Found { id, tier: 3, warnings: 0 });
        }
    }

    // Stable: equal keys keep the order in which they were found. Through the
    // crate's one sort (`sort_indices`), not a sort of `Found` of its own.
    let mut order = crate::taxcode::indices(found.len());
    crate::taxcode::sort_indices(&mut order, &|a, b| {
        let (x, y) = (&found[a as usize], &found[b as usize]);
        (x.tier, x.warnings, a).cmp(&(y.tier, y.warnings, b))
    });
    order.into_iter().take(MAX).map(|i| core::mem::take(&mut found[i as usize].id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 11, 23).unwrap()
    }

    #[test]
    fn forbidden_letters_are_mapped_to_digits() {
        let s = suggestions("9111OOOO6OOO37341L", today());
        assert_eq!(s.first().map(String::as_str), Some("91110000600037341L"));
        let s = suggestions("9I110000600037341L", today());
        assert_eq!(s.first().map(String::as_str), Some("91110000600037341L"));
    }

    #[test]
    fn lookalike_and_transposition() {
        // 8 typed as B in the organization code.
        let s = suggestions("91310115MA1K3BTP2B".replace("1K3B", "1K38").as_str(), today());
        assert!(s.contains(&"91310115MA1K3BTP2B".to_owned()), "{s:?}");
        // Two neighbours swapped.
        let s = suggestions("91110000600037314L", today());
        assert!(s.contains(&"91110000600037341L".to_owned()), "{s:?}");
    }

    #[test]
    fn a_missing_or_extra_character_is_found_when_unambiguous() {
        let s = suggestions("9111000060003734L", today());
        assert!(s.len() <= 1);
        let s = suggestions("911100006000373411L", today());
        assert!(s.len() <= 1);
    }

    #[test]
    fn nothing_for_garbage() {
        assert!(suggestions("hello", today()).is_empty());
        assert!(suggestions("中文中文中文", today()).is_empty());
    }
}
