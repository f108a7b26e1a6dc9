//! Search as the user types: by code prefix, by 名称/简称/说明 substring, by full
//! pinyin and by pinyin initials.
//!
//! The index is a suffix array over the search keys of the table, built once per
//! table on the first search. The keys (each 名称 and 说明, each distinct 简称,
//! and the full pinyin and initials of these names) sit in one string; every
//! place a match may start in a key (each character; in full pinyin each
//! syllable) is one entry, and the entries are sorted by the text from there to
//! the end of the key. A query is a binary search for the first entry starting
//! with it and a walk over the entries that do: no string of the table is
//! scanned per query. Code prefixes are a binary search over the sorted codes.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::pinyin;
use super::table::{TaxCodeTable, CODE_LEN};
use crate::text::{half_width, is_invisible};

/// How well a row matched; higher is better. The values are part of the result
/// (`score`) and stable within a major version.
pub mod score {
    /// The query is the row's 简称.
    pub const EXACT_SHORT_NAME: u16 = 1000;
    /// The query is the row's code, with or without trailing zeros.
    pub const EXACT_CODE: u16 = 950;
    /// The query is the row's 名称.
    pub const EXACT_NAME: u16 = 900;
    /// The query is an everyday word for the row (外卖 for 餐饮服务; see the
    /// crate's synonyms table).
    pub const SYNONYM: u16 = 850;
    /// The query is the full pinyin or the initials of the 名称 or 简称.
    pub const EXACT_PINYIN: u16 = 800;
    /// The code starts with the query.
    pub const CODE_PREFIX: u16 = 700;
    /// The 名称 or 简称 starts with the query.
    pub const NAME_PREFIX: u16 = 600;
    /// An everyday word for the row starts with the query (two characters or more).
    pub const SYNONYM_PARTIAL: u16 = 550;
    /// The full pinyin or the initials start with the query.
    pub const PINYIN_PREFIX: u16 = 500;
    /// The 名称 or 简称 contains the query.
    pub const NAME_SUBSTRING: u16 = 400;
    /// The query contains an everyday word for the row (打车费用), below the
    /// names that contain the query.
    pub const SYNONYM_IN_QUERY: u16 = 350;
    /// The full pinyin contains the query from a syllable on, or the initials contain it.
    pub const PINYIN_SUBSTRING: u16 = 300;
    /// The 说明 contains the query (only when descriptions are loaded).
    pub const DESCRIPTION: u16 = 200;
}

/// Results when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 20;

/// Options of [`search()`](super::search()).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchOptions {
    /// Most results to return; [`DEFAULT_LIMIT`] when absent.
    pub limit: Option<usize>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxCodeHit {
    /// The 19-digit code.
    pub code: String,
    /// 货物和劳务名称.
    pub name: String,
    /// 商品和服务分类简称.
    pub short_name: String,
    /// True when the code may be used on an invoice (it has no children).
    pub leaf: bool,
    /// How well it matched: one of the values in [`score`].
    pub score: u16,
}

/// Normalises a query or a name for matching: full-width to half-width, ASCII
/// lower case, `ü` → `v`, white space and invisible characters dropped.
pub(crate) fn normalize(s: &str) -> Cow<'_, str> {
    let unchanged = |c: char| !c.is_ascii_uppercase() && half_width(c) == c && !is_invisible(c) && c != 'ü';
    if s.chars().all(unchanged) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(half_width)
            .filter(|&c| !is_invisible(c))
            .map(|c| match c {
                'ü' | 'Ü' => 'v',
                c => c.to_ascii_lowercase(),
            })
            .collect(),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Name,
    Pinyin,
    Initials,
    Description,
}

/// One search key: a slice of the arena, shared by the rows in `rows`.
struct Key {
    start: u32,
    end: u32,
    kind: Kind,
    /// True when the key is the rows' 简称 (else their 名称, pinyin of it, 说明).
    short: bool,
    /// Range of `Part::rows`.
    rows: (u32, u32),
}

/// A suffix array over one set of keys.
struct Part {
    arena: String,
    keys: Vec<Key>,
    rows: Vec<u32>,
    /// Arena positions where a match may start, with their key, sorted by the
    /// text from there to the end of the key.
    entries: Vec<(u32, u32)>,
}

impl Part {
    /// An empty part with room for about `keys` keys of `bytes` bytes in all.
    fn new(keys: usize, bytes: usize) -> Part {
        Part {
            arena: String::with_capacity(bytes),
            keys: Vec::with_capacity(keys),
            rows: Vec::with_capacity(keys + keys / 2),
            entries: Vec::with_capacity(bytes / 2),
        }
    }

    /// Adds a key; `starts` are byte offsets in `text` (all characters when `None`).
    fn add(&mut self, text: &str, kind: Kind, short: bool, rows: &[u32], starts: Option<&[u32]>) {
        if text.is_empty() || rows.is_empty() {
            return;
        }
        let start = self.arena.len() as u32;
        let k = self.keys.len() as u32;
        self.arena.push_str(text);
        let row_start = self.rows.len() as u32;
        self.rows.extend_from_slice(rows);
        self.keys.push(Key {
            start,
            end: self.arena.len() as u32,
            kind,
            short,
            rows: (row_start, rows.len() as u32),
        });
        match starts {
            Some(at) => self.entries.extend(at.iter().map(|&o| (start + o, k))),
            None => self
                .entries
                .extend(text.char_indices().map(|(o, _)| (start + o as u32, k))),
        }
    }

    fn tail(&self, (pos, key): (u32, u32)) -> &str {
        let end = self.keys[key as usize].end;
        self.arena.get(pos as usize..end as usize).unwrap_or("")
    }

    /// Sorts the entries by the text from each to the end of its key.
    fn finish(mut self) -> Part {
        let order = sort_by_text(self.entries.len(), &|i| self.tail(self.entries[i as usize]));
        self.entries = order.iter().map(|&i| self.entries[i as usize]).collect();
        self.arena.shrink_to_fit();
        self
    }

    /// Raises the score of every row with a key that contains `q`.
    fn matches(&self, q: &str, hits: &mut Hits) {
        let first = self.entries.partition_point(|&e| self.tail(e) < q);
        for &(pos, k) in &self.entries[first..] {
            let tail = self.tail((pos, k));
            if !tail.starts_with(q) {
                break;
            }
            let key = &self.keys[k as usize];
            let at_start = pos == key.start;
            let whole = at_start && tail.len() == q.len();
            let score = match key.kind {
                Kind::Name if whole && key.short => score::EXACT_SHORT_NAME,
                Kind::Name if whole => score::EXACT_NAME,
                Kind::Name if at_start => score::NAME_PREFIX,
                Kind::Name => score::NAME_SUBSTRING,
                Kind::Pinyin | Kind::Initials if whole => score::EXACT_PINYIN,
                Kind::Pinyin | Kind::Initials if at_start => score::PINYIN_PREFIX,
                Kind::Pinyin | Kind::Initials => score::PINYIN_SUBSTRING,
                Kind::Description => score::DESCRIPTION,
            };
            let (from, len) = key.rows;
            for &row in &self.rows[from as usize..(from + len) as usize] {
                hits.raise(row as usize, score, key.end - key.start);
            }
        }
    }
}

/// The search index of a table, in two parts built on first use: Chinese text
/// (名称, 简称, 说明) for queries with any non-ASCII character, and pinyin (full
/// and initials, which keep Latin letters and digits of names as they are) for
/// the rest. A cashier typing pinyin never waits for the Chinese part.
#[derive(Default)]
pub(crate) struct Index {
    han: OnceLock<Part>,
    latin: OnceLock<Part>,
}

impl Index {
    fn han(&self, table: &TaxCodeTable) -> &Part {
        self.han.get_or_init(|| {
            let mut part = Part::new(table.rows.len() * 2, table.rows.len() * 24);
            for (i, row) in table.rows.iter().enumerate() {
                part.add(&normalize(&row.name), Kind::Name, false, &[i as u32], None);
                if let Some(d) = &row.description {
                    part.add(&normalize(d), Kind::Description, false, &[i as u32], None);
                }
            }
            for (short, rows) in short_names(table) {
                part.add(&normalize(short), Kind::Name, true, &rows, None);
            }
            part.finish()
        })
    }

    fn latin(&self, table: &TaxCodeTable) -> &Part {
        self.latin.get_or_init(|| {
            let mut part = Part::new(table.rows.len() * 3, table.rows.len() * 32);
            for (i, row) in table.rows.iter().enumerate() {
                let py = table.name_pinyin(row);
                part.add(&py.full, Kind::Pinyin, false, &[i as u32], Some(&py.starts));
                part.add(&py.initials, Kind::Initials, false, &[i as u32], None);
            }
            for (short, rows) in short_names(table) {
                let py = pinyin::keys(&normalize(short));
                part.add(&py.full, Kind::Pinyin, true, &rows, Some(&py.starts));
                part.add(&py.initials, Kind::Initials, true, &rows, None);
            }
            part.finish()
        })
    }

    /// Builds both parts now.
    pub(crate) fn prepare(&self, table: &TaxCodeTable) {
        self.han(table);
        self.latin(table);
    }

    /// Number of entries (for tests).
    #[cfg(test)]
    pub(crate) fn entries(&self, table: &TaxCodeTable) -> usize {
        self.han(table).entries.len() + self.latin(table).entries.len()
    }
}

/// The indices `0..n` sorted by the text each names (ties in index order).
///
/// A radix sort on the first sixteen bytes, then a comparison sort of each run
/// that shares them. The first search on a phone waits for the index, and a
/// comparison sort of all its entries is several times slower in WebAssembly.
fn sort_by_text<'a>(n: usize, text: &dyn Fn(u32) -> &'a str) -> Vec<u32> {
    // Sort keys: the first sixteen bytes (zero-padded) and the length up to 17.
    // Texts with equal keys and a length of at most 16 are equal.
    let (mut high, mut low, mut len) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n as u32 {
        let mut head = [0u8; 16];
        let t = text(i).as_bytes();
        let l = t.len().min(16);
        head[..l].copy_from_slice(&t[..l]);
        let (h, lo) = head.split_at(8);
        high.push(u64::from_be_bytes(h.try_into().unwrap_or_default()));
        low.push(u64::from_be_bytes(lo.try_into().unwrap_or_default()));
        len.push(t.len().min(17) as u64);
    }
    let (high, low, len): (&[u64], &[u64], &[u64]) = (&high, &low, &len);
    let mut order = super::indices(n);
    radix_sort(len, &mut order);
    radix_sort(low, &mut order);
    radix_sort(high, &mut order);
    let mut start = 0;
    while start < n {
        let f = order[start] as usize;
        let same = |&&i: &&u32| {
            let i = i as usize;
            high[i] == high[f] && low[i] == low[f] && len[i] == len[f]
        };
        let end = start + order[start..].iter().take_while(same).count();
        if end - start > 1 && len[f] > 16 {
            super::sort_indices(&mut order[start..end], &|a, b| text(a).cmp(text(b)).then(a.cmp(&b)));
        }
        start = end;
    }
    order
}

/// Stable sort of `order` (indices into `keys`) by key, 11 bits at a time from
/// the least significant.
fn radix_sort(keys: &[u64], order: &mut Vec<u32>) {
    // Slices and arrays, not `Vec` indexing: the size-tuned release build does not
    // inline `Vec`'s `Index`, and this loop runs for every entry of the index.
    const BITS: u32 = 11;
    let mut other = vec![0u32; order.len()];
    let mut shift = 0;
    while shift < 64 {
        let digit = |i: u32| ((keys[i as usize] >> shift) & ((1 << BITS) - 1)) as usize;
        let mut counts = [0usize; (1 << BITS) + 1];
        order.iter().for_each(|&i| counts[digit(i) + 1] += 1);
        // Skip a pass where every key has the same digit.
        if counts.contains(&order.len()) {
            shift += BITS;
            continue;
        }
        for d in 1..counts.len() {
            counts[d] += counts[d - 1];
        }
        let out: &mut [u32] = &mut other;
        for &i in order.iter() {
            let d = digit(i);
            out[counts[d]] = i;
            counts[d] += 1;
        }
        std::mem::swap(order, &mut other);
        shift += BITS;
    }
}

/// Each distinct 简称 with the rows that have it, in code order.
fn short_names(table: &TaxCodeTable) -> Vec<(&str, Vec<u32>)> {
    let rows = &table.rows;
    let mut out: Vec<(&str, Vec<u32>)> = Vec::new();
    for i in sort_by_text(rows.len(), &|i| &rows[i as usize].short_name) {
        let short = &*rows[i as usize].short_name;
        match out.last_mut() {
            Some((s, group)) if *s == short => group.push(i),
            _ => out.push((short, vec![i])),
        }
    }
    out
}

/// The rows a query matched: each one's best score, and the length (bytes, at
/// most 255) of the shortest key that gave it that score.
struct Hits {
    best: Vec<u16>,
    key_len: Vec<u8>,
    touched: Vec<u32>,
}

impl Hits {
    fn new(rows: usize) -> Hits {
        Hits {
            best: vec![0; rows],
            key_len: vec![u8::MAX; rows],
            touched: Vec::new(),
        }
    }

    fn raise(&mut self, row: usize, score: u16, key_len: u32) {
        let key_len = key_len.min(255) as u8;
        if self.best[row] == 0 {
            self.touched.push(row as u32);
        }
        if score > self.best[row] {
            self.best[row] = score;
            self.key_len[row] = key_len;
        } else if score == self.best[row] {
            self.key_len[row] = self.key_len[row].min(key_len);
        }
    }
}

pub(crate) fn search(table: &TaxCodeTable, query: &str, options: &SearchOptions) -> Vec<TaxCodeHit> {
    let q = normalize(query);
    let q: &str = &q;
    let limit = options.limit.unwrap_or(DEFAULT_LIMIT);
    if q.is_empty() || limit == 0 {
        return Vec::new();
    }
    let mut hits = Hits::new(table.rows.len());

    if q.len() <= CODE_LEN && q.bytes().all(|b| b.is_ascii_digit()) {
        let rows = &table.rows;
        let first = rows.partition_point(|r| r.code.as_str() < q);
        let exact = format!("{q:0<19}");
        for (i, r) in rows.iter().enumerate().skip(first) {
            if !r.code.starts_with(q) {
                break;
            }
            let score = if r.code == exact {
                score::EXACT_CODE
            } else {
                score::CODE_PREFIX
            };
            hits.raise(i, score, 0);
        }
    }
    let index = table.index();
    if q.is_ascii() {
        index.latin(table).matches(q, &mut hits);
    } else {
        index.han(table).matches(q, &mut hits);
        #[cfg(feature = "taxcodes")]
        synonyms(table, q, &mut hits);
    }

    let touched = best_rows(table, &mut hits, limit);
    let best = &hits.best;
    touched
        .iter()
        .map(|&i| {
            let r = &table.rows[i as usize];
            TaxCodeHit {
                code: r.code.clone(),
                name: r.name.to_string(),
                short_name: r.short_name.to_string(),
                leaf: r.leaf,
                score: best[i as usize],
            }
        })
        .collect()
}

/// The codes of the everyday words (see [`super::synonyms`]) the query is,
/// starts, or contains.
#[cfg(feature = "taxcodes")]
fn synonyms(table: &TaxCodeTable, q: &str, hits: &mut Hits) {
    let q_chars = q.chars().count();
    for (word, codes) in super::synonyms::SYNONYMS {
        let score = if *word == q {
            score::SYNONYM
        } else if q_chars >= 2 && word.starts_with(q) {
            score::SYNONYM_PARTIAL
        } else if q.as_bytes().windows(word.len()).any(|w| w == word.as_bytes()) {
            // (A byte window, not `str::contains`: its searcher is kilobytes of WebAssembly.)
            score::SYNONYM_IN_QUERY
        } else {
            continue;
        };
        // Ranked among equals by the word's length, then the order of its codes.
        for (k, code) in codes.iter().enumerate() {
            if let Ok(i) = table.rows.binary_search_by(|r| r.code.as_str().cmp(code)) {
                hits.raise(i, score, (word.chars().count() + k) as u32);
            }
        }
    }
}

/// The `limit` best rows of a query, best first: higher score, then leaves; among
/// text matches of equal score the shorter matching key (typing 餐饮 means
/// 餐饮服务 sooner than 餐饮用玻璃器皿); then code order, which is row order.
///
/// A short query touches thousands of rows (`1`: every goods code; 服务: most
/// service names), and sorting them all cost more than the rest of the search.
/// So the rows are only counted per rank: every rank better than the one where the
/// limit is reached is taken whole, and of that rank the rows needed (by key
/// length, then row, counted the same way); only the rows returned are sorted.
fn best_rows(table: &TaxCodeTable, hits: &mut Hits, limit: usize) -> Vec<u32> {
    let mut touched = std::mem::take(&mut hits.touched);
    let best = &hits.best;
    let group = |i: u32| u32::from(u16::MAX - best[i as usize]) << 1 | u32::from(!table.rows[i as usize].leaf);
    let length = |i: u32| match best[i as usize] {
        score::EXACT_CODE | score::CODE_PREFIX => 0,
        _ => u32::from(hits.key_len[i as usize]),
    };
    if touched.len() > limit {
        let (cut, mut need) = cut_of(touched.iter().map(|&i| group(i)), limit);
        // The cut rank's rows by key length (text matches), or simply the first
        // ones in row order (code matches, whose length does not count).
        let by_length = !matches!(u16::MAX - (cut >> 1) as u16, score::EXACT_CODE | score::CODE_PREFIX);
        let mut at_cut: Vec<(u32, u32)> = Vec::new();
        touched.clear();
        for i in (0..best.len() as u32).filter(|&i| best[i as usize] > 0) {
            match group(i).cmp(&cut) {
                std::cmp::Ordering::Less => touched.push(i),
                std::cmp::Ordering::Equal if by_length => at_cut.push((i, length(i))),
                std::cmp::Ordering::Equal if need > 0 => {
                    need -= 1;
                    touched.push(i);
                }
                _ => {}
            }
        }
        if by_length {
            // Lengths are at most 255: count them in an array.
            let mut counts = [0usize; 256];
            at_cut.iter().for_each(|&(_, l)| counts[l as usize] += 1);
            let (mut longest, mut at_longest) = (255, need);
            for (l, &n) in counts.iter().enumerate() {
                if n >= at_longest {
                    longest = l as u32;
                    break;
                }
                at_longest -= n;
            }
            // In row order: the first rows of the longest length taken.
            for (i, l) in at_cut {
                if l < longest || (l == longest && at_longest > 0) {
                    at_longest -= usize::from(l == longest);
                    touched.push(i);
                }
            }
        }
    }
    let key = |i: u32| (group(i), length(i), i);
    super::sort_indices(&mut touched, &|a, b| key(a).cmp(&key(b)));
    touched
}

/// For values of which at least `limit` are given: the value at which the
/// `limit` smallest end, and how many of that value they include.
fn cut_of(values: impl Iterator<Item = u32>, limit: usize) -> (u32, usize) {
    // (value, count): a handful of distinct values (score and leaf ranks).
    let mut counts: Vec<(u32, usize)> = Vec::new();
    for v in values {
        match counts.iter_mut().find(|c| c.0 == v) {
            Some(c) => c.1 += 1,
            None => counts.push((v, 1)),
        }
    }
    let mut order = super::indices(counts.len());
    super::sort_indices(&mut order, &|a, b| counts[a as usize].0.cmp(&counts[b as usize].0));
    let mut need = limit;
    for k in order {
        let (v, n) = counts[k as usize];
        if n >= need {
            return (v, need);
        }
        need -= n;
    }
    (u32::MAX, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_width_case_and_space() {
        assert_eq!(normalize(" Can Yin　ＦＷ "), "canyinfw");
        assert_eq!(normalize("LÜ"), "lv");
        assert_eq!(normalize("餐饮 服务"), "餐饮服务");
    }

    #[test]
    fn radix_sort_orders_by_key() {
        let keys = [5u64, u64::MAX, 0, 1 << 40, 5, 3 << 33, 7];
        let mut order = super::super::indices(keys.len());
        radix_sort(&keys, &mut order);
        let sorted: Vec<u64> = order.iter().map(|&i| keys[i as usize]).collect();
        assert_eq!(sorted, [0, 5, 5, 7, 3 << 33, 1 << 40, u64::MAX]);
    }

    #[test]
    fn sort_by_text_orders_like_str_ord() {
        let texts = [
            "b",
            "abcdefghijklmnopq2",
            "",
            "abcdefghijklmnopq1",
            "abcdefghijklmnop",
            "a\u{0}",
            "a",
            "餐饮",
            "z",
        ];
        let order = sort_by_text(texts.len(), &|i| texts[i as usize]);
        let got: Vec<&str> = order.iter().map(|&i| texts[i as usize]).collect();
        let mut want = texts.to_vec();
        want.sort();
        assert_eq!(got, want);
    }

    /// The limited search (counting ranks, sorting only what is returned) gives
    /// the first `limit` results of the full sort, for narrow and broad queries.
    #[test]
    fn a_limited_search_is_the_head_of_the_full_one() {
        let t = TaxCodeTable::embedded();
        let all = SearchOptions { limit: Some(100_000) };
        for q in [
            "1",
            "30",
            "服务",
            "餐",
            "餐饮",
            "c",
            "fw",
            "cyfw",
            "1070101",
            "zhi",
            "其他",
            "没有这种商品",
        ] {
            let full = search(&t, q, &all);
            for limit in [1, 2, 7, 20, 150, full.len(), full.len() + 1] {
                let head = search(&t, q, &SearchOptions { limit: Some(limit) });
                assert_eq!(head, full[..limit.min(full.len())], "{q} limit {limit}");
            }
        }
    }

    #[test]
    fn index_has_one_entry_per_start() {
        let t = TaxCodeTable::embedded();
        let n = t.index().entries(&t);
        assert!(n > 50_000 && n < 200_000, "{n}");
    }
}
