// Taxpayer-ID checks per second through the built npm package in Node, against
// the plain-JavaScript `stdnum` (its cn.uscc, a devDependency used here only) in
// the same process, on the same valid codes:
//   bash scripts/build-pkg.sh && node bench/tax-id.mjs
// Prints each figure as the median of 16 rounds and the ratio fapiao ÷ stdnum
// (above 1: fapiao is faster). fapiao does more per call: the region code against
// every GB/T 2260 edition since 1981, the entity type for the authority, both
// check characters, and a result with the details and names.
import { readFileSync } from 'node:fs';
import stdnumPkg from 'stdnum';

const fapiao = await import(new URL('../pkg/taxid.node.js', import.meta.url));
const { stdnum } = stdnumPkg;

// Valid codes: the real ones of the tests, and codes made valid over many
// authorities, entity types, regions and organization codes.
const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const W17 = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const W8 = [3, 7, 9, 10, 5, 8, 4, 2];
const TYPES = { 1: '1239', 5: '1239', 9: '123', Y: '1' };
const REGIONS = ['110000', '110101', '310115', '440300', '330106', '510107', '420106', '120116'];
let seed = 1;
const rnd = (n) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
function make() {
  const a = Object.keys(TYPES)[rnd(4)];
  let s = a + TYPES[a][rnd(TYPES[a].length)] + REGIONS[rnd(REGIONS.length)];
  let body = '';
  for (let i = 0; i < 8; i++) body += '0123456789'[rnd(10)];
  const sum = [...body].reduce((t, c, i) => t + Number(c) * W8[i], 0);
  const org = 11 - (sum % 11);
  s += body + (org === 10 ? 'X' : org === 11 ? '0' : String(org));
  const t = [...s].reduce((acc, c, i) => acc + ALPHABET.indexOf(c) * W17[i], 0);
  return s + ALPHABET[(31 - (t % 31)) % 31];
}
const real = readFileSync(new URL('../tests/data/uscc-real.txt', import.meta.url), 'utf8')
  .split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((l) => l && !l.startsWith('#'));
const codes = [...real, ...Array.from({ length: 2000 }, make)]
  .filter((c) => fapiao.validateTaxId(c).valid && stdnum.CN.uscc.validate(c).isValid);

/** Calls per second of `fn` over every code, median of `rounds` rounds of about 100 ms. */
function rate(fn, rounds = 16) {
  for (let i = 0; i < 3; i++) for (const c of codes) fn(c); // warm up
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < 100_000_000n) {
      for (const c of codes) fn(c);
      n += codes.length;
      elapsed = process.hrtime.bigint() - start;
    }
    perRound.push(n / (Number(elapsed) / 1e9));
  }
  perRound.sort((a, b) => a - b);
  return perRound[rounds >> 1];
}

let sink = 0;
const ours = rate((c) => { sink += fapiao.validateTaxId(c).valid ? 1 : 0; });
const theirs = rate((c) => { sink += stdnum.CN.uscc.validate(c).isValid ? 1 : 0; });

// The batch form: a column of 100,000 codes per call.
const column = Array.from({ length: 100_000 }, (_, i) => codes[i % codes.length]);
const batch = [];
for (let r = 0; r < 9; r++) {
  const start = process.hrtime.bigint();
  const res = fapiao.validateTaxIds(column);
  batch.push(column.length / (Number(process.hrtime.bigint() - start) / 1e9));
  if (res.validCount !== column.length) throw new Error('validateTaxIds: a valid code was refused');
}
batch.sort((a, b) => a - b);

const f = (n) => Math.round(n).toLocaleString('en').padStart(11);
console.log(`node ${process.version}, ${codes.length} valid USCCs`);
console.log(`fapiao validateTaxId        ${f(ours)} calls/s`);
console.log(`stdnum cn.uscc.validate     ${f(theirs)} calls/s`);
console.log(`ratio fapiao / stdnum       ${(ours / theirs).toFixed(2)}×`);
console.log(`fapiao validateTaxIds       ${f(batch[batch.length >> 1])} IDs/s (100,000 a call, median of 9)`);
if (sink < 0) console.log(sink);
