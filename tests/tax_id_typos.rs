//! How well typos are caught and undone, measured per kind of typo over generated
//! codes: run with `cargo test -p fapiao --test tax_id_typos -- --nocapture` to see
//! the figures. Deterministic (a seeded generator, a fixed "today").
//!
//! Codes: USCCs of every registration authority and entity type (A, N and Y
//! included), regions from the GB/T 2260 history, organization codes of three
//! styles (all digits, `MA…`, any symbols); resident IDs with real birth dates
//! 1930–2026 and county-level regions. Typos: one character changed (any digit or
//! capital letter; for resident IDs a digit or X), two neighbours swapped, one
//! character dropped, one added.
#![cfg(not(target_arch = "wasm32"))]

use fapiao::clock::Date;
use fapiao::taxid::{orgcode, resident, uscc, validate_on};
use fapiao::{TaxIdKind, TaxIdResult};

const USCC_CODES: usize = 500;
const RESIDENT_CODES: usize = 500;
/// Random changes and additions per code (swaps and drops are tried at every position).
const RANDOM_PER_CODE: usize = 10;

fn today() -> Date {
    Date::new(2026, 11, 23).unwrap()
}

/// SplitMix64: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Every code of data/regions.txt, with whether it is retired (its first data line
/// holds the code differences, the second the years codes were retired).
fn regions() -> Vec<(String, bool)> {
    let text = include_str!("../data/regions.txt");
    let mut data = text.lines().filter(|l| !l.starts_with('#'));
    let (deltas, retired) = (data.next().unwrap(), data.next().unwrap());
    let mut code = 0u32;
    deltas
        .split(',')
        .zip(retired.split(','))
        .map(|(d, year)| {
            code += d.parse::<u32>().unwrap();
            (format!("{code:06}"), !year.is_empty())
        })
        .collect()
}

/// A USCC's region is its registration authority's when the code was assigned
/// (2015 or later): a code in use, and one time in twenty a retired one (real codes
/// carry few: one of the 385 in tests/data/uscc-real.txt).
fn make_uscc(rng: &mut Rng, current: &[String], retired: &[String]) -> String {
    let pairs: Vec<(char, char)> = uscc::AUTHORITIES
        .iter()
        .flat_map(|(a, _, types)| types.iter().map(move |(t, _)| (*a, *t)))
        .collect();
    let (a, t) = rng.pick(&pairs);
    let regions = if rng.below(20) == 0 { retired } else { current };
    let region = &regions[rng.below(regions.len())];
    let digits = b"0123456789";
    let body: String = match rng.below(3) {
        0 => (0..8).map(|_| rng.pick(digits) as char).collect(),
        1 => "MA"
            .chars()
            .chain((0..6).map(|_| rng.pick(uscc::ALPHABET) as char))
            .collect(),
        _ => (0..8).map(|_| rng.pick(uscc::ALPHABET) as char).collect(),
    };
    let first17 = format!("{a}{t}{region}{body}{}", orgcode::check_character(&body).unwrap());
    format!("{first17}{}", uscc::check_character(&first17).unwrap())
}

fn make_resident(rng: &mut Rng, counties: &[String]) -> String {
    let region = &counties[rng.below(counties.len())];
    let birth = loop {
        let (y, m, d) = (
            1930 + rng.below(97) as i32,
            1 + rng.below(12) as u32,
            1 + rng.below(31) as u32,
        );
        if let Some(date) = Date::new(y, m, d).filter(|&date| date < today()) {
            break date;
        }
    };
    let first17 = format!(
        "{region}{:04}{:02}{:02}{:03}",
        birth.year,
        birth.month,
        birth.day,
        rng.below(1000)
    );
    format!("{first17}{}", resident::check_character(&first17).unwrap())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Typo {
    Substitution,
    Swap,
    Deletion,
    Insertion,
}
const TYPOS: [Typo; 4] = [Typo::Substitution, Typo::Swap, Typo::Deletion, Typo::Insertion];

/// Every typo of `code` of the kinds tried at every position, and random ones of the others.
fn typos(code: &str, charset: &[u8], rng: &mut Rng) -> Vec<(Typo, String)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let text = |v: Vec<u8>| String::from_utf8(v).unwrap();
    for i in 0..b.len() - 1 {
        if b[i] != b[i + 1] {
            let mut n = b.to_vec();
            n.swap(i, i + 1);
            out.push((Typo::Swap, text(n)));
        }
    }
    for i in 0..b.len() {
        let mut n = b.to_vec();
        n.remove(i);
        out.push((Typo::Deletion, text(n)));
    }
    for _ in 0..RANDOM_PER_CODE {
        let i = rng.below(b.len());
        let c = loop {
            let c = rng.pick(charset);
            if c != b[i] {
                break c;
            }
        };
        let mut n = b.to_vec();
        n[i] = c;
        out.push((Typo::Substitution, text(n)));
        let mut n = b.to_vec();
        n.insert(rng.below(b.len() + 1), rng.pick(charset));
        out.push((Typo::Insertion, text(n)));
    }
    out
}

#[derive(Default)]
struct Tally {
    n: usize,
    flagged: usize,
    among: usize,
    lone_wrong: usize,
    /// Typos that pass, with the reading they pass as.
    unflagged: Vec<(String, String, Option<TaxIdKind>)>,
    lone_wrong_examples: Vec<(String, String, String)>,
}

impl Tally {
    fn add(&mut self, original: &str, typo: &str, r: &TaxIdResult) {
        self.n += 1;
        if r.valid {
            self.unflagged.push((typo.to_owned(), original.to_owned(), r.kind));
        } else {
            self.flagged += 1;
        }
        if r.suggestions.iter().any(|s| s == original) {
            self.among += 1;
        } else if r.suggestions.len() == 1 {
            self.lone_wrong += 1;
            self.lone_wrong_examples
                .push((typo.to_owned(), original.to_owned(), r.suggestions[0].clone()));
        }
    }

    fn percent(&self, count: usize) -> f64 {
        100.0 * count as f64 / self.n.max(1) as f64
    }
}

#[test]
fn typos_are_flagged_and_suggestions_point_at_the_right_code() {
    let mut rng = Rng(0x5EED_F00D_2026_1123);
    let regions = regions();
    let codes_where = |keep: &dyn Fn(&str, bool) -> bool| -> Vec<String> {
        regions
            .iter()
            .filter(|(c, r)| keep(c, *r))
            .map(|(c, _)| c.clone())
            .collect()
    };
    let current = codes_where(&|_, retired| !retired);
    let retired = codes_where(&|_, retired| retired);
    let counties = codes_where(&|c, _| !c.ends_with("00"));
    let uscc_charset = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let resident_charset = b"0123456789X";

    let mut codes: Vec<(TaxIdKind, String)> = Vec::new();
    codes.extend((0..USCC_CODES).map(|_| (TaxIdKind::Uscc, make_uscc(&mut rng, &current, &retired))));
    codes.extend((0..RESIDENT_CODES).map(|_| (TaxIdKind::Resident, make_resident(&mut rng, &counties))));

    // Every generated code passes, with no warning, read as what it is.
    let mut check_zero = 0;
    for (kind, code) in &codes {
        let r = validate_on(code, today());
        assert!(
            r.valid && r.warnings.is_empty(),
            "{code}: {:?} {:?}",
            r.errors,
            r.warnings
        );
        assert_eq!(r.kind, Some(*kind), "{code}");
        check_zero += usize::from(*kind == TaxIdKind::Uscc && code.ends_with('0'));
    }
    assert!(check_zero >= 5, "too few codes with check character 0: {check_zero}");
    for letter in ['A', 'N', 'Y'] {
        assert!(
            codes.iter().any(|(_, c)| c.starts_with(letter)),
            "no authority {letter}"
        );
    }

    let mut tallies: Vec<((TaxIdKind, Typo), Tally)> = Vec::new();
    for (kind, code) in &codes {
        let charset: &[u8] = if *kind == TaxIdKind::Uscc {
            uscc_charset
        } else {
            resident_charset
        };
        for (typo, input) in typos(code, charset, &mut rng) {
            let r = validate_on(&input, today());
            let slot = match tallies.iter().position(|(k, _)| *k == (*kind, typo)) {
                Some(i) => i,
                None => {
                    tallies.push(((*kind, typo), Tally::default()));
                    tallies.len() - 1
                }
            };
            tallies[slot].1.add(code, &input, &r);
        }
    }

    println!(
        "{:<10} {:<13} {:>6} {:>9} {:>9} {:>11}",
        "code", "typo", "n", "flagged%", "among%", "loneWrong%"
    );
    let mut failures = Vec::new();
    for kind in [TaxIdKind::Uscc, TaxIdKind::Resident] {
        for typo in TYPOS {
            let Some((_, t)) = tallies.iter().find(|(k, _)| *k == (kind, typo)) else {
                failures.push(format!("{kind:?} {typo:?}: no samples"));
                continue;
            };
            let (flagged, among, lone) = (t.percent(t.flagged), t.percent(t.among), t.percent(t.lone_wrong));
            println!(
                "{:<10} {:<13} {:>6} {:>9.2} {:>9.2} {:>11.2}",
                format!("{kind:?}"),
                format!("{typo:?}"),
                t.n,
                flagged,
                among,
                lone
            );
            if !t.unflagged.is_empty() {
                let mut readings: Vec<(Option<TaxIdKind>, usize)> = Vec::new();
                for (_, _, reading) in &t.unflagged {
                    match readings.iter_mut().find(|(k, _)| k == reading) {
                        Some((_, n)) => *n += 1,
                        None => readings.push((*reading, 1)),
                    }
                }
                println!("    {} unflagged, valid as {readings:?}", t.unflagged.len());
            }
            for (input, original, reading) in t.unflagged.iter().take(8) {
                println!("    unflagged: {input} (from {original}) reads as a valid {reading:?}");
            }
            for (input, original, wrong) in t.lone_wrong_examples.iter().take(5) {
                println!("    lone wrong suggestion: {input} (from {original}) → {wrong}");
            }
            let min_flagged = if (kind, typo) == (TaxIdKind::Resident, Typo::Deletion) {
                97.0
            } else {
                99.5
            };
            if flagged < min_flagged {
                failures.push(format!("{kind:?} {typo:?}: {flagged:.2} % flagged < {min_flagged} %"));
            }
            let min_among = match (kind, typo) {
                (TaxIdKind::Uscc, Typo::Substitution | Typo::Swap) => 95.0,
                (TaxIdKind::Resident, Typo::Swap) => 90.0,
                _ => 0.0,
            };
            if among < min_among {
                failures.push(format!(
                    "{kind:?} {typo:?}: true code among the suggestions {among:.2} % < {min_among} %"
                ));
            }
            if lone > 0.5 {
                failures.push(format!(
                    "{kind:?} {typo:?}: a lone suggestion is wrong in {lone:.2} % > 0.5 %"
                ));
            }
            assert!(t.n >= 2000, "{kind:?} {typo:?}: only {} samples", t.n);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
