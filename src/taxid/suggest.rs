//! Valid taxpayer IDs one typo away from an invalid input: candidates for the user
//! to compare with the licence or identity card, never corrections.
//!
//! Every ID one edit away is built — one character changed (the check character
//! included), two neighbours swapped, one character added or dropped, the letters a
//! USCC never contains replaced by the digits they look like — and kept when it is
//! a USCC or resident ID with no error and no warning. The checks make this cheap:
//! for each position at most one character satisfies the mod-31 check of a USCC or
//! the mod-11 check of a resident ID, and it is computed, not searched for.
//!
//! Up to three are returned, likeliest first (look-alikes, then swaps, then other
//! changes). When more fit, USCCs with a retired region code are left out first;
//! if still more fit, a single one would be a guess: only the look-alikes and swaps
//! are returned, together with the check-character fix so that none of them stands
//! alone (a letter read for a digit, or the reverse, may), and nothing when that is
//! not two or three IDs.

use super::{check, resident, uscc, EditKind, Holder, SuggestionEdit, TaxIdKind};
use crate::clock::Date;

/// At most this many suggestions are returned.
const MAX: usize = 3;

/// Letters a USCC cannot contain, and the digits (or letters) they were probably
/// meant to be.
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

/// Pairs of allowed characters that look alike, either way round.
const LOOKALIKE_PAIRS: &[(u8, u8)] = &[
    (b'0', b'D'),
    (b'0', b'Q'),
    (b'1', b'7'),
    (b'1', b'L'),
    (b'7', b'T'),
    (b'8', b'B'),
    (b'6', b'G'),
    (b'U', b'Y'),
];

/// True when `typed` is a character people type or read for `meant`.
fn looks_alike(typed: u8, meant: u8) -> bool {
    forced(typed).contains(&meant)
        || LOOKALIKE_PAIRS
            .iter()
            .any(|&(a, b)| (a, b) == (typed, meant) || (b, a) == (typed, meant))
}

/// The 1-based positions either side of a gap after `before` characters, in a text
/// of `len` characters.
fn gap(before: usize, len: usize) -> Vec<usize> {
    [before, before + 1]
        .into_iter()
        .filter(|&p| p >= 1 && p <= len)
        .collect()
}

struct Found {
    edit: SuggestionEdit,
    retired: bool,
}

struct Search<'a> {
    input: &'a [u8],
    holder: Holder,
    today: Date,
    found: Vec<Found>,
}

impl Search<'_> {
    /// Keeps `candidate` when it is a USCC or resident ID with neither errors nor warnings.
    fn consider(&mut self, candidate: Vec<u8>, edit: EditKind, positions: Vec<usize>, input_positions: Vec<usize>) {
        // (Never the input itself: every edit changes it.)
        let Ok(id) = String::from_utf8(candidate) else {
            return;
        };
        if self.found.iter().any(|f| f.edit.suggestion == id) {
            return;
        }
        // Cheap checks first: most candidates fail a check character, the tables or
        // the birth date.
        let uscc_like = uscc::is_well_formed(&id) && super::region_known(&id[2..8]);
        let resident_like = resident::is_checksum_valid(&id)
            && super::birth_date(&id[6..14], self.today).is_some()
            && super::region_known(&id[..6]);
        if !uscc_like && !resident_like {
            return;
        }
        let r = check(&id, self.holder, self.today);
        let Some(kind @ (TaxIdKind::Uscc | TaxIdKind::Resident)) = r.kind else {
            return;
        };
        if !r.valid || !r.warnings.is_empty() {
            return;
        }
        let retired = r.details.region_retired == Some(true);
        let edit = SuggestionEdit {
            suggestion: id,
            kind,
            edit,
            positions,
            input_positions,
        };
        self.found.push(Found { edit, retired });
    }

    /// For an 18-character input: look-alikes, changes and swaps.
    fn same_length(&mut self) {
        let input = self.input;
        // Every letter a USCC never has, replaced at once (who types O for 0 tends to
        // do it every time).
        let mut bases: Vec<Vec<u8>> = vec![input.to_vec()];
        let mut positions = Vec::new();
        for (i, &c) in input.iter().enumerate() {
            let options = forced(c);
            if options.is_empty() {
                continue;
            }
            positions.push(i + 1);
            let mut next = Vec::new();
            for b in bases.iter().take(8) {
                for &o in options {
                    let mut n = b.clone();
                    n[i] = o;
                    next.push(n);
                }
            }
            bases = next;
        }
        if !positions.is_empty() {
            for b in bases {
                self.consider(b, EditKind::Lookalike, positions.clone(), positions.clone());
            }
        }
        // One character changed: per position, the one character each check allows.
        for hole in 0..18 {
            for fill in [uscc::fill_check(input, hole), resident::fill_check(input, hole)]
                .into_iter()
                .flatten()
            {
                if fill == input[hole] {
                    continue;
                }
                let mut n = input.to_vec();
                n[hole] = fill;
                let edit = if looks_alike(input[hole], fill) {
                    EditKind::Lookalike
                } else {
                    EditKind::Substitution
                };
                self.consider(n, edit, vec![hole + 1], vec![hole + 1]);
            }
        }
        // Two neighbours swapped.
        for i in 0..17 {
            if input[i] != input[i + 1] {
                let mut n = input.to_vec();
                n.swap(i, i + 1);
                self.consider(n, EditKind::Swap, vec![i + 1, i + 2], vec![i + 1, i + 2]);
            }
        }
    }

    /// For a 17-character input: one character added anywhere.
    fn insertions(&mut self) {
        for hole in 0..=17 {
            let mut n = self.input.to_vec();
            n.insert(hole, b'0');
            for fill in [uscc::fill_check(&n, hole), resident::fill_check(&n, hole)]
                .into_iter()
                .flatten()
            {
                let mut m = n.clone();
                m[hole] = fill;
                self.consider(m, EditKind::Insertion, vec![hole + 1], gap(hole, 17));
            }
        }
    }

    /// For a 19-character input: one character dropped anywhere.
    fn deletions(&mut self) {
        for i in 0..19 {
            let mut n = self.input.to_vec();
            n.remove(i);
            self.consider(n, EditKind::Deletion, gap(i, 18), vec![i + 1]);
        }
    }
}

/// The suggestions for an invalid normalised input, likeliest first.
pub(super) fn suggestions(input: &str, holder: Holder, today: Date) -> Vec<SuggestionEdit> {
    let mut search = Search {
        input: input.as_bytes(),
        holder,
        today,
        found: Vec::new(),
    };
    if !input.is_ascii() {
        return Vec::new();
    }
    match input.len() {
        17 => search.insertions(),
        18 => search.same_length(),
        19 => search.deletions(),
        _ => return Vec::new(),
    }
    let found = search.found;
    let input_bytes = input.as_bytes();
    // Likeliest first: look-alikes, swaps, other edits; then codes of regions still
    // in use; for a person, resident IDs; then the order found.
    let rank = |f: &Found| {
        let class = match f.edit.edit {
            EditKind::Lookalike => 0,
            EditKind::Swap => 4,
            _ => 8,
        };
        class + 2 * u8::from(f.retired) + u8::from(holder == Holder::Person && f.edit.kind != TaxIdKind::Resident)
    };
    let mut order = crate::sort::indices(found.len());
    crate::sort::sort_indices(&mut order, &|a, b| {
        (rank(&found[a as usize]), a).cmp(&(rank(&found[b as usize]), b))
    });
    // Too many to list: first leave out USCCs whose region code is retired, far less
    // likely than the others (real codes rarely carry one).
    let many = order.len() > MAX;
    let (mut plausible, mut likely, mut check_fix) = (Vec::new(), Vec::new(), None);
    for i in order {
        let e = &found[i as usize];
        if many && e.retired && e.edit.kind == TaxIdKind::Uscc {
            continue;
        }
        plausible.push(i);
        match e.edit.edit {
            EditKind::Lookalike | EditKind::Swap => likely.push(i),
            EditKind::Substitution if check_fix.is_none() && e.edit.positions == [18] => check_fix = Some(i),
            _ => {}
        }
    }
    let keep: Vec<u32> = if plausible.len() <= MAX {
        plausible
    } else {
        // Still too many: the look-alikes and swaps with the check-character fix. A
        // letter read for the digit it looks like (or the other way round) may stand
        // alone; a swap or a digit for a digit may not, as a change elsewhere is
        // about as likely.
        let shown = likely.len() + usize::from(check_fix.is_some());
        let lone_lookalike = shown == 1
            && likely.first().is_some_and(|&i| {
                let e = &found[i as usize].edit;
                e.edit == EditKind::Lookalike
                    && e.input_positions.iter().all(|&p| {
                        input_bytes[p - 1].is_ascii_digit() != e.suggestion.as_bytes()[p - 1].is_ascii_digit()
                    })
            });
        if !likely.is_empty() && shown <= MAX && (shown >= 2 || lone_lookalike) {
            plausible.retain(|i| likely.contains(i) || Some(*i) == check_fix);
            plausible
        } else {
            Vec::new()
        }
    };
    let mut found: Vec<Option<Found>> = found.into_iter().map(Some).collect();
    keep.into_iter()
        .filter_map(|i| found[i as usize].take().map(|f| f.edit))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 11, 23).unwrap()
    }

    fn ids(input: &str) -> Vec<String> {
        suggestions(input, Holder::Unknown, today())
            .into_iter()
            .map(|e| e.suggestion)
            .collect()
    }

    #[test]
    fn forbidden_letters_are_mapped_to_digits() {
        let s = suggestions("9111OOOO6OOO37341L", Holder::Unknown, today());
        assert_eq!(s.first().map(|e| e.suggestion.as_str()), Some("91110000600037341L"));
        assert_eq!(s[0].edit, EditKind::Lookalike);
        assert_eq!(s[0].positions, [5, 6, 7, 8, 10, 11, 12]);
        let s = ids("9I110000600037341L");
        assert_eq!(s.first().map(String::as_str), Some("91110000600037341L"));
    }

    #[test]
    fn lookalike_and_transposition() {
        // 8 typed as B in the organization code.
        let s = ids("91310115MA1K38TP2B");
        assert!(s.contains(&"91310115MA1K3BTP2B".to_owned()), "{s:?}");
        // Two neighbours swapped.
        let s = suggestions("91110000600037314L", Holder::Unknown, today());
        let swap = s
            .iter()
            .find(|e| e.suggestion == "91110000600037341L")
            .expect("swap found");
        assert_eq!((swap.edit, swap.positions.as_slice()), (EditKind::Swap, &[16, 17][..]));
    }

    #[test]
    fn a_missing_or_extra_character_is_found() {
        let s = suggestions("9111000060003734L", Holder::Unknown, today());
        let e = s
            .iter()
            .find(|e| e.suggestion == "91110000600037341L")
            .expect("insertion found");
        assert_eq!(
            (e.edit, e.positions.as_slice(), e.input_positions.as_slice()),
            (EditKind::Insertion, &[17][..], &[16, 17][..])
        );
        let s = suggestions("911100006000373411L", Holder::Unknown, today());
        let e = s
            .iter()
            .find(|e| e.suggestion == "91110000600037341L")
            .expect("deletion found");
        assert_eq!(e.edit, EditKind::Deletion);
        assert!(e.input_positions == [17] || e.input_positions == [18], "{e:?}");
    }

    #[test]
    fn every_suggestion_is_valid_without_warnings_and_one_edit_away() {
        for input in [
            "91620105224521729M",
            "Y1330922WCPWXHE15R",
            "45070819730606555X",
            "9111000060003734L",
            "911100006000373411L",
        ] {
            for e in suggestions(input, Holder::Unknown, today()) {
                let r = check(&e.suggestion, Holder::Unknown, today());
                assert!(r.valid && r.warnings.is_empty(), "{input} → {e:?}");
                assert_eq!(r.kind, Some(e.kind));
            }
        }
    }

    #[test]
    fn nothing_for_garbage() {
        assert!(ids("hello").is_empty());
        assert!(ids("中文中文中文").is_empty());
        assert!(ids("ABCDEFGHJKLMNPQRTUW").is_empty());
    }
}
