// The package in a real browser (Debian's Chromium, driven by playwright-core):
// the demo page loads it with no bundler, and a Vite build imports it by name.
// Screenshots go to tests/js/out/ to be looked at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

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
    assert.deepEqual(result, {
      valid: false,
      code: 'TAXID_CHARSET',
      suggestion: '91110000600037341L',
      buyerErrors: ['BUYER_PERSON_SPECIAL'],
    });
    assert.deepEqual(problems, []);
    await p.close();
  } finally {
    bundled.close();
  }
});
