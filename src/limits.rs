//! Length limits of invoice fields, in characters.
//!
//! Providers differ; each limit here is the strictest one among the channels this
//! crate targets (诺诺/诺税通 first), as collected in ../shared/spec/rules.md §6.
//! A limit that is too strict for another channel can be raised in one place.

/// 购买方名称, buyer name (诺诺 100, 百望 100).
pub const BUYER_NAME: usize = 100;
/// 购买方税号 (诺诺/百望 20).
pub const TAX_ID: usize = 20;
/// 地址, buyer address (诺诺 80).
pub const ADDRESS: usize = 80;
/// 电话, buyer phone (诺诺 50; the legacy limit of 20 is not applied).
pub const PHONE: usize = 50;
/// 开户行 and 账号 together (诺诺: 开户行及账号 ≤ 100).
pub const BANK_NAME_AND_ACCOUNT: usize = 100;
/// 地址 and 电话 together (诺诺 `buyerAddress` + `buyerTel` ≤ 100, providers.md §1.7).
pub const ADDRESS_AND_PHONE: usize = 100;
/// 账号 alone (百望 50).
pub const BANK_ACCOUNT: usize = 50;
/// Delivery e-mail (诺诺 50).
pub const EMAIL: usize = 50;
/// A company name of this many characters or fewer is probably a person's name
/// (诺诺 refuses it with `naturalPersonVerifyFlag`).
pub const SHORT_COMPANY_NAME: usize = 4;
/// 商品名称, item name (诺诺 90), counted without the `*简称*` prefix.
pub const ITEM_NAME: usize = 90;
