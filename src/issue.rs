//! Problems found in user input, in the shape every front end shows them.
//!
//! Each rule module has its own `thiserror` enum (for example
//! [`TaxIdProblem`](crate::taxid::TaxIdProblem)). The enum's `Display` text is the
//! English message; [`Rule`] adds the stable code, the Chinese message and whether a
//! user may confirm the input anyway. An [`Issue`] is one such problem bound to the
//! field it concerns, ready to serialise as `{ code, field, message, messageEn }`.

use serde::Serialize;

/// What every problem enum of this crate can tell about itself.
pub trait Rule: std::error::Error {
    /// The stable upper-snake code, e.g. `TAXID_CHECKSUM`. Codes never change meaning.
    fn code(&self) -> &'static str;
    /// The message in Chinese, for the person filling in the form.
    fn message_zh(&self) -> String;
    /// Whether the rule has known real exceptions, so a user may confirm the input.
    fn overridable(&self) -> bool {
        false
    }
    /// Whether the problem blocks issuing (an error) or only informs (a warning).
    fn severity(&self) -> Severity;
}

/// Whether an [`Issue`] blocks issuing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks issuing unless the issue is overridable and the user confirmed it.
    Error,
    /// Shown to the user; never blocks.
    Warning,
}

/// One problem with one field, with messages in Chinese and English.
///
/// ```
/// use fapiao::validate_tax_id;
/// let r = validate_tax_id("91110000600037341N");
/// let issue = &r.errors[0];
/// assert_eq!(issue.code, "TAXID_CHECKSUM");
/// assert_eq!(issue.field, "taxId");
/// assert!(issue.overridable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// Stable upper-snake code.
    pub code: &'static str,
    /// Path of the field, e.g. `buyer.taxId`.
    pub field: String,
    /// Chinese message.
    pub message: String,
    /// English message.
    pub message_en: String,
    /// Present (and `true`) when the user may confirm the input despite this issue.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overridable: bool,
}

impl Issue {
    /// Binds a problem to a field.
    pub fn new(field: impl Into<String>, problem: &impl Rule) -> Self {
        Issue {
            code: problem.code(),
            field: field.into(),
            message: problem.message_zh(),
            message_en: problem.to_string(),
            overridable: problem.overridable(),
        }
    }

    /// The same issue under another field path (e.g. `taxId` → `buyer.taxId`).
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

/// Errors and warnings collected while checking one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issues {
    /// Issues that block issuing.
    pub errors: Vec<Issue>,
    /// Issues that inform only.
    pub warnings: Vec<Issue>,
}

impl Issues {
    /// Records a problem for a field, sorted into errors or warnings by its severity.
    pub fn push(&mut self, field: &str, problem: &impl Rule) {
        let issue = Issue::new(field, problem);
        match problem.severity() {
            Severity::Error => self.errors.push(issue),
            Severity::Warning => self.warnings.push(issue),
        }
    }

    /// Drops the overridable errors whose code the user confirmed.
    ///
    /// Only errors marked overridable can be confirmed away; confirming any other
    /// code has no effect.
    pub fn apply_confirmed<S: AsRef<str>>(&mut self, confirmed: &[S]) {
        if confirmed.is_empty() {
            return;
        }
        self.errors
            .retain(|e| !(e.overridable && confirmed.iter().any(|c| c.as_ref() == e.code)));
    }

    /// Moves every issue under a field prefix, e.g. `taxId` → `buyer.taxId`.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        for i in self.errors.iter_mut().chain(self.warnings.iter_mut()) {
            i.field = format!("{prefix}.{}", i.field);
        }
        self
    }

    /// Appends all issues of another collection.
    pub fn extend(&mut self, other: Issues) {
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }

    /// True when nothing blocks.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}
