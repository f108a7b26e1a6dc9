//! The tables of the ledger (webhook outbox, deliveries, provider notify
//! statuses, archive index, reconciliation findings): migrations of both
//! backends, kept with the store so that the store needs nothing of the code
//! that uses them ([`crate::ledger`]).

/// The ledger's tables: a migration of both backends (`IF NOT EXISTS`: a
/// database the ledger created before it was a numbered migration is taken as
/// it is).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhook_events (
  event_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0,
  last_status BIGINT,
  last_error TEXT,
  last_attempt_at BIGINT,
  delivered_at BIGINT,
  UNIQUE (order_id, seq)
);
CREATE INDEX IF NOT EXISTS webhook_events_due ON webhook_events (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_events_created ON webhook_events (created_at);
CREATE TABLE IF NOT EXISTS deliveries (
  delivery_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  address TEXT NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries (order_id, created_at);
CREATE TABLE IF NOT EXISTS provider_notify (
  order_id TEXT PRIMARY KEY,
  email_status TEXT,
  phone_status TEXT,
  updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS archive_files (
  order_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  source_url TEXT NOT NULL,
  state TEXT NOT NULL,
  sha256 TEXT,
  size BIGINT,
  content_type TEXT,
  fetched_at BIGINT,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (order_id, kind)
);
CREATE INDEX IF NOT EXISTS archive_files_due ON archive_files (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS reconcile_findings (
  finding_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  order_id TEXT,
  invoice_number TEXT,
  detail TEXT NOT NULL,
  first_seen_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  resolved_at BIGINT
);
";

/// Deliveries become a durable queue (a migration of both backends): a request is
/// claimed with a lease by the instance that calls the provider, so one that
/// stops mid-call leaves it to be sent again (by itself when it restarts under
/// its own name, by any instance once the lease runs out) instead of stuck in
/// `requested`.
pub const DELIVERY_QUEUE: &str = "
ALTER TABLE deliveries ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
";
