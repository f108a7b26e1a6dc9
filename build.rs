//! Stores the embedded tables (data/*.txt, UTF-8) twice: in GBK (two bytes per Han
//! character, which gzip compresses best) for builds that carry the GBK tables
//! anyway (the `qr` feature: native builds and the npm package's root), and packed
//! (src/packed.rs: one or two bytes per character, no code-page table needed to
//! read them back) for the light npm parts. The crate decodes its copy once at
//! first use (`crate::packed::embedded_table!`), and this script checks that both
//! round trips give back every file exactly. The regions go in a binary form (see
//! `regions`); the tax-code table also goes in a lean form for builds without the
//! `taxcodes` feature (see `lean_tax_codes`).

#[path = "src/sort.rs"]
#[allow(dead_code)]
mod sort;

#[path = "src/packed.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
mod packed;

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
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| [l, "\n"])
            .collect();
        if name == "regions" {
            let (codes, names) = regions(&src, &kept);
            std::fs::write(Path::new(&out).join("regions-codes.bin"), codes).expect("write OUT_DIR");
            write_table(&out, "regions-names", &src, &names);
            continue;
        }
        write_table(&out, name, &src, &kept);
        if name == "tax-codes" {
            write_table(&out, "tax-codes-lean", &src, &lean_tax_codes(&kept));
        }
    }
    for f in [
        "src/sort.rs",
        "src/packed.rs",
        "src/qr/gbk.rs",
        "src/qr/gbk_hanzi.bin",
        "src/qr/gbk_other.bin",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
}

/// Writes `<name>.gbk` and `<name>.packed`, each checked by decoding it again.
fn write_table(out: &str, name: &str, src: &str, text: &str) {
    let gbk = gbk::encode(text).unwrap_or_else(|| panic!("{src}: a character GBK lacks"));
    assert!(gbk::decode(&gbk).as_deref() == Some(text), "{src}: GBK round trip");
    std::fs::write(Path::new(out).join(format!("{name}.gbk")), gbk).expect("write OUT_DIR");
    let packed = packed::encode(text);
    assert!(packed::decode(&packed) == text, "{src}: packing round trip");
    std::fs::write(Path::new(out).join(format!("{name}.packed")), packed).expect("write OUT_DIR");
}

/// The tax-code table as the invoice part needs it to print and check item names:
/// every code (the first column) and every 简称; the 名称 are left empty (5 KB
/// gzipped less: the message about a summary code then names the code only).
fn lean_tax_codes(kept: &str) -> String {
    let mut out = String::with_capacity(kept.len() / 3);
    for line in kept.lines() {
        let mut f = line.split('\t');
        match (f.next(), f.next()) {
            (Some(segment), Some(_name)) => {
                out.push_str(segment);
                out.push_str("\t\t");
                out.push_str(f.next().unwrap_or(""));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// data/regions.txt in the form `crate::region` reads: the number of codes (u32,
/// little-endian), the code differences in LEB128 and one byte per code for the
/// year it was retired (minus 1900; 0 while in use) — about 0.8 KB less of the
/// gzipped module than the text's first two lines; and apart from them the names,
/// one a line (embedded only with the `region-names` feature).
fn regions(src: &str, kept: &str) -> (Vec<u8>, String) {
    let mut lines = kept.lines();
    let (codes, retired) = (lines.next().expect("codes line"), lines.next().expect("retired line"));
    let names: String = lines.flat_map(|l| [l, "\n"]).collect();
    let codes: Vec<u32> = codes
        .split(',')
        .map(|d| d.parse().expect("a code difference"))
        .collect();
    let retired: Vec<&str> = retired.split(',').collect();
    assert_eq!(codes.len(), retired.len(), "{src}: as many retirement years as codes");
    assert_eq!(codes.len(), names.lines().count(), "{src}: as many names as codes");
    let mut out = (codes.len() as u32).to_le_bytes().to_vec();
    out.extend(leb128_deltas(
        &codes
            .iter()
            .scan(0, |c, d| {
                *c += d;
                Some(*c)
            })
            .collect::<Vec<u32>>(),
    ));
    for y in retired {
        out.push(match y {
            "" => 0,
            y => y
                .parse::<u16>()
                .ok()
                .and_then(|y| y.checked_sub(1900))
                .and_then(|y| u8::try_from(y).ok())
                .filter(|&y| y > 0)
                .unwrap_or_else(|| panic!("{src}: retirement year {y} out of range")),
        });
    }
    (out, names)
}

/// Increasing numbers as the LEB128 encoding of their differences.
fn leb128_deltas(v: &[u32]) -> Vec<u8> {
    let (mut out, mut prev) = (Vec::new(), 0);
    for &x in v {
        let mut d = x - prev;
        prev = x;
        while d >= 0x80 {
            out.push((d & 0x7F) as u8 | 0x80);
            d >>= 7;
        }
        out.push(d as u8);
    }
    out
}
