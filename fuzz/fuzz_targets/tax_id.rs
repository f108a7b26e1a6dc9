//! The tax-ID validator on any UTF-8 text: never panics, and what it calls valid
//! validates again (normalisation is idempotent).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let r = fapiao::validate_tax_id(s);
    if r.valid {
        let again = fapiao::validate_tax_id(&r.normalized);
        assert!(again.valid, "{s:?} is valid but its normalized form {:?} is not", r.normalized);
        assert_eq!(again.normalized, r.normalized);
    }
});
