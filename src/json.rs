//! The crate's one small JSON reader, for tables loaded at run time (src/taxcode)
//! and order-token claims (src/qr). It keeps the line each value starts on, so that
//! errors can name it, and it needs no dependency (the WebAssembly module stays
//! small). Numbers are kept as their text.

/// A JSON value and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub line: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match &self.kind {
            Kind::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value if it is a string.
    pub fn str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// A string, or a number as its text.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) | Kind::Number(s) => Some(s),
            _ => None,
        }
    }
}

/// Nesting deeper than this is refused (a table needs three levels).
const MAX_DEPTH: usize = 32;

/// Parses a whole document. The error is a message and the line it concerns.
pub(crate) fn parse(text: &str) -> Result<Value, (String, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        line: 1,
    };
    let v = p.value(0)?;
    p.space();
    if p.i < p.s.len() {
        return Err(p.fail("unexpected text after the end of the document"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> (String, usize) {
        (what.to_owned(), self.line)
    }

    fn space(&mut self) {
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, (String, usize)> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        self.space();
        let line = self.line;
        let kind = match self.s.get(self.i) {
            None => return Err(self.fail("unexpected end of the document")),
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.space();
                if !self.eat(b'}') {
                    loop {
                        self.space();
                        if self.s.get(self.i) != Some(&b'"') {
                            return Err(self.fail("expected a member name in quotes"));
                        }
                        let key = self.string()?;
                        self.space();
                        if !self.eat(b':') {
                            return Err(self.fail("expected “:” after a member name"));
                        }
                        let v = self.value(depth + 1)?;
                        members.push((key, v));
                        self.space();
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b'}') {
                            break;
                        }
                        return Err(self.fail("expected “,” or “}”"));
                    }
                }
                Kind::Object(members)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.space();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.space();
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b']') {
                            break;
                        }
                        return Err(self.fail("expected “,” or “]”"));
                    }
                }
                Kind::Array(items)
            }
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Kind::Bool(true)
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Kind::Bool(false)
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Kind::Null
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while matches!(self.s.get(self.i), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
                    self.i += 1;
                }
                Kind::Number(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
            Some(_) => return Err(self.fail("unexpected character")),
        };
        Ok(Value { line, kind })
    }

    /// Reads a string starting at its opening quote.
    fn string(&mut self) -> Result<String, (String, usize)> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(self.fail("unclosed string"));
            };
            self.i += 1;
            match b {
                b'"' => break,
                b'\n' => return Err(self.fail("line break inside a string")),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.fail("unclosed string"));
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    0xFFFD
                                }
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return Err(self.fail("unknown escape in a string")),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(b),
            }
        }
        // The input is a &str and escapes add whole characters, so this is UTF-8.
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, (String, usize)> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.fail("short \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.fail("bad \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.fail("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_arrays_strings_and_lines() {
        let v = parse(
            "{\n \"codes\": [\n  {\"code\": \"1\\u00e9\\ud83d\\ude00\", \"n\": 12, \"b\": true, \"z\": null}\n ]\n}",
        )
        .unwrap();
        let codes = v.get("codes").unwrap();
        assert_eq!(codes.line, 2);
        let Kind::Array(items) = &codes.kind else { panic!() };
        assert_eq!(items[0].line, 3);
        assert_eq!(items[0].get("code").unwrap().kind, Kind::String("1é😀".into()));
        assert_eq!(items[0].get("n").unwrap().kind, Kind::Number("12".into()));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("[\n{\"a\": 1,}\n]").unwrap_err().1, 2);
        assert_eq!(parse("{\"a\": \"x").unwrap_err().0, "unclosed string");
        assert!(parse("[1] x").is_err());
        assert!(parse(&"[".repeat(100)).is_err());
        assert!(parse("").is_err());
        assert!(parse("\"\\u12\"").is_err());
    }
}
