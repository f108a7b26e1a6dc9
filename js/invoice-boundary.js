// The JavaScript side of the lean boundary for computeInvoice (src/wasm/fast.rs),
// shared by the parts of the package that compute amounts.
//
// The lines cross as one string of their values and one number a line saying
// which members the line has (src/wasm/fast.rs, compute_invoice, describes the
// form) instead of JSON, and come back as numbers (13 a line, in a Float64Array),
// from which the strings of the result are written here; only
// valid/errors/warnings/totals are JSON. An input the packed form cannot carry
// exactly as JSON.stringify would — other members of the input, values of
// unexpected types, objects that are not plain — takes the general path, which
// also throws where a type is wrong. Text holding the separator changes the
// number of values, which the Rust side refuses: that input, too, goes the
// general way.

/** A line's number: the name is the line before's (and not in the text). */
const SAME_NAME = 1 << 15;
/** Members of the input other than the lines that the lean path does not carry. */
const OTHER_INPUT = ['invoiceType', 'red', 'priceDecimals', 'quantityDecimals', 'wordsStyle', 'toJSON'];

const plain = (v) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && v.toJSON === undefined;

/** The packed lines, or null when the input must take the general path. */
function packInvoice(input) {
  if (!plain(input)) return null;
  for (const k of OTHER_INPUT) if (input[k] !== undefined) return null;
  const pit = input.priceIncludesTax;
  if (pit !== undefined && typeof pit !== 'boolean') return null;
  const lines = input.lines === undefined ? [] : input.lines;
  if (!Array.isArray(lines) || Object.getPrototypeOf(lines) !== Array.prototype) return null;
  const masks = new Uint32Array(lines.length);
  let text = '';
  let mask = 0;
  // Member k of the line (its bit in the line's number): false when the lean path
  // cannot carry it. Written out member by member: reading them by name each time
  // is about twice as fast as through a list of names.
  const str = (v, k) => {
    if (v === undefined || v === null) return true;
    if (typeof v !== 'string') return false;
    text += v + '\u001f';
    mask |= 1 << k;
    return true;
  };
  const dec = (v, k) => {
    if (v === undefined || v === null) return true;
    if (typeof v === 'string') text += v + '\u001f';
    else if (typeof v === 'number') {
      // As JSON.stringify and the general reader see it: NaN and ±Infinity are
      // null, a safe integer an integer, any other number a float (refused later).
      if (!Number.isFinite(v)) return true;
      mask |= 1 << (16 + k);
      text += (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? '' + v : '') + '\u001f';
    } else return false;
    mask |= 1 << k;
    return true;
  };
  let name;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!plain(line)) return null;
    mask = 0;
    const n = line.name;
    // A discount line names the line it discounts: its name is not sent twice.
    if (n === name && n !== undefined) mask = SAME_NAME;
    else if (!str(n, 0)) return null;
    name = typeof n === 'string' ? n : undefined;
    if (!(str(line.taxCode, 1) && str(line.spec, 2) && str(line.unit, 3) && dec(line.quantity, 4) &&
      dec(line.unitPrice, 5) && dec(line.amount, 6) && dec(line.taxAmount, 7) && dec(line.taxRate, 8) &&
      str(line.kind, 9) && str(line.preferentialPolicy, 10) && str(line.zeroRateFlag, 11) && dec(line.deduction, 12))) {
      return null;
    }
    masks[i] = mask;
  }
  return { priceIncludesTax: pit === true, masks, text };
}

/**
 * A quantity, unit price or rate from its mantissa and scale (src/wasm/fast.rs
 * sends it without trailing zeros), as the general path prints it: `"3.5"`, `"100"`.
 */
function plainText(m, scale) {
  if (scale === 0) return '' + m;
  const negative = m < 0;
  const digits = '' + (negative ? -m : m);
  const cut = digits.length - scale;
  const t = cut > 0 ? digits.slice(0, cut) + '.' + digits.slice(cut) : '0.' + '0'.repeat(-cut) + digits;
  return negative ? '-' + t : t;
}

/** ".00" to ".99". */
const CENTS = Array.from({ length: 100 }, (_, c) => (c < 10 ? '.0' : '.') + c);

/** Money from cents, with two decimals: `"113.00"`, `"-0.05"`. */
function moneyText(cents) {
  const negative = cents < 0;
  const a = negative ? -cents : cents;
  // In 31 bits (below ¥21,474,836.48) the division is an integer one.
  const y = a < 2147483648 ? (a / 100) | 0 : (a - (a % 100)) / 100;
  const t = y + CENTS[a - y * 100];
  return negative ? '-' + t : t;
}

/** Wraps a generated part module that exports `computeInvoice`. */
export function bindInvoice(gen) {
  /** `computeInvoice(input) → InvoiceResult` (shared/spec/js-api.md). */
  function computeInvoice(input) {
    const packed = packInvoice(input);
    if (packed === null) return gen.computeInvoice(input);
    let v;
    try {
      v = gen.__fpComputeInvoice(packed.priceIncludesTax, packed.masks, packed.text);
    } catch {
      // The separator inside some text, or a figure a double cannot carry exactly.
      return gen.computeInvoice(input);
    }
    const head = JSON.parse(gen.__fpInvoiceText());
    const lines = new Array(packed.masks.length);
    // 13 numbers a line (src/wasm/fast.rs, compute_invoice).
    for (let i = 0, o = 0; i < packed.masks.length; i++, o += 13) {
      const kind = v[o];
      if (kind === 0) {
        lines[i] = null;
        continue;
      }
      const line = {
        kind: kind === 1 ? 'normal' : 'discount',
        quantity: v[o + 2] < 0 ? null : plainText(v[o + 1], v[o + 2]),
        unitPriceExclTax: v[o + 4] < 0 ? null : plainText(v[o + 3], v[o + 4]),
        unitPriceInclTax: v[o + 6] < 0 ? null : plainText(v[o + 5], v[o + 6]),
        amountExclTax: moneyText(v[o + 7]),
        taxAmount: moneyText(v[o + 8]),
        amountInclTax: moneyText(v[o + 9]),
        taxRate: plainText(v[o + 10], v[o + 11]),
      };
      const d = v[o + 12];
      if (d === d) line.deduction = moneyText(d);
      lines[i] = line;
    }
    return { valid: head.valid, errors: head.errors, warnings: head.warnings, lines, totals: head.totals };
  }
  return { computeInvoice };
}
