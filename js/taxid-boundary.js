// The JavaScript side of the lean boundary (src/wasm/fast.rs), shared by every
// part of the package that checks taxpayer IDs.
//
// A clean unified social credit code — the common case by far — crosses as its
// ASCII bytes written straight into a scratch buffer of the module's memory, and
// comes back as one number; the result object is built here, with the names of
// authorities, entity types and regions taken from a cache that the general path
// fills. Everything else (lower case, spaces, legacy forms, resident IDs, any
// error or warning) goes through the general `validateTaxId`, which builds the
// whole result in Rust. The two give the same objects (tests/js/node.test.mjs).

/** Longest ID the quick path reads (src/wasm/fast.rs, MAX_ID). */
const MAX_QUICK = 32;

/** Marks a region whose name is not loaded (the field is left out). */
const NO_NAME = Symbol('no region name');

/**
 * Wraps a generated part module (`wasm/<part>.js`) that exports `validateTaxId`;
 * `namesUrl` is where its region names file lies. Call `attach(exports)` with
 * what the module's `init`/`initSync` returned.
 */
export function bindTaxIds(gen, namesUrl) {
  let memory = null;
  let scratch = 0;
  let scratchLen = 0;
  let bytes = new Uint8Array(0);
  // Names by the characters they depend on; filled from general results.
  const authorities = new Map();
  const entityTypes = new Map();
  const regions = new Map();

  function view() {
    // A grown memory detaches the old buffer (its length becomes 0).
    if (bytes.byteLength === 0) bytes = new Uint8Array(memory.buffer, scratch, scratchLen);
    return bytes;
  }

  function attach(exports) {
    memory = exports.memory;
    scratch = gen.__fpScratch();
    scratchLen = gen.__fpScratchLen();
    bytes = new Uint8Array(0);
  }

  /** Writes an ASCII string at `at`; false when it has another character. */
  function writeAscii(buf, at, s) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return false;
      buf[at + i] = c;
    }
    return true;
  }

  /** The general path, remembering the names it reports. */
  function general(input) {
    const r = gen.validateTaxId(input);
    const d = r.details;
    if (r.kind === 'uscc' && r.valid && r.warnings.length === 0) {
      const s = r.normalized;
      authorities.set(s[0], d.registrationAuthority);
      entityTypes.set(s.slice(0, 2), d.entityType);
      regions.set(d.regionCode, 'regionName' in d ? d.regionName : NO_NAME);
    }
    return r;
  }

  /** The result of a clean USCC, or undefined when a name is not cached yet. */
  function cleanResult(s, verdict) {
    const authority = authorities.get(s[0]);
    const entityType = entityTypes.get(s.slice(0, 2));
    const regionCode = s.slice(2, 8);
    const regionName = regions.get(regionCode);
    if (authority === undefined || entityType === undefined || regionName === undefined) return undefined;
    const retiredYear = verdict >>> 16;
    const details = {
      registrationAuthorityCode: s[0],
      registrationAuthority: authority,
      entityTypeCode: s[1],
      entityType,
      regionCode,
      regionName,
      regionRetired: retiredYear !== 0,
    };
    if (regionName === NO_NAME) delete details.regionName;
    if (retiredYear !== 0) details.regionRetiredYear = retiredYear;
    details.organizationCode = s.slice(8, 17);
    return { valid: true, normalized: s, kind: 'uscc', errors: [], warnings: [], suggestions: [], suggestionEdits: [], details };
  }

  /** `validateTaxId(input) → TaxIdResult` (shared/spec/js-api.md). */
  function validateTaxId(input) {
    if (typeof input === 'string' && input.length === 18 && memory !== null) {
      const buf = view();
      if (writeAscii(buf, 0, input)) {
        const verdict = gen.__fpTaxId(18);
        if (verdict !== 0) {
          const r = cleanResult(input, verdict);
          if (r !== undefined) return r;
        }
      }
    }
    return general(input);
  }

  /**
   * `validateTaxIds(ids) → TaxIdBatchResult`: many IDs at once, e.g. a column of
   * a spreadsheet. `null`/`undefined` entries count as empty; anything else that
   * is not a string throws a TypeError (a programming error).
   */
  function validateTaxIds(ids) {
    if (!Array.isArray(ids)) throw new TypeError('validateTaxIds: expected an array of strings');
    const n = ids.length;
    const entry = (k) => {
      const s = ids[k];
      if (s == null) return '';
      if (typeof s !== 'string') throw new TypeError(`validateTaxIds: entry ${k} is not a string`);
      return s;
    };
    const valid = new Array(n);
    const problems = [];
    let validCount = 0;
    let i = 0;
    while (i < n) {
      // As many IDs as fit in the scratch buffer, checked in one call; an ID the
      // quick path cannot read (too long, not ASCII) goes in as an empty one.
      const buf = view();
      const start = i;
      let at = 0;
      while (i < n) {
        const s = entry(i);
        const quick = s.length <= MAX_QUICK;
        if (at + 1 + (quick ? s.length : 0) > scratchLen) break;
        if (quick && writeAscii(buf, at + 1, s)) {
          buf[at] = s.length;
          at += 1 + s.length;
        } else {
          buf[at] = 0;
          at += 1;
        }
        i++;
      }
      gen.__fpTaxIds(i - start);
      // One verdict byte per ID now stands at the start of the buffer (copied: the
      // general path below may grow the memory, which detaches the view).
      const verdicts = view().slice(0, i - start);
      for (let k = start; k < i; k++) {
        if (verdicts[k - start] === 1) {
          valid[k] = true;
          validCount++;
          continue;
        }
        const r = general(entry(k));
        valid[k] = r.valid;
        if (r.valid) validCount++;
        if (r.errors.length > 0 || r.warnings.length > 0) problems.push({ index: k, result: r });
      }
    }
    return { count: n, validCount, valid, problems };
  }

  /**
   * `loadRegionNames(text?) → Promise<number>`: the names of the GB/T 2260
   * regions for a part that does not embed them (fetched from
   * wasm/region-names.txt beside the module when no text is given).
   */
  async function loadRegionNames(text) {
    if (text === undefined) {
      const res = await fetch(namesUrl);
      if (!res.ok) throw new Error(`loadRegionNames: ${namesUrl}: HTTP ${res.status}`);
      text = await res.text();
    }
    return loadRegionNamesSync(text);
  }

  /** The same with the text at hand (the Node.js entries read the file). */
  function loadRegionNamesSync(text) {
    const count = gen.__fpLoadRegionNames(text);
    regions.clear();
    return count;
  }

  return { attach, validateTaxId, validateTaxIds, loadRegionNames, loadRegionNamesSync };
}

