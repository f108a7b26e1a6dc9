//! The canonical request builder on arbitrary JSON `IssueForm`s: never panics, and a
//! canonical request read back as a form rebuilds to itself (what the proxy stores
//! and what red letters rebuild from).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(form) = serde_json::from_slice::<fapiao::IssueForm>(data) else { return };
    let built = fapiao::build_issue_request(&form);
    let Some(req) = built.request else { return };
    let canonical = serde_json::to_string(&req).expect("a canonical request serialises");
    let form2: fapiao::IssueForm = serde_json::from_str(&canonical).expect("a canonical request reads back as a form");
    let again = fapiao::build_issue_request(&form2);
    let req2 = again.request.unwrap_or_else(|| panic!("canonical {canonical} does not rebuild: {:?}", again.errors));
    assert_eq!(serde_json::to_string(&req2).unwrap(), canonical);
});
