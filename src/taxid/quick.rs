//! The common case without allocating: a unified social credit code, already in
//! normal form, that passes every check with nothing to warn about. Spreadsheet
//! imports and the WebAssembly boundary ask this first and build the full
//! [`TaxIdResult`](super::TaxIdResult) only for the rest.

use super::{orgcode, resident, uscc};
use crate::clock::Date;
use crate::region;

/// What [`clean_uscc`] found out about a clean code, beyond the code itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanUscc {
    /// The year the region code (positions 3–8) went out of use, if it did.
    pub region_retired: Option<u16>,
}

/// `Some` exactly when [`validate_tax_id`](super::validate_tax_id) would return a
/// valid USCC with no warning, no suggestion and `normalized` equal to `id`: 18
/// characters of the USCC alphabet (capitals, no I, O, S, V, Z), a known
/// authority and entity type, a region code of some GB/T 2260 edition, both check
/// characters right. `None` means "ask the full check", not "invalid": lower
/// case, spaces, warnings, errors, and any 18 digits that could also be read as a
/// resident ID with a real birth date all go the long way.
///
/// ```
/// use fapiao::taxid::clean_uscc;
/// assert!(clean_uscc(b"91110000600037341L").is_some());
/// assert!(clean_uscc(b"91110000600037341l").is_none()); // normal form first
/// assert!(clean_uscc(b"91110000600037340L").is_none()); // check character
/// ```
pub fn clean_uscc(id: &[u8]) -> Option<CleanUscc> {
    let id: &[u8; 18] = id.try_into().ok()?;
    for &c in id {
        uscc::value(c)?;
    }
    // Every character is ASCII now, so the slices below are on char boundaries.
    let text = core::str::from_utf8(id).ok()?;
    if resident::has_shape(text) && Date::parse_compact(&text[6..14]).is_some_and(|d| d.year >= 1850) {
        return None;
    }
    let (_, types) = uscc::authority(char::from(id[0]))?;
    types.iter().find(|t| t.0 == char::from(id[1]))?;
    if !id[2..8].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if orgcode::check_character(&text[8..16]) != Some(char::from(id[16])) {
        return None;
    }
    if uscc::check_character(&text[..17]) != Some(char::from(id[17])) {
        return None;
    }
    let region_retired = region::find(&text[2..8])?;
    Some(CleanUscc { region_retired })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxid::{validate_tax_id, TaxIdKind};

    /// A small deterministic generator (the tests need no randomness crate).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    /// Codes built to pass the two check characters, over every authority and
    /// entity type (known and unknown), known, retired and unknown regions.
    fn generated(count: usize) -> Vec<String> {
        const REGIONS: &[&str] = &[
            "110000", "110101", "110103", "310115", "440300", "652201", "000000", "999999", "100000",
        ];
        let mut rng = Lcg(7);
        let alphabet = uscc::ALPHABET;
        (0..count)
            .map(|_| {
                let mut s = String::new();
                s.push(char::from(alphabet[rng.next(31)]));
                let types = if rng.next(4) == 0 { 31 } else { 4 };
                s.push(char::from(alphabet[rng.next(types)]));
                s.push_str(REGIONS[rng.next(REGIONS.len())]);
                let body: String = (0..8)
                    .map(|_| {
                        let chars = if rng.next(3) == 0 { 31 } else { 10 };
                        char::from(alphabet[rng.next(chars)])
                    })
                    .collect();
                s.push_str(&body);
                let org = orgcode::check_character(&body).unwrap();
                s.push(org);
                if let Some(c) = uscc::check_character(&s) {
                    s.push(c);
                } else {
                    s.push('0');
                }
                s
            })
            .collect()
    }

    fn mutations(code: &str) -> Vec<String> {
        let mut out = vec![code.to_lowercase(), format!(" {code}"), code[..17].to_owned()];
        for (i, c) in ["0", "A", "Z", "X"].iter().enumerate() {
            let mut m = code.to_owned();
            m.replace_range(i * 4..i * 4 + 1, c);
            out.push(m);
        }
        out
    }

    /// The quick answer agrees with the full check: whenever it says clean, the
    /// full result is a valid USCC without warnings or suggestions, in normal form,
    /// with the same retirement year; and every such full result that could not
    /// also be read as a resident ID is recognised.
    #[test]
    fn agrees_with_the_full_check() {
        let real = include_str!("../../tests/data/uscc-real.txt");
        let mut inputs: Vec<String> = real
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
            .collect();
        inputs.extend(generated(4000));
        let mutated: Vec<String> = inputs
            .iter()
            .filter(|c| c.len() == 18)
            .flat_map(|c| mutations(c))
            .collect();
        inputs.extend(mutated);
        inputs.extend(
            [
                "110101199003074514",
                "91110000600037341L",
                "",
                "X",
                "911100006000373410",
            ]
            .map(String::from),
        );
        let (mut clean, mut total) = (0, 0);
        for input in &inputs {
            total += 1;
            let quick = clean_uscc(input.as_bytes());
            let full = validate_tax_id(input);
            let full_clean = full.valid
                && full.warnings.is_empty()
                && full.suggestions.is_empty()
                && full.kind == Some(TaxIdKind::Uscc)
                && full.normalized == *input;
            match quick {
                Some(q) => {
                    clean += 1;
                    assert!(full_clean, "{input}: quick says clean, full says {full:?}");
                    assert_eq!(full.details.region_retired_year, q.region_retired, "{input}");
                }
                None => {
                    let b = input.as_bytes();
                    let resident_reading = b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit);
                    assert!(
                        !full_clean || resident_reading,
                        "{input}: full says clean, quick does not"
                    );
                }
            }
        }
        // Both answers occur often enough for the comparison to mean something.
        assert!(clean > 500 && total - clean > 1000, "{clean} clean of {total}");
    }
}
