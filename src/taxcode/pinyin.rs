//! Pinyin of names, from the character readings in `data/tax-codes-pinyin.txt`.
//!
//! That file is generated with the `pinyin` crate (see `xtask/src/taxcodes.rs`) and
//! covers every Han character of the embedded table's names and descriptions, so
//! this crate needs no pinyin dependency of its own. A character has one reading,
//! the crate's default, except for the characters and phrases the generator
//! overrides (长丝 chang, 银行 yin hang …). Characters missing from the file (a
//! table loaded at run time may bring new ones) give no pinyin; a loaded row can
//! supply its own instead (the `拼音`/`pinyin` column).

use std::sync::OnceLock;

/// `data/tax-codes-pinyin.txt` without its comments, decoded at first use
/// (build.rs stores it in GBK).
fn readings_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| crate::packed::embedded_table!("tax-codes-pinyin"))
}

struct Readings {
    /// Characters and their readings, sorted by character.
    chars: Vec<(char, &'static str)>,
    /// Phrases and the readings of their characters.
    phrases: Vec<(&'static str, Vec<&'static str>)>,
}

fn readings() -> &'static Readings {
    static READ: OnceLock<Readings> = OnceLock::new();
    READ.get_or_init(|| {
        let mut chars = Vec::new();
        let mut phrases = Vec::new();
        for line in readings_text().lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let Some((left, right)) = line.split_once('\t') else {
                continue;
            };
            if let Some(phrase) = left.strip_prefix('=') {
                let syllables: Vec<&'static str> = right.split(' ').filter(|s| !s.is_empty()).collect();
                if syllables.len() == phrase.chars().count() {
                    phrases.push((phrase, syllables));
                }
            } else {
                chars.extend(right.chars().map(|c| (c, left)));
            }
        }
        let mut order = super::indices(chars.len());
        super::sort_indices(&mut order, &|a, b| chars[a as usize].0.cmp(&chars[b as usize].0));
        let chars = order.iter().map(|&i| chars[i as usize]).collect();
        Readings { chars, phrases }
    })
}

/// The two pinyin search keys of a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PinyinKeys {
    /// Full pinyin, syllables run together: `canyinfuwu`.
    pub full: String,
    /// Byte offsets in `full` where a syllable (or a run of Latin letters and
    /// digits) starts; search matches inside `full` only from these.
    pub starts: Vec<u32>,
    /// First letters: `cyfw`.
    pub initials: String,
}

impl PinyinKeys {
    fn push(&mut self, syllable: &str) {
        if let Some(first) = syllable.chars().next() {
            self.starts.push(self.full.len() as u32);
            self.full.push_str(syllable);
            self.initials.push(first);
        }
    }
}

/// Pinyin keys of a normalised text (see [`super::search::normalize`]). Latin
/// letters and digits are kept as they are, punctuation is dropped.
pub(crate) fn keys(text: &str) -> PinyinKeys {
    let r = readings();
    let mut out = PinyinKeys::default();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_alphanumeric() {
            let run = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
            out.starts.push(out.full.len() as u32);
            out.full.push_str(&rest[..run]);
            out.initials.push_str(&rest[..run]);
            rest = &rest[run..];
            continue;
        }
        let phrase = r
            .phrases
            .iter()
            .filter(|(p, _)| rest.starts_with(p))
            .max_by_key(|(p, _)| p.len());
        if let Some((phrase, syllables)) = phrase {
            syllables.iter().for_each(|s| out.push(s));
            rest = &rest[phrase.len()..];
            continue;
        }
        if let Ok(k) = r.chars.binary_search_by_key(&c, |e| e.0) {
            out.push(r.chars[k].1);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Pinyin keys from syllables given with a loaded row (`"can yin fu wu"`).
pub(crate) fn keys_from_syllables(syllables: &str) -> PinyinKeys {
    let mut out = PinyinKeys::default();
    for s in syllables
        .split(|c: char| c.is_whitespace() || c == '\'')
        .filter(|s| !s.is_empty())
    {
        let s: String = s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == 'ü').collect();
        out.push(&s.to_ascii_lowercase().replace('ü', "v"));
    }
    out
}

/// Number of characters with a reading (for tests and diagnostics).
#[cfg(test)]
pub(crate) fn known_characters() -> usize {
    readings().chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_pinyin_initials_and_syllable_starts() {
        let k = keys("餐饮服务");
        assert_eq!(k.full, "canyinfuwu");
        assert_eq!(k.initials, "cyfw");
        assert_eq!(k.starts, [0, 3, 6, 8]);
    }

    #[test]
    fn overrides_and_phrases_beat_the_default_reading() {
        assert_eq!(keys("化纤长丝").full, "huaxianchangsi");
        assert_eq!(keys("调味品").initials, "twp");
        assert_eq!(keys("银行专用设备").full, "yinhangzhuanyongshebei");
        assert_eq!(keys("自行车").full, "zixingche");
        assert_eq!(keys("绿豆").full, "lvdou");
    }

    #[test]
    fn latin_runs_and_unknown_characters() {
        let k = keys("液化天然气(lng)");
        assert_eq!(k.full, "yehuatianranqilng");
        assert_eq!(k.initials, "yhtrqlng");
        assert_eq!(keys("\u{2F800}").full, "");
        assert!(known_characters() > 1400);
    }

    #[test]
    fn syllables_supplied_with_a_row() {
        let k = keys_from_syllables(" Can yin'fu  wu ");
        assert_eq!(k.full, "canyinfuwu");
        assert_eq!(k.initials, "cyfw");
        assert_eq!(keys_from_syllables("lü").full, "lv");
    }
}
