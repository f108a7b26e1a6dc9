// Taxpayer IDs for the tests that compare the quick path of validateTaxId
// (js/taxid-boundary.js and src/wasm/fast.rs) with the general one: real codes, codes
// built to pass both check characters (every authority and entity type, known,
// retired and unknown regions), and the same codes spoilt in the ways users spoil them.
import { readFileSync } from 'node:fs';

const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];
const RESIDENT_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** GB 11714 check character of an 8-character organization code body. */
export function orgCheck(body) {
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    const c = body.charCodeAt(i);
    sum += (c <= 57 ? c - 48 : c - 55) * ORG_WEIGHTS[i];
  }
  const d = 11 - (sum % 11);
  return d === 11 ? '0' : d === 10 ? 'X' : String(d);
}

/** GB 32100 check character of the first 17 characters. */
export function usccCheck(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += ALPHABET.indexOf(first17[i]) * USCC_WEIGHTS[i];
  return ALPHABET[(31 - (sum % 31)) % 31];
}

/** A code with both check characters right: authority, type, region, org body. */
export function uscc(authority, type, region, body) {
  const first17 = `${authority}${type}${region}${body}${orgCheck(body)}`;
  return first17 + usccCheck(first17);
}

/** A resident ID (GB 11643) with its check character. */
export function resident(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * RESIDENT_WEIGHTS[i];
  return first17 + '10X98765432'[sum % 11];
}

/** A small deterministic generator: the same inputs on every run. */
export function lcg(seed) {
  let s = BigInt(seed);
  return (n) => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    return Number((s >> 33n) % BigInt(n));
  };
}

/** The real codes of tests/data/uscc-real.txt (comments and blank lines left out). */
export function realCodes() {
  return readFileSync(new URL('../data/uscc-real.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

// Regions in use (110000, 310115, 440300, 652201), retired ones (110103 崇文区 in
// 2010, 110101's neighbour 110104 宣武区), and codes that are no region at all.
const REGIONS = ['110000', '110101', '110103', '110104', '310115', '440300', '652201', '320500', '000000', '999999', '100000'];

/** `count` codes that pass both check characters; some have unknown parts on purpose. */
export function generatedCodes(count, seed = 7) {
  const next = lcg(seed);
  const out = [];
  for (let k = 0; k < count; k++) {
    // Mostly the authorities and types that exist (9 1, N 1, Y 1, A 1 …), sometimes any.
    const authority = next(3) === 0 ? ALPHABET[next(31)] : '1235679ANY'[next(10)];
    const type = next(4) === 0 ? ALPHABET[next(31)] : '1239'[next(4)];
    let body = '';
    for (let i = 0; i < 8; i++) body += next(3) === 0 ? ALPHABET[next(31)] : String(next(10));
    out.push(uscc(authority, type, REGIONS[next(REGIONS.length)], body));
  }
  return out;
}

/**
 * Codes of digits only (and X) that pass as a USCC and also have the shape of a
 * resident ID, their 7th–14th characters a date or nearly one: regions ending in
 * 18, 19 or 20 give years 18xx–20xx.
 */
export function residentLookalikes(count, seed = 13) {
  const next = lcg(seed);
  const regions = ['110118', '110119', '120118', '120119', '210219', '110000', '440300'];
  const two = (n) => String(next(n)).padStart(2, '0');
  const out = [];
  while (out.length < count) {
    const code = uscc('1235679'[next(7)], '1239'[next(4)], regions[next(regions.length)], `${two(100)}${two(14)}${two(33)}${two(100)}`);
    if (/^\d{17}[\dX]$/.test(code)) out.push(code);
  }
  return out;
}

/** The ways an input goes wrong or is typed differently, each applied to `code`. */
export function variants(code, next) {
  const i = next(18);
  const swap = code.slice(0, i) + (code[i + 1] ?? '') + code[i] + code.slice(i + 2);
  const typo = code.slice(0, i) + ALPHABET[(ALPHABET.indexOf(code[i]) + 1 + next(30)) % 31] + code.slice(i + 1);
  return [
    code.toLowerCase(),
    ` ${code.slice(0, 6)} ${code.slice(6, 12)}-${code.slice(12)} `,
    [...code].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join(''), // full width
    code.replace(/0/g, 'O').replace(/1/g, 'I'),
    typo,
    swap,
    code.slice(0, 17),
    `${code}0`,
    `${code.slice(0, 17)}é`,
  ];
}

/** Every kind of input the tests compare: valid, spoilt, other kinds of ID, junk. */
export function mixedInputs(seed = 11) {
  const next = lcg(seed);
  const real = realCodes();
  const made = generatedCodes(600, seed);
  const fixed = [
    '91110000600037341L', '911101036000373415', 'N11100006000373417', 'Y1110103123456788G',
    'A1440300MA5D12340C', '91350203M0001QKT19', '99990000600037341J', '911100001000002860',
    resident('11010119900307123'), resident('44030420001231002'), resident('11010118500101001'),
    '110101600037341', '11010160003734', '110101600037341X', '44030419900307123X0',
    '', ' ', '　', '\u0000'.repeat(18), '中文中文中文中文中文中文中文中文中文', '😴'.repeat(9),
    'x'.repeat(18), 'x'.repeat(32), 'x'.repeat(33), '9'.repeat(18), '0'.repeat(18),
  ];
  const spoilt = [];
  for (const code of [...real.slice(0, 120), ...made.slice(0, 120)]) spoilt.push(...variants(code, next));
  return [...fixed, ...real, ...made, ...residentLookalikes(150, seed), ...spoilt];
}
