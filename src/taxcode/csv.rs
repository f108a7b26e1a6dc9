//! A small RFC 4180 reader: enough for a spreadsheet exported as CSV, with the
//! line on which each record starts, so that errors can name it.

/// One record and the 1-based line it starts on.
pub(crate) struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Splits CSV text into records. Fields may be quoted (`"a,b"`, `""` for a quote)
/// and span lines; records end at LF or CRLF; blank lines are skipped; a leading
/// byte-order mark is dropped. The error names the line of an unclosed quote.
pub(crate) fn parse(text: &str) -> Result<Vec<Record>, usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut start = 1;
    let mut quoted = false;
    let mut quote_line = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                quoted = true;
                quote_line = line;
            }
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_record(&mut records, &mut fields, &mut field, start);
                line += 1;
                start = line;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(quote_line);
    }
    end_record(&mut records, &mut fields, &mut field, start);
    Ok(records)
}

fn end_record(records: &mut Vec<Record>, fields: &mut Vec<String>, field: &mut String, line: usize) {
    fields.push(std::mem::take(field));
    let fields = std::mem::take(fields);
    if fields.len() == 1 && fields[0].trim().is_empty() {
        return;
    }
    records.push(Record { line, fields });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_commas_line_breaks_and_line_numbers() {
        let r = parse("\u{feff}a,b,c\r\n1,\"x, \"\"y\"\"\",3\n\n2,\"multi\nline\",4\n5,,").unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].fields, ["a", "b", "c"]);
        assert_eq!(r[1].fields, ["1", "x, \"y\"", "3"]);
        assert_eq!((r[2].line, r[2].fields[1].as_str()), (4, "multi\nline"));
        assert_eq!((r[3].line, r[3].fields.len()), (6, 3));
    }

    #[test]
    fn an_unclosed_quote_names_its_line() {
        assert_eq!(parse("a\n\"b,c\nd").err(), Some(2));
    }
}
