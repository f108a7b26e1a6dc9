//! Taxpayer-ID validation against real codes and generated ones.
#![cfg(not(target_arch = "wasm32"))]

use fapiao::taxid::{orgcode, uscc};
use fapiao::{validate_tax_id, TaxIdKind};
use proptest::prelude::*;

/// Real codes found online (tests/data/uscc-real.txt): none may get an error.
#[test]
fn real_codes_are_all_valid() {
    let corpus = include_str!("data/uscc-real.txt");
    let codes: Vec<&str> = corpus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
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
const CONFUSIONS: &[(u8, u8)] = &[
    (b'O', b'0'),
    (b'I', b'1'),
    (b'Z', b'2'),
    (b'S', b'5'),
    (b'B', b'8'),
    (b'8', b'B'),
    (b'D', b'0'),
    (b'G', b'6'),
];

fn region_code() -> impl Strategy<Value = String> {
    // Real, current county codes from several provinces, plus province level.
    prop::sample::select(vec![
        "110000", "110108", "310115", "440300", "440305", "320214", "340603", "620105", "650102", "100000",
    ])
    .prop_map(str::to_owned)
}

fn authority_and_type() -> impl Strategy<Value = (char, char)> {
    let pairs: Vec<(char, char)> = uscc::AUTHORITIES
        .iter()
        .flat_map(|(a, _, types)| types.iter().map(move |(t, _)| (*a, *t)))
        .collect();
    prop::sample::select(pairs)
}

/// A valid USCC built from random parts: check characters computed, all tables known.
fn valid_uscc() -> impl Strategy<Value = String> {
    (
        authority_and_type(),
        region_code(),
        prop::collection::vec(prop::sample::select(uscc::ALPHABET.to_vec()), 8),
    )
        .prop_map(|((a, t), region, body)| {
            let body = String::from_utf8(body).unwrap();
            let org = format!("{body}{}", orgcode::check_character(&body).unwrap());
            let first17 = format!("{a}{t}{region}{org}");
            format!("{first17}{}", uscc::check_character(&first17).unwrap())
        })
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

    #[test]
    fn never_panics_on_text_of_a_tax_ids_length(input in "[0-9A-Z]{15,20}", person in any::<bool>()) {
        // These lengths take the suggestion search.
        let holder = if person { fapiao::taxid::Holder::Person } else { fapiao::taxid::Holder::Unknown };
        let r = fapiao::taxid::validate_for(&input, holder);
        prop_assert_eq!(r.valid, r.errors.is_empty());
        prop_assert!(r.suggestions.len() <= 3);
    }
}

fn valid_resident() -> impl Strategy<Value = String> {
    // Real county codes (one retired), real dates 1930–2024, any sequence number.
    let regions = prop::sample::select(vec![
        "110101", "110103", "310115", "440305", "360426", "620105", "650102", "230207",
    ]);
    (regions, 1930i32..2025, 1u32..13, 1u32..32, 0u32..1000).prop_filter_map("a real date", |(region, y, m, d, seq)| {
        fapiao::clock::Date::new(y, m, d)?;
        let first17 = format!("{region}{y:04}{m:02}{d:02}{seq:03}");
        Some(format!(
            "{first17}{}",
            fapiao::taxid::resident::check_character(&first17)?
        ))
    })
}

/// The normalised input and a suggestion differ exactly where the edit says.
fn edit_is_described(input: &str, e: &fapiao::taxid::SuggestionEdit) -> bool {
    use fapiao::taxid::EditKind;
    let (a, b) = (input.as_bytes(), e.suggestion.as_bytes());
    match e.edit {
        EditKind::Lookalike | EditKind::Substitution | EditKind::Swap => {
            let differ: Vec<usize> = (0..a.len().min(b.len()))
                .filter(|&i| a[i] != b[i])
                .map(|i| i + 1)
                .collect();
            a.len() == b.len() && differ == e.positions && e.positions == e.input_positions
        }
        EditKind::Insertion => {
            let p = e.positions[0];
            b.len() == a.len() + 1 && e.positions.len() == 1 && [&b[..p - 1], &b[p..]].concat() == a
        }
        EditKind::Deletion => {
            let p = e.input_positions[0];
            a.len() == b.len() + 1 && e.input_positions.len() == 1 && [&a[..p - 1], &a[p..]].concat() == b
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_resident_ids_pass_with_no_warning(id in valid_resident()) {
        let r = validate_tax_id(&id);
        prop_assert!(r.valid, "{id}: {:?}", r.errors);
        prop_assert_eq!(r.kind, Some(TaxIdKind::Resident));
        prop_assert!(r.warnings.is_empty(), "{id}: {:?}", r.warnings);
    }

    #[test]
    fn every_digit_change_of_a_resident_id_fails(id in valid_resident(), pos in 0usize..18, replacement in prop::sample::select(b"0123456789X".to_vec())) {
        let mut b = id.clone().into_bytes();
        prop_assume!(b[pos] != replacement);
        b[pos] = replacement;
        let changed = String::from_utf8(b).unwrap();
        let r = validate_tax_id(&changed);
        // Rarely the change makes a valid USCC (with unknown tables): that is a reading, not a miss.
        prop_assert!(!r.valid || r.kind == Some(TaxIdKind::Uscc), "{changed} (from {id}) passed");
    }

    #[test]
    fn suggestions_say_where_they_differ(code in valid_uscc(), id in valid_resident(), pick in 0usize..4, pos in 0usize..18, c in prop::sample::select(b"0123456789ABCDEFGHJKLMNPQRTUWXYOISZV".to_vec())) {
        for original in [&code, &id] {
            let mut b = original.clone().into_bytes();
            match pick {
                0 => b[pos] = c,
                1 => b.swap(pos.min(16), pos.min(16) + 1),
                2 => { b.remove(pos); }
                _ => b.insert(pos, c),
            }
            let typo = String::from_utf8(b).unwrap();
            let r = validate_tax_id(&typo);
            prop_assert!(r.suggestions.len() <= 3);
            prop_assert_eq!(r.suggestions.len(), r.suggestion_edits.len());
            for (s, e) in r.suggestions.iter().zip(&r.suggestion_edits) {
                prop_assert_eq!(s, &e.suggestion);
                let v = validate_tax_id(s);
                prop_assert!(v.valid && v.warnings.is_empty(), "{typo} → {s}: {:?}", v);
                prop_assert_eq!(v.kind, Some(e.kind));
                prop_assert!(edit_is_described(&r.normalized, e), "{typo} → {e:?}");
            }
        }
    }
}

// Regression examples: typos that used to pass or to get one wrong suggestion.

#[test]
fn a_resident_id_with_a_digit_dropped_is_flagged_and_the_id_suggested() {
    let r = validate_tax_id("3607291960701667X");
    assert!(!r.valid, "{r:?}");
    assert!(
        r.suggestions.contains(&"36072919680701667X".to_owned()),
        "{:?}",
        r.suggestions
    );
}

#[test]
fn twenty_characters_without_an_identity_number_are_flagged() {
    let r = validate_tax_id("ABCDEFGHJKLMNPQRTU01");
    assert!(!r.valid);
    assert_eq!(r.errors[0].code, "TAXID_LEGACY_STRUCTURE");
    assert!(!r.errors[0].overridable);
}

#[test]
fn a_persons_id_with_an_impossible_date_cannot_be_confirmed() {
    use fapiao::buyer::{validate_buyer, BuyerInput, BuyerOptions};
    for kind in ["person", "company"] {
        let input = BuyerInput {
            kind: Some(kind.into()),
            name: Some("张三".into()),
            tax_id: Some("110102199102300077".into()),
            ..Default::default()
        };
        let options = BuyerOptions {
            confirmed: ["TAXID_CHECKSUM", "TAXID_ORG_CHECKSUM", "TAXID_BIRTH_DATE"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        };
        let r = validate_buyer(&input, &options);
        assert!(!r.valid, "{kind}: {r:?}");
        assert!(
            r.errors.iter().any(|e| e.code == "TAXID_BIRTH_DATE"),
            "{kind}: {:?}",
            r.errors
        );
    }
}

#[test]
fn a_valid_resident_id_is_read_as_one() {
    let r = validate_tax_id("230207202407233396");
    assert!(r.valid);
    assert_eq!(r.kind, Some(TaxIdKind::Resident));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn a_wrong_check_character_is_not_answered_with_another_taxpayers_code_alone() {
    // (typo, true code, the other taxpayer's code that used to be the only suggestion)
    let cases = [
        ("91620105224521729M", "91620105224521729E", "91621005224521729M"),
        ("Y1330922WCPWXHE15R", "Y1330922WCPWXHE15H", "Y1330292WCPWXHE15R"),
        ("45070819730606555X", "45070219730606555X", "54070819730606555X"),
    ];
    for (typo, truth, other) in cases {
        let r = validate_tax_id(typo);
        assert!(!r.valid);
        assert_ne!(r.suggestions, [other], "{typo}");
        assert!(
            r.suggestions.is_empty() || r.suggestions.contains(&truth.to_owned()),
            "{typo}: {:?}",
            r.suggestions
        );
    }
    let r = validate_tax_id("91620105224521729M");
    assert!(
        r.suggestions.contains(&"91620105224521729E".to_owned()),
        "{:?}",
        r.suggestions
    );
    let r = validate_tax_id("45070819730606555X");
    assert_eq!(r.suggestions, ["45070219730606555X"]);
    assert_eq!(r.suggestion_edits[0].positions, [6]);
}
