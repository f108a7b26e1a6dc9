//! Proof under faults: a burst of orders (20,000 by default,
//! `FAPIAO_FAULTS_ORDERS`) through several instances of the real binary
//! (`FAPIAO_FAULTS_INSTANCES`, default 3) on one PostgreSQL database, with the
//! sandbox provider answering slowly at random, failing with 5xx, losing answers
//! after it issued and timing out before and after it stored the invoice — while
//! instances are killed with SIGKILL and restarted (which one is chosen at
//! random, seeded by `FAPIAO_FAULTS_SEED`). Restarted instances get a new
//! instance name, so the orders a killed one held are taken over when its leases
//! expire.
//!
//! The run is bounded by work, not by the machine's speed: an instance is killed
//! each time another `FAPIAO_FAULTS_KILL_EVERY` orders (default 200) have been
//! accepted and restarted after a third as many more, so a slow machine sees the
//! same number of kills as a fast one and no clock cuts the burst short. The
//! drain that follows fails only when the issued count stops moving for
//! `FAPIAO_FAULTS_STALL_S` (default 120 s), or after the generous
//! `FAPIAO_FAULTS_DRAIN_MAX_S` (default 3600 s). A client gives up on an order
//! after 2,000 tries.
//!
//! Clients retry a POST on connection errors and 5xx on another instance (the
//! order id is the idempotency key). At the end the database must show every
//! accepted order `issued`, exactly one sandbox invoice per order (the invoice
//! the order reports), and no invoice without an order. The counts, the speed
//! (throughput, accept latencies, burst and drain times) are printed.
//!
//! The instances serve two sellers (a sellers file, both on the sandbox, each
//! with its own order-token key), and every order id is used at both: the
//! same id at two sellers is two orders with one invoice each.
//!
//! Needs `FAPIAO_TEST_POSTGRES` (scripts/test.sh provides it); skipped otherwise.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use fapiao_proxy::Config;
use rand::{Rng, SeedableRng};

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Instance {
    port: u16,
    child: Option<std::process::Child>,
    generation: u32,
}

/// The second seller of the run (the first is the sandbox's test seller).
const SELLER_B: &str = "91330100MA2H0FLT02";
const KEY_B: &str = "test-merchant-key-of-seller-b-0123456789";

/// The sellers file of the run: the test seller (home) and [`SELLER_B`].
fn sellers_file() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("fapiao-faults-sellers-{}.toml", std::process::id()));
    // Written aside and renamed: an instance starting meanwhile reads a whole file.
    let part = path.with_extension(format!("part{}", rand::random::<u32>()));
    std::fs::write(
        &part,
        format!(
            "[[seller]]\ntax_id = \"{}\"\nname = \"示例商户（沙箱）\"\nmerchant_key = \"test-merchant-key-0123456789abcdef\"\n\n\
             [[seller]]\ntax_id = \"{SELLER_B}\"\nname = \"示例子公司\"\nmerchant_key = \"{KEY_B}\"\n",
            fapiao_proxy::config::SANDBOX_SELLER_TAX_ID
        ),
    )
    .unwrap();
    std::fs::rename(&part, &path).unwrap();
    path
}

fn spawn(url: &str, slot: usize, inst: &mut Instance) {
    inst.generation += 1;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"))
        .env_clear()
        .env("FAPIAO_SELLERS_FILE", sellers_file())
        .env("FAPIAO_LISTEN", format!("127.0.0.1:{}", inst.port))
        .env("FAPIAO_DATABASE_URL", url)
        .env("FAPIAO_DATABASE_POOL", "12")
        // The archive of the sandbox's files, outside the source tree.
        .env(
            "FAPIAO_ARCHIVE_DIR",
            std::env::temp_dir().join(format!("fapiao-faults-archive-{}", std::process::id())),
        )
        .env("FAPIAO_INSTANCE_ID", format!("faults-{slot}-{}", inst.generation))
        .env("FAPIAO_MERCHANT_KEY", "test-merchant-key-0123456789abcdef")
        .env("FAPIAO_RATE_LIMIT", "0")
        .env("FAPIAO_WORKERS", "64")
        .env("FAPIAO_PROVIDER_TIMEOUT_MS", "1000")
        .env("FAPIAO_LEASE_MS", "3000")
        .env("FAPIAO_POLL_MS", "100")
        .env("FAPIAO_BREAKER_THRESHOLD", "40")
        .env("FAPIAO_BREAKER_COOLDOWN_MS", "200")
        // The provider's faults.
        .env("FAPIAO_SANDBOX_LATENCY_MS", "1-40")
        .env("FAPIAO_SANDBOX_ISSUE_DELAY_MS", "0-300")
        .env("FAPIAO_SANDBOX_ERROR_RATE", "0.03")
        .env("FAPIAO_SANDBOX_TIMEOUT_RATE", "0.03")
        .env("FAPIAO_SANDBOX_SLOW_RATE", "0.02")
        .env("FAPIAO_SANDBOX_SLOW_MS", "1500")
        .env("FAPIAO_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start fapiao-proxy");
    inst.child = Some(child);
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn scalar(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_survive_provider_faults_and_sigkilled_instances() {
    let Some(base) = postgres_url("faults::orders_survive_provider_faults_and_sigkilled_instances") else {
        return;
    };
    let orders: usize = env_or("FAPIAO_FAULTS_ORDERS", 20_000);
    let n_inst: usize = env_or("FAPIAO_FAULTS_INSTANCES", 3).clamp(2, 8);
    let seed: u64 = env_or("FAPIAO_FAULTS_SEED", 7);
    let kill_every: u64 = env_or("FAPIAO_FAULTS_KILL_EVERY", 200u64).max(10);
    let stall_limit = Duration::from_secs(env_or("FAPIAO_FAULTS_STALL_S", 120));
    let drain_max = Duration::from_secs(env_or("FAPIAO_FAULTS_DRAIN_MAX_S", 3600));
    const MAX_TRIES: u32 = 2_000;
    let url = fresh_database(&base, &format!("fapiao_faults_{}", std::process::id())).await;
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);

    let config = Config::for_tests("unused.sqlite");
    let mut config_b = config.clone();
    config_b.seller_tax_id = SELLER_B.into();
    config_b.merchant_key = fapiao_proxy::secret::Secret::new(KEY_B);
    let instances: Arc<Mutex<Vec<Instance>>> = Arc::new(Mutex::new(
        (0..n_inst)
            .map(|_| Instance {
                port: free_port(),
                child: None,
                generation: 0,
            })
            .collect(),
    ));
    let ports: Vec<u16> = instances.lock().unwrap().iter().map(|i| i.port).collect();
    for (slot, inst) in instances.lock().unwrap().iter_mut().enumerate() {
        spawn(&url, slot, inst);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    for port in &ports {
        let mut up = false;
        for _ in 0..400 {
            if client
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok()
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(up, "instance on port {port} did not start");
    }

    let started = Instant::now();
    let sending = Arc::new(AtomicBool::new(true));
    let (kills, restarts) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));

    // Accepted orders so far: the chaos schedule counts them.
    let accepted_count = Arc::new(AtomicU64::new(0));

    // Chaos by work: SIGKILL one instance (chosen at random) each time another
    // `kill_every` orders were accepted, restart it under a new name after a
    // third as many more (or when the burst ends). One instance at a time is
    // down at most.
    let chaos = {
        let (instances, sending, kills, restarts, url, accepted_count) = (
            instances.clone(),
            sending.clone(),
            kills.clone(),
            restarts.clone(),
            url.clone(),
            accepted_count.clone(),
        );
        tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut next_kill = kill_every;
            let wait_for = |target: u64| {
                let (sending, accepted_count) = (sending.clone(), accepted_count.clone());
                async move {
                    while sending.load(Ordering::Relaxed) && accepted_count.load(Ordering::Relaxed) < target {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    sending.load(Ordering::Relaxed)
                }
            };
            while wait_for(next_kill).await {
                let slot = rng.random_range(0..n_inst);
                if let Some(mut child) = instances.lock().unwrap()[slot].child.take() {
                    child.kill().unwrap(); // SIGKILL
                    child.wait().unwrap();
                    kills.fetch_add(1, Ordering::Relaxed);
                }
                wait_for(next_kill + kill_every / 3).await;
                spawn(&url, slot, &mut instances.lock().unwrap()[slot]);
                restarts.fetch_add(1, Ordering::Relaxed);
                next_kill += kill_every;
            }
        })
    };

    // Clients: take the next order number, POST it, retry on another instance on
    // connection errors and 5xx.
    let next = Arc::new(AtomicUsize::new(0));
    let latencies: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::with_capacity(orders)));
    let accepted_new = Arc::new(AtomicU64::new(0));
    let accepted_again = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let refused: Arc<Mutex<Vec<String>>> = Arc::default();
    let accepted_ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for t in 0..48usize {
        let accepted_count = accepted_count.clone();
        let (
            client,
            ports,
            config,
            config_b,
            next,
            latencies,
            accepted_new,
            accepted_again,
            retries,
            refused,
            accepted_ids,
        ) = (
            client.clone(),
            ports.clone(),
            config.clone(),
            config_b.clone(),
            next.clone(),
            latencies.clone(),
            accepted_new.clone(),
            accepted_again.clone(),
            retries.clone(),
            refused.clone(),
            accepted_ids.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut k = t;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= orders {
                    break;
                }
                // Orders 2n and 2n+1: the same order id at the two sellers.
                let id = format!("FLT-{seed}-{}", i / 2);
                let (body, key) = if i % 2 == 0 {
                    (body(&config, &id), id.clone())
                } else {
                    (body(&config_b, &id), format!("{SELLER_B}:{id}"))
                };
                let mut tries = 0u32;
                loop {
                    tries += 1;
                    k += 1;
                    let port = ports[k % ports.len()];
                    let sent = Instant::now();
                    match client
                        .post(format!("http://127.0.0.1:{port}/v1/invoices"))
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == 202 || r.status() == 200 => {
                            latencies.lock().unwrap().push(sent.elapsed().as_micros() as u64);
                            if r.status() == 202 {
                                &accepted_new
                            } else {
                                &accepted_again
                            }
                            .fetch_add(1, Ordering::Relaxed);
                            accepted_ids.lock().unwrap().push(key);
                            accepted_count.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Ok(r) if r.status().is_server_error() => {}
                        Ok(r) => {
                            refused.lock().unwrap().push(format!("{id}: HTTP {}", r.status()));
                            break;
                        }
                        Err(_) => {} // connection refused or reset: that instance is down
                    }
                    retries.fetch_add(1, Ordering::Relaxed);
                    if tries >= MAX_TRIES {
                        refused
                            .lock()
                            .unwrap()
                            .push(format!("{id}: no instance accepted it in {MAX_TRIES} tries"));
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let sent_all = started.elapsed();
    sending.store(false, Ordering::Relaxed);
    chaos.await.unwrap();
    // Every instance up again for the drain.
    for (slot, inst) in instances.lock().unwrap().iter_mut().enumerate() {
        if inst.child.is_none() {
            spawn(&url, slot, inst);
            restarts.fetch_add(1, Ordering::Relaxed);
        }
    }

    // The drain: bounded by progress (the issued count must move at least every
    // `stall_limit`) and by a generous limit of its own.
    let accepted = accepted_ids.lock().unwrap().len() as i64;
    let drain_started = Instant::now();
    let (mut issued, mut last_progress, mut stalled) = (-1i64, Instant::now(), false);
    loop {
        let now_issued = scalar(&db, "SELECT COUNT(*) FROM orders WHERE status = 'issued'").await;
        if now_issued != issued {
            issued = now_issued;
            last_progress = Instant::now();
        }
        if issued >= accepted {
            break;
        }
        if last_progress.elapsed() > stall_limit || drain_started.elapsed() > drain_max {
            stalled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let drain = drain_started.elapsed();
    let elapsed = started.elapsed();
    for inst in instances.lock().unwrap().iter_mut() {
        if let Some(mut c) = inst.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    let stored = scalar(&db, "SELECT COUNT(*) FROM orders").await;
    let not_issued = scalar(&db, "SELECT COUNT(*) FROM orders WHERE status <> 'issued'").await;
    let invoices = scalar(&db, "SELECT COUNT(*) FROM sandbox_invoices").await;
    let duplicates = scalar(
        &db,
        "SELECT COUNT(*) FROM (SELECT order_id FROM sandbox_invoices GROUP BY order_id HAVING COUNT(*) > 1) d",
    )
    .await;
    let not_exactly_one =
        scalar(&db, "SELECT COUNT(*) FROM orders o WHERE (SELECT COUNT(*) FROM sandbox_invoices s WHERE s.order_id = o.order_id) <> 1").await;
    let orphans = scalar(&db, "SELECT COUNT(*) FROM sandbox_invoices s WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = s.order_id)").await;
    let mismatched =
        scalar(&db, "SELECT COUNT(*) FROM orders o JOIN sandbox_invoices s USING (order_id) WHERE o.invoice_number IS DISTINCT FROM s.number").await;
    let requeried = scalar(&db, "SELECT COUNT(*) FROM orders WHERE attempts > 2").await;
    // Lost: accepted by a client, not issued (or not even stored).
    let ids = accepted_ids.lock().unwrap().clone();
    let lost = db
        .query_one("SELECT COUNT(*) FROM unnest($1::TEXT[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = a.id AND o.status = 'issued')", &[&ids])
        .await
        .unwrap()
        .get::<_, i64>(0);

    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_unstable();
    let refused = refused.lock().unwrap().clone();
    println!(
        "faults: orders sent {orders}, accepted {accepted} (202: {}, 200 on retry: {}), client retries {}, refused {}\n\
         faults: issued {issued}, stored {stored}, sandbox invoices {invoices}, duplicates {duplicates}, lost {lost}, \
         not exactly one invoice {not_exactly_one}, orphan invoices {orphans}, number mismatches {mismatched}, orders with retried provider calls {requeried}\n\
         faults: instances {n_inst}, kills {} (one per {kill_every} accepted orders), restarts {}, elapsed {:.1} s (burst {:.1} s, drain {:.1} s), \
         throughput {:.0} orders/s accepted, {:.0} orders/s issued end to end\n\
         faults: accept latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        accepted_new.load(Ordering::Relaxed),
        accepted_again.load(Ordering::Relaxed),
        retries.load(Ordering::Relaxed),
        refused.len(),
        kills.load(Ordering::Relaxed),
        restarts.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        sent_all.as_secs_f64(),
        drain.as_secs_f64(),
        accepted as f64 / sent_all.as_secs_f64(),
        issued as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50) as f64 / 1000.0,
        percentile(&lat, 0.99) as f64 / 1000.0,
        lat.last().copied().unwrap_or(0) as f64 / 1000.0,
    );

    assert!(
        refused.is_empty(),
        "orders refused: {:?}",
        &refused[..refused.len().min(5)]
    );
    assert_eq!(accepted, orders as i64, "every order sent was accepted");
    assert!(
        !stalled,
        "the drain stopped making progress: {issued} of {accepted} issued, none more for {} s (or {} s in all)",
        stall_limit.as_secs(),
        drain_max.as_secs()
    );
    assert_eq!(stored, accepted, "stored orders = accepted orders");
    assert_eq!(lost, 0, "accepted orders not issued");
    assert_eq!(not_issued, 0, "orders not issued");
    assert_eq!(duplicates, 0, "orders with more than one invoice");
    assert_eq!(not_exactly_one, 0, "orders without exactly one invoice");
    assert_eq!(orphans, 0, "invoices without an order");
    assert_eq!(invoices, accepted, "one invoice per accepted order");
    assert_eq!(
        mismatched, 0,
        "orders reporting another invoice than the provider holds"
    );
    let planned = (orders as u64).saturating_sub(1) / kill_every;
    assert!(
        kills.load(Ordering::Relaxed) + 1 >= planned && planned >= 2,
        "kills {} of {planned} planned: the run must kill instances to prove anything",
        kills.load(Ordering::Relaxed)
    );
    assert!(requeried > 0, "the provider's faults must have hit some orders");
    let per_seller = scalar(
        &db,
        &format!("SELECT COUNT(*) FROM orders WHERE seller = '{SELLER_B}' AND status = 'issued'"),
    )
    .await;
    assert_eq!(per_seller, accepted / 2, "half the orders are the second seller's");
    let _ = std::fs::remove_file(sellers_file());
}
