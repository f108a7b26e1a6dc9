//! Everyday words for codes: what people call a purchase (外卖, 打车, 话费) is
//! rarely the name the table gives it (餐饮服务, 出租汽车客运服务, 语音通话服务), and
//! a search for the word alone finds nothing. Search ranks these codes high when
//! the query is one of the words ([`score::SYNONYM`](super::search::score::SYNONYM)),
//! lower when it starts one ([`score::SYNONYM_PARTIAL`](super::search::score::SYNONYM_PARTIAL))
//! and lower still when it contains one
//! ([`score::SYNONYM_IN_QUERY`](super::search::score::SYNONYM_IN_QUERY)).
//!
//! Provenance: written by hand from the words on everyday receipts and
//! reimbursement forms, each code checked against the embedded table of
//! 2017-12-18 (a leaf, whose 名称 is in the comment); the test below fails when a
//! code is not a leaf of that table. A code missing from a table loaded at run
//! time is skipped. To add a word: the most specific leaf that a seller
//! would print on that invoice, in the order to show them.

/// (everyday word, codes best first).
pub(crate) const SYNONYMS: &[(&str, &[&str])] = &[
    // 餐饮服务
    ("外卖", &[MEALS]),
    ("外卖费", &[MEALS]),
    ("餐费", &[MEALS]),
    ("餐饮费", &[MEALS]),
    ("伙食费", &[MEALS]),
    ("工作餐", &[MEALS]),
    ("饭费", &[MEALS]),
    // 车辆停放服务
    ("停车费", &[PARKING]),
    ("停车", &[PARKING]),
    ("车位费", &[PARKING]),
    // 出租汽车客运服务
    ("打车", &[TAXI]),
    ("打车费", &[TAXI]),
    ("出租车", &[TAXI]),
    ("出租车费", &[TAXI]),
    ("的士", &[TAXI]),
    ("网约车", &[TAXI]),
    // 公共电汽车客运服务
    ("公交车", &["3010101020201000000"]),
    ("公交费", &["3010101020201000000"]),
    // 语音通话服务, 互联网接入服务
    ("话费", &[CALLS, INTERNET]),
    ("电话费", &[CALLS, INTERNET]),
    ("手机费", &[CALLS, INTERNET]),
    ("通讯费", &[CALLS, INTERNET]),
    ("通信费", &[CALLS, INTERNET]),
    ("流量费", &[INTERNET]),
    ("宽带费", &[INTERNET]),
    ("网费", &[INTERNET]),
    // 会议服务
    ("会议费", &[MEETINGS]),
    ("会务费", &[MEETINGS]),
    // 非学历教育服务
    ("培训费", &[TRAINING]),
    ("培训", &[TRAINING]),
    // 住宿服务
    ("住宿费", &[LODGING]),
    ("房费", &[LODGING]),
    ("酒店", &[LODGING]),
    // 国内航空旅客运输服务, 国内铁路旅客运输服务
    ("机票", &["3010301010100000000"]),
    ("飞机票", &["3010301010100000000"]),
    ("火车票", &["3010101010100000000"]),
    ("高铁票", &["3010101010100000000"]),
    // 物业管理服务
    ("物业费", &["3040801010000000000"]),
    // 车用汽油
    ("油费", &["1070101010200000000"]),
    ("加油", &["1070101010200000000"]),
    // 电力产品, 自来水
    ("电费", &["1100101020100000000"]),
    ("水费", &["1100301010000000000"]),
    // 咨询服务, 旅游服务
    ("咨询费", &["3040603000000000000"]),
    ("旅游费", &["3070301000000000000"]),
];

const MEALS: &str = "3070401000000000000";
const PARKING: &str = "3040502020200000000";
const TAXI: &str = "3010101020203000000";
const CALLS: &str = "3030101000000000000";
const INTERNET: &str = "3030203000000000000";
const MEETINGS: &str = "3040304010000000000";
const TRAINING: &str = "3070201020000000000";
const LODGING: &str = "3070402000000000000";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxcode::{lookup, search, SearchOptions};

    #[test]
    fn every_code_is_a_leaf_of_the_embedded_table() {
        for (word, codes) in SYNONYMS {
            assert!(!codes.is_empty(), "{word}");
            for code in *codes {
                let c = lookup(code).unwrap_or_else(|| panic!("{word}: {code} is not in the table"));
                assert!(c.leaf, "{word}: {code} {} is a summary code", c.name);
            }
        }
        let mut words: Vec<&str> = SYNONYMS.iter().map(|(w, _)| *w).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), SYNONYMS.len(), "a word listed twice");
    }

    #[test]
    fn everyday_words_find_their_codes_first() {
        let first = |q: &str| {
            search(q, &SearchOptions { limit: Some(5) })
                .first()
                .map(|h| h.name.clone())
                .unwrap_or_default()
        };
        for (q, name) in [
            ("外卖", "餐饮服务"),
            ("停车费", "车辆停放服务"),
            ("餐费", "餐饮服务"),
            ("打车", "出租汽车客运服务"),
            ("话费", "语音通话服务"),
            ("会议费", "会议服务"),
            ("培训费", "非学历教育服务"),
            ("出租车", "出租汽车客运服务"),
            // Started or with more around it.
            ("停车", "车辆停放服务"),
            ("打车费用", "出租汽车客运服务"),
        ] {
            assert_eq!(first(q), name, "{q}");
        }
        // The table's own names still come first where they match.
        assert_eq!(first("餐饮服务"), "餐饮服务");
        let hits = search("话费", &SearchOptions::default());
        assert_eq!(hits[1].name, "互联网接入服务");
        // A name containing the query beats a word the query contains: 加油机 is 税控加油机.
        assert_eq!(first("加油机"), "税控加油机");
    }
}
