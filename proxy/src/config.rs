//! Settings. Every setting has an environment variable; an optional TOML file
//! (named by `FAPIAO_CONFIG`) may set the same keys, written either as the
//! variable (`FAPIAO_LISTEN = "…"`) or without the prefix in lower case
//! (`listen = "…"`); the environment wins. Secrets may instead come from a file
//! named by the same key with `_FILE` appended (`FAPIAO_MERCHANT_KEY_FILE`).
//! A missing or malformed setting stops start-up with one line naming it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;

/// Which provider issues the invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// The built-in simulated provider.
    Sandbox,
    /// 诺诺 / 诺税通.
    Nuonuo,
    /// 百望云.
    Baiwang,
}

/// 百望云 settings (`FAPIAO_BAIWANG_*`).
#[derive(Debug, Clone)]
pub struct BaiwangSettings {
    /// Business gateway, e.g. `https://openapi.baiwang.com/router/rest`.
    pub gateway_url: String,
    /// Token endpoint (default: the gateway).
    pub token_url: String,
    /// AppKey.
    pub app_key: String,
    /// AppSecret.
    pub app_secret: Secret,
    /// The platform user the password grant logs in as.
    pub username: String,
    /// That user's password (sent only as SHA1(MD5(password + salt))).
    pub password: Secret,
    /// The tenant's salt (`orgAuthCode`).
    pub salt: Secret,
    /// 开票人 (`drawer`).
    pub drawer: String,
    /// `invoiceTerminalCode`, when the account has several.
    pub terminal: Option<String>,
    /// Put before every order id in the 百望 order number.
    pub order_prefix: String,
    /// The wait after the token endpoint failed once (doubles per failure).
    pub token_retry_base: Duration,
    /// The longest wait between token calls while it fails.
    pub token_retry_max: Duration,
}

/// 诺诺 settings.
#[derive(Debug, Clone)]
pub struct NuonuoSettings {
    /// Business gateway, e.g. `https://sdk.nuonuo.com/open/v1/services`.
    pub gateway_url: String,
    /// Token endpoint, e.g. `https://open.nuonuo.com/accessToken`.
    pub token_url: String,
    /// AppKey.
    pub app_key: String,
    /// AppSecret.
    pub app_secret: Secret,
    /// 开票人 (must be the name bound to the e-tax account for 数电).
    pub clerk: String,
    /// Where 诺诺 posts results (`callBackUrl`), if any.
    pub callback_url: Option<String>,
    /// `FAPIAO_NUONUO_ORDER_PREFIX`: put before every order id in the 诺诺 order
    /// number (`orderNo`, `billId`), so that another system of the same seller
    /// (another shop, an ERP) never uses the same number. Empty: none.
    pub order_prefix: String,
    /// `FAPIAO_NUONUO_TOKEN_RETRY_BASE_MS`: the wait after the token endpoint
    /// failed once (doubles per failure).
    pub token_retry_base: Duration,
    /// `FAPIAO_NUONUO_TOKEN_RETRY_MAX_MS`: the longest wait between token calls while it fails.
    pub token_retry_max: Duration,
    /// `FAPIAO_NUONUO_SHOW_SELLER_BANK`: print the seller's bank account (as set
    /// up at 诺诺) on 数电 invoices.
    pub show_seller_bank: bool,
    /// A third-party (ISV, 第三方应用) app acting for the seller that authorized
    /// it: tokens by authorization code and refresh (`client_id` = `userId`),
    /// `userTax` on every call (providers.md §1.3). False: a self-use app.
    pub isv: bool,
    /// The ISV app's `redirect_uri` (sent with the authorization-code exchange;
    /// point it at `/v1/callbacks/nuonuo/authorized` of this proxy).
    pub redirect_uri: Option<String>,
    /// 诺诺's authorization page (`https://open.nuonuo.com/authorize`).
    pub authorize_url: String,
    /// Token-endpoint calls allowed per app in 30 days (诺诺: 50); the proxy
    /// counts its calls per AppKey in the store and makes no call beyond it.
    pub token_quota: u32,
    /// 销方地址 sent with each invoice (`salerAddress`), if set.
    pub seller_address: Option<String>,
    /// 销方电话 (`salerTel`), if set.
    pub seller_phone: Option<String>,
    /// 销方开户行及账号 (`salerAccount`), if set.
    pub seller_bank: Option<String>,
}

/// The longest 诺诺 order number the proxy sends (`orderNo`: 20 in the older
/// documentation, providers.md §1.7); with a prefix, order ids get shorter.
pub const NUONUO_ORDER_NO_MAX: usize = 20;

/// The sandbox provider's knobs.
#[derive(Debug, Clone)]
pub struct SandboxKnobs {
    /// Latency of every call, a random value in this range (ms).
    pub latency_ms: (u64, u64),
    /// Time from acceptance to issued, a random value in this range (ms).
    pub issue_delay_ms: (u64, u64),
    /// Share of orders that end failed (开票失败), 0–1.
    pub failure_rate: f64,
    /// Share of submissions that are accepted but answer with a timeout, 0–1.
    pub timeout_rate: f64,
    /// Share of calls (submissions and queries) answered with HTTP 5xx before
    /// anything happens, 0–1: the worker sees the provider unavailable.
    pub error_rate: f64,
    /// Share of calls that answer only after `slow_ms`, 0–1; half of the slow
    /// submissions are slow after the invoice was stored, half before. With
    /// `slow_ms` above the provider timeout, these are timeouts of both kinds.
    pub slow_rate: f64,
    /// How long a slow call takes.
    pub slow: Duration,
}

/// All settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `FAPIAO_LISTEN`.
    pub listen: SocketAddr,
    /// `FAPIAO_DATABASE_URL` (`sqlite:` prefix optional): the SQLite file, unless
    /// `postgres` is set.
    pub database_path: PathBuf,
    /// `FAPIAO_DATABASE_URL` when it is a `postgres://` or `postgresql://` URL:
    /// several instances share that database (a secret: it may hold a password).
    pub postgres: Option<Secret>,
    /// `FAPIAO_DATABASE_POOL`: PostgreSQL connections per instance at most.
    pub database_pool: usize,
    /// `FAPIAO_INSTANCE_ID`: this instance's name on its order leases (default:
    /// host name, process id and a random suffix). Must differ between instances
    /// that run at the same time; an instance restarted under the same name takes
    /// its leased orders back at once instead of waiting for the leases to expire.
    pub instance_id: String,
    /// `FAPIAO_LEASE_MS`: how long a worker holds an order it claimed (default:
    /// twice the provider timeout plus 10 s); the orders of an instance that died
    /// go to another one after this.
    pub lease: Duration,
    /// `FAPIAO_PROVIDER`.
    pub provider: ProviderKind,
    /// `FAPIAO_SELLER_TAX_ID`.
    pub seller_tax_id: String,
    /// `FAPIAO_SELLER_NAME`.
    pub seller_name: String,
    /// `FAPIAO_MERCHANT_KEY`: the order-token HMAC key.
    pub merchant_key: Secret,
    /// True when the merchant key was generated for this run (sandbox only).
    pub merchant_key_generated: bool,
    /// 诺诺 settings when `provider` is 诺诺.
    pub nuonuo: Option<NuonuoSettings>,
    /// 百望云 settings (with `FAPIAO_PROVIDER=baiwang`).
    pub baiwang: Option<BaiwangSettings>,
    /// `FAPIAO_ALLOWED_ORIGINS`, comma-separated; empty: same origin only.
    pub allowed_origins: Vec<String>,
    /// `FAPIAO_BODY_LIMIT` in bytes.
    pub body_limit: usize,
    /// `FAPIAO_RATE_LIMIT`: requests per second per client (0: off).
    pub rate_limit_per_second: f64,
    /// `FAPIAO_RATE_BURST`.
    pub rate_limit_burst: f64,
    /// `FAPIAO_STATIC_DIR`: the demo pages.
    pub static_dir: PathBuf,
    /// `FAPIAO_PKG_DIR`: the built npm package, served at `/pkg/`.
    pub pkg_dir: PathBuf,
    /// `FAPIAO_DEMO`: the demo token endpoint (sandbox only).
    pub demo: bool,
    /// Sandbox knobs (`FAPIAO_SANDBOX_*`).
    pub sandbox: SandboxKnobs,
    /// `FAPIAO_SUCCESS_RATE_THRESHOLD`: warn below this provider success rate.
    pub success_rate_threshold: f64,
    /// `FAPIAO_PROVIDER_TIMEOUT_MS`.
    pub provider_timeout: Duration,
    /// `FAPIAO_WORKERS`: provider calls in flight at most (default 32; 128 with the sandbox).
    pub workers: usize,
    /// `FAPIAO_BREAKER_THRESHOLD`: consecutive provider failures that open the breaker.
    pub breaker_threshold: u32,
    /// `FAPIAO_BREAKER_COOLDOWN_MS`.
    pub breaker_cooldown: Duration,
    /// `FAPIAO_POLL_MS`: first interval between result queries.
    pub poll_interval: Duration,
    /// `FAPIAO_CALLBACK_TOKEN`: when set, `/v1/callbacks/nuonuo?token=` must carry it.
    pub callback_token: Option<Secret>,
    /// `FAPIAO_CALLBACK_RATE_LIMIT`: callbacks per second per client (0: off).
    pub callback_rate_limit_per_second: f64,
    /// `FAPIAO_CALLBACK_RATE_BURST`.
    pub callback_rate_limit_burst: f64,
    /// `FAPIAO_CALLBACK_MIN_INTERVAL_MS`: a callback prompts a query of its order
    /// at most this often (any number of callbacks: one query per interval).
    pub callback_min_interval: Duration,
    /// `FAPIAO_HEADER_TIMEOUT_MS`: a connection must send a request's headers
    /// within this time, else it is closed.
    pub header_timeout: Duration,
    /// `FAPIAO_IDLE_TIMEOUT_MS`: a connection on which nothing is read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Status sync, delivery and archive settings (`FAPIAO_WEBHOOK_*`, `FAPIAO_ADMIN_TOKEN`,
    /// `FAPIAO_FILE_*`, `FAPIAO_ARCHIVE_DIR`, …).
    pub hooks: HookSettings,
    /// Alert channels and rules (`FAPIAO_ALERT_*`).
    pub alerts: crate::alerts::AlertSettings,
    /// `FAPIAO_SELLERS_FILE`: the sellers file (see [`crate::sellers`]); none: the
    /// single seller of `FAPIAO_SELLER_*`, `FAPIAO_MERCHANT_KEY`, `FAPIAO_PROVIDER`.
    pub sellers_file: Option<PathBuf>,
    /// The sellers, the home seller first (one without a sellers file). The
    /// single-seller fields above (`provider`, `seller_tax_id`, `merchant_key`,
    /// `nuonuo`, …) are the home seller's.
    pub sellers: Vec<crate::sellers::Seller>,
    /// `FAPIAO_OPERATOR_KEYS` (or `_FILE`): the named operator keys of the batch
    /// endpoints, as `name:sha256hex` (see [`crate::operator`]); none: batches off.
    pub operator_keys: Vec<crate::operator::OperatorKey>,
    /// With the demo on, no operator key configured and no sellers file: the key
    /// of the operator `demo`, drawn at random for each run, that
    /// `GET /v1/demo/operator-key` hands to the batch page (sandbox batches
    /// issue nothing real).
    pub demo_operator_key: Option<Secret>,
    /// `FAPIAO_BATCH_BODY_LIMIT` in bytes: the body limit of `POST /v1/batches`
    /// (up to 10,000 orders).
    pub batch_body_limit: usize,
}

/// What minting an order token needs ([`Config::minting`]).
#[derive(Debug, Clone)]
pub struct MintSettings {
    /// `FAPIAO_MERCHANT_KEY`.
    pub merchant_key: Secret,
    /// `FAPIAO_SELLER_TAX_ID` (the sandbox's test seller with the sandbox provider).
    pub seller_tax_id: String,
    /// `FAPIAO_SELLER_NAME`, when set: the token's display-only `merchantName`
    /// (none when not set, never a made-up name).
    pub seller_name: Option<String>,
}

/// Settings of the merchant webhooks, the admin endpoints, delivery, the archive
/// and reconciliation.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// `FAPIAO_WEBHOOK_URL`: where status events are posted (none: events are
    /// still recorded in the outbox, and sent once a URL is configured).
    pub webhook_url: Option<String>,
    /// `FAPIAO_WEBHOOK_SECRET` (or `_FILE`): the HMAC-SHA256 key of `Fapiao-Signature`.
    pub webhook_secret: Option<Secret>,
    /// `FAPIAO_WEBHOOK_TIMEOUT_MS`: per delivery attempt.
    pub webhook_timeout: Duration,
    /// `FAPIAO_WEBHOOK_RETRY_BASE_MS`: first retry delay (doubles per attempt).
    pub webhook_retry_base: Duration,
    /// `FAPIAO_WEBHOOK_RETRY_MAX_MS`: the retry delay cap.
    pub webhook_retry_max: Duration,
    /// `FAPIAO_WEBHOOK_CONCURRENCY`: deliveries in flight (always one per order).
    pub webhook_concurrency: usize,
    /// `FAPIAO_ADMIN_TOKEN` (or `_FILE`): bearer token of `/v1/admin/*` (none: admin endpoints off).
    pub admin_token: Option<Secret>,
    /// `FAPIAO_ARCHIVE_DIR`: archived invoice files (default: `archive/` beside the database).
    pub archive_dir: Option<PathBuf>,
    /// `FAPIAO_FILE_HOSTS`: hosts (`host` or `host:port`) invoice files may be fetched from.
    pub file_hosts: Vec<String>,
    /// `FAPIAO_FILE_ALLOW_HTTP_LOOPBACK`: also fetch `http://` from loopback hosts (tests only).
    pub file_allow_http_loopback: bool,
    /// `FAPIAO_FILE_MAX_BYTES`: size cap of one file.
    pub file_max_bytes: u64,
    /// `FAPIAO_FILE_TIMEOUT_MS`: per download.
    pub file_timeout: Duration,
    /// `FAPIAO_ARCHIVE_RETRY_BASE_MS`: first retry delay of a failed download (doubles, at most 1 h).
    pub archive_retry_base: Duration,
    /// `FAPIAO_DELIVERY_RETRY_BASE_MS`: first retry delay of a delivery the provider did not confirm (doubles, at most 10 min).
    pub delivery_retry_base: Duration,
    /// `FAPIAO_DELIVERY_LIMIT`: re-deliveries per order per hour.
    pub delivery_limit: u32,
    /// `FAPIAO_RECONCILE_EVERY_S`: reconcile the last two days this often (0: off).
    pub reconcile_every: Option<Duration>,
}

/// The 诺诺 file hosts documented in providers.md §1.9.
pub const NUONUO_FILE_HOSTS: &[&str] = &[
    "inv.jss.com.cn",
    "invtest.jss.com.cn",
    "invtest.nntest.cn",
    "nnfpkf.jss.com.cn",
];

impl Config {
    /// Where archived files live: `FAPIAO_ARCHIVE_DIR`, else `archive/` beside the
    /// SQLite database, else (PostgreSQL) `./var/archive`. With several instances
    /// on PostgreSQL, set `FAPIAO_ARCHIVE_DIR` to storage they all share.
    pub fn archive_dir(&self) -> PathBuf {
        match &self.hooks.archive_dir {
            Some(d) => d.clone(),
            None => match self.database_path.parent() {
                Some(p) if self.postgres.is_none() => p.join("archive"),
                _ => PathBuf::from("./var/archive"),
            },
        }
    }
}

/// Every variable the proxy reads (for the README and for `--help`).
pub const VARIABLES: &[&str] = &[
    "FAPIAO_CONFIG",
    "FAPIAO_LISTEN",
    "FAPIAO_DATABASE_URL",
    "FAPIAO_PROVIDER",
    "FAPIAO_SELLER_TAX_ID",
    "FAPIAO_SELLER_NAME",
    "FAPIAO_MERCHANT_KEY",
    "FAPIAO_NUONUO_GATEWAY_URL",
    "FAPIAO_NUONUO_TOKEN_URL",
    "FAPIAO_NUONUO_APP_KEY",
    "FAPIAO_NUONUO_APP_SECRET",
    "FAPIAO_NUONUO_CLERK",
    "FAPIAO_NUONUO_CALLBACK_URL",
    "FAPIAO_ALLOWED_ORIGINS",
    "FAPIAO_BODY_LIMIT",
    "FAPIAO_RATE_LIMIT",
    "FAPIAO_RATE_BURST",
    "FAPIAO_STATIC_DIR",
    "FAPIAO_PKG_DIR",
    "FAPIAO_DEMO",
    "FAPIAO_SANDBOX_LATENCY_MS",
    "FAPIAO_SANDBOX_ISSUE_DELAY_MS",
    "FAPIAO_SANDBOX_FAILURE_RATE",
    "FAPIAO_SANDBOX_TIMEOUT_RATE",
    "FAPIAO_SUCCESS_RATE_THRESHOLD",
    "FAPIAO_PROVIDER_TIMEOUT_MS",
    "FAPIAO_WORKERS",
    "FAPIAO_BREAKER_THRESHOLD",
    "FAPIAO_BREAKER_COOLDOWN_MS",
    "FAPIAO_POLL_MS",
    "FAPIAO_CALLBACK_TOKEN",
    "FAPIAO_DATABASE_POOL",
    "FAPIAO_INSTANCE_ID",
    "FAPIAO_LEASE_MS",
    "FAPIAO_SANDBOX_ERROR_RATE",
    "FAPIAO_SANDBOX_SLOW_RATE",
    "FAPIAO_SANDBOX_SLOW_MS",
    "FAPIAO_WEBHOOK_URL",
    "FAPIAO_WEBHOOK_SECRET",
    "FAPIAO_WEBHOOK_TIMEOUT_MS",
    "FAPIAO_WEBHOOK_RETRY_BASE_MS",
    "FAPIAO_WEBHOOK_RETRY_MAX_MS",
    "FAPIAO_WEBHOOK_CONCURRENCY",
    "FAPIAO_ADMIN_TOKEN",
    "FAPIAO_ARCHIVE_DIR",
    "FAPIAO_FILE_HOSTS",
    "FAPIAO_FILE_ALLOW_HTTP_LOOPBACK",
    "FAPIAO_FILE_MAX_BYTES",
    "FAPIAO_FILE_TIMEOUT_MS",
    "FAPIAO_ARCHIVE_RETRY_BASE_MS",
    "FAPIAO_DELIVERY_LIMIT",
    "FAPIAO_RECONCILE_EVERY_S",
    "FAPIAO_NUONUO_ORDER_PREFIX",
    "FAPIAO_NUONUO_TOKEN_RETRY_BASE_MS",
    "FAPIAO_NUONUO_TOKEN_RETRY_MAX_MS",
    "FAPIAO_NUONUO_SHOW_SELLER_BANK",
    "FAPIAO_CALLBACK_RATE_LIMIT",
    "FAPIAO_CALLBACK_RATE_BURST",
    "FAPIAO_CALLBACK_MIN_INTERVAL_MS",
    "FAPIAO_HEADER_TIMEOUT_MS",
    "FAPIAO_IDLE_TIMEOUT_MS",
    "FAPIAO_BAIWANG_GATEWAY_URL",
    "FAPIAO_BAIWANG_TOKEN_URL",
    "FAPIAO_BAIWANG_APP_KEY",
    "FAPIAO_BAIWANG_APP_SECRET",
    "FAPIAO_BAIWANG_USERNAME",
    "FAPIAO_BAIWANG_PASSWORD",
    "FAPIAO_BAIWANG_SALT",
    "FAPIAO_BAIWANG_DRAWER",
    "FAPIAO_BAIWANG_TERMINAL",
    "FAPIAO_BAIWANG_ORDER_PREFIX",
    "FAPIAO_BAIWANG_TOKEN_RETRY_BASE_MS",
    "FAPIAO_BAIWANG_TOKEN_RETRY_MAX_MS",
    "FAPIAO_ALERT_WEBHOOK_URL",
    "FAPIAO_ALERT_WECOM_URL",
    "FAPIAO_ALERT_DINGTALK_URL",
    "FAPIAO_ALERT_DINGTALK_SECRET",
    "FAPIAO_ALERT_FEISHU_URL",
    "FAPIAO_ALERT_FEISHU_SECRET",
    "FAPIAO_ALERT_EVAL_MS",
    "FAPIAO_ALERT_HOLD_S",
    "FAPIAO_ALERT_WINDOW_S",
    "FAPIAO_ALERT_MIN_SAMPLES",
    "FAPIAO_ALERT_ORDER_AGE_MIN",
    "FAPIAO_ALERT_OUTBOX_BACKLOG",
    "FAPIAO_ALERT_OUTBOX_AGE_MIN",
    "FAPIAO_ALERT_ARCHIVE_FAILURES",
    "FAPIAO_ALERT_MAX_PER_MINUTE",
    "FAPIAO_ALERT_RETRY_BASE_MS",
    "FAPIAO_SELLERS_FILE",
    "FAPIAO_OPERATOR_KEYS",
    "FAPIAO_BATCH_BODY_LIMIT",
];

/// The 诺诺 sandbox's test seller tax ID, used as the sandbox default.
pub const SANDBOX_SELLER_TAX_ID: &str = "339902999999789113";

struct Source<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    file: HashMap<String, String>,
}

impl Source<'_> {
    fn get(&self, key: &str) -> Option<String> {
        (self.lookup)(key)
            .or_else(|| self.file.get(key).cloned())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A secret from `KEY` or from the file named by `KEY_FILE`.
    fn secret(&self, key: &str) -> Result<Option<Secret>, String> {
        if let Some(v) = (self.lookup)(key).filter(|v| !v.trim().is_empty()) {
            return Ok(Some(Secret::new(v.trim())));
        }
        if let Some(path) = self.get(&format!("{key}_FILE")) {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{key}_FILE: cannot read {path}: {}", e.kind()))?;
            let v = text.trim();
            if v.is_empty() {
                return Err(format!("{key}_FILE: {path} is empty"));
            }
            return Ok(Some(Secret::new(v)));
        }
        Ok(self
            .file
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(Secret::new))
    }

    fn parse<T: std::str::FromStr>(&self, key: &str, default: T, what: &str) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{key}: “{v}” is not {what}")),
        }
    }
}

fn read_toml(path: &str) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("FAPIAO_CONFIG: cannot read {path}: {}", e.kind()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("FAPIAO_CONFIG: {path} is not valid TOML: {}", e.message()))?;
    let mut out = HashMap::new();
    for (k, v) in table {
        let key = if k.to_ascii_uppercase().starts_with("FAPIAO_") {
            k.to_ascii_uppercase()
        } else {
            format!("FAPIAO_{}", k.to_ascii_uppercase())
        };
        if !VARIABLES.contains(&key.as_str()) && !key.ends_with("_FILE") {
            return Err(format!("FAPIAO_CONFIG: unknown key “{k}” in {path}"));
        }
        let value = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| format!("{x:?}")))
                .collect::<Vec<_>>()
                .join(","),
            other => {
                return Err(format!(
                    "FAPIAO_CONFIG: “{k}” in {path} must be a string, number or list, not {}",
                    other.type_str()
                ))
            }
        };
        out.insert(key, value);
    }
    Ok(out)
}

fn check_tax_id(key: &str, v: &str) -> Result<String, String> {
    let v = v.trim().to_ascii_uppercase();
    if !(15..=20).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "{key}: “{v}” is not a taxpayer ID (15 to 20 letters and digits)"
        ));
    }
    Ok(v)
}

fn delay_range(key: &str, v: Option<String>, default: (u64, u64)) -> Result<(u64, u64), String> {
    let Some(v) = v else { return Ok(default) };
    let bad = || format!("{key}: “{v}” is not a delay in ms or a range like 800-2500");
    let (a, b) = match v.split_once('-') {
        Some((a, b)) => (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        ),
        None => {
            let x = v.parse().map_err(|_| bad())?;
            (x, x)
        }
    };
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

fn hook_settings(src: &Source, no_default_hosts: bool) -> Result<HookSettings, String> {
    let webhook_url = src.get("FAPIAO_WEBHOOK_URL");
    if let Some(u) = &webhook_url {
        if !(u.starts_with("https://") || u.starts_with("http://")) || reqwest::Url::parse(u).is_err() {
            return Err(format!("FAPIAO_WEBHOOK_URL: “{u}” is not an http(s) URL"));
        }
    }
    let webhook_secret = src.secret("FAPIAO_WEBHOOK_SECRET")?;
    match (&webhook_url, &webhook_secret) {
        (Some(_), None) => {
            return Err(
                "FAPIAO_WEBHOOK_SECRET: required with FAPIAO_WEBHOOK_URL (or FAPIAO_WEBHOOK_SECRET_FILE)".into(),
            )
        }
        (_, Some(s)) if s.expose().len() < 16 => {
            return Err("FAPIAO_WEBHOOK_SECRET: must have at least 16 characters".into())
        }
        _ => {}
    }
    let admin_token = src.secret("FAPIAO_ADMIN_TOKEN")?;
    if admin_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
        return Err("FAPIAO_ADMIN_TOKEN: must have at least 16 characters".into());
    }
    let file_hosts: Vec<String> = match src.get("FAPIAO_FILE_HOSTS") {
        Some(v) => v
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect(),
        None if no_default_hosts => Vec::new(),
        None => NUONUO_FILE_HOSTS.iter().map(|h| h.to_string()).collect(),
    };
    for h in &file_hosts {
        if h.contains('/') || h.contains('*') {
            return Err(format!(
                "FAPIAO_FILE_HOSTS: “{h}” is not a host name (host or host:port, no scheme, no wildcard)"
            ));
        }
    }
    let ms = |key: &str, default: u64| -> Result<Duration, String> {
        Ok(Duration::from_millis(src.parse(key, default, "milliseconds")?))
    };
    let every: u64 = src.parse("FAPIAO_RECONCILE_EVERY_S", 0, "seconds")?;
    Ok(HookSettings {
        webhook_url,
        webhook_secret,
        webhook_timeout: ms("FAPIAO_WEBHOOK_TIMEOUT_MS", 10_000)?,
        webhook_retry_base: ms("FAPIAO_WEBHOOK_RETRY_BASE_MS", 1_000)?.max(Duration::from_millis(1)),
        webhook_retry_max: ms("FAPIAO_WEBHOOK_RETRY_MAX_MS", 600_000)?.max(Duration::from_millis(1)),
        webhook_concurrency: src.parse::<usize>("FAPIAO_WEBHOOK_CONCURRENCY", 8, "a number")?.max(1),
        admin_token,
        archive_dir: src.get("FAPIAO_ARCHIVE_DIR").map(PathBuf::from),
        file_hosts,
        file_allow_http_loopback: src.parse("FAPIAO_FILE_ALLOW_HTTP_LOOPBACK", false, "true or false")?,
        file_max_bytes: src.parse("FAPIAO_FILE_MAX_BYTES", 20 * 1024 * 1024, "a size in bytes")?,
        file_timeout: ms("FAPIAO_FILE_TIMEOUT_MS", 30_000)?,
        archive_retry_base: ms("FAPIAO_ARCHIVE_RETRY_BASE_MS", 2_000)?.max(Duration::from_millis(1)),
        delivery_retry_base: ms("FAPIAO_DELIVERY_RETRY_BASE_MS", 30_000)?.max(Duration::from_millis(1)),
        delivery_limit: src.parse("FAPIAO_DELIVERY_LIMIT", 5, "a number")?,
        reconcile_every: (every > 0).then(|| Duration::from_secs(every)),
    })
}

/// The alert channels and rules.
fn alert_settings(src: &Source) -> Result<crate::alerts::AlertSettings, String> {
    use crate::alerts::{AlertSettings, Channel, ChannelKind};
    let d = AlertSettings::default();
    let mut channels = Vec::new();
    for (kind, url_key, secret_key) in [
        (ChannelKind::Webhook, "FAPIAO_ALERT_WEBHOOK_URL", None),
        (ChannelKind::WeCom, "FAPIAO_ALERT_WECOM_URL", None),
        (
            ChannelKind::DingTalk,
            "FAPIAO_ALERT_DINGTALK_URL",
            Some("FAPIAO_ALERT_DINGTALK_SECRET"),
        ),
        (
            ChannelKind::Feishu,
            "FAPIAO_ALERT_FEISHU_URL",
            Some("FAPIAO_ALERT_FEISHU_SECRET"),
        ),
    ] {
        // The robots' URLs carry their access tokens: secrets, never echoed.
        let Some(url) = src.secret(url_key)? else { continue };
        let ok = (url.expose().starts_with("https://") || url.expose().starts_with("http://"))
            && reqwest::Url::parse(url.expose()).is_ok();
        if !ok {
            return Err(format!("{url_key}: not an http(s) URL"));
        }
        let secret = match secret_key {
            Some(k) => src.secret(k)?,
            None => None,
        };
        channels.push(Channel { kind, url, secret });
    }
    let secs = |key: &str, default: Duration, unit: u64| -> Result<Duration, String> {
        Ok(Duration::from_secs(
            src.parse(key, default.as_secs() / unit, "a whole number")? * unit,
        ))
    };
    Ok(AlertSettings {
        channels,
        every: Duration::from_millis(
            src.parse("FAPIAO_ALERT_EVAL_MS", d.every.as_millis() as u64, "milliseconds")?
                .max(10),
        ),
        hold: secs("FAPIAO_ALERT_HOLD_S", d.hold, 1)?,
        window: secs("FAPIAO_ALERT_WINDOW_S", d.window, 1)?.clamp(Duration::from_secs(1), Duration::from_secs(3600)),
        min_samples: src.parse("FAPIAO_ALERT_MIN_SAMPLES", d.min_samples, "a number")?.max(1),
        order_age: secs("FAPIAO_ALERT_ORDER_AGE_MIN", d.order_age, 60)?,
        outbox_backlog: src.parse("FAPIAO_ALERT_OUTBOX_BACKLOG", d.outbox_backlog, "a number")?,
        outbox_age: secs("FAPIAO_ALERT_OUTBOX_AGE_MIN", d.outbox_age, 60)?,
        archive_failures: src
            .parse("FAPIAO_ALERT_ARCHIVE_FAILURES", d.archive_failures, "a number")?
            .max(1),
        max_per_minute: src
            .parse("FAPIAO_ALERT_MAX_PER_MINUTE", d.max_per_minute, "a number")?
            .max(1),
        retry_base: Duration::from_millis(
            src.parse(
                "FAPIAO_ALERT_RETRY_BASE_MS",
                d.retry_base.as_millis() as u64,
                "milliseconds",
            )?
            .max(1),
        ),
    })
}

fn rate(key: &str, src: &Source, default: f64) -> Result<f64, String> {
    let r: f64 = src.parse(key, default, "a number between 0 and 1")?;
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("{key}: {r} is not between 0 and 1"));
    }
    Ok(r)
}

impl Config {
    /// Reads the process environment (and the file named by `FAPIAO_CONFIG`).
    pub fn from_env() -> Result<Config, String> {
        Config::from_lookup(&|k| std::env::var(k).ok())
    }

    /// The settings `fapiao-proxy token` needs, and only those: the merchant key
    /// and the seller's identity (no provider, database or listen settings).
    pub fn minting(lookup: &dyn Fn(&str) -> Option<String>) -> Result<MintSettings, String> {
        Config::minting_for(lookup, None)
    }

    /// Like [`Config::minting`] for one seller of the sellers file (`None`: the
    /// home seller); without a sellers file only the single seller can be named.
    pub fn minting_for(lookup: &dyn Fn(&str) -> Option<String>, seller: Option<&str>) -> Result<MintSettings, String> {
        let file = match lookup("FAPIAO_CONFIG").filter(|p| !p.trim().is_empty()) {
            Some(path) => read_toml(path.trim())?,
            None => HashMap::new(),
        };
        let src = Source { lookup, file };
        if let Some(path) = src.get("FAPIAO_SELLERS_FILE") {
            let sellers = crate::sellers::load_file(std::path::Path::new(&path), lookup).map_err(|l| l.join("\n"))?;
            let s = match seller {
                None => &sellers[0],
                Some(t) => sellers
                    .iter()
                    .find(|s| s.tax_id.eq_ignore_ascii_case(t.trim()))
                    .ok_or_else(|| format!("--seller: no seller {t} in {path}"))?,
            };
            return Ok(MintSettings {
                merchant_key: s.merchant_key.clone(),
                seller_tax_id: s.tax_id.clone(),
                seller_name: Some(s.name.clone()),
            });
        }
        let merchant_key =
            match src.secret("FAPIAO_MERCHANT_KEY")? {
                Some(k) if k.expose().len() >= 32 => k,
                Some(_) => return Err("FAPIAO_MERCHANT_KEY: must have at least 32 characters".into()),
                None => return Err(
                    "FAPIAO_MERCHANT_KEY: required to mint a token the proxy will accept (or FAPIAO_MERCHANT_KEY_FILE)"
                        .into(),
                ),
            };
        let sandbox = matches!(src.get("FAPIAO_PROVIDER").as_deref(), None | Some("sandbox"));
        let seller_tax_id = match src.get("FAPIAO_SELLER_TAX_ID") {
            Some(v) => check_tax_id("FAPIAO_SELLER_TAX_ID", &v)?,
            None if sandbox => SANDBOX_SELLER_TAX_ID.into(),
            None => return Err("FAPIAO_SELLER_TAX_ID: required to mint a token for this seller".into()),
        };
        if let Some(t) = seller.filter(|t| !t.trim().eq_ignore_ascii_case(&seller_tax_id)) {
            return Err(format!(
                "--seller: {t} is not this deployment's seller (no FAPIAO_SELLERS_FILE)"
            ));
        }
        Ok(MintSettings {
            merchant_key,
            seller_tax_id,
            seller_name: src.get("FAPIAO_SELLER_NAME"),
        })
    }

    /// Reads settings through a lookup function (the environment in production, a
    /// map in tests).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let file = match lookup("FAPIAO_CONFIG").filter(|p| !p.trim().is_empty()) {
            Some(path) => read_toml(path.trim())?,
            None => HashMap::new(),
        };
        let src = Source { lookup, file };

        let listen = src.parse(
            "FAPIAO_LISTEN",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "host:port (e.g. 127.0.0.1:8080)",
        )?;
        // The URL may carry a password: read like a secret (also from FAPIAO_DATABASE_URL_FILE).
        let db = src
            .secret("FAPIAO_DATABASE_URL")?
            .map(|s| s.expose().to_owned())
            .unwrap_or_else(|| "sqlite:./var/fapiao.sqlite".into());
        let (database_path, postgres) = if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            (PathBuf::new(), Some(Secret::new(db)))
        } else {
            let path = db
                .strip_prefix("sqlite://")
                .or_else(|| db.strip_prefix("sqlite:"))
                .unwrap_or(&db);
            if path.is_empty() || db.contains("://") && !db.starts_with("sqlite://") {
                return Err(format!(
                    "FAPIAO_DATABASE_URL: “{}” is neither a SQLite path (sqlite:./var/fapiao.sqlite) nor a postgres:// URL",
                    crate::secret::redact_url(&db)
                ));
            }
            (PathBuf::from(path), None)
        };
        let provider_timeout =
            Duration::from_millis(src.parse("FAPIAO_PROVIDER_TIMEOUT_MS", 15_000, "milliseconds")?);
        let instance_id = match src.get("FAPIAO_INSTANCE_ID") {
            Some(v) if v.len() <= 100 && v.bytes().all(|b| b.is_ascii_graphic()) => v,
            Some(_) => return Err("FAPIAO_INSTANCE_ID: at most 100 printable ASCII characters without spaces".into()),
            None => {
                let host = std::fs::read_to_string("/etc/hostname")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_default();
                let host = if host.is_empty() { "proxy".to_owned() } else { host };
                format!("{host}-{}-{}", std::process::id(), &random_key()[..8])
            }
        };

        let provider = match src.get("FAPIAO_PROVIDER").as_deref() {
            None | Some("sandbox") => ProviderKind::Sandbox,
            Some("nuonuo") => ProviderKind::Nuonuo,
            Some("baiwang") => ProviderKind::Baiwang,
            Some(other) => {
                return Err(format!(
                    "FAPIAO_PROVIDER: “{other}” is none of sandbox, nuonuo, baiwang"
                ))
            }
        };
        let sandbox = provider == ProviderKind::Sandbox;
        let pname = if provider == ProviderKind::Baiwang {
            "baiwang"
        } else {
            "nuonuo"
        };
        let require = |key: &str| {
            src.get(key)
                .ok_or_else(|| format!("{key}: required with FAPIAO_PROVIDER={pname}"))
        };

        let seller_tax_id = match src.get("FAPIAO_SELLER_TAX_ID") {
            Some(v) => check_tax_id("FAPIAO_SELLER_TAX_ID", &v)?,
            None if sandbox => SANDBOX_SELLER_TAX_ID.into(),
            None => return Err(format!("FAPIAO_SELLER_TAX_ID: required with FAPIAO_PROVIDER={pname}")),
        };
        let seller_name = match src.get("FAPIAO_SELLER_NAME") {
            Some(v) => v,
            None if sandbox => "示例商户（沙箱）".into(),
            None => return Err(format!("FAPIAO_SELLER_NAME: required with FAPIAO_PROVIDER={pname}")),
        };
        let (merchant_key, merchant_key_generated) = match src.secret("FAPIAO_MERCHANT_KEY")? {
            Some(k) if k.expose().len() >= 32 => (k, false),
            Some(_) => return Err("FAPIAO_MERCHANT_KEY: must have at least 32 characters".into()),
            None if sandbox => (Secret::new(random_key()), true),
            None => {
                return Err(format!(
                    "FAPIAO_MERCHANT_KEY: required with FAPIAO_PROVIDER={pname} (or FAPIAO_MERCHANT_KEY_FILE)"
                ))
            }
        };
        let url = |key: &str, default: &str| -> Result<String, String> {
            let v = src.get(key).unwrap_or_else(|| default.into());
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(format!("{key}: “{v}” is not an http(s) URL"));
            }
            Ok(v)
        };
        let required_secret = |key: &str| -> Result<Secret, String> {
            src.secret(key)?
                .ok_or_else(|| format!("{key}: required with FAPIAO_PROVIDER={pname} (or {key}_FILE)"))
        };
        let baiwang = if provider != ProviderKind::Baiwang {
            None
        } else {
            let gateway_url = url("FAPIAO_BAIWANG_GATEWAY_URL", "https://openapi.baiwang.com/router/rest")?;
            Some(BaiwangSettings {
                token_url: url("FAPIAO_BAIWANG_TOKEN_URL", &gateway_url)?,
                gateway_url,
                app_key: require("FAPIAO_BAIWANG_APP_KEY")?,
                app_secret: required_secret("FAPIAO_BAIWANG_APP_SECRET")?,
                username: require("FAPIAO_BAIWANG_USERNAME")?,
                password: required_secret("FAPIAO_BAIWANG_PASSWORD")?,
                salt: required_secret("FAPIAO_BAIWANG_SALT")?,
                drawer: src.get("FAPIAO_BAIWANG_DRAWER").unwrap_or_else(|| "开票员".into()),
                terminal: src.get("FAPIAO_BAIWANG_TERMINAL"),
                order_prefix: match src.get("FAPIAO_BAIWANG_ORDER_PREFIX") {
                    None => String::new(),
                    Some(p)
                        if (1..=10).contains(&p.len())
                            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
                    {
                        p
                    }
                    Some(_) => return Err("FAPIAO_BAIWANG_ORDER_PREFIX: 1 to 10 letters, digits, “-” or “_”".into()),
                },
                token_retry_base: Duration::from_millis(
                    src.parse("FAPIAO_BAIWANG_TOKEN_RETRY_BASE_MS", 60_000, "milliseconds")?
                        .max(1),
                ),
                token_retry_max: Duration::from_millis(
                    src.parse("FAPIAO_BAIWANG_TOKEN_RETRY_MAX_MS", 1_800_000, "milliseconds")?
                        .max(1),
                ),
            })
        };
        let nuonuo = if provider != ProviderKind::Nuonuo {
            None
        } else {
            Some(NuonuoSettings {
                gateway_url: url("FAPIAO_NUONUO_GATEWAY_URL", "https://sdk.nuonuo.com/open/v1/services")?,
                token_url: url("FAPIAO_NUONUO_TOKEN_URL", "https://open.nuonuo.com/accessToken")?,
                app_key: require("FAPIAO_NUONUO_APP_KEY")?,
                app_secret: src.secret("FAPIAO_NUONUO_APP_SECRET")?.ok_or(
                    "FAPIAO_NUONUO_APP_SECRET: required with FAPIAO_PROVIDER=nuonuo (or FAPIAO_NUONUO_APP_SECRET_FILE)",
                )?,
                clerk: src.get("FAPIAO_NUONUO_CLERK").unwrap_or_else(|| "开票员".into()),
                callback_url: src.get("FAPIAO_NUONUO_CALLBACK_URL"),
                order_prefix: match src.get("FAPIAO_NUONUO_ORDER_PREFIX") {
                    None => String::new(),
                    Some(p)
                        if (1..=10).contains(&p.len())
                            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
                    {
                        p
                    }
                    Some(_) => return Err("FAPIAO_NUONUO_ORDER_PREFIX: 1 to 10 letters, digits, “-” or “_”".into()),
                },
                token_retry_base: Duration::from_millis(
                    src.parse("FAPIAO_NUONUO_TOKEN_RETRY_BASE_MS", 60_000, "milliseconds")?
                        .max(1),
                ),
                token_retry_max: Duration::from_millis(
                    src.parse("FAPIAO_NUONUO_TOKEN_RETRY_MAX_MS", 1_800_000, "milliseconds")?
                        .max(1),
                ),
                show_seller_bank: src.parse("FAPIAO_NUONUO_SHOW_SELLER_BANK", false, "true or false")?,
                isv: false,
                redirect_uri: None,
                authorize_url: crate::sellers::NUONUO_AUTHORIZE_URL.into(),
                token_quota: crate::sellers::NUONUO_TOKEN_QUOTA,
                seller_address: None,
                seller_phone: None,
                seller_bank: None,
            })
        };

        let allowed_origins: Vec<String> = src
            .get("FAPIAO_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().trim_end_matches('/').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for o in &allowed_origins {
            if !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(format!(
                    "FAPIAO_ALLOWED_ORIGINS: “{o}” is not an origin like https://shop.example.com"
                ));
            }
        }
        // 诺诺's file hosts are known (providers.md §1.9); 百望's are not: with
        // baiwang, FAPIAO_FILE_HOSTS names them (none by default).
        let hooks = hook_settings(&src, provider != ProviderKind::Nuonuo)?;
        // With a merchant key, orders are real (the merchant's back end signs
        // them): the demo endpoint is on only when asked for.
        let demo_default = sandbox && src.secret("FAPIAO_MERCHANT_KEY")?.is_none();
        let sellers_file = src.get("FAPIAO_SELLERS_FILE").map(PathBuf::from);
        let demo_default = demo_default && sellers_file.is_none();
        let demo: bool = src.parse("FAPIAO_DEMO", demo_default, "true or false")?;
        if demo && !sandbox {
            return Err("FAPIAO_DEMO: the demo token endpoint is only available with FAPIAO_PROVIDER=sandbox".into());
        }
        let mut config = Config {
            sellers_file,
            sellers: Vec::new(),
            listen,
            database_path,
            postgres,
            database_pool: src
                .parse::<usize>("FAPIAO_DATABASE_POOL", 16, "a number")?
                .clamp(2, 1000),
            instance_id,
            provider,
            seller_tax_id,
            seller_name,
            merchant_key,
            merchant_key_generated,
            nuonuo,
            baiwang,
            allowed_origins,
            body_limit: src.parse("FAPIAO_BODY_LIMIT", 256 * 1024, "a size in bytes")?,
            rate_limit_per_second: src.parse("FAPIAO_RATE_LIMIT", 20.0, "requests per second")?,
            rate_limit_burst: src.parse("FAPIAO_RATE_BURST", 40.0, "a number of requests")?,
            static_dir: src.get("FAPIAO_STATIC_DIR").unwrap_or_else(|| "www".into()).into(),
            pkg_dir: src.get("FAPIAO_PKG_DIR").unwrap_or_else(|| "pkg".into()).into(),
            demo,
            sandbox: SandboxKnobs {
                latency_ms: delay_range(
                    "FAPIAO_SANDBOX_LATENCY_MS",
                    src.get("FAPIAO_SANDBOX_LATENCY_MS"),
                    (30, 30),
                )?,
                issue_delay_ms: delay_range(
                    "FAPIAO_SANDBOX_ISSUE_DELAY_MS",
                    src.get("FAPIAO_SANDBOX_ISSUE_DELAY_MS"),
                    (800, 2500),
                )?,
                failure_rate: rate("FAPIAO_SANDBOX_FAILURE_RATE", &src, 0.0)?,
                timeout_rate: rate("FAPIAO_SANDBOX_TIMEOUT_RATE", &src, 0.0)?,
                error_rate: rate("FAPIAO_SANDBOX_ERROR_RATE", &src, 0.0)?,
                slow_rate: rate("FAPIAO_SANDBOX_SLOW_RATE", &src, 0.0)?,
                slow: Duration::from_millis(src.parse("FAPIAO_SANDBOX_SLOW_MS", 20_000, "milliseconds")?),
            },
            success_rate_threshold: rate("FAPIAO_SUCCESS_RATE_THRESHOLD", &src, 0.999)?,
            provider_timeout,
            lease: Duration::from_millis(
                src.parse(
                    "FAPIAO_LEASE_MS",
                    provider_timeout.as_millis() as u64 * 2 + 10_000,
                    "milliseconds",
                )?
                .max(1_000),
            ),
            // The simulated provider has no rate to respect: enough calls in flight
            // that its 30 ms a call does not cap a batch (two calls an invoice).
            workers: src
                .parse::<usize>("FAPIAO_WORKERS", if sandbox { 128 } else { 32 }, "a number")?
                .max(1),
            breaker_threshold: src.parse::<u32>("FAPIAO_BREAKER_THRESHOLD", 5, "a number")?.max(1),
            breaker_cooldown: Duration::from_millis(src.parse("FAPIAO_BREAKER_COOLDOWN_MS", 5_000, "milliseconds")?),
            poll_interval: Duration::from_millis(src.parse("FAPIAO_POLL_MS", 500, "milliseconds")?),
            callback_token: src.secret("FAPIAO_CALLBACK_TOKEN")?,
            callback_rate_limit_per_second: src.parse("FAPIAO_CALLBACK_RATE_LIMIT", 20.0, "callbacks per second")?,
            callback_rate_limit_burst: src.parse("FAPIAO_CALLBACK_RATE_BURST", 100.0, "a number of callbacks")?,
            callback_min_interval: Duration::from_millis(src.parse(
                "FAPIAO_CALLBACK_MIN_INTERVAL_MS",
                5_000,
                "milliseconds",
            )?),
            header_timeout: Duration::from_millis(
                src.parse("FAPIAO_HEADER_TIMEOUT_MS", 10_000, "milliseconds")?.max(1),
            ),
            idle_timeout: Duration::from_millis(src.parse("FAPIAO_IDLE_TIMEOUT_MS", 120_000, "milliseconds")?.max(1)),
            hooks,
            alerts: alert_settings(&src)?,
            operator_keys: match src.secret("FAPIAO_OPERATOR_KEYS")? {
                Some(v) => crate::operator::parse_keys("FAPIAO_OPERATOR_KEYS", v.expose())?,
                None => Vec::new(),
            },
            demo_operator_key: None,
            batch_body_limit: src.parse("FAPIAO_BATCH_BODY_LIMIT", 32 * 1024 * 1024, "a size in bytes")?,
        };
        // (With a sellers file, operators act only for the sellers naming them,
        // so a demo operator would act for none: the demo key is for one seller.)
        if config.demo && config.operator_keys.is_empty() && config.sellers_file.is_none() {
            let (key, line) = crate::operator::generate("demo").ok_or("the demo operator's name")?;
            config.operator_keys = crate::operator::parse_keys("FAPIAO_OPERATOR_KEYS", &line)?;
            config.demo_operator_key = Some(Secret::new(key));
        }
        let file_hosts_given = src.get("FAPIAO_FILE_HOSTS").is_some();
        config.apply_sellers(lookup, file_hosts_given)?;
        Ok(config)
    }

    /// The configuration with `tax_id`'s seller as the single seller (its
    /// provider, account, identity and key), and that seller; `None` when no
    /// seller has this tax ID.
    pub fn as_seller(&mut self, tax_id: &str) -> Option<crate::sellers::Seller> {
        let s = self.sellers.iter().find(|s| s.tax_id == tax_id)?.clone();
        self.provider = s.provider;
        self.seller_tax_id = s.tax_id.clone();
        self.seller_name = s.name.clone();
        self.merchant_key = s.merchant_key.clone();
        self.nuonuo = s.nuonuo.clone();
        self.baiwang = s.baiwang.clone();
        Some(s)
    }

    /// Uses the sellers file at `path` (as `FAPIAO_SELLERS_FILE` does; `…_env`
    /// references are read from the process environment).
    pub fn use_sellers_file(&mut self, path: impl Into<PathBuf>) -> Result<(), String> {
        self.sellers_file = Some(path.into());
        self.apply_sellers(&|k| std::env::var(k).ok(), false)
    }

    /// Fills [`Config::sellers`]: from the sellers file when there is one (every
    /// problem on a line of its own), the single seller otherwise; the home
    /// seller's settings become the single-seller fields.
    fn apply_sellers(&mut self, lookup: &dyn Fn(&str) -> Option<String>, file_hosts_given: bool) -> Result<(), String> {
        let Some(path) = self.sellers_file.clone() else {
            self.sellers = vec![crate::sellers::Seller::from_config(self)];
            return Ok(());
        };
        let sellers = crate::sellers::load_file(&path, lookup).map_err(|lines| lines.join("\n"))?;
        let home = &sellers[0];
        if self.demo && home.provider != ProviderKind::Sandbox {
            return Err("FAPIAO_DEMO: the demo token endpoint needs a sandbox home seller".into());
        }
        self.provider = home.provider;
        self.seller_tax_id = home.tax_id.clone();
        self.seller_name = home.name.clone();
        self.merchant_key = home.merchant_key.clone();
        self.merchant_key_generated = false;
        self.nuonuo = home.nuonuo.clone();
        self.baiwang = home.baiwang.clone();
        self.hooks.webhook_url = home.webhook_url.clone();
        self.hooks.webhook_secret = home.webhook_secret.clone();
        if !file_hosts_given && sellers.iter().any(|s| s.provider == ProviderKind::Nuonuo) {
            for h in NUONUO_FILE_HOSTS {
                if !self.hooks.file_hosts.iter().any(|x| x == h) {
                    self.hooks.file_hosts.push(h.to_string());
                }
            }
        }
        self.sellers = sellers;
        Ok(())
    }

    /// A sandbox configuration for tests: a given database, a fixed merchant key,
    /// no rate limit, fast sandbox and worker timings.
    pub fn for_tests(database_path: impl Into<PathBuf>) -> Config {
        let db = database_path.into();
        let mut c = Config::from_lookup(&|k| match k {
            "FAPIAO_MERCHANT_KEY" => Some("test-merchant-key-0123456789abcdef".into()),
            "FAPIAO_RATE_LIMIT" => Some("0".into()),
            "FAPIAO_SANDBOX_LATENCY_MS" => Some("0".into()),
            "FAPIAO_SANDBOX_ISSUE_DELAY_MS" => Some("0-20".into()),
            "FAPIAO_POLL_MS" => Some("10".into()),
            "FAPIAO_BREAKER_COOLDOWN_MS" => Some("200".into()),
            "FAPIAO_PROVIDER_TIMEOUT_MS" => Some("2000".into()),
            "FAPIAO_DEMO" => Some("true".into()),
            "FAPIAO_CALLBACK_MIN_INTERVAL_MS" => Some("0".into()),
            _ => None,
        })
        .expect("test configuration");
        c.database_path = db;
        c.instance_id = "test-instance".into();
        c
    }
}

/// 32 random bytes as hex.
pub fn random_key() -> String {
    use rand::TryRngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut b).ok();
    if b == [0u8; 32] {
        // No OS randomness: fall back to the clock and the address of a local.
        let seed = crate::time::now_ms() as u64 ^ (&b as *const _ as u64);
        b[..8].copy_from_slice(&seed.to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn operator_keys_are_read_as_hashes() {
        let (key, line) = crate::operator::generate("finance-wang").unwrap();
        let c = with(&[("FAPIAO_OPERATOR_KEYS", &format!("{line}, ops:{}", "ab".repeat(32)))]).unwrap();
        assert_eq!(c.operator_keys.len(), 2);
        assert_eq!(crate::operator::find(&c.operator_keys, &key), Some("finance-wang"));
        assert!(c.demo_operator_key.is_none(), "configured keys: no demo key");
        // Without keys, batches are off, except in the sandbox demo, whose
        // operator `demo` has a key drawn for the run.
        let merchant = ("FAPIAO_MERCHANT_KEY", "merchant-key-0123456789abcdef0123");
        let off = with(&[merchant]).unwrap();
        assert!(!off.demo && off.operator_keys.is_empty() && off.demo_operator_key.is_none());
        let demo = with(&[]).unwrap();
        assert!(demo.demo);
        let demo_key = demo.demo_operator_key.as_ref().expect("the demo's operator key");
        assert_eq!(
            crate::operator::find(&demo.operator_keys, demo_key.expose()),
            Some("demo")
        );
        assert_eq!(demo.operator_keys.len(), 1);
        let e = with(&[("FAPIAO_OPERATOR_KEYS", &format!("finance-wang:{key}"))]).unwrap_err();
        assert!(e.starts_with("FAPIAO_OPERATOR_KEYS:") && e.contains("64 hex"), "{e}");
        assert!(!e.contains(&key), "a key put where its hash belongs is not echoed: {e}");
        let dir = tempfile_dir();
        let file = dir.join("operators");
        std::fs::write(&file, format!("# finance\n{line}\n")).unwrap();
        let c = with(&[("FAPIAO_OPERATOR_KEYS_FILE", file.to_str().unwrap())]).unwrap();
        assert_eq!(crate::operator::find(&c.operator_keys, &key), Some("finance-wang"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "fapiao-config-test-{}-{}",
            std::process::id(),
            &random_key()[..8]
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn sandbox_defaults() {
        let c = with(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.provider, ProviderKind::Sandbox);
        assert_eq!(c.database_path, PathBuf::from("./var/fapiao.sqlite"));
        assert!(c.merchant_key_generated && c.merchant_key.expose().len() == 64);
        assert!(c.demo);
        assert!(c.postgres.is_none());
        assert_eq!(c.lease, Duration::from_millis(40_000));
    }

    #[test]
    fn postgres_urls_select_postgres_and_stay_secret() {
        let c = with(&[
            ("FAPIAO_DATABASE_URL", "postgres://app:s3cret@127.0.0.1:5432/fapiao"),
            ("FAPIAO_INSTANCE_ID", "a-1"),
        ])
        .unwrap();
        assert_eq!(
            c.postgres.as_ref().unwrap().expose(),
            "postgres://app:s3cret@127.0.0.1:5432/fapiao"
        );
        assert_eq!(c.instance_id, "a-1");
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "Debug must not show the database password"
        );
        assert!(with(&[("FAPIAO_DATABASE_URL", "postgresql://db/fapiao")])
            .unwrap()
            .postgres
            .is_some());
        // Never the working directory itself: the archive goes under ./var like the SQLite default.
        assert_eq!(c.archive_dir(), PathBuf::from("./var/archive"));
        assert_eq!(
            with(&[("FAPIAO_DATABASE_URL", "sqlite:/tmp/x.sqlite")])
                .unwrap()
                .database_path,
            PathBuf::from("/tmp/x.sqlite")
        );
        let e = with(&[("FAPIAO_DATABASE_URL", "mysql://u:s3cret@db/x")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_DATABASE_URL:") && !e.contains("s3cret"), "{e}");
        let e = with(&[("FAPIAO_INSTANCE_ID", "two words")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_INSTANCE_ID:"), "{e}");
    }

    #[test]
    fn one_clear_line_naming_the_setting() {
        let e = with(&[("FAPIAO_PROVIDER", "nuonuo")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_SELLER_TAX_ID:"), "{e}");
        let e = with(&[("FAPIAO_LISTEN", "nowhere")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_LISTEN:") && !e.contains('\n'), "{e}");
        let e = with(&[("FAPIAO_PROVIDER", "baiwangyun")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_PROVIDER:"), "{e}");
        let e = with(&[("FAPIAO_PROVIDER", "baiwang")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_SELLER_TAX_ID:") && e.contains("baiwang"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("pw");
        std::fs::write(&secret_file, "file-password\n").unwrap();
        let base = [
            ("FAPIAO_PROVIDER", "baiwang"),
            ("FAPIAO_SELLER_TAX_ID", "339902999999789113"),
            ("FAPIAO_SELLER_NAME", "x"),
            ("FAPIAO_MERCHANT_KEY", "k".repeat(40).leak() as &str),
            ("FAPIAO_DEMO", "false"),
            ("FAPIAO_BAIWANG_APP_KEY", "1000001"),
            ("FAPIAO_BAIWANG_APP_SECRET", "bw-secret"),
            ("FAPIAO_BAIWANG_USERNAME", "admin"),
        ];
        let e = with(&base).unwrap_err();
        assert!(e.starts_with("FAPIAO_BAIWANG_PASSWORD:") && e.contains("_FILE"), "{e}");
        let mut all = base.to_vec();
        let path = secret_file.to_str().unwrap().to_owned();
        all.push(("FAPIAO_BAIWANG_PASSWORD_FILE", path.as_str()));
        all.push(("FAPIAO_BAIWANG_SALT", "salt"));
        let c = with(&all).unwrap();
        assert_eq!(c.provider, ProviderKind::Baiwang);
        assert!(c.nuonuo.is_none());
        let b = c.baiwang.as_ref().unwrap();
        assert_eq!(b.password.expose(), "file-password");
        assert_eq!(
            b.token_url, "https://openapi.baiwang.com/router/rest",
            "the token endpoint defaults to the gateway"
        );
        let e = with(&[
            ("FAPIAO_PROVIDER", "nuonuo"),
            ("FAPIAO_SELLER_TAX_ID", "339902999999789113"),
            ("FAPIAO_SELLER_NAME", "x"),
            ("FAPIAO_MERCHANT_KEY", "k".repeat(40).as_str()),
            ("FAPIAO_DEMO", "false"),
            ("FAPIAO_NUONUO_APP_KEY", "app"),
        ])
        .unwrap_err();
        assert!(e.starts_with("FAPIAO_NUONUO_APP_SECRET:"), "{e}");
        let e = with(&[("FAPIAO_MERCHANT_KEY", "short")]).unwrap_err();
        assert!(
            e.starts_with("FAPIAO_MERCHANT_KEY:") && !e.contains("short"),
            "the error must not echo the key: {e}"
        );
    }

    #[test]
    fn hook_settings() {
        let e = with(&[("FAPIAO_WEBHOOK_URL", "https://shop.example/hooks")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_WEBHOOK_SECRET:"), "{e}");
        let e = with(&[
            ("FAPIAO_WEBHOOK_URL", "ftp://x"),
            ("FAPIAO_WEBHOOK_SECRET", "0123456789abcdef"),
        ])
        .unwrap_err();
        assert!(e.starts_with("FAPIAO_WEBHOOK_URL:"), "{e}");
        let e = with(&[("FAPIAO_ADMIN_TOKEN", "short")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_ADMIN_TOKEN:") && !e.contains("short"), "{e}");
        let e = with(&[("FAPIAO_FILE_HOSTS", "https://inv.jss.com.cn")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_FILE_HOSTS:"), "{e}");
        let c = with(&[
            ("FAPIAO_WEBHOOK_URL", "https://shop.example/hooks"),
            ("FAPIAO_WEBHOOK_SECRET", "0123456789abcdef"),
        ])
        .unwrap();
        assert!(c.hooks.file_hosts.is_empty(), "the sandbox fetches from no host");
        assert_eq!(c.archive_dir(), PathBuf::from("./var/archive"));
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        let c = with(&[
            (
                "FAPIAO_ALERT_DINGTALK_URL",
                "https://oapi.dingtalk.com/robot/send?access_token=tok123",
            ),
            ("FAPIAO_ALERT_DINGTALK_SECRET", "SECabc"),
            ("FAPIAO_ALERT_HOLD_S", "5"),
        ])
        .unwrap();
        assert_eq!(c.alerts.channels.len(), 1);
        assert_eq!(c.alerts.hold, Duration::from_secs(5));
        assert!(!format!("{c:?}").contains("tok123") && !format!("{c:?}").contains("SECabc"));
        let e = with(&[("FAPIAO_ALERT_WECOM_URL", "qyapi?key=tok123")]).unwrap_err();
        assert!(e.starts_with("FAPIAO_ALERT_WECOM_URL:") && !e.contains("tok123"), "{e}");
        let c = with(&[
            ("FAPIAO_PROVIDER", "nuonuo"),
            ("FAPIAO_SELLER_TAX_ID", "339902999999789113"),
            ("FAPIAO_SELLER_NAME", "x"),
            ("FAPIAO_MERCHANT_KEY", "k".repeat(40).as_str()),
            ("FAPIAO_DEMO", "false"),
            ("FAPIAO_NUONUO_APP_KEY", "app"),
            ("FAPIAO_NUONUO_APP_SECRET", "secret"),
        ])
        .unwrap();
        assert_eq!(c.hooks.file_hosts, NUONUO_FILE_HOSTS);
    }

    #[test]
    fn a_sellers_file_makes_the_home_seller_the_single_seller() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sellers.toml");
        std::fs::write(
            &file,
            format!(
                "[[seller]]\ntax_id = \"91330100MA2H000001\"\nname = \"甲\"\nmerchant_key = \"{}\"\n\n\
                 [[seller]]\ntax_id = \"91330100MA2H000002\"\nname = \"乙\"\nhome = true\nprovider = \"nuonuo\"\n\
                 merchant_key = \"{}\"\nallowed_origins = [\"https://b.example\"]\n[seller.nuonuo]\napp_key = \"k\"\napp_secret = \"s3cret-b\"\n",
                "a".repeat(32),
                "b".repeat(32)
            ),
        )
        .unwrap();
        let f = file.to_string_lossy().to_string();
        let c = with(&[("FAPIAO_SELLERS_FILE", &f)]).unwrap();
        assert_eq!(c.sellers.len(), 2);
        assert_eq!(
            (c.seller_tax_id.as_str(), c.provider, c.demo),
            ("91330100MA2H000002", ProviderKind::Nuonuo, false)
        );
        assert_eq!(c.merchant_key.expose(), "b".repeat(32));
        assert_eq!(
            c.hooks.file_hosts, NUONUO_FILE_HOSTS,
            "a 诺诺 seller brings 诺诺's file hosts"
        );
        assert!(!format!("{c:?}").contains("s3cret-b"));
        // Every problem of the file, one per line, each naming its place.
        std::fs::write(
            &file,
            "[[seller]]\ntax_id = \"x\"\nname = \"甲\"\nmerchant_key = \"short\"\nwebhook_url = \"ftp://x\"\n",
        )
        .unwrap();
        let e = with(&[("FAPIAO_SELLERS_FILE", &f)]).unwrap_err();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 3, "{e}");
        assert!(
            lines.iter().all(|l| l.starts_with(&format!("{f}: seller[1] (x)."))),
            "{e}"
        );
        assert!(!e.contains("short"), "the key is not echoed: {e}");
    }

    #[test]
    fn toml_file_and_env_precedence_and_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret-app-secret\n").unwrap();
        let file = dir.path().join("fapiao.toml");
        std::fs::write(
            &file,
            format!(
                "provider = \"nuonuo\"\nlisten = \"127.0.0.1:9000\"\nseller_tax_id = \"339902999999789113\"\nseller_name = \"测试\"\nFAPIAO_MERCHANT_KEY = \"{}\"\ndemo = false\nnuonuo_app_key = \"app\"\nnuonuo_app_secret_file = \"{}\"\nallowed_origins = [\"https://a.example\", \"https://b.example\"]\n",
                "m".repeat(32),
                secret.display()
            ),
        )
        .unwrap();
        let f = file.to_string_lossy().to_string();
        let c = with(&[("FAPIAO_CONFIG", &f), ("FAPIAO_LISTEN", "127.0.0.1:9100")]).unwrap();
        assert_eq!(c.listen.port(), 9100, "the environment wins");
        assert_eq!(c.provider, ProviderKind::Nuonuo);
        assert_eq!(c.nuonuo.as_ref().unwrap().app_secret.expose(), "s3cret-app-secret");
        assert_eq!(c.allowed_origins, ["https://a.example", "https://b.example"]);
        assert!(!format!("{c:?}").contains("s3cret"), "Debug must not show secrets");
        std::fs::write(&file, "listen = [").unwrap();
        assert!(with(&[("FAPIAO_CONFIG", &f)])
            .unwrap_err()
            .starts_with("FAPIAO_CONFIG:"));
    }
}
