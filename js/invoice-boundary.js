// The JavaScript side of the lean boundary for computeInvoice (src/wasm/fast.rs),
// shared by the parts of the package that compute amounts.
//
// The lines cross as one string of tagged fields instead of JSON
// (src/wasm/fast.rs, compute_invoice, describes the form), and come back the same
// way; only valid/errors/warnings/totals are JSON. An input the packed form cannot
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

/** Wraps a generated part module that exports `computeInvoice`. */
export function bindInvoice(gen) {
  /** `computeInvoice(input) → InvoiceResult` (shared/spec/js-api.md). */
  function computeInvoice(input) {
    const packed = packInvoice(input);
    if (packed === null) return gen.computeInvoice(input);
    let out;
    try {
      out = gen.__fpComputeInvoice(packed.priceIncludesTax, packed.count, packed.text);
    } catch {
      return gen.computeInvoice(input); // a separator inside some text
    }
    const cut = out.indexOf('\u001d');
    const head = JSON.parse(out.slice(0, cut));
    const lines = new Array(packed.count);
    if (packed.count > 0) {
      const rows = out.slice(cut + 1).split('\u001e');
      for (let i = 0; i < packed.count; i++) {
        const row = rows[i];
        if (row === '') {
          lines[i] = null;
          continue;
        }
        const f = row.split('\u001f');
        const line = {
          kind: f[0], quantity: f[1] || null, unitPriceExclTax: f[2] || null, unitPriceInclTax: f[3] || null,
          amountExclTax: f[4], taxAmount: f[5], amountInclTax: f[6], taxRate: f[7],
        };
        if (f[8] !== '') line.deduction = f[8];
        lines[i] = line;
      }
    }
    return { valid: head.valid, errors: head.errors, warnings: head.warnings, lines, totals: head.totals };
  }
  return { computeInvoice };
}
