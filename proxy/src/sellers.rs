//! Several sellers in one deployment: a group's legal entities (集团统一开票) or
//! the merchants a platform invoices for. Each seller has its own tax ID, name,
//! provider account (or 诺诺 third-party authorization), order-token key,
//! webhook, allowed origins and the invoice types it offers.
//!
//! ## The sellers file
//!
//! `FAPIAO_SELLERS_FILE` names a TOML file with one `[[seller]]` table per
//! seller (see the README for a full example):
//!
//! ```toml
//! [[seller]]
//! tax_id = "91330100MA2H000001"
//! name = "浙江某集团有限公司"
//! provider = "nuonuo"                 # sandbox | nuonuo | baiwang
//! merchant_key_file = "/run/secrets/hq-key"
//! clerk = "王会计"
//! invoice_types = ["normal", "special"]
//! webhook_url = "https://erp.example.com/hooks/fapiao"
//! webhook_secret_env = "HQ_WEBHOOK_SECRET"
//! [seller.nuonuo]
//! app_key = "…"
//! app_secret_file = "/run/secrets/hq-nuonuo"
//! ```
//!
//! Every secret (`merchant_key`, `webhook_secret`, `nuonuo.app_secret`,
//! `baiwang.app_secret`, `baiwang.password`, `baiwang.salt`) is given as the
//! value itself, as `NAME_file` (a file holding it) or as `NAME_env` (an
//! environment variable holding it). The whole file is checked before it is
//! used, at start and at each reload, and every problem is reported on a line
//! of its own.
//!
//! Without a sellers file the single-seller settings (`FAPIAO_SELLER_TAX_ID`,
//! `FAPIAO_MERCHANT_KEY`, `FAPIAO_PROVIDER`, …) make a one-seller list.
//!
//! ## Orders of several sellers
//!
//! Order ids are unique per seller. The store keys an order by its *order key*
//! ([`order_key`]): the order id itself for the deployment's *home seller* (the
//! seller of a single-seller deployment, so that its database is used as it is),
//! `TAXID:ORDERID` for every other seller (an order id has no `:`). The home
//! seller is recorded in the store at the first start and never changes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::config::{BaiwangSettings, Config, NuonuoSettings, ProviderKind};
use crate::provider::Provider;
use crate::queues::worker::Breaker;
use crate::secret::Secret;
use crate::store::Store;

/// The token calls 诺诺 allows per app in 30 days (providers.md §1.3).
pub const NUONUO_TOKEN_QUOTA: u32 = 50;

/// 诺诺's authorization page for third-party apps (providers.md §1.2).
pub const NUONUO_AUTHORIZE_URL: &str = "https://open.nuonuo.com/authorize";

/// The store key of the home seller's tax ID.
pub const HOME_KEY: &str = "sellers.home";

/// One seller.
#[derive(Debug, Clone)]
pub struct Seller {
    /// 纳税人识别号.
    pub tax_id: String,
    /// The seller's name as printed on its invoices.
    pub name: String,
    /// Which provider issues its invoices.
    pub provider: ProviderKind,
    /// 诺诺 settings (self-use app or third-party authorization).
    pub nuonuo: Option<NuonuoSettings>,
    /// 百望云 settings.
    pub baiwang: Option<BaiwangSettings>,
    /// The order-token key: tokens of this seller verify under it only.
    pub merchant_key: Secret,
    /// 开票人.
    pub clerk: Option<String>,
    /// 销方地址.
    pub address: Option<String>,
    /// 销方电话.
    pub phone: Option<String>,
    /// 开户行.
    pub bank: Option<String>,
    /// 银行账号.
    pub bank_account: Option<String>,
    /// Where this seller's status events are posted.
    pub webhook_url: Option<String>,
    /// The HMAC key of this seller's `Fapiao-Signature`.
    pub webhook_secret: Option<Secret>,
    /// Origins of the pages that may post this seller's orders (empty: any the
    /// deployment allows).
    pub allowed_origins: Vec<String>,
    /// The invoice types offered: `normal` (数电普票), `special` (数电专票).
    pub invoice_types: Vec<String>,
    /// The operators (names of `FAPIAO_OPERATOR_KEYS`) that may submit and see
    /// this seller's batches. With a sellers file an operator acts only for the
    /// sellers that name it.
    pub operators: Vec<String>,
}

impl Seller {
    /// The single-seller settings as a seller.
    pub fn from_config(c: &Config) -> Seller {
        Seller {
            tax_id: c.seller_tax_id.clone(),
            name: c.seller_name.clone(),
            provider: c.provider,
            nuonuo: c.nuonuo.clone(),
            baiwang: c.baiwang.clone(),
            merchant_key: c.merchant_key.clone(),
            clerk: c.nuonuo.as_ref().map(|n| n.clerk.clone()),
            address: None,
            phone: None,
            bank: None,
            bank_account: None,
            webhook_url: c.hooks.webhook_url.clone(),
            webhook_secret: c.hooks.webhook_secret.clone(),
            allowed_origins: c.allowed_origins.clone(),
            invoice_types: vec!["normal".into(), "special".into()],
            operators: c.operator_keys.iter().map(|k| k.name.clone()).collect(),
        }
    }

    /// What a page may show of the seller: nothing secret.
    pub fn public(&self) -> serde_json::Value {
        serde_json::json!({
            "taxId": self.tax_id,
            "name": self.name,
            "invoiceTypes": self.invoice_types,
        })
    }

    /// A digest of everything the seller's provider client is built from
    /// (secrets included): a reload keeps the client (and its cached token)
    /// when this is unchanged.
    pub fn provider_fingerprint(&self) -> String {
        use sha2::Digest;
        let mut text = format!(
            "{:?}|{:?}|{:?}|{:?}",
            self.tax_id, self.name, self.provider, self.nuonuo
        );
        text.push_str(&format!("{:?}", self.baiwang));
        for s in [
            self.nuonuo.as_ref().map(|n| n.app_secret.expose()),
            self.baiwang.as_ref().map(|b| b.app_secret.expose()),
            self.baiwang.as_ref().map(|b| b.password.expose()),
            self.baiwang.as_ref().map(|b| b.salt.expose()),
        ]
        .into_iter()
        .flatten()
        {
            text.push('|');
            text.push_str(s);
        }
        sha2::Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The order key of `order_id` at `seller` (see the module documentation).
pub fn order_key(home: &str, seller: &str, order_id: &str) -> String {
    if seller == home {
        order_id.to_owned()
    } else {
        format!("{seller}:{order_id}")
    }
}

/// The seller (`None`: the home seller) and the order id of an order key.
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once(':') {
        Some((seller, id)) => (Some(seller), id),
        None => (None, key),
    }
}

/// The order id of an order key.
pub fn order_id_of(key: &str) -> &str {
    split_key(key).1
}

// ---------------------------------------------------------------- the file

struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, at: &str, what: impl AsRef<str>) {
        self.0.push(format!("{at}: {}", what.as_ref()));
    }
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads a table's keys, remembering which were used, so that unknown keys
/// (a typo) are reported.
struct Table<'a> {
    at: String,
    t: &'a toml::Table,
    used: std::cell::RefCell<Vec<String>>,
    dir: &'a Path,
    env: Lookup<'a>,
}

impl<'a> Table<'a> {
    fn new(at: String, t: &'a toml::Table, dir: &'a Path, env: Lookup<'a>) -> Table<'a> {
        Table {
            at,
            t,
            used: Default::default(),
            dir,
            env,
        }
    }

    fn mark(&self, k: &str) {
        self.used.borrow_mut().push(k.to_owned());
    }

    fn str(&self, k: &str, p: &mut Problems) -> Option<String> {
        self.mark(k);
        match self.t.get(k) {
            None => None,
            Some(toml::Value::String(s)) if s.trim().is_empty() => None,
            Some(toml::Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => {
                p.add(&format!("{}.{k}", self.at), "must be a string");
                None
            }
        }
    }

    fn required(&self, k: &str, p: &mut Problems) -> Option<String> {
        let v = self.str(k, p);
        if v.is_none() && self.t.get(k).is_none_or(|v| v.is_str()) {
            p.add(&format!("{}.{k}", self.at), "required");
        }
        v
    }

    fn int(&self, k: &str, p: &mut Problems) -> Option<u64> {
        self.mark(k);
        match self.t.get(k) {
            None => None,
            Some(toml::Value::Integer(i)) if *i >= 0 => Some(*i as u64),
            Some(_) => {
                p.add(&format!("{}.{k}", self.at), "must be a whole number (0 or more)");
                None
            }
        }
    }

    fn bool(&self, k: &str, p: &mut Problems) -> Option<bool> {
        self.mark(k);
        match self.t.get(k) {
            None => None,
            Some(toml::Value::Boolean(b)) => Some(*b),
            Some(_) => {
                p.add(&format!("{}.{k}", self.at), "must be true or false");
                None
            }
        }
    }

    fn list(&self, k: &str, p: &mut Problems) -> Option<Vec<String>> {
        self.mark(k);
        match self.t.get(k) {
            None => None,
            Some(toml::Value::Array(a)) if a.iter().all(|x| x.is_str()) => Some(
                a.iter()
                    .filter_map(|x| x.as_str())
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
            Some(_) => {
                p.add(&format!("{}.{k}", self.at), "must be a list of strings");
                None
            }
        }
    }

    /// A secret: `k` itself, `k_file` (a path, relative to the sellers file) or
    /// `k_env` (an environment variable).
    fn secret(&self, k: &str, p: &mut Problems) -> Option<Secret> {
        let at = format!("{}.{k}", self.at);
        let direct = self.str(k, p);
        let file = self.str(&format!("{k}_file"), p);
        let env = self.str(&format!("{k}_env"), p);
        if [direct.is_some(), file.is_some(), env.is_some()]
            .iter()
            .filter(|x| **x)
            .count()
            > 1
        {
            p.add(&at, format!("give one of {k}, {k}_file, {k}_env"));
            return None;
        }
        if let Some(v) = direct {
            return Some(Secret::new(v));
        }
        if let Some(path) = file {
            let full = self.dir.join(&path);
            return match std::fs::read_to_string(&full) {
                Ok(t) if !t.trim().is_empty() => Some(Secret::new(t.trim())),
                Ok(_) => {
                    p.add(&format!("{at}_file"), format!("{path} is empty"));
                    None
                }
                Err(e) => {
                    p.add(&format!("{at}_file"), format!("cannot read {path}: {}", e.kind()));
                    None
                }
            };
        }
        if let Some(var) = env {
            return match (self.env)(&var).filter(|v| !v.trim().is_empty()) {
                Some(v) => Some(Secret::new(v.trim())),
                None => {
                    p.add(
                        &format!("{at}_env"),
                        format!("the environment variable {var} is not set"),
                    );
                    None
                }
            };
        }
        None
    }

    fn required_secret(&self, k: &str, p: &mut Problems) -> Option<Secret> {
        let before = p.0.len();
        let s = self.secret(k, p);
        if s.is_none() && p.0.len() == before {
            p.add(
                &format!("{}.{k}", self.at),
                format!("required ({k}, {k}_file or {k}_env)"),
            );
        }
        s
    }

    fn url(&self, k: &str, default: Option<&str>, p: &mut Problems) -> Option<String> {
        let v = self.str(k, p).or(default.map(str::to_owned))?;
        if !(v.starts_with("https://") || v.starts_with("http://")) || reqwest::Url::parse(&v).is_err() {
            p.add(&format!("{}.{k}", self.at), format!("“{v}” is not an http(s) URL"));
            return None;
        }
        Some(v)
    }

    fn prefix(&self, k: &str, p: &mut Problems) -> String {
        match self.str(k, p) {
            None => String::new(),
            Some(v)
                if (1..=10).contains(&v.len())
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                v
            }
            Some(_) => {
                p.add(&format!("{}.{k}", self.at), "1 to 10 letters, digits, “-” or “_”");
                String::new()
            }
        }
    }

    fn ms(&self, k: &str, default: u64, p: &mut Problems) -> Duration {
        Duration::from_millis(self.int(k, p).unwrap_or(default).max(1))
    }

    fn unknown(&self, p: &mut Problems) {
        let used = self.used.borrow();
        for k in self.t.keys() {
            if !used.iter().any(|u| u == k) {
                p.add(&format!("{}.{k}", self.at), "unknown setting");
            }
        }
    }
}

fn nuonuo_settings(t: &Table, clerk: Option<&str>, p: &mut Problems) -> Option<NuonuoSettings> {
    let mode = t.str("mode", p).unwrap_or_else(|| "self".into());
    let isv = match mode.as_str() {
        "self" => false,
        "isv" => true,
        other => {
            p.add(&format!("{}.mode", t.at), format!("“{other}” is neither self nor isv"));
            false
        }
    };
    let app_key = t.required("app_key", p);
    let app_secret = t.required_secret("app_secret", p);
    let gateway_url = t.url("gateway_url", Some("https://sdk.nuonuo.com/open/v1/services"), p);
    let token_url = t.url("token_url", Some("https://open.nuonuo.com/accessToken"), p);
    let callback_url = t.url("callback_url", None, p);
    let redirect_uri = t.url("redirect_uri", None, p);
    let authorize_url = t.url("authorize_url", Some(NUONUO_AUTHORIZE_URL), p);
    if isv && redirect_uri.is_none() && !t.t.contains_key("redirect_uri") {
        p.add(
            &format!("{}.redirect_uri", t.at),
            "required with mode = \"isv\" (the app's redirect URI, e.g. https://…/v1/callbacks/nuonuo/authorized)",
        );
    }
    let order_prefix = t.prefix("order_prefix", p);
    let token_retry_base = t.ms("token_retry_base_ms", 60_000, p);
    let token_retry_max = t.ms("token_retry_max_ms", 1_800_000, p);
    let show_seller_bank = t.bool("show_seller_bank", p).unwrap_or(false);
    let token_quota = t.int("token_quota", p).unwrap_or(NUONUO_TOKEN_QUOTA as u64).min(10_000) as u32;
    let table_clerk = t.str("clerk", p);
    t.unknown(p);
    Some(NuonuoSettings {
        gateway_url: gateway_url?,
        token_url: token_url?,
        app_key: app_key?,
        app_secret: app_secret?,
        clerk: table_clerk
            .or(clerk.map(str::to_owned))
            .unwrap_or_else(|| "开票员".into()),
        callback_url,
        order_prefix,
        token_retry_base,
        token_retry_max,
        show_seller_bank,
        isv,
        redirect_uri,
        authorize_url: authorize_url?,
        token_quota,
        seller_address: None,
        seller_phone: None,
        seller_bank: None,
    })
}

fn baiwang_settings(t: &Table, clerk: Option<&str>, p: &mut Problems) -> Option<BaiwangSettings> {
    let gateway_url = t.url("gateway_url", Some("https://openapi.baiwang.com/router/rest"), p);
    let token_url = t.url("token_url", gateway_url.as_deref(), p);
    let app_key = t.required("app_key", p);
    let app_secret = t.required_secret("app_secret", p);
    let username = t.required("username", p);
    let password = t.required_secret("password", p);
    let salt = t.required_secret("salt", p);
    let drawer = t.str("drawer", p);
    let terminal = t.str("terminal", p);
    let order_prefix = t.prefix("order_prefix", p);
    let token_retry_base = t.ms("token_retry_base_ms", 60_000, p);
    let token_retry_max = t.ms("token_retry_max_ms", 1_800_000, p);
    t.unknown(p);
    Some(BaiwangSettings {
        gateway_url: gateway_url?,
        token_url: token_url?,
        app_key: app_key?,
        app_secret: app_secret?,
        username: username?,
        password: password?,
        salt: salt?,
        drawer: drawer.or(clerk.map(str::to_owned)).unwrap_or_else(|| "开票员".into()),
        terminal,
        order_prefix,
        token_retry_base,
        token_retry_max,
    })
}

fn check_tax_id(v: &str) -> Result<String, String> {
    let v = v.trim().to_ascii_uppercase();
    if !(15..=20).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("“{v}” is not a taxpayer ID (15 to 20 letters and digits)"));
    }
    Ok(v)
}

fn check_origin(o: &str) -> bool {
    match o.strip_prefix("https://").or_else(|| o.strip_prefix("http://")) {
        Some(host) => !host.is_empty() && !host.contains('/'),
        None => false,
    }
}

/// The sellers of a sellers file, the home seller first; every problem on a
/// line of its own otherwise. Environment references (`…_env`) are read with
/// `env`; file references are relative to the sellers file.
pub fn load_file(path: &Path, env: Lookup) -> Result<Vec<Seller>, Vec<String>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("FAPIAO_SELLERS_FILE: cannot read {shown}: {}", e.kind())])?;
    parse(&text, path.parent().unwrap_or(Path::new(".")), env)
        .map_err(|ps| ps.into_iter().map(|l| format!("{shown}: {l}")).collect())
}

/// Like [`load_file`] from the file's text; `dir` is where `…_file` paths are relative to.
pub fn parse(text: &str, dir: &Path, env: Lookup) -> Result<Vec<Seller>, Vec<String>> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| vec![format!("not valid TOML: {}", e.message().trim())])?;
    let mut p = Problems(Vec::new());
    for k in doc.keys().filter(|k| *k != "seller") {
        p.add(k, "unknown setting (each seller is a [[seller]] table)");
    }
    let Some(list) = doc.get("seller").and_then(|v| v.as_array()) else {
        return Err(vec!["no [[seller]] table".into()]);
    };
    let mut out: Vec<(bool, Seller)> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let Some(tbl) = v.as_table() else {
            p.add(&format!("seller[{}]", i + 1), "must be a table");
            continue;
        };
        let label = tbl
            .get("tax_id")
            .and_then(|t| t.as_str())
            .map(|t| format!("seller[{}] ({})", i + 1, t.trim()))
            .unwrap_or_else(|| format!("seller[{}]", i + 1));
        let t = Table::new(label.clone(), tbl, dir, env);
        let tax_id = t.required("tax_id", &mut p).and_then(|v| match check_tax_id(&v) {
            Ok(v) => Some(v),
            Err(e) => {
                p.add(&format!("{label}.tax_id"), e);
                None
            }
        });
        let name = t.required("name", &mut p);
        let home = t.bool("home", &mut p).unwrap_or(false);
        let provider = match t.str("provider", &mut p).as_deref() {
            None | Some("sandbox") => Some(ProviderKind::Sandbox),
            Some("nuonuo") => Some(ProviderKind::Nuonuo),
            Some("baiwang") => Some(ProviderKind::Baiwang),
            Some(other) => {
                p.add(
                    &format!("{label}.provider"),
                    format!("“{other}” is none of sandbox, nuonuo, baiwang"),
                );
                None
            }
        };
        let merchant_key = t.required_secret("merchant_key", &mut p).and_then(|k| {
            if k.expose().len() < 32 {
                p.add(&format!("{label}.merchant_key"), "must have at least 32 characters");
                None
            } else {
                Some(k)
            }
        });
        let clerk = t.str("clerk", &mut p);
        let address = t.str("address", &mut p);
        let phone = t.str("phone", &mut p);
        let bank = t.str("bank", &mut p);
        let bank_account = t.str("bank_account", &mut p);
        let webhook_url = t.url("webhook_url", None, &mut p);
        let webhook_secret = t.secret("webhook_secret", &mut p);
        match (&webhook_url, &webhook_secret) {
            (Some(_), None) => p.add(
                &format!("{label}.webhook_secret"),
                "required with webhook_url (webhook_secret, webhook_secret_file or webhook_secret_env)",
            ),
            (_, Some(s)) if s.expose().len() < 16 => {
                p.add(&format!("{label}.webhook_secret"), "must have at least 16 characters")
            }
            _ => {}
        }
        let allowed_origins: Vec<String> = t
            .list("allowed_origins", &mut p)
            .unwrap_or_default()
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
        for o in &allowed_origins {
            if !check_origin(o) {
                p.add(
                    &format!("{label}.allowed_origins"),
                    format!("“{o}” is not an origin like https://shop.example.com"),
                );
            }
        }
        let invoice_types = t
            .list("invoice_types", &mut p)
            .unwrap_or_else(|| vec!["normal".into(), "special".into()]);
        for ty in &invoice_types {
            if !matches!(ty.as_str(), "normal" | "special") {
                p.add(
                    &format!("{label}.invoice_types"),
                    format!("“{ty}” is neither normal (数电普票) nor special (数电专票)"),
                );
            }
        }
        let operators = t.list("operators", &mut p).unwrap_or_default();
        for o in &operators {
            if !crate::operator::valid_name(o) {
                p.add(
                    &format!("{label}.operators"),
                    format!("“{o}” is not an operator name (1 to 64 letters, digits, . _ - @)"),
                );
            }
        }
        if invoice_types.is_empty() {
            p.add(&format!("{label}.invoice_types"), "offers no invoice type");
        }
        let sub = |k: &str, p: &mut Problems| -> Option<&toml::Table> {
            t.mark(k);
            match tbl.get(k) {
                None => None,
                Some(toml::Value::Table(s)) => Some(s),
                Some(_) => {
                    p.add(&format!("{label}.{k}"), "must be a table ([seller.{k}])");
                    None
                }
            }
        };
        let nn_table = sub("nuonuo", &mut p);
        let bw_table = sub("baiwang", &mut p);
        let mut nuonuo = None;
        let mut baiwang = None;
        match provider {
            Some(ProviderKind::Nuonuo) => match nn_table {
                Some(n) => {
                    let nt = Table::new(format!("{label}.nuonuo"), n, dir, env);
                    nuonuo = nuonuo_settings(&nt, clerk.as_deref(), &mut p).map(|mut s| {
                        s.seller_address = address.clone();
                        s.seller_phone = phone.clone();
                        s.seller_bank = match (&bank, &bank_account) {
                            (None, None) => None,
                            (b, a) => Some(
                                format!("{} {}", b.as_deref().unwrap_or(""), a.as_deref().unwrap_or(""))
                                    .trim()
                                    .to_owned(),
                            ),
                        };
                        s
                    });
                }
                None => p.add(&format!("{label}.nuonuo"), "required with provider = \"nuonuo\""),
            },
            Some(ProviderKind::Baiwang) => match bw_table {
                Some(b) => {
                    let bt = Table::new(format!("{label}.baiwang"), b, dir, env);
                    baiwang = baiwang_settings(&bt, clerk.as_deref(), &mut p);
                }
                None => p.add(&format!("{label}.baiwang"), "required with provider = \"baiwang\""),
            },
            _ => {}
        }
        if nn_table.is_some() && provider != Some(ProviderKind::Nuonuo) {
            p.add(&format!("{label}.nuonuo"), "given, but the provider is not nuonuo");
        }
        if bw_table.is_some() && provider != Some(ProviderKind::Baiwang) {
            p.add(&format!("{label}.baiwang"), "given, but the provider is not baiwang");
        }
        t.unknown(&mut p);
        let (Some(tax_id), Some(name), Some(provider), Some(merchant_key)) = (tax_id, name, provider, merchant_key)
        else {
            continue;
        };
        let complete = match provider {
            ProviderKind::Nuonuo => nuonuo.is_some(),
            ProviderKind::Baiwang => baiwang.is_some(),
            ProviderKind::Sandbox => true,
        };
        if complete {
            out.push((
                home,
                Seller {
                    tax_id,
                    name,
                    provider,
                    nuonuo,
                    baiwang,
                    merchant_key,
                    clerk,
                    address,
                    phone,
                    bank,
                    bank_account,
                    webhook_url,
                    webhook_secret,
                    allowed_origins,
                    invoice_types,
                    operators,
                },
            ));
        }
    }
    // Across sellers: one tax ID each, one merchant key each (a shared key would
    // let one seller's back end sign for another), one home.
    for (i, (_, a)) in out.iter().enumerate() {
        for (_, b) in &out[i + 1..] {
            if a.tax_id == b.tax_id {
                p.add(&format!("seller {}", a.tax_id), "listed more than once");
            } else if a.merchant_key.expose() == b.merchant_key.expose() {
                p.add(
                    &format!("seller {}", b.tax_id),
                    format!("merchant_key is the same as {}'s: each seller needs its own", a.tax_id),
                );
            }
        }
    }
    if out.iter().filter(|(h, _)| *h).count() > 1 {
        p.add("home", "more than one seller has home = true");
    }
    if !p.0.is_empty() {
        return Err(p.0);
    }
    if out.is_empty() {
        return Err(vec!["no [[seller]] table".into()]);
    }
    let home = out.iter().position(|(h, _)| *h).unwrap_or(0);
    let first = out.remove(home);
    let mut sellers = vec![first.1];
    sellers.extend(out.into_iter().map(|(_, s)| s));
    Ok(sellers)
}

// ---------------------------------------------------------------- at run time

/// A seller with its provider client and circuit breaker.
pub struct Entry {
    /// The seller.
    pub seller: Arc<Seller>,
    /// Its provider client.
    pub provider: Arc<dyn Provider>,
    /// The circuit breaker around that provider.
    pub breaker: Arc<Breaker>,
    fingerprint: String,
}

/// The sellers in force: a snapshot, replaced as a whole by a reload.
pub struct SellerSet {
    /// The home seller's tax ID (its order keys are the order ids).
    pub home: String,
    /// By tax ID.
    pub by_tax: BTreeMap<String, Arc<Entry>>,
    /// The tax IDs in the order of the file (home first).
    pub order: Vec<String>,
}

impl SellerSet {
    /// The seller with this tax ID.
    pub fn get(&self, tax_id: &str) -> Option<&Arc<Entry>> {
        self.by_tax.get(tax_id)
    }

    /// The seller an order key belongs to.
    pub fn of_key(&self, key: &str) -> Option<&Arc<Entry>> {
        self.by_tax.get(self.seller_of_key(key))
    }

    /// The tax ID of an order key's seller.
    pub fn seller_of_key<'a>(&'a self, key: &'a str) -> &'a str {
        split_key(key).0.unwrap_or(&self.home)
    }

    /// The order key of `order_id` at `seller`.
    pub fn key(&self, seller: &str, order_id: &str) -> String {
        order_key(&self.home, seller, order_id)
    }

    /// The sellers, home first.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.order.iter().filter_map(|t| self.by_tax.get(t))
    }

    /// True when the origin may post orders of some seller.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.all().any(|e| e.seller.allowed_origins.iter().any(|o| o == origin))
    }
}

/// The sellers of a running proxy; [`Registry::reload`] swaps them.
pub struct Registry {
    current: RwLock<Arc<SellerSet>>,
    reload_lock: tokio::sync::Mutex<()>,
}

/// Builds the provider client of a seller.
pub type ProviderFactory<'a> = &'a (dyn Fn(&Seller) -> Result<Arc<dyn Provider>, String> + Sync);

/// A new provider client and breaker for `seller`, or the problem, naming the seller.
fn fresh(config: &Config, make: ProviderFactory, seller: &Seller) -> Result<(Arc<dyn Provider>, Arc<Breaker>), String> {
    let provider = make(seller).map_err(|e| format!("seller {}: {e}", seller.tax_id))?;
    Ok((
        provider,
        Arc::new(Breaker::new(config.breaker_threshold, config.breaker_cooldown)),
    ))
}

impl Registry {
    /// The sellers given; `home_provider` and `home_breaker` serve the home
    /// seller when it is `sellers[0]` (the provider a test hands to
    /// [`crate::App::start_with`]); the others' clients come from `make`.
    pub fn new(
        config: &Config,
        home: String,
        sellers: &[Seller],
        home_provider: Arc<dyn Provider>,
        home_breaker: Arc<Breaker>,
        make: ProviderFactory,
    ) -> Result<Registry, Vec<String>> {
        let mut by_tax = BTreeMap::new();
        let mut order = Vec::new();
        let mut problems = Vec::new();
        for (i, s) in sellers.iter().enumerate() {
            let (provider, breaker) = if i == 0 {
                (home_provider.clone(), home_breaker.clone())
            } else {
                match fresh(config, make, s) {
                    Ok(pb) => pb,
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                }
            };
            order.push(s.tax_id.clone());
            by_tax.insert(
                s.tax_id.clone(),
                Arc::new(Entry {
                    fingerprint: s.provider_fingerprint(),
                    seller: Arc::new(s.clone()),
                    provider,
                    breaker,
                }),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Registry {
            current: RwLock::new(Arc::new(SellerSet { home, by_tax, order })),
            reload_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The sellers in force now.
    pub fn get(&self) -> Arc<SellerSet> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `sellers` in force. A seller whose provider settings are unchanged
    /// keeps its client, breaker and cached token; orders in flight keep the
    /// client they hold. Orders of a seller no longer listed stay stored and
    /// wait (the worker keeps them queued) until it is listed again.
    pub async fn reload(
        &self,
        config: &Config,
        sellers: Vec<Seller>,
        make: ProviderFactory<'_>,
    ) -> Result<Vec<String>, Vec<String>> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let old = self.get();
        let mut by_tax = BTreeMap::new();
        let mut order = Vec::new();
        let mut problems = Vec::new();
        for s in sellers {
            let fp = s.provider_fingerprint();
            let (provider, breaker) = match old.by_tax.get(&s.tax_id) {
                Some(e) if e.fingerprint == fp => (e.provider.clone(), e.breaker.clone()),
                _ => match fresh(config, make, &s) {
                    Ok(pb) => pb,
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                },
            };
            order.push(s.tax_id.clone());
            by_tax.insert(
                s.tax_id.clone(),
                Arc::new(Entry {
                    fingerprint: fp,
                    seller: Arc::new(s),
                    provider,
                    breaker,
                }),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let names = order.clone();
        let set = SellerSet {
            home: old.home.clone(),
            by_tax,
            order,
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(names)
    }
}

/// The home seller recorded in the store, or `proposed` recorded now (first start).
pub async fn home_of(store: &Store, proposed: &str) -> Result<String, String> {
    match store.kv_get(HOME_KEY).await {
        Ok(Some((v, _))) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Ok(_) => {
            store
                .kv_set(HOME_KEY, proposed)
                .await
                .map_err(|e| format!("FAPIAO_DATABASE_URL: {e}"))?;
            Ok(proposed.to_owned())
        }
        Err(e) => Err(format!("FAPIAO_DATABASE_URL: {e}")),
    }
}

/// The sellers a configuration names, read again (for a reload): the sellers
/// file when there is one, else the single seller of `config`.
pub fn reread(config: &Config, env: Lookup) -> Result<Vec<Seller>, Vec<String>> {
    match &config.sellers_file {
        Some(path) => load_file(path, env),
        None => Ok(vec![Seller::from_config(config)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == "B_KEY").then(|| "b".repeat(40))
    }

    #[test]
    fn keys_split_back() {
        assert_eq!(order_key("A", "A", "X-1"), "X-1");
        assert_eq!(order_key("A", "B", "X-1"), "B:X-1");
        assert_eq!(split_key("B:X-1"), (Some("B"), "X-1"));
        assert_eq!(split_key("X-1"), (None, "X-1"));
    }

    #[test]
    fn every_problem_on_its_own_line() {
        let text = r#"
[[seller]]
tax_id = "short"
provider = "nuonuo"
merchant_key = "tiny"
colour = "red"
invoice_types = ["normal", "paper"]
[seller.nuonuo]
app_key = "k"

[[seller]]
tax_id = "91330100MA2H000002"
name = "B"
merchant_key_env = "MISSING"
webhook_url = "https://b.example/hooks"
"#;
        let e = parse(text, Path::new("."), &env).unwrap_err();
        let want = [
            "seller[1] (short).tax_id: “SHORT” is not a taxpayer ID",
            "seller[1] (short).name: required",
            "seller[1] (short).merchant_key: must have at least 32 characters",
            "seller[1] (short).invoice_types: “paper”",
            "seller[1] (short).nuonuo.app_secret: required",
            "seller[1] (short).colour: unknown setting",
            "seller[2] (91330100MA2H000002).merchant_key_env: the environment variable MISSING is not set",
            "seller[2] (91330100MA2H000002).webhook_secret: required with webhook_url",
        ];
        for w in want {
            assert!(e.iter().any(|l| l.starts_with(w)), "missing “{w}” in {e:#?}");
        }
        assert_eq!(e.len(), want.len(), "{e:#?}");
    }

    #[test]
    fn a_third_party_app_needs_its_redirect_uri() {
        let text = format!(
            "[[seller]]\ntax_id = \"91330100MA2H000001\"\nname = \"A\"\nprovider = \"nuonuo\"\nmerchant_key = \"{}\"\n\
             [seller.nuonuo]\nmode = \"isv\"\napp_key = \"k\"\napp_secret = \"s\"\n",
            "a".repeat(32)
        );
        let e = parse(&text, Path::new("."), &env).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("seller[1] (91330100MA2H000001).nuonuo.redirect_uri: required"),
            "{e:?}"
        );
        let ok = text.replace(
            "mode = \"isv\"",
            "mode = \"isv\"\nredirect_uri = \"https://x.example/cb\"",
        );
        let s = parse(&ok, Path::new("."), &env).unwrap();
        let n = s[0].nuonuo.as_ref().unwrap();
        assert!(n.isv && n.token_quota == NUONUO_TOKEN_QUOTA && n.authorize_url == NUONUO_AUTHORIZE_URL);
    }

    #[test]
    fn home_first_and_secrets_by_reference() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.key"), format!("{}\n", "a".repeat(40))).unwrap();
        let text = r#"
[[seller]]
tax_id = "91330100MA2H000001"
name = "A"
merchant_key_file = "a.key"
invoice_types = ["normal"]

[[seller]]
tax_id = "91330100MA2H000002"
name = "B"
home = true
merchant_key_env = "B_KEY"
"#;
        let s = parse(text, dir.path(), &env).unwrap();
        assert_eq!(s[0].tax_id, "91330100MA2H000002");
        assert_eq!(s[1].merchant_key.expose(), "a".repeat(40));
        assert_eq!(s[1].invoice_types, ["normal"]);
        assert_eq!(s[1].public()["invoiceTypes"], serde_json::json!(["normal"]));
        assert!(!s[1].public().to_string().contains(&"a".repeat(40)));
        let same = text.replace("merchant_key_env = \"B_KEY\"", "merchant_key_file = \"a.key\"");
        let e = parse(&same, dir.path(), &env).unwrap_err();
        assert!(e[0].contains("its own"), "{e:?}");
    }
}
