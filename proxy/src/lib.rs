//! # fapiao-proxy
//!
//! The thin, trustworthy server between web pages and the 数电发票 provider. It
//! keeps the provider's AppKey/AppSecret, re-validates every request with the
//! `fapiao` crate, accepts an order only under a merchant-signed [order
//! token](token), writes it to a durable store (embedded SQLite, or PostgreSQL shared
//! by several instances) before answering, and lets
//! a worker ([`queues::worker`]) submit it so that each accepted order is invoiced exactly once —
//! across duplicate clicks, provider timeouts and crashes.
//!
//! Where to look:
//!
//! - [`api`]: the HTTP API (`proxy/openapi.yaml`): routes and handlers, admin
//!   endpoints, the server with its connection timeouts.
//! - [`queues`]: the background loops: the order worker (submit,
//!   query-before-resubmit, back-off, circuit breaker), status webhooks,
//!   deliveries, the compliance archive, reconciliation.
//! - [`store`]: the durable store and its backends: SQLite (WAL, group commit)
//!   or PostgreSQL (several instances: leased claims, shared tokens, change
//!   notifications), their migrations, and one transaction API over both; the
//!   [`ledger`] keeps the queues' rows (webhook outbox, deliveries, archive
//!   index, reconciliation findings) on it.
//! - [`provider`]: the [`Provider`](provider::Provider) trait, the 诺诺 and 百望 clients and the sandbox.
//! - [`config`]: twelve-factor settings (environment, optional TOML file);
//!   [`token`]: order tokens (HMAC-SHA256 under the merchant key).
//! - [`sellers`]: several sellers in one deployment (a group's entities, a
//!   platform's merchants): the sellers file, order keys per seller, the
//!   registry of each seller's provider client and breaker, reloads.
//! - [`metrics`] and [`alerts`]: Prometheus metrics; firing and resolved
//!   messages to a webhook and the 企业微信, 钉钉 and 飞书 robots.

#![forbid(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod batches;
pub mod cli;
pub mod config;
pub mod ledger;
pub mod metrics;
pub mod operator;
pub mod problem;
pub mod provider;
pub mod queues;
pub mod receipt_code;
pub mod secret;
pub mod selftest;
pub mod sellers;
pub mod store;
pub mod time;
pub mod token;

use std::sync::Arc;

use api::http;
use queues::{archive, delivery, reconcile, webhooks, worker};

pub use config::Config;

/// Everything a running proxy shares: configuration, store, provider, worker
/// signals and metrics.
pub struct AppState {
    /// The settings.
    pub config: Config,
    /// The order store.
    pub store: store::Store,
    /// The invoicing provider.
    pub provider: Arc<dyn provider::Provider>,
    /// Counters and histograms for `/metrics`.
    pub metrics: metrics::Metrics,
    /// Wakes the worker and the waiters.
    pub events: worker::Events,
    /// The circuit breaker around the home seller's provider (each other
    /// seller's is in [`AppState::sellers`]).
    pub breaker: Arc<worker::Breaker>,
    /// Per-client request budget.
    pub limiter: http::RateLimiter,
    /// Per-client budget of provider callbacks.
    pub callback_limiter: http::RateLimiter,
    /// The demo endpoint's signing key: random for each run, never the merchant
    /// key. Its tokens grant only demo orders (`DEMO-…`).
    pub demo_key: secret::Secret,
    /// Wakes the webhook dispatcher and the archiver.
    pub signals: Signals,
    /// The sellers in force, each with its provider client and breaker.
    pub sellers: sellers::Registry,
    /// The worker's status changes, written in shared transactions on PostgreSQL.
    pub saves: ledger::SaveGroups,
}

impl AppState {
    /// Reads the sellers again (the sellers file, or the single seller) and puts
    /// them in force; on any problem the sellers in force stay, and every
    /// problem is returned. Orders in flight are not touched.
    pub async fn reload_sellers(&self) -> Result<Vec<String>, Vec<String>> {
        let lookup = |k: &str| std::env::var(k).ok();
        let home = self.sellers.get().home.clone();
        let (config, store) = (&self.config, &self.store);
        let make = |s: &sellers::Seller| provider::for_seller(config, s, store, s.tax_id == home);
        let out = match sellers::reread(config, &lookup) {
            Ok(list) => self.sellers.reload(config, list, &make).await,
            Err(problems) => Err(problems),
        };
        match &out {
            Ok(names) => tracing::info!(sellers = ?names, "sellers reloaded"),
            Err(problems) => {
                for p in problems {
                    tracing::error!(problem = %p, "sellers not reloaded");
                }
            }
        }
        self.events.wake.notify_one();
        out
    }
}

/// Wake-ups of the background loops.
#[derive(Default)]
pub struct Signals {
    /// A new webhook event is in the outbox.
    pub webhooks: tokio::sync::Notify,
    /// A file is queued for the archive.
    pub archive: tokio::sync::Notify,
}

/// A running proxy: the router to serve and the worker to stop.
pub struct App {
    /// Shared state.
    pub state: Arc<AppState>,
    /// The HTTP routes.
    pub router: axum::Router,
    worker: tokio::task::JoinHandle<()>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl App {
    /// Opens the store (creating it on first start), builds the provider from the
    /// configuration and starts the worker, which first resumes unfinished orders.
    pub async fn start(config: Config) -> Result<App, String> {
        let store = store::Store::from_config(&config)
            .await
            .map_err(|e| format!("FAPIAO_DATABASE_URL: {e}"))?;
        let provider = provider::from_config(&config, &store)?;
        Self::start_with(config, store, provider).await
    }

    /// Like [`App::start`] with a given store and provider (tests share a sandbox
    /// between two "processes" this way).
    pub async fn start_with(
        config: Config,
        store: store::Store,
        provider: Arc<dyn provider::Provider>,
    ) -> Result<App, String> {
        if config.provider != config::ProviderKind::Sandbox && config.callback_token.is_none() {
            tracing::warn!("FAPIAO_CALLBACK_TOKEN is not set: anyone can post to /v1/callbacks/nuonuo (each post only prompts a rate-limited re-query, but set a token and put it in FAPIAO_NUONUO_CALLBACK_URL as ?token=… in production)");
        }
        let state = Self::state(config, store, provider).await?;
        // Status changes made by other instances on a shared database wake this
        // instance's long polls and event streams too.
        state.store.watch(state.events.updates.clone());
        // An instance restarted under its own name takes back what its previous
        // run held (webhook events, archive files, deliveries) before any loop
        // claims anything new; the worker does the same with its orders.
        match ledger::release_leases(&state.store, &state.config.instance_id).await {
            Ok(n) if n > 0 => {
                tracing::info!(rows = n, instance = %state.config.instance_id, "taking back the webhook, archive and delivery claims of this instance's previous run")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot free this instance's previous claims"),
        }
        let worker = tokio::spawn(worker::run(state.clone()));
        let mut background = vec![
            tokio::spawn(webhooks::run(state.clone())),
            tokio::spawn(archive::run(state.clone())),
            tokio::spawn(delivery::run(state.clone())),
            tokio::spawn(alerts::run(state.clone())),
        ];
        if let Some(every) = state.config.hooks.reconcile_every {
            background.push(tokio::spawn(reconcile::periodic(state.clone(), every)));
        }
        let router = api::router(state.clone());
        Ok(App {
            state,
            router,
            worker,
            background,
        })
    }

    /// The shared state without any background task (for the command-line jobs:
    /// `reconcile`, `webhooks replay`, `archive export`). The store applied its
    /// migrations (the ledger's tables among them) when it was opened.
    pub async fn state(
        mut config: Config,
        store: store::Store,
        provider: Arc<dyn provider::Provider>,
    ) -> Result<Arc<AppState>, String> {
        if config.sellers_file.is_none() {
            // The single-seller settings as they are now (a caller may have
            // changed them after reading the configuration).
            config.sellers = vec![sellers::Seller::from_config(&config)];
        }
        let breaker = Arc::new(worker::Breaker::new(config.breaker_threshold, config.breaker_cooldown));
        let home = sellers::home_of(&store, &config.sellers[0].tax_id).await?;
        let registry = {
            let make = |s: &sellers::Seller| provider::for_seller(&config, s, &store, s.tax_id == home);
            sellers::Registry::new(
                &config,
                home.clone(),
                &config.sellers,
                provider.clone(),
                breaker.clone(),
                &make,
            )
            .map_err(|p| p.join("\n"))?
        };
        Ok(Arc::new(AppState {
            sellers: registry,
            signals: Signals::default(),
            breaker,
            limiter: http::RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst),
            callback_limiter: http::RateLimiter::new(
                config.callback_rate_limit_per_second,
                config.callback_rate_limit_burst,
            ),
            demo_key: secret::Secret::new(config::random_key()),
            metrics: metrics::Metrics::new(config.success_rate_threshold),
            events: worker::Events::new(),
            saves: ledger::SaveGroups::new(store.clone()),
            config,
            store,
            provider,
        }))
    }

    /// Stops the worker and the background loops at once, as a crash would
    /// (nothing is flushed that is not already committed).
    pub fn kill(self) {
        self.worker.abort();
        for b in self.background {
            b.abort();
        }
    }
}
