//! The .xlsx container without a spreadsheet crate: a workbook is a ZIP archive
//! of XML parts (ECMA-376). Reading takes the first worksheet's cells and the
//! shared strings; writing makes a one-sheet workbook with shared strings, a bold
//! header, text-formatted columns and hyperlinks. DEFLATE is `miniz_oxide`'s.
//!
//! The general spreadsheet crates (calamine, rust_xlsxwriter) would be about
//! 560 KB gzipped more in the npm package's batch part, most of it tables for
//! text encodings that an .xlsx (always UTF-8 or UTF-16 XML) never uses.

use std::borrow::Cow;

use super::BatchError;

/// The largest part read from an archive, uncompressed (a sheet of 100,000 full
/// rows is far below it; a ZIP bomb stops here).
const PART_MAX: usize = 256 << 20;

fn err(detail: &str) -> BatchError {
    BatchError::Xlsx { detail: detail.into() }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// CRC-32 tables for eight bytes at a time ("slicing-by-8"): table `k` advances
/// the CRC of a byte by `k` further zero bytes.
const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static CRC: [[u32; 256]; 8] = crc_tables();

/// CRC-32 (ISO-HDLC), as ZIP stores it.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    let mut chunks = data.chunks_exact(8);
    for b in &mut chunks {
        let lo = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        c = CRC[7][(lo & 0xFF) as usize]
            ^ CRC[6][((lo >> 8) & 0xFF) as usize]
            ^ CRC[5][((lo >> 16) & 0xFF) as usize]
            ^ CRC[4][(lo >> 24) as usize]
            ^ CRC[3][usize::from(b[4])]
            ^ CRC[2][usize::from(b[5])]
            ^ CRC[1][usize::from(b[6])]
            ^ CRC[0][usize::from(b[7])];
    }
    for &b in chunks.remainder() {
        c = CRC[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// The entries of a ZIP archive: name → (method, data offset, compressed size,
/// uncompressed size, CRC).
struct Archive<'a> {
    bytes: &'a [u8],
    entries: Vec<(String, u16, usize, usize, usize, u32)>,
}

impl<'a> Archive<'a> {
    fn open(bytes: &'a [u8]) -> Result<Self, BatchError> {
        let broken = || err("not a complete zip archive");
        // The end of central directory record: 22 bytes and a comment of up to 64 KB.
        let lo = bytes.len().saturating_sub(22 + 0xFFFF);
        let eocd = (lo..bytes.len().saturating_sub(21))
            .rev()
            .find(|&i| bytes[i..].starts_with(b"PK\x05\x06"))
            .ok_or_else(broken)?;
        let count = usize::from(u16_at(bytes, eocd + 10).ok_or_else(broken)?);
        let mut at = u32_at(bytes, eocd + 16).ok_or_else(broken)? as usize;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            if !bytes.get(at..).is_some_and(|b| b.starts_with(b"PK\x01\x02")) {
                return Err(broken());
            }
            let method = u16_at(bytes, at + 10).ok_or_else(broken)?;
            let crc = u32_at(bytes, at + 16).ok_or_else(broken)?;
            let packed = u32_at(bytes, at + 20).ok_or_else(broken)? as usize;
            let size = u32_at(bytes, at + 24).ok_or_else(broken)? as usize;
            let name_len = usize::from(u16_at(bytes, at + 28).ok_or_else(broken)?);
            let extra = usize::from(u16_at(bytes, at + 30).ok_or_else(broken)?);
            let comment = usize::from(u16_at(bytes, at + 32).ok_or_else(broken)?);
            let local = u32_at(bytes, at + 42).ok_or_else(broken)? as usize;
            let name = bytes.get(at + 46..at + 46 + name_len).ok_or_else(broken)?;
            let name = String::from_utf8_lossy(name).into_owned();
            if !bytes.get(local..).is_some_and(|b| b.starts_with(b"PK\x03\x04")) {
                return Err(broken());
            }
            let data = local
                + 30
                + usize::from(u16_at(bytes, local + 26).ok_or_else(broken)?)
                + usize::from(u16_at(bytes, local + 28).ok_or_else(broken)?);
            entries.push((name, method, data, packed, size, crc));
            at += 46 + name_len + extra + comment;
        }
        Ok(Archive { bytes, entries })
    }

    /// The uncompressed part `name`, if the archive has it.
    fn part(&self, name: &str) -> Result<Option<Vec<u8>>, BatchError> {
        let Some((_, method, at, packed, size, crc)) = self.entries.iter().find(|e| e.0.eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        let raw = self
            .bytes
            .get(*at..at.saturating_add(*packed))
            .ok_or_else(|| err("a part extends past the end of the file"))?;
        let data = match method {
            0 => raw.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec_with_limit(raw, PART_MAX.min(size.saturating_add(1 << 16)))
                .map_err(|_| err("a part cannot be decompressed"))?,
            _ => return Err(err("a part is compressed with a method other than DEFLATE")),
        };
        if crc32(&data) != *crc {
            return Err(err("a part fails its CRC check"));
        }
        Ok(Some(data))
    }
}

/// One XML tag or text run.
enum Node<'a> {
    /// An opening (or empty, `<x/>`) tag: local name, raw attributes, whether empty.
    Open(&'a str, &'a str, bool),
    /// A closing tag's local name.
    Close(&'a str),
    /// Text, entities resolved.
    Text(Cow<'a, str>),
}

/// The local part of a qualified name (`x:c` → `c`).
fn local(name: &str) -> &str {
    match name.as_bytes().iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Resolves the five predefined entities and character references.
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 12) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let c = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| name.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The XML nodes of a part, in order (declarations, comments and processing
/// instructions left out; CDATA as text).
fn nodes(xml: &str) -> impl Iterator<Item = Node<'_>> {
    let mut rest = xml;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            rest = &rest[end..];
            return Some(Node::Text(unescape(text)));
        }
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = r.find("]]>").unwrap_or(r.len());
            let text = &r[..end];
            rest = r.get(end + 3..).unwrap_or("");
            return Some(Node::Text(Cow::Borrowed(text)));
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.find("-->").map(|e| &r[e + 3..]).unwrap_or("");
            continue;
        }
        // A tag ends at the first '>' outside quotes (all ASCII: bytes will do).
        let mut quote = 0u8;
        let mut end = None;
        for (i, &b) in rest.as_bytes().iter().enumerate().skip(1) {
            match (quote, b) {
                (0, b'"' | b'\'') => quote = b,
                (q, b) if q != 0 && b == q => quote = 0,
                (0, b'>') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.unwrap_or(rest.len());
        let tag = &rest[1..end.min(rest.len())];
        rest = rest.get(end + 1..).unwrap_or("");
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            return Some(Node::Close(local(name.trim())));
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let split = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
        return Some(Node::Open(local(&tag[..split]), &tag[split..], empty));
    })
}

/// The value of attribute `name` (local name) in raw attributes.
fn attr<'a>(raw: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let mut rest = raw;
    loop {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let q = after.chars().next()?;
        if q != '"' && q != '\'' {
            return None;
        }
        let close = after[1..].find(q)? + 1;
        if local(key) == name {
            return Some(unescape(&after[1..close]));
        }
        rest = &after[close + 1..];
    }
}

fn text_of(part: Option<Vec<u8>>) -> Result<Option<String>, BatchError> {
    match part {
        None => Ok(None),
        Some(b) => {
            let b = b.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(&b).to_vec();
            String::from_utf8(b)
                .map(Some)
                .map_err(|_| err("a part is not UTF-8 XML"))
        }
    }
}

/// `B12` → column 1 (0-based).
fn column_of(reference: &str) -> Option<usize> {
    let letters: Vec<u8> = reference.bytes().take_while(u8::is_ascii_alphabetic).collect();
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    Some(
        letters
            .iter()
            .fold(0usize, |n, b| n * 26 + usize::from(b.to_ascii_uppercase() - b'A') + 1)
            - 1,
    )
}

/// The path of the first worksheet, from the workbook and its relationships.
fn first_sheet(book: &Archive<'_>) -> Result<(String, String), BatchError> {
    let fallback = ("Sheet1".to_owned(), "xl/worksheets/sheet1.xml".to_owned());
    let Some(workbook) = text_of(book.part("xl/workbook.xml")?)? else {
        return Ok(fallback);
    };
    let Some((name, id)) = nodes(&workbook).find_map(|n| match n {
        Node::Open("sheet", raw, _) => Some((
            attr(raw, "name").unwrap_or_default().into_owned(),
            attr(raw, "id")?.into_owned(),
        )),
        _ => None,
    }) else {
        return Ok(fallback);
    };
    let rels = text_of(book.part("xl/_rels/workbook.xml.rels")?)?.unwrap_or_default();
    let target = nodes(&rels).find_map(|n| match n {
        Node::Open("Relationship", raw, _) if attr(raw, "Id").as_deref() == Some(&*id) => attr(raw, "Target"),
        _ => None,
    });
    Ok(match target {
        Some(t) if t.starts_with('/') => (name, t.trim_start_matches('/').to_owned()),
        Some(t) => (name, format!("xl/{}", t.trim_start_matches("./"))),
        None => (name, fallback.1),
    })
}

/// The shared strings: each `<si>`'s text runs, without phonetic (`rPh`) runs.
fn shared_strings(book: &Archive<'_>) -> Result<Vec<String>, BatchError> {
    let Some(xml) = text_of(book.part("xl/sharedStrings.xml")?)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let (mut current, mut in_t, mut in_phonetic) = (String::new(), false, false);
    for n in nodes(&xml) {
        match n {
            Node::Open("si", _, empty) => {
                current.clear();
                if empty {
                    out.push(String::new());
                }
            }
            Node::Close("si") => out.push(std::mem::take(&mut current)),
            Node::Open("rPh", _, false) => in_phonetic = true,
            Node::Close("rPh") => in_phonetic = false,
            Node::Open("t", _, empty) => in_t = !empty,
            Node::Close("t") => in_t = false,
            Node::Text(t) if in_t && !in_phonetic => current.push_str(&t),
            _ => {}
        }
    }
    Ok(out)
}

/// The first worksheet's name and rows: (1-based row, cells by column).
pub(super) fn read(bytes: &[u8]) -> Result<(String, super::read::Records), BatchError> {
    let book = Archive::open(bytes)?;
    let (name, path) = first_sheet(&book)?;
    let strings = shared_strings(&book)?;
    let xml = text_of(book.part(&path)?)?.ok_or_else(|| err("the workbook has no worksheet"))?;
    let mut rows: Vec<(u32, Vec<String>)> = Vec::new();
    let (mut row, mut col) = (0u32, 0usize);
    let (mut kind, mut value, mut inline, mut in_v, mut in_t) = (b'n', String::new(), String::new(), false, false);
    for n in nodes(&xml) {
        match n {
            Node::Open("row", raw, empty) => {
                row = attr(raw, "r").and_then(|r| r.parse().ok()).unwrap_or(row + 1);
                col = 0;
                if !empty {
                    if rows.len() > super::MAX_ROWS + 64 {
                        return Err(BatchError::TooManyRows { max: super::MAX_ROWS });
                    }
                    rows.push((row, Vec::new()));
                }
            }
            Node::Open("c", raw, empty) => {
                col = attr(raw, "r").and_then(|r| column_of(&r)).unwrap_or(col);
                // The cell type: shared string, inline string, boolean, text, else a number.
                kind = match attr(raw, "t").as_deref() {
                    Some("s") => b's',
                    Some("inlineStr") => b'i',
                    Some("b") => b'b',
                    Some("str" | "e" | "d") => b't',
                    _ => b'n',
                };
                value.clear();
                inline.clear();
                if empty {
                    col += 1;
                }
            }
            Node::Open("v", _, empty) => in_v = !empty,
            Node::Close("v") => in_v = false,
            Node::Open("t", _, empty) => in_t = !empty,
            Node::Close("t") => in_t = false,
            Node::Text(t) if in_v => value.push_str(&t),
            Node::Text(t) if in_t => inline.push_str(&t),
            Node::Close("c") => {
                let text = match kind {
                    b's' => value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| strings.get(i))
                        .cloned()
                        .unwrap_or_default(),
                    b'i' => std::mem::take(&mut inline),
                    b'b' => if value.trim() == "1" { "TRUE" } else { "FALSE" }.to_owned(),
                    b't' => std::mem::take(&mut value),
                    _ => match value.trim().parse::<f64>() {
                        Ok(f) => super::read::number_text(f),
                        Err(_) => std::mem::take(&mut value),
                    },
                };
                if col >= super::MAX_COLUMNS {
                    return Err(BatchError::TooManyColumns {
                        max: super::MAX_COLUMNS,
                    });
                }
                if let Some((_, cells)) = rows.last_mut() {
                    if !text.is_empty() {
                        if cells.len() <= col {
                            cells.resize(col + 1, String::new());
                        }
                        cells[col] = text;
                    }
                }
                col += 1;
            }
            _ => {}
        }
    }
    rows.sort_by_key(|r| r.0);
    Ok((name, rows))
}

// ---------------------------------------------------------------------------
// Writing.

/// A ZIP archive written entry by entry (DEFLATE, level 6).
struct ZipOut {
    out: Vec<u8>,
    central: Vec<u8>,
    count: u16,
}

impl ZipOut {
    fn new() -> Self {
        ZipOut {
            out: Vec::new(),
            central: Vec::new(),
            count: 0,
        }
    }

    fn add(&mut self, name: &str, data: &[u8]) {
        let packed = miniz_oxide::deflate::compress_to_vec(data, 6);
        let crc = crc32(data);
        let offset = self.out.len() as u32;
        // 2026-01-01 00:00 in DOS time: a fixed stamp, so that equal input gives equal bytes.
        let (time, date) = (0u16, ((2026 - 1980) << 9 | 1 << 5 | 1) as u16);
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
            v.extend_from_slice(&8u16.to_le_bytes()); // DEFLATE
            v.extend_from_slice(&time.to_le_bytes());
            v.extend_from_slice(&date.to_le_bytes());
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        self.out.extend_from_slice(b"PK\x03\x04");
        common(&mut self.out);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(&packed);
        self.central.extend_from_slice(b"PK\x01\x02");
        self.central.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(&mut self.central);
        self.central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        self.central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.count += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let at = self.out.len() as u32;
        let size = self.central.len() as u32;
        self.out.extend_from_slice(&self.central);
        self.out.extend_from_slice(b"PK\x05\x06");
        self.out.extend_from_slice(&[0; 4]);
        self.out.extend_from_slice(&self.count.to_le_bytes());
        self.out.extend_from_slice(&self.count.to_le_bytes());
        self.out.extend_from_slice(&size.to_le_bytes());
        self.out.extend_from_slice(&at.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes());
        self.out
    }
}

/// Text for XML content or an attribute value; characters XML 1.0 cannot carry are dropped.
fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// `0` → `A`, `27` → `AB`.
fn column_name(mut c: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;

const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;

const BOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;

// Styles: 0 default, 1 bold (header), 2 text (number format 49, "@"), 3 hyperlink.
const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="3"><font><sz val="11"/><name val="等线"/><family val="2"/><charset val="134"/></font><font><b/><sz val="11"/><name val="等线"/><family val="2"/><charset val="134"/></font><font><u/><sz val="11"/><color rgb="FF0563C1"/><name val="等线"/><family val="2"/><charset val="134"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyNumberFormat="1"/><xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="49" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"#;

/// A one-sheet workbook: a bold header row (frozen), every cell a string;
/// `text` columns formatted as text (Excel keeps 19-digit codes as typed when
/// edited), cells of `links` columns that are http(s) URLs written as hyperlinks.
pub(super) fn write<'a>(
    sheet_name: &str,
    headers: &[&'a str],
    rows: &'a [Vec<String>],
    text: &[usize],
    links: &[usize],
) -> Vec<u8> {
    let mut xml = String::with_capacity(256 + rows.len() * headers.len() * 40);
    xml.push_str(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>"#);
    for c in 0..headers.len() {
        let wide = text.contains(&c) || links.contains(&c);
        let style = if text.contains(&c) { r#" style="2""# } else { "" };
        xml.push_str(&format!(
            r#"<col min="{n}" max="{n}" width="{w}"{style} customWidth="1"/>"#,
            n = c + 1,
            w = if wide { 22 } else { 14 }
        ));
    }
    xml.push_str("</cols><sheetData>");
    let mut hyperlinks = Vec::new();
    // Strings once each in the shared-strings part, as Excel writes them.
    let mut strings: Vec<&str> = Vec::new();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut cell = |xml: &mut String, r: usize, c: usize, v: &'a str, style: u8| {
        let next = strings.len();
        let i = *seen.entry(v).or_insert(next);
        if i == next {
            strings.push(v);
        }
        xml.push_str(&format!(r#"<c r="{}{}" t="s""#, column_name(c), r + 1));
        if style > 0 {
            xml.push_str(&format!(r#" s="{style}""#));
        }
        xml.push_str(&format!("><v>{i}</v></c>"));
    };
    xml.push_str(r#"<row r="1">"#);
    for (c, h) in headers.iter().enumerate() {
        cell(&mut xml, 0, c, h, 1);
    }
    xml.push_str("</row>");
    for (r, cells) in rows.iter().enumerate() {
        let r = r + 1;
        xml.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, v) in cells.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            // Excel's limit of characters in a cell.
            let v = match v.char_indices().nth(32_767) {
                Some((at, _)) => &v[..at],
                None => v.as_str(),
            };
            let link = links.contains(&c) && (v.starts_with("https://") || v.starts_with("http://")) && v.len() <= 2000;
            if link {
                hyperlinks.push((format!("{}{}", column_name(c), r + 1), v.to_owned()));
            }
            let style = if link {
                3
            } else if text.contains(&c) {
                2
            } else {
                0
            };
            cell(&mut xml, r, c, v, style);
        }
        xml.push_str("</row>");
    }
    xml.push_str("</sheetData>");
    let mut sheet_rels = String::new();
    if !hyperlinks.is_empty() {
        xml.push_str("<hyperlinks>");
        sheet_rels.push_str(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
        );
        for (i, (at, url)) in hyperlinks.iter().enumerate() {
            xml.push_str(&format!(r#"<hyperlink ref="{at}" r:id="rId{}"/>"#, i + 1));
            sheet_rels.push_str(&format!(
                r#"<Relationship Id="rId{}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" TargetMode="External" Target=""#,
                i + 1
            ));
            escape(&mut sheet_rels, url);
            sheet_rels.push_str(r#""/>"#);
        }
        xml.push_str("</hyperlinks>");
        sheet_rels.push_str("</Relationships>");
    }
    xml.push_str(
        r#"<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>"#,
    );
    let mut shared = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{n}" uniqueCount="{n}">"#,
        n = strings.len()
    );
    for s in &strings {
        shared.push_str(
            if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
                r#"<si><t xml:space="preserve">"#
            } else {
                "<si><t>"
            },
        );
        escape(&mut shared, s);
        shared.push_str("</t></si>");
    }
    shared.push_str("</sst>");

    let mut book = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><bookViews><workbookView/></bookViews><sheets><sheet name=""#,
    );
    escape(&mut book, sheet_name);
    book.push_str(r#"" sheetId="1" r:id="rId1"/></sheets></workbook>"#);

    let mut zip = ZipOut::new();
    zip.add("[Content_Types].xml", CONTENT_TYPES.as_bytes());
    zip.add("_rels/.rels", ROOT_RELS.as_bytes());
    zip.add("xl/workbook.xml", book.as_bytes());
    zip.add("xl/_rels/workbook.xml.rels", BOOK_RELS.as_bytes());
    zip.add("xl/styles.xml", STYLES.as_bytes());
    zip.add("xl/sharedStrings.xml", shared.as_bytes());
    zip.add("xl/worksheets/sheet1.xml", xml.as_bytes());
    if !sheet_rels.is_empty() {
        zip.add("xl/worksheets/_rels/sheet1.xml.rels", sheet_rels.as_bytes());
    }
    zip.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_names() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(27), "AB");
        assert_eq!(column_of("AB12"), Some(27));
        assert_eq!(column_of("A1"), Some(0));
        assert_eq!(unescape("a&amp;b&#x41;&#66;&lt;&bogus;&"), "a&bAB<&bogus;&");
        assert_eq!(attr(r#" r="A1" t='s'"#, "t").as_deref(), Some("s"));
        assert_eq!(attr(r#" r:id="rId3""#, "id").as_deref(), Some("rId3"));
    }

    #[test]
    fn broken_archives_are_errors() {
        for b in [&b"PK\x03\x04"[..], b"PK\x05\x06", &[0u8; 100]] {
            assert!(read(b).is_err());
        }
        // A valid archive whose sheet part was tampered with fails its CRC.
        let mut book = write("S", &["a"], &[vec!["x".into()]], &[], &[]);
        let name = b"xl/worksheets/sheet1.xml";
        let at = book.windows(name.len()).position(|w| w == name).unwrap() + name.len() + 4;
        book[at] ^= 0xFF;
        assert!(read(&book).is_err());
    }
}
