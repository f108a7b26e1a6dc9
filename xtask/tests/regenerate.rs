//! The committed tables must be exactly what the generators make from ../shared/data.
//! Without ../shared (a plain clone), there is nothing to compare and the test says so.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn regions_table_is_up_to_date() {
    let input = root().join("../shared").join(xtask::regions::INPUT);
    if !input.exists() {
        eprintln!("skipped: {} not found", input.display());
        return;
    }
    let fresh = xtask::regions::generate_file(&input).unwrap();
    let committed = std::fs::read_to_string(root().join(xtask::regions::OUTPUT)).unwrap();
    assert!(
        fresh == committed,
        "data/regions.txt differs from a fresh run of `cargo xtask gen-regions`"
    );
}

#[test]
fn tax_code_tables_are_up_to_date() {
    let input = root().join("../shared").join(xtask::taxcodes::INPUT);
    if !input.exists() {
        eprintln!("skipped: {} not found", input.display());
        return;
    }
    let fresh = xtask::taxcodes::generate_file(&input).unwrap();
    for (path, text) in fresh.files() {
        let committed = std::fs::read(root().join(path)).unwrap();
        assert!(
            committed == text.as_bytes(),
            "{path} differs from a fresh run of `cargo xtask gen-tax-codes`"
        );
    }
}
