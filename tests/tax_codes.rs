//! The tax classification codes through the public API: lookup, hierarchy,
//! search ranking (Chinese, pinyin, code prefix), loading a newer table at run
//! time, and `*简称*名称` item names.
//!
//! [`load`] replaces a process-wide table, so every test that uses the current
//! table holds [`TABLE`] while it runs.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use fapiao::taxcode::search::score;
use fapiao::taxcode::{
    self, check_item_name, format_item_name, load, load_descriptions, lookup, parse_item_name, search,
    validate_tax_code, SearchOptions, TaxCodeTable,
};
use fapiao::Rule;

static TABLE: Mutex<()> = Mutex::new(());

/// Exclusive use of the current table, starting from the embedded one.
fn embedded_table() -> MutexGuard<'static, ()> {
    let guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    taxcode::reset();
    guard
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn limit(n: usize) -> SearchOptions {
    SearchOptions { limit: Some(n) }
}

// ---------------------------------------------------------------- lookup

#[test]
fn lookup_gives_name_short_name_leaf_parent_and_rates() {
    let _t = embedded_table();
    let c = lookup("1010101010000000000").unwrap();
    assert_eq!(c.name, "稻谷");
    assert_eq!(c.short_name, "谷物");
    assert!(c.leaf);
    assert_eq!(c.parent.as_deref(), Some("1010101000000000000"));
    assert_eq!(c.rates, ["0.09"]);
    assert_eq!(c.description, None);

    let s = lookup("1010101000000000000").unwrap();
    assert_eq!((s.name.as_str(), s.leaf), ("谷物", false));

    let root = lookup("6000000000000000000").unwrap();
    assert_eq!(root.parent, None);
    assert!(root.rates.is_empty(), "不征税项目 has no rate");

    assert_eq!(lookup("3040502020000000000").unwrap().rates, ["0.09"]); // 不动产经营租赁
    assert_eq!(lookup("3040502010000000000").unwrap().rates, ["0.13"]); // 有形动产经营租赁
}

#[test]
fn lookup_normalises_and_pads_and_refuses_what_is_not_there() {
    let _t = embedded_table();
    assert_eq!(lookup("３０７ ０４０１").unwrap().code, "3070401000000000000");
    assert_eq!(lookup("3070401").unwrap().name, "餐饮服务");
    assert!(lookup("3070409").is_none());
    assert!(lookup("").is_none());
    assert!(lookup("30704O1").is_none());
    assert!(lookup("30704010000000000000").is_none(), "20 digits");
    assert!(lookup("\u{0}💥").is_none());
}

#[test]
fn blank_short_names_are_taken_from_the_parent() {
    let _t = embedded_table();
    // Blank in the source; the parent is 研发和技术服务 / 物流辅助服务 / 运输服务.
    assert_eq!(lookup("3040102000000000000").unwrap().short_name, "研发和技术服务");
    assert_eq!(lookup("3040405010000000000").unwrap().short_name, "物流辅助服务");
    assert_eq!(lookup("3010501000000000000").unwrap().short_name, "运输服务");
}

// ------------------------------------------------------------- hierarchy

#[test]
fn hierarchy_counts_and_parent_chains() {
    let _t = embedded_table();
    let info = taxcode::info();
    assert_eq!((info.count, info.leaves, info.descriptions), (4205, 3535, 0));
    assert_eq!(info.version.as_deref(), Some("2017-12-18"));
    assert!(info.embedded);

    // 10701011101 液化石油气 → 107010111 → 1070101 → 10701 → 107 → 1
    let mut chain = vec![];
    let mut code = Some("1070101110100000000".to_owned());
    while let Some(c) = code {
        let found = lookup(&c).unwrap();
        chain.push(found.name.clone());
        code = found.parent;
    }
    assert_eq!(
        chain,
        [
            "液化石油气",
            "石油气，相关烃类气石油气",
            "石油制品",
            "石油加工、炼焦及核燃料",
            "石油、化工、医药产品",
            "货物"
        ]
    );
}

#[test]
fn only_leaves_pass_the_line_check() {
    let _t = embedded_table();
    assert_eq!(validate_tax_code(" 3070401000000000000 ").unwrap().name, "餐饮服务");
    let problem = |code: &str| validate_tax_code(code).unwrap_err();
    assert_eq!(problem("3070400000000000000").code(), "TAXCODE_SUMMARY");
    assert!(!problem("3070400000000000000").overridable());
    assert_eq!(problem("3070499000000000000").code(), "TAXCODE_UNKNOWN");
    assert!(
        problem("3070499000000000000").overridable(),
        "a newer table may have it"
    );
    assert_eq!(problem("3070401").code(), "TAXCODE_LENGTH");
    assert_eq!(problem("307040100000000000X").code(), "TAXCODE_CHARSET");
    assert_eq!(problem("").code(), "TAXCODE_EMPTY");
    let issue = problem("3070400000000000000").issue("lines[1].taxCode");
    assert_eq!(issue.field, "lines[1].taxCode");
    assert!(issue.message.contains("汇总项"));
    assert!(issue.message_en.contains("summary code"));
}

// ---------------------------------------------------------------- search

#[test]
fn exact_short_name_first_with_leaves_before_the_summary_row() {
    let _t = embedded_table();
    let hits = search("谷物", &limit(100));
    // Every row whose 简称 is 谷物 scores highest; the summary row 1010101 (名称
    // 谷物) shares the score but comes after the leaves.
    let top: Vec<_> = hits.iter().take_while(|h| h.score == score::EXACT_SHORT_NAME).collect();
    assert!(top.len() > 10);
    assert!(top.iter().all(|h| h.short_name == "谷物"));
    let summary = top.iter().position(|h| h.code == "1010101000000000000").unwrap();
    assert!(top[..summary].iter().all(|h| h.leaf));
    assert!(top[summary..].iter().all(|h| !h.leaf));
    assert_eq!(top[0].code, "1010101010000000000"); // 稻谷, codes in order among leaves
                                                    // Then names starting with 谷物 (谷物细粉 …), then names containing it.
    let after: Vec<u16> = hits[top.len()..].iter().map(|h| h.score).collect();
    assert!(after.windows(2).all(|w| w[0] >= w[1]));
    assert!(hits
        .iter()
        .any(|h| h.name == "谷物细粉" && h.score == score::NAME_PREFIX));
    assert!(hits
        .iter()
        .any(|h| h.name == "种用谷物" && h.score == score::NAME_SUBSTRING));
}

#[test]
fn results_are_ordered_by_score_then_leaf_then_closeness_then_code() {
    let _t = embedded_table();
    for q in ["服务", "shui", "q", "1", "汽车", "jx", "餐饮"] {
        let hits = search(q, &limit(500));
        assert!(!hits.is_empty(), "{q}");
        for w in hits.windows(2) {
            let key = |h: &fapiao::TaxCodeHit| (std::cmp::Reverse(h.score), !h.leaf);
            assert!(key(&w[0]) <= key(&w[1]), "{q}: {:?} before {:?}", w[0], w[1]);
            // Code matches of one rank in code order.
            if key(&w[0]) == key(&w[1]) && [score::EXACT_CODE, score::CODE_PREFIX].contains(&w[0].score) {
                assert!(w[0].code < w[1].code, "{q}: {:?} before {:?}", w[0], w[1]);
            }
        }
        assert_eq!(hits, search(q, &limit(500)), "stable");
    }
    // Among text matches of one rank, the shorter matching name first: what a
    // cashier typing the start of a category means.
    for q in ["餐饮", "canyin", "餐"] {
        let hits = search(q, &limit(10));
        assert_eq!(hits[0].name, "餐饮服务", "{q}: {hits:?}");
    }
    let hits = search("餐饮", &limit(10));
    let names: Vec<&str> = hits
        .iter()
        .filter(|h| h.score == score::NAME_PREFIX && h.leaf)
        .map(|h| h.name.as_str())
        .collect();
    assert!(
        names.windows(2).all(|w| w[0].chars().count() <= w[1].chars().count()),
        "{names:?}"
    );
}

#[test]
fn pinyin_initials_and_full_pinyin() {
    let _t = embedded_table();
    let hits = search("cyfw", &SearchOptions::default());
    assert_eq!(
        (hits[0].name.as_str(), hits[0].score),
        ("餐饮服务", score::EXACT_PINYIN)
    );
    assert_eq!(search("CYFW", &SearchOptions::default())[0].code, hits[0].code);
    assert_eq!(search("ｃｙｆｗ", &SearchOptions::default())[0].code, hits[0].code);

    let hits = search("canyin", &limit(50));
    assert!(
        hits.iter()
            .all(|h| h.name.contains("餐饮") || h.short_name.contains("餐饮")),
        "{hits:?}"
    );
    assert!(hits.iter().all(|h| h.score == score::PINYIN_PREFIX));
    assert_eq!(search("can yin fu wu", &SearchOptions::default())[0].name, "餐饮服务");

    // Syllables in the middle of a name match from a syllable start only.
    let hits = search("fuwu", &limit(2000));
    assert!(hits
        .iter()
        .any(|h| h.name == "国内铁路旅客运输服务" && h.score == score::PINYIN_SUBSTRING));
    assert!(search("anyin", &limit(50)).iter().all(|h| !h.name.starts_with("餐饮")));

    // Readings the generator corrects: 调味 tiao, 银行 hang, 长途 chang, 绿 lv.
    let hits = search("tiaoweipin", &limit(100));
    assert!(hits
        .iter()
        .any(|h| h.name == "调味品" && h.score == score::EXACT_PINYIN));
    assert!(hits
        .iter()
        .take_while(|h| h.score == score::EXACT_PINYIN)
        .all(|h| h.short_name == "调味品"));
    assert_eq!(
        search("yinhangzhuanyongjiqi", &SearchOptions::default())[0].name,
        "银行专用机器"
    );
    assert!(search("changtu", &limit(50)).iter().any(|h| h.name.contains("长途")));
    assert_eq!(search("lvdou", &SearchOptions::default())[0].name, "绿豆");
}

#[test]
fn code_prefix_search() {
    let _t = embedded_table();
    let hits = search("1070101", &limit(500));
    assert_eq!((hits[0].name.as_str(), hits[0].score), ("石油制品", score::EXACT_CODE));
    assert!(hits[1..]
        .iter()
        .all(|h| h.code.starts_with("1070101") && h.score == score::CODE_PREFIX));
    // Leaves before summary rows, each in code order.
    let leaves: Vec<_> = hits[1..].iter().take_while(|h| h.leaf).collect();
    assert!(leaves.windows(2).all(|w| w[0].code < w[1].code));
    assert_eq!(
        search("1070101000000000000", &SearchOptions::default())[0].name,
        "石油制品"
    );
    let none = search("107010150", &SearchOptions::default());
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn limit_and_empty_queries() {
    let _t = embedded_table();
    assert_eq!(search("服务", &SearchOptions::default()).len(), taxcode::DEFAULT_LIMIT);
    assert_eq!(search("服务", &limit(3)).len(), 3);
    assert!(search("服务", &limit(0)).is_empty());
    assert!(search("  ", &SearchOptions::default()).is_empty());
    assert!(search("", &SearchOptions::default()).is_empty());
    assert!(search("没有这种商品吧", &SearchOptions::default()).is_empty());
    assert!(search("\u{0}\u{FFFF}💥", &SearchOptions::default()).is_empty());
}

// --------------------------------------------------------------- loading

const NEWER_CSV: &str = "序号,篇,类,章,节,条,款,项,目,子目,细目,合并编码,货物和劳务名称,商品和服务分类简称,说明\n\
    1,3,00,00,00,00,00,00,00,00,00,3000000000000000000,销售服务,销售服务,\n\
    2,3,04,00,00,00,00,00,00,00,00,3040000000000000000,现代服务,现代服务,\n\
    3,3,04,02,00,00,00,00,00,00,00,3040200000000000000,信息技术服务,信息技术服务,\n\
    4,3,04,02,01,00,00,00,00,00,00,3040201000000000000,软件服务,,\"包括软件开发、软件咨询, 软件维护\"\n\
    5,3,04,02,01,99,00,00,00,00,00,3040201990000000000,其他软件服务,其他软件服务,\n";

#[test]
fn a_newer_csv_table_replaces_the_embedded_one() {
    let _t = embedded_table();
    let r = load(NEWER_CSV);
    assert_eq!((r.count, r.errors.len()), (5, 0), "{:?}", r.errors);
    let info = taxcode::info();
    assert_eq!(
        (info.count, info.leaves, info.embedded, info.descriptions),
        (5, 1, false, 1)
    );

    // The renamed 简称 of the newer table (信息技术服务 → 其他软件服务).
    let c = lookup("3040201990000000000").unwrap();
    assert_eq!((c.short_name.as_str(), c.leaf), ("其他软件服务", true));
    assert_eq!(
        lookup("3040201000000000000").unwrap().short_name,
        "信息技术服务",
        "inherited"
    );
    assert!(lookup("3070401000000000000").is_none(), "the embedded codes are gone");
    assert_eq!(
        format_item_name("3040201990000000000", "接口服务费").unwrap(),
        "*其他软件服务*接口服务费"
    );

    // Search, pinyin included (from the crate's character readings), and the 说明.
    assert_eq!(
        search("qtrjfw", &SearchOptions::default())[0].code,
        "3040201990000000000"
    );
    let by_description = search("软件咨询", &SearchOptions::default());
    assert_eq!(
        (by_description[0].code.as_str(), by_description[0].score),
        ("3040201000000000000", score::DESCRIPTION)
    );

    taxcode::reset();
    assert_eq!(taxcode::info().count, 4205);
    assert_eq!(lookup("3070401000000000000").unwrap().name, "餐饮服务");
}

#[test]
fn a_json_table_with_version_and_pinyin() {
    let _t = embedded_table();
    let json = r#"{
      "version": "53.0",
      "codes": [
        { "code": "3000000000000000000", "name": "销售服务", "shortName": "销售服务" },
        { "code": "3070000000000000000", "name": "生活服务", "shortName": "生活服务" },
        { "code": "3070400000000000000", "name": "餐饮住宿服务", "shortName": "" },
        { "code": "3070401000000000000", "name": "餐饮服务", "shortName": "餐饮服务",
          "description": "提供饮食和饮食场所", "pinyin": "can yin fu wu" },
        { "code": "3070402000000000000", "name": "𠀀服务", "shortName": null, "pinyin": "zz fu wu" }
      ]
    }"#;
    let r = load(json);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.count, 5);
    let info = taxcode::info();
    assert_eq!((info.version.as_deref(), info.leaves), (Some("53.0"), 2));
    assert_eq!(lookup("3070400000000000000").unwrap().short_name, "生活服务");
    assert_eq!(
        lookup("3070401000000000000").unwrap().description.as_deref(),
        Some("提供饮食和饮食场所")
    );
    // A character the crate has no reading for, found by the pinyin given with the row.
    assert_eq!(
        search("zzfuwu", &SearchOptions::default())[0].code,
        "3070402000000000000"
    );
    assert_eq!(search("zfw", &SearchOptions::default())[0].code, "3070402000000000000");
    // A bare array works too.
    let bare = r#"[{"code":"5000000000000000000","name":"不动产","shortName":"不动产"}]"#;
    assert_eq!(load(bare).count, 1);
    assert_eq!(taxcode::info().version, None);
}

#[test]
fn a_malformed_csv_is_refused_with_every_problem_and_its_line() {
    let _t = embedded_table();
    let csv = "合并编码,货物和劳务名称,商品和服务分类简称\n\
        3000000000000000000,销售服务,销售服务\n\
        3070401000000000000,餐饮服务,餐饮服务\n\
        1.07E+18,石油制品,石油制品\n\
        3000000000000000000,销售服务,销售服务\n\
        3010000000000000000,,运输服务\n\
        4000000000000000000,无形资产,\n";
    let r = load(csv);
    assert_eq!(r.count, 0);
    let got: Vec<(&str, &str)> = r.errors.iter().map(|e| (e.code, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            ("TAXCODE_TABLE_PARENT", "line 3.code"),
            ("TAXCODE_TABLE_CODE", "line 4.code"),
            ("TAXCODE_TABLE_DUPLICATE", "line 5.code"),
            ("TAXCODE_TABLE_NAME", "line 6.name"),
            ("TAXCODE_TABLE_SHORT_NAME", "line 7.shortName"),
        ]
    );
    assert!(
        r.errors[1].message_en.contains("format the column as text"),
        "{}",
        r.errors[1].message_en
    );
    assert!(r.errors[2].message.contains("第2行"), "{}", r.errors[2].message);
    assert!(r
        .errors
        .iter()
        .all(|e| !e.message.is_empty() && !e.message_en.is_empty()));
    // Nothing changed.
    assert!(taxcode::info().embedded);
    assert_eq!(lookup("3070401000000000000").unwrap().name, "餐饮服务");
}

#[test]
fn malformed_files_of_other_kinds() {
    let _t = embedded_table();
    let first = |text: &str| {
        let r = load(text);
        assert_eq!(r.count, 0, "{text}");
        (r.errors[0].code, r.errors[0].field.clone())
    };
    assert_eq!(
        first("货物和劳务名称,简称\n货物,货物\n"),
        ("TAXCODE_TABLE_COLUMN", "line 1.code".into())
    );
    assert_eq!(
        first("合并编码,名称,简称\n1000000000000000000,\"货物,货物\n"),
        ("TAXCODE_TABLE_FORMAT", "line 2.code".into())
    );
    assert_eq!(
        first("合并编码,名称,简称\n1000000000000000000\n"),
        ("TAXCODE_TABLE_FIELDS", "line 2.code".into())
    );
    assert_eq!(
        first("合并编码,名称,简称\n"),
        ("TAXCODE_TABLE_EMPTY", "line 1.code".into())
    );
    assert_eq!(first(""), ("TAXCODE_TABLE_EMPTY", "line 1.code".into()));
    assert_eq!(
        first("[\n{\"code\": 1000000000000000000, \"name\": \"货物\"}]"),
        ("TAXCODE_TABLE_CODE", "line 2.code".into())
    );
    assert_eq!(
        first("{\"codes\": [\n\n{\"code\": \"1\", }]}"),
        ("TAXCODE_TABLE_FORMAT", "line 3.code".into())
    );
    assert_eq!(first("{\"rows\": []}"), ("TAXCODE_TABLE_FORMAT", "line 1.code".into()));
    assert_eq!(
        first("[\"1000000000000000000\"]"),
        ("TAXCODE_TABLE_FORMAT", "line 1.code".into())
    );
    assert_eq!(
        first("[{\"code\": \"1000000000000000000\", \"name\": 7}]"),
        ("TAXCODE_TABLE_FORMAT", "line 1.name".into())
    );
    assert_eq!(first("[]"), ("TAXCODE_TABLE_EMPTY", "line 1.code".into()));
    assert!(taxcode::info().embedded);
}

#[test]
fn descriptions_load_from_the_committed_file() {
    let _t = embedded_table();
    let text = std::fs::read_to_string(root().join("data/tax-codes-descriptions.txt")).unwrap();
    let r = load_descriptions(&text);
    assert_eq!((r.count, r.errors.len()), (2997, 0));
    assert_eq!(taxcode::info().descriptions, 2997);
    assert!(lookup("1010101000000000000")
        .unwrap()
        .description
        .unwrap()
        .contains("稻谷"));
    // 说明 of 1010101 谷物 lists 荞麦; no name contains it.
    let hits = search("荞麦", &SearchOptions::default());
    assert!(hits
        .iter()
        .any(|h| h.code == "1010101000000000000" && h.score == score::DESCRIPTION));

    let bad = load_descriptions("1010101\tx\n9990000\ty\nnot-a-code\tz\n");
    let got: Vec<(&str, &str)> = bad.errors.iter().map(|e| (e.code, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            ("TAXCODE_TABLE_UNKNOWN_CODE", "line 2.code"),
            ("TAXCODE_TABLE_CODE", "line 3.code")
        ]
    );
    assert_eq!(taxcode::info().descriptions, 2997, "unchanged");
    taxcode::reset();
    assert_eq!(taxcode::info().descriptions, 0);
}

#[test]
fn the_official_csv_loads_as_is() {
    let input = root().join("../shared/data/tax-codes/goods-services-tax-codes_2017-12-18.csv");
    let Ok(text) = std::fs::read_to_string(&input) else {
        eprintln!("skipped: {} not found", input.display());
        return;
    };
    let table = TaxCodeTable::parse(&text).unwrap();
    assert_eq!((table.len(), table.leaves(), table.descriptions()), (4205, 3535, 2997));
    let embedded = TaxCodeTable::embedded();
    for code in [
        "1010101010000000000",
        "3040102000000000000",
        "6120000000000000000",
        "1100202030000000000",
    ] {
        assert_eq!(
            table.lookup(code),
            embedded.lookup(code).map(|c| fapiao::TaxCode {
                description: table.lookup(code).unwrap().description,
                ..c
            })
        );
    }
    assert_eq!(table.search("cyfw", &SearchOptions::default())[0].name, "餐饮服务");
}

// ------------------------------------------------------------ item names

#[test]
fn item_names_are_formatted_with_the_short_name() {
    let _t = embedded_table();
    assert_eq!(
        format_item_name("1010101010000000000", "东北大米").unwrap(),
        "*谷物*东北大米"
    );
    assert_eq!(
        format_item_name("1010101010000000000", "  东北　大米 ").unwrap(),
        "*谷物*东北 大米"
    );
    assert_eq!(
        format_item_name("1010101010000000000", "*大米*东北大米").unwrap(),
        "*谷物*东北大米"
    );
    assert_eq!(
        format_item_name("1010101010000000000", "＊谷物＊东北大米").unwrap(),
        "*谷物*东北大米"
    );
    assert_eq!(
        format_item_name("3040102000000000000", "咨询费").unwrap(),
        "*研发和技术服务*咨询费"
    );
    assert_eq!(
        validate_err(format_item_name("1019999000000000000", "x")),
        "TAXCODE_UNKNOWN"
    );
    assert_eq!(validate_err(format_item_name("", "x")), "TAXCODE_EMPTY");
}

fn validate_err(r: Result<String, fapiao::TaxCodeProblem>) -> &'static str {
    r.unwrap_err().code()
}

#[test]
fn parsing_item_names() {
    let p = parse_item_name(" *餐饮服务*午餐 ");
    assert_eq!((p.short_name, p.name), (Some("餐饮服务"), "午餐"));
    assert_eq!(parse_item_name("午餐*套餐*").short_name, None);
    assert_eq!(parse_item_name("*未闭合").short_name, None);
    assert_eq!(parse_item_name("*未闭合").name, "*未闭合");
    assert_eq!(parse_item_name("*谷物*").name, "");
    assert_eq!(parse_item_name("").name, "");
}

#[test]
fn checking_item_names() {
    let _t = embedded_table();
    let ok = check_item_name("3070401000000000000", "*餐饮服务*工作午餐");
    assert!(ok.valid, "{:?}", ok.errors);
    assert_eq!(
        (ok.item_name.as_str(), ok.name.as_str()),
        ("*餐饮服务*工作午餐", "工作午餐")
    );

    let codes = |r: &fapiao::taxcode::ItemNameResult| r.errors.iter().map(|e| e.code).collect::<Vec<_>>();

    // The length limit counts the name without the prefix.
    let name90 = "餐".repeat(fapiao::limits::ITEM_NAME);
    assert!(check_item_name("3070401000000000000", &name90).valid);
    assert!(check_item_name("3070401000000000000", &format!("*餐饮服务*{name90}")).valid);
    let long = check_item_name("3070401000000000000", &format!("{name90}餐"));
    assert_eq!(codes(&long), ["ITEM_NAME_LENGTH"]);
    assert_eq!(long.errors[0].field, "name");

    let wrong = check_item_name("3070401000000000000", "*住宿服务*房费");
    assert_eq!(codes(&wrong), ["ITEM_NAME_SHORT_NAME"]);
    assert!(wrong.errors[0].overridable);
    assert_eq!(wrong.item_name, "*餐饮服务*房费");

    let summary = check_item_name("3070400000000000000", "房费");
    assert_eq!(codes(&summary), ["TAXCODE_SUMMARY"]);
    assert_eq!(summary.errors[0].field, "taxCode");

    let unknown = check_item_name("3070499000000000000", "房费");
    assert_eq!(codes(&unknown), ["TAXCODE_UNKNOWN"]);
    assert_eq!(unknown.item_name, "");

    assert_eq!(
        codes(&check_item_name("3070401000000000000", " *餐饮服务* ")),
        ["ITEM_NAME_EMPTY"]
    );
    assert_eq!(
        codes(&check_item_name("3070401000000000000", "午\u{7}餐")),
        ["ITEM_NAME_CHARSET"]
    );
}
