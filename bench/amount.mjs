// computeInvoice on a 2000-line invoice through the built npm package in Node:
//   bash scripts/build-pkg.sh && node bench/amount.mjs
// The same shape as the native criterion bench (benches/amount.rs): 1000 lines with
// quantity and unit price, each followed by a discount line.
const { computeInvoice } = await import(new URL('../pkg/node.js', import.meta.url));

function invoice(priceIncludesTax) {
  const lines = [];
  for (let i = 0; i < 1000; i++) {
    const name = `*信息技术服务*服务费${i}`;
    lines.push({ name, quantity: String(1 + (i % 7)), unitPrice: `${10 + (i % 90)}.${String(i % 100).padStart(2, '0')}`, taxRate: '0.06' });
    lines.push({ name, amount: `-${1 + (i % 5)}.00`, taxRate: '0.06', kind: 'discount' });
  }
  return { priceIncludesTax, lines };
}

function time(fn, runs = 30) {
  fn(); fn(); // warm up
  const t = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  t.sort((a, b) => a - b);
  return { median: t[t.length >> 1], min: t[0] };
}

console.log(`node ${process.version}`);
for (const inclusive of [true, false]) {
  const input = invoice(inclusive);
  const r = computeInvoice(input);
  if (!r.valid) throw new Error(JSON.stringify(r.errors.slice(0, 3)));
  const { median, min } = time(() => computeInvoice(input));
  console.log(`computeInvoice 2000 lines, ${inclusive ? 'tax-inclusive' : 'tax-exclusive'}: median ${median.toFixed(2)} ms, min ${min.toFixed(2)} ms`);
}
