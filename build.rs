//! Stores the embedded tables (data/*.txt, UTF-8) in GBK, two bytes per Han
//! character instead of three: about 7 KB less of the gzipped WebAssembly module.
//! The crate decodes them once at first use with the same tables (src/qr/gbk.rs),
//! and this script checks that the round trip gives back every file exactly.

#[path = "src/sort.rs"]
#[allow(dead_code)]
mod sort;

#[path = "src/qr/gbk.rs"]
#[allow(dead_code)]
mod gbk;

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    for name in ["regions", "tax-codes", "tax-codes-pinyin"] {
        let src = format!("data/{name}.txt");
        println!("cargo:rerun-if-changed={src}");
        let text = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
        // Comment lines are not read, and may hold characters GBK lacks.
        let kept: String = text.lines().filter(|l| !l.starts_with('#')).flat_map(|l| [l, "\n"]).collect();
        let bytes = gbk::encode(&kept).unwrap_or_else(|| panic!("{src}: a character GBK lacks"));
        assert!(gbk::decode(&bytes).as_deref() == Some(kept.as_str()), "{src}: GBK round trip");
        std::fs::write(Path::new(&out).join(format!("{name}.gbk")), bytes).expect("write OUT_DIR");
    }
    for f in ["src/sort.rs", "src/qr/gbk.rs", "src/qr/gbk_hanzi.bin", "src/qr/gbk_other.bin"] {
        println!("cargo:rerun-if-changed={f}");
    }
}
