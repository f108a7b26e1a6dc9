// The parts of the npm package (fapiao/taxid, fapiao/invoice, fapiao/taxcodes,
// fapiao/qr …, listed in parts.mjs, and the root) as a Node user gets them:
// imported by name through the `exports` map of the installed tarball, required
// from CommonJS, imported during server-side rendering. Also: the quick paths of
// validateTaxId/validateTaxIds (js/taxid-boundary.js) and computeInvoice
// (js/invoice-boundary.js) give exactly what the general path of the generated
// module (fapiao/wasm/<part>.js) gives. Run from tests/js/node.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ADVANCED_PART, BATCH_ONLY, INVOICE_PARTS, JS_API, LIGHT, PART_FUNCTIONS } from './parts.mjs';
import { generatedCodes, mixedInputs, realCodes, uscc } from './taxid-inputs.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const json = (v) => JSON.parse(JSON.stringify(v));

const PARTS = PART_FUNCTIONS;
const ALL = [...new Set(Object.values(PARTS).flat())];

const root = await import('fapiao');
// A part that does not load fails its tests below, not every test of the file.
const parts = {};
const importErrors = [];
for (const name of Object.keys(PARTS)) {
  try {
    parts[name] = await import(`fapiao/${name}`);
  } catch (e) {
    importErrors.push(`fapiao/${name}: ${e.message}`);
    parts[name] = {};
  }
}

const publicNames = (m) => Object.keys(m).filter((k) => k !== 'default' && k !== 'initSync' && !k.startsWith('__fp')).sort();

const BEIJING = '91110000600037341L';
const cents = (s) => Math.round(Number(s) * 100);

test('parts: each subpath exports its functions and nothing of the other parts', () => {
  assert.deepEqual(importErrors, []);
  for (const [name, fns] of Object.entries(PARTS)) {
    const m = parts[name];
    assert.deepEqual(publicNames(m), [...fns].sort(), `fapiao/${name}`);
    for (const fn of fns) assert.equal(typeof m[fn], 'function', `fapiao/${name}: ${fn}`);
    for (const other of ALL.filter((f) => !fns.includes(f))) assert.equal(m[other], undefined, `fapiao/${name} leaks ${other}`);
    assert.equal(typeof m.default, 'function', `fapiao/${name}: default (init)`);
  }
  // In particular, the lists above are not all the same.
  assert.equal(parts.taxid.computeInvoice, undefined);
  assert.equal(parts.invoice.splitInvoice, undefined);
  assert.equal(parts.invoice.searchTaxCodes, undefined);
  assert.equal(parts.taxcodes.validateTaxId, undefined);
  assert.equal(parts.qr.computeInvoice, undefined);
});

test('parts: the root still exports every function of js-api.md and of every part but fapiao/batch', () => {
  for (const fn of [...JS_API, ...ALL.filter((f) => !BATCH_ONLY.includes(f))]) assert.equal(typeof root[fn], 'function', `fapiao: ${fn}`);
  // 批量开票 is a part of its own, loaded only by the pages that need it.
  for (const fn of BATCH_ONLY) assert.equal(root[fn], undefined, `fapiao: ${fn}`);
});

test('fapiao/batch: a GBK CSV read and checked, a fix applied, the template and result files written', () => {
  const b = parts.batch;
  const text = '订单号,购买方名称,购买方税号,项目名称,税收分类编码,金额,税率\r\nA1,北京某某科技有限公司,911100OO600037341L,午餐,3070401000000000000,106,6%\r\n';
  const read = b.readSheet(new TextEncoder().encode(text), 'orders.csv');
  assert.equal(read.valid, true, JSON.stringify(read.errors));
  assert.equal(read.sheet.source, 'utf-8');
  const report = b.checkSheet(read.sheet);
  assert.equal(report.valid, false);
  assert.deepEqual(report.findings.map((f) => [f.row, f.column, f.code]), [[2, 'buyerTaxId', 'TAXID_CHARSET']]);
  const fix = report.findings[0].fixes[0];
  assert.equal(fix.value, BEIJING);
  read.sheet.rows[0].cells[2] = fix.value;
  const fixed = b.checkSheet(read.sheet);
  assert.equal(fixed.valid, true, JSON.stringify(fixed.findings));
  assert.equal(fixed.totals.amountInclTax, '106.00');
  // The form is what buildIssueRequest takes.
  assert.equal(b.buildIssueRequest(fixed.invoices[0].form).valid, true);
  // GBK: the header 订单号,金额 and a row, as the bytes Chinese Excel writes.
  const g = b.readSheet(new Uint8Array([0xb6, 0xa9, 0xb5, 0xa5, 0xba, 0xc5, 0x2c, 0xbd, 0xf0, 0xb6, 0xee, 0x0d, 0x0a, 0x41, 0x31, 0x2c, 0x31, 0x30]), 'x.csv');
  assert.deepEqual([g.sheet.source, g.sheet.headers], ['gbk', ['订单号', '金额']]);
  const both = b.checkFile(new TextEncoder().encode(text), 'orders.csv');
  assert.deepEqual(JSON.parse(JSON.stringify(both.report)), JSON.parse(JSON.stringify(report)));
  assert.deepEqual(both.sheet.rows[0].cells[2], '911100OO600037341L');
  const bad = b.readSheet(new Uint8Array([0xd0, 0xcf, 0x11, 0xe0]), 'old.xls');
  assert.deepEqual(bad.errors.map((e) => [e.code, e.field]), [['BATCH_XLS_UNSUPPORTED', 'file']]);
  assert.ok(bad.errors[0].message && bad.errors[0].messageEn);
  assert.deepEqual(b.checkFile(new Uint8Array(0), 'x.csv').errors.map((e) => e.code), ['BATCH_EMPTY']);
  for (const format of ['xlsx', 'csv']) {
    const t = b.readSheet(b.batchTemplate(format), `t.${format}`);
    assert.equal(b.checkSheet(t.sheet).valid, true, format);
    const again = b.readSheet(b.writeSheet(t.sheet, format), `t.${format}`);
    assert.deepEqual(again.sheet.rows.map((r) => r.cells), t.sheet.rows.map((r) => r.cells));
    const out = b.writeResults([{ orderId: 'A1', status: 'issued', invoiceNumber: '26442000000123456789' }], format);
    const back = b.readSheet(out, `r.${format}`);
    assert.deepEqual(back.sheet.rows[0].cells.slice(0, 4), ['A1', '已开具', 'issued', '26442000000123456789']);
  }
  assert.throws(() => b.batchTemplate('pdf'), /xlsx/);
  assert.deepEqual(b.batchColumns().slice(0, 2).map((c) => c.key), ['orderId', 'invoiceType']);
});

test('parts: every part reports the version of the root', () => {
  for (const [name, m] of Object.entries(parts)) assert.equal(m.version(), root.version(), name);
  assert.match(root.version(), /^\d+\.\d+\.\d+/);
});

test('parts: taxpayer IDs and the buyer form in every light part', () => {
  for (const name of LIGHT) {
    const m = parts[name];
    const ok = m.validateTaxId(BEIJING);
    assert.equal(ok.valid, true, name);
    assert.equal(ok.kind, 'uscc');
    // The Node entries load the region names at import.
    assert.equal(m.regionNamesLoaded(), true, name);
    assert.equal(ok.details.regionName, '北京市', name);
    assert.equal(m.regionName('110101'), root.regionName('110101'));
    assert.match(m.regionName('110101'), /东城/);
    const bad = m.validateTaxId('91110000600037341N');
    assert.equal(bad.valid, false);
    assert.deepEqual(bad.errors.map((e) => e.code), ['TAXID_CHECKSUM']);
    assert.equal(m.validateTaxId('9111OOOO600037341L').suggestions[0], BEIJING);
    const batch = m.validateTaxIds([BEIJING, '91110000600037341N', null]);
    assert.deepEqual(batch.valid, [true, false, false]);
    const buyer = m.validateBuyer({ type: 'person', name: '张三' }, { invoiceType: 'special' });
    assert.deepEqual(buyer.errors.map((e) => e.code), ['BUYER_PERSON_SPECIAL']);
    assert.equal(m.validateBuyer({ type: 'company', name: '北京某某科技有限公司', taxId: BEIJING }).valid, true);
  }
});

test('parts: loadRegionNames(text) in a light part counts the names and keeps them', async () => {
  const text = readFileSync(createRequire(import.meta.url).resolve('fapiao/wasm/region-names.txt'), 'utf8');
  // One name a line.
  const lines = text.split('\n').filter(Boolean).length;
  for (const name of LIGHT) {
    const n = await parts[name].loadRegionNames(text);
    assert.equal(typeof n, 'number');
    assert.equal(n, lines, name);
    assert.ok(n > 3000, `${name}: ${n} names`);
    assert.equal(parts[name].validateTaxId(BEIJING).details.regionName, '北京市');
  }
});

test('parts: amounts and the issuing request in the invoice parts', () => {
  for (const name of INVOICE_PARTS) {
    const m = parts[name];
    const r = m.computeInvoice({ priceIncludesTax: true, lines: [{ name: '*餐饮服务*工作餐', amount: '106.00', taxRate: '0.06' }] });
    assert.equal(r.valid, true, JSON.stringify(r.errors));
    assert.deepEqual([r.lines[0].amountExclTax, r.lines[0].taxAmount, r.totals.amountInclTax], ['100.00', '6.00', '106.00']);
    assert.equal(r.totals.amountInclTaxInWords, '壹佰零陆元整');
    assert.deepEqual(json(r), json(root.computeInvoice({ priceIncludesTax: true, lines: [{ name: '*餐饮服务*工作餐', amount: '106.00', taxRate: '0.06' }] })));
    assert.equal(m.amountInWords('10020.05'), '壹万零贰拾元零伍分');
    const req = m.buildIssueRequest({
      orderId: 'ORDER-0001', invoiceType: 'special',
      buyer: { type: 'company', name: '北京某某科技有限公司', taxId: BEIJING },
      priceIncludesTax: true,
      lines: [{ name: '工作餐', taxCode: '3070401000000000000', amount: '106.00', taxRate: '0.06' }],
    });
    assert.equal(req.valid, true, JSON.stringify(req.errors));
    assert.equal(req.request.lines[0].name, '*餐饮服务*工作餐');
    assert.equal(req.request.lines[0].taxAmount, '6.00');
  }
});

test(`parts: discounts, splitting and red letters in fapiao/${ADVANCED_PART}`, () => {
  const m = parts[ADVANCED_PART];
  const order = {
    priceIncludesTax: true,
    lines: [
      { name: '*餐饮服务*工作餐', taxCode: '3070401000000000000', quantity: '10', unitPrice: '106.00', taxRate: '0.06' },
      { name: '*餐饮服务*晚餐', taxCode: '3070401000000000000', amount: '53.00', taxRate: '0.06' },
    ],
  };
  const d = m.applyOrderDiscount(order, '10.60');
  assert.equal(d.valid, true, JSON.stringify(d.errors));
  assert.equal(d.input.lines.filter((l) => l.kind === 'discount').length, 2);
  assert.equal(d.result.totals.amountInclTax, '1102.40');
  const s = m.splitInvoice(order, { maxAmount: '500', amountIncludesTax: true });
  assert.equal(s.valid, true, JSON.stringify(s.errors));
  assert.ok(s.parts.length >= 3, `${s.parts.length} parts`);
  for (const p of s.parts) assert.ok(cents(p.result.totals.amountInclTax) <= 50000);
  assert.equal(s.parts.reduce((sum, p) => sum + cents(p.result.totals.amountInclTax), 0), cents('1113.00'));
  const red = m.computeRedInvoice({ blue: order, reason: '02', lines: [{ blueLineNo: 1, quantity: '2' }] });
  assert.equal(red.valid, true, JSON.stringify(red.errors));
  assert.equal(red.full, false);
  assert.equal(red.totals.amountInclTax, '-212.00');
  const req = m.buildRedRequest({
    orderId: 'RED-1', blueOrderId: 'ORDER-1', blueInvoiceNumber: '24112000000000000001', reason: '02',
    lines: [{ blueLineNo: 1, quantity: '2' }], blue: order,
  });
  assert.equal(req.valid, true, JSON.stringify(req.errors));
  assert.equal(req.request.schemaVersion, 1);
  assert.equal(req.request.totals.taxAmount, '-12.00');
  assert.deepEqual(json(req), json(root.buildRedRequest({
    orderId: 'RED-1', blueOrderId: 'ORDER-1', blueInvoiceNumber: '24112000000000000001', reason: '02',
    lines: [{ blueLineNo: 1, quantity: '2' }], blue: order,
  })));
});

test(`parts: 特定业务 requests in fapiao/${ADVANCED_PART} and the root, not in fapiao/invoice`, () => {
  const form = {
    orderId: 'ORDER-0002', invoiceType: 'special',
    buyer: { type: 'company', name: '北京某某科技有限公司', taxId: BEIJING },
    priceIncludesTax: true,
    lines: [{ name: '运费', taxCode: '3010102020100000000', amount: '109.00', taxRate: '0.09' }],
    specialBusiness: {
      type: '04',
      transports: [{ vehicleType: '2', vehicleNumber: '京A12345', origin: '北京市', destination: '天津市', goodsName: '办公用品' }],
    },
  };
  const advanced = parts[ADVANCED_PART].buildIssueRequest(form);
  assert.equal(advanced.valid, true, JSON.stringify(advanced.errors));
  assert.deepEqual(advanced.request.specialBusiness, form.specialBusiness);
  assert.deepEqual(json(advanced), json(root.buildIssueRequest(form)));
  const plain = parts.invoice.buildIssueRequest(form);
  assert.equal(plain.valid, false);
  assert.deepEqual(plain.errors.map((e) => e.code), ['SPECIAL_BUSINESS_UNSUPPORTED']);
  // Without the block, the two give the same request.
  const { specialBusiness, ...ordinary } = form;
  assert.deepEqual(json(parts.invoice.buildIssueRequest(ordinary)), json(parts[ADVANCED_PART].buildIssueRequest(ordinary)));
});

test('parts: the tax-code table, search and item names in taxcodes', () => {
  const m = parts.taxcodes;
  try {
    const info = m.taxCodeTableInfo();
    assert.equal(info.embedded, true);
    assert.ok(info.count > 4000 && info.leaves > 3000, JSON.stringify(info));
    assert.equal(m.lookupTaxCode('3070401000000000000').name, '餐饮服务');
    assert.equal(m.lookupTaxCode('9999999999999999999'), null);
    m.prepareTaxCodeSearch();
    for (const q of ['cyfw', 'canyin', '餐饮服务']) {
      assert.ok(m.searchTaxCodes(q, { limit: 5 }).some((h) => h.code === '3070401000000000000'), q);
    }
    assert.equal(m.formatItemName('3070401000000000000', '午餐'), '*餐饮服务*午餐');
    const item = m.checkItemName('3070401000000000000', '午餐');
    assert.deepEqual([item.valid, item.itemName, item.name], [true, '*餐饮服务*午餐', '午餐']);
    // The descriptions file the package ships loads into this part.
    const text = readFileSync(createRequire(import.meta.url).resolve('fapiao/tax-codes-descriptions.txt'), 'utf8');
    const loaded = m.loadTaxCodeDescriptions(text);
    assert.deepEqual(loaded.errors, []);
    assert.ok(loaded.count > 100, `${loaded.count} descriptions`);
    assert.equal(m.taxCodeTableInfo().descriptions, loaded.count);
    const table = m.loadTaxCodes('合并编码,货物和劳务名称,商品和服务分类简称\n1000000000000000000,货物,货物\n1010000000000000000,农产品,农产品\n');
    assert.deepEqual(table.errors, []);
    assert.equal(m.taxCodeTableInfo().embedded, false);
    assert.equal(m.lookupTaxCode('3070401000000000000'), null);
    m.resetTaxCodes();
    assert.equal(m.taxCodeTableInfo().embedded, true);
    assert.equal(m.lookupTaxCode('3070401000000000000').name, '餐饮服务');
    // Its own module: the root's table was not touched.
    assert.equal(root.lookupTaxCode('3070401000000000000').name, '餐饮服务');
  } finally {
    m.resetTaxCodes();
  }
});

test('parts: scanned codes in qr', () => {
  const m = parts.qr;
  // shared/spec/peers.md §5.3: the CRC-16/UMTS of the GBK bytes is 6792.
  const text = '测试公司</>91110000600037341L</>北京市海淀区|010-12345678</>中国工商银行|6222000000000000</>';
  const qr = (t) => `$01${Buffer.from(t).toString('base64')}$`;
  const r = m.parseTitleQr(qr(`${text}6792`));
  assert.deepEqual({ valid: r.valid, warnings: r.warnings }, { valid: true, warnings: [] });
  assert.deepEqual(r.buyer, {
    name: '测试公司', taxId: BEIJING, address: '北京市海淀区', phone: '010-12345678',
    bankName: '中国工商银行', bankAccount: '6222000000000000',
  });
  assert.deepEqual(m.parseTitleQr(qr(`${text}0000`)).warnings.map((w) => w.code), ['TITLE_QR_CRC']);
  assert.equal(m.parseTitleQr('not a code').valid, false);
  assert.equal(m.parseReceipt('not a receipt').valid, false);
  const svg = m.qrSvg('https://shop.example/r?t=FP1.x');
  assert.match(svg, /^<svg [^>]*viewBox="0 0 (\d+) \1"/);
  assert.equal(svg, root.qrSvg('https://shop.example/r?t=FP1.x'));
  assert.equal(m.qrSvg('x'.repeat(5000)), undefined);
});

// ---------------------------------------------------------------------------
// The quick path equals the general path.

/** The generated module under a part (its validateTaxId is the general path only). */
const generated = {};
for (const name of ['fapiao', ...LIGHT]) generated[name] = await import(`fapiao/wasm/${name}.js`).catch(() => ({}));
const withIds = { fapiao: root, ...Object.fromEntries(LIGHT.map((p) => [p, parts[p]])) };

/** Whether the module's quick check (src/wasm/fast.rs) takes `id` as a clean USCC. */
async function quickChecker(part) {
  // init() again gives the instance the entry initialised (wasm-bindgen keeps it).
  const exports = await withIds[part].default();
  const gen = generated[part];
  return (id) => {
    if (id.length !== 18 || /[^\x00-\x7f]/.test(id)) return false;
    new Uint8Array(exports.memory.buffer, gen.__fpScratch(), 18).set(Buffer.from(id, 'latin1'));
    return gen.__fpTaxId(18) !== 0;
  };
}

test('quick path: validateTaxId equals the general path for every kind of input, in every part', async () => {
  const inputs = mixedInputs();
  const isQuick = await quickChecker('taxid');
  const quick = inputs.filter(isQuick);
  // Enough of the inputs go the quick way for the comparison to mean something.
  assert.ok(quick.length >= 400, `${quick.length} of ${inputs.length} inputs are clean USCCs`);
  for (const [name, m] of Object.entries(withIds)) {
    const gen = generated[name];
    // Twice: the first call of a code may fill the name caches, the second uses them.
    for (const round of [1, 2]) {
      for (const x of inputs) {
        assert.deepStrictEqual(m.validateTaxId(x), json(gen.validateTaxId(x)), `${name}, round ${round}: ${JSON.stringify(x)}`);
      }
    }
  }
});

test('quick path: the same code twice gives the same result (general, then cached)', () => {
  const codes = [BEIJING, '911101036000373415', 'N11100006000373417', 'Y1110103123456788G', 'A1440300MA5D12340C',
    uscc('9', '1', '110104', '12345678'), uscc('1', '2', '652201', 'MA5D1234')];
  for (const [name, m] of Object.entries(withIds)) {
    for (const code of codes) {
      const first = m.validateTaxId(code);
      const second = m.validateTaxId(code);
      assert.deepStrictEqual(second, first, `${name}: ${code}`);
      assert.equal(first.valid, true, `${name}: ${code}`);
      assert.notEqual(second, first, 'a fresh object each call (callers may change it)');
      assert.notEqual(second.details, first.details);
    }
  }
  // The retired region keeps its year on the quick path too.
  const retired = parts.taxid.validateTaxId('911101036000373415');
  assert.deepEqual([retired.details.regionRetired, retired.details.regionRetiredYear], [true, 2010]);
});

test('quick path: a light part gives what the root gives (the Node entries loaded the names)', () => {
  const inputs = mixedInputs(23);
  for (const name of LIGHT) {
    for (const x of inputs) assert.deepStrictEqual(parts[name].validateTaxId(x), root.validateTaxId(x), `${name}: ${JSON.stringify(x)}`);
  }
});

test('quick path: the caller may change a result without changing the next one', () => {
  const m = parts.taxid;
  m.validateTaxId(BEIJING);
  const r = m.validateTaxId(BEIJING);
  r.details.regionName = 'changed';
  r.errors.push({ code: 'X' });
  r.suggestions.push('x');
  assert.deepStrictEqual(m.validateTaxId(BEIJING), json(generated.taxid.validateTaxId(BEIJING)));
});

test('quick path, without region names: a light part before loadRegionNames() (web entry in a child process)', () => {
  const out = execFileSync(process.execPath, [here('./fresh-light-part.mjs')], { cwd: here('.'), encoding: 'utf8' });
  const report = JSON.parse(out.trim().split('\n').pop());
  assert.deepEqual(report.mismatches, []);
  assert.equal(report.loadedBefore, false);
  assert.equal(report.regionNameBefore, false, 'details.regionName is absent before the names are loaded');
  assert.ok(report.compared > 1000, `${report.compared} inputs compared`);
  assert.ok(report.names > 3000, `${report.names} names`);
  assert.equal(report.regionNameAfter, '北京市');
});

// ---------------------------------------------------------------------------
// validateTaxIds

/** What validateTaxIds must give, built from single validateTaxId calls. */
function expectedBatch(m, list) {
  const valid = [];
  const problems = [];
  for (let i = 0; i < list.length; i++) {
    const r = m.validateTaxId(list[i] ?? '');
    valid.push(r.valid);
    if (r.errors.length > 0 || r.warnings.length > 0) problems.push({ index: i, result: json(r) });
  }
  return { count: list.length, validCount: valid.filter(Boolean).length, valid, problems };
}

test('validateTaxIds: the same verdicts and problems as one validateTaxId call per entry', () => {
  const list = [...mixedInputs(5), null, undefined, '', BEIJING, null];
  for (const [name, m] of Object.entries(withIds)) {
    const got = m.validateTaxIds(list);
    const want = expectedBatch(m, list);
    assert.equal(got.count, list.length, name);
    assert.equal(got.validCount, want.validCount, name);
    assert.deepStrictEqual(got.valid, want.valid, name);
    for (let i = 0; i < list.length; i++) assert.equal(got.valid[i], m.validateTaxId(list[i] ?? '').valid, `${name}: ${list[i]}`);
    assert.deepStrictEqual(json(got.problems), want.problems, name);
    // Both sorts of result occur, or the comparison proves little.
    assert.ok(want.validCount > 500 && want.problems.length > 500, `${want.validCount} valid, ${want.problems.length} problems`);
  }
});

test('validateTaxIds: null and undefined are empty IDs; other non-strings throw TypeError', () => {
  const m = parts.taxid;
  const r = m.validateTaxIds([null, undefined]);
  assert.equal(r.count, 2);
  assert.equal(r.validCount, 0);
  assert.deepEqual(r.problems.map((p) => [p.index, p.result.errors[0].code]), [[0, 'TAXID_EMPTY'], [1, 'TAXID_EMPTY']]);
  assert.deepStrictEqual(json(r.problems[0].result), json(m.validateTaxId('')));
  assert.deepEqual(m.validateTaxIds([]), { count: 0, validCount: 0, valid: [], problems: [] });
  for (const name of Object.keys(withIds)) {
    assert.throws(() => withIds[name].validateTaxIds([BEIJING, 91110000600037341]), TypeError, name);
    assert.throws(() => withIds[name].validateTaxIds([{ toString: () => BEIJING }]), TypeError, name);
    assert.throws(() => withIds[name].validateTaxIds(BEIJING), TypeError, name);
  }
  // Also when the bad entry lies beyond the first fill of the scratch buffer.
  assert.throws(() => m.validateTaxIds([...Array(6000).fill(BEIJING), 42]), TypeError);
});

test('validateTaxIds: more IDs than one fill of the 64 KiB scratch buffer, cut at every kind of boundary', () => {
  const m = parts.taxid;
  const len = m.__fpScratchLen();
  assert.equal(len, 65536);
  const made = generatedCodes(3000, 99);
  const mixed = mixedInputs(31);
  // Entries of every length around the 32-character limit of the quick reader, and
  // runs of valid codes that end exactly at the buffer's end (19 bytes each).
  const list = [];
  for (let k = 0; list.length < 14000; k++) {
    list.push(made[k % made.length], mixed[k % mixed.length]);
    if (k % 97 === 0) list.push('9'.repeat(31), 'A'.repeat(32), '1'.repeat(33), null);
  }
  // 19 bytes a code (length byte and 18 characters), then a filler that takes the
  // rest of the buffer exactly (its length byte and at most 18 characters).
  const k = Math.floor(len / 19);
  const rest = len - 19 * k;
  const exact = [...Array(k).fill(BEIJING), ...(rest > 0 ? ['9'.repeat(rest - 1)] : []), BEIJING, 'x'];
  for (const [label, l] of [['mixed', list], ['exact fill', exact], ['exact fill + 1', ['', ...exact]]]) {
    const got = m.validateTaxIds(l);
    const want = expectedBatch(m, l);
    assert.equal(got.count, l.length, label);
    assert.equal(got.validCount, want.validCount, label);
    assert.deepStrictEqual(got.valid, want.valid, label);
    assert.deepStrictEqual(json(got.problems), want.problems, label);
  }
  assert.ok(list.length > 5000);
});

// ---------------------------------------------------------------------------
// CommonJS and server-side rendering

const requireModule = process.features.require_module === true;

test('require(): every entry loads from CommonJS (no top-level await in the Node entries)', { skip: requireModule ? false : `require() of ES modules needs Node ≥ 20.19 (this is ${process.version})` }, () => {
  const r = spawnSync(process.execPath, [here('./require-parts.cjs'), JSON.stringify(LIGHT)], { cwd: here('.'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.deepEqual(Object.keys(report).sort(), ['fapiao', ...Object.keys(PARTS)].sort());
  assert.deepEqual(report.fapiao, { valid: true, regionName: '北京市', amountInclTax: '106.00' });
  for (const name of LIGHT) assert.deepEqual(report[name], { valid: true, regionName: '北京市' }, name);
  assert.equal(report.taxcodes, '餐饮服务');
  assert.equal(report.qr, BEIJING);
  assert.equal(report.camera, 'none');
});

test('require(): the same through createRequire in this process', { skip: requireModule ? false : `require() of ES modules needs Node ≥ 20.19 (this is ${process.version})` }, () => {
  const require = createRequire(import.meta.url);
  for (const name of ['fapiao', ...Object.keys(PARTS).map((p) => `fapiao/${p}`)]) {
    const m = require(name);
    // The very module instance `import` gave: one wasm instance per part.
    assert.equal(m.version, (name === 'fapiao' ? root : parts[name.slice(7)]).version, name);
  }
});

test('SSR: importing every Node entry and web entry touches no window, document, self or location', () => {
  const r = spawnSync(process.execPath, [here('./ssr-import.mjs'), JSON.stringify(Object.keys(PARTS))], { cwd: here('.'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(report.imported.length, 2 + 2 * Object.keys(PARTS).length, report.imported.join());
  assert.deepEqual(report.touched, []);
  assert.deepEqual(report.results, { fapiao: true, ...Object.fromEntries(LIGHT.map((p) => [p, true])), taxcodes: '餐饮服务', qr: false, camera: 'none' });
});

test('real codes of tests/data/uscc-real.txt pass in every part that checks IDs', () => {
  const codes = realCodes();
  assert.ok(codes.length > 300);
  for (const [name, m] of Object.entries(withIds)) {
    const r = m.validateTaxIds(codes);
    assert.deepEqual(r.problems.filter((p) => !p.result.valid).map((p) => codes[p.index]), [], name);
    assert.equal(r.validCount, codes.length, name);
  }
});

// ---------------------------------------------------------------------------
// computeInvoice: the parts that compute amounts may pack the lines instead of
// sending JSON; whatever path a part takes, it gives what the general path gives.

test('quick path: computeInvoice equals the general path, in every part that computes amounts', async () => {
  const { invoiceInputs } = await import('./invoice-inputs.mjs');
  const inputs = invoiceInputs(1500);
  const outcome = (f, x) => {
    try {
      return json(f(x));
    } catch (e) {
      return `throws ${e.constructor.name}`;
    }
  };
  for (const name of ['fapiao', ...INVOICE_PARTS]) {
    const m = name === 'fapiao' ? root : parts[name];
    const gen = name === 'fapiao' ? generated.fapiao : await import(`fapiao/wasm/${name}.js`);
    let valid = 0;
    for (const x of inputs) {
      const quick = outcome(m.computeInvoice, x);
      assert.deepStrictEqual(quick, outcome(gen.computeInvoice, x), `${name}: ${JSON.stringify(x)}`);
      // What the part returns is plain data: no undefined members that JSON would drop.
      if (typeof quick !== 'string') assert.deepStrictEqual(m.computeInvoice(x), quick, `${name}: ${JSON.stringify(x)}`);
      if (quick.valid) valid++;
    }
    // Both sorts of outcome occur, or the comparison proves little.
    assert.ok(valid > 200 && valid < inputs.length - 200, `${name}: ${valid} of ${inputs.length} valid`);
  }
});

test('computeInvoice quick path: a separator in the last field of the last line is not cut off (deduction "10.00\\u001e…")', async () => {
  const { SEPARATOR_CASES } = await import('./invoice-inputs.mjs');
  for (const name of ['fapiao', ...INVOICE_PARTS]) {
    const m = name === 'fapiao' ? root : parts[name];
    const gen = name === 'fapiao' ? generated.fapiao : await import(`fapiao/wasm/${name}.js`);
    for (const x of SEPARATOR_CASES) {
      assert.deepStrictEqual(json(m.computeInvoice(x)), json(gen.computeInvoice(x)), `${name}: ${JSON.stringify(x)}`);
    }
  }
});
