//! `data/tax-codes.txt`, `data/tax-codes-pinyin.txt` and
//! `data/tax-codes-descriptions.txt`: the 商品和服务税收分类编码 table in the
//! project's own compact form.
//!
//! Input: `tax-codes/goods-services-tax-codes_2017-12-18.csv` (the State Taxation
//! Administration's table of December 2017, see ../shared/data/SOURCES.md).
//!
//! ## `data/tax-codes.txt` (embedded in the crate)
//!
//! One line per code in code order (each parent before its children); `#` lines
//! are comments and `@key value` lines carry metadata (`@version`):
//!
//! ```text
//! a1<TAB>货物<TAB>货物
//! b01<TAB>农、林、牧、渔业类产品<TAB>农产品
//! c01<TAB>农业产品<TAB>
//! ```
//!
//! - A code has ten segments: 篇 (1 digit), then 类 章 节 条 款 项 目 子目 细目
//!   (2 digits each). Each line gives only its last non-zero segment: a letter
//!   for the segment's place (`a` = 篇 … `j` = 细目) and its digits. The full code
//!   is the previous line's code cut after the segments before that place, then
//!   this segment, then zeros: `c01` after `b01` (code 101…) is 10101 followed
//!   by zeros. This keeps the file a quarter smaller, gzipped 10 %.
//! - An empty short name (简称) means "the same as the parent's". This also
//!   fills the 10 rows whose 简称 cell is blank in the source (for example
//!   3040102 技术咨询服务 gets 研发和技术服务 from its parent), so that
//!   every code can be printed as `*简称*名称`.
//!
//! ## `data/tax-codes-pinyin.txt` (embedded in the crate)
//!
//! The reading of every Han character that occurs in the names and short names
//! of the table, computed with the `pinyin` crate. The crate knows
//! each character on its own, not words, so it gives one default reading per
//! character; this file keeps that reading (tone marks dropped, ü written `v`,
//! as people type it) except for the few characters and phrases listed in
//! [`CHAR_READINGS`] and [`PHRASES`], where the default is wrong for this table.
//!
//! ```text
//! can<TAB>参蚕残餐…           every character whose reading is `can`
//! =银行<TAB>yin hang           a phrase read differently from its characters
//! ```
//!
//! The crate turns names into pinyin at run time with this map, so a table
//! loaded at run time gets pinyin search as well, for the characters in the map
//! (its rows may bring their own pinyin for others).
//!
//! ## `data/tax-codes-descriptions.txt` (not embedded)
//!
//! `code<TAB>说明` for every code that has one. Too large for the WebAssembly
//! module (≈ 440 KB), so the npm package ships it as a separate file that a page
//! may load with `loadTaxCodeDescriptions`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use pinyin::ToPinyin;

/// Input path, relative to the shared folder.
pub const INPUT: &str = "data/tax-codes/goods-services-tax-codes_2017-12-18.csv";
/// Output: the table (embedded).
pub const OUTPUT_TABLE: &str = "data/tax-codes.txt";
/// Output: the character readings (embedded).
pub const OUTPUT_PINYIN: &str = "data/tax-codes-pinyin.txt";
/// Output: the descriptions (shipped as a separate file).
pub const OUTPUT_DESCRIPTIONS: &str = "data/tax-codes-descriptions.txt";

/// The table's version as printed in the files: the date of the announcement
/// (国家税务总局公告2017年第45号) the source table belongs to.
pub const VERSION: &str = "2017-12-18";

const HEADER: &str = "序号,篇,类,章,节,条,款,项,目,子目,细目,合并编码,货物和劳务名称,商品和服务分类简称,说明";

/// Characters whose `pinyin`-crate default reading is wrong in most names of this
/// table (长丝/长途, 调味/空调, 还原/统借统还, 乐器).
pub const CHAR_READINGS: &[(char, &str)] = &[('长', "chang"), ('调', "tiao"), ('还', "huan"), ('乐', "yue")];

/// Phrases read differently from their characters' readings above.
pub const PHRASES: &[(&str, &str)] = &[
    ("行业", "hang ye"),
    ("银行", "yin hang"),
    ("重组", "chong zu"),
    ("娱乐", "yu le"),
    ("游乐", "you le"),
];

/// The three generated files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    /// `data/tax-codes.txt`.
    pub table: String,
    /// `data/tax-codes-pinyin.txt`.
    pub pinyin: String,
    /// `data/tax-codes-descriptions.txt`.
    pub descriptions: String,
}

impl Outputs {
    /// Each output with its path relative to the workspace root.
    pub fn files(&self) -> [(&'static str, &str); 3] {
        [
            (OUTPUT_TABLE, &self.table),
            (OUTPUT_PINYIN, &self.pinyin),
            (OUTPUT_DESCRIPTIONS, &self.descriptions),
        ]
    }
}

struct Row {
    code: String,
    name: String,
    short_name: String,
    description: String,
}

/// Reads the CSV at `input` and returns the generated files.
pub fn generate_file(input: &Path) -> Result<Outputs, String> {
    let bytes = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let name = input.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    generate(&bytes, name)
}

/// Turns the CSV bytes into the generated files.
pub fn generate(bytes: &[u8], source_name: &str) -> Result<Outputs, String> {
    let rows = read_rows(bytes)?;
    let by_code: BTreeMap<&str, &Row> = rows.iter().map(|r| (r.code.as_str(), r)).collect();

    // The source states every parent exists; check rather than trust it, since
    // both the short-name inheritance and the run-time hierarchy depend on it.
    for r in &rows {
        if let Some(p) = parent(&r.code) {
            if !by_code.contains_key(p.as_str()) {
                return Err(format!("{}: parent {p} is not in the table", r.code));
            }
        }
    }

    let sha = crate::sha256_hex(bytes);
    let parents: BTreeSet<String> = rows.iter().filter_map(|r| parent(&r.code)).collect();
    let leaves = rows.iter().filter(|r| !parents.contains(&r.code)).count();

    let mut table = String::new();
    writeln!(
        table,
        "# 商品和服务税收分类编码 (goods and services tax classification codes), {} rows, {leaves} leaves.",
        rows.len()
    )
    .unwrap();
    writeln!(
        table,
        "# @generated by `cargo xtask gen-tax-codes` from ../shared/{INPUT}"
    )
    .unwrap();
    writeln!(table, "# source file {source_name}, sha256 {sha}. Do not edit by hand.").unwrap();
    writeln!(
        table,
        "# segment place (a-j) and digits of the code's last non-zero segment<TAB>名称<TAB>简称 (empty: the parent's)"
    )
    .unwrap();
    writeln!(table, "# The format is described in xtask/src/taxcodes.rs.").unwrap();
    writeln!(table, "@version {VERSION}").unwrap();
    let mut resolved: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &rows {
        let inherited = parent(&r.code)
            .and_then(|p| resolved.get(p.as_str()).copied())
            .unwrap_or("");
        let own = if r.short_name.is_empty() {
            inherited
        } else {
            r.short_name.as_str()
        };
        if own.is_empty() {
            return Err(format!("{}: no short name, and no parent to take one from", r.code));
        }
        resolved.insert(&r.code, own);
        let written = if own == inherited { "" } else { own };
        writeln!(table, "{}\t{}\t{written}", last_segment(&r.code), r.name).unwrap();
    }

    let mut descriptions = String::new();
    writeln!(
        descriptions,
        "# 说明 (descriptions) of the 商品和服务税收分类编码, table version {VERSION}."
    )
    .unwrap();
    writeln!(
        descriptions,
        "# @generated by `cargo xtask gen-tax-codes` from ../shared/{INPUT}"
    )
    .unwrap();
    writeln!(
        descriptions,
        "# source file {source_name}, sha256 {sha}. Do not edit by hand."
    )
    .unwrap();
    writeln!(
        descriptions,
        "# code (trailing zeros dropped)<TAB>说明; load with fapiao's loadTaxCodeDescriptions."
    )
    .unwrap();
    for r in rows.iter().filter(|r| !r.description.is_empty()) {
        writeln!(descriptions, "{}\t{}", r.code.trim_end_matches('0'), r.description).unwrap();
    }

    let mut chars = BTreeSet::new();
    for r in &rows {
        chars.extend(r.name.chars().chain(r.short_name.chars()).filter(|&c| is_han(c)));
    }
    let mut by_reading: BTreeMap<String, String> = BTreeMap::new();
    let mut missing = 0;
    for c in chars {
        let reading = match CHAR_READINGS.iter().find(|(h, _)| *h == c) {
            Some((_, r)) => (*r).to_owned(),
            None => match c.to_pinyin() {
                Some(p) => typed(p.plain()),
                None => {
                    missing += 1;
                    continue;
                }
            },
        };
        by_reading.entry(reading).or_default().push(c);
    }
    let mut pinyin = String::new();
    writeln!(
        pinyin,
        "# Readings (pinyin without tones, ü as v) of the Han characters in the 商品和服务税收分类编码."
    )
    .unwrap();
    writeln!(
        pinyin,
        "# @generated by `cargo xtask gen-tax-codes` with the `pinyin` crate (one default reading per"
    )
    .unwrap();
    writeln!(pinyin, "# character) from ../shared/{INPUT},").unwrap();
    writeln!(
        pinyin,
        "# source file {source_name}, sha256 {sha}. Do not edit by hand."
    )
    .unwrap();
    writeln!(
        pinyin,
        "# reading<TAB>characters; `=phrase<TAB>readings` overrides the characters' readings."
    )
    .unwrap();
    writeln!(pinyin, "# Characters without a reading in the crate: {missing}.").unwrap();
    for (reading, chars) in &by_reading {
        writeln!(pinyin, "{reading}\t{chars}").unwrap();
    }
    // Only the phrases the table uses, so a newer source drops the ones it no longer needs.
    for (phrase, reading) in PHRASES {
        if rows
            .iter()
            .any(|r| r.name.contains(phrase) || r.short_name.contains(phrase))
        {
            writeln!(pinyin, "={phrase}\t{reading}").unwrap();
        }
    }

    Ok(Outputs {
        table,
        pinyin,
        descriptions,
    })
}

fn read_rows(bytes: &[u8]) -> Result<Vec<Row>, String> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.join(",") != HEADER {
        return Err(format!("unexpected header: {}", header.join(",")));
    }
    let mut rows: Vec<Row> = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        let field = |i: usize| record.get(i).unwrap_or("").trim().to_owned();
        let code = field(11);
        if code.len() != 19 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("line {line}: 合并编码 {code:?} is not 19 digits"));
        }
        let segments: String = (1..=10).map(field).collect();
        if segments != code {
            return Err(format!(
                "line {line}: the segment columns give {segments}, 合并编码 is {code}"
            ));
        }
        let (name, short_name, description) = (field(12), field(13), field(14));
        if name.is_empty() {
            return Err(format!("line {line}: empty name"));
        }
        for f in [&name, &short_name, &description] {
            if f.contains(['\t', '\n', '\r']) {
                return Err(format!("line {line}: a tab or line break in {f:?}"));
            }
        }
        if let Some(prev) = rows.last() {
            if prev.code >= code {
                return Err(format!("line {line}: {code} is not after {}", prev.code));
            }
        }
        rows.push(Row {
            code,
            name,
            short_name,
            description,
        });
    }
    if rows.is_empty() {
        return Err("no rows".into());
    }
    Ok(rows)
}

/// The parent of a 19-digit code: the code with its last non-zero segment zeroed.
/// Segments are 1 digit (篇) and then nine times 2 digits.
pub fn parent(code: &str) -> Option<String> {
    let bytes = code.as_bytes();
    let mut start = 17;
    loop {
        if bytes[start..start + 2] != *b"00" {
            let mut p = code.to_owned();
            p.replace_range(start..start + 2, "00");
            return Some(p);
        }
        if start == 1 {
            return None;
        }
        start -= 2;
    }
}

/// The place letter and digits of a code's last non-zero segment: `c01` for
/// 1010100000000000000, `a1` for 1000000000000000000.
pub fn last_segment(code: &str) -> String {
    let place = (1..code.len()).step_by(2).rev().find(|&i| &code[i..i + 2] != "00");
    match place {
        Some(i) => format!("{}{}", char::from(b'a' + (i / 2 + 1) as u8), &code[i..i + 2]),
        None => format!("a{}", &code[..1]),
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}')
}

/// A reading as people type it: `ü` → `v`.
fn typed(plain: &str) -> String {
    plain.replace('ü', "v")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "序号,篇,类,章,节,条,款,项,目,子目,细目,合并编码,货物和劳务名称,商品和服务分类简称,说明\n\
        1,3,00,00,00,00,00,00,00,00,00,3000000000000000000,销售服务,销售服务,\n\
        2,3,04,00,00,00,00,00,00,00,00,3040000000000000000,现代服务,现代服务,\n\
        3,3,04,01,00,00,00,00,00,00,00,3040100000000000000,研发和技术服务,研发和技术服务,\"指研发, 和技术\"\n\
        4,3,04,01,02,00,00,00,00,00,00,3040102000000000000,技术咨询服务,,\n\
        5,3,04,99,00,00,00,00,00,00,00,3049900000000000000,银行行业服务,现代服务,\n";

    #[test]
    fn writes_short_codes_and_inherited_short_names() {
        let out = generate(SAMPLE.as_bytes(), "sample.csv").unwrap();
        let body: Vec<&str> = out.table.lines().filter(|l| !l.starts_with(['#', '@'])).collect();
        assert_eq!(
            body,
            [
                "a3\t销售服务\t销售服务",
                "b04\t现代服务\t现代服务",
                "c01\t研发和技术服务\t研发和技术服务",
                "d02\t技术咨询服务\t",
                "c99\t银行行业服务\t"
            ]
        );
        assert!(out.table.contains("@version 2017-12-18"));
        assert!(out.table.contains("sha256 "));
        assert!(out.descriptions.contains("30401\t指研发, 和技术\n"));
        assert!(!out.descriptions.contains("3040102\t"));
    }

    #[test]
    fn pinyin_groups_characters_by_reading_with_overrides() {
        let out = generate(SAMPLE.as_bytes(), "sample.csv").unwrap();
        let line = |reading: &str| {
            out.pinyin
                .lines()
                .find(|l| l.starts_with(&format!("{reading}\t")))
                .map(str::to_owned)
        };
        assert!(line("fu").unwrap().contains('服'));
        assert!(line("xing").unwrap().contains('行'));
        assert!(out.pinyin.contains("=银行\tyin hang\n"));
        assert!(out.pinyin.contains("=行业\thang ye\n"));
    }

    #[test]
    fn last_segments() {
        assert_eq!(last_segment("1000000000000000000"), "a1");
        assert_eq!(last_segment("1010000000000000000"), "b01");
        assert_eq!(last_segment("1070101110100000000"), "f01");
        assert_eq!(last_segment("1010101000000000099"), "j99");
    }

    #[test]
    fn parents_follow_the_segments() {
        assert_eq!(parent("3040102000000000000").as_deref(), Some("3040100000000000000"));
        assert_eq!(parent("3000000000000000000"), None);
        assert_eq!(parent("1070101110100000000").as_deref(), Some("1070101110000000000"));
        assert_eq!(parent("1010101000000000099").as_deref(), Some("1010101000000000000"));
    }

    #[test]
    fn rejects_a_missing_parent_and_a_bad_code() {
        let orphan = "序号,篇,类,章,节,条,款,项,目,子目,细目,合并编码,货物和劳务名称,商品和服务分类简称,说明\n\
            1,3,04,01,00,00,00,00,00,00,00,3040100000000000000,研发,研发,\n";
        assert!(generate(orphan.as_bytes(), "x").unwrap_err().contains("parent"));
        let bad = SAMPLE.replace("3040102000000000000", "304010200000000000");
        assert!(generate(bad.as_bytes(), "x").is_err());
    }
}
