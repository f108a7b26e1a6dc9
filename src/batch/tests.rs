use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::*;

const HEAD: &str =
    "订单号,发票类型,购买方类型,购买方名称,购买方税号,项目名称,税收分类编码,数量,单价,金额,税率,含税标志";

fn sheet(rows: &[&str]) -> Sheet {
    let text = format!("{HEAD}\n{}\n", rows.join("\n"));
    read_sheet(text.as_bytes(), "t.csv").unwrap()
}

fn codes(r: &Report) -> Vec<(u32, &str, &str)> {
    r.findings.iter().map(|f| (f.row, f.column.as_str(), f.code)).collect()
}

fn xlsx_of(rows: &[Vec<&str>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    for (r, cells) in rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            // Numbers as Excel stores them, text as text.
            match v.parse::<f64>() {
                Ok(n) if !v.starts_with('0') || *v == "0" || v.starts_with("0.") => {
                    if v.len() < 15 {
                        ws.write_number(r as u32, c as u16, n).unwrap();
                        continue;
                    }
                    ws.write_string(r as u32, c as u16, *v).unwrap();
                }
                _ => {
                    ws.write_string(r as u32, c as u16, *v).unwrap();
                }
            }
        }
    }
    book.save_to_buffer().unwrap()
}

#[test]
fn valid_sheet_groups_orders() {
    let s = sheet(&[
        "A1,数电专票,企业,北京某某科技有限公司,91110000600037341L,笔记本电脑,1090511030000000000,2,5650,11300,13%,是",
        "A2,,个人,张三,,午餐,3070401000000000000,,,88,6%,",
        "A1,,,,,午餐,3070401000000000000,,,106,0.06,",
    ]);
    let r = check(&s, &CheckOptions::default());
    assert!(r.valid, "{:?}", r.findings);
    assert_eq!(r.invoices.len(), 2);
    assert_eq!(r.invoices[0].rows, vec![2, 4]);
    assert_eq!(r.invoices[0].form.invoice_type.as_deref(), Some("special"));
    assert_eq!(r.invoices[1].form.buyer.kind.as_deref(), Some("person"));
    let t = r.invoices[0].totals.as_ref().unwrap();
    assert_eq!(t.amount_incl_tax, "11406.00");
    assert_eq!(t.tax_amount, "1306.00");
    assert_eq!(r.totals.amount_incl_tax, "11494.00");
    assert_eq!((r.totals.rows, r.totals.orders, r.totals.valid_invoices), (3, 2, 2));
    // The form builds the same request the proxy will build.
    assert!(crate::request::build_issue_request(&r.invoices[0].form).valid);
}

#[test]
fn each_planted_error_kind_marks_its_cell() {
    let s = sheet(&[
        // 1. a tax ID with letters O for zeros.
        "B1,,企业,北京某某科技有限公司,911100OO600037341L,午餐,3070401000000000000,,,106,6%,",
        // 2. a summary code (汇总项).
        "B2,,企业,北京某某科技有限公司,91110000600037341L,餐饮,3070400000000000000,,,106,6%,",
        // 3. amount ≠ quantity × price beyond the tolerance.
        "B3,,企业,北京某某科技有限公司,91110000600037341L,午餐,3070401000000000000,3,10.00,31.00,6%,",
        // 4. no buyer name.
        "B4,,企业,,91110000600037341L,午餐,3070401000000000000,,,106,6%,",
        // 5. 专票 for a person.
        "B5,数电专票,个人,张三,,午餐,3070401000000000000,,,106,6%,",
        // 6. a rate written as 13 for 13%.
        "B6,,企业,北京某某科技有限公司,91110000600037341L,笔记本电脑,1090511030000000000,,,113,13,",
        // 7. a wrong *简称* prefix.
        "B7,,企业,北京某某科技有限公司,91110000600037341L,*餐饮*午餐,3070401000000000000,,,106,6%,",
    ]);
    let r = check(&s, &CheckOptions::default());
    assert_eq!(
        codes(&r),
        vec![
            (2, "buyerTaxId", "TAXID_CHARSET"),
            (3, "taxCode", "TAXCODE_SUMMARY"),
            (4, "amount", "LINE_AMOUNT_TOLERANCE"),
            (5, "buyerName", "BUYER_NAME_REQUIRED"),
            (6, "buyerType", "BUYER_PERSON_SPECIAL"),
            (7, "taxRate", "TAX_RATE_UNSUPPORTED"),
            (8, "itemName", "ITEM_NAME_SHORT_NAME"),
        ]
    );
    let fix = |i: usize| {
        r.findings[i]
            .fixes
            .first()
            .map(|f| (f.column.as_str(), f.value.as_str()))
    };
    assert_eq!(fix(0), Some(("buyerTaxId", "91110000600037341L")));
    assert_eq!(fix(1), None);
    assert_eq!(fix(2), Some(("amount", "30.00")));
    assert_eq!(fix(3), None);
    assert_eq!(fix(4), Some(("invoiceType", "数电普票")));
    assert_eq!(fix(5), Some(("taxRate", "13%")));
    assert_eq!(fix(6), Some(("itemName", "*餐饮服务*午餐")));
    assert!(r
        .findings
        .iter()
        .all(|f| !f.message.is_empty() && !f.message_en.is_empty()));
    assert_eq!(r.totals.valid_invoices, 0);
    assert!(!r.valid);
    assert!(r.totals.amount_incl_tax == "0.00");

    // Applying every fix (and naming the buyer) clears the sheet.
    let mut fixed = s.clone();
    let col = |k: &str| r.columns.iter().find(|c| c.key == k).unwrap().index;
    for f in &r.findings {
        let row = fixed.rows.iter_mut().find(|x| x.row == f.row).unwrap();
        match f.fixes.first() {
            Some(x) => row.cells[col(&x.column)] = x.value.clone(),
            None if f.code == "BUYER_NAME_REQUIRED" => row.cells[col("buyerName")] = "某某有限公司".into(),
            None => row.cells[col("taxCode")] = "3070401000000000000".into(),
        }
    }
    let r = check(&fixed, &CheckOptions::default());
    assert!(r.valid, "{:?}", codes(&r));
    assert_eq!(r.totals.valid_invoices, 7);
}

#[test]
fn order_level_conflicts_and_flags() {
    let s = sheet(&[
        "C1,,企业,北京某某科技有限公司,91110000600037341L,午餐,3070401000000000000,,,106,6%,是",
        "C1,,企业,上海某某有限公司,,午餐,3070401000000000000,,,106,6%,也许",
        ",,企业,北京某某科技有限公司,91110000600037341L,午餐,3070401000000000000,,,106,6%,",
    ]);
    let r = check(&s, &CheckOptions::default());
    assert_eq!(
        codes(&r),
        vec![
            (3, "buyerName", "BATCH_ORDER_CONFLICT"),
            (3, "priceIncludesTax", "BATCH_ORDER_CONFLICT"),
            (4, "orderId", "BATCH_ORDER_ID_MISSING"),
        ]
    );
    assert_eq!(r.findings[0].fixes[0].value, "北京某某科技有限公司");
    assert_eq!(r.invoices.len(), 1);
    assert!(!r.invoices[0].valid);
    assert_eq!(r.invoices[0].errors, 2);
}

#[test]
fn missing_columns_and_unknown_headers() {
    let s = read_sheet("订单号,名称,颜色\nA,某某有限公司,红\n".as_bytes(), "x.csv").unwrap();
    let r = check(&s, &CheckOptions::default());
    let missing: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "BATCH_COLUMN_MISSING")
        .map(|f| (f.row, f.column.as_str()))
        .collect();
    assert_eq!(
        missing,
        vec![(1, "itemName"), (1, "taxCode"), (1, "amount"), (1, "taxRate")]
    );
    assert_eq!(r.ignored_headers, vec!["颜色"]);
    let empty = read_sheet("订单号,金额\n".as_bytes(), "x.csv").unwrap();
    assert!(codes(&check(&empty, &CheckOptions::default())).contains(&(1, "orderId", "BATCH_NO_ROWS")));
}

#[test]
fn gbk_csv_as_chinese_excel_saves_it() {
    // Excel's 「CSV（逗号分隔）」 on a Chinese Windows: GBK, CRLF, a quoted field with a
    // comma, a title row above the header, characters beyond GB2312 (GBK/3: 丟).
    let text = "批量开票 2026年12月,,,,,,,,,,,\r\n".to_owned()
        + HEAD
        + "\r\nD1,,企业,\"北京某某科技有限公司（丟,分部）\",91110000600037341L,午餐,3070401000000000000,,,\"1,060.00\",6%,是\r\n,,,,,,,,,,,\r\n";
    let bytes = crate::qr::gbk::encode(&text).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err());
    let s = read_sheet(&bytes, "订单.csv").unwrap();
    assert_eq!(s.source, "gbk");
    assert_eq!(s.header_row, 2);
    assert_eq!(s.headers[3], "购买方名称");
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.rows[0].row, 3);
    assert_eq!(s.rows[0].cells[3], "北京某某科技有限公司（丟,分部）");
    let r = check(&s, &CheckOptions::default());
    assert!(r.valid, "{:?}", r.findings);
    assert_eq!(r.invoices[0].totals.as_ref().unwrap().amount_incl_tax, "1060.00");
    // The same as UTF-8 with a BOM, and as UTF-16 (「Unicode 文本」, tab-separated).
    let utf8 = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat();
    assert_eq!(read_sheet(&utf8, "a.csv").unwrap().rows, s.rows);
    let tabbed = text
        .replace(",,,,,,,,,,,", "")
        .replace(',', "\t")
        .replace(
            "\"北京某某科技有限公司（丟\t分部）\"",
            "\"北京某某科技有限公司（丟,分部）\"",
        )
        .replace("\"1\t060.00\"", "1,060.00");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(tabbed.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let u = read_sheet(&utf16, "a.txt").unwrap();
    assert_eq!(u.source, "utf-16le");
    assert_eq!(u.rows[0].cells, s.rows[0].cells);
    // Bytes that are no text at all.
    assert_eq!(
        read_sheet(&[0x81, 0x20, 0xFF], "x.csv").unwrap_err(),
        BatchError::Encoding
    );
}

#[test]
fn xlsx_round_trip() {
    let header: Vec<&str> = HEAD.split(',').collect();
    let mut rows = vec![header];
    rows.push(vec![
        "E1",
        "",
        "企业",
        "北京某某科技有限公司",
        "91110000600037341L",
        "笔记本电脑",
        "1090511030000000000",
        "2",
        "5650",
        "11300",
        "0.13",
        "1",
    ]);
    rows.push(vec![
        "E1",
        "",
        "",
        "",
        "",
        "午餐",
        "3070401000000000000",
        "",
        "",
        "106",
        "0.06",
        "",
    ]);
    rows.push(vec!["", "", "", "", "", "", "", "", "", "", "", ""]);
    rows.push(vec![
        "E2",
        "",
        "企业",
        "北京某某科技有限公司",
        "91110000600037341L",
        "午餐",
        "3070401000000000000",
        "3",
        "10",
        "31",
        "0.06",
        "1",
    ]);
    let bytes = xlsx_of(&rows);
    let s = read_sheet(&bytes, "orders.xlsx").unwrap();
    assert_eq!(s.source, "xlsx");
    assert_eq!(s.rows.len(), 3);
    assert_eq!(s.rows[2].row, 5);
    assert_eq!(s.rows[0].cells[8], "5650");
    assert_eq!(s.rows[0].cells[10], "0.13");
    let r = check(&s, &CheckOptions::default());
    assert_eq!(codes(&r), vec![(5, "amount", "LINE_AMOUNT_TOLERANCE")]);
    assert_eq!(r.invoices[0].totals.as_ref().unwrap().amount_incl_tax, "11406.00");
    // The name does not decide: an .xlsx named .csv is still read as a workbook.
    assert_eq!(read_sheet(&bytes, "orders.csv").unwrap().rows, s.rows);
    assert!(matches!(
        read_sheet(b"PK\x03\x04junk", "a.xlsx"),
        Err(BatchError::Xlsx { .. })
    ));
    assert_eq!(
        read_sheet(&[0xD0, 0xCF, 0x11, 0xE0, 0, 0], "a.xls").unwrap_err(),
        BatchError::XlsUnsupported
    );
    assert!(matches!(read_sheet(b"%PDF", "a.pdf"), Err(BatchError::FileType { .. })));
}

#[test]
fn orders_over_the_limit_are_split() {
    let s = sheet(&[
        "F1,,企业,北京某某科技有限公司,91110000600037341L,笔记本电脑,1090511030000000000,25,8000,200000,13%,否",
        "F2,,企业,北京某某科技有限公司,91110000600037341L,笔记本电脑,1090511030000000000,1,8000,8000,13%,否",
    ]);
    let options = CheckOptions {
        max_amount: Some("100000".into()),
        ..Default::default()
    };
    let r = check(&s, &options);
    assert!(r.valid, "{:?}", r.findings);
    let ids: Vec<_> = r
        .invoices
        .iter()
        .map(|i| (i.order_id.as_str(), i.part, i.parts))
        .collect();
    assert_eq!(ids, vec![("F1-1", 1, 3), ("F1-2", 2, 3), ("F1-3", 3, 3), ("F2", 1, 1)]);
    assert_eq!(r.invoices[0].form.lines[0].quantity, Some("12".into()));
    assert_eq!(r.invoices[2].rows, vec![2]);
    assert_eq!(r.totals.amount_excl_tax, "208000.00");
    assert_eq!(r.totals.invoices, 4);
    // A line limit splits as well.
    let many: Vec<String> = (0..5)
        .map(|i| format!("G1,,企业,北京某某科技有限公司,91110000600037341L,午餐{i},3070401000000000000,,,106,6%,"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let r = check(
        &sheet(&refs),
        &CheckOptions {
            max_lines: Some(2),
            ..Default::default()
        },
    );
    assert_eq!(
        r.invoices.iter().map(|i| i.rows.clone()).collect::<Vec<_>>(),
        vec![vec![2, 3], vec![4, 5], vec![6]]
    );
    // An order number too long for its parts' suffixes.
    let long = "H123456789012345678,,企业,北京某某科技有限公司,91110000600037341L,笔记本电脑,1090511030000000000,25,8000,200000,13%,否";
    let r = check(&sheet(&[long]), &options);
    assert_eq!(codes(&r), vec![(2, "orderId", "BATCH_SPLIT_ORDER_ID")]);
}

#[test]
fn results_and_template_files() {
    let rows = vec![
        ResultRow {
            order_id: "A1".into(),
            status: "issued".into(),
            invoice_number: Some("26442000000123456789".into()),
            issued_at: Some("2026-12-05T10:00:00Z".into()),
            files: Some(ResultFiles {
                pdf: Some("https://fp.example.com/v1/orders/A1/files/pdf".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ResultRow {
            order_id: "A2".into(),
            status: "failed".into(),
            error: Some(ResultError {
                code: "PROVIDER_REJECTED".into(),
                message: "名称, \"税号\"不符".into(),
            }),
            ..Default::default()
        },
    ];
    let csv = String::from_utf8(write_results(&rows, Format::Csv)).unwrap();
    assert_eq!(
        csv.lines().nth(2).unwrap(),
        "A2,失败,failed,,,PROVIDER_REJECTED,\"名称, \"\"税号\"\"不符\",,,"
    );
    let bytes = write_results(&rows, Format::Xlsx);
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("开票结果").unwrap();
    assert_eq!(range.get((0, 3)), Some(&Data::String("发票号码".into())));
    assert_eq!(range.get((1, 3)), Some(&Data::String("26442000000123456789".into())));
    assert_eq!(range.get((2, 1)), Some(&Data::String("失败".into())));
    assert_eq!(
        range.get((1, 7)),
        Some(&Data::String("https://fp.example.com/v1/orders/A1/files/pdf".into()))
    );
    // The templates read back as the template's columns, in order.
    for (f, name) in [(Format::Xlsx, "t.xlsx"), (Format::Csv, "t.csv")] {
        let s = read_sheet(&template(f), name).unwrap();
        let keys: Vec<_> = check(&s, &CheckOptions::default())
            .columns
            .iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(keys, COLUMNS.iter().map(|c| c.key).collect::<Vec<_>>());
        assert_eq!(s.rows.len(), 3);
    }
    assert_eq!(Format::parse("XLSX"), Some(Format::Xlsx));
    assert_eq!(Format::parse("pdf"), None);
}

#[test]
fn errors_have_codes_and_both_languages() {
    for e in [
        BatchError::Empty,
        BatchError::Encoding,
        BatchError::XlsUnsupported,
        BatchError::TooManyRows { max: MAX_ROWS },
        BatchError::CsvQuote { row: 3 },
    ] {
        let issue = crate::Issue::new("file", &e);
        assert!(issue.code.starts_with("BATCH_"));
        assert!(!issue.message.is_empty() && !issue.message_en.is_empty());
    }
}

#[test]
fn hostile_input_does_not_panic() {
    for bytes in [
        &b"\"\""[..],
        b",,,\n,,,",
        b"\n\n\n",
        b"\xef\xbb\xbf",
        b"a\rb\r\"c",
        b"PK\x03\x04",
    ] {
        if let Ok(s) = read_sheet(bytes, "x.csv") {
            let _ = check(&s, &CheckOptions::default());
        }
    }
    // A sheet whose rows are longer or shorter than its header.
    let s = Sheet {
        headers: vec!["订单号".into(), "金额".into()],
        header_row: 1,
        rows: vec![SheetRow {
            row: 2,
            cells: vec!["A".into()],
        }],
        ..Default::default()
    };
    assert!(!check(&s, &CheckOptions::default()).valid);
}

#[test]
fn confirmed_codes_in_the_sheet_and_in_the_options() {
    // A check digit that is wrong on the licence itself: the operator confirms it.
    let text = "订单号,购买方名称,购买方税号,项目名称,税收分类编码,金额,税率,确认项\n\
                K1,北京某某科技有限公司,91110000600037341N,午餐,3070401000000000000,106,6%,\n\
                K2,北京某某科技有限公司,91110000600037341N,午餐,3070401000000000000,106,6%,TAXID_CHECKSUM\n";
    let s = read_sheet(text.as_bytes(), "k.csv").unwrap();
    let r = check(&s, &CheckOptions::default());
    assert_eq!(codes(&r), vec![(2, "buyerTaxId", "TAXID_CHECKSUM")]);
    assert!(r.findings[0].overridable);
    assert_eq!(r.invoices[1].form.confirmed, vec!["TAXID_CHECKSUM".to_owned()]);
    assert!(r.invoices[1].valid);
    let all = CheckOptions {
        confirmed: vec!["TAXID_CHECKSUM".into()],
        ..Default::default()
    };
    assert!(check(&s, &all).valid);
}
