// validateTaxId calls per second through the built npm package in Node:
//   bash scripts/build-pkg.sh && node bench/tax-id.mjs
// The same inputs as the native criterion bench (benches/tax_id.rs), so the two
// figures show what the JavaScript boundary costs.
const { validateTaxId } = await import(new URL('../pkg/node.js', import.meta.url));

const inputs = {
  valid_uscc: '91110000600037341L',
  valid_resident: '110102199101010078',
  checksum_error: '91110000600037341N',
  typo_with_suggestion: '9111OOOO600037341L',
};

function measure(fn, ms = 1000) {
  for (let i = 0; i < 2000; i++) fn(); // warm up
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    now = process.hrtime.bigint();
  }
  const seconds = Number(now - start) / 1e9;
  return { perSecond: n / seconds, microsPerCall: (seconds / n) * 1e6 };
}

console.log(`node ${process.version}`);
for (const [name, input] of Object.entries(inputs)) {
  const { perSecond, microsPerCall } = measure(() => validateTaxId(input));
  console.log(`${name.padEnd(22)} ${Math.round(perSecond).toLocaleString('en').padStart(10)} calls/s  ${microsPerCall.toFixed(2)} µs/call`);
}
