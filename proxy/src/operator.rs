//! Operator keys: the credential of back-office work (batches of invoices),
//! neither an order token (which grants one order) nor the admin token (which
//! runs the proxy's own jobs).
//!
//! Each key has a name — the person or system it belongs to, recorded with
//! every action taken under it — and is configured only as its SHA-256
//! (`FAPIAO_OPERATOR_KEYS="name:sha256hex,…"` or one `name:sha256hex` per line
//! in `FAPIAO_OPERATOR_KEYS_FILE`), so the configuration holds nothing that
//! opens the API. Keys are 256 random bits, so a plain SHA-256 is enough to
//! keep them from being recovered from their hashes.
//!
//! `fapiao-proxy operator-key NAME` prints a fresh key and the line to
//! configure:
//!
//! ```
//! let (key, line) = fapiao_proxy::operator::generate("finance-wang").unwrap();
//! let keys = fapiao_proxy::operator::parse_keys("FAPIAO_OPERATOR_KEYS", &line).unwrap();
//! assert_eq!(fapiao_proxy::operator::find(&keys, &key), Some("finance-wang"));
//! assert_eq!(fapiao_proxy::operator::find(&keys, "fop_wrong"), None);
//! ```

use sha2::{Digest, Sha256};

/// The prefix of generated keys (it tells a reader what a leaked string is).
pub const KEY_PREFIX: &str = "fop_";

/// One configured operator key: a name and the SHA-256 of the key.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorKey {
    /// The operator's name, recorded with each action.
    pub name: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
}

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperatorKey({}, ***)", self.name)
    }
}

/// True for a name of 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Reads `name:sha256hex` entries separated by commas or new lines (`#` starts
/// a comment line); `key` names the setting in errors. Names must be unique.
pub fn parse_keys(key: &str, text: &str) -> Result<Vec<OperatorKey>, String> {
    let mut out: Vec<OperatorKey> = Vec::new();
    for entry in text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let Some((name, h)) = entry.split_once(':') else {
            return Err(format!(
                "{key}: an entry is not name:sha256-hex (fapiao-proxy operator-key NAME prints one)"
            ));
        };
        let (name, h) = (name.trim(), h.trim());
        if !valid_name(name) {
            return Err(format!(
                "{key}: “{name}” is not an operator name (1 to 64 letters, digits, . _ - @)"
            ));
        }
        let bytes: Option<Vec<u8>> = (h.len() == 64)
            .then(|| {
                (0..32)
                    .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok())
                    .collect()
            })
            .flatten();
        let Some(bytes) = bytes else {
            return Err(format!(
                "{key}: the hash of “{name}” is not 64 hex digits (SHA-256 of the key, never the key itself)"
            ));
        };
        if out.iter().any(|k| k.name == name) {
            return Err(format!("{key}: the operator “{name}” is named twice"));
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes);
        out.push(OperatorKey {
            name: name.to_owned(),
            hash,
        });
    }
    Ok(out)
}

/// The operator a presented key belongs to. Every configured hash is compared
/// in full, in constant time, whatever matches.
pub fn find<'a>(keys: &'a [OperatorKey], presented: &str) -> Option<&'a str> {
    let given = hash(presented.trim());
    let mut found = None;
    for k in keys {
        let diff = k.hash.iter().zip(given.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 && found.is_none() {
            found = Some(k.name.as_str());
        }
    }
    found
}

/// A fresh key for `name` and the line to configure for it
/// (`name:sha256hex`). `None` for an invalid name.
pub fn generate(name: &str) -> Option<(String, String)> {
    if !valid_name(name) {
        return None;
    }
    let key = format!("{KEY_PREFIX}{}", crate::config::random_key());
    let line = format!("{name}:{}", hex(&hash(&key)));
    Some((key, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_match() {
        let (k1, l1) = generate("a").unwrap();
        let (k2, l2) = generate("b.c@d").unwrap();
        let keys = parse_keys("K", &format!("# finance\n{l1}\n{l2}")).unwrap();
        assert_eq!(find(&keys, &k1), Some("a"));
        assert_eq!(find(&keys, &k2), Some("b.c@d"));
        assert_eq!(find(&keys, ""), None);
        let keys = parse_keys("K", &format!("{l1}, {l2}")).unwrap();
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn bad_entries_are_named() {
        assert!(parse_keys("K", "nohash").unwrap_err().contains("name:sha256-hex"));
        assert!(parse_keys("K", "a:1234").unwrap_err().contains("64 hex"));
        let (_, l) = generate("a").unwrap();
        assert!(parse_keys("K", &format!("{l}\n{l}")).unwrap_err().contains("twice"));
        assert!(generate("a b").is_none());
        assert!(parse_keys("K", "").unwrap().is_empty());
    }
}
