//! Reading a sheet: `.xlsx` (src/batch/xlsx.rs) and `.csv` in UTF-8 (with or without BOM),
//! GBK (as Chinese Excel saves 「CSV（逗号分隔）」) or UTF-16 (「Unicode 文本」,
//! tab-separated).

use super::{columns, BatchError, Sheet, SheetRow, MAX_COLUMNS, MAX_ROWS};

/// How the bytes were read.
fn encoding_of(bytes: &[u8]) -> Result<(String, &'static str), BatchError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return std::str::from_utf8(rest)
            .map(|s| (s.to_owned(), "utf-8"))
            .map_err(|_| BatchError::Encoding);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes).map(|s| (s, "utf-16le"));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes).map(|s| (s, "utf-16be"));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_owned(), "utf-8"));
    }
    crate::qr::gbk::decode(bytes)
        .map(|s| (s, "gbk"))
        .ok_or(BatchError::Encoding)
}

fn utf16(bytes: &[u8], read: fn([u8; 2]) -> u16) -> Result<String, BatchError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(BatchError::Encoding);
    }
    let units = bytes.chunks_exact(2).map(|c| read([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| BatchError::Encoding)
}

/// The separator of a delimited text: the most frequent of `,` `\t` `;` in its
/// first ten lines (outside quotes; a title line may have none).
fn separator(text: &str) -> char {
    let mut counts = [(',', 0usize), ('\t', 0), (';', 0)];
    let mut quoted = false;
    for c in text
        .lines()
        .take(10)
        .flat_map(|l| l.chars().chain(std::iter::once('\n')))
    {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            for e in counts.iter_mut() {
                if e.0 == c {
                    e.1 += 1;
                }
            }
        }
    }
    counts
        .iter()
        .fold((',', 0), |best, e| if e.1 > best.1 { *e } else { best })
        .0
}

/// Splits delimited text into records (RFC 4180: quoted fields may hold the
/// separator, `""` and line breaks). Each record with its 1-based record number.
fn records(text: &str, sep: char) -> Result<Records, BatchError> {
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut at_start = true;
    let mut number = 1u32;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            c if c == sep => {
                record.push(std::mem::take(&mut field));
                at_start = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                record.push(std::mem::take(&mut field));
                out.push((number, std::mem::take(&mut record)));
                if out.len() > MAX_ROWS + 64 {
                    return Err(BatchError::TooManyRows { max: MAX_ROWS });
                }
                number += 1;
                at_start = true;
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(BatchError::CsvQuote { row: number });
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        out.push((number, record));
    }
    Ok(out)
}

/// A number cell as text: integers without `.0`, others in their shortest form.
pub(super) fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        // The shortest text that reads back as the same double: 0.13, not 0.13000000000000000444.
        format!("{f}")
    }
}

/// Records with their 1-based row numbers.
pub(super) type Records = Vec<(u32, Vec<String>)>;

pub(super) fn read(bytes: &[u8], file_name: &str) -> Result<Sheet, BatchError> {
    if bytes.is_empty() {
        return Err(BatchError::Empty);
    }
    let lower = file_name.to_ascii_lowercase();
    let (source, records, sheet_name) = if bytes.starts_with(b"PK\x03\x04") {
        let (name, records) = super::xlsx::read(bytes)?;
        ("xlsx".to_owned(), records, Some(name))
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) || lower.ends_with(".xls") {
        return Err(BatchError::XlsUnsupported);
    } else if lower.ends_with(".xlsx") {
        return Err(BatchError::Xlsx {
            detail: "not a zip archive".into(),
        });
    } else if lower.ends_with(".csv") || lower.ends_with(".txt") || lower.ends_with(".tsv") || !lower.contains('.') {
        let (text, encoding) = encoding_of(bytes)?;
        let records = records(&text, separator(&text))?;
        (encoding.to_owned(), records, None)
    } else {
        return Err(BatchError::FileType {
            name: file_name
                .chars()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect(),
        });
    };
    let blank = |cells: &[String]| cells.iter().all(|c| c.trim().is_empty());
    // The header: the first row that names two known columns within the first
    // ten non-empty rows (a title row may come first), else the first non-empty row.
    let non_empty: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| !blank(&r.1))
        .map(|(i, _)| i)
        .take(10)
        .collect();
    let first = *non_empty.first().ok_or(BatchError::Empty)?;
    let header_at = non_empty
        .iter()
        .copied()
        .find(|&i| records[i].1.iter().filter(|h| columns::find(h).is_some()).count() >= 2)
        .unwrap_or(first);
    let mut iter = records.into_iter().skip(header_at);
    let (header_row, mut headers) = iter.next().ok_or(BatchError::Empty)?;
    while headers.last().is_some_and(|h| h.trim().is_empty()) {
        headers.pop();
    }
    if headers.len() > MAX_COLUMNS {
        return Err(BatchError::TooManyColumns { max: MAX_COLUMNS });
    }
    let headers: Vec<String> = headers
        .into_iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut rows = Vec::new();
    for (row, mut cells) in iter {
        if blank(&cells) {
            continue;
        }
        cells.truncate(headers.len().max(1));
        cells.resize(headers.len(), String::new());
        rows.push(SheetRow { row, cells });
        if rows.len() > MAX_ROWS {
            return Err(BatchError::TooManyRows { max: MAX_ROWS });
        }
    }
    Ok(Sheet {
        headers,
        header_row,
        rows,
        source,
        sheet_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records() {
        let r = records("a,\"b,\"\"c\"\"\"\r\n\"x\ny\",z\n", ',').unwrap();
        assert_eq!(
            r,
            vec![
                (1, vec!["a".into(), "b,\"c\"".into()]),
                (2, vec!["x\ny".into(), "z".into()])
            ]
        );
        assert_eq!(records("a,\"b", ',').unwrap_err().code_str(), "BATCH_CSV_QUOTE");
        assert_eq!(separator("a\tb\tc,d\n"), '\t');
        assert_eq!(separator("a;b;c\n"), ';');
        assert_eq!(separator("a,b\n"), ',');
    }

    #[test]
    fn numbers() {
        assert_eq!(number_text(106.0), "106");
        assert_eq!(number_text(0.13), "0.13");
        assert_eq!(number_text(12.345), "12.345");
        assert_eq!(number_text(3.0704e18), "3070400000000000000");
    }
}
