//! Typical VAT rates by code prefix: **suggestions for a general taxpayer
//! (一般纳税人)**, not a ruling.
//!
//! The classification table has no rate column, so these come from the rate
//! rules in force since 2019-04-01 (财政部 税务总局 海关总署公告2019年第39号;
//! 增值税暂行条例 第二条; 财税〔2016〕36号; 财税〔2017〕37号):
//!
//! - goods, processing and repair services (加工修理修配劳务): 13 %;
//! - the 9 % goods: agricultural products (农产品), edible vegetable oil and edible
//!   salt, tap water, heating, cooling, hot water, gas (煤气, 天然气, 液化石油气,
//!   沼气, 二甲醚, 居民用煤炭制品), books, newspapers and magazines, audio-visual
//!   and electronic publications, feed, fertiliser, pesticides, agricultural
//!   machinery (including 农用水泵 and 农用柴油机) and agricultural film;
//! - transport, postal, basic telecommunications, construction, real estate
//!   (sale and lease), land use rights: 9 %;
//! - value-added telecommunications, modern services, finance, life services,
//!   other intangible assets: 6 %; leasing of tangible movables: 13 %;
//! - 不征税项目 (the 6 branch): none.
//!
//! Where a group holds items at two rates the list gives both, the more typical
//! first (for example 乳制品: 13 %, 9 % for plain pasteurised or sterilised milk).
//! Small-scale taxpayers, simplified levy (征收率 3 %/5 %/1 %), exemptions and the
//! zero rate are not covered. The longest matching prefix wins.

/// `(code prefix, rates)`, rates as decimal strings, most typical first.
const RULES: &[(&str, &[&str])] = &[
    // 1 货物
    ("1", &["0.13"]),
    ("101", &["0.09"]),               // 农、林、牧、渔业类产品 (primary agricultural products)
    ("1020202", &["0.09"]),           // 天然气
    ("1020203", &["0.09"]),           // 液化天然气
    ("1020204", &["0.09", "0.13"]),   // 煤层气
    ("1030104", &["0.09", "0.13"]),   // 饲料 (pet food: 13 %)
    ("1030105", &["0.09", "0.13"]),   // 植物油 (edible: 9 %)
    ("1030107", &["0.09", "0.13"]),   // 畜禽肉 (fresh, chilled and frozen meat are 农产品)
    ("103020400", &["0.13", "0.09"]), // 乳制品 (plain pasteurised/sterilised milk: 9 %)
    ("103021001", &["0.09"]),         // 食用盐
    ("106020101", &["0.09"]),         // 有刊号图书、报纸、期刊
    ("106020104", &["0.09", "0.13"]), // 地图、地图册
    ("1060204", &["0.09"]),           // 磁介质复制品 (音像制品)
    ("1060205", &["0.09"]),           // 非磁介质复制品 (音像制品)
    ("106020503", &["0.13"]),         // 非音像复制品
    ("1060302", &["0.09"]),           // 电子出版物
    ("106051214", &["0.09"]),         // 居民用煤制品
    ("10701011101", &["0.09"]),       // 液化石油气
    ("10701020204", &["0.09"]),       // 沼气
    ("10702024", &["0.09"]),          // 二甲醚
    ("1070204", &["0.09"]),           // 化学肥料
    ("1070205", &["0.09"]),           // 有机肥料及微生物肥料
    ("1070206", &["0.09"]),           // 化学农药
    ("1070207", &["0.09"]),           // 生物农药及微生物农药
    ("10706010101", &["0.09"]),       // 农用薄膜
    ("109010205", &["0.09"]),         // 农用柴油机
    ("109011702", &["0.09"]),         // 农用水泵
    ("1090235", &["0.09"]),           // 拖拉机及农林牧渔用挂车
    ("1090236", &["0.09"]),           // 机械化农业及园艺机具
    ("1090237", &["0.09"]),           // 营林及木竹采伐机械
    ("1090238", &["0.09"]),           // 畜牧机械
    ("1090239", &["0.09"]),           // 渔业捕捞养殖机械
    ("1090240", &["0.09"]),           // 农产品初加工机械
    ("1100102", &["0.09"]),           // 热力、供热 (incl. 热水)
    ("1100103", &["0.09"]),           // 冷气
    ("11002", &["0.09"]),             // 燃气
    ("11003", &["0.09", "0.13"]),     // 水、冰、雪
    ("1100301", &["0.09"]),           // 水 (自来水 …)
    ("1100302", &["0.13"]),           // 冰雪
    // 2 劳务: processing, repair and the listed production services
    ("2", &["0.13"]),
    // 3 销售服务
    ("3", &["0.06", "0.09", "0.13"]),
    ("301", &["0.09"]),                   // 交通运输服务
    ("302", &["0.09"]),                   // 邮政服务
    ("303", &["0.09", "0.06"]),           // 电信服务
    ("30301", &["0.09"]),                 // 基础电信服务
    ("30302", &["0.06"]),                 // 增值电信服务
    ("304", &["0.06"]),                   // 现代服务
    ("30405", &["0.13", "0.09", "0.06"]), // 租赁服务
    ("304050101", &["0.13"]),             // 有形动产融资租赁
    ("304050102", &["0.06", "0.13"]),     // 有形动产融资租赁售后回租 (as 贷款服务 since 2016)
    ("304050103", &["0.09"]),             // 不动产融资租赁
    ("304050199", &["0.13", "0.09"]),     // 其他融资租赁
    ("304050201", &["0.13"]),             // 有形动产经营租赁
    ("304050202", &["0.09"]),             // 不动产经营租赁
    ("305", &["0.09"]),                   // 建筑服务
    ("306", &["0.06"]),                   // 金融服务
    ("307", &["0.06"]),                   // 生活服务
    // 4 无形资产
    ("4", &["0.06"]),
    ("40501", &["0.09"]), // 土地使用权
    // 5 不动产
    ("5", &["0.09"]),
    // 6 未发生销售行为的不征税项目
    ("6", &[]),
];

/// The suggested rates for a 19-digit code (or any prefix of one): most typical
/// first, empty for 不征税项目 and for codes outside the six branches.
///
/// ```
/// use fapiao::taxcode::suggested_rates;
/// assert_eq!(suggested_rates("3070401000000000000"), ["0.06"]);     // 餐饮服务
/// assert_eq!(suggested_rates("1010101010000000000"), ["0.09"]);     // 稻谷
/// assert_eq!(suggested_rates("1090511000000000000"), ["0.13"]);     // 计算机外部设备
/// assert!(suggested_rates("6010000000000000000").is_empty());       // 预付卡销售
/// ```
pub fn suggested_rates(code: &str) -> &'static [&'static str] {
    RULES
        .iter()
        .filter(|(prefix, _)| code.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, rates)| *rates)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(suggested_rates("1100101010000000000"), ["0.13"]); // 发电
        assert_eq!(suggested_rates("1100102020200000000"), ["0.09"]); // 热水
        assert_eq!(suggested_rates("1100301010000000000"), ["0.09"]); // 自来水
        assert_eq!(suggested_rates("1060201010100000000"), ["0.09"]); // 党报
        assert_eq!(suggested_rates("1060201030000000000"), ["0.13"]); // 广告宣传印刷品
        assert_eq!(suggested_rates("1090241000000000000"), ["0.13"]); // 农机零配件
        assert_eq!(suggested_rates("3040502020000000000"), ["0.09"]); // 不动产经营租赁
        assert_eq!(suggested_rates("3030200000000000000"), ["0.06"]); // 增值电信
        assert_eq!(suggested_rates("4050101000000000000"), ["0.09"]); // 出让土地使用权
        assert_eq!(suggested_rates("4030000000000000000"), ["0.06"]); // 著作权
        assert_eq!(suggested_rates("5010101000000000000"), ["0.09"]);
        assert!(suggested_rates("7000000000000000000").is_empty());
        assert!(suggested_rates("").is_empty());
    }

    #[test]
    fn rules_are_unique_digit_prefixes_with_decimal_rates() {
        for (i, (p, rates)) in RULES.iter().enumerate() {
            assert!(p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty(), "{p}");
            assert!(RULES[..i].iter().all(|(q, _)| q != p), "duplicate {p}");
            for r in *rates {
                assert!(matches!(*r, "0.13" | "0.09" | "0.06"), "{p}: {r}");
            }
        }
    }
}
