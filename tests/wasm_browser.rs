//! The wasm boundary tests, run in headless Chromium:
//! `CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome -- --test wasm_browser`.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

include!("wasm/cases.rs");
