//! The table itself: the embedded one, and tables read at run time from CSV or
//! JSON, validated before they replace anything.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::pinyin::{self, PinyinKeys};
use super::search::{normalize, Index};
use super::{csv, TableProblem};
use crate::Issue;

/// `data/tax-codes.txt` without its comments, decoded at first use (see
/// `crate::packed::embedded_table`).
#[cfg(feature = "taxcodes")]
fn embedded_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| crate::packed::embedded_table!("tax-codes"))
}

/// Without the `taxcodes` feature (the npm package's invoice part) the embedded
/// table is lean: every code and 简称, no 名称 — what printing and checking item
/// names needs. Search and lookups by name need the feature.
#[cfg(not(feature = "taxcodes"))]
fn embedded_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| crate::packed::embedded_table!("tax-codes-lean"))
}

/// Version of the embedded table (the date of 国家税务总局公告2017年第45号).
pub const EMBEDDED_VERSION: &str = "2017-12-18";

/// Every code has this many digits.
pub const CODE_LEN: usize = 19;

/// At most this many errors are reported for one table; the rest are left out.
pub const MAX_ERRORS: usize = 100;

pub(crate) struct Row {
    pub code: String,
    pub name: Cow<'static, str>,
    /// The 简称, inherited from the nearest ancestor that has one when blank.
    pub short_name: Cow<'static, str>,
    pub description: Option<Box<str>>,
    pub parent: Option<u32>,
    pub leaf: bool,
    /// Pinyin supplied with a loaded row, used instead of the character readings.
    pub pinyin: Option<Box<str>>,
}

/// A whole classification table with its search index (built on first search).
///
/// The crate keeps one current table (see [`super::load`]); a `TaxCodeTable`
/// can also be built and searched on its own, e.g. to check a file before use.
pub struct TaxCodeTable {
    pub(crate) rows: Vec<Row>,
    pub(crate) version: Option<String>,
    pub(crate) embedded: bool,
    index: OnceLock<Index>,
}

impl std::fmt::Debug for TaxCodeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaxCodeTable")
            .field("rows", &self.rows.len())
            .field("version", &self.version)
            .finish()
    }
}

/// A row as read from a file, before validation.
#[derive(Debug, Clone, Default)]
struct Record {
    line: usize,
    code: String,
    name: String,
    short_name: String,
    description: Option<String>,
    pinyin: Option<String>,
}

/// The parent of a 19-digit code: the code with its last non-zero segment set to
/// zero (segments: 1 digit, then nine of 2 digits). `None` for a top-level code.
pub(crate) fn parent_code(code: &str) -> Option<String> {
    let b = code.as_bytes();
    if b.len() != CODE_LEN {
        return None;
    }
    (1..CODE_LEN)
        .step_by(2)
        .rev()
        .find(|&start| &b[start..start + 2] != b"00")
        .map(|start| {
            let mut p = code.to_owned();
            p.replace_range(start..start + 2, "00");
            p
        })
}

/// True for exactly 19 ASCII digits.
pub(crate) fn is_code(code: &str) -> bool {
    code.len() == CODE_LEN && code.bytes().all(|b| b.is_ascii_digit())
}

/// Pads a code written without its trailing zeros.
fn pad(short: &str) -> String {
    format!("{short:0<19}")
}

impl TaxCodeTable {
    /// The table embedded in the crate (4,205 codes, version 2017-12-18).
    pub fn embedded() -> TaxCodeTable {
        let mut version = None;
        let mut rows: Vec<Row> = Vec::with_capacity(4300);
        // Each line gives the place and digits of its code's last non-zero segment;
        // the segments before it are the previous line's (see xtask/src/taxcodes.rs).
        let mut code = [b'0'; CODE_LEN];
        for line in embedded_text().lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if let Some(v) = line.strip_prefix("@version ") {
                version = Some(v.to_owned());
                continue;
            }
            let mut f = line.split('\t');
            let (Some(segment), Some(name)) = (f.next(), f.next()) else {
                continue;
            };
            let short = f.next().unwrap_or("");
            let (place, digits) = segment.split_at(segment.len().min(1));
            let at = match place.bytes().next() {
                Some(b'a') => 0,
                Some(p @ b'b'..=b'j') => 2 * usize::from(p - b'a') - 1,
                _ => continue,
            };
            if digits.len() != if at == 0 { 1 } else { 2 } || !digits.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            code[at..at + digits.len()].copy_from_slice(digits.as_bytes());
            code[at + digits.len()..].fill(b'0');
            rows.push(Row {
                code: code.iter().map(|&b| char::from(b)).collect(),
                name: name.into(),
                short_name: short.into(),
                description: None,
                parent: None,
                leaf: true,
                pinyin: None,
            });
        }
        // The generator writes the rows sorted with every parent present.
        let _ = link(&mut rows);
        TaxCodeTable {
            rows,
            version,
            embedded: true,
            index: OnceLock::new(),
        }
    }

    /// Reads a table from CSV (the official spreadsheet exported as CSV) or JSON
    /// and validates it. On any error, returns all errors found (at most
    /// [`MAX_ERRORS`]) and no table.
    pub fn parse(text: &str) -> Result<TaxCodeTable, Vec<Issue>> {
        let trimmed = text.trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
        let (records, version) = if trimmed.starts_with(['[', '{']) {
            read_json(text)?
        } else {
            (read_csv(text)?, None)
        };
        build(records, version)
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table has no codes (never for a table that loaded).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of codes that may be used on an invoice (rows with no children).
    pub fn leaves(&self) -> usize {
        self.rows.iter().filter(|r| r.leaf).count()
    }

    /// Number of codes with a description.
    pub fn descriptions(&self) -> usize {
        self.rows.iter().filter(|r| r.description.is_some()).count()
    }

    /// The version the table carries (`@version`, or the JSON `version`).
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub(crate) fn find(&self, code: &str) -> Option<usize> {
        self.rows.binary_search_by(|r| r.code.as_str().cmp(code)).ok()
    }

    pub(crate) fn index(&self) -> &Index {
        self.index.get_or_init(Index::default)
    }

    /// Pinyin keys of a row's name: the syllables supplied with the row, else the
    /// character readings.
    pub(crate) fn name_pinyin(&self, row: &Row) -> PinyinKeys {
        match &row.pinyin {
            Some(p) => pinyin::keys_from_syllables(p),
            None => pinyin::keys(&normalize(&row.name)),
        }
    }

    /// A copy of this table with the descriptions of `text` (`code<TAB>说明` lines,
    /// the code with or without its trailing zeros). Every code must be in the
    /// table; otherwise the errors and no table.
    pub(crate) fn with_descriptions(&self, text: &str) -> Result<(TaxCodeTable, usize), Vec<Issue>> {
        let mut errors = Vec::new();
        let mut found: Vec<(usize, String)> = Vec::new();
        for (n, line) in text.strip_prefix('\u{feff}').unwrap_or(text).lines().enumerate() {
            let line_no = n + 1;
            let line = line.trim_end_matches('\r');
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((code, description)) = line.split_once('\t') else {
                push(
                    &mut errors,
                    line_no,
                    "code",
                    TableProblem::Fields { found: 1, expected: 2 },
                );
                continue;
            };
            let code = code.trim();
            if code.is_empty() || code.len() > CODE_LEN || !code.bytes().all(|b| b.is_ascii_digit()) {
                push(
                    &mut errors,
                    line_no,
                    "code",
                    TableProblem::Code { value: code.to_owned() },
                );
                continue;
            }
            match self.find(&pad(code)) {
                Some(i) => found.push((i, description.trim().to_owned())),
                None => push(
                    &mut errors,
                    line_no,
                    "code",
                    TableProblem::DescriptionCode { code: pad(code) },
                ),
            }
        }
        if found.is_empty() && errors.is_empty() {
            push(&mut errors, 1, "code", TableProblem::Empty);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let count = found.len();
        let mut rows: Vec<Row> = self
            .rows
            .iter()
            .map(|r| Row {
                code: r.code.clone(),
                name: r.name.clone(),
                short_name: r.short_name.clone(),
                description: None,
                parent: r.parent,
                leaf: r.leaf,
                pinyin: r.pinyin.clone(),
            })
            .collect();
        for (i, d) in found {
            rows[i].description = if d.is_empty() { None } else { Some(d.into()) };
        }
        let table = TaxCodeTable {
            rows,
            version: self.version.clone(),
            embedded: self.embedded,
            index: OnceLock::new(),
        };
        Ok((table, count))
    }
}

/// Sets parents, leaves and inherited short names of rows sorted by code. Returns
/// the indexes of rows whose parent is missing and of rows left without a short
/// name.
fn link(rows: &mut [Row]) -> (Vec<usize>, Vec<usize>) {
    let mut orphans = Vec::new();
    let mut nameless = Vec::new();
    for i in 0..rows.len() {
        // The parent code, built without allocating: this runs for every row when
        // the embedded table is first used.
        let code = rows[i].code.as_bytes();
        let mut parent = [b'0'; CODE_LEN];
        let place = (1..CODE_LEN)
            .step_by(2)
            .rev()
            .find(|&at| code.get(at..at + 2).is_some_and(|s| s != b"00"));
        let p = match place {
            Some(at) if code.len() == CODE_LEN => {
                parent[..at].copy_from_slice(&code[..at]);
                let found = rows[..i].binary_search_by(|r| r.code.as_bytes().cmp(&parent[..])).ok();
                if found.is_none() {
                    orphans.push(i);
                }
                found
            }
            _ => None,
        };
        if let Some(p) = p {
            rows[p].leaf = false;
            rows[i].parent = Some(p as u32);
            if rows[i].short_name.is_empty() {
                rows[i].short_name = rows[p].short_name.clone();
            }
        }
        if rows[i].short_name.is_empty() {
            nameless.push(i);
        }
    }
    (orphans, nameless)
}

fn push(errors: &mut Vec<Issue>, line: usize, column: &str, problem: TableProblem) {
    if errors.len() < MAX_ERRORS {
        errors.push(Issue::new(format!("line {line}.{column}"), &problem));
    }
}

fn build(records: Vec<Record>, version: Option<String>) -> Result<TaxCodeTable, Vec<Issue>> {
    let mut errors = Vec::new();
    if records.is_empty() {
        push(&mut errors, 1, "code", TableProblem::Empty);
        return Err(errors);
    }
    let mut order = super::indices(records.len());
    super::sort_indices(&mut order, &|a, b| {
        let (a, b) = (&records[a as usize], &records[b as usize]);
        a.code.cmp(&b.code).then(a.line.cmp(&b.line))
    });
    let mut rows: Vec<Row> = Vec::with_capacity(records.len());
    let mut lines: Vec<usize> = Vec::with_capacity(records.len());
    for i in order {
        let r = &records[i as usize];
        let mut ok = true;
        if !is_code(&r.code) || r.code.starts_with('0') {
            push(
                &mut errors,
                r.line,
                "code",
                TableProblem::Code { value: r.code.clone() },
            );
            ok = false;
        } else if let (Some(prev), Some(&first_line)) = (rows.last(), lines.last()) {
            if prev.code == r.code {
                push(
                    &mut errors,
                    r.line,
                    "code",
                    TableProblem::Duplicate {
                        code: r.code.clone(),
                        first_line,
                    },
                );
                continue;
            }
        }
        if r.name.is_empty() {
            push(&mut errors, r.line, "name", TableProblem::Name);
            ok = false;
        }
        if !ok {
            continue;
        }
        lines.push(r.line);
        rows.push(Row {
            code: r.code.clone(),
            name: Cow::Owned(r.name.clone()),
            short_name: Cow::Owned(r.short_name.clone()),
            description: r.description.as_deref().filter(|d| !d.is_empty()).map(Into::into),
            parent: None,
            leaf: true,
            pinyin: r.pinyin.as_deref().filter(|p| !p.trim().is_empty()).map(Into::into),
        });
    }
    let (orphans, nameless) = link(&mut rows);
    for i in orphans {
        let parent = parent_code(&rows[i].code).unwrap_or_default();
        push(
            &mut errors,
            lines[i],
            "code",
            TableProblem::Parent {
                code: rows[i].code.clone(),
                parent,
            },
        );
    }
    for i in nameless {
        push(
            &mut errors,
            lines[i],
            "shortName",
            TableProblem::ShortName {
                code: rows[i].code.clone(),
            },
        );
    }
    if !errors.is_empty() {
        let mut order = super::indices(errors.len());
        super::sort_indices(&mut order, &|a, b| {
            line_of(&errors[a as usize].field)
                .cmp(&line_of(&errors[b as usize].field))
                .then(a.cmp(&b))
        });
        return Err(order.iter().map(|&i| errors[i as usize].clone()).collect());
    }
    Ok(TaxCodeTable {
        rows,
        version,
        embedded: false,
        index: OnceLock::new(),
    })
}

fn line_of(field: &str) -> usize {
    field
        .strip_prefix("line ")
        .and_then(|f| f.split('.').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Column names accepted in a CSV header, for each field. The first name is the
/// one of the official spreadsheet (and of the source CSV).
const CSV_COLUMNS: [(&str, &[&str]); 5] = [
    (
        "code",
        &["合并编码", "税收分类编码", "商品和服务税收分类编码", "编码", "code"],
    ),
    ("name", &["货物和劳务名称", "商品和服务名称", "名称", "name"]),
    ("shortName", &["商品和服务分类简称", "简称", "shortName"]),
    ("description", &["说明", "description"]),
    ("pinyin", &["拼音", "pinyin"]),
];

fn read_csv(text: &str) -> Result<Vec<Record>, Vec<Issue>> {
    let mut errors = Vec::new();
    let records = match csv::parse(text) {
        Ok(r) => r,
        Err(line) => {
            push(
                &mut errors,
                line,
                "code",
                TableProblem::Format {
                    detail: "a quoted field is not closed".into(),
                },
            );
            return Err(errors);
        }
    };
    let Some((header, body)) = records.split_first() else {
        push(&mut errors, 1, "code", TableProblem::Empty);
        return Err(errors);
    };
    let column = |names: &[&str]| header.fields.iter().position(|h| names.contains(&h.trim()));
    let cols: Vec<Option<usize>> = CSV_COLUMNS.iter().map(|(_, names)| column(names)).collect();
    for (i, (field, names)) in CSV_COLUMNS.iter().enumerate().take(3) {
        if cols[i].is_none() {
            push(&mut errors, header.line, field, TableProblem::Column { name: names[0] });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let needed = cols.iter().flatten().max().copied().unwrap_or(0) + 1;
    let mut out = Vec::with_capacity(body.len());
    for r in body {
        if r.fields.len() < needed {
            push(
                &mut errors,
                r.line,
                "code",
                TableProblem::Fields {
                    found: r.fields.len(),
                    expected: header.fields.len(),
                },
            );
            continue;
        }
        let get = |i: usize| cols[i].map(|c| r.fields[c].trim().to_owned());
        out.push(Record {
            line: r.line,
            code: get(0).unwrap_or_default(),
            name: get(1).unwrap_or_default(),
            short_name: get(2).unwrap_or_default(),
            description: get(3),
            pinyin: get(4),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn read_json(text: &str) -> Result<(Vec<Record>, Option<String>), Vec<Issue>> {
    use crate::json::{self, Kind};
    let mut errors = Vec::new();
    let doc = match json::parse(text) {
        Ok(d) => d,
        Err((detail, line)) => {
            push(
                &mut errors,
                line,
                "code",
                TableProblem::Format {
                    detail: format!("JSON: {detail}"),
                },
            );
            return Err(errors);
        }
    };
    let version = match doc.get("version").map(|v| &v.kind) {
        Some(Kind::String(s)) => Some(s.clone()),
        Some(Kind::Number(n)) => Some(n.clone()),
        _ => None,
    };
    let items = match (&doc.kind, doc.get("codes")) {
        (Kind::Array(items), _) => items,
        (
            _,
            Some(json::Value {
                kind: Kind::Array(items),
                ..
            }),
        ) => items,
        _ => {
            let detail = "expected an array of codes, or an object with a `codes` array".to_owned();
            push(&mut errors, doc.line, "code", TableProblem::Format { detail });
            return Err(errors);
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if !matches!(item.kind, Kind::Object(_)) {
            let detail = "each code is an object { code, name, shortName, description?, pinyin? }".to_owned();
            push(&mut errors, item.line, "code", TableProblem::Format { detail });
            continue;
        }
        let mut text_of = |key: &str, required: bool| -> Option<String> {
            match item.get(key).map(|v| (&v.kind, v.line)) {
                Some((Kind::String(s), _)) => Some(s.trim().to_owned()),
                None | Some((Kind::Null, _)) if !required => None,
                None | Some((Kind::Null, _)) => Some(String::new()),
                Some((Kind::Number(n), line)) if key == "code" => {
                    push(&mut errors, line, key, TableProblem::CodeNumber { value: n.clone() });
                    None
                }
                Some((_, line)) => {
                    push(
                        &mut errors,
                        line,
                        key,
                        TableProblem::Format {
                            detail: format!("`{key}` must be a string"),
                        },
                    );
                    None
                }
            }
        };
        let (Some(code), Some(name)) = (text_of("code", true), text_of("name", true)) else {
            continue;
        };
        let short_name = text_of("shortName", false).unwrap_or_default();
        let description = text_of("description", false);
        let pinyin = text_of("pinyin", false);
        out.push(Record {
            line: item.line,
            code,
            name,
            short_name,
            description,
            pinyin,
        });
    }
    if errors.is_empty() {
        Ok((out, version))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_matches_the_source_counts() {
        let t = TaxCodeTable::embedded();
        assert_eq!(t.len(), 4205);
        assert_eq!(t.leaves(), 3535);
        assert_eq!(t.version(), Some("2017-12-18"));
        assert!(t.rows.windows(2).all(|w| w[0].code < w[1].code));
        assert!(t.rows.iter().all(|r| is_code(&r.code) && !r.short_name.is_empty()));
        let roots = t.rows.iter().filter(|r| r.parent.is_none()).count();
        assert_eq!(roots, 6);
    }

    #[test]
    fn parent_codes() {
        assert_eq!(
            parent_code("3040102000000000000").as_deref(),
            Some("3040100000000000000")
        );
        assert_eq!(parent_code("1000000000000000000"), None);
        assert_eq!(
            parent_code("1010101000000000099").as_deref(),
            Some("1010101000000000000")
        );
        assert_eq!(parent_code("123"), None);
    }
}
