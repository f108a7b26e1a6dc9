// The package in a real browser (Debian's Chromium, driven by playwright-core):
// the demo page loads it with no bundler, and a Vite build imports it by name.
// Screenshots go to tests/js/out/ to be looked at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { ADVANCED_PART, LIGHT } from './parts.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = here('./out/');
let browser, server, base;

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

before(async () => {
  await mkdir(out, { recursive: true });
  server = await startServer();
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function page(viewport = { width: 900, height: 760 }) {
  const p = await browser.newPage({ viewport, locale: 'zh-CN' });
  const problems = [];
  p.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  p.on('pageerror', (e) => problems.push(String(e)));
  return { p, problems };
}

test('demo page without a bundler: live validation and a one-tap suggestion', async () => {
  const { p, problems } = await page();
  await p.goto(`${base}/`);
  const input = p.getByLabel('纳税人识别号 Taxpayer ID');
  await input.waitFor();
  await p.waitForFunction(() => !document.getElementById('tax-id').disabled);
  await input.pressSequentially('9111OOOO600037341L');
  const status = p.locator('#tax-id-status');
  await assert.doesNotReject(status.getByText('统一社会信用代码不使用字母', { exact: false }).first().waitFor());
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  const suggestion = p.getByRole('button', { name: '91110000600037341L' });
  await suggestion.waitFor();
  await p.screenshot({ path: `${out}taxid-typo.png` });
  await suggestion.click();
  assert.equal(await input.inputValue(), '91110000600037341L');
  await status.getByText('✓ 有效的统一社会信用代码').waitFor();
  assert.equal(await input.getAttribute('aria-invalid'), 'false');
  const details = await p.locator('#details').innerText();
  assert.match(details, /110000 北京市/);
  assert.match(details, /工商（市场监督管理）/);
  await p.screenshot({ path: `${out}taxid-valid.png` });
  assert.deepEqual(problems, []);
  await p.close();
});

test('demo page: a real code failing its check can be confirmed', async () => {
  const { p, problems } = await page({ width: 390, height: 760 });
  await p.goto(`${base}/`);
  await p.waitForFunction(() => !document.getElementById('tax-id').disabled);
  await p.locator('#tax-id').fill('91350203M0001QKT19');
  const confirm = p.getByLabel('号码与营业执照一致', { exact: false });
  await confirm.waitFor();
  assert.equal(await p.locator('#tax-id').getAttribute('aria-invalid'), 'true');
  await confirm.check();
  await p.locator('#tax-id-status').getByText('已确认使用').waitFor();
  assert.equal(await p.locator('#tax-id').getAttribute('aria-invalid'), 'false');
  await p.screenshot({ path: `${out}taxid-confirm-phone.png`, fullPage: true });
  assert.deepEqual(problems, []);
  await p.close();
});

test('through a bundler (Vite): import by name, no init call', async () => {
  const { build } = await import('vite');
  const dist = `${out}vite-dist`;
  await build({
    root: here('./vite-app'),
    logLevel: 'warn',
    build: { outDir: dist, emptyOutDir: true },
  });
  const bundled = await startServer({ mounts: { '/': dist } });
  try {
    const { p, problems } = await page();
    await p.goto(`http://127.0.0.1:${bundled.address().port}/`);
    await p.waitForFunction(() => document.getElementById('out').textContent.startsWith('{'));
    const result = JSON.parse(await p.locator('#out').textContent());
    const f = await import('fapiao');
    const expected = f.computeInvoice({ priceIncludesTax: true, lines: [{ name: '*餐饮服务*工作餐', amount: '106.00', taxRate: '0.06' }] }).totals;
    assert.deepEqual(result, {
      valid: false,
      code: 'TAXID_CHARSET',
      suggestion: '91110000600037341L',
      buyerErrors: ['BUYER_PERSON_SPECIAL'],
      rootRegionName: '北京市',
      // fapiao/taxid and fapiao/invoice: no names until loadRegionNames(), which
      // fetches the file the bundler emitted beside the module.
      taxid: { valid: true, regionNameBefore: false, names: await regionNameCount(), regionNameAfter: '北京市', hasComputeInvoice: false },
      invoice: {
        totals: [expected.amountExclTax, expected.taxAmount, expected.amountInclTax],
        regionNameBefore: false,
        regionNameAfter: '北京市',
      },
    });
    assert.deepEqual(problems, []);
    await p.close();
  } finally {
    bundled.close();
  }
});

// ---------------------------------------------------------------------------
// The parts' web entries in a plain page (no bundler), served from the package as
// npm installed it: what a page gets is what the tarball holds.
const installed = dirname(createRequire(import.meta.url).resolve('fapiao/package.json'));

async function regionNameCount() {
  const text = await readFile(`${installed}/wasm/region-names.txt`, 'utf8');
  return text.split('\n').filter(Boolean).length;
}

async function plainServer() {
  const s = await startServer({ mounts: { '/pkg/': installed, '/plain/': here('./plain') } });
  return { s, url: `http://127.0.0.1:${s.address().port}` };
}

/** Opens a page, records the paths it requests, and waits for the JSON in #out. */
async function plainPage(url) {
  const { p, problems } = await page();
  const requested = [];
  p.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await p.goto(url);
  await p.waitForFunction(() => document.getElementById('out').textContent.startsWith('{'));
  const result = JSON.parse(await p.locator('#out').textContent());
  return { p, problems, requested, result };
}

test('plain page, fapiao/taxid web entry: init(), no region names until loadRegionNames()', async () => {
  const { s, url } = await plainServer();
  try {
    const { p, problems, requested, result } = await plainPage(`${url}/plain/taxid.html`);
    assert.equal(result.error, undefined, result.error);
    const beijing = { valid: true, kind: 'uscc', errors: [] };
    assert.equal(result.loadedBefore, false);
    // regionName is absent (not null, not undefined-valued) on both paths.
    assert.deepEqual(result.before, [{ ...beijing, hasRegionName: false }, { ...beijing, hasRegionName: false }]);
    assert.equal(result.regionNameBefore, null);
    assert.deepEqual(result.typo.errors, ['TAXID_CHARSET']);
    assert.equal(result.names, await regionNameCount());
    assert.equal(result.loadedAfter, true);
    const named = { ...beijing, hasRegionName: true, regionName: '北京市' };
    assert.deepEqual(result.after, [named, named]);
    assert.deepEqual(result.batch, [true, false, false]);
    // The part's own module, and the names only once asked for; not the whole package.
    assert.ok(requested.includes('/pkg/wasm/taxid_bg.wasm'), requested.join());
    assert.equal(requested.filter((r) => r === '/pkg/wasm/region-names.txt').length, 1, requested.join());
    assert.deepEqual(requested.filter((r) => new RegExp(`fapiao_bg|invoice_bg|${ADVANCED_PART}_bg`).test(r)), []);
    assert.deepEqual(problems, []);
    await p.close();
  } finally {
    s.close();
  }
});

test('plain page, fapiao/invoice web entry: init(), computeInvoice, then loadRegionNames()', async () => {
  const { s, url } = await plainServer();
  try {
    const { p, problems, requested, result } = await plainPage(`${url}/plain/invoice.html`);
    assert.equal(result.error, undefined, result.error);
    // The same numbers as the root gives in Node.
    const f = await import('fapiao');
    const want = f.computeInvoice({ priceIncludesTax: true, lines: [
      { name: '*餐饮服务*工作餐', quantity: '3', unitPrice: '35.33', taxRate: '0.06' },
      { name: '*信息技术服务*接口服务费', amount: '1265.77', taxRate: '0.01' },
    ] });
    assert.deepEqual(result.invoice, {
      valid: true,
      lines: want.lines.map((l) => [l.amountExclTax, l.taxAmount, l.amountInclTax]),
      totals: JSON.parse(JSON.stringify(want.totals)),
    });
    assert.equal(result.before, false);
    assert.equal(result.names, await regionNameCount());
    assert.equal(result.regionName, '北京市');
    assert.deepEqual(result.request, { valid: true, name: '*餐饮服务*工作餐', taxAmount: '6.00' });
    assert.ok(requested.includes('/pkg/wasm/invoice_bg.wasm'), requested.join());
    assert.deepEqual(requested.filter((r) => new RegExp(`fapiao_bg|taxid_bg|${ADVANCED_PART}_bg`).test(r)), []);
    assert.deepEqual(problems, []);
    await p.close();
  } finally {
    s.close();
  }
});

test('plain page, fapiao/camera web entry: QR codes read from canvas pixels, as from a camera frame', async () => {
  const { s, url } = await plainServer();
  try {
    const { p, problems, requested, result } = await plainPage(`${url}/plain/camera.html`);
    assert.equal(result.error, undefined, result.error);
    assert.deepEqual(result, { title: true, receipt: true, blank: true, wrongSize: true });
    assert.ok(requested.includes('/pkg/wasm/camera_bg.wasm'), requested.join());
    assert.deepEqual(problems, []);
    await p.close();
  } finally {
    s.close();
  }
});

test('quick path in Chromium: validateTaxId of the web entries equals the general path, before and after loading names', async () => {
  const { mixedInputs } = await import('./taxid-inputs.mjs');
  const inputs = mixedInputs(53);
  const { s, url } = await plainServer();
  try {
    const { p, problems } = await page();
    await p.goto(`${url}/plain/blank.html`);
    for (const part of [...LIGHT, 'fapiao']) {
      const report = await p.evaluate(async ({ part, inputs }) => {
        const m = await import(`/pkg/${part}.js`);
        const gen = await import(`/pkg/wasm/${part}.js`);
        await m.default();
        const mismatches = [];
        let compared = 0;
        // Only what JSON can hold: a field set to undefined or a symbol would hide
        // from JSON.stringify, and differs from a field left out.
        const plain = (v) => v === null || ['string', 'number', 'boolean'].includes(typeof v) ||
          (Array.isArray(v) ? v.every(plain) : typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype &&
            Object.getOwnPropertySymbols(v).length === 0 && Object.values(v).every(plain));
        // Key order is no part of the contract.
        const canon = (v) => JSON.stringify(v, (k, o) => (o && typeof o === 'object' && !Array.isArray(o)
          ? Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))) : o));
        const compare = (stage) => {
          for (const round of [1, 2]) {
            for (const x of inputs) {
              const quick = m.validateTaxId(x);
              const a = canon(quick);
              const b = canon(gen.validateTaxId(x));
              compared++;
              if ((a !== b || !plain(quick)) && mismatches.length < 3) mismatches.push({ stage, round, x, a, b });
            }
          }
        };
        const namedBefore = 'regionName' in m.validateTaxId('91110000600037341L').details;
        compare('before');
        const names = await m.loadRegionNames();
        compare('after');
        const batch = m.validateTaxIds(inputs);
        const batchMismatches = inputs.filter((x, i) => batch.valid[i] !== m.validateTaxId(x).valid).slice(0, 3);
        return { namedBefore, names, compared, mismatches, batchMismatches };
      }, { part, inputs });
      assert.deepEqual(report.mismatches, [], part);
      assert.deepEqual(report.batchMismatches, [], part);
      assert.equal(report.compared, inputs.length * 4);
      // Only the root embeds the names.
      assert.equal(report.namedBefore, part === 'fapiao', part);
      assert.ok(report.names > 3000, `${part}: ${report.names}`);
    }
    assert.deepEqual(problems, []);
    await p.close();
  } finally {
    s.close();
  }
});
