//! The conformance suite every provider adapter passes against its local fake:
//! the built-in sandbox, the fake 诺诺 and the fake 百望 (tests/fakes/), each
//! fake checking the real signature and access token of every call.
//!
//! Every case is one `async fn case(&Subject)`; `suite!` runs each for every
//! provider (`sandbox::…`, `nuonuo::…`, `baiwang::…`). Adding a provider: an
//! adapter in src/provider/, a fake in tests/fakes/, a `Which` variant here
//! and its module in `suite!`.

mod common;
mod fakes;

use std::sync::Arc;
use std::time::Duration;

use fakes::Fake;
use fapiao::request::{build_issue_request, build_red_request, IssueForm, IssueRequest, RedForm, RedRequest};
use fapiao_proxy::provider::sandbox::Sandbox;
use fapiao_proxy::provider::{Delivery, Kind, Provider, ProviderError, QueryOutcome};
use fapiao_proxy::store::Store;
use fapiao_proxy::Config;
use serde_json::json;
use sha2::Digest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Sandbox,
    Nuonuo,
    Baiwang,
}

impl Which {
    /// Whether the provider has access tokens.
    fn has_tokens(self) -> bool {
        self != Which::Sandbox
    }

    /// Whether the provider re-delivers invoices (百望: no confirmed method).
    fn delivers(self) -> bool {
        self != Which::Baiwang
    }
}

pub struct Subject {
    which: Which,
    provider: Arc<dyn Provider>,
    fake: Option<Fake>,
    store: Store,
    config: Config,
    _dir: tempfile::TempDir,
}

/// The configuration of a provider against a fake, on the test's store.
pub async fn fake_config(dir: &std::path::Path, env: Vec<(String, String)>) -> Config {
    let base = common::test_config(dir).await;
    let mut all = env;
    all.push((
        "FAPIAO_MERCHANT_KEY".into(),
        "conformance-merchant-key-0123456789abcdef".into(),
    ));
    all.push(("FAPIAO_DEMO".into(), "false".into()));
    all.push(("FAPIAO_RATE_LIMIT".into(), "0".into()));
    all.push(("FAPIAO_PROVIDER_TIMEOUT_MS".into(), "400".into()));
    all.push(("FAPIAO_POLL_MS".into(), "10".into()));
    let mut c = Config::from_lookup(&move |k| all.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone())).unwrap();
    c.database_path = base.database_path.clone();
    c.postgres = base.postgres.clone();
    c.instance_id = base.instance_id.clone();
    c
}

pub async fn subject(which: Which) -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let (config, fake) = match which {
        Which::Sandbox => (common::test_config(dir.path()).await, None),
        Which::Nuonuo => {
            let f = fakes::nuonuo::start().await;
            (fake_config(dir.path(), fakes::nuonuo::env(&f)).await, Some(f))
        }
        Which::Baiwang => {
            let f = fakes::baiwang::start().await;
            (fake_config(dir.path(), fakes::baiwang::env(&f)).await, Some(f))
        }
    };
    let store = common::open_store(&config).await;
    let provider = fapiao_proxy::provider::from_config(&config, &store).unwrap();
    assert_eq!(provider.name(), format!("{which:?}").to_lowercase());
    Subject {
        which,
        provider,
        fake,
        store,
        config,
        _dir: dir,
    }
}

impl Subject {
    /// The provider whose answer to the next submission is lost after it was
    /// accepted (fakes: order numbers starting with `LOST`).
    fn losing(&self) -> Arc<dyn Provider> {
        match self.which {
            Which::Sandbox => {
                let mut k = self.config.sandbox.clone();
                k.timeout_rate = 1.0;
                Arc::new(Sandbox::new(
                    self.store.clone(),
                    k,
                    self.config.seller_tax_id.clone(),
                    self.config.seller_name.clone(),
                ))
            }
            _ => self.provider.clone(),
        }
    }

    /// The provider that does not answer before anything happened (fakes:
    /// the first submission of an order number starting with `HANG`).
    fn hanging(&self) -> Arc<dyn Provider> {
        match self.which {
            Which::Sandbox => {
                let mut k = self.config.sandbox.clone();
                k.error_rate = 1.0;
                Arc::new(Sandbox::new(
                    self.store.clone(),
                    k,
                    self.config.seller_tax_id.clone(),
                    self.config.seller_name.clone(),
                ))
            }
            _ => self.provider.clone(),
        }
    }

    /// How many invoices the provider holds for an order.
    async fn held(&self, order_id: &str) -> usize {
        match &self.fake {
            Some(f) => f.count(order_id),
            None => {
                Sandbox::new(
                    self.store.clone(),
                    self.config.sandbox.clone(),
                    String::new(),
                    String::new(),
                )
                .count(order_id)
                .await
            }
        }
    }

    async fn issue(&self, id: &str, special: bool) -> (IssueRequest, String) {
        let r = issue_request(id, special, "");
        self.provider
            .submit_issue(&r)
            .await
            .unwrap_or_else(|e| panic!("{:?} {id}: {e}", self.which));
        let QueryOutcome::Issued(i) = until_final(&*self.provider, id, Kind::Blue).await else {
            panic!("{id} not issued")
        };
        (r, i.number)
    }
}

pub fn issue_request(id: &str, special: bool, remark: &str) -> IssueRequest {
    let v = json!({
        "schemaVersion": 1,
        "orderId": id,
        "invoiceType": if special { "special" } else { "normal" },
        "buyer": { "type": "company", "name": "北京某某科技有限公司", "taxId": "91110000600037341L" },
        "priceIncludesTax": true,
        "lines": [common::line("午餐", "106.00"), common::line("晚餐", "212.00")],
        "remark": remark,
        "delivery": { "email": "caiwu@example.com" }
    });
    let form: IssueForm = serde_json::from_value(v).unwrap();
    let b = build_issue_request(&form);
    assert!(b.valid, "{:?}", b.errors);
    b.request.unwrap()
}

pub fn red_request(id: &str, blue: &IssueRequest, number: &str, partial: bool) -> RedRequest {
    let form = RedForm {
        order_id: Some(id.into()),
        blue_order_id: Some(blue.order_id.clone()),
        blue_invoice_number: Some(number.into()),
        reason: Some(if partial { "销售折让" } else { "开票有误" }.into()),
        full: !partial,
        lines: if partial {
            vec![serde_json::from_value(json!({ "blueLineNo": 2, "amount": "53.00" })).unwrap()]
        } else {
            vec![]
        },
        blue: Some(blue.invoice_input()),
        ..Default::default()
    };
    let b = build_red_request(&form);
    assert!(b.valid, "{:?}", b.errors);
    b.request.unwrap()
}

/// Queries until the order is no longer pending (at most 60 queries).
pub async fn until_final(p: &dyn Provider, id: &str, kind: Kind) -> QueryOutcome {
    for _ in 0..60 {
        match p.query(id, kind).await {
            Ok(QueryOutcome::Pending) => tokio::time::sleep(Duration::from_millis(25)).await,
            Ok(o) => return o,
            Err(e) => panic!("query {id}: {e}"),
        }
    }
    panic!("{id}: still pending after 60 queries")
}

fn twenty_digits(n: &str) -> bool {
    n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit())
}

// ---- the cases ----

async fn issues_normal_and_special(s: Subject) {
    for (id, special) in [("N-0001", false), ("S-0001", true)] {
        let r = issue_request(id, special, "");
        let accepted = s.provider.submit_issue(&r).await.unwrap();
        let _ = accepted;
        let QueryOutcome::Issued(i) = until_final(&*s.provider, id, Kind::Blue).await else {
            panic!("{id} not issued")
        };
        assert!(twenty_digits(&i.number), "{:?}: {}", s.which, i.number);
        if let Some(a) = &i.facts.amount_incl_tax {
            assert_eq!(a, "318.00");
        }
        if let Some(n) = i.facts.lines {
            assert_eq!(n, 2);
        }
        assert_eq!(s.held(id).await, 1);
        if let Some(f) = &s.fake {
            assert_eq!(
                f.with(|st| st.invoices[id].special),
                special,
                "{id}: 专票 and 普票 are told apart"
            );
        }
    }
    if let Some(f) = &s.fake {
        assert_eq!(f.with(|st| st.bad_signatures), 0);
    }
}

async fn refuses_a_duplicate_order(s: Subject) {
    let r = issue_request("D-0001", false, "");
    s.provider.submit_issue(&r).await.unwrap();
    assert_eq!(s.provider.submit_issue(&r).await, Err(ProviderError::Duplicate));
    assert_eq!(s.held("D-0001").await, 1);
    if let Some(f) = &s.fake {
        assert_eq!(f.submissions("D-0001"), 2);
    }
}

async fn answer_lost_after_issuing_is_found_by_query(s: Subject) {
    let id = "LOST-0001";
    let r = issue_request(id, false, "");
    let e = s.losing().submit_issue(&r).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unavailable(_)), "{e:?}");
    // What the worker does: query before resubmitting.
    let found = s.provider.query(id, Kind::Blue).await.unwrap();
    assert_ne!(found, QueryOutcome::NotFound, "the accepted order must be found");
    assert!(matches!(
        until_final(&*s.provider, id, Kind::Blue).await,
        QueryOutcome::Issued(_)
    ));
    // A resubmission anyway is refused as a duplicate: never a second invoice.
    assert_eq!(s.provider.submit_issue(&r).await, Err(ProviderError::Duplicate));
    assert_eq!(s.held(id).await, 1);
}

async fn timeout_before_accepting_leaves_nothing(s: Subject) {
    let id = "HANG-0001";
    let r = issue_request(id, false, "");
    let e = s.hanging().submit_issue(&r).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unavailable(_)), "{e:?}");
    assert_eq!(e.code(), "PROVIDER_UNAVAILABLE");
    assert_eq!(s.provider.query(id, Kind::Blue).await.unwrap(), QueryOutcome::NotFound);
    assert_eq!(s.held(id).await, 0);
    s.provider.submit_issue(&r).await.unwrap();
    assert!(matches!(
        until_final(&*s.provider, id, Kind::Blue).await,
        QueryOutcome::Issued(_)
    ));
    assert_eq!(s.held(id).await, 1);
}

async fn maps_a_wrong_buyer_tax_id(s: Subject) {
    let id = "F-0001";
    let r = issue_request(id, false, "#sandbox:fail");
    let issue = match s.provider.submit_issue(&r).await {
        Err(ProviderError::Rejected(i)) => i,
        Ok(_) => match until_final(&*s.provider, id, Kind::Blue).await {
            QueryOutcome::Failed(i) => i,
            other => panic!("{:?}: {other:?}", s.which),
        },
        Err(e) => panic!("{:?}: {e:?}", s.which),
    };
    assert_eq!(
        (issue.code, issue.field.as_str()),
        ("BUYER_TAXID_NOT_FOUND", "buyer.taxId"),
        "{:?}",
        s.which
    );
}

async fn maps_a_refusal_with_the_providers_code(s: Subject) {
    let r = issue_request("J-0001", false, "#sandbox:reject");
    let Err(ProviderError::Rejected(issue)) = s.provider.submit_issue(&r).await else {
        panic!("{:?}: not refused", s.which)
    };
    assert_eq!(issue.code, "LINE_TAX_TOLERANCE", "{:?}: {issue:?}", s.which);
    assert_eq!(s.held("J-0001").await, 0, "nothing was issued");
}

async fn renews_an_expired_token(s: Subject) {
    let Some(f) = &s.fake else {
        assert!(!s.which.has_tokens());
        return;
    };
    s.issue("T-0001", false).await;
    let before = f.with(|st| (st.token_calls, st.refresh_calls));
    assert_eq!(before.0, 1, "one token for everything so far");
    f.expire_tokens();
    // Within two calls the provider works again.
    let mut ok = false;
    for _ in 0..2 {
        if let Ok(QueryOutcome::Issued(_)) = s.provider.query("T-0001", Kind::Blue).await {
            ok = true;
            break;
        }
    }
    assert!(ok, "{:?}: no working call after the token expired", s.which);
    let after = f.with(|st| (st.token_calls, st.refresh_calls, st.token_refusals, st.expired_answers));
    assert_eq!(after.0, before.0 + 1, "exactly one token call to renew it");
    assert_eq!(after.2, 0);
    assert!(after.3 >= 1);
    if s.which == Which::Baiwang {
        assert_eq!(after.1, 1, "百望: renewed with the refresh token, not the password");
    }
}

async fn reverses_in_full_and_in_part(s: Subject) {
    let (blue, number) = s.issue("B-0001", false).await;
    let red = red_request("RF-0001", &blue, &number, false);
    s.provider.submit_red(&red, &blue, &number).await.unwrap();
    let QueryOutcome::Issued(r) = until_final(&*s.provider, "RF-0001", Kind::Red).await else {
        panic!("full red not issued")
    };
    assert!(twenty_digits(&r.number) && r.number != number);
    if let Some(a) = &r.facts.amount_incl_tax {
        assert_eq!(a, "-318.00");
    }

    let (blue2, number2) = s.issue("B-0002", true).await;
    let red2 = red_request("RP-0001", &blue2, &number2, true);
    s.provider.submit_red(&red2, &blue2, &number2).await.unwrap();
    let QueryOutcome::Issued(r2) = until_final(&*s.provider, "RP-0001", Kind::Red).await else {
        panic!("partial red not issued")
    };
    assert!(twenty_digits(&r2.number));
    if let Some(a) = &r2.facts.amount_incl_tax {
        assert_eq!(a, "-53.00");
    }
    if let Some(f) = &s.fake {
        assert_eq!(
            f.with(|st| (
                st.invoices["RF-0001"].partial_lines,
                st.invoices["RP-0001"].partial_lines
            )),
            (0, 1)
        );
    }
    // The same red order number again is a duplicate.
    assert_eq!(
        s.provider.submit_red(&red, &blue, &number).await,
        Err(ProviderError::Duplicate)
    );
}

async fn serves_result_files(s: Subject) {
    s.issue("P-0001", false).await;
    let QueryOutcome::Issued(i) = s.provider.query("P-0001", Kind::Blue).await.unwrap() else {
        panic!()
    };
    match &i.pdf_url {
        Some(url) => {
            let resp = reqwest::get(url).await.unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{url}");
            let bytes = resp.bytes().await.unwrap();
            assert!(bytes.starts_with(b"%PDF"));
            assert_eq!(
                sha2::Sha256::digest(&bytes),
                sha2::Sha256::digest(fakes::pdf_bytes(&i.number)),
                "the file of this invoice"
            );
        }
        None => {
            let d = s
                .provider
                .document("P-0001", "xml")
                .await
                .expect("the sandbox serves its XML");
            assert!(String::from_utf8_lossy(&d.body).contains(&i.number));
        }
    }
}

async fn delivers_where_it_can(s: Subject) {
    let (_, number) = s.issue("V-0001", false).await;
    let d = Delivery {
        order_id: "V-0001".into(),
        invoice_number: number.clone(),
        email: Some("caiwu@example.com".into()),
        phone: None,
    };
    let got = s.provider.deliver(&d).await;
    if s.which.delivers() {
        got.unwrap();
        if let Some(f) = &s.fake {
            assert_eq!(
                f.with(|st| st.deliveries.clone()),
                vec![(number, Some("caiwu@example.com".into()), None)]
            );
        }
    } else {
        assert_eq!(got.unwrap_err().code(), "PROVIDER_UNSUPPORTED");
    }
}

async fn lists_for_reconciliation(s: Subject) {
    let (_, a) = s.issue("L-0001", false).await;
    let (_, b) = s.issue("L-0002", true).await;
    let now = fapiao_proxy::time::now_ms();
    let list = s
        .provider
        .list_invoices(now - 3_600_000, now + 3_600_000)
        .await
        .unwrap();
    for (id, n) in [("L-0001", &a), ("L-0002", &b)] {
        let l = list
            .iter()
            .find(|l| l.order_id == id)
            .unwrap_or_else(|| panic!("{:?}: {id} not listed in {list:?}", s.which));
        assert_eq!(&l.number, n);
        assert_eq!(l.status, "issued");
        if let Some(amount) = &l.amount {
            assert_eq!(amount, "318.00");
        }
    }
    // An empty window lists nothing of these.
    let old = s
        .provider
        .list_invoices(now - 30 * 86_400_000, now - 29 * 86_400_000)
        .await
        .unwrap();
    assert!(old.iter().all(|l| l.order_id != "L-0001"), "{old:?}");
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sandbox { $( #[tokio::test] async fn $case() { super::$case(super::subject(super::Which::Sandbox).await).await } )* }
        mod nuonuo { $( #[tokio::test] async fn $case() { super::$case(super::subject(super::Which::Nuonuo).await).await } )* }
        mod baiwang { $( #[tokio::test] async fn $case() { super::$case(super::subject(super::Which::Baiwang).await).await } )* }
    };
}

suite!(
    issues_normal_and_special,
    refuses_a_duplicate_order,
    answer_lost_after_issuing_is_found_by_query,
    timeout_before_accepting_leaves_nothing,
    maps_a_wrong_buyer_tax_id,
    maps_a_refusal_with_the_providers_code,
    renews_an_expired_token,
    reverses_in_full_and_in_part,
    serves_result_files,
    delivers_where_it_can,
    lists_for_reconciliation,
);
