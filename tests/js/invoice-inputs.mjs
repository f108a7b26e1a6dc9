// Inputs of computeInvoice for the test that compares its lean path (js/
// invoice-boundary.js: the lines' values as text, numbers back) with the general one (JSON):
// ordinary orders and every kind of value the packed form must carry, or hand on
// to the general path, exactly as JSON would.
import { lcg } from './taxid-inputs.mjs';

const NAMES = ['*餐饮服务*工作餐', '*信息技术服务*接口服务费', 'x', '', '  ', 'a\u0000b', 'a\u001cb', 'a\u001db', 'a\u001eb',
  'a\u001fb', 'a\ud800b', '\udc00', '😴', '名'.repeat(300), 'a|b;c,d=e', 'line\nbreak\ttab'];
const DECIMALS = ['106.00', '1', '0', '-10', '-9.99', '33.333333', '3.14159265358979', '0.005', '1.005', ' 106.00 ', '１０６',
  '1e3', '99999999999999999.99', '', 'abc', '+5', '.5', '5.', '10.00\u001egarbage', '1\u001f2', '\u001d', 'n\u001e',
  106, 0, -0, 3, 0.1, 1e21, NaN, Infinity, 2 ** 53, true, null, undefined,
  // Figures the lean path sends back as numbers: money beyond 2³¹ cents, mantissas
  // beyond 2⁵³ (which it hands to the general path), many decimals.
  '12345678901.23', '9999999999999.99', '123456789012', '123456789012.12345678', '0.00000001', '12345678.12345678'];
const RATES = ['0.13', '0.09', '0.06', '0.05', '0.03', '0.01', '0', '0.17', '13%', '', 0, 1, null, undefined, 0.13];
const KINDS = [undefined, 'normal', 'discount', 'weird', null, 1];
const OPTIONAL = {
  taxCode: ['3070401000000000000', '1030307060000000000', '9999999999999999999', '307', 3070401, null],
  spec: ['500ml', '', 'a\u001fb', null, 5],
  unit: ['杯', '个', '', null],
  preferentialPolicy: ['01', '18', '19', '', null],
  zeroRateFlag: ['1', '2', '3', '4', null],
  taxAmount: ['6.00', '-0.57', '0.001', 6, null],
  deduction: ['10.00', '0', '-1', 10, null, '10.00\u001egarbage', '10\u001e', '1\u001f2'],
};

function pick(next, list) {
  return list[next(list.length)];
}

/** One line: mostly sensible, with an unusual value now and then. */
function line(next) {
  const odd = () => next(25) === 0;
  const l = { name: odd() ? pick(next, NAMES) : pick(next, NAMES.slice(0, 3)) };
  const sensible = ['106.00', '1', '33.333333', '1265.77', '3', '0.50', '2'];
  const dec = () => (odd() ? pick(next, DECIMALS) : pick(next, sensible));
  switch (next(9)) {
    case 0: l.quantity = dec(); l.unitPrice = dec(); l.amount = dec(); break;
    case 1: case 2: case 3: l.quantity = dec(); l.unitPrice = dec(); break;
    default: l.amount = dec();
  }
  l.taxRate = odd() ? pick(next, RATES) : pick(next, RATES.slice(0, 6));
  if (odd()) l.kind = pick(next, KINDS);
  for (const [k, values] of Object.entries(OPTIONAL)) if (next(25) === 0) l[k] = pick(next, values);
  if (next(40) === 0) l.note = 'a member no line has';
  return l;
}

/** A discount line right after `l`, as the rules want it (same name and rate). */
const discount = (l, next) => ({ name: l.name, amount: pick(next, ['-0.50', '-1', '-10.00']), taxRate: l.taxRate, kind: 'discount' });

/**
 * Text holding the packed form's separators (U+001D–U+001F), in every place of a
 * line and in the last field (deduction) of the last line, where a cut would
 * leave a well-formed line behind.
 */
export const SEPARATOR_CASES = [
  ...['\u001d', '\u001e', '\u001f'].flatMap((sep) => [
    { priceIncludesTax: true, lines: [{ name: '*餐饮服务*工作餐', amount: '106.00', taxRate: '0.06', deduction: `10.00${sep}garbage` }] },
    { priceIncludesTax: true, lines: [{ name: '*餐饮服务*工作餐', amount: '106.00', taxRate: '0.06', deduction: `10.00${sep}` }] },
    { priceIncludesTax: true, lines: [{ name: 'x', amount: '1.00', taxRate: '0.06' }, { name: 'y', amount: '2.00', taxRate: '0.06', deduction: `1${sep}n` }] },
    { priceIncludesTax: true, lines: [{ name: `a${sep}b`, amount: '1.00', taxRate: '0.06' }] },
    { priceIncludesTax: true, lines: [{ name: 'x', amount: `1.00${sep}`, taxRate: '0.06' }] },
    { priceIncludesTax: true, lines: [{ name: 'x', amount: '1.00', taxRate: `0.06${sep}` }] },
    { priceIncludesTax: true, lines: [{ name: 'x', amount: '1.00', taxRate: '0.06', zeroRateFlag: `1${sep}` }] },
  ]),
];

/**
 * Orders with large figures: money beyond 2³¹ cents, unit prices and quantities
 * whose mantissas pass 2⁵³ (the lean path hands those to the general one), lines
 * sharing a name with the line before without being discount lines.
 */
export const WIDE_CASES = [
  { priceIncludesTax: true, lines: [{ name: 'x', quantity: '3', unitPrice: '7654321012.37', taxRate: '0.13' }] },
  { priceIncludesTax: false, lines: [{ name: 'x', quantity: '123456789012', unitPrice: '0.01', taxRate: '0.06' }] },
  { priceIncludesTax: true, lines: [{ name: 'x', quantity: '7', amount: '123456789012.34', taxRate: '0.13' }] },
  { priceIncludesTax: false, lines: [{ name: 'x', quantity: '0.00000003', amount: '1234567890.12', taxRate: '0.09' }] },
  { priceIncludesTax: true, lines: [{ name: 'x', unitPrice: '12345678.12345678', amount: '98765432.10', taxRate: '0.01' }] },
  { priceIncludesTax: true, lines: [{ name: 'y', amount: '5.00', taxRate: '0.13' }, { name: 'y', amount: '6.00', taxRate: '0.13' },
    { name: 'y', amount: '-1.00', taxRate: '0.13', kind: 'discount' }, { name: 'z', amount: 7, taxRate: 0 }] },
  { priceIncludesTax: false, lines: [{ name: 'x', quantity: -3, unitPrice: '2.5', taxRate: '3%' }] },
];

/** `count` inputs from a fixed seed. */
export function invoiceInputs(count, seed = 3) {
  const next = lcg(seed);
  const out = [
    { priceIncludesTax: true, lines: [] },
    { priceIncludesTax: true },
    { lines: [{ name: 'x', amount: '1.00', taxRate: '0.06' }] },
    { priceIncludesTax: 'true', lines: [{ name: 'x', amount: '1.00', taxRate: '0.06' }] },
    { priceIncludesTax: true, lines: [null] },
    { priceIncludesTax: true, lines: [{ name: 'x', amount: '1.00', taxRate: '0.06' }], remark: 'a member the input has not' },
    { priceIncludesTax: true, lines: [{ name: 'x', amount: '1.00', taxRate: '0.06' }], wordsStyle: 'invoice' },
    { priceIncludesTax: false, red: true, lines: [{ name: 'x', amount: '-1.00', taxRate: '0.06' }] },
    ...SEPARATOR_CASES,
    ...WIDE_CASES,
  ];
  while (out.length < count) {
    const n = next(8) === 0 ? 1 + next(60) : 1 + next(4);
    const lines = [];
    for (let i = 0; i < n; i++) {
      const l = line(next);
      lines.push(l);
      if (next(6) === 0) lines.push(discount(l, next));
    }
    out.push({ priceIncludesTax: next(2) === 0, lines });
  }
  return out;
}
