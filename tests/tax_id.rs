//! Taxpayer-ID validation against real codes and generated ones.
#![cfg(not(target_arch = "wasm32"))]

use fapiao::taxid::{orgcode, uscc};
use fapiao::{validate_tax_id, TaxIdKind};
use proptest::prelude::*;

/// Real codes found online (tests/data/uscc-real.txt): none may get an error.
#[test]
fn real_codes_are_all_valid() {
    let corpus = include_str!("data/uscc-real.txt");
    let codes: Vec<&str> = corpus.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    assert!(codes.len() > 300);
    let failures: Vec<_> = codes
        .iter()
        .map(|c| validate_tax_id(c))
        .filter(|r| !r.valid || r.kind != Some(TaxIdKind::Uscc))
        .map(|r| (r.normalized, r.errors.into_iter().map(|e| e.code).collect::<Vec<_>>()))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}

/// Characters people confuse, as (typed, meant).
const CONFUSIONS: &[(u8, u8)] = &[(b'O', b'0'), (b'I', b'1'), (b'Z', b'2'), (b'S', b'5'), (b'B', b'8'), (b'8', b'B'), (b'D', b'0'), (b'G', b'6')];

fn region_code() -> impl Strategy<Value = String> {
    // Real, current county codes from several provinces, plus province level.
    prop::sample::select(vec!["110000", "110108", "310115", "440300", "440305", "320214", "340603", "620105", "650102", "100000"])
        .prop_map(str::to_owned)
}

fn authority_and_type() -> impl Strategy<Value = (char, char)> {
    let pairs: Vec<(char, char)> = uscc::AUTHORITIES.iter().flat_map(|(a, _, types)| types.iter().map(move |(t, _)| (*a, *t))).collect();
    prop::sample::select(pairs)
}

/// A valid USCC built from random parts: check characters computed, all tables known.
fn valid_uscc() -> impl Strategy<Value = String> {
    (authority_and_type(), region_code(), prop::collection::vec(prop::sample::select(uscc::ALPHABET.to_vec()), 8)).prop_map(
        |((a, t), region, body)| {
            let body = String::from_utf8(body).unwrap();
            let org = format!("{body}{}", orgcode::check_character(&body).unwrap());
            let first17 = format!("{a}{t}{region}{org}");
            format!("{first17}{}", uscc::check_character(&first17).unwrap())
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_codes_pass_with_no_warning(code in valid_uscc()) {
        let r = validate_tax_id(&code);
        prop_assert!(r.valid, "{code}: {:?}", r.errors);
        prop_assert_eq!(r.kind, Some(TaxIdKind::Uscc));
        prop_assert!(r.warnings.is_empty(), "{code}: {:?}", r.warnings);
        // Spaces, dashes, lower case and full-width forms change nothing.
        let messy: String = code.chars().enumerate().map(|(i, c)| {
            let c = if i % 3 == 0 { c.to_ascii_lowercase() } else { c };
            if i % 5 == 4 { format!("{c} ") } else if i == 8 { format!("-{c}") } else { c.to_string() }
        }).collect();
        prop_assert_eq!(validate_tax_id(&messy).normalized, code.clone());
        let wide: String = code.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect();
        prop_assert!(validate_tax_id(&wide).valid);
    }

    #[test]
    fn every_single_character_change_fails(code in valid_uscc(), pos in 0usize..18, replacement in prop::sample::select(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".to_vec())) {
        let mut b = code.clone().into_bytes();
        prop_assume!(b[pos] != replacement);
        b[pos] = replacement;
        let changed = String::from_utf8(b).unwrap();
        let r = validate_tax_id(&changed);
        prop_assert!(!r.valid, "{changed} (from {code}) passed");
    }

    #[test]
    fn a_confused_character_is_suggested_back(code in valid_uscc()) {
        // Every position holding a character people confuse, typed wrong in turn.
        for pos in 0..18 {
            for &(typed, meant) in CONFUSIONS.iter().filter(|(_, meant)| code.as_bytes()[pos] == *meant) {
                let mut b = code.clone().into_bytes();
                b[pos] = typed;
                let changed = String::from_utf8(b).unwrap();
                let r = validate_tax_id(&changed);
                prop_assert!(!r.valid);
                prop_assert!(r.suggestions.contains(&code), "{changed}: {:?} lacks {code} ({} for {})", r.suggestions, typed as char, meant as char);
                prop_assert!(r.suggestions.len() <= 3);
                for s in &r.suggestions {
                    prop_assert!(validate_tax_id(s).valid, "suggested {s} is not valid");
                }
            }
        }
    }

    #[test]
    fn never_panics_on_any_text(input in ".{0,40}") {
        let r = validate_tax_id(&input);
        prop_assert_eq!(r.valid, r.errors.is_empty());
    }
}
