//! `fapiao-proxy` — serve (default) or mint an order token (`fapiao-proxy token`).

use std::io::Read;
use std::process::ExitCode;

use fapiao::amount::money::format_money;
use fapiao::amount::{compute_invoice, InvoiceInput, LineInput};
use fapiao_proxy::token::{self, Claims, Purpose, TokenTotals};
use fapiao_proxy::{config, App, Config};

const HELP: &str = "fapiao-proxy — the server between web pages and the 数电发票 provider

USAGE:
  fapiao-proxy [serve]            start the server (settings from FAPIAO_* variables, see README)
  fapiao-proxy token [OPTIONS]    print an order token signed with FAPIAO_MERCHANT_KEY (or with
                                  the key of the seller given by --seller TAXID in FAPIAO_SELLERS_FILE)
  fapiao-proxy webhooks replay --from YYYY-MM-DD --to YYYY-MM-DD [--order-id ID]
                                  send the events created in the range again (same ids)
  fapiao-proxy reconcile --from YYYY-MM-DD --to YYYY-MM-DD [--json] [--seller TAXID]
                                  compare with the provider, repair what is safe, report the rest
                                  (every seller, each against its own provider account, or one)
  fapiao-proxy archive export --from YYYY-MM-DD --to YYYY-MM-DD --out DIR [--seller TAXID]
                                  copy the archived files of invoices issued in the range,
                                  checksums verified, with index.csv and index.json (one seller;
                                  with several sellers and no --seller, one folder DIR/TAXID each)
  fapiao-proxy selftest [--json] [--production --max-invoices N] [--buyer-name NAME] [--seller TAXID]
                        [--buyer-tax-id ID] [--email ADDR] [--poll-ms MS]
                                  try every capability against the provider's test environment:
                                  token, a 普票 and a 专票, query, files, delivery, partial and
                                  full red, the day's listing; exit 0 all passed, 1 one failed,
                                  2 not run (a production gateway needs --production --max-invoices N)
  Dates are China time and inclusive.
  fapiao-proxy operator-key NAME  print a fresh operator key for NAME and the line to add to
                                  FAPIAO_OPERATOR_KEYS (only the key's SHA-256 is configured)
  fapiao-proxy batch submit FILE [--dry-run] [--name NAME] [--client-batch-id ID] [--seller TAXID] [--wait]
                                  FILE: .xlsx / .csv (UTF-8 or GBK) in the batch template's layout,
                                  checked cell by cell as the batch page does, or .json IssueForms
  fapiao-proxy batch status ID [--json]
  fapiao-proxy batch export ID --out FILE.xlsx|.csv|.json
  fapiao-proxy batch template --out FILE.xlsx|.csv
  fapiao-proxy batch list         batches through a running proxy (--url or FAPIAO_URL, the key
                                  from FAPIAO_OPERATOR_KEY); see fapiao-proxy batch --help

TOKEN OPTIONS:
  --order-id ID          the order (required)
  --ttl SECONDS          validity, default 3600
  --price-includes-tax   the lines' amounts include VAT
  --red --blue-order-id ID [--total AMOUNT]
                         a red-letter token for order ID against the blue order
  The lines (issuing tokens) are read from standard input as JSON: either an array of
  lines ({name, taxCode, quantity, unitPrice, amount, taxRate, kind}) or an object
  {priceIncludesTax, lines}.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve(),
        Some("token") => match mint(&args[1..]) {
            Ok(t) => {
                println!("{t}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("fapiao-proxy token: {e}");
                ExitCode::from(2)
            }
        },
        Some("webhooks") | Some("reconcile") | Some("archive") => match job(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("fapiao-proxy {}: {e}", args[0]);
                ExitCode::from(2)
            }
        },
        Some("selftest") => selftest(&args[1..]),
        Some("operator-key") => match args.get(1).map(String::as_str) {
            Some(name) if args.len() == 2 => match fapiao_proxy::operator::generate(name) {
                Some((key, line)) => {
                    eprintln!("The key for {name} (shown once; give it to {name}, keep it out of files and logs):");
                    println!("{key}");
                    eprintln!("Add this line to FAPIAO_OPERATOR_KEYS (comma-separated) or FAPIAO_OPERATOR_KEYS_FILE (one per line):");
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("fapiao-proxy operator-key: “{name}” is not a name (1 to 64 letters, digits, . _ - @)");
                    ExitCode::from(2)
                }
            },
            _ => {
                eprintln!("fapiao-proxy operator-key NAME");
                ExitCode::from(2)
            }
        },
        Some("batch") => batch(&args[1..]),
        Some("-h") | Some("--help") | Some("help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("fapiao-proxy: unknown command “{other}” (try --help)");
            ExitCode::from(2)
        }
    }
}

/// `fapiao-proxy batch …` (see [`fapiao_proxy::cli`]).
fn batch(args: &[String]) -> ExitCode {
    if args.is_empty() || matches!(args[0].as_str(), "-h" | "--help" | "help") {
        print!("{}", fapiao_proxy::cli::USAGE);
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fapiao-proxy batch: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fapiao_proxy::cli::run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("fapiao-proxy batch: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn mint(args: &[String]) -> Result<String, String> {
    let seller = args
        .iter()
        .position(|a| a == "--seller")
        .map(|i| args.get(i + 1).cloned().ok_or("--seller needs a value"))
        .transpose()?;
    let config = Config::minting_for(&|k| std::env::var(k).ok(), seller.as_deref())?;
    let mut order_id = None;
    let mut ttl: i64 = 3600;
    let mut incl = false;
    let mut red = false;
    let mut blue = None;
    let mut total = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--order-id" => order_id = Some(val("--order-id")?),
            "--ttl" => {
                ttl = val("--ttl")?
                    .parse()
                    .map_err(|_| "--ttl: not a number of seconds".to_owned())?
            }
            "--price-includes-tax" => incl = true,
            "--red" => red = true,
            "--blue-order-id" => blue = Some(val("--blue-order-id")?),
            "--total" => total = Some(val("--total")?),
            "--seller" => {
                val("--seller")?;
            }
            other => return Err(format!("unknown option “{other}”")),
        }
    }
    let order_id = order_id.ok_or("--order-id is required")?;
    let now = fapiao_proxy::time::now_s();
    let mut claims = Claims {
        v: 1,
        merchant: config.seller_tax_id.clone(),
        order_id,
        issued_at: now,
        expires_at: now + ttl.max(1),
        price_includes_tax: incl,
        merchant_name: config.seller_name.clone().filter(|n| !n.is_empty()),
        ..Default::default()
    };
    if red {
        claims.purpose = Purpose::Red;
        claims.blue_order_id = Some(blue.ok_or("--red needs --blue-order-id")?);
        claims.totals.amount_incl_tax = total;
    } else {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| format!("cannot read the lines: {e}"))?;
        let v: serde_json::Value = serde_json::from_str(&input).map_err(|e| format!("the lines are not JSON: {e}"))?;
        let lines: Vec<LineInput> = if v.is_array() {
            serde_json::from_value(v).map_err(|e| format!("lines: {e}"))?
        } else {
            if let Some(b) = v["priceIncludesTax"].as_bool() {
                claims.price_includes_tax = b;
            }
            if !v["specialBusiness"].is_null() {
                claims.special_business = Some(
                    serde_json::from_value(v["specialBusiness"].clone())
                        .map_err(|e| format!("specialBusiness: {e}"))?,
                );
            }
            serde_json::from_value(v["lines"].clone()).map_err(|e| format!("lines: {e}"))?
        };
        let r = compute_invoice(&InvoiceInput {
            price_includes_tax: claims.price_includes_tax,
            lines: lines.clone(),
            ..Default::default()
        });
        if !r.valid {
            let msgs: Vec<String> = r
                .errors
                .iter()
                .map(|e| format!("{} {}: {}", e.code, e.field, e.message_en))
                .collect();
            return Err(format!("the lines are not valid: {}", msgs.join("; ")));
        }
        claims.lines = lines;
        claims.totals = TokenTotals {
            amount_incl_tax: Some(format_money(r.totals.amount_incl_tax)),
            amount_excl_tax: Some(format_money(r.totals.amount_excl_tax)),
            tax_amount: Some(format_money(r.totals.tax_amount)),
        };
    }
    Ok(token::mint(&config.merchant_key, &claims))
}

/// `webhooks replay`, `reconcile`, `archive export`: jobs on the same database
/// (and provider) as the server, without serving.
/// `fapiao-proxy selftest`: the report on standard output, the exit code for CI.
fn selftest(args: &[String]) -> ExitCode {
    let fail = |code: &str, e: &dyn std::fmt::Display| {
        eprintln!("fapiao-proxy selftest: {code}: {e}");
        ExitCode::from(2)
    };
    // `--seller TAXID`: one seller of the sellers file, with its own provider account.
    let mut args = args.to_vec();
    let seller = match args.iter().position(|a| a == "--seller") {
        Some(i) if i + 1 < args.len() => {
            let t = args.remove(i + 1);
            args.remove(i);
            Some(t.trim().to_ascii_uppercase())
        }
        Some(_) => return fail("USAGE", &"--seller needs a value"),
        None => None,
    };
    let (opts, json_out) = match fapiao_proxy::selftest::parse_args(&args) {
        Ok(v) => v,
        Err(e) => return fail(e.code(), &e),
    };
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail("CONFIG", &e),
    };
    let mut chosen = None;
    if let Some(t) = &seller {
        match config.as_seller(t) {
            Some(s) => chosen = Some(s),
            None => return fail("CONFIG", &format!("--seller: no seller {t} is configured")),
        }
    }
    if let Err(e) = fapiao_proxy::selftest::check(&config, &opts) {
        return fail(e.code(), &e);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail("RUNTIME", &e),
    };
    rt.block_on(async move {
        let store = match fapiao_proxy::store::Store::from_config(&config).await {
            Ok(s) => s,
            Err(e) => return fail("FAPIAO_DATABASE_URL", &e),
        };
        let provider = match &chosen {
            // The seller's own client (a third-party app's token is the seller's).
            Some(s) => {
                let home = config.sellers.first().is_some_and(|h| h.tax_id == s.tax_id);
                fapiao_proxy::provider::for_seller(&config, s, &store, home)
            }
            None => fapiao_proxy::provider::from_config(&config, &store),
        };
        let provider = match provider {
            Ok(p) => p,
            Err(e) => return fail("CONFIG", &e),
        };
        match fapiao_proxy::selftest::run(&config, provider, &opts).await {
            Ok(report) => {
                if json_out {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                } else {
                    print!("{}", report.text());
                }
                if report.passed() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => fail(e.code(), &e),
        }
    })
}

fn job(args: &[String]) -> Result<ExitCode, String> {
    let (cmd, rest) = match (args[0].as_str(), args.get(1).map(String::as_str)) {
        ("webhooks", Some("replay")) => ("replay", &args[2..]),
        ("archive", Some("export")) => ("export", &args[2..]),
        ("reconcile", _) => ("reconcile", &args[1..]),
        _ => return Err("unknown command (try --help)".into()),
    };
    let mut opts = std::collections::HashMap::new();
    let mut json_out = false;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json_out = true,
            "--from" | "--to" | "--out" | "--order-id" | "--seller" => {
                opts.insert(a.clone(), it.next().cloned().ok_or(format!("{a} needs a value"))?);
            }
            other => return Err(format!("unknown option “{other}”")),
        }
    }
    let need = |k: &str| opts.get(k).cloned().ok_or(format!("{k} is required"));
    let (from, to) = fapiao_proxy::ledger::date_range(&need("--from")?, &need("--to")?)?;
    let out = if cmd == "export" {
        Some(std::path::PathBuf::from(need("--out")?))
    } else {
        None
    };
    let order_id = opts.get("--order-id").cloned();
    let seller = opts.get("--seller").map(|s| s.trim().to_ascii_uppercase());
    let config = Config::from_env()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let store =
            fapiao_proxy::store::Store::open(&config.database_path).map_err(|e| format!("FAPIAO_DATABASE_URL: {e}"))?;
        let provider = fapiao_proxy::provider::from_config(&config, &store)?;
        let state = App::state(config, store, provider).await?;
        match cmd {
            "replay" => {
                let n = fapiao_proxy::ledger::replay(&state.store, from, to, order_id)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{n} events marked for sending again (the running server sends them)");
                Ok(ExitCode::SUCCESS)
            }
            "reconcile" => {
                let r = fapiao_proxy::queues::reconcile::run_for(&state, seller.as_deref(), from, to).await;
                if json_out {
                    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                } else {
                    print!("{}", r.table());
                }
                Ok(if r.errors.is_empty() && r.findings.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            _ => {
                let out = out.unwrap_or_default();
                let set = state.sellers.get();
                let dir = state.config.archive_dir();
                // One seller: its files in DIR; several: one folder per seller.
                let targets: Vec<(String, std::path::PathBuf)> = match &seller {
                    Some(t) if set.get(t).is_none() => return Err(format!("--seller: no seller {t} is configured")),
                    Some(t) => vec![(t.clone(), out.clone())],
                    None if set.order.len() == 1 => vec![(set.order[0].clone(), out.clone())],
                    None => set.order.iter().map(|t| (t.clone(), out.join(t))).collect(),
                };
                let mut clean = true;
                for (tax, dest) in targets {
                    let s =
                        fapiao_proxy::queues::archive::export_seller(&state.store, &dir, from, to, &dest, &set, &tax)
                            .await?;
                    println!(
                        "{tax}: {} files written to {} (index.csv, index.json)",
                        s.files,
                        dest.display()
                    );
                    for m in &s.missing {
                        eprintln!("{tax}: not archived: {m}");
                    }
                    for c in &s.corrupt {
                        eprintln!("{tax}: CHECKSUM MISMATCH: {c}");
                    }
                    clean &= s.corrupt.is_empty() && s.missing.is_empty();
                }
                Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
        }
    })
}

fn serve() -> ExitCode {
    let level = match std::env::var("FAPIAO_LOG").unwrap_or_default().as_str() {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    };
    // FAPIAO_LOG_FORMAT=json: one JSON object per line (for Loki, ELK).
    match std::env::var("FAPIAO_LOG_FORMAT").unwrap_or_default().as_str() {
        "json" => tracing_subscriber::fmt()
            .json()
            .with_max_level(level)
            .with_target(false)
            .with_current_span(false)
            .init(),
        _ => tracing_subscriber::fmt()
            .with_max_level(level)
            .with_target(false)
            .init(),
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fapiao-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fapiao-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        if config.merchant_key_generated {
            tracing::warn!("FAPIAO_MERCHANT_KEY is not set: using a key generated for this run (sandbox only); tokens can be had from the demo endpoint only");
        }
        let listen = config.listen;
        let provider = match config.provider {
            config::ProviderKind::Sandbox => "sandbox",
            config::ProviderKind::Nuonuo => "nuonuo",
            config::ProviderKind::Baiwang => "baiwang",
        };
        let db = match &config.postgres {
            Some(url) => fapiao_proxy::secret::redact_url(url.expose()),
            None => format!("sqlite:{}", config.database_path.display()),
        };
        let instance = config.instance_id.clone();
        let app = match App::start(config).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("fapiao-proxy: {e}");
                return ExitCode::from(2);
            }
        };
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("fapiao-proxy: FAPIAO_LISTEN: cannot listen on {listen}: {e}");
                return ExitCode::from(2);
            }
        };
        tracing::info!(%listen, provider, database = %db, %instance, "fapiao-proxy listening on http://{listen}/");
        let shutdown = async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => return ctrl_c.await.unwrap_or(()),
                };
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            #[cfg(not(unix))]
            ctrl_c.await.unwrap_or(());
        };
        // SIGHUP: read the sellers again (as POST /v1/admin/sellers/reload does).
        #[cfg(unix)]
        {
            let state = app.state.clone();
            if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        let _ = state.reload_sellers().await;
                    }
                });
            }
        }
        let router = app.router.clone();
        let served = fapiao_proxy::api::serve::serve(listener, router, fapiao_proxy::api::serve::Timeouts::of(&app.state.config), shutdown).await;
        app.kill();
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fapiao-proxy: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
