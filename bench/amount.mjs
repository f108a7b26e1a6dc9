// computeInvoice on a 2,000-line invoice through the built npm package in Node,
// both as `fapiao/invoice` and as the root `fapiao`, against the same Rust code
// natively on the same input:
//   bash scripts/build-pkg.sh && node bench/amount.mjs
// The native figure comes from examples/amount_native.rs (built with
// `cargo build --release --example amount_native` on first use), run right after
// each WebAssembly measurement. Prints medians of 30 runs and the ratio
// WebAssembly ÷ native (the target is at most 3).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const imports = {
  'fapiao/invoice': (await import(new URL('../pkg/invoice.node.js', import.meta.url))).computeInvoice,
  fapiao: (await import(new URL('../pkg/node.js', import.meta.url))).computeInvoice,
};

/** 1,000 lines with quantity and unit price, each followed by a discount line; mixed rates. */
function invoice(priceIncludesTax) {
  const rates = ['0.13', '0.09', '0.06', '0.03', '0.01'];
  const lines = [];
  for (let i = 0; i < 1000; i++) {
    const name = `*信息技术服务*服务费${i}`;
    const taxRate = rates[i % rates.length];
    lines.push({ name, quantity: String(1 + (i % 17)), unitPrice: `${3 + (i % 997)}.${String(i % 100).padStart(2, '0')}`, taxRate });
    lines.push({ name, amount: `-0.${String(1 + (i % 99)).padStart(2, '0')}`, taxRate, kind: 'discount' });
  }
  return { priceIncludesTax, lines };
}

function time(fn, runs = 30) {
  for (let i = 0; i < 3; i++) fn(); // warm up
  const t = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  t.sort((a, b) => a - b);
  return { median: t[t.length >> 1], min: t[0] };
}

const build = spawnSync('cargo', ['build', '--quiet', '--release', '--example', 'amount_native'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const dir = mkdtempSync(join(tmpdir(), 'fapiao-bench-'));

console.log(`node ${process.version}`);
for (const inclusive of [true, false]) {
  const input = invoice(inclusive);
  const file = join(dir, `input-${inclusive}.json`);
  writeFileSync(file, JSON.stringify(input));
  for (const [name, computeInvoice] of Object.entries(imports)) {
    const r = computeInvoice(input);
    if (!r.valid) throw new Error(JSON.stringify(r.errors.slice(0, 3)));
    const wasm = time(() => computeInvoice(input));
    const run = spawnSync(join(targetDir, 'release/examples/amount_native'), [file, '30'], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(run.stderr);
    const native = JSON.parse(run.stdout);
    console.log(`computeInvoice 2000 lines, ${inclusive ? 'tax-inclusive' : 'tax-exclusive'}, ${name}: ` +
      `wasm median ${wasm.median.toFixed(2)} ms (min ${wasm.min.toFixed(2)}), ` +
      `native median ${native.medianMs.toFixed(2)} ms (min ${native.minMs.toFixed(2)}), ` +
      `ratio ${(wasm.median / native.medianMs).toFixed(2)}× (min/min ${(wasm.min / native.minMs).toFixed(2)}×)`);
  }
}
