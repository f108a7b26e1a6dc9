// The npm package as a Node user gets it: installed from the `npm pack` tarball
// (scripts/test.sh does that), imported by name through its `exports` map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
// The subpaths (fapiao/taxid …), CommonJS, SSR and the quick paths of validateTaxId and computeInvoice.
import './parts.test.mjs';

const f = await import('fapiao');

test('exports are ready to call right after import, with no init step', () => {
  assert.equal(typeof f.validateTaxId, 'function');
  assert.equal(typeof f.validateBuyer, 'function');
  assert.equal(f.validateTaxId('91110000600037341L').valid, true);
});

test('validateTaxId result has the contract shape', () => {
  const r = f.validateTaxId(' 9111-0000-6000 3734 1l ');
  assert.deepEqual(Object.keys(r).sort(), ['details', 'errors', 'kind', 'normalized', 'suggestionEdits', 'suggestions', 'valid', 'warnings']);
  assert.equal(r.normalized, '91110000600037341L');
  assert.equal(r.kind, 'uscc');
  assert.deepEqual(r.errors, []);
  assert.equal(r.details.regionName, '北京市');
  assert.equal(r.details.regionCode, '110000');
  assert.equal(r.details.organizationCode, '600037341');
  assert.equal(typeof r.details.registrationAuthority, 'string');
  assert.equal(typeof r.details.entityType, 'string');
});

test('every required error code is produced', () => {
  const cases = {
    TAXID_EMPTY: '  ',
    TAXID_LENGTH: '12345',
    TAXID_CHARSET: '9111000060003IOZSV',
    TAXID_CHECKSUM: '91110000600037341N',
    TAXID_ORG_CHECKSUM: '911100006000373451',
    TAXID_AUTHORITY: '0111000060003734XX',
  };
  for (const [code, input] of Object.entries(cases)) {
    const r = f.validateTaxId(input);
    assert.equal(r.valid, false, input);
    const issue = r.errors.find((e) => e.code === code);
    assert.ok(issue, `${input}: expected ${code}, got ${r.errors.map((e) => e.code)}`);
    assert.deepEqual(Object.keys(issue).filter((k) => k !== 'overridable').sort(), ['code', 'field', 'message', 'messageEn']);
    assert.match(issue.message, /[\u4e00-\u9fff]/, 'Chinese message');
    assert.match(issue.messageEn, /^[\x20-\x7e“”–]+$/, 'English message');
  }
});

test('required warning codes', () => {
  // 990000 is no region; 99 is no entity type of authority 9.
  const r = f.validateTaxId('99990000600037341J');
  assert.equal(r.valid, true, JSON.stringify(r.errors));
  const codes = r.warnings.map((w) => w.code);
  assert.ok(codes.includes('TAXID_REGION_UNKNOWN'), codes.join());
  assert.ok(codes.includes('TAXID_ENTITY_TYPE_UNKNOWN'), codes.join());
  assert.equal(r.details.regionName, null);
});

test('real codes that fail the check character are overridable', () => {
  const r = f.validateTaxId('91350203M0001QKT19');
  assert.equal(r.valid, false);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].code, 'TAXID_CHECKSUM');
  assert.equal(r.errors[0].overridable, true);
  const b = f.validateBuyer({ type: 'company', name: '厦门某某贸易有限公司', taxId: '91350203M0001QKT19' },
    { invoiceType: 'special', confirmed: ['TAXID_CHECKSUM'] });
  assert.equal(b.valid, true);
});

test('regressions where peer libraries go wrong', () => {
  // Letter authority codes (python-stdnum and npm stdnum reject them).
  for (const id of ['N21100001234567885', 'Y1440300MA5D12340P', 'A1110000600037341K']) {
    assert.equal(f.validateTaxId(id).valid, true, id);
  }
  // Check character 0 (npm stdnum rejects it).
  assert.equal(f.validateTaxId('911100001000002860').valid, true);
});

test('a typo gets a one-tap suggestion', () => {
  const r = f.validateTaxId('9111OOOO600037341L');
  assert.equal(r.valid, false);
  assert.equal(r.suggestions[0], '91110000600037341L');
  assert.deepEqual(r.suggestionEdits[0], {
    suggestion: '91110000600037341L', kind: 'uscc', edit: 'lookalike',
    positions: [5, 6, 7, 8], inputPositions: [5, 6, 7, 8],
  });
});

test('validateBuyer', () => {
  const r = f.validateBuyer({ type: 'person', name: '张三', taxId: '' }, { invoiceType: 'special' });
  assert.deepEqual(r.errors.map((e) => e.code), ['BUYER_PERSON_SPECIAL']);
  const ok = f.validateBuyer({
    type: 'company', name: '北京某某科技有限公司(北京分公司)', taxId: '91110000600037341L',
    phone: '(010)12345678', email: 'caiwu@qq。com', mobile: '+86 138 0013 8000',
  }, { invoiceType: 'normal' });
  assert.equal(ok.valid, true, JSON.stringify(ok.errors));
  assert.equal(ok.normalized.name, '北京某某科技有限公司（北京分公司）');
  assert.equal(ok.normalized.phone, '010-12345678');
  assert.equal(ok.normalized.email, 'caiwu@qq.com');
  assert.equal(ok.normalized.mobile, '13800138000');
  assert.equal(ok.normalized.taxIdKind, 'uscc');
  const missing = f.validateBuyer({ type: 'company', name: '北京某某科技有限公司' });
  assert.deepEqual(missing.errors.map((e) => [e.code, e.field]), [['BUYER_TAXID_REQUIRED', 'buyer.taxId']]);
});

test('bad input never throws; wrong argument types do', () => {
  for (const s of ['', '\u0000', '😴', '⑱', 'x'.repeat(10000), '中文']) {
    assert.equal(typeof f.validateTaxId(s).valid, 'boolean');
  }
  assert.throws(() => f.validateTaxId(42));
  assert.throws(() => f.validateBuyer({ name: 42 }));
});

test('the version matches the crate', async () => {
  const { readFile } = await import('node:fs/promises');
  const cargo = await readFile(new URL('../../Cargo.toml', import.meta.url), 'utf8');
  const version = cargo.match(/^version = "([^"]+)"/m)[1];
  assert.equal(f.version(), version);
  const pkg = JSON.parse(await readFile(new URL('../../pkg/package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.version, version);
});

test('computeInvoice: exact 价税分离 with decimal strings in and out', () => {
  const r = f.computeInvoice({
    priceIncludesTax: true,
    lines: [
      { name: '*信息技术服务*接口服务费', quantity: '3', unitPrice: '33.33', taxRate: '0.06' },
      { name: '*信息技术服务*接口服务费', amount: '-9.99', taxRate: '0.06', kind: 'discount' },
      { name: '*现代服务*阅卷系统服务费', amount: '1265.77', taxRate: '0.01' },
    ],
  });
  assert.equal(r.valid, true, JSON.stringify(r.errors));
  for (const line of r.lines) {
    // 金额 + 税额 = 含税金额, exactly, as strings with two decimals.
    assert.match(line.amountExclTax, /^-?\d+\.\d{2}$/);
    const cents = (s) => Math.round(Number(s) * 100);
    assert.equal(cents(line.amountExclTax) + cents(line.taxAmount), cents(line.amountInclTax));
  }
  assert.equal(r.lines[2].taxAmount, '12.53');
  assert.equal(r.lines[2].amountExclTax, '1253.24');
  assert.equal(r.lines[0].taxAmount, '5.66');
  assert.equal(r.lines[1].taxAmount, '-0.57');
  assert.equal(r.totals.amountInclTax, '1355.77');
  assert.equal(r.totals.amountInclTaxInWords, '壹仟叁佰伍拾伍元柒角柒分');
});

test('computeInvoice: errors carry the line path; floats are refused, not guessed', () => {
  const r = f.computeInvoice({ priceIncludesTax: false, lines: [{ name: 'x', amount: 0.1, taxRate: '0.13' }] });
  assert.equal(r.valid, false);
  assert.ok(r.errors.every((e) => e.field.startsWith('lines[0]')), JSON.stringify(r.errors));
  assert.equal(f.amountInWords('10020.05'), '壹万零贰拾元零伍分');
  assert.equal(f.amountInWords('10020'), '壹万零贰拾元整');
  assert.equal(f.amountInWords('106', { style: 'invoice' }), '⊗壹佰零陆圆整');
});

test('tax classification codes: lookup, pinyin search, item names, run-time table', () => {
  const c = f.lookupTaxCode('3070401000000000000');
  assert.equal(c.name, '餐饮服务');
  assert.equal(typeof c.leaf, 'boolean');
  assert.ok(Array.isArray(c.rates));
  assert.equal(f.lookupTaxCode('9999999999999999999'), null);
  for (const q of ['cyfw', 'canyin', '餐饮服务', '3070401']) {
    const hits = f.searchTaxCodes(q, { limit: 5 });
    assert.ok(hits.some((h) => h.code === '3070401000000000000'), `${q}: ${hits.map((h) => h.name)}`);
    assert.ok(hits.length <= 5);
  }
  assert.match(f.formatItemName('3070401000000000000', '午餐'), /^\*餐饮服务\*午餐$/);
  assert.equal(f.formatItemName('9999999999999999999', '午餐'), '');
  const bad = f.loadTaxCodes('合并编码,货物和劳务名称,商品和服务分类简称\n123,坏,坏\n');
  assert.ok(bad.errors.length > 0);
  assert.equal(f.lookupTaxCode('3070401000000000000').name, '餐饮服务', 'a rejected table replaces nothing');
});

test('buildIssueRequest: the canonical request the proxy accepts', () => {
  const form = {
    orderId: 'ORDER-0001',
    invoiceType: 'special',
    buyer: { type: 'company', name: '北京某某科技有限公司', taxId: '91110000600037341L' },
    priceIncludesTax: true,
    lines: [{ name: '工作餐', taxCode: '3070401000000000000', amount: '106.00', taxRate: '0.06' }],
  };
  const ok = f.buildIssueRequest(form);
  assert.equal(ok.valid, true, JSON.stringify(ok.errors));
  assert.ok(ok.request.schemaVersion);
  assert.equal(ok.request.lines[0].taxAmount, '6.00');
  assert.equal(ok.request.lines[0].name, '*餐饮服务*工作餐');
  const bad = f.buildIssueRequest({ ...form, buyer: { ...form.buyer, taxId: '91110000600037341N' } });
  assert.equal(bad.valid, false);
  assert.ok(bad.errors.some((e) => e.code === 'TAXID_CHECKSUM' && e.field === 'buyer.taxId'), JSON.stringify(bad.errors));
});

test('every part of the package is within its size budget (scripts/size-budget.json)', async () => {
  const { readFileSync } = await import('node:fs');
  const { sizes } = await import('../../scripts/pkg-parts.mjs');
  const budget = JSON.parse(readFileSync(new URL('../../scripts/size-budget.json', import.meta.url), 'utf8'));
  const rows = sizes();
  assert.deepEqual(rows.map((r) => r.part).sort(), Object.keys(budget.parts).sort());
  for (const r of rows) {
    console.log(`${r.part}: ${r.raw} bytes, ${r.gzip} gzipped (budget ${budget.parts[r.part]})`);
    assert.ok(r.gzip <= budget.parts[r.part], `${r.part}: ${r.gzip} bytes gzipped > ${budget.parts[r.part]}`);
  }
  // The light parts really are lighter than the whole.
  const by = Object.fromEntries(rows.map((r) => [r.part, r.gzip]));
  assert.ok(by.taxid < by.invoice && by.invoice < by.advanced && by.advanced < by.fapiao, JSON.stringify(by));
});

test('parseReceipt: a receipt as the kiosk uses it, its lines straight into computeInvoice', () => {
  // The signature is not checked here: any text after the payload will do.
  const claims = {
    v: 1, merchant: '339902999999789113', purpose: 'issue', orderId: 'DEMO-0123456789ab',
    issuedAt: 1700000000, expiresAt: 4102444800, priceIncludesTax: true,
    lines: [
      { name: '拿铁咖啡', taxCode: '1030307060000000000', unit: '杯', quantity: '2', unitPrice: '32.00', taxRate: '0.13' },
      { name: '简餐', taxCode: '3070401000000000000', quantity: 1, unitPrice: '68.00', taxRate: '0.06' },
    ],
    totals: { amountInclTax: '132.00', amountExclTax: '120.79', taxAmount: '11.21' },
  };
  const token = `FP1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
  const r = f.parseReceipt(`https://shop.example/r?t=${token}`);
  assert.deepEqual({ valid: r.valid, errors: r.errors, warnings: r.warnings }, { valid: true, errors: [], warnings: [] });
  assert.deepEqual(r.receipt, {
    token, merchant: '339902999999789113', merchantName: null, orderId: 'DEMO-0123456789ab',
    issuedAt: '2023-11-15T06:13:20+08:00', expiresAt: '2100-01-01T08:00:00+08:00', priceIncludesTax: true,
    lines: [claims.lines[0], { ...claims.lines[1] }],
    totals: claims.totals,
  });
  const c = f.computeInvoice({ priceIncludesTax: r.receipt.priceIncludesTax, lines: r.receipt.lines });
  assert.equal(c.valid, true);
  assert.deepEqual(c.lines.map((l) => l.amountInclTax), ['64.00', '68.00']);
  assert.equal(c.totals.amountInclTax, '132.00');
  assert.equal(c.totals.amountInclTaxInWords, '壹佰叁拾贰元整');
  assert.equal(f.parseReceipt('not a receipt').valid, false);
});
