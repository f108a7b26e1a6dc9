// searchTaxCodes per query through the built npm package in Node, against a plain
// JavaScript Array.filter + includes over the same rows in the same process:
//   bash scripts/build-pkg.sh && node bench/tax-codes.mjs
const f = await import(new URL('../pkg/taxcodes.node.js', import.meta.url));

// The same rows as plain JS objects (every code, via its first digit).
let t0 = performance.now();
f.prepareTaxCodeSearch();
const prepareMs = performance.now() - t0;
const byCode = new Map();
for (const d of ['1', '2', '3', '4', '5', '6']) {
  for (const r of f.searchTaxCodes(d, { limit: 10000 })) {
    if (r.code.startsWith(d)) byCode.set(r.code, { code: r.code, name: r.name, shortName: r.shortName, leaf: r.leaf });
  }
}
const plain = [...byCode.values()].sort((a, b) => (a.code < b.code ? -1 : 1));

function filterSearch(q, limit = 20) {
  return plain
    .filter((r) => r.code.startsWith(q) || r.name.includes(q) || r.shortName.includes(q))
    .slice(0, limit);
}

function perQuery(fn, ms = 400) {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
  }
  return ((performance.now() - start) / n) * 1000; // µs
}

console.log(`node ${process.version}; ${plain.length} rows; index built in ${prepareMs.toFixed(1)} ms`);
console.log('query        searchTaxCodes  Array.filter  ratio  (µs per query; filter finds no pinyin)');
for (const q of ['餐饮服务', '餐饮', '服务', '软件', '1070101', '30', 'cyfw', 'canyin']) {
  const wasm = perQuery(() => f.searchTaxCodes(q, { limit: 20 }));
  const js = perQuery(() => filterSearch(q));
  const hits = f.searchTaxCodes(q, { limit: 1 })[0];
  console.log(`${q.padEnd(10)} ${wasm.toFixed(1).padStart(12)} ${js.toFixed(1).padStart(13)} ${(js / wasm).toFixed(1).padStart(6)}x  first: ${hits ? hits.shortName + ' ' + hits.name : '-'}`);
}
