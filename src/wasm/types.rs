//! TypeScript declarations for the values that cross the boundary. They are written
//! by hand next to the bindings and checked by `tsc` in the JS tests
//! (tests/js/types-check.ts), so a change to a Rust result type that is not
//! mirrored here fails the build of that test.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** One problem with one field. `code` is stable; messages are for people. */
export interface Issue {
  /** Stable upper-snake code, e.g. `TAXID_CHECKSUM`. */
  code: string;
  /** Field path, e.g. `buyer.taxId`. */
  field: string;
  /** Chinese message. */
  message: string;
  /** English message. */
  messageEn: string;
  /** Present when the user may confirm the input despite this issue. */
  overridable?: true;
}

export type TaxIdKind = "uscc" | "legacy15" | "legacy17" | "legacy20" | "resident";

export interface TaxIdDetails {
  registrationAuthorityCode?: string;
  registrationAuthority?: string | null;
  entityTypeCode?: string;
  entityType?: string | null;
  regionCode?: string;
  /** Full name of the region; null when the code is unknown. */
  regionName?: string | null;
  regionRetired?: boolean;
  regionRetiredYear?: number | null;
  organizationCode?: string;
  /** Resident IDs: `YYYY-MM-DD`. */
  birthDate?: string;
  gender?: "male" | "female";
}

export interface TaxIdResult {
  valid: boolean;
  normalized: string;
  kind: TaxIdKind | null;
  errors: Issue[];
  warnings: Issue[];
  /**
   * Valid IDs one typo away, likeliest first: candidates for the user to compare
   * with the licence or ID card, at most 3; empty when the input is valid or the
   * typo cannot be narrowed down that far.
   */
  suggestions: string[];
  /** One entry per suggestion, in the same order: what differs, and where. */
  suggestionEdits: {
    /** The suggested ID (the same string as in `suggestions`). */
    suggestion: string;
    /** Its form. */
    kind: "uscc" | "resident";
    /**
     * The typo it undoes: `lookalike` (e.g. O typed for 0), `swap` (two neighbours),
     * `substitution` (one character), `insertion` (the input lacks a character),
     * `deletion` (the input has one too many).
     */
    edit: "lookalike" | "swap" | "substitution" | "insertion" | "deletion";
    /**
     * 1-based positions to highlight in the suggestion: the changed or added
     * characters; for a deletion, the characters either side of the gap.
     */
    positions: number[];
    /**
     * 1-based positions to highlight in `normalized`: the changed or extra
     * characters; for an insertion, the characters either side of the gap.
     */
    inputPositions: number[];
  }[];
  details: TaxIdDetails;
}

/** `validateTaxIds(ids)`: a column of IDs checked at once. */
export interface TaxIdBatchResult {
  /** How many IDs were given. */
  count: number;
  /** How many have no errors. */
  validCount: number;
  /** One entry per ID: true when it has no errors (warnings allowed). */
  valid: boolean[];
  /** Every ID with an error or a warning, in input order, with its full result. */
  problems: { index: number; result: TaxIdResult }[];
}

export type InvoiceType = "special" | "normal";
export type BuyerType = "company" | "person";

export interface BuyerInput {
  type?: BuyerType;
  name?: string | null;
  taxId?: string | null;
  address?: string | null;
  phone?: string | null;
  bankName?: string | null;
  bankAccount?: string | null;
  email?: string | null;
  mobile?: string | null;
}

export interface BuyerOptions {
  /** Defaults to `"normal"` (数电普票). */
  invoiceType?: InvoiceType;
  /** Codes of overridable errors the user confirmed, e.g. `["TAXID_CHECKSUM"]`. */
  confirmed?: string[];
}

export interface Buyer {
  type: BuyerType;
  name: string;
  taxId: string;
  taxIdKind: TaxIdKind | null;
  address: string;
  phone: string;
  bankName: string;
  bankAccount: string;
  email: string;
  mobile: string;
}

export interface BuyerResult {
  valid: boolean;
  normalized: Buyer;
  errors: Issue[];
  warnings: Issue[];
}
"#;
