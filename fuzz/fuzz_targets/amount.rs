//! The amount engine on arbitrary JSON `InvoiceInput`s: never panics, and the
//! result serialises.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<fapiao::InvoiceInput>(data) else { return };
    let r = fapiao::compute_invoice(&input);
    let _ = serde_json::to_string(&r.errors);
});
