// The JavaScript side of the lean boundary for computeInvoice (src/wasm/fast.rs),
// shared by the parts of the package that compute amounts.
//
// The lines cross as one string of tagged fields instead of JSON
// (src/wasm/fast.rs, compute_invoice, describes the form), and come back as
// numbers (13 a line, in a Float64Array), from which the strings of the result
// are written here; only valid/errors/warnings/totals are JSON. An input the packed form cannot
// carry exactly as JSON.stringify would — other members of the input, values of
// unexpected types, objects that are not plain — takes the general path, which
// also throws where a type is wrong. Text holding a separator changes the number
// of fields, which the Rust side refuses: that input, too, goes the general way.

/** The input line's members, in packed order: [name, is a decimal]. */
const LINE_FIELDS = [
  ['name', false], ['taxCode', false], ['spec', false], ['unit', false],
  ['quantity', true], ['unitPrice', true], ['amount', true], ['taxAmount', true], ['taxRate', true],
  ['kind', false], ['preferentialPolicy', false], ['zeroRateFlag', false], ['deduction', true],
];
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
  let text = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!plain(line)) return null;
    if (i > 0) text += '\u001e';
    for (let k = 0; k < LINE_FIELDS.length; k++) {
      const [name, decimal] = LINE_FIELDS[k];
      const v = line[name];
      if (k > 0) text += '\u001f';
      if (v === undefined || v === null) text += 'n';
      else if (typeof v === 'string') text += 's' + v;
      else if (decimal && typeof v === 'number') {
        // As JSON.stringify and the general reader see it: NaN and ±Infinity are
        // null, a safe integer an integer, any other number a float (refused later).
        if (!Number.isFinite(v)) text += 'n';
        else if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) text += 'i' + v;
        else text += 'f';
      } else return null;
    }
  }
  return { priceIncludesTax: pit === true, count: lines.length, text };
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

/** Money from cents, with two decimals: `"113.00"`, `"-0.05"`. */
function moneyText(cents) {
  const negative = cents < 0;
  const a = negative ? -cents : cents;
  const c = a % 100;
  const t = (a - c) / 100 + (c < 10 ? '.0' : '.') + c;
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
      v = gen.__fpComputeInvoice(packed.priceIncludesTax, packed.count, packed.text);
    } catch {
      // A separator inside some text, or a figure a double cannot carry exactly.
      return gen.computeInvoice(input);
    }
    const head = JSON.parse(gen.__fpInvoiceText());
    const lines = new Array(packed.count);
    // 13 numbers a line (src/wasm/fast.rs, compute_invoice).
    for (let i = 0, o = 0; i < packed.count; i++, o += 13) {
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
