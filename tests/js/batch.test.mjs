// The 批量开票 page (www/batch.html) in a real browser (Debian's Chromium, driven by
// playwright-core) against fapiao-proxy with the sandbox provider and an operator
// key: a 2,000-row .xlsx with planted errors → exactly those cells marked; fixed in
// place; submitted; progress to 100 %; the exported results hold every invoice
// number; a reload and a new tab resume the batch. Screenshots go to tests/js/out/.
//   FAPIAO_PROXY_BIN=target/debug/fapiao-proxy node --test tests/js/batch.test.mjs
// Without FAPIAO_PROXY_BIN the proxy is built and taken from $CARGO_TARGET_DIR/debug.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { axe, launchChromium, out, removeDir, startProxy, tempDir } from './harness.mjs';

const KEY = `fop_${randomBytes(32).toString('hex')}`;
const BEIJING = '91110000600037341L';

// The package as built in pkg/ (its Node entry), to write the test sheet and read the exports.
const batch = await import(new URL('../../pkg/batch.node.js', import.meta.url));

let browser, proxy, base, dbDir;

before(async () => {
  dbDir = await tempDir('fapiao-batch-');
  proxy = await startProxy({
    dir: dbDir,
    wasm: 'batch_bg.wasm',
    env: {
      FAPIAO_SANDBOX_ISSUE_DELAY_MS: '5-30',
      FAPIAO_OPERATOR_KEYS: `finance-test:${createHash('sha256').update(KEY).digest('hex')}`,
    },
  });
  base = proxy.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await proxy?.stop();
  await removeDir(dbDir);
});

async function open(context, viewport = { width: 1280, height: 900 }) {
  const ctx = context ?? await browser.newContext({ viewport, locale: 'zh-CN', acceptDownloads: true });
  const p = await ctx.newPage();
  const problems = [];
  p.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  p.on('pageerror', (e) => problems.push(String(e)));
  await p.goto(`${base}/batch.html`);
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  return { p, ctx, problems };
}

const HEADERS = ['订单号', '发票类型', '购买方类型', '购买方名称', '购买方税号', '收票邮箱', '项目名称', '税收分类编码', '规格型号', '单位', '数量', '单价', '金额', '税率', '含税标志'];

/**
 * A sheet of `orders` orders × 5 lines, all valid, as an .xlsx written by the
 * package; `plant` then breaks chosen cells. Returns the bytes and the planted cells.
 */
function makeSheet(prefix, orders = 400) {
  const rows = [];
  let n = 2;
  for (let o = 0; o < orders; o++) {
    const id = `${prefix}-${String(o).padStart(4, '0')}`;
    for (let l = 0; l < 5; l++) {
      const q = 1 + ((o + l) % 7);
      const price = `${10 + ((o * 7 + l * 3) % 90)}.50`;
      const amount = (Math.round(q * Number(price) * 100) / 100).toFixed(2);
      const food = l % 2 === 0;
      rows.push({
        row: n++,
        cells: [id, l === 0 ? '数电普票' : '', l === 0 ? '企业' : '', l === 0 ? `北京某某科技有限公司第${o}分公司` : '', l === 0 ? BEIJING : '',
          l === 0 ? 'caiwu@example.com' : '', food ? '工作午餐' : '服务器', food ? '3070401000000000000' : '1090511030000000000',
          '', food ? '份' : '台', String(q), price, amount, food ? '6%' : '13%', '是'],
      });
    }
  }
  const cellAt = (row, header) => ({ r: rows[row - 2], c: HEADERS.indexOf(header) });
  const set = (row, header, value) => {
    const { r, c } = cellAt(row, header);
    r.cells[c] = value;
  };
  // Planted errors, each in its own order (rows 2–6 are order 0, 7–11 order 1, …).
  const planted = [
    [52, '购买方税号', 'TAXID_CHARSET'], // order 10, first row: letters O for zeros
    [159, '税收分类编码', 'TAXCODE_SUMMARY'], // order 31, a 汇总项
    [603, '金额', 'LINE_AMOUNT_TOLERANCE'], // order 120: 3 × 10.50 ≠ 40.00
    [1202, '购买方名称', 'BUYER_NAME_REQUIRED'], // order 240, first row
    [1757, '购买方类型', 'BUYER_PERSON_SPECIAL'], // order 351, first row: 专票 for a person
  ];
  set(52, '购买方税号', '911100OO600037341L');
  set(159, '税收分类编码', '3070400000000000000');
  set(603, '数量', '3');
  set(603, '单价', '10.50');
  set(603, '金额', '40.00');
  set(1202, '购买方名称', '');
  set(1757, '购买方类型', '个人');
  set(1757, '购买方名称', '张三');
  set(1757, '购买方税号', '');
  set(1757, '发票类型', '数电专票');
  const sheet = { headers: HEADERS, headerRow: 1, rows };
  return { bytes: Buffer.from(batch.writeSheet(sheet, 'xlsx')), planted, orders };
}

/** The marked cells of the page: [sheet row, header] of every td.bad, with the filter on. */
async function markedCells(p) {
  return p.evaluate(() => {
    const heads = [...document.querySelectorAll('#head th')].map((th) => th.textContent);
    return [...document.querySelectorAll('#body td.bad')].map((td) => [Number(td.closest('tr').dataset.row), heads[td.cellIndex]]);
  });
}

test('batch: 2,000 rows with planted errors → exactly those cells marked; fixed in place; submitted; 100 %; exported results hold every invoice number; reload and a new tab resume', async () => {
  const prefix = `T${Date.now().toString(36).toUpperCase()}`;
  const { bytes, planted, orders } = makeSheet(prefix);
  const { p, ctx, problems } = await open();
  await p.locator('#file').setInputFiles({ name: '十二月订单.xlsx', mimeType: 'application/octet-stream', buffer: bytes });
  await p.locator('#s-rows').getByText('2000').waitFor();
  assert.equal(await p.locator('#s-invoices').innerText(), String(orders));
  assert.equal(await p.locator('#s-errors').innerText(), String(planted.length));
  assert.equal(await p.locator('#s-valid').innerText(), String(orders - planted.length));
  assert.ok(await p.locator('#submit').isDisabled(), 'no submission while errors remain');
  await p.screenshot({ path: `${out}batch-errors-desktop.png` });

  // Filtered to the rows with problems: exactly the planted cells, each with its message.
  await p.getByLabel('只看有问题的行').check();
  await p.waitForFunction((n) => document.querySelectorAll('#body tr[data-row]').length === n, planted.length);
  assert.deepEqual((await markedCells(p)).sort(), planted.map(([r, h]) => [r, h]).sort());
  const report = await p.evaluate(() => document.querySelectorAll('#body td.probs').length);
  assert.equal(report, planted.length);
  for (const [row, header] of planted) {
    const probs = await p.locator(`#body tr[data-row="${row}"] td.probs`).innerText();
    assert.match(probs, new RegExp(`✗ ${header}：`), `row ${row}: ${probs}`);
  }
  await p.screenshot({ path: `${out}batch-filtered-desktop.png` });
  const violations = await axe(p, 'batch errors desktop');

  // Fixes: one tap for the tax ID, the amount and the 专票; typing for the code and the name.
  await p.locator('#body tr[data-row="52"] button.fix').click();
  await p.locator('#s-errors').getByText('4').waitFor();
  await p.locator('#body tr[data-row="603"] button.fix').click();
  await p.locator('#s-errors').getByText('3').waitFor();
  await p.locator('#body tr[data-row="1757"] button.fix').click();
  await p.locator('#s-errors').getByText('2').waitFor();
  const codeCol = HEADERS.indexOf('税收分类编码');
  await p.locator(`#body tr[data-row="159"] td[data-c="${codeCol}"]`).click();
  await p.locator('#body input.cell-edit').fill('3070401000000000000');
  await p.locator('#body input.cell-edit').press('Enter');
  await p.locator('#s-errors').getByText('1').waitFor();
  // The last one through the row's form below the table.
  await p.locator('#body tr[data-row="1202"] button.rowbtn').click();
  await p.locator('#insp-form').getByLabel('购买方名称').fill('上海某某贸易有限公司');
  await p.locator('#insp-form').getByLabel('购买方名称').press('Tab');
  await p.locator('#s-errors').getByText('0').waitFor();
  assert.equal(await p.locator('#s-valid').innerText(), String(orders));
  assert.equal(await p.locator('#body tr[data-row]').count(), 0, 'nothing left with the filter on');
  assert.match(await p.locator('#summary-note').innerText(), new RegExp(`全部 ${orders} 张发票校验通过`));
  // The corrected sheet, downloaded, holds the fixed values.
  {
    const [download] = await Promise.all([p.waitForEvent('download'), p.locator('#save-xlsx').click()]);
    const sheet = batch.readSheet(new Uint8Array(await readFile(await download.path())), 'fixed.xlsx').sheet;
    const at = (row, header) => sheet.rows[row - 2].cells[sheet.headers.indexOf(header)];
    assert.equal(sheet.rows.length, 2000);
    assert.deepEqual(
      [at(52, '购买方税号'), at(159, '税收分类编码'), at(603, '金额'), at(1202, '购买方名称'), at(1757, '发票类型')],
      [BEIJING, '3070401000000000000', '31.50', '上海某某贸易有限公司', '数电普票'],
    );
  }

  // A wrong key is refused with a clear message; then the operator key.
  await p.getByLabel('操作员密钥').fill('fop_wrong');
  await p.locator('#submit').click();
  await p.locator('#op-key-msg').getByText('操作员密钥不正确').waitFor();
  await p.getByLabel('操作员密钥').fill(KEY);
  await p.getByLabel('批次名称').fill('十二月');
  await p.locator('#submit').click();
  await p.locator('#progress-text').getByText(/^100%/).waitFor({ timeout: 120000 });
  assert.equal(await p.locator('#progress').getAttribute('value'), '100');
  await p.locator('#results-box').waitFor();
  const batchId = JSON.parse(await p.evaluate(() => localStorage.getItem('fapiao.batch'))).id;
  assert.match(batchId, /^b_/);
  assert.equal(await p.evaluate(() => localStorage.getItem('fapiao.operatorKey')), null, 'the key is never in localStorage');
  await p.screenshot({ path: `${out}batch-done-desktop.png`, fullPage: true });

  // What the proxy holds: every order issued, one invoice number each.
  const state = await (await fetch(`${base}/v1/batches/${batchId}`, { headers: { authorization: `Bearer ${KEY}` } })).json();
  assert.equal(state.total, orders);
  assert.equal(state.counts.issued, orders);
  const numbers = state.orders.map((o) => o.invoiceNumber);
  assert.equal(new Set(numbers).size, orders);
  for (const n of numbers) assert.match(n, /^\d{20}$/);
  assert.ok(state.orders.every((o) => o.orderId.startsWith(prefix)));

  // The exported results, .xlsx and .csv, hold every invoice number.
  for (const format of ['xlsx', 'csv']) {
    const [download] = await Promise.all([p.waitForEvent('download'), p.locator(`#res-${format}`).click()]);
    assert.match(download.suggestedFilename(), new RegExp(`\\.${format}$`));
    const file = await readFile(await download.path());
    const sheet = batch.readSheet(new Uint8Array(file), `r.${format}`);
    assert.equal(sheet.valid, true, JSON.stringify(sheet.errors));
    const col = sheet.sheet.headers.indexOf('发票号码');
    const got = new Set(sheet.sheet.rows.map((r) => r.cells[col]));
    assert.equal(sheet.sheet.rows.length, orders);
    for (const n of numbers) assert.ok(got.has(n), `${format}: ${n} missing`);
    // The sandbox links each invoice's XML; in the file the links are absolute.
    const xml = sheet.sheet.headers.indexOf('XML');
    assert.match(sheet.sheet.rows[0].cells[xml], /^http:\/\/127\.0\.0\.1:\d+\/v1\/invoices\/.+\/files\/xml\?access=/);
  }

  // A reload resumes from the proxy's state.
  await p.reload();
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await p.locator('#progress-text').getByText(/^100%/).waitFor({ timeout: 20000 });
  assert.match(await p.locator('#batch-title').innerText(), new RegExp(batchId));
  await p.locator('#results tbody tr').first().waitFor();
  // A new tab (the key is per tab): asks for the key, then shows the batch.
  const second = await ctx.newPage();
  await second.goto(`${base}/batch.html`);
  await second.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await second.locator('#submit-hint').getByText(batchId).waitFor();
  await second.getByLabel('操作员密钥').fill(KEY);
  await second.getByLabel('操作员密钥').press('Tab');
  await second.locator('#progress-text').getByText(/^100%/).waitFor({ timeout: 20000 });
  // The operator's recent batches, this one first.
  await second.locator('#recent summary').waitFor();
  assert.match(await second.locator('#recent-list li').first().textContent(), new RegExp(batchId));
  await second.screenshot({ path: `${out}batch-resumed-desktop.png` });
  assert.deepEqual(problems.filter((m) => !/403|401/.test(m)), []);
  assert.deepEqual(violations, []);
  await ctx.close();
});

test('batch: templates download and read back; a phone-sized screen; axe on the empty and loaded page', async () => {
  const found = {};
  for (const [vw, tag] of [[{ width: 1280, height: 800 }, 'desktop'], [{ width: 390, height: 844 }, 'phone']]) {
    const { p, ctx, problems } = await open(undefined, vw);
    found[`empty ${tag}`] = await axe(p, `batch empty ${tag}`);
    await p.screenshot({ path: `${out}batch-empty-${tag}.png`, fullPage: tag === 'phone' });
    const [download] = await Promise.all([p.waitForEvent('download'), p.locator('#tpl-xlsx').click()]);
    assert.equal(download.suggestedFilename(), '批量开票模板.xlsx');
    const tpl = await readFile(await download.path());
    await p.locator('#file').setInputFiles({ name: '批量开票模板.xlsx', mimeType: 'application/octet-stream', buffer: tpl });
    await p.locator('#summary-note').getByText('全部 2 张发票校验通过').waitFor();
    found[`template ${tag}`] = await axe(p, `batch template ${tag}`);
    await p.screenshot({ path: `${out}batch-template-${tag}.png`, fullPage: tag === 'phone' });
    // A file that is no sheet says so.
    await p.locator('#file').setInputFiles({ name: 'old.xls', mimeType: 'application/vnd.ms-excel', buffer: Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0, 0]) });
    await p.locator('#load-status').getByText('不支持旧版 .xls 格式').waitFor();
    const [csv] = await Promise.all([p.waitForEvent('download'), p.locator('#tpl-csv').click()]);
    const text = await readFile(await csv.path(), 'utf8');
    assert.ok(text.startsWith('\ufeff订单号,'), text.slice(0, 20));
    assert.deepEqual(problems, []);
    await ctx.close();
  }
  for (const [k, v] of Object.entries(found)) assert.deepEqual(v, [], k);
});

test('batch: an overridable error confirmed in the row form adds the 确认项 column; a CSV with a BOM', async () => {
  const { p, ctx, problems } = await open();
  const csv = '\ufeff订单号,购买方名称,购买方税号,项目名称,税收分类编码,金额,税率\r\n' +
    'K1,北京某某科技有限公司,91110000600037341N,午餐,3070401000000000000,106,6%\r\n' +
    'K2,北京某某科技有限公司,91110000600037341L,午餐,3070401000000000000,212,6%\r\n';
  await p.locator('#file').setInputFiles({ name: 'k.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await p.locator('#s-errors').getByText('1').waitFor();
  assert.deepEqual(await markedCells(p), [[2, '购买方税号']]);
  await p.locator('#body tr[data-row="2"] button.rowbtn').click();
  await p.locator('#insp-problems').getByText('TAXID_CHECKSUM').waitFor();
  await p.getByRole('button', { name: '核对无误，仍按原值开具' }).click();
  await p.locator('#s-errors').getByText('0').waitFor();
  const heads = await p.locator('#head th').allInnerTexts();
  assert.equal(heads[heads.length - 1], '确认项');
  assert.equal(await p.locator('#s-incl').innerText(), '¥318.00');
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('batch: the sandbox demo without operator keys fills in its demo key, and the template is issued with it', async () => {
  const dir = await tempDir('fapiao-batch-demo-');
  const demo = await startProxy({ dir, wasm: 'batch_bg.wasm', env: { FAPIAO_SANDBOX_ISSUE_DELAY_MS: '5-30' } });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  try {
    const p = await ctx.newPage();
    await p.goto(`${demo.base}/batch.html`);
    await p.waitForFunction(() => document.documentElement.dataset.ready === 'true');
    const key = await p.locator('#op-key').inputValue();
    assert.match(key, /^fop_[0-9a-f]{64}$/);
    await p.locator('#op-key-msg').getByText('沙箱演示').waitFor();
    const tpl = Buffer.from(batch.batchTemplate('xlsx'));
    await p.locator('#file').setInputFiles({ name: '批量开票模板.xlsx', mimeType: 'application/octet-stream', buffer: tpl });
    await p.locator('#summary-note').getByText('全部 2 张发票校验通过').waitFor();
    await p.locator('#submit').click();
    await p.locator('#progress-box').getByText('100%').waitFor({ timeout: 60000 });
    // The batch is the demo operator's, on the proxy's side too.
    const r = await fetch(`${demo.base}/v1/batches`, { headers: { authorization: `Bearer ${key}` } });
    const { batches } = await r.json();
    assert.equal(batches.length, 1);
    assert.equal(batches[0].operator, 'demo');
    assert.equal(batches[0].counts.issued, 2);
  } finally {
    await ctx.close();
    await demo.stop();
    await removeDir(dir);
  }
});
