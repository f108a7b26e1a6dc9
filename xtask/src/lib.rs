//! Table generators for the `fapiao` crate. Each module turns one source file from
//! `../shared/data` into a compact, committed file under `data/`.

pub mod regions;
pub mod taxcodes;

/// SHA-256 of a byte string as lower-case hex, recorded in each generated file's
/// header so anyone can tell which input it was made from.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}
