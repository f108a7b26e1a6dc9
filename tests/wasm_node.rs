//! The wasm boundary tests, run in Node: `wasm-pack test --node -- --test wasm_node`.
#![cfg(target_arch = "wasm32")]

include!("wasm/cases.rs");
