// The parts of the npm package, and the entry modules each part gets.
//   node scripts/pkg-parts.mjs list            part names, cargo features and cargo profiles, one a line
//   node scripts/pkg-parts.mjs entries         writes the entry modules into pkg/
//   node scripts/pkg-parts.mjs sizes [--check] what each part and page fetches, raw and gzipped;
//                                              --check fails above scripts/size-budget.json
//
// Each part is one WebAssembly module built from the crate with its cargo features
// (scripts/build-pkg.sh) into pkg/wasm/<part>.js and pkg/wasm/<part>_bg.wasm. Its
// entries, written here from one template so that they cannot drift apart:
//   <web>.js          for pages without a bundler: `await init()`, then call
//   <node>.js         for Node.js: ready on import, no top-level await (so that
//                     `require()` of the package works where Node loads ES modules)
//   <bundler>.js      for bundlers: ready on import (top-level await)
//   <web>.d.ts        the TypeScript declarations of all three
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync, constants } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const root = fileURLToPath(new URL('../', import.meta.url));
const pkg = `${root}pkg/`;

/**
 * name: the subpath (`fapiao/<name>`; the root for `fapiao`); features: cargo
 * features; taxIds: whether the part checks taxpayer IDs (and so gets the lean
 * boundary of js/taxid-boundary.js; invoice: computes amounts, with
 * js/invoice-boundary.js); files: the entry file names.
 */
export const PARTS = [
  // The root: every cargo feature of `full` but `batch` (批量开票 has its own part,
  // which only the batch page loads).
  { name: 'fapiao', features: 'taxid,invoice,advanced,taxcodes,qr,camera,region-names,special-business', taxIds: true,
    invoice: true, names: true, web: 'fapiao', node: 'node', bundler: 'bundler',
    what: 'every function of the package but those of fapiao/batch' },
  { name: 'taxid', features: 'taxid', taxIds: true, what: 'taxpayer IDs and the buyer form' },
  { name: 'invoice', features: 'invoice', taxIds: true, invoice: true,
    what: 'taxpayer IDs, the buyer form, amounts and the issuing request without 特定业务 (with the tax codes and 简称 it needs, not the names or search)' },
  { name: 'advanced', features: 'advanced', taxIds: true, invoice: true,
    what: 'everything of fapiao/invoice, and order discounts, splitting at the invoice limit, red letters and 特定业务 requests' },
  { name: 'taxcodes', features: 'taxcodes', taxIds: false, what: 'the tax classification code table, search and item names' },
  { name: 'qr', features: 'qr', taxIds: false, what: 'scanned codes (抬头 QR, receipts) and the QR encoder' },
  { name: 'camera', features: 'camera', taxIds: false, what: 'QR codes read from camera frames, for browsers without BarcodeDetector' },
  // Built for speed (cargo profile wasm-speed, wasm-opt -O3): the batch page checks
  // 10,000-row sheets at once; about a quarter larger than at -Oz.
  { name: 'batch', features: 'batch', taxIds: true, invoice: true, profile: 'wasm-speed',
    what: 'everything of fapiao/advanced, and 批量开票: .xlsx/.csv sheets read, checked cell by cell, result files and the template written' },
].map((p) => ({ web: p.name, node: `${p.name}.node`, bundler: `${p.name}.bundler`, ...p }));

const HEADER = (p, how) =>
  `// fapiao, ${p.what}: ${how}.\n// Written by scripts/pkg-parts.mjs; do not edit.\n`;

function webEntry(p) {
  const gen = `./wasm/${p.name}.js`;
  if (!p.taxIds) {
    return `${HEADER(p, 'for pages without a bundler (await init() once, then call)')}export * from '${gen}';\nexport { default, initSync } from '${gen}';\n`;
  }
  return `${HEADER(p, 'for pages without a bundler (await init() once, then call)')}import initWasm, * as gen from '${gen}';
import { bindTaxIds } from './taxid-boundary.js';
${p.invoice ? "import { bindInvoice } from './invoice-boundary.js';\n" : ''}
export * from '${gen}';

const ids = bindTaxIds(gen, new URL('./wasm/region-names.txt', import.meta.url));
/** \`validateTaxId(input) → TaxIdResult\` */
export const validateTaxId = ids.validateTaxId;
/** \`validateTaxIds(ids) → TaxIdBatchResult\` */
export const validateTaxIds = ids.validateTaxIds;
/** \`loadRegionNames(text?) → Promise<number>\`: region names for \`details.regionName\`${p.names ? ' (embedded in this part: nothing to load)' : ''}. */
export const loadRegionNames = ids.loadRegionNames;
/** @internal The Node.js entry's synchronous loader. */
export const __fpLoadRegionNamesSync = ids.loadRegionNamesSync;
${p.invoice ? `/** \`computeInvoice(input) → InvoiceResult\` */
export const computeInvoice = bindInvoice(gen).computeInvoice;
` : ''}/** @internal The general paths behind the lean ones, for the package's own tests. */
export const __fpGeneral = { validateTaxId: gen.validateTaxId${p.invoice ? ', computeInvoice: gen.computeInvoice' : ''} };

/** Loads the module (once); every other export may be called after it resolved. */
export default async function init(input) {
  const exports = await initWasm(input);
  ids.attach(exports);
  return exports;
}

/** Loads the module from bytes or a compiled \`WebAssembly.Module\`, synchronously. */
export function initSync(input) {
  const exports = gen.initSync(input);
  ids.attach(exports);
  return exports;
}
`;
}

const nodeEntry = (p) => `${HEADER(p, 'for Node.js, ready on import')}import { readFileSync } from 'node:fs';
import { initSync${p.taxIds && !p.names ? ', __fpLoadRegionNamesSync' : ''} } from './${p.web}.js';

initSync({ module: readFileSync(new URL('./wasm/${p.name}_bg.wasm', import.meta.url)) });
${p.taxIds && !p.names ? `// Size does not matter here: the region names are loaded at once.
__fpLoadRegionNamesSync(readFileSync(new URL('./wasm/region-names.txt', import.meta.url), 'utf8'));
` : ''}
export * from './${p.web}.js';
export { default } from './${p.web}.js';
`;

const bundlerEntry = (p) => `${HEADER(p, 'for bundlers (Vite, webpack 5, Rollup), ready on import')}// The bundler copies wasm/${p.name}_bg.wasm as an asset (new URL(…, import.meta.url)).
import init from './${p.web}.js';

await init();

export * from './${p.web}.js';
export { default } from './${p.web}.js';
`;

function types(p) {
  const gen = `./wasm/${p.name}.js`;
  let s = `${HEADER(p, 'TypeScript declarations')}export * from '${gen}';\nexport { default, initSync } from '${gen}';\n`;
  if (p.taxIds) {
    s += `import type { TaxIdBatchResult } from '${gen}';
/**
 * Checks many taxpayer IDs at once (a spreadsheet column). \`null\` and
 * \`undefined\` count as empty; any other entry that is not a string throws.
 */
export declare function validateTaxIds(ids: readonly (string | null | undefined)[]): TaxIdBatchResult;
/**
 * Loads the names of the GB/T 2260 regions (every edition since 1981) for
 * \`details.regionName\` and \`regionName\`: fetched from wasm/region-names.txt beside
 * the module when no text is given${p.names ? '; this part embeds them, so it only counts them' : ''}. Resolves to the number of names.
 */
export declare function loadRegionNames(text?: string): Promise<number>;
`;
  }
  return s;
}

function writeEntries() {
  for (const p of PARTS) {
    writeFileSync(`${pkg}${p.web}.js`, webEntry(p));
    writeFileSync(`${pkg}${p.node}.js`, nodeEntry(p));
    writeFileSync(`${pkg}${p.bundler}.js`, bundlerEntry(p));
    writeFileSync(`${pkg}${p.web}.d.ts`, types(p));
  }
}

/** What a page without a bundler fetches for a part: its web entry and what that imports. */
export function partFiles(p) {
  const files = [`${p.web}.js`, `wasm/${p.name}.js`, `wasm/${p.name}_bg.wasm`];
  if (p.invoice) files.splice(1, 0, 'invoice-boundary.js');
  if (p.taxIds) files.splice(1, 0, 'taxid-boundary.js');
  return files;
}

/**
 * Bytes of a file as served gzipped: its `gzip -9` copy beside it (written by
 * scripts/build-pkg.sh, and what fapiao-proxy sends), else Node's zlib at level 9
 * (about 1–2 % larger).
 */
function gz(path, buf) {
  try {
    return statSync(`${path}.gz`).size;
  } catch {
    return gzipSync(buf, { level: constants.Z_BEST_COMPRESSION }).length;
  }
}

export function sizes() {
  const rows = [];
  for (const p of PARTS) {
    let raw = 0, zipped = 0;
    const files = partFiles(p).map((f) => {
      const b = readFileSync(`${pkg}${f}`);
      const z = gz(`${pkg}${f}`, b);
      raw += b.length;
      zipped += z;
      return { file: f, raw: b.length, gzip: z };
    });
    rows.push({ part: p.name, raw, gzip: zipped, files });
  }
  return rows;
}

function report(check) {
  const budget = JSON.parse(readFileSync(`${root}scripts/size-budget.json`, 'utf8'));
  let over = 0;
  console.log('part       fetched (raw → gzip -9)   budget');
  for (const r of sizes()) {
    const limit = budget.parts[r.part];
    const bad = limit !== undefined && r.gzip > limit;
    over += bad ? 1 : 0;
    console.log(`${r.part.padEnd(10)} ${String(r.raw).padStart(8)} → ${String(r.gzip).padStart(7)} B` +
      `${limit !== undefined ? `   ≤ ${limit}${bad ? '  OVER' : ''}` : ''}`);
    for (const f of r.files) console.log(`             ${f.file.padEnd(26)} ${String(f.raw).padStart(8)} → ${String(f.gzip).padStart(7)}`);
  }
  if (check && over > 0) {
    console.error(`${over} part(s) over their budget in scripts/size-budget.json`);
    process.exit(1);
  }
}

const main = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
const [cmd, flag] = main ? process.argv.slice(2) : [];
if (cmd === 'list') for (const p of PARTS) console.log(`${p.name} ${p.features} ${p.profile ?? 'wasm'}`);
else if (cmd === 'entries') writeEntries();
else if (cmd === 'sizes') report(flag === '--check');
else if (main) {
  console.error('usage: node scripts/pkg-parts.mjs list | entries | sizes [--check]');
  process.exit(2);
}
