// Run by tests/js/parts.test.mjs in a child process: what a server-side renderer
// does (Next.js, Nuxt, SvelteKit in Node): import every entry of the package, the
// Node entries and the web entries (not initialised), with the browser globals
// replaced by getters that record any access. Prints a JSON report as its last line.
const touched = [];
for (const name of ['window', 'document', 'self', 'location', 'localStorage', 'sessionStorage', 'XMLHttpRequest']) {
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get() {
      touched.push(`${name}: ${new Error().stack.split('\n').slice(2, 4).map((l) => l.trim()).join(' < ')}`);
      return undefined;
    },
  });
}

// The parts, as the first argument (JSON).
const PARTS = JSON.parse(process.argv[2]);
const imported = [];
const mods = {};
for (const spec of ['fapiao', 'fapiao/web', ...PARTS.flatMap((p) => [`fapiao/${p}`, `fapiao/${p}/web`])]) {
  mods[spec] = await import(spec);
  imported.push(spec);
}
// One call each, on the functions the part has.
const results = { fapiao: mods.fapiao.validateTaxId('91110000600037341L').valid };
for (const p of PARTS) {
  const m = mods[`fapiao/${p}`];
  if (m.computeInvoice) {
    results[p] = m.computeInvoice({ priceIncludesTax: true, lines: [{ name: 'x', amount: '1.00', taxRate: '0.06' }] }).valid &&
      m.validateTaxIds(['N11100006000373417']).valid[0];
  } else if (m.validateTaxId) results[p] = m.validateTaxId('911101036000373415').valid;
  else if (m.lookupTaxCode) results[p] = m.lookupTaxCode('3070401000000000000').name;
  else if (m.decodeQrImage) results[p] = m.decodeQrImage(new Uint8Array(16 * 16 * 4), 16, 16) ?? 'none';
  else results[p] = m.parseTitleQr('not a code').valid;
}
console.log(JSON.stringify({ imported, touched, results }));
