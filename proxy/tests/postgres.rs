//! Several instances on one PostgreSQL database: migrations applied once when
//! instances start together, status changes seen by every instance (long poll
//! and server-sent events), the orders of a dead instance taken over when its
//! leases expire, partial red letters decided across instances, one sandbox.
//!
//! Needs `FAPIAO_TEST_POSTGRES` (scripts/test.sh provides it); skipped otherwise.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use fapiao::request::{IssueRequest, RedRequest};
use fapiao_proxy::provider::sandbox::Sandbox;
use fapiao_proxy::provider::{Accepted, Kind, Provider, ProviderError, QueryOutcome};
use fapiao_proxy::secret::Secret;
use fapiao_proxy::store::Store;
use fapiao_proxy::{App, Config};
use futures_util::future::BoxFuture;
use serde_json::json;

/// A configuration on database `name` (created if needed), as instance `instance`.
async fn pg_config(base: &str, name: &str, instance: &str) -> Config {
    let mut c = Config::for_tests("unused.sqlite");
    c.postgres = Some(Secret::new(fresh_database(base, name).await));
    c.instance_id = instance.into();
    c.hooks.archive_dir = Some(std::env::temp_dir().join(name).join("archive"));
    c
}

async fn instance(config: Config) -> (Running, Arc<Sandbox>) {
    let store = open_store(&config).await;
    let sbx = sandbox(&store, &config);
    (
        serve(App::start_with(config, store, sbx.clone()).await.unwrap()).await,
        sbx,
    )
}

fn db_name(test: &str) -> String {
    format!("fapiao_pg_{test}_{}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_migrate_once() {
    let Some(base) = postgres_url("postgres::instances_starting_together_migrate_once") else {
        return;
    };
    let config = pg_config(&base, &db_name("migrate"), "m").await;
    let url = config.postgres.clone().unwrap();
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::open_postgres(url.expose(), 2).await.map(|s| s.backend()) })
        })
        .collect();
    for o in opens {
        assert_eq!(o.await.unwrap().unwrap(), "postgres");
    }
    let (db, conn) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = db
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        versions,
        (1..=fapiao_proxy::store::postgres::MIGRATIONS.len() as i32).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_and_events_on_one_instance_see_an_order_issued_by_another() {
    let Some(base) = postgres_url("postgres::a_long_poll_and_events_on_one_instance_see_an_order_issued_by_another")
    else {
        return;
    };
    let name = db_name("notify");
    let (mut a, _) = instance(pg_config(&base, &name, "a").await).await;
    let (b, sbx) = instance(pg_config(&base, &name, "b").await).await;
    // A answers HTTP but works no orders: B's worker issues what A accepts.
    a.stop_worker();
    let (s, v) = post(&a, "/v1/invoices", &body(&a.state.config, "PG-N1")).await;
    assert_eq!(s, 202, "{v}");
    let events = a
        .client
        .get(format!("{}/v1/invoices/PG-N1/events", a.base))
        .bearer_auth(access(&a.state.config, "PG-N1"))
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (_, v) = get(&a, "/v1/invoices/PG-N1?wait=20&since=pending").await;
    assert!(matches!(v["status"].as_str(), Some("issuing" | "issued")), "{v}");
    let done = wait_final(&a, "PG-N1", 20).await;
    assert_eq!(done["status"], "issued", "{done}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the long poll was woken, not timed out: {:?}",
        started.elapsed()
    );
    let text = tokio::time::timeout(Duration::from_secs(10), events.text())
        .await
        .expect("the event stream ends with the final status")
        .unwrap();
    assert!(text.contains("\"status\":\"issued\""), "{text}");
    assert_eq!(sbx.count("PG-N1").await, 1);
    // Hostile ids answer like on SQLite (PostgreSQL text cannot hold NUL).
    assert_eq!(get(&a, "/v1/invoices/PG%00N1").await.0, 404);
    assert_eq!(
        get(&a, "/v1/invoices/PG%00N1?optional=true").await,
        (200, serde_json::Value::Null)
    );
    let (s, _) = post(&b, "/v1/callbacks/nuonuo", &json!({ "orderno": "A\u{0}B" })).await;
    assert_eq!(s, 200);
    drop(b);
}

/// Holds every submission forever without reaching the provider (a hung instance).
struct Hang;

impl Provider for Hang {
    fn name(&self) -> &'static str {
        "sandbox"
    }
    fn submit_issue<'a>(&'a self, _: &'a IssueRequest) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(std::future::pending())
    }
    fn submit_red<'a>(
        &'a self,
        _: &'a RedRequest,
        _: &'a IssueRequest,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(std::future::pending())
    }
    fn query<'a>(&'a self, _: &'a str, _: Kind) -> BoxFuture<'a, Result<QueryOutcome, ProviderError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_takes_over_the_orders_of_a_dead_one_when_its_leases_expire() {
    let Some(base) =
        postgres_url("postgres::another_instance_takes_over_the_orders_of_a_dead_one_when_its_leases_expire")
    else {
        return;
    };
    let name = db_name("lease");
    let mut ca = pg_config(&base, &name, "dead").await;
    ca.provider_timeout = Duration::from_secs(600);
    ca.lease = Duration::from_millis(1500);
    let store = open_store(&ca).await;
    let a = serve(App::start_with(ca, store.clone(), Arc::new(Hang)).await.unwrap()).await;
    for i in 0..6 {
        assert_eq!(
            post(&a, "/v1/invoices", &body(&a.state.config, &format!("PG-L{i}")))
                .await
                .0,
            202
        );
    }
    // A claims them all and hangs in the provider call.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store
        .counts()
        .await
        .unwrap()
        .iter()
        .find(|(s, _)| s == "issuing")
        .map(|c| c.1)
        != Some(6)
    {
        assert!(std::time::Instant::now() < deadline, "A never claimed the orders");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let held = store.get("PG-L0").await.unwrap().unwrap();
    assert_eq!(held.lease_owner.as_deref(), Some("dead"));
    a.kill();
    let (b, sbx) = instance(pg_config(&base, &name, "alive").await).await;
    for i in 0..6 {
        assert_eq!(
            wait_final(&b, &format!("PG-L{i}"), 20).await["status"],
            "issued",
            "PG-L{i} was lost"
        );
        assert_eq!(sbx.count(&format!("PG-L{i}")).await, 1);
    }
    assert_eq!(sbx.total().await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_red_letters_on_two_instances_never_exceed_the_blue() {
    let Some(base) = postgres_url("postgres::partial_red_letters_on_two_instances_never_exceed_the_blue") else {
        return;
    };
    let name = db_name("red");
    let (a, sbx) = instance(pg_config(&base, &name, "a").await).await;
    let (b, _) = instance(pg_config(&base, &name, "b").await).await;
    let c = a.state.config.clone();
    assert_eq!(post(&a, "/v1/invoices", &body(&c, "PG-R")).await.0, 202);
    assert_eq!(wait_final(&a, "PG-R", 10).await["status"], "issued");
    // Twenty partial red letters of 10.00 each against a 106.00 invoice, split
    // over both instances at once: at most ten fit.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let r = if i % 2 == 0 { &a } else { &b };
        let now = fapiao_proxy::time::now_s();
        let id = format!("PG-R-{i}");
        let token = fapiao_proxy::token::mint(
            &c.merchant_key,
            &fapiao_proxy::token::Claims {
                v: 1,
                merchant: c.seller_tax_id.clone(),
                purpose: fapiao_proxy::token::Purpose::Red,
                order_id: id.clone(),
                blue_order_id: Some("PG-R".into()),
                issued_at: now,
                expires_at: now + 600,
                ..Default::default()
            },
        );
        let b = json!({ "request": { "orderId": id, "reason": "销售折让", "lines": [{ "blueLineNo": 1, "amount": "10.60" }] }, "orderToken": token });
        let (client, url) = (r.client.clone(), format!("{}/v1/invoices/PG-R/red", r.base));
        tasks.push(tokio::spawn(async move {
            client.post(url).json(&b).send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 10, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 202 || *s == 422), "{statuses:?}");
    assert_eq!(a.state.store.reds_of("PG-R").await.unwrap().len(), 10);
    for i in 0..20 {
        let v = get(&b, &format!("/v1/invoices/PG-R-{i}")).await.1;
        if v["status"].is_string() {
            // Generous: in one CI run on a loaded machine a red was still issuing
            // after 10 s (the cause was not found; a failed save now retries
            // before leaving the order to its lease). What is asserted is that
            // every accepted red is issued, not how fast.
            assert_eq!(wait_final(&b, &format!("PG-R-{i}"), 30).await["status"], "issued");
        }
    }
    assert_eq!(sbx.total().await, 11);
}
