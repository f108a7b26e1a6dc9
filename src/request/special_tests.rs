//! One test per rule of rules.md §7 for the special-business block; each builds a
//! valid request first and breaks exactly one thing.

use crate::buyer::BuyerInput;
use crate::issue::Issue;
use crate::request::*;
use crate::LineInput;

const CONSTRUCTION: &str = "3050100000000000000"; // 工程服务
const FREIGHT: &str = "3010102020100000000"; // 国内道路货物运输服务
const SALE: &str = "5010101000000000000"; // 房地产开发住宅
const LEASE: &str = "3040502029902000000"; // 其他情形不动产经营租赁服务

fn line(code: &str, amount: &str, rate: &str) -> LineInput {
    LineInput {
        name: Some("服务".into()),
        tax_code: Some(code.into()),
        amount: Some(amount.into()),
        tax_rate: Some(rate.into()),
        ..Default::default()
    }
}

fn form(lines: Vec<LineInput>, sb: SpecialBusiness) -> IssueForm {
    IssueForm {
        order_id: Some("SB-1".into()),
        invoice_type: Some("special".into()),
        buyer: BuyerInput {
            name: Some("北京某某科技有限公司".into()),
            tax_id: Some("91110000600037341L".into()),
            ..Default::default()
        },
        price_includes_tax: true,
        lines,
        delivery: Delivery {
            email: Some("caiwu@example.com".into()),
            mobile: None,
        },
        special_business: Some(sb),
        ..Default::default()
    }
}

fn construction() -> IssueForm {
    form(
        vec![line(CONSTRUCTION, "10900.00", "0.09")],
        SpecialBusiness {
            kind: Some("03".into()),
            province: Some("广东省".into()),
            city: Some("深圳市".into()),
            district: Some("南山区".into()),
            address: Some("科技园南路88号".into()),
            project_name: Some("某某大厦装修工程".into()),
            cross_city: Some(false),
            ..Default::default()
        },
    )
}

fn transport() -> Transport {
    Transport {
        vehicle_type: Some("2".into()),
        vehicle_number: Some("粤B12345".into()),
        origin: Some("深圳市".into()),
        destination: Some("广州市".into()),
        goods_name: Some("电子元件".into()),
    }
}

fn freight() -> IssueForm {
    form(
        vec![line(FREIGHT, "1090.00", "0.09")],
        SpecialBusiness {
            kind: Some("货物运输服务".into()),
            transports: vec![transport(); 4],
            ..Default::default()
        },
    )
}

fn sale() -> IssueForm {
    form(
        vec![line(SALE, "1090000.00", "0.09")],
        SpecialBusiness {
            kind: Some("05".into()),
            province: Some("广东省".into()),
            city: Some("深圳市".into()),
            district: Some("福田区".into()),
            address: Some("深南大道1001号某某花园3栋1201".into()),
            cross_city: Some(false),
            property_certificate_no: Some("粤(2026)深圳市不动产权第0012345号".into()),
            area_unit: Some("㎡".into()),
            ..Default::default()
        },
    )
}

fn lease() -> IssueForm {
    form(
        vec![line(LEASE, "10900.00", "0.09")],
        SpecialBusiness {
            kind: Some("06".into()),
            province: Some("北京市".into()),
            city: Some("北京市".into()),
            district: Some("朝阳区".into()),
            address: Some("建国路88号SOHO现代城A座1001".into()),
            cross_city: Some(true),
            property_certificate_no: Some("京(2020)朝阳区不动产权第0001234号".into()),
            area_unit: Some("平方米".into()),
            lease_start: Some("2026-12-01".into()),
            lease_end: Some("2027-11-30".into()),
            ..Default::default()
        },
    )
}

fn errors(f: &IssueForm) -> Vec<Issue> {
    build_issue_request(f).errors
}

/// The single error of a form broken in one place: its code and field.
fn only(f: &IssueForm) -> (&'static str, String) {
    let e = errors(f);
    assert_eq!(e.len(), 1, "{e:#?}");
    (e[0].code, e[0].field.clone())
}

fn sb(f: &mut IssueForm) -> &mut SpecialBusiness {
    f.special_business.as_mut().unwrap()
}

#[test]
fn valid_forms_of_each_type_build_and_normalise() {
    for (f, code) in [
        (construction(), "03"),
        (freight(), "04"),
        (sale(), "05"),
        (lease(), "06"),
    ] {
        let r = build_issue_request(&f);
        assert!(r.valid, "{code}: {:#?}", r.errors);
        let out = r.request.unwrap().special_business.unwrap();
        assert_eq!(out.kind.as_deref(), Some(code));
    }
    let out = build_issue_request(&sale()).request.unwrap().special_business.unwrap();
    assert_eq!(out.area_unit.as_deref(), Some("平方米"), "㎡ is read as 平方米");
}

#[test]
fn unsupported_type() {
    let mut f = construction();
    sb(&mut f).kind = Some("09".into());
    assert_eq!(only(&f), ("SPECIAL_TYPE_UNSUPPORTED", "specialBusiness.type".into()));
    sb(&mut f).kind = None;
    assert_eq!(only(&f).0, "SPECIAL_TYPE_UNSUPPORTED");
}

#[test]
fn construction_requires_place_address_project_and_cross_city_flag() {
    for (field, clear) in [
        (
            "province",
            (|s: &mut SpecialBusiness| s.province = None) as fn(&mut SpecialBusiness),
        ),
        ("city", |s| s.city = Some("  ".into())),
        ("address", |s| s.address = None),
        ("projectName", |s| s.project_name = None),
        ("crossCity", |s| s.cross_city = None),
    ] {
        let mut f = construction();
        clear(sb(&mut f));
        assert_eq!(
            only(&f),
            ("SPECIAL_FIELD_REQUIRED", format!("specialBusiness.{field}")),
            "{field}"
        );
    }
}

#[test]
fn construction_across_cities_needs_the_permit_number() {
    let mut f = construction();
    sb(&mut f).cross_city = Some(true);
    assert_eq!(
        only(&f),
        ("SPECIAL_FIELD_REQUIRED", "specialBusiness.crossRegionPermitNo".into())
    );
    sb(&mut f).cross_region_permit_no = Some("4403052026000123".into());
    assert!(errors(&f).is_empty());
}

#[test]
fn place_and_detailed_address_at_most_120_characters_together() {
    let mut f = construction();
    // 3 + 3 + 3 + 111 = 120: allowed.
    sb(&mut f).address = Some("路".repeat(111));
    assert!(errors(&f).is_empty(), "{:#?}", errors(&f));
    sb(&mut f).address = Some("路".repeat(112));
    let e = errors(&f);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        (e[0].code, e[0].field.as_str()),
        ("SPECIAL_ADDRESS_TOO_LONG", "specialBusiness.address")
    );
    assert!(
        e[0].message.contains("121") && e[0].message_en.contains("121"),
        "{:?}",
        e[0]
    );
}

#[test]
fn project_name_at_most_80_characters() {
    let mut f = construction();
    sb(&mut f).project_name = Some("工".repeat(80));
    assert!(errors(&f).is_empty());
    sb(&mut f).project_name = Some("工".repeat(81));
    assert_eq!(
        only(&f),
        ("SPECIAL_FIELD_TOO_LONG", "specialBusiness.projectName".into())
    );
}

#[test]
fn construction_has_exactly_one_line() {
    let mut f = construction();
    f.lines.push(line(CONSTRUCTION, "100.00", "0.09"));
    assert_eq!(only(&f), ("SPECIAL_ONE_LINE", "lines".into()));
}

#[test]
fn construction_line_has_no_spec_unit_quantity_or_unit_price() {
    for (field, set) in [
        (
            "spec",
            (|l: &mut LineInput| l.spec = Some("A型".into())) as fn(&mut LineInput),
        ),
        ("unit", |l| l.unit = Some("项".into())),
        ("quantity", |l| l.quantity = Some("1".into())),
        ("unitPrice", |l| l.unit_price = Some("10900.00".into())),
    ] {
        let mut f = construction();
        set(&mut f.lines[0]);
        let e = errors(&f);
        assert!(
            e.iter()
                .any(|e| e.code == "SPECIAL_LINE_FIELD_NOT_ALLOWED" && e.field == format!("lines[0].{field}")),
            "{field}: {e:#?}"
        );
    }
    // An empty string is no value.
    let mut f = construction();
    f.lines[0].spec = Some(" ".into());
    assert!(errors(&f).is_empty());
}

#[test]
fn fields_of_another_type_are_refused() {
    let mut f = construction();
    sb(&mut f).transports = vec![transport()];
    sb(&mut f).lease_start = Some("2026-01-01".into());
    let e = errors(&f);
    let fields: Vec<_> = e
        .iter()
        .filter(|e| e.code == "SPECIAL_FIELD_NOT_APPLICABLE")
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["specialBusiness.transports", "specialBusiness.leaseStart"],
        "{e:#?}"
    );
}

#[test]
fn control_characters_in_special_fields() {
    let mut f = construction();
    sb(&mut f).project_name = Some("某某\u{7}工程".into());
    assert_eq!(
        only(&f),
        ("SPECIAL_CONTROL_CHARACTERS", "specialBusiness.projectName".into())
    );
}

#[test]
fn freight_needs_1_to_2000_rows() {
    let mut f = freight();
    sb(&mut f).transports.clear();
    assert_eq!(
        only(&f),
        ("SPECIAL_TRANSPORT_COUNT", "specialBusiness.transports".into())
    );
    sb(&mut f).transports = vec![transport(); 2000];
    assert!(errors(&f).is_empty());
    sb(&mut f).transports = vec![transport(); 2001];
    assert_eq!(
        only(&f),
        ("SPECIAL_TRANSPORT_COUNT", "specialBusiness.transports".into())
    );
}

#[test]
fn freight_row_fields_are_required_with_their_paths() {
    for (field, clear) in [
        (
            "vehicleType",
            (|t: &mut Transport| t.vehicle_type = None) as fn(&mut Transport),
        ),
        ("vehicleNumber", |t| t.vehicle_number = None),
        ("origin", |t| t.origin = Some("".into())),
        ("destination", |t| t.destination = None),
        ("goodsName", |t| t.goods_name = None),
    ] {
        let mut f = freight();
        clear(&mut sb(&mut f).transports[3]);
        assert_eq!(
            only(&f),
            (
                "SPECIAL_FIELD_REQUIRED",
                format!("specialBusiness.transports[3].{field}")
            ),
            "{field}"
        );
    }
}

#[test]
fn freight_vehicle_type_is_1_to_6() {
    let mut f = freight();
    sb(&mut f).transports[1].vehicle_type = Some("6".into());
    assert!(errors(&f).is_empty());
    sb(&mut f).transports[1].vehicle_type = Some("7".into());
    assert_eq!(
        only(&f),
        (
            "SPECIAL_VEHICLE_TYPE_INVALID",
            "specialBusiness.transports[1].vehicleType".into()
        )
    );
}

#[test]
fn freight_text_lengths() {
    for (field, max, set) in [
        (
            "vehicleNumber",
            40,
            (|t: &mut Transport, s: String| t.vehicle_number = Some(s)) as fn(&mut Transport, String),
        ),
        ("origin", 80, |t, s| t.origin = Some(s)),
        ("destination", 80, |t, s| t.destination = Some(s)),
        ("goodsName", 80, |t, s| t.goods_name = Some(s)),
    ] {
        let mut f = freight();
        set(&mut sb(&mut f).transports[3], "货".repeat(max));
        assert!(errors(&f).is_empty(), "{field} at {max}");
        set(&mut sb(&mut f).transports[3], "货".repeat(max + 1));
        assert_eq!(
            only(&f),
            (
                "SPECIAL_FIELD_TOO_LONG",
                format!("specialBusiness.transports[3].{field}")
            ),
            "{field}"
        );
    }
}

#[test]
fn freight_allows_several_lines_with_units() {
    let mut f = freight();
    f.lines.push(LineInput {
        unit: Some("吨".into()),
        ..line(FREIGHT, "109.00", "0.09")
    });
    assert!(errors(&f).is_empty(), "{:#?}", errors(&f));
}

#[test]
fn real_estate_sale_address_names_a_street_road_village_or_town() {
    let mut f = sale();
    sb(&mut f).address = Some("某某花园3栋1201".into());
    assert_eq!(
        only(&f),
        ("SPECIAL_ADDRESS_NO_STREET", "specialBusiness.address".into())
    );
    for word in ["街", "村", "乡", "镇", "道"] {
        sb(&mut f).address = Some(format!("某某{word}1号"));
        assert!(errors(&f).is_empty(), "{word}");
    }
    // Only the sale has this rule.
    let mut l = lease();
    sb(&mut l).address = Some("某某花园3栋1201".into());
    assert!(errors(&l).is_empty());
}

#[test]
fn real_estate_requires_certificate_and_area_unit() {
    for make in [sale as fn() -> IssueForm, lease] {
        let mut f = make();
        sb(&mut f).property_certificate_no = None;
        assert_eq!(
            only(&f),
            ("SPECIAL_FIELD_REQUIRED", "specialBusiness.propertyCertificateNo".into())
        );
        let mut f = make();
        sb(&mut f).area_unit = None;
        assert_eq!(only(&f), ("SPECIAL_FIELD_REQUIRED", "specialBusiness.areaUnit".into()));
        let mut f = make();
        sb(&mut f).cross_city = None;
        assert_eq!(only(&f), ("SPECIAL_FIELD_REQUIRED", "specialBusiness.crossCity".into()));
    }
}

#[test]
fn real_estate_certificate_at_most_40_characters() {
    let mut f = sale();
    sb(&mut f).property_certificate_no = Some("证".repeat(40));
    assert!(errors(&f).is_empty());
    sb(&mut f).property_certificate_no = Some("证".repeat(41));
    assert_eq!(
        only(&f),
        ("SPECIAL_FIELD_TOO_LONG", "specialBusiness.propertyCertificateNo".into())
    );
}

#[test]
fn real_estate_area_unit_from_the_list() {
    let mut f = lease();
    sb(&mut f).area_unit = Some("平方尺".into());
    assert_eq!(
        only(&f),
        ("SPECIAL_AREA_UNIT_INVALID", "specialBusiness.areaUnit".into())
    );
    for u in AREA_UNITS {
        sb(&mut f).area_unit = Some((*u).into());
        assert!(errors(&f).is_empty(), "{u}");
    }
}

#[test]
fn real_estate_one_line_without_spec_and_unit() {
    for make in [sale as fn() -> IssueForm, lease] {
        let mut f = make();
        f.lines.push(f.lines[0].clone());
        assert_eq!(only(&f), ("SPECIAL_ONE_LINE", "lines".into()));
        let mut f = make();
        f.lines[0].spec = Some("三居室".into());
        assert_eq!(only(&f), ("SPECIAL_LINE_FIELD_NOT_ALLOWED", "lines[0].spec".into()));
        let mut f = make();
        f.lines[0].unit = Some("套".into());
        assert_eq!(only(&f), ("SPECIAL_LINE_FIELD_NOT_ALLOWED", "lines[0].unit".into()));
        // Quantity and unit price are allowed here (only 建筑服务 forbids them).
        let mut f = make();
        let amount = f.lines[0].amount.clone();
        f.lines[0].quantity = Some("1".into());
        f.lines[0].unit_price = amount;
        assert!(errors(&f).is_empty(), "{:#?}", errors(&f));
    }
}

#[test]
fn lease_period_is_required() {
    for (field, clear) in [
        (
            "leaseStart",
            (|s: &mut SpecialBusiness| s.lease_start = None) as fn(&mut SpecialBusiness),
        ),
        ("leaseEnd", |s| s.lease_end = None),
    ] {
        let mut f = lease();
        clear(sb(&mut f));
        assert_eq!(only(&f), ("SPECIAL_FIELD_REQUIRED", format!("specialBusiness.{field}")));
    }
}

#[test]
fn lease_dates_are_yyyy_mm_dd_calendar_dates() {
    for bad in [
        "2026/12/01",
        "2026-13-01",
        "2026-02-29",
        "2026-1-01",
        "20261201",
        "2026-12-01 08:00:00",
    ] {
        let mut f = lease();
        sb(&mut f).lease_start = Some(bad.into());
        assert_eq!(
            only(&f),
            ("SPECIAL_DATE_FORMAT", "specialBusiness.leaseStart".into()),
            "{bad}"
        );
    }
    let mut f = lease();
    sb(&mut f).lease_start = Some("2028-02-29".into());
    sb(&mut f).lease_end = Some("2028-03-01".into());
    assert!(errors(&f).is_empty(), "a leap day");
}

#[test]
fn lease_start_not_after_end() {
    let mut f = lease();
    sb(&mut f).lease_end = Some("2026-11-30".into());
    assert_eq!(
        only(&f),
        ("SPECIAL_LEASE_PERIOD_ORDER", "specialBusiness.leaseEnd".into())
    );
    sb(&mut f).lease_end = Some("2026-12-01".into());
    assert!(errors(&f).is_empty(), "a one-day lease");
}

#[test]
fn messages_in_both_languages() {
    let mut f = construction();
    sb(&mut f).project_name = None;
    let e = &errors(&f)[0];
    assert_eq!(e.message, "建筑服务发票请填写建筑项目名称。");
    assert_eq!(e.message_en, "Enter the project name for construction services.");
}

#[test]
fn nuonuo_specific_factor_codes() {
    assert_eq!(SpecialKind::parse("建筑服务").unwrap().nuonuo(), "3");
    assert_eq!(SpecialKind::parse("04").unwrap().nuonuo(), "4");
    assert_eq!(SpecialKind::parse("5").unwrap().nuonuo(), "5");
    assert_eq!(SpecialKind::parse("不动产经营租赁").unwrap().nuonuo(), "6");
    assert_eq!(SpecialKind::parse("09"), None);
}
