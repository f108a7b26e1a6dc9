//! Taxpayer identification numbers (纳税人识别号) as a buyer enters them.
//!
//! Providers accept four forms: the 18-character unified social credit code
//! ([`uscc`]), the 15-character legacy tax registration number (region code +
//! [`orgcode`]), 17 and 20 characters built on an identity-card number, and, for
//! natural persons, the 18-digit [`resident`] identity number.
//!
//! [`validate_tax_id`] normalises the input, finds its form, applies every rule and
//! returns errors (which block issuing), warnings (which do not) and suggestions.
//! A structure no real ID can have is an error; where real IDs are known to depart
//! from a rule (a USCC checksum, the sequence number or region of a legacy
//! number) the error is one the user may confirm
//! ([`Issue::overridable`](crate::Issue)), and its message says so.
//!
//! An 18-digit input can be a USCC or a resident ID; the valid reading wins, and
//! with neither valid a birth-date-like positions 7–14 (or [`Holder::Person`], see
//! [`validate_for`]) make it a resident ID, whose checks cannot be confirmed away.
//! Suggestions are candidates one typo away, with the positions that differ
//! ([`SuggestionEdit`]).
//!
//! ```
//! use fapiao::{validate_tax_id, TaxIdKind};
//!
//! let ok = validate_tax_id("91 110000 600037341l");
//! assert!(ok.valid);
//! assert_eq!(ok.normalized, "91110000600037341L");
//! assert_eq!(ok.kind, Some(TaxIdKind::Uscc));
//!
//! // An O typed for a 0: the error says why, the suggestion fixes it in one tap.
//! let typo = validate_tax_id("911100OO600037341L");
//! assert!(!typo.valid);
//! assert_eq!(typo.errors[0].code, "TAXID_CHARSET");
//! assert_eq!(typo.suggestions[0], "91110000600037341L");
//! ```

pub mod orgcode;
mod quick;
pub mod resident;
mod suggest;
pub mod uscc;

pub use quick::{clean_uscc, CleanUscc};
use serde::Serialize;

use crate::clock::{self, Date};
use crate::issue::{Issues, Rule, Severity};
use crate::region;
use crate::text::compact_id;
use crate::Issue;

/// Which form of taxpayer ID an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaxIdKind {
    /// 统一社会信用代码, 18 characters.
    Uscc,
    /// Legacy 税务登记证号, 15 characters: region code + organization code.
    Legacy15,
    /// Legacy, 17 characters: a 15-digit identity-card number + 2 characters.
    Legacy17,
    /// Legacy, 20 characters: an 18-character identity-card number + 2 characters.
    Legacy20,
    /// 公民身份号码, the 18-character resident identity number of a natural person.
    Resident,
}

/// A problem with a taxpayer ID. `Display` gives the English message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaxIdProblem {
    /// Nothing was entered.
    #[error("Enter the taxpayer identification number.")]
    Empty,
    /// Not 15, 17, 18 or 20 characters.
    #[error("A taxpayer ID has 15, 17, 18 or 20 characters; this one has {len}.")]
    Length {
        /// Characters after normalisation.
        len: usize,
    },
    /// A character that no taxpayer ID contains.
    #[error("Character “{ch}” at position {pos} cannot appear in a taxpayer ID.")]
    Charset {
        /// The character.
        ch: char,
        /// 1-based position in the normalised input.
        pos: usize,
    },
    /// I, O, S, V or Z in a unified social credit code (one issue for all of them).
    #[error(
        "A unified social credit code never contains the letters I, O, S, V or Z; found “{}” at position {}.",
        join(letters, ", "),
        join(positions, ", ")
    )]
    UsccLetter {
        /// The distinct letters found.
        letters: Vec<char>,
        /// Their 1-based positions.
        positions: Vec<usize>,
    },
    /// Position 1 is not a registration authority code.
    #[error("“{found}” is not a registration authority code; position 1 must be 1–9, A, N or Y.")]
    Authority {
        /// The character found.
        found: char,
    },
    /// The region part is not six digits.
    #[error("Positions {from}–{to} must be a six-digit region code.")]
    RegionFormat {
        /// First position (1-based).
        from: usize,
        /// Last position.
        to: usize,
    },
    /// The organization code's own check character is wrong.
    #[error("The organization code in positions {from}–{to} does not add up. Check each character, or confirm the number if it is printed like this on the buyer's licence.")]
    OrgChecksum {
        /// First position of the organization code.
        from: usize,
        /// Position of its check character.
        to: usize,
    },
    /// The unified social credit code's check character (position 18) does not match.
    #[error("The check character (position 18) does not match the rest of the code. Check each character, or confirm the number if it is printed like this on the buyer's licence.")]
    Checksum,
    /// The resident ID's check character does not match.
    #[error(
        "The identity number's check character (position 18) does not match the rest of the number; check each digit."
    )]
    ResidentChecksum,
    /// The birth date in a resident ID (or in the identity number a 17- or
    /// 20-character tax ID is built on) is not a real past date.
    #[error("The birth date {date} in the identity number is not a real date.")]
    BirthDate {
        /// The digits as entered: YYYYMMDD, or YYMMDD in a 15-digit identity number.
        date: String,
    },
    /// The region code is in no GB/T 2260 edition since 1981 (warning).
    #[error("Region code {code} is not in the GB/T 2260 list; check the number.")]
    RegionUnknown {
        /// The six digits.
        code: String,
    },
    /// The entity type is not one known for the authority (warning).
    #[error("Entity type “{entity}” is not a known type for registration authority “{authority}”; check the number.")]
    EntityTypeUnknown {
        /// Position 1.
        authority: char,
        /// Position 2.
        entity: char,
    },
    /// A 15/17/20-character legacy number (warning).
    #[error("This is a legacy {len}-character tax ID. Most taxpayers now have an 18-character unified social credit code; check with the buyer.")]
    Legacy {
        /// Its length.
        len: usize,
    },
    /// A 17/20-character legacy number whose first 15 or 18 characters cannot be an
    /// identity-card number: not digits (an 18-character one may end in `X`), or not
    /// beginning with a province code.
    #[error("Positions 1–{id_len} of a {len}-character tax ID must be an ID-card number: {id_len} digits starting with a province code.")]
    LegacyStructure {
        /// Its length.
        len: usize,
        /// Length of the identity number it should begin with (15 or 18).
        id_len: usize,
    },
    /// The region code of the identity number in a 17/20-character legacy number is
    /// in no GB/T 2260 edition since 1981. Some identity numbers carry codes the list
    /// lacks, so the user may confirm.
    #[error("Region code {code} of the ID number is in no GB/T 2260 edition (a few real ones are not). Check it, or confirm if the tax registration shows it.")]
    LegacyRegion {
        /// The six digits.
        code: String,
    },
    /// The two characters after the identity number in a 17/20-character legacy
    /// number are not digits. They are a sequence number, but not every tax office
    /// kept to digits, so the user may confirm.
    #[error("The last two characters of a {len}-character tax ID are a two-digit sequence number, with rare exceptions. Check them, or confirm if the tax registration shows them.")]
    LegacySuffix {
        /// Its length.
        len: usize,
    },
    /// A 17-character number whose identity number says its holder was born before
    /// 1921. That is what an 18-digit resident ID with a digit dropped gives (its
    /// century where the 15-digit number has its year), far more often than a real
    /// number of someone who registered a business in their late seventies; real
    /// ones exist, so the user may confirm.
    #[error("As a 17-character tax ID this is someone born on {birth}; more likely an 18-digit ID number lacks a digit. Confirm only if the tax registration shows it.")]
    LegacyAmbiguous {
        /// The birth date of the legacy reading, `YYYY-MM-DD`.
        birth: String,
    },
}

fn join<T: std::fmt::Display>(items: &[T], separator: &str) -> String {
    items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(separator)
}

impl Rule for TaxIdProblem {
    fn code(&self) -> &'static str {
        use TaxIdProblem::*;
        match self {
            Empty => "TAXID_EMPTY",
            Length { .. } => "TAXID_LENGTH",
            Charset { .. } | UsccLetter { .. } => "TAXID_CHARSET",
            Authority { .. } => "TAXID_AUTHORITY",
            RegionFormat { .. } => "TAXID_REGION_FORMAT",
            OrgChecksum { .. } => "TAXID_ORG_CHECKSUM",
            Checksum | ResidentChecksum => "TAXID_CHECKSUM",
            BirthDate { .. } => "TAXID_BIRTH_DATE",
            RegionUnknown { .. } => "TAXID_REGION_UNKNOWN",
            EntityTypeUnknown { .. } => "TAXID_ENTITY_TYPE_UNKNOWN",
            Legacy { .. } => "TAXID_LEGACY",
            LegacyStructure { .. } => "TAXID_LEGACY_STRUCTURE",
            LegacyRegion { .. } => "TAXID_LEGACY_REGION",
            LegacySuffix { .. } => "TAXID_LEGACY_SUFFIX",
            LegacyAmbiguous { .. } => "TAXID_LEGACY_AMBIGUOUS",
        }
    }

    fn message_zh(&self) -> String {
        use TaxIdProblem::*;
        match self {
            Empty => "请填写纳税人识别号。".into(),
            Length { len } => format!("纳税人识别号应为15、17、18或20位，当前为{len}位。"),
            Charset { ch, pos } => format!("第{pos}位的“{ch}”不能出现在纳税人识别号中。"),
            UsccLetter { letters, positions } => format!(
                "统一社会信用代码不使用字母I、O、S、V、Z，第{}位为“{}”，请核对是否应为数字。",
                join(positions, "、"),
                join(letters, "、")
            ),
            Authority { found } => format!("第1位“{found}”不是登记管理部门代码（应为1–9、A、N或Y）。"),
            RegionFormat { from, to } => format!("第{from}–{to}位应为6位数字的行政区划代码。"),
            OrgChecksum { from, to } => format!(
                "第{from}–{to}位的组织机构代码校验不通过。请逐位核对；如营业执照上确为此号码，可确认后继续。"
            ),
            Checksum => "校验码（第18位）与前17位不符。请逐位核对；如营业执照上确为此号码，可确认后继续。".into(),
            ResidentChecksum => "身份证号码校验码（第18位）与前17位不符，请逐位核对。".into(),
            BirthDate { date } => format!("身份证号码中的出生日期{date}不是有效日期。"),
            RegionUnknown { code } => format!("行政区划代码{code}不在国家标准代码表中，请核对。"),
            EntityTypeUnknown { authority, entity } => {
                format!("机构类别“{entity}”不是登记管理部门“{authority}”的已知类别，请核对。")
            }
            Legacy { len } => format!("这是旧版{len}位税号。多数纳税人已换发18位统一社会信用代码，请与购买方确认。"),
            LegacyStructure { len, id_len } => format!(
                "{len}位税号的第1–{id_len}位应为以省级代码开头的{id_len}位身份证号码。"
            ),
            LegacyRegion { code } => format!(
                "身份证号码的行政区划代码{code}不在国家标准代码表中（个别真实号码如此）。请核对；如税务登记证上确为此号码，可确认后继续。"
            ),
            LegacySuffix { len } => format!(
                "{len}位税号的最后两位是两位数字顺序码（个别例外）。请核对；如税务登记证上确为此号码，可确认后继续。"
            ),
            LegacyAmbiguous { birth } => format!(
                "按17位税号，持有人生于{birth}，更可能是18位身份证号码漏了一位。仅当税务登记证上确为此号码时再确认。"
            ),
        }
    }

    fn overridable(&self) -> bool {
        use TaxIdProblem::*;
        matches!(
            self,
            Checksum | OrgChecksum { .. } | LegacyRegion { .. } | LegacySuffix { .. } | LegacyAmbiguous { .. }
        )
    }

    fn severity(&self) -> Severity {
        use TaxIdProblem::*;
        match self {
            RegionUnknown { .. } | EntityTypeUnknown { .. } | Legacy { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// What the parts of a taxpayer ID say. Fields that do not apply to a form are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxIdDetails {
    /// USCC position 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_authority_code: Option<char>,
    /// Name of the registration authority (`工商（市场监督管理）`), null when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_authority: Option<Option<&'static str>>,
    /// USCC position 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_type_code: Option<char>,
    /// Name of the entity type (`企业`), null when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<Option<&'static str>>,
    /// The six-digit region code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    /// Full region name, null when the code is unknown; absent where the region
    /// names are not loaded (the light npm parts before `loadRegionNames`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_name: Option<Option<String>>,
    /// True when the region code is no longer in use (it may still appear in real IDs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_retired: Option<bool>,
    /// The year the region code was retired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_retired_year: Option<u16>,
    /// The nine-character organization code (USCC positions 9–17, legacy15 7–15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_code: Option<String>,
    /// Resident ID, and the identity number of a 17/20-character legacy number:
    /// birth date `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// Resident ID: `"male"` or `"female"` (odd or even sequence number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<&'static str>,
}

/// The outcome of [`validate_tax_id`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxIdResult {
    /// True when there are no errors.
    pub valid: bool,
    /// The input with spaces and dashes removed, half-width, upper case.
    pub normalized: String,
    /// The form, or `None` when the input fits none.
    pub kind: Option<TaxIdKind>,
    /// Problems that block issuing.
    pub errors: Vec<Issue>,
    /// Problems that do not block issuing.
    pub warnings: Vec<Issue>,
    /// Valid IDs one typo away, likeliest first: candidates for the user to compare
    /// with the licence or identity card, never corrections to apply unseen. Empty
    /// when the input is valid, and when more than three candidates fit (see
    /// [`SuggestionEdit`] for how they are chosen).
    pub suggestions: Vec<String>,
    /// One entry per suggestion, in the same order: what was changed, and where.
    pub suggestion_edits: Vec<SuggestionEdit>,
    /// What the parts of the ID say.
    pub details: TaxIdDetails,
}

/// How a suggestion differs from the input, so that a page can highlight it.
///
/// Positions are 1-based: `positions` count in the suggestion, `input_positions`
/// in [`TaxIdResult::normalized`].
///
/// | `edit` | `positions` (suggestion) | `input_positions` (input) |
/// |---|---|---|
/// | `lookalike`, `substitution` | the changed characters | the same positions |
/// | `swap` | both swapped characters | the same two positions |
/// | `insertion` (the input lacks a character) | the added character | the characters either side of the gap |
/// | `deletion` (the input has an extra character) | the characters either side of the gap | the extra character |
///
/// How the suggestions are chosen: every ID one edit away from the input — one
/// character changed (the check character included), two neighbours swapped, one
/// character added or dropped, or letters a USCC never has replaced by the digits
/// they look like (O→0, I→1, Z→2, S→5, V→U/Y) — that is a USCC or resident ID
/// with no error and no warning (known region, authority and entity type, real
/// birth date). When at most three fit, all are returned: look-alikes first, then
/// swaps, then other changes (within each, codes of regions still in use first).
/// When more fit, USCCs whose region code is retired are left out first (real
/// codes rarely carry one). If that is still more than three (a resident ID's
/// mod-11 check digit can be repaired at almost any position), the look-alikes
/// and swaps are returned together with the check-character fix, if that makes
/// two or three — a letter read for the digit it looks like (or the reverse) may
/// be returned alone; otherwise nothing, because the typo cannot be narrowed down.
///
/// ```
/// use fapiao::taxid::{validate_tax_id, EditKind};
///
/// // The check character typed wrong, or two digits swapped: both are offered.
/// let r = validate_tax_id("91620105224521729M");
/// assert!(r.suggestions.contains(&"91620105224521729E".to_owned()));
/// assert!(r.suggestions.len() >= 2);
/// let check = r.suggestion_edits.iter().find(|e| e.suggestion == "91620105224521729E").unwrap();
/// assert_eq!((check.edit, check.positions.as_slice()), (EditKind::Substitution, &[18][..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestionEdit {
    /// The suggested ID (the same string as in [`TaxIdResult::suggestions`]).
    pub suggestion: String,
    /// Its form: [`TaxIdKind::Uscc`] or [`TaxIdKind::Resident`].
    pub kind: TaxIdKind,
    /// The kind of typo it undoes.
    pub edit: EditKind,
    /// Positions to highlight in the suggestion (1-based).
    pub positions: Vec<usize>,
    /// Positions to highlight in the normalised input (1-based).
    pub input_positions: Vec<usize>,
}

/// The typo a suggestion undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EditKind {
    /// Characters replaced by ones they look like (`O` typed for `0`, `B` for `8`).
    Lookalike,
    /// Two neighbouring characters swapped back.
    Swap,
    /// One character replaced.
    Substitution,
    /// One character added: the input lacks it.
    Insertion,
    /// One character dropped: the input has it in excess.
    Deletion,
}

/// Who the ID belongs to, where the form knows it. It decides how an 18-digit
/// input that could be either form is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Holder {
    /// Not known (a company's tax ID, or anything a buyer typed).
    #[default]
    Unknown,
    /// A natural person: 18 digits are read as a resident ID first.
    Person,
}

/// The field name issues from [`validate_tax_id`] carry.
pub const FIELD: &str = "taxId";

/// Validates a taxpayer ID as entered by a buyer. Never panics; see the module docs.
pub fn validate_tax_id(input: &str) -> TaxIdResult {
    validate_on(input, clock::today())
}

/// [`validate_tax_id`] for an ID whose holder is known (see [`Holder`]).
///
/// ```
/// use fapiao::taxid::{validate_for, Holder};
///
/// // 30 February: a person's ID with an impossible birth date, which no
/// // confirmation can make valid.
/// let r = validate_for("110102199102300077", Holder::Person);
/// assert_eq!(r.errors[0].code, "TAXID_BIRTH_DATE");
/// assert!(!r.errors[0].overridable);
/// ```
pub fn validate_for(input: &str, holder: Holder) -> TaxIdResult {
    validate_for_on(input, holder, clock::today())
}

/// [`validate_tax_id`] with the given date as today (for birth dates in resident IDs).
pub fn validate_on(input: &str, today: Date) -> TaxIdResult {
    validate_for_on(input, Holder::Unknown, today)
}

/// [`validate_for`] with the given date as today.
pub fn validate_for_on(input: &str, holder: Holder, today: Date) -> TaxIdResult {
    let mut r = check_owned(compact_id(input), holder, today);
    // Valid input takes no search at all.
    if !r.valid {
        r.suggestion_edits = suggest::suggestions(&r.normalized, holder, today);
        r.suggestions = r.suggestion_edits.iter().map(|e| e.suggestion.clone()).collect();
    }
    r
}

/// Validates without looking for suggestions (used by the suggestion search itself).
fn check(normalized: &str, holder: Holder, today: Date) -> TaxIdResult {
    check_owned(normalized.to_owned(), holder, today)
}

fn check_owned(normalized: String, holder: Holder, today: Date) -> TaxIdResult {
    let mut issues = Issues::default();
    let mut details = TaxIdDetails::default();
    let kind = classify(&normalized, holder, today, &mut issues, &mut details);
    TaxIdResult {
        valid: issues.errors.is_empty(),
        normalized,
        kind,
        errors: issues.errors,
        warnings: issues.warnings,
        suggestions: Vec::new(),
        suggestion_edits: Vec::new(),
        details,
    }
}

fn classify(
    id: &str,
    holder: Holder,
    today: Date,
    issues: &mut Issues,
    details: &mut TaxIdDetails,
) -> Option<TaxIdKind> {
    if id.is_empty() {
        issues.push(FIELD, &TaxIdProblem::Empty);
        return None;
    }
    if let Some((pos, ch)) = id.chars().enumerate().find(|(_, c)| !c.is_ascii_alphanumeric()) {
        issues.push(FIELD, &TaxIdProblem::Charset { ch, pos: pos + 1 });
    }
    let len = id.chars().count();
    if !matches!(len, 15 | 17 | 18 | 20) {
        issues.push(FIELD, &TaxIdProblem::Length { len });
        return None;
    }
    if !issues.errors.is_empty() {
        return None;
    }
    Some(match len {
        15 => {
            check_legacy15(id, issues, details);
            TaxIdKind::Legacy15
        }
        17 | 20 => {
            check_legacy_id_based(id, today, issues, details);
            if len == 17 {
                TaxIdKind::Legacy17
            } else {
                TaxIdKind::Legacy20
            }
        }
        _ if read_as_resident(id, holder, today) => {
            check_resident(id, today, issues, details);
            TaxIdKind::Resident
        }
        _ => {
            check_uscc(id, issues, details);
            TaxIdKind::Uscc
        }
    })
}

/// Whether an 18-character input is read as a resident ID. Only 17 digits and a
/// digit or `X` can be one. Between the two readings the valid one wins, except that
/// a USCC the tables do not vouch for (unknown region or entity type) loses to a
/// birth date in positions 7–14; when both are valid (rare), the one with fewer
/// warnings wins, and for a tie the holder decides. When neither is valid, a
/// person's ID, or one whose positions 7–14 look like a birth date (a real month
/// and day number, a year up to this one), is read as a resident ID, so that an
/// impossible date is reported as what it is.
fn read_as_resident(id: &str, holder: Holder, today: Date) -> bool {
    if !resident::has_shape(id) {
        return false;
    }
    let person = holder == Holder::Person;
    let as_resident = resident::is_checksum_valid(id) && birth_date(&id[6..14], today).is_some();
    if !uscc::is_well_formed(id) {
        return as_resident || person || looks_like_date(&id[6..14], today);
    }
    // The warnings each reading would give: unknown region (and entity type).
    let b = id.as_bytes();
    let uscc_warnings = usize::from(!region_known(&id[2..8]))
        + usize::from(uscc::entity_type(char::from(b[0]), char::from(b[1])).is_none());
    if !as_resident {
        return uscc_warnings > 0 && looks_like_date(&id[6..14], today);
    }
    let resident_warnings = usize::from(!region_known(&id[..6]));
    resident_warnings < uscc_warnings || (resident_warnings == uscc_warnings && person)
}

/// Eight digits (as a resident ID has them) with a year and month from 1850 to this
/// month and a day 1–31: a birth date as a person would write it, whether or not
/// the day exists.
fn looks_like_date(digits: &str, today: Date) -> bool {
    let first_of_month = [&digits[..6], "01"].concat();
    birth_date(&first_of_month, today).is_some() && ("01"..="31").contains(&&digits[6..8])
}

fn birth_date(digits: &str, today: Date) -> Option<Date> {
    Date::parse_compact(digits).filter(|d| d.year >= 1850 && *d <= today)
}

/// True when the six digits begin with a province-level code (两位省级代码) of GB/T 2260.
fn has_province(code: &str) -> bool {
    !code.starts_with("10") && region_known(&[&code[..2], "0000"].concat())
}

fn set_region(details: &mut TaxIdDetails, code: &str, issues: &mut Issues) {
    if !set_region_details(details, code) {
        issues.push(FIELD, &TaxIdProblem::RegionUnknown { code: code.to_owned() });
    }
}

/// Fills in the region details; false when the code is unknown.
fn set_region_details(details: &mut TaxIdDetails, code: &str) -> bool {
    match region::find(code) {
        Some(retired) => {
            details.region_code = Some(code.to_owned());
            // Absent (not null) where the names are not loaded: the code is known.
            details.region_name = region::lookup(code).map(|r| Some(r.name));
            details.region_retired = Some(retired.is_some());
            details.region_retired_year = retired;
            true
        }
        None => {
            details.region_code = Some(code.to_owned());
            details.region_name = Some(None);
            false
        }
    }
}

/// True when the six characters are a code of the GB/T 2260 history.
fn region_known(code: &str) -> bool {
    region::find(code).is_some()
}

/// The region of the identity number in a legacy number: unknown is an error
/// there (overridable), because nothing else shows that the number is one.
fn set_legacy_region(details: &mut TaxIdDetails, code: &str, issues: &mut Issues) {
    if !set_region_details(details, code) {
        issues.push(FIELD, &TaxIdProblem::LegacyRegion { code: code.to_owned() });
    }
}

fn check_uscc(id: &str, issues: &mut Issues, details: &mut TaxIdDetails) {
    let b = id.as_bytes();
    let bad: Vec<(usize, char)> = b
        .iter()
        .enumerate()
        .filter(|(_, c)| uscc::value(**c).is_none())
        .map(|(i, c)| (i + 1, *c as char))
        .collect();
    let alphabet_ok = bad.is_empty();
    if !alphabet_ok {
        let mut letters: Vec<char> = Vec::new();
        for (_, c) in &bad {
            if !letters.contains(c) {
                letters.push(*c);
            }
        }
        let positions = bad.iter().map(|(p, _)| *p).collect();
        issues.push(FIELD, &TaxIdProblem::UsccLetter { letters, positions });
    }
    let (a, t) = (b[0] as char, b[1] as char);
    details.registration_authority_code = Some(a);
    details.entity_type_code = Some(t);
    match uscc::authority(a) {
        Some((name, _)) => {
            details.registration_authority = Some(Some(name));
            let entity = uscc::entity_type(a, t);
            details.entity_type = Some(entity);
            if entity.is_none() && uscc::value(b[1]).is_some() {
                issues.push(
                    FIELD,
                    &TaxIdProblem::EntityTypeUnknown {
                        authority: a,
                        entity: t,
                    },
                );
            }
        }
        None => {
            details.registration_authority = Some(None);
            details.entity_type = Some(None);
            if uscc::value(b[0]).is_some() {
                issues.push(FIELD, &TaxIdProblem::Authority { found: a });
            }
        }
    }
    if b[2..8].iter().all(u8::is_ascii_digit) {
        set_region(details, &id[2..8], issues);
    } else if alphabet_ok {
        // (Letters a USCC never has were reported above; that is the likelier fix.)
        issues.push(FIELD, &TaxIdProblem::RegionFormat { from: 3, to: 8 });
    }
    details.organization_code = Some(id[8..17].to_owned());
    if !alphabet_ok {
        return;
    }
    if orgcode::check_character(&id[8..16]) != Some(b[16] as char) {
        issues.push(FIELD, &TaxIdProblem::OrgChecksum { from: 9, to: 17 });
    }
    if uscc::check_character(&id[..17]) != Some(b[17] as char) {
        issues.push(FIELD, &TaxIdProblem::Checksum);
    }
}

fn check_resident(id: &str, today: Date, issues: &mut Issues, details: &mut TaxIdDetails) {
    set_region(details, &id[..6], issues);
    match birth_date(&id[6..14], today) {
        Some(d) => details.birth_date = Some(d.iso()),
        None => issues.push(
            FIELD,
            &TaxIdProblem::BirthDate {
                date: id[6..14].to_owned(),
            },
        ),
    }
    let seq = id.as_bytes()[16] - b'0';
    details.gender = Some(if seq % 2 == 1 { "male" } else { "female" });
    if !resident::is_checksum_valid(id) {
        issues.push(FIELD, &TaxIdProblem::ResidentChecksum);
    }
}

fn check_legacy15(id: &str, issues: &mut Issues, details: &mut TaxIdDetails) {
    issues.push(FIELD, &TaxIdProblem::Legacy { len: 15 });
    if id.as_bytes()[..6].iter().all(u8::is_ascii_digit) {
        set_region(details, &id[..6], issues);
    } else {
        issues.push(FIELD, &TaxIdProblem::RegionFormat { from: 1, to: 6 });
    }
    details.organization_code = Some(id[6..].to_owned());
    if !orgcode::is_valid(&id[6..]) {
        issues.push(FIELD, &TaxIdProblem::OrgChecksum { from: 7, to: 15 });
    }
}

/// 17 characters: a first-generation 15-digit identity number and a two-digit
/// sequence number; 20 characters: an 18-character identity number and two digits,
/// or a 15-digit one, `000` and two digits. The identity number is checked as far
/// as it can be (digits, a province code, a real birth date, the check character of
/// an 18-character one); the sequence number only warrants an overridable error.
fn check_legacy_id_based(id: &str, today: Date, issues: &mut Issues, details: &mut TaxIdDetails) {
    let len = id.len();
    issues.push(FIELD, &TaxIdProblem::Legacy { len });
    let mut found = Issues::default();
    if len == 17 {
        legacy_on_id15(id, today, &mut found, details);
    } else {
        legacy_on_id18(id, today, &mut found, details);
        if !found.errors.is_empty() && &id[15..18] == "000" {
            let (mut other, mut other_details) = (Issues::default(), TaxIdDetails::default());
            legacy_on_id15(id, today, &mut other, &mut other_details);
            if other.errors.is_empty() {
                (found, *details) = (other, other_details);
            }
        }
    }
    issues.extend(found);
}

/// A 17-character number, or a 20-character one whose positions 16–18 are `000`.
fn legacy_on_id15(id: &str, today: Date, issues: &mut Issues, details: &mut TaxIdDetails) {
    let len = id.len();
    let core = &id[..15];
    if !core.bytes().all(|b| b.is_ascii_digit()) || !has_province(core) {
        issues.push(FIELD, &TaxIdProblem::LegacyStructure { len, id_len: 15 });
        return;
    }
    set_legacy_region(details, &id[..6], issues);
    let yymmdd = &id[6..12];
    match birth_date(&["19", yymmdd].concat(), today) {
        Some(d) => details.birth_date = Some(d.iso()),
        None => issues.push(
            FIELD,
            &TaxIdProblem::BirthDate {
                date: yymmdd.to_owned(),
            },
        ),
    }
    if !id[len - 2..].bytes().all(|b| b.is_ascii_digit()) {
        issues.push(FIELD, &TaxIdProblem::LegacySuffix { len });
    }
    if len == 17 && issues.errors.is_empty() {
        if let Some(birth) = details.birth_date.as_ref().filter(|b| b.as_str() < "1921") {
            issues.push(FIELD, &TaxIdProblem::LegacyAmbiguous { birth: birth.clone() });
        }
    }
}

/// A 20-character number read as an 18-character identity number and two digits.
fn legacy_on_id18(id: &str, today: Date, issues: &mut Issues, details: &mut TaxIdDetails) {
    let core = &id[..18];
    if !resident::has_shape(core) || !has_province(core) {
        issues.push(FIELD, &TaxIdProblem::LegacyStructure { len: 20, id_len: 18 });
        return;
    }
    set_legacy_region(details, &id[..6], issues);
    match birth_date(&id[6..14], today) {
        Some(d) => details.birth_date = Some(d.iso()),
        None => issues.push(
            FIELD,
            &TaxIdProblem::BirthDate {
                date: id[6..14].to_owned(),
            },
        ),
    }
    if !resident::is_checksum_valid(core) {
        issues.push(FIELD, &TaxIdProblem::ResidentChecksum);
    }
    if !id[18..].bytes().all(|b| b.is_ascii_digit()) {
        issues.push(FIELD, &TaxIdProblem::LegacySuffix { len: 20 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 11, 23).unwrap()
    }

    fn codes(r: &TaxIdResult) -> (Vec<&str>, Vec<&str>) {
        (
            r.errors.iter().map(|i| i.code).collect(),
            r.warnings.iter().map(|i| i.code).collect(),
        )
    }

    #[test]
    fn valid_uscc_details() {
        let r = validate_on("91110000600037341L", today());
        assert!(r.valid, "{r:?}");
        assert_eq!(r.kind, Some(TaxIdKind::Uscc));
        assert_eq!(r.details.registration_authority, Some(Some("工商（市场监督管理）")));
        assert_eq!(r.details.entity_type, Some(Some("企业")));
        assert_eq!(r.details.region_code.as_deref(), Some("110000"));
        assert_eq!(r.details.region_name, Some(Some("北京市".to_owned())));
        assert_eq!(r.details.organization_code.as_deref(), Some("600037341"));
        assert!(r.warnings.is_empty());
        assert!(r.suggestions.is_empty());
    }

    #[test]
    fn invalid_cases_from_rules_md() {
        let cases: &[(&str, &str)] = &[
            ("12345", "TAXID_LENGTH"),
            ("91110000600037341N", "TAXID_CHECKSUM"),
            ("9111000060003IOZSV", "TAXID_CHARSET"),
            ("91110000600037340L", "TAXID_CHECKSUM"),
            ("A1110000600037341L", "TAXID_CHECKSUM"),
            ("911100006000373451", "TAXID_ORG_CHECKSUM"),
            ("", "TAXID_EMPTY"),
            ("0111000060003734XX", "TAXID_AUTHORITY"),
            ("91AB0000600037341L", "TAXID_REGION_FORMAT"),
            ("9111000060003734.L", "TAXID_CHARSET"),
        ];
        for (input, code) in cases {
            let r = validate_on(input, today());
            assert!(!r.valid, "{input} should be invalid");
            assert!(
                codes(&r).0.contains(code),
                "{input}: expected {code}, got {:?}",
                codes(&r)
            );
        }
    }

    #[test]
    fn checksum_errors_are_overridable_and_nothing_else_is() {
        let r = validate_on("91350203M0001QKT19", today());
        assert_eq!(codes(&r).0, ["TAXID_CHECKSUM"]);
        assert!(r.errors[0].overridable);
        let r = validate_on("0111000060003734XX", today());
        assert!(r.errors.iter().any(|e| e.code == "TAXID_AUTHORITY" && !e.overridable));
    }

    #[test]
    fn letter_authorities_and_check_zero_are_valid() {
        for id in [
            "N21100001234567885",
            "Y1440300MA5D12340P",
            "911100001000002860",
            "A1110000600037341K",
        ] {
            let r = validate_on(id, today());
            assert!(r.valid, "{id}: {:?}", r.errors);
            assert_eq!(r.kind, Some(TaxIdKind::Uscc));
        }
    }

    #[test]
    fn unknown_region_and_entity_type_warn_only() {
        // 99 is no entity type of authority 9; 990000 is no region.
        let first17 = "99990000600037341";
        let id = format!("{first17}{}", uscc::check_character(first17).unwrap());
        let r = validate_on(&id, today());
        assert!(r.valid, "{:?}", r.errors);
        let (_, warnings) = codes(&r);
        assert!(warnings.contains(&"TAXID_REGION_UNKNOWN"));
        assert!(warnings.contains(&"TAXID_ENTITY_TYPE_UNKNOWN"));
        assert_eq!(r.details.region_name, Some(None));
    }

    #[test]
    fn retired_region_is_reported_in_details() {
        let first17 = "91110103600037341";
        let id = format!("{first17}{}", uscc::check_character(first17).unwrap());
        let r = validate_on(&id, today());
        assert!(r.valid);
        assert_eq!(r.details.region_retired, Some(true));
        assert_eq!(r.details.region_retired_year, Some(2010));
        assert_eq!(r.details.region_name, Some(Some("北京市崇文区".to_owned())));
    }

    #[test]
    fn resident_ids() {
        let r = validate_on("44011320141005001x", today());
        assert!(r.valid, "{:?}", r.errors);
        assert_eq!(r.kind, Some(TaxIdKind::Resident));
        assert_eq!(r.details.birth_date.as_deref(), Some("2014-10-05"));
        assert_eq!(r.details.gender, Some("male"));
        let r = validate_on("36042619910102009X", today());
        assert_eq!(r.kind, Some(TaxIdKind::Resident));
        assert_eq!(codes(&r).0, ["TAXID_CHECKSUM"]);
        assert!(!r.errors[0].overridable);
        // Month 13 is no birth date, so this is read as a USCC and fails its checks.
        assert!(!validate_on("360426199113010079", today()).valid);
        let r = validate_on("990426199112010074", today());
        assert!(!r.valid || codes(&r).1.contains(&"TAXID_REGION_UNKNOWN"));
    }

    #[test]
    fn birth_date_in_the_future_is_not_a_resident_id() {
        let first17 = "11010220300101007";
        let id = format!("{first17}{}", resident::check_character(first17).unwrap());
        assert_ne!(validate_on(&id, today()).kind, Some(TaxIdKind::Resident));
    }

    #[test]
    fn legacy_forms() {
        let r = validate_on("110108600037341", today());
        assert!(r.valid, "{:?}", r.errors);
        assert_eq!(r.kind, Some(TaxIdKind::Legacy15));
        assert_eq!(codes(&r).1, ["TAXID_LEGACY"]);
        let r = validate_on("110108600037345", today());
        assert_eq!(codes(&r).0, ["TAXID_ORG_CHECKSUM"]);
        // 17: a 15-digit first-generation ID (born 1991-01-01) + 2 characters.
        let r = validate_on("11010291010100701", today());
        assert!(r.valid);
        assert_eq!(r.kind, Some(TaxIdKind::Legacy17));
        assert_eq!(codes(&r).1, ["TAXID_LEGACY"]);
        // 20: an 18-character ID + 2 characters.
        let r = validate_on("11010219910101007801", today());
        assert!(r.valid);
        assert_eq!(r.kind, Some(TaxIdKind::Legacy20));
        // No identity number in it: an error that cannot be confirmed away.
        let r = validate_on("ABCDEFGHJKLMNPQRTU01", today());
        assert_eq!(codes(&r).0, ["TAXID_LEGACY_STRUCTURE"]);
        assert!(!r.errors[0].overridable);
        // 20: a 15-digit ID, 000 and a sequence number.
        let r = validate_on("11010291010100700001", today());
        assert!(r.valid, "{:?}", r.errors);
        assert_eq!(r.details.birth_date.as_deref(), Some("1991-01-01"));
    }

    #[test]
    fn legacy_identity_numbers_are_checked() {
        let cases: &[(&str, &[&str], bool)] = &[
            // A resident ID with a digit dropped: 60 is no month.
            ("3607291960701667X", &["TAXID_BIRTH_DATE", "TAXID_LEGACY_SUFFIX"], false),
            // A USCC with a character dropped: letters where the ID has digits.
            ("9111000060003734L", &["TAXID_LEGACY_STRUCTURE"], false),
            // No province 99.
            ("99010291010100701", &["TAXID_LEGACY_STRUCTURE"], false),
            // 31 February 1991.
            ("11010291023100701", &["TAXID_BIRTH_DATE"], false),
            // An 18-character ID whose check digit is wrong (should be 8).
            ("11010219910101007901", &["TAXID_CHECKSUM"], false),
            ("11010219910101007801X", &["TAXID_LENGTH"], false),
            // The sequence number is not two digits: confirmable.
            ("110102910101007A1", &["TAXID_LEGACY_SUFFIX"], true),
            ("1101021991010100780A", &["TAXID_LEGACY_SUFFIX"], true),
            // An 18-digit resident ID (born 2005-06-07) with its last digit missing.
            ("11010220050607007", &["TAXID_LEGACY_AMBIGUOUS"], true),
        ];
        for (input, expected, overridable) in cases {
            let r = validate_on(input, today());
            assert_eq!(codes(&r).0, *expected, "{input}");
            assert_eq!(r.errors[0].overridable, *overridable, "{input}");
        }
        let r = validate_on("11010220050607007", today());
        assert!(r.errors[0].message.contains("1920-05-06"), "{}", r.errors[0].message);
        assert!(
            r.errors[0].message_en.contains("1920-05-06"),
            "{}",
            r.errors[0].message_en
        );
        // Born 1921: a plain legacy number.
        assert!(validate_on("11010221050607007", today()).valid);
        assert!(
            r.suggestions.is_empty() || r.suggestions.len() >= 2,
            "{:?}",
            r.suggestions
        );
    }

    #[test]
    fn eighteen_digits_read_as_resident_id_when_that_is_valid_or_the_date_looks_like_one() {
        // Valid resident ID that is also a well-formed USCC with unknown tables.
        let r = validate_on("230207202407233396", today());
        assert!(r.valid, "{:?}", r.errors);
        assert_eq!(r.kind, Some(TaxIdKind::Resident));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        // 30 February with a correct check digit: the date is the error, and it
        // cannot be confirmed; the same for a person.
        for holder in [Holder::Unknown, Holder::Person] {
            let r = validate_for_on("110102199102300077", holder, today());
            assert_eq!(r.kind, Some(TaxIdKind::Resident));
            assert_eq!(codes(&r).0, ["TAXID_BIRTH_DATE"]);
            assert!(r.errors.iter().all(|e| !e.overridable));
        }
        // Month 13: no birth date, so a USCC for anyone but a person.
        assert_eq!(validate_on("360426199113010079", today()).kind, Some(TaxIdKind::Uscc));
        let r = validate_for_on("360426199113010079", Holder::Person, today());
        assert_eq!(r.kind, Some(TaxIdKind::Resident));
        assert!(r.errors.iter().any(|e| e.code == "TAXID_BIRTH_DATE" && !e.overridable));
        // A well-formed USCC of unknown region and entity type, whose positions 7–14
        // are a birth date: a resident ID with a typo (511122199706035746), not a USCC.
        assert!(uscc::is_well_formed("511152199706035746"));
        let r = validate_on("511152199706035746", today());
        assert_eq!(
            (r.kind, codes(&r).0),
            (Some(TaxIdKind::Resident), vec!["TAXID_CHECKSUM"])
        );
        // A real USCC that is all digits stays a USCC for a person too.
        let r = validate_for_on("121200004013590816", Holder::Person, today());
        assert_eq!(r.kind, Some(TaxIdKind::Uscc));
        assert!(r.valid);
    }

    #[test]
    fn messages_are_bilingual() {
        let r = validate_on("91110000600037341N", today());
        let e = &r.errors[0];
        assert!(e.message.contains("校验码"), "{}", e.message);
        assert!(e.message_en.contains("check character"));
        assert_eq!(e.field, "taxId");
        let letters = validate_on("9111OOOO6OOO37341L", today());
        assert_eq!(
            codes(&letters).0,
            ["TAXID_CHARSET"],
            "one issue for all forbidden letters"
        );
        let message = &letters.errors[0].message;
        assert!(message.contains("第5、6、7、8、10、11、12位为“O”"), "{message}");
        let english = &letters.errors[0].message_en;
        assert!(english.contains("“O” at position 5, 6, 7, 8, 10, 11, 12"), "{english}");
        assert!(english.is_ascii() || !english.contains('、'));
        // The check-character fix is a candidate among the others, never alone.
        assert!(
            r.suggestions.contains(&"91110000600037341L".to_owned()),
            "{:?}",
            r.suggestions
        );
        assert!(r.suggestions.len() >= 2, "{:?}", r.suggestions);
        assert_eq!(r.suggestions.len(), r.suggestion_edits.len());
    }
}
