//! The wasm boundary's hand-written argument readers (src/from_json.rs) against
//! the serde derives that describe the wire format: neither may panic, and when
//! both read a text they must read the same value. (They may disagree on
//! refusing: serde also reads a struct from an array and refuses duplicate
//! members; the reader refuses the first and keeps the last.)
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn agree<T: DeserializeOwned + PartialEq + core::fmt::Debug>(text: &str, ours: Option<Result<T, String>>) {
    let Some(Ok(ours)) = ours else { return };
    if let Ok(theirs) = serde_json::from_str::<T>(text) {
        assert_eq!(ours, theirs, "{text}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    use fapiao::fuzz_hooks as h;
    agree(text, h::invoice_input(text));
    agree(text, h::red_input(text));
    agree(text, h::issue_form(text));
    agree(text, h::red_form(text));
    agree(text, h::buyer_input(text));
});
