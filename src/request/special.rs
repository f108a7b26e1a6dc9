//! 特定业务 (special business types): the extra data some invoices must carry and
//! the constraints they put on the lines (rules.md §7).
//!
//! Supported: 03 建筑服务 (construction), 04 货物运输服务 (freight), 05 不动产销售
//! (real-estate sale) and 06 不动产经营租赁 (real-estate lease). An issuing request
//! without a `specialBusiness` block is an ordinary invoice.
//!
//! ```
//! use fapiao::request::{check_special_business, SpecialBusiness};
//! use fapiao::issue::Issues;
//! use fapiao::LineInput;
//!
//! let sb = SpecialBusiness {
//!     kind: Some("建筑服务".into()),
//!     province: Some("广东省".into()),
//!     city: Some("深圳市".into()),
//!     district: Some("南山区".into()),
//!     address: Some("科技园南路 88 号".into()),
//!     project_name: Some("某某大厦装修工程".into()),
//!     cross_city: Some(false),
//!     ..Default::default()
//! };
//! let line = LineInput { amount: Some("109.00".into()), ..Default::default() };
//! let mut issues = Issues::default();
//! let out = check_special_business(&sb, &[line], &mut issues).unwrap();
//! assert!(issues.errors.is_empty(), "{:?}", issues.errors);
//! assert_eq!(out.kind.as_deref(), Some("03"));
//! ```

use serde::{Deserialize, Serialize};

use crate::amount::money::DecimalInput;
use crate::amount::LineInput;
use crate::issue::{Issues, Rule, Severity};
use crate::text::{char_len, clean_text, has_control};

/// 建筑服务发生地 / 不动产地址 (province + city + district) and 详细地址 together: at most this many characters.
pub const ADDRESS_MAX: usize = 120;
/// 建筑项目名称.
pub const PROJECT_NAME_MAX: usize = 80;
/// 产权证书/不动产权证号, 运输工具牌号.
pub const CERTIFICATE_MAX: usize = 40;
/// 起运地, 到达地, 运输货物名称.
pub const TRANSPORT_TEXT_MAX: usize = 80;
/// Most rows of 货物运输 data.
pub const TRANSPORTS_MAX: usize = 2000;
/// Other free-text fields (编号, 车牌号): a generous bound against abuse.
pub const OTHER_TEXT_MAX: usize = 80;
/// 面积单位 accepted for 不动产. rules.md §7 names a "code list" without giving it;
/// these are the area units in common use, with `㎡`/`m²`/`m2` read as 平方米.
pub const AREA_UNITS: &[&str] = &["平方米", "平方千米", "公顷", "亩"];

/// The special-business block of an issuing request, as sent and (normalised) as
/// stored in the canonical request. Which fields apply depends on `type`:
///
/// | field | 03 | 04 | 05 | 06 |
/// |---|---|---|---|---|
/// | `province`, `city` (required), `district` (optional), `address` | ✓ | | ✓ | ✓ |
/// | `projectName` | ✓ | | | |
/// | `crossCity` | ✓ | | ✓ | ✓ |
/// | `crossRegionPermitNo` (required when `crossCity`) | ✓ | | | |
/// | `landVatProjectNo` (optional) | ✓ | | ✓ | |
/// | `propertyCertificateNo`, `areaUnit` | | | ✓ | ✓ |
/// | `contractNo` (optional, 网签合同备案编号) | | | ✓ | |
/// | `leaseStart`, `leaseEnd` | | | | ✓ |
/// | `licensePlate` (optional, parking) | | | | ✓ |
/// | `transports` (1–2000 rows) | | ✓ | | |
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SpecialBusiness {
    /// `"03"` 建筑服务, `"04"` 货物运输服务, `"05"` 不动产销售, `"06"` 不动产经营租赁
    /// (the Chinese names are accepted too; the canonical request has the code).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// 省 (e.g. 广东省, 北京市).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// 市.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// 区/县 (optional: some cities have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// 详细地址.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// 建筑项目名称 (03).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    /// 跨地(市)标志.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_city: Option<bool>,
    /// 跨区域涉税事项报验管理编号 (03, when `crossCity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_region_permit_no: Option<String>,
    /// 土地增值税项目编号 (optional; 03 and 05).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub land_vat_project_no: Option<String>,
    /// 产权证书/不动产权证号 (05, 06).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_certificate_no: Option<String>,
    /// 面积单位, one of [`AREA_UNITS`] (05, 06).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_unit: Option<String>,
    /// 网签合同备案编号 / 不动产单元代码 (optional, 05).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_no: Option<String>,
    /// 租赁期起, `yyyy-MM-dd` (06).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_start: Option<String>,
    /// 租赁期止, `yyyy-MM-dd`, not before the start (06).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_end: Option<String>,
    /// 车牌号 (optional, 06 parking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_plate: Option<String>,
    /// 货物运输 rows (04).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<Transport>,
}

/// One row of 货物运输服务 data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Transport {
    /// 运输工具种类: `"1"` 铁路, `"2"` 公路, `"3"` 水路, `"4"` 航空, `"5"` 管道, `"6"` 其他.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vehicle_type: Option<String>,
    /// 运输工具牌号 (≤ 40).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vehicle_number: Option<String>,
    /// 起运地 (≤ 80).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// 到达地 (≤ 80).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// 运输货物名称 (≤ 80).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goods_name: Option<String>,
}

/// The supported special business types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialKind {
    /// 03 建筑服务.
    Construction,
    /// 04 货物运输服务.
    Freight,
    /// 05 不动产销售.
    RealEstateSale,
    /// 06 不动产经营租赁.
    RealEstateLease,
}

impl SpecialKind {
    /// Reads `"03"`–`"06"` (also `"3"`–`"6"`) or the Chinese name.
    pub fn parse(s: &str) -> Option<SpecialKind> {
        Some(match s.trim() {
            "03" | "3" | "建筑服务" => SpecialKind::Construction,
            "04" | "4" | "货物运输服务" | "货物运输" => SpecialKind::Freight,
            "05" | "5" | "不动产销售" => SpecialKind::RealEstateSale,
            "06" | "6" | "不动产经营租赁" => SpecialKind::RealEstateLease,
            _ => return None,
        })
    }

    /// The two-digit code (fa-piao `tdyslxDm`).
    pub fn code(self) -> &'static str {
        match self {
            SpecialKind::Construction => "03",
            SpecialKind::Freight => "04",
            SpecialKind::RealEstateSale => "05",
            SpecialKind::RealEstateLease => "06",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            SpecialKind::Construction => "建筑服务",
            SpecialKind::Freight => "货物运输服务",
            SpecialKind::RealEstateSale => "不动产销售",
            SpecialKind::RealEstateLease => "不动产经营租赁",
        }
    }

    /// 诺诺 `specificFactor` (providers.md §1.7): 3, 4, 5, 6.
    pub fn nuonuo(self) -> &'static str {
        match self {
            SpecialKind::Construction => "3",
            SpecialKind::Freight => "4",
            SpecialKind::RealEstateSale => "5",
            SpecialKind::RealEstateLease => "6",
        }
    }
}

impl SpecialBusiness {
    /// The type, when it is a supported one.
    pub fn special_kind(&self) -> Option<SpecialKind> {
        self.kind.as_deref().and_then(SpecialKind::parse)
    }
}

/// A problem with the special-business data. `Display` gives the English message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecialProblem {
    /// No or an unsupported type.
    #[error("The special business type must be 03 (construction), 04 (freight), 05 (real-estate sale) or 06 (real-estate lease), not “{found}”.")]
    TypeUnsupported {
        /// What was given.
        found: String,
    },
    /// A required field is empty.
    #[error("Enter the {en} for {kind_en}.")]
    Required {
        /// Field name in Chinese.
        zh: &'static str,
        /// Field name in English.
        en: &'static str,
        /// The business type in Chinese.
        kind_zh: &'static str,
        /// The business type in English.
        kind_en: &'static str,
    },
    /// A field is too long.
    #[error("The {en} may have at most {max} characters; this one has {len}.")]
    TooLong {
        /// Field name in Chinese.
        zh: &'static str,
        /// Field name in English.
        en: &'static str,
        /// Characters found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Invisible control characters in a field.
    #[error("The {en} contains invisible control characters.")]
    Control {
        /// Field name in Chinese.
        zh: &'static str,
        /// Field name in English.
        en: &'static str,
    },
    /// A field that does not belong to this type.
    #[error("The {en} does not apply to {kind_en}; remove it.")]
    NotApplicable {
        /// Field name in Chinese.
        zh: &'static str,
        /// Field name in English.
        en: &'static str,
        /// The business type in Chinese.
        kind_zh: &'static str,
        /// The business type in English.
        kind_en: &'static str,
    },
    /// Province + city + district + detailed address too long together.
    #[error(
        "Province, city, district and detailed address may have at most {max} characters together; these have {len}."
    )]
    AddressTooLong {
        /// Characters found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// 不动产销售: the detailed address names no street, road, village, township or town.
    #[error("For a real-estate sale the detailed address must contain 街, 路, 村, 乡, 镇 or 道.")]
    AddressNoStreet,
    /// An area unit not in the list.
    #[error("The area unit must be one of 平方米, 平方千米, 公顷, 亩, not “{found}”.")]
    AreaUnitInvalid {
        /// What was given.
        found: String,
    },
    /// A 运输工具种类 other than 1–6.
    #[error("The means of transport must be 1 (rail), 2 (road), 3 (water), 4 (air), 5 (pipeline) or 6 (other), not “{found}”.")]
    VehicleTypeInvalid {
        /// What was given.
        found: String,
    },
    /// No or too many freight rows.
    #[error("Freight transport needs 1 to {max} transport rows; there are {count}.")]
    TransportCount {
        /// Rows found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A date that is not `yyyy-MM-dd`.
    #[error("The {en} must be a date written yyyy-MM-dd, not “{found}”.")]
    DateFormat {
        /// Field name in Chinese.
        zh: &'static str,
        /// Field name in English.
        en: &'static str,
        /// What was given.
        found: String,
    },
    /// The lease ends before it starts.
    #[error("The lease ends ({end}) before it starts ({start}).")]
    LeasePeriodOrder {
        /// 租赁期起.
        start: String,
        /// 租赁期止.
        end: String,
    },
    /// 建筑服务 / 不动产 invoices have exactly one line.
    #[error("A {kind_en} invoice has exactly one line; this one has {count}.")]
    OneLine {
        /// Lines found.
        count: usize,
        /// The business type in Chinese.
        kind_zh: &'static str,
        /// The business type in English.
        kind_en: &'static str,
    },
    /// A line field that must stay empty for this type.
    #[error("On a {kind_en} invoice the {en} of the line must be empty.")]
    LineFieldNotAllowed {
        /// Field name in Chinese.
        zh: &'static str,
        /// Field name in English.
        en: &'static str,
        /// The business type in Chinese.
        kind_zh: &'static str,
        /// The business type in English.
        kind_en: &'static str,
    },
}

impl Rule for SpecialProblem {
    fn code(&self) -> &'static str {
        use SpecialProblem::*;
        match self {
            TypeUnsupported { .. } => "SPECIAL_TYPE_UNSUPPORTED",
            Required { .. } => "SPECIAL_FIELD_REQUIRED",
            TooLong { .. } => "SPECIAL_FIELD_TOO_LONG",
            Control { .. } => "SPECIAL_CONTROL_CHARACTERS",
            NotApplicable { .. } => "SPECIAL_FIELD_NOT_APPLICABLE",
            AddressTooLong { .. } => "SPECIAL_ADDRESS_TOO_LONG",
            AddressNoStreet => "SPECIAL_ADDRESS_NO_STREET",
            AreaUnitInvalid { .. } => "SPECIAL_AREA_UNIT_INVALID",
            VehicleTypeInvalid { .. } => "SPECIAL_VEHICLE_TYPE_INVALID",
            TransportCount { .. } => "SPECIAL_TRANSPORT_COUNT",
            DateFormat { .. } => "SPECIAL_DATE_FORMAT",
            LeasePeriodOrder { .. } => "SPECIAL_LEASE_PERIOD_ORDER",
            OneLine { .. } => "SPECIAL_ONE_LINE",
            LineFieldNotAllowed { .. } => "SPECIAL_LINE_FIELD_NOT_ALLOWED",
        }
    }

    fn message_zh(&self) -> String {
        use SpecialProblem::*;
        match self {
            TypeUnsupported { found } => {
                format!("特定业务类型应为03建筑服务、04货物运输服务、05不动产销售或06不动产经营租赁，而不是“{found}”。")
            }
            Required { zh, kind_zh, .. } => format!("{kind_zh}发票请填写{zh}。"),
            TooLong { zh, len, max, .. } => format!("{zh}最多{max}个字符，当前为{len}个。"),
            Control { zh, .. } => format!("{zh}含有不可见的控制字符。"),
            NotApplicable { zh, kind_zh, .. } => format!("{kind_zh}发票不填写{zh}，请删除。"),
            AddressTooLong { len, max } => format!("省、市、区县与详细地址合计最多{max}个字符，当前为{len}个。"),
            AddressNoStreet => "不动产销售的详细地址须包含“街”“路”“村”“乡”“镇”或“道”。".into(),
            AreaUnitInvalid { found } => format!("面积单位应为平方米、平方千米、公顷或亩，而不是“{found}”。"),
            VehicleTypeInvalid { found } => {
                format!("运输工具种类应为1铁路、2公路、3水路、4航空、5管道或6其他，而不是“{found}”。")
            }
            TransportCount { count, max } => format!("货物运输服务发票须有1至{max}条运输明细，当前为{count}条。"),
            DateFormat { zh, found, .. } => format!("{zh}应为yyyy-MM-dd格式的日期，而不是“{found}”。"),
            LeasePeriodOrder { start, end } => format!("租赁期止（{end}）早于租赁期起（{start}）。"),
            OneLine { count, kind_zh, .. } => format!("{kind_zh}发票只能有一行明细，当前为{count}行。"),
            LineFieldNotAllowed { zh, kind_zh, .. } => format!("{kind_zh}发票的明细行{zh}须为空。"),
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }
}

fn kind_en(k: SpecialKind) -> &'static str {
    match k {
        SpecialKind::Construction => "construction services",
        SpecialKind::Freight => "freight transport services",
        SpecialKind::RealEstateSale => "real-estate sale",
        SpecialKind::RealEstateLease => "real-estate lease",
    }
}

/// Cleans a text field; reports control characters and an excess length.
fn text(
    v: &Option<String>,
    field: &str,
    zh: &'static str,
    en: &'static str,
    max: usize,
    issues: &mut Issues,
) -> Option<String> {
    let raw = v.as_deref()?;
    if has_control(raw) {
        issues.push(field, &SpecialProblem::Control { zh, en });
    }
    let t = clean_text(raw);
    if t.is_empty() {
        return None;
    }
    let len = char_len(&t);
    if len > max {
        issues.push(field, &SpecialProblem::TooLong { zh, en, len, max });
    }
    Some(t)
}

/// A `yyyy-MM-dd` calendar date, as (year, month, day).
fn parse_date(s: &str) -> Option<(u32, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))?
            .parse::<u32>()
            .ok()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (y >= 1900 && (1..=days).contains(&d)).then_some((y, m, d))
}

/// A number field that holds something (an empty string counts as absent).
fn given(d: &DecimalInput) -> bool {
    !matches!(d, DecimalInput::Text(s) if s.trim().is_empty())
}

fn area_unit(s: &str) -> Option<&'static str> {
    match s {
        "㎡" | "m²" | "m2" | "平方米" => Some("平方米"),
        other => AREA_UNITS.iter().copied().find(|u| *u == other),
    }
}

/// Checks the special-business block against its type's rules and the lines
/// (rules.md §7) and returns it normalised (type as its code, texts cleaned,
/// fields of other types absent). Field paths start with `specialBusiness`;
/// line problems point at `lines[i]`. Returns `None` for an unsupported type.
pub fn check_special_business(
    sb: &SpecialBusiness,
    lines: &[LineInput],
    issues: &mut Issues,
) -> Option<SpecialBusiness> {
    const P: &str = "specialBusiness";
    let Some(kind) = sb.special_kind() else {
        let found = sb.kind.as_deref().unwrap_or("").chars().take(40).collect();
        issues.push(&format!("{P}.type"), &SpecialProblem::TypeUnsupported { found });
        return None;
    };
    let (kind_zh, ken) = (kind.name_zh(), kind_en(kind));
    let required = |issues: &mut Issues, name: &str, zh: &'static str, en: &'static str| {
        issues.push(
            &format!("{P}.{name}"),
            &SpecialProblem::Required {
                zh,
                en,
                kind_zh,
                kind_en: ken,
            },
        );
    };
    let mut out = SpecialBusiness {
        kind: Some(kind.code().into()),
        ..Default::default()
    };
    let uses_place = kind != SpecialKind::Freight;

    // Fields that do not belong to this type are refused rather than dropped.
    let not_applicable: [(&str, bool, &'static str, &'static str); 12] = [
        ("province", !uses_place && sb.province.is_some(), "省", "province"),
        ("city", !uses_place && sb.city.is_some(), "市", "city"),
        ("district", !uses_place && sb.district.is_some(), "区县", "district"),
        (
            "address",
            !uses_place && sb.address.is_some(),
            "详细地址",
            "detailed address",
        ),
        (
            "crossCity",
            !uses_place && sb.cross_city.is_some(),
            "跨地(市)标志",
            "cross-city flag",
        ),
        (
            "projectName",
            kind != SpecialKind::Construction && sb.project_name.is_some(),
            "建筑项目名称",
            "project name",
        ),
        (
            "crossRegionPermitNo",
            kind != SpecialKind::Construction && sb.cross_region_permit_no.is_some(),
            "跨区域涉税事项报验管理编号",
            "cross-region tax permit number",
        ),
        (
            "landVatProjectNo",
            !matches!(kind, SpecialKind::Construction | SpecialKind::RealEstateSale)
                && sb.land_vat_project_no.is_some(),
            "土地增值税项目编号",
            "land VAT project number",
        ),
        (
            "propertyCertificateNo",
            !matches!(kind, SpecialKind::RealEstateSale | SpecialKind::RealEstateLease)
                && sb.property_certificate_no.is_some(),
            "产权证书/不动产权证号",
            "property certificate number",
        ),
        (
            "areaUnit",
            !matches!(kind, SpecialKind::RealEstateSale | SpecialKind::RealEstateLease) && sb.area_unit.is_some(),
            "面积单位",
            "area unit",
        ),
        (
            "contractNo",
            kind != SpecialKind::RealEstateSale && sb.contract_no.is_some(),
            "网签合同备案编号",
            "contract filing number",
        ),
        (
            "transports",
            kind != SpecialKind::Freight && !sb.transports.is_empty(),
            "运输明细",
            "transport rows",
        ),
    ];
    let lease_only = [
        ("leaseStart", sb.lease_start.is_some(), "租赁期起", "lease start"),
        ("leaseEnd", sb.lease_end.is_some(), "租赁期止", "lease end"),
        ("licensePlate", sb.license_plate.is_some(), "车牌号", "licence plate"),
    ];
    for (name, bad, zh, en) in not_applicable {
        if bad {
            issues.push(
                &format!("{P}.{name}"),
                &SpecialProblem::NotApplicable {
                    zh,
                    en,
                    kind_zh,
                    kind_en: ken,
                },
            );
        }
    }
    if kind != SpecialKind::RealEstateLease {
        for (name, given, zh, en) in lease_only {
            if given {
                issues.push(
                    &format!("{P}.{name}"),
                    &SpecialProblem::NotApplicable {
                        zh,
                        en,
                        kind_zh,
                        kind_en: ken,
                    },
                );
            }
        }
    }

    if uses_place {
        let f = |n: &str| format!("{P}.{n}");
        out.province = text(&sb.province, &f("province"), "省", "province", ADDRESS_MAX, issues);
        out.city = text(&sb.city, &f("city"), "市", "city", ADDRESS_MAX, issues);
        out.district = text(&sb.district, &f("district"), "区县", "district", ADDRESS_MAX, issues);
        out.address = text(
            &sb.address,
            &f("address"),
            "详细地址",
            "detailed address",
            ADDRESS_MAX,
            issues,
        );
        let (zh_place, en_place) = if kind == SpecialKind::Construction {
            ("建筑服务发生地", "place of the construction service")
        } else {
            ("不动产地址", "address of the property")
        };
        if out.province.is_none() {
            required(issues, "province", zh_place, en_place);
        }
        if out.city.is_none() {
            required(issues, "city", "市", "city");
        }
        if out.address.is_none() {
            required(issues, "address", "详细地址", "detailed address");
        }
        let len: usize = [&out.province, &out.city, &out.district, &out.address]
            .iter()
            .filter_map(|v| v.as_deref())
            .map(char_len)
            .sum();
        if len > ADDRESS_MAX {
            issues.push(&f("address"), &SpecialProblem::AddressTooLong { len, max: ADDRESS_MAX });
        }
        if kind == SpecialKind::RealEstateSale {
            if let Some(a) = &out.address {
                if !a.chars().any(|c| "街路村乡镇道".contains(c)) {
                    issues.push(&f("address"), &SpecialProblem::AddressNoStreet);
                }
            }
        }
        out.cross_city = sb.cross_city;
        if sb.cross_city.is_none() {
            required(issues, "crossCity", "跨地(市)标志", "cross-city flag");
        }
    }

    match kind {
        SpecialKind::Construction => {
            out.project_name = text(
                &sb.project_name,
                &format!("{P}.projectName"),
                "建筑项目名称",
                "project name",
                PROJECT_NAME_MAX,
                issues,
            );
            if out.project_name.is_none() {
                required(issues, "projectName", "建筑项目名称", "project name");
            }
            out.cross_region_permit_no = text(
                &sb.cross_region_permit_no,
                &format!("{P}.crossRegionPermitNo"),
                "跨区域涉税事项报验管理编号",
                "cross-region tax permit number",
                OTHER_TEXT_MAX,
                issues,
            );
            if sb.cross_city == Some(true) && out.cross_region_permit_no.is_none() {
                required(
                    issues,
                    "crossRegionPermitNo",
                    "跨区域涉税事项报验管理编号",
                    "cross-region tax permit number",
                );
            }
            out.land_vat_project_no = text(
                &sb.land_vat_project_no,
                &format!("{P}.landVatProjectNo"),
                "土地增值税项目编号",
                "land VAT project number",
                OTHER_TEXT_MAX,
                issues,
            );
        }
        SpecialKind::Freight => {
            let count = sb.transports.len();
            if count == 0 || count > TRANSPORTS_MAX {
                issues.push(
                    &format!("{P}.transports"),
                    &SpecialProblem::TransportCount {
                        count,
                        max: TRANSPORTS_MAX,
                    },
                );
            }
            for (i, t) in sb.transports.iter().enumerate().take(TRANSPORTS_MAX) {
                let f = |n: &str| format!("{P}.transports[{i}].{n}");
                let vt = t.vehicle_type.as_deref().map(str::trim).unwrap_or("");
                if vt.is_empty() {
                    issues.push(
                        &f("vehicleType"),
                        &SpecialProblem::Required {
                            zh: "运输工具种类",
                            en: "means of transport",
                            kind_zh,
                            kind_en: ken,
                        },
                    );
                } else if !matches!(vt, "1" | "2" | "3" | "4" | "5" | "6") {
                    issues.push(
                        &f("vehicleType"),
                        &SpecialProblem::VehicleTypeInvalid {
                            found: vt.chars().take(20).collect(),
                        },
                    );
                }
                let row = Transport {
                    vehicle_type: (!vt.is_empty()).then(|| vt.to_owned()),
                    vehicle_number: text(
                        &t.vehicle_number,
                        &f("vehicleNumber"),
                        "运输工具牌号",
                        "vehicle number",
                        CERTIFICATE_MAX,
                        issues,
                    ),
                    origin: text(
                        &t.origin,
                        &f("origin"),
                        "起运地",
                        "place of departure",
                        TRANSPORT_TEXT_MAX,
                        issues,
                    ),
                    destination: text(
                        &t.destination,
                        &f("destination"),
                        "到达地",
                        "destination",
                        TRANSPORT_TEXT_MAX,
                        issues,
                    ),
                    goods_name: text(
                        &t.goods_name,
                        &f("goodsName"),
                        "运输货物名称",
                        "goods name",
                        TRANSPORT_TEXT_MAX,
                        issues,
                    ),
                };
                let missing: [(&str, bool, &'static str, &'static str); 4] = [
                    (
                        "vehicleNumber",
                        row.vehicle_number.is_none(),
                        "运输工具牌号",
                        "vehicle number",
                    ),
                    ("origin", row.origin.is_none(), "起运地", "place of departure"),
                    ("destination", row.destination.is_none(), "到达地", "destination"),
                    ("goodsName", row.goods_name.is_none(), "运输货物名称", "goods name"),
                ];
                for (n, m, zh, en) in missing {
                    if m {
                        issues.push(
                            &f(n),
                            &SpecialProblem::Required {
                                zh,
                                en,
                                kind_zh,
                                kind_en: ken,
                            },
                        );
                    }
                }
                out.transports.push(row);
            }
        }
        SpecialKind::RealEstateSale | SpecialKind::RealEstateLease => {
            out.property_certificate_no = text(
                &sb.property_certificate_no,
                &format!("{P}.propertyCertificateNo"),
                "产权证书/不动产权证号",
                "property certificate number",
                CERTIFICATE_MAX,
                issues,
            );
            if out.property_certificate_no.is_none() {
                required(
                    issues,
                    "propertyCertificateNo",
                    "产权证书/不动产权证号",
                    "property certificate number",
                );
            }
            match sb.area_unit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => required(issues, "areaUnit", "面积单位", "area unit"),
                Some(u) => match area_unit(u) {
                    Some(u) => out.area_unit = Some(u.into()),
                    None => issues.push(
                        &format!("{P}.areaUnit"),
                        &SpecialProblem::AreaUnitInvalid {
                            found: u.chars().take(20).collect(),
                        },
                    ),
                },
            }
            if kind == SpecialKind::RealEstateSale {
                out.contract_no = text(
                    &sb.contract_no,
                    &format!("{P}.contractNo"),
                    "网签合同备案编号",
                    "contract filing number",
                    OTHER_TEXT_MAX,
                    issues,
                );
                out.land_vat_project_no = text(
                    &sb.land_vat_project_no,
                    &format!("{P}.landVatProjectNo"),
                    "土地增值税项目编号",
                    "land VAT project number",
                    OTHER_TEXT_MAX,
                    issues,
                );
            } else {
                let mut dates = [None, None];
                for (slot, (name, v, zh, en)) in [
                    ("leaseStart", &sb.lease_start, "租赁期起", "lease start"),
                    ("leaseEnd", &sb.lease_end, "租赁期止", "lease end"),
                ]
                .into_iter()
                .enumerate()
                {
                    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                        None => required(issues, name, zh, en),
                        Some(d) if parse_date(d).is_none() => issues.push(
                            &format!("{P}.{name}"),
                            &SpecialProblem::DateFormat {
                                zh,
                                en,
                                found: d.chars().take(30).collect(),
                            },
                        ),
                        Some(d) => dates[slot] = Some(d.to_owned()),
                    }
                }
                if let [Some(s), Some(e)] = &dates {
                    // yyyy-MM-dd compares correctly as text.
                    if e < s {
                        issues.push(
                            &format!("{P}.leaseEnd"),
                            &SpecialProblem::LeasePeriodOrder {
                                start: s.clone(),
                                end: e.clone(),
                            },
                        );
                    }
                }
                let [s, e] = dates;
                out.lease_start = s;
                out.lease_end = e;
                out.license_plate = text(
                    &sb.license_plate,
                    &format!("{P}.licensePlate"),
                    "车牌号",
                    "licence plate",
                    OTHER_TEXT_MAX,
                    issues,
                );
            }
        }
    }

    // Line constraints.
    if kind != SpecialKind::Freight {
        if lines.len() != 1 {
            issues.push(
                "lines",
                &SpecialProblem::OneLine {
                    count: lines.len(),
                    kind_zh,
                    kind_en: ken,
                },
            );
        }
        let empty = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        for (i, l) in lines.iter().enumerate() {
            let mut fields: Vec<(&str, bool, &'static str, &'static str)> = vec![
                ("spec", !empty(&l.spec), "规格型号", "specification"),
                ("unit", !empty(&l.unit), "单位", "unit"),
            ];
            if kind == SpecialKind::Construction {
                fields.push(("quantity", l.quantity.as_ref().is_some_and(given), "数量", "quantity"));
                fields.push((
                    "unitPrice",
                    l.unit_price.as_ref().is_some_and(given),
                    "单价",
                    "unit price",
                ));
            }
            for (name, bad, zh, en) in fields {
                if bad {
                    issues.push(
                        &format!("lines[{i}].{name}"),
                        &SpecialProblem::LineFieldNotAllowed {
                            zh,
                            en,
                            kind_zh,
                            kind_en: ken,
                        },
                    );
                }
            }
        }
    }
    Some(out)
}
#[cfg(test)]
#[path = "special_tests.rs"]
mod tests;
