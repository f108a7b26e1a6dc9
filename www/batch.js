// 批量开票: a sheet checked cell by cell in the browser by fapiao/batch (the same
// Rust rules the proxy runs again), fixed in place, then submitted to the proxy's
// batch API with an operator key; progress from its event stream, results
// exported as .xlsx/.csv. A reload or a new tab resumes the last batch.
import init, { checkFile, checkSheet, writeResults, writeSheet, batchTemplate, batchColumns } from '/pkg/batch.js';
import { $, el } from '/dom.js';

const KEY_STORE = 'fapiao.operatorKey'; // sessionStorage: this tab only
const BATCH_STORE = 'fapiao.batch'; // localStorage: { id, name, total }
const ROW_H = 36;
const OVERSCAN = 8;
const MAX_RESULTS_SHOWN = 1000;

/** Column widths in em by template key (others 9em). */
const WIDTH = {
  orderId: 12, invoiceType: 7, buyerType: 6, buyerName: 14, buyerTaxId: 13, buyerAddress: 14, buyerPhone: 9,
  buyerBankName: 12, buyerBankAccount: 12, email: 12, mobile: 9, itemName: 12, taxCode: 13, spec: 7, unit: 5,
  quantity: 6, unitPrice: 7, amount: 8, taxRate: 5, priceIncludesTax: 5, lineKind: 5, remark: 12, confirmed: 10,
};
const NUMERIC = new Set(['quantity', 'unitPrice', 'amount', 'taxRate']);

const S = {
  sheet: null, // { headers, headerRow, rows: [{ row, cells }] }
  report: null,
  fileName: '',
  keyOf: [], // header index → template key (or null)
  indexOf: new Map(), // template key → header index
  rowAt: new Map(), // sheet row number → index in sheet.rows
  byRow: new Map(), // sheet row number → findings
  cellFindings: new Map(), // `${row}:${col}` → findings
  view: [], // indices into sheet.rows being shown
  selected: null, // sheet row number
  editing: null, // { row, col }
  batch: null, // { id, name, total }
  orders: null, // the last GET /v1/batches/{id} orders
  stream: null, // AbortController of the event stream
  submitted: null, // the batch id this sheet, as it is, was submitted as
};
let columns = [];

const say = (msg, cls = '') => {
  $('load-status').className = `note ${cls}`;
  $('load-status').textContent = msg;
};
const optionsForCheck = () => ({
  maxAmount: $('max-amount').value.trim() || null,
  priceIncludesTax: $('incl-default').checked,
});
const cell = (r, key) => {
  const i = S.indexOf.get(key);
  return i === undefined ? '' : (r.cells[i] ?? '').trim();
};
const yuan = (s) => `¥${s.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
/** Exact sum of two-decimal strings, in cents. */
const cents = (s) => {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(s ?? '');
  if (!m) return 0n;
  const v = BigInt(m[2]) * 100n + BigInt((m[3] ?? '').padEnd(2, '0') || '0');
  return m[1] ? -v : v;
};
const money = (c) => {
  const neg = c < 0n;
  const a = neg ? -c : c;
  return `${neg ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
};

function download(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const CSV = 'text/csv;charset=utf-8';

// --- loading and checking -------------------------------------------------------

async function loadFile(file) {
  const t0 = performance.now();
  say(`正在读取 ${file.name}…`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const r = checkFile(bytes, file.name, optionsForCheck());
  if (!r.valid) {
    say(`✗ ${r.errors.map((e) => e.message).join(' ')}`, 'error');
    return;
  }
  const t1 = performance.now();
  S.fileName = file.name;
  setSheet(r.sheet, r.report);
  const t2 = performance.now();
  await new Promise(requestAnimationFrame);
  const t3 = performance.now();
  const source = { xlsx: 'Excel 工作簿', 'utf-8': 'UTF-8 文本', gbk: 'GBK 文本', 'utf-16le': 'UTF-16 文本', 'utf-16be': 'UTF-16 文本' }[r.sheet.source] ?? r.sheet.source;
  say(`已读取 ${file.name}（${source}），${r.sheet.rows.length} 行，校验用时 ${Math.round(t3 - t0)} 毫秒。`, 'ok');
  window.__batchTimings = { readAndCheck: t1 - t0, render: t2 - t1, firstFrame: t3 - t0, rows: r.sheet.rows.length };
  document.documentElement.dataset.checked = String(Date.now());
}

function setSheet(sheet, report) {
  S.sheet = sheet;
  S.rowAt = new Map(sheet.rows.map((r, i) => [r.row, i]));
  S.selected = null;
  S.editing = null;
  S.report = report ?? checkSheet(sheet, optionsForCheck());
  S.keyOf = sheet.headers.map(() => null);
  S.indexOf = new Map();
  for (const c of S.report.columns) {
    S.keyOf[c.index] = c.key;
    S.indexOf.set(c.key, c.index);
  }
  $('check-panel').hidden = false;
  $('drop').classList.add('compact');
  S.submitted = null;
  $('file-name').textContent = S.fileName;
  $('inspector').hidden = true;
  buildHead();
  indexFindings();
  renderAll();
}

/** Findings by row and by cell. */
function indexFindings() {
  S.byRow = new Map();
  S.cellFindings = new Map();
  for (const f of S.report.findings) {
    if (f.row === S.sheet.headerRow) continue;
    let list = S.byRow.get(f.row);
    if (!list) S.byRow.set(f.row, (list = []));
    list.push(f);
    const c = S.indexOf.get(f.column);
    if (c !== undefined) {
      const k = `${f.row}:${c}`;
      const l = S.cellFindings.get(k);
      if (l) l.push(f);
      else S.cellFindings.set(k, [f]);
    }
  }
}

/** Re-checks the orders of the given rows (an edit changes nothing else) and merges. */
function recheck(rowNumbers, oldOrderIds) {
  const ids = new Set(oldOrderIds.filter(Boolean));
  const wanted = new Set(rowNumbers);
  for (const n of rowNumbers) {
    const id = cell(S.sheet.rows[S.rowAt.get(n)], 'orderId');
    if (id) ids.add(id);
  }
  const rows = S.sheet.rows.filter((r) => wanted.has(r.row) || ids.has(cell(r, 'orderId')));
  const sub = checkSheet({ ...S.sheet, rows }, optionsForCheck());
  const affected = new Set(rows.map((r) => r.row));
  const hr = S.sheet.headerRow;
  const rep = S.report;
  rep.findings = rep.findings
    .filter((f) => !affected.has(f.row))
    .concat(sub.findings.filter((f) => f.row !== hr && affected.has(f.row)))
    .sort((a, b) => a.row - b.row || (S.indexOf.get(a.column) ?? 1e9) - (S.indexOf.get(b.column) ?? 1e9));
  rep.invoices = rep.invoices
    .filter((i) => !ids.has(i.sourceOrderId))
    .concat(sub.invoices)
    .sort((a, b) => a.rows[0] - b.rows[0] || a.part - b.part);
  recount();
  indexFindings();
  renderAll();
}

/** The batch's counts and sums from its invoices and findings. */
function recount() {
  const rep = S.report;
  const errors = rep.findings.filter((f) => f.severity === 'error');
  let excl = 0n, tax = 0n, incl = 0n;
  for (const i of rep.invoices) {
    if (!i.valid || !i.totals) continue;
    excl += cents(i.totals.amountExclTax);
    tax += cents(i.totals.taxAmount);
    incl += cents(i.totals.amountInclTax);
  }
  rep.totals = {
    ...rep.totals,
    rows: S.sheet.rows.length,
    orders: new Set(rep.invoices.map((i) => i.sourceOrderId)).size,
    invoices: rep.invoices.length,
    validInvoices: rep.invoices.filter((i) => i.valid).length,
    errors: errors.length,
    warnings: rep.findings.length - errors.length,
    rowsWithErrors: new Set(errors.filter((f) => f.row !== S.sheet.headerRow).map((f) => f.row)).size,
    amountExclTax: money(excl), taxAmount: money(tax), amountInclTax: money(incl),
  };
  rep.valid = errors.length === 0 && rep.invoices.length > 0;
}

// --- rendering --------------------------------------------------------------------

function buildHead() {
  const cols = [el('col', { style: 'width:4.5em' }), el('col', { className: 'probs-col', style: 'width:22em' })];
  const head = [el('th', { scope: 'col', textContent: '行' }), el('th', { scope: 'col', textContent: '问题' })];
  S.sheet.headers.forEach((h, i) => {
    const key = S.keyOf[i];
    cols.push(el('col', { style: `width:${WIDTH[key] ?? 9}em` }));
    const th = el('th', { scope: 'col', textContent: h || '（空）', title: key ? h : `${h}：不是模板中的列，已忽略` });
    if (!key) th.className = 'unused';
    head.push(th);
  });
  $('cols').replaceChildren(...cols);
  $('head').replaceChildren(...head);
  $('sheet').setAttribute('aria-colcount', String(S.sheet.headers.length + 2));
}

function renderAll() {
  const rep = S.report;
  const t = rep.totals;
  $('s-rows').textContent = t.rows;
  $('s-invoices').textContent = t.invoices;
  $('s-valid').textContent = t.validInvoices;
  $('s-errors').textContent = t.errors;
  $('s-errors').className = t.errors ? 'bad' : 'ok';
  $('s-excl').textContent = yuan(t.amountExclTax);
  $('s-tax').textContent = yuan(t.taxAmount);
  $('s-incl').textContent = yuan(t.amountInclTax);
  $('summary-note').textContent = t.errors
    ? `${t.rowsWithErrors} 行有错误，请逐一更正（金额只计可提交的发票）。${t.warnings ? `另有 ${t.warnings} 条提示。` : ''}`
    : `全部 ${t.invoices} 张发票校验通过${t.warnings ? `，另有 ${t.warnings} 条提示` : ''}。`;
  const head = rep.findings.filter((f) => f.row === S.sheet.headerRow);
  const ignored = rep.ignoredHeaders.length ? [`已忽略不认识的列：${rep.ignoredHeaders.join('、')}`] : [];
  $('header-problems').hidden = !head.length && !ignored.length;
  $('header-problems').replaceChildren(
    el('strong', { textContent: '表头' }),
    el('ul', {}, ...head.map((f) => el('li', { textContent: f.message })), ...ignored.map((m) => el('li', { textContent: m }))),
  );
  computeView();
  renderRows(true);
  if (S.selected !== null) inspect(S.selected);
  renderInvoices();
  updateSubmit();
}

function computeView() {
  const only = $('only-errors').checked;
  const rows = S.sheet.rows;
  S.view = [];
  for (let i = 0; i < rows.length; i++) if (!only || S.byRow.has(rows[i].row)) S.view.push(i);
  $('sheet').setAttribute('aria-rowcount', String(S.view.length + 1));
}

let lastRange = '';
function renderRows(force = false) {
  const grid = $('grid');
  const headH = ROW_H;
  const top = Math.max(0, grid.scrollTop - headH);
  // The grid grows with its rows up to its max-height (640 px at most): draw at
  // least that much, also before the rows are there to give it its height.
  const height = Math.max(grid.clientHeight, 660);
  const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  const last = Math.min(S.view.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
  const range = `${first}:${last}`;
  if (!force && range === lastRange) return;
  lastRange = range;
  const ncols = S.sheet.headers.length + 2;
  const t = performance.now();
  const spacer = (h) => `<tr class="spacer" aria-hidden="true"><td colspan="${ncols}" style="height:${h}px"></td></tr>`;
  let html = spacer(first * ROW_H);
  if (!S.view.length) {
    const msg = S.sheet.rows.length ? '✓ 没有需要更正的行' : '表格没有数据行';
    html += `<tr><td colspan="${ncols}" class="empty">${msg}</td></tr>`;
  }
  for (let v = first; v < last; v++) html += rowHtml(S.view[v], v);
  html += spacer((S.view.length - last) * ROW_H);
  $('body').innerHTML = html;
  const td = S.editing && $('body').querySelector('td[data-edit]');
  if (td) {
    const r = S.sheet.rows[S.rowAt.get(S.editing.row)];
    td.prepend(editor(S.editing.row, S.editing.col, r.cells[S.editing.col]));
    td.querySelector('input').focus();
  }
  window.__batchRenderMs = performance.now() - t;
}

const esc = (v) => String(v).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** One row as HTML (a screen of rows is one innerHTML: far fewer DOM calls than building nodes). */
function rowHtml(index, v) {
  const r = S.sheet.rows[index];
  const fs = S.byRow.get(r.row);
  let h = `<tr aria-rowindex="${v + 2}" data-row="${r.row}"${S.selected === r.row ? ' class="selected"' : ''}>` +
    `<th scope="row"><button type="button" class="rowbtn" aria-label="第 ${r.row} 行：查看和修改">${r.row}</button></th>`;
  if (fs) {
    const fix = fs.find((f) => f.fixes.length);
    h += `<td class="probs" title="${esc(fs.map((f) => `${f.header}：${f.message}`).join('\n'))}">`;
    if (fix) h += fixHtml(r.row, fix.fixes[0]);
    for (const f of fs.slice(0, 2)) {
      const err = f.severity === 'error';
      h += `<span class="${err ? 'p' : 'p w'}">${err ? '✗' : '!'} ${esc(f.header)}：${esc(f.message)}</span>`;
    }
    h += '</td>';
  } else {
    h += '<td class="probs"><span class="okmark" title="无问题">✓</span><span class="sr-only">无问题</span></td>';
  }
  const cells = r.cells;
  for (let c = 0; c < cells.length; c++) {
    const key = S.keyOf[c];
    const bad = S.cellFindings.get(`${r.row}:${c}`);
    const editing = S.editing && S.editing.row === r.row && S.editing.col === c;
    let cls = key && NUMERIC.has(key) ? 'num' : '';
    let tail = '';
    let title = '';
    if (bad) {
      const err = bad.some((f) => f.severity === 'error');
      cls += err ? ' bad' : ' warnc';
      const msgs = bad.map((f) => f.message);
      title = ` title="${esc(msgs.join('\n'))}"`;
      tail = `<span class="sr-only">（${err ? '错误' : '提示'}：${esc(msgs.join(' '))}）</span>`;
    }
    h += `<td data-c="${c}"${cls ? ` class="${cls.trim()}"` : ''}${title}${editing ? ' data-edit=""' : ''}>${editing ? '' : esc(cells[c])}${tail}</td>`;
  }
  return `${h}</tr>`;
}

function fixHtml(row, fix) {
  return `<button type="button" class="fix" title="${esc(fix.labelEn)}" data-fix-row="${row}" data-fix-column="${esc(fix.column)}" data-fix-value="${esc(fix.value)}">${esc(fix.label)}</button>`;
}

function fixButton(row, fix) {
  const b = el('button', { type: 'button', className: 'fix', textContent: fix.label, title: fix.labelEn });
  b.dataset.fixRow = row;
  b.dataset.fixColumn = fix.column;
  b.dataset.fixValue = fix.value;
  return b;
}

function editor(row, c, value) {
  // Re-rendered while scrolling: what was typed so far is kept.
  const input = el('input', { className: 'cell-edit', value: S.editing.value ?? value, ariaLabel: `第 ${row} 行 ${S.sheet.headers[c]}` });
  input.addEventListener('input', () => { if (S.editing) S.editing.value = input.value; });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); commitEdit(input.value); }
    if (e.key === 'Escape') { S.editing = null; renderRows(true); }
  });
  input.addEventListener('blur', () => {
    if (S.editing && S.editing.row === row && S.editing.col === c && input.isConnected) commitEdit(input.value);
  });
  return input;
}

function commitEdit(value) {
  const { row, col } = S.editing;
  S.editing = null;
  setCell(row, col, value);
}

/** Sets a cell (adding the template column when the sheet lacks it) and re-checks its orders. */
function setCell(row, col, value) {
  const r = S.sheet.rows[S.rowAt.get(row)];
  if (typeof col === 'string') {
    let i = S.indexOf.get(col);
    if (i === undefined) {
      // The sheet lacks the column (e.g. 发票类型): add it, as the template names it.
      const spec = columns.find((c) => c.key === col);
      S.sheet.headers.push(spec?.header ?? col);
      for (const x of S.sheet.rows) x.cells.push('');
      setSheet(S.sheet);
      i = S.indexOf.get(col);
    }
    col = i;
  }
  if (r.cells[col] === value) {
    renderRows(true);
    return;
  }
  const oldId = cell(r, 'orderId');
  r.cells[col] = value;
  S.submitted = null;
  recheck([row], [oldId]);
}

function inspect(rowNumber) {
  const index = S.rowAt.get(rowNumber);
  if (index === undefined) return;
  S.selected = rowNumber;
  const r = S.sheet.rows[index];
  const fs = S.byRow.get(rowNumber) ?? [];
  $('inspector').hidden = false;
  $('insp-title').textContent = `第 ${rowNumber} 行${cell(r, 'orderId') ? ` · 订单 ${cell(r, 'orderId')}` : ''}${fs.length ? ` · ${fs.length} 个问题` : ' · 无问题'}`;
  $('insp-problems').replaceChildren(...fs.map((f) => el('div', { className: `finding ${f.severity === 'error' ? 'error' : 'warn'}` },
    el('span', { textContent: `${f.severity === 'error' ? '✗' : '!'} ${f.header}：${f.message}` }),
    el('span', { className: 'en', lang: 'en', textContent: `${f.code} · ${f.messageEn}` }),
    ...f.fixes.map((x) => fixButton(rowNumber, x)),
    // A rule with real exceptions (e.g. an old tax ID whose check digit is wrong on the
    // licence): the operator may confirm it for this invoice, in its 确认项 column.
    ...(f.overridable && f.severity === 'error' ? [fixButton(rowNumber, {
      label: '核对无误，仍按原值开具', labelEn: 'Checked: issue as it is', column: 'confirmed',
      value: [...new Set([...cell(r, 'confirmed').split(/[,，;；、\s]+/).filter(Boolean), f.code])].join(','),
    })] : []))));
  const fields = S.sheet.headers.map((h, c) => {
    const id = `insp-${c}`;
    const bad = S.cellFindings.get(`${rowNumber}:${c}`);
    const input = el('input', { id, value: r.cells[c] ?? '', autocomplete: 'off', spellcheck: false });
    input.dataset.c = c;
    if (bad) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', `${id}-msg`);
    }
    return el('div', {}, el('label', { htmlFor: id, textContent: h || `第 ${c + 1} 列` }), input,
      ...(bad ? [el('div', { id: `${id}-msg`, className: 'msg', textContent: bad.map((f) => f.message).join(' ') })] : []));
  });
  $('insp-form').replaceChildren(...fields);
}

function renderInvoices() {
  const inv = S.report.invoices;
  $('inv-count').textContent = `${inv.length} 张`;
  if (!$('by-invoice').open) return;
  const shown = inv.slice(0, 2000);
  $('inv-body').replaceChildren(...shown.map((i) => el('tr', {},
    el('td', { className: 'mono', textContent: i.orderId }),
    el('td', { textContent: i.rows.length > 3 ? `${i.rows[0]}–${i.rows[i.rows.length - 1]}` : i.rows.join('、') }),
    el('td', { className: 'num', textContent: i.totals ? yuan(i.totals.amountExclTax) : '—' }),
    el('td', { className: 'num', textContent: i.totals ? yuan(i.totals.taxAmount) : '—' }),
    el('td', { className: 'num', textContent: i.totals ? yuan(i.totals.amountInclTax) : '—' }),
    el('td', { className: i.valid ? 'ok' : 'error', textContent: i.valid ? (i.parts > 1 ? `✓ 拆分 ${i.part}/${i.parts}` : '✓') : `✗ ${i.errors} 个错误` }))));
}

// --- submitting ---------------------------------------------------------------------

const key = () => $('op-key').value.trim();

function updateSubmit() {
  const b = $('submit');
  const hint = $('submit-hint');
  const rep = S.report;
  if (S.batch && !S.batch.done) {
    b.disabled = true;
    hint.textContent = '批次处理中…';
  } else if (S.submitted) {
    b.disabled = true;
    hint.textContent = `这份表格已提交为批次 ${S.submitted}；修改表格或导入新表格后可再次提交（已开具的订单号不会重复开票）。`;
  } else if (!rep) {
    b.disabled = true;
    hint.textContent = '请先导入表格';
  } else if (!rep.valid) {
    b.disabled = true;
    hint.textContent = rep.invoices.length ? `还有 ${rep.totals.errors} 个错误，更正后才能提交` : '表格里没有发票';
  } else if (!key()) {
    b.disabled = true;
    hint.textContent = '请填写操作员密钥';
  } else {
    b.disabled = false;
    hint.textContent = `将提交 ${rep.invoices.length} 张发票，价税合计 ${yuan(rep.totals.amountInclTax)}`;
  }
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...(init.headers ?? {}), authorization: `Bearer ${key()}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  let body = null;
  try { body = await res.json(); } catch { /* no body */ }
  return { status: res.status, ok: res.ok, body };
}

function keyProblem(r) {
  if (r.status === 401 || r.status === 403) {
    $('op-key-msg').className = 'msg error';
    $('op-key-msg').textContent = r.status === 401 ? '✗ 请填写操作员密钥。' : '✗ 操作员密钥不正确（订单令牌和管理令牌不能用于批量开票）。';
    $('op-key').setAttribute('aria-invalid', 'true');
    return true;
  }
  $('op-key-msg').textContent = '';
  $('op-key').removeAttribute('aria-invalid');
  return false;
}

async function submit() {
  const rep = S.report;
  if (!rep?.valid || !key()) return;
  $('submit').disabled = true;
  $('submit-errors').hidden = true;
  const clientBatchId = (crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}`).replace(/[^A-Za-z0-9-]/g, '');
  const name = $('batch-name').value.trim() || S.fileName;
  const body = { clientBatchId, name, orders: rep.invoices.map((i) => i.form) };
  $('submit-hint').textContent = `正在提交 ${body.orders.length} 张发票…`;
  let r;
  for (let attempt = 0; ; attempt++) {
    try {
      r = await api('/v1/batches', { method: 'POST', body: JSON.stringify(body) });
      break;
    } catch (e) {
      // The same clientBatchId again gives the same batch: resending is safe.
      if (attempt >= 2) {
        $('submit-hint').textContent = `✗ 无法连接开票服务：${e.message}`;
        updateSubmit();
        return;
      }
      await new Promise((res) => setTimeout(res, 1000 * (attempt + 1)));
    }
  }
  if (keyProblem(r)) { updateSubmit(); return; }
  if (r.status === 422 && r.body?.errors) {
    const list = r.body.errors.map((e) => {
      const m = /^orders\[(\d+)\]/.exec(e.field ?? '');
      const inv = m ? rep.invoices[Number(m[1])] : null;
      return el('li', { textContent: `${inv ? `订单 ${inv.orderId}（第 ${inv.rows.join('、')} 行）` : e.field}：${e.message}` });
    });
    $('submit-errors').hidden = false;
    $('submit-errors').replaceChildren(el('strong', { textContent: '开票服务拒绝了这个批次：' }), el('ul', {}, ...list));
    updateSubmit();
    return;
  }
  if (!r.ok) {
    $('submit-hint').textContent = `✗ 提交失败（${r.status}）：${r.body?.message ?? r.body?.errors?.[0]?.message ?? ''}`;
    updateSubmit();
    return;
  }
  S.batch = { id: r.body.id, name, total: r.body.total, done: false };
  S.submitted = r.body.id;
  localStorage.setItem(BATCH_STORE, JSON.stringify(S.batch));
  const dup = r.body.duplicates?.length ?? 0;
  $('submit-hint').textContent = `已受理批次 ${r.body.id}，共 ${r.body.total} 张${dup ? `（${dup} 个订单号之前已提交过，不会重复开票）` : ''}。`;
  follow();
}

function showProgress(p) {
  const total = p.total || S.batch?.total || 0;
  const finished = (p.issued ?? 0) + (p.failed ?? 0) + (p.cancelled ?? 0);
  const pct = total ? Math.floor((finished * 100) / total) : 0;
  $('progress-box').hidden = false;
  $('batch-title').textContent = `批次 ${S.batch.id}${S.batch.name ? ` · ${S.batch.name}` : ''}`;
  $('progress').value = pct;
  $('progress').setAttribute('aria-valuetext', `${pct}%`);
  $('progress-text').textContent = `${pct}% · 已开具 ${p.issued ?? 0}，失败 ${p.failed ?? 0}，撤销 ${p.cancelled ?? 0}，处理中 ${(p.pending ?? 0) + (p.submitted ?? 0)}（共 ${total}）`;
  $('cancel').hidden = !!p.done || !(p.pending > 0);
}

/** Follows the batch: its event stream (fetch, so that the key can be sent), else polling. */
async function follow() {
  S.stream?.abort();
  const ctl = new AbortController();
  S.stream = ctl;
  updateSubmit();
  $('forget').hidden = true;
  let done = false;
  try {
    const res = await fetch(`/v1/batches/${encodeURIComponent(S.batch.id)}/events`, {
      headers: { authorization: `Bearer ${key()}`, accept: 'text/event-stream' }, signal: ctl.signal,
    });
    if (keyProblem(res)) return;
    if (!res.ok || !res.body) throw new Error(`events ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buf += value;
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (!data) continue;
        const p = JSON.parse(data);
        showProgress(p);
        if (p.done) done = true;
      }
      if (done) break;
    }
    ctl.abort();
  } catch (e) {
    if (S.stream !== ctl) return; // replaced by a newer follow()
  }
  if (S.stream !== ctl) return;
  // The stream ended (or failed) before the end: poll.
  while (!done && S.stream === ctl) {
    const r = await api(`/v1/batches/${encodeURIComponent(S.batch.id)}`).catch(() => null);
    if (r && keyProblem(r)) return;
    if (r?.ok) {
      showProgress({ ...r.body.counts, total: r.body.total, done: r.body.done });
      done = r.body.done;
    }
    if (!done) await new Promise((res) => setTimeout(res, 1000));
  }
  if (S.stream === ctl) await showResults();
}

async function showResults() {
  const r = await api(`/v1/batches/${encodeURIComponent(S.batch.id)}`);
  if (keyProblem(r) || !r.ok) return;
  const b = r.body;
  S.orders = b.orders;
  S.batch.done = b.done;
  showProgress({ ...b.counts, total: b.total, done: b.done });
  const shown = b.orders.slice(0, MAX_RESULTS_SHOWN);
  const label = { issued: '已开具', failed: '失败', cancelled: '已撤销', pending: '待提交', submitted: '开具中' };
  $('results').tBodies[0].replaceChildren(...shown.map((o) => el('tr', {},
    el('td', { className: 'mono', textContent: o.orderId }),
    el('td', { className: `status-${o.status}`, textContent: `${label[o.status] ?? o.status}${o.error ? `：${o.error.message}` : ''}` }),
    el('td', { className: 'mono', textContent: o.invoiceNumber ?? '' }),
    el('td', { className: 'files' }, ...Object.entries(o.files ?? {}).filter(([, u]) => u).map(([k, u]) => el('a', { href: u, textContent: k.toUpperCase(), target: '_blank', rel: 'noopener' }))))));
  $('results-note').textContent = b.orders.length > shown.length ? `（显示前 ${shown.length} 条，共 ${b.orders.length} 条；完整结果请导出）` : `（共 ${b.orders.length} 条）`;
  $('results-box').hidden = false;
  $('res-xlsx').hidden = $('res-csv').hidden = false;
  $('forget').hidden = !b.done;
  updateSubmit();
}

function exportResults(format) {
  const abs = (u) => (u ? new URL(u, location.href).href : u);
  const rows = S.orders.map((o) => ({ ...o, files: o.files ? { pdf: abs(o.files.pdf), ofd: abs(o.files.ofd), xml: abs(o.files.xml) } : null }));
  download(writeResults(rows, format), `开票结果-${S.batch.id}.${format}`, format === 'xlsx' ? XLSX : CSV);
}

async function cancelRest() {
  const r = await api(`/v1/batches/${encodeURIComponent(S.batch.id)}/cancel`, { method: 'POST', body: '{}' });
  if (keyProblem(r)) return;
  if (r.ok) $('submit-hint').textContent = `已撤销 ${r.body.cancelled.length} 张尚未提交的发票${r.body.notCancelled.length ? `；${r.body.notCancelled.length} 张已提交，无法撤销` : ''}。`;
}

/** The last batch of this browser, or the operator's recent batches. */
async function resume() {
  const saved = JSON.parse(localStorage.getItem(BATCH_STORE) ?? 'null');
  if (!key()) {
    if (saved) $('submit-hint').textContent = `上次的批次 ${saved.id} 仍可查看：填写操作员密钥后继续显示进度和结果。`;
    return;
  }
  if (saved && (!S.batch || S.batch.id !== saved.id)) {
    S.batch = { ...saved, done: false };
    $('progress-box').hidden = false;
    follow();
  }
  const r = await api('/v1/batches').catch(() => null);
  if (!r?.ok || !r.body.batches?.length) return;
  $('recent').hidden = false;
  $('recent-list').replaceChildren(...r.body.batches.slice(0, 10).map((b) => {
    const btn = el('button', { type: 'button', className: 'secondary', textContent: `${b.id} · ${b.name ?? ''} · ${b.total} 张 · ${b.done ? '已完成' : '处理中'} · ${b.createdAt}` });
    btn.addEventListener('click', () => {
      S.batch = { id: b.id, name: b.name, total: b.total, done: false };
      localStorage.setItem(BATCH_STORE, JSON.stringify(S.batch));
      follow();
    });
    return el('li', {}, btn);
  }));
}

// --- events -------------------------------------------------------------------------

function wire() {
  $('file').addEventListener('change', (e) => {
    const f = e.target.files?.[0];
    if (f) loadFile(f);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files?.[0];
    if (f) loadFile(f);
  });
  $('tpl-xlsx').addEventListener('click', () => download(batchTemplate('xlsx'), '批量开票模板.xlsx', XLSX));
  $('tpl-csv').addEventListener('click', () => download(batchTemplate('csv'), '批量开票模板.csv', CSV));
  const base = () => S.fileName.replace(/\.[^.]*$/, '') || 'sheet';
  $('save-xlsx').addEventListener('click', () => download(writeSheet(S.sheet, 'xlsx'), `${base()}-已更正.xlsx`, XLSX));
  $('save-csv').addEventListener('click', () => download(writeSheet(S.sheet, 'csv'), `${base()}-已更正.csv`, CSV));
  for (const id of ['max-amount', 'incl-default']) {
    $(id).addEventListener('change', () => { if (S.sheet) setSheet(S.sheet); });
  }
  $('only-errors').addEventListener('change', () => {
    $('grid').scrollTop = 0;
    computeView();
    renderRows(true);
  });
  $('next-error').addEventListener('click', () => {
    const after = S.selected ?? -1;
    const rows = [...S.byRow.keys()].filter((r) => S.byRow.get(r).some((f) => f.severity === 'error')).sort((a, b) => a - b);
    const next = rows.find((r) => r > after) ?? rows[0];
    if (next === undefined) return;
    const v = S.view.indexOf(S.rowAt.get(next));
    if (v >= 0) $('grid').scrollTop = v * ROW_H;
    S.selected = next;
    renderRows(true);
    inspect(next);
  });
  let ticking = false;
  $('grid').addEventListener('scroll', () => {
    if (ticking) return;
    ticking = true;
    requestAnimationFrame(() => { ticking = false; renderRows(); });
  });
  $('body').addEventListener('click', (e) => {
    const fix = e.target.closest('button.fix');
    if (fix) {
      setCell(Number(fix.dataset.fixRow), fix.dataset.fixColumn, fix.dataset.fixValue);
      return;
    }
    const rowbtn = e.target.closest('button.rowbtn');
    const tr = e.target.closest('tr[data-row]');
    if (!tr) return;
    const row = Number(tr.dataset.row);
    if (rowbtn) {
      S.selected = row;
      renderRows(true);
      inspect(row);
      $('inspector').scrollIntoView({ block: 'nearest' });
      return;
    }
    const td = e.target.closest('td[data-c]');
    if (!td || e.target.closest('input')) return;
    if (S.editing) commitEdit(S.editing.value ?? S.sheet.rows[S.rowAt.get(S.editing.row)].cells[S.editing.col]);
    S.editing = { row, col: Number(td.dataset.c) };
    S.selected = row;
    renderRows(true);
    inspect(row);
    const input = $('body').querySelector('input.cell-edit');
    input?.focus();
    input?.select();
  });
  $('inspector').addEventListener('click', (e) => {
    const fix = e.target.closest('button.fix');
    if (fix) setCell(Number(fix.dataset.fixRow), fix.dataset.fixColumn, fix.dataset.fixValue);
  });
  $('insp-form').addEventListener('change', (e) => {
    const c = e.target.dataset?.c;
    if (c !== undefined && S.selected !== null) setCell(S.selected, Number(c), e.target.value);
  });
  $('insp-form').addEventListener('submit', (e) => e.preventDefault());
  $('by-invoice').addEventListener('toggle', renderInvoices);
  $('op-key').value = sessionStorage.getItem(KEY_STORE) ?? '';
  $('op-key').addEventListener('input', () => {
    sessionStorage.setItem(KEY_STORE, key());
    updateSubmit();
  });
  $('op-key').addEventListener('change', () => resume());
  $('submit').addEventListener('click', submit);
  $('cancel').addEventListener('click', cancelRest);
  $('res-xlsx').addEventListener('click', () => exportResults('xlsx'));
  $('res-csv').addEventListener('click', () => exportResults('csv'));
  $('forget').addEventListener('click', () => {
    localStorage.removeItem(BATCH_STORE);
    S.stream?.abort();
    S.batch = null;
    S.orders = null;
    $('progress-box').hidden = true;
    updateSubmit();
  });
}

/**
 * The sandbox demo (the proxy's main job without operator keys) hands out the key
 * of its operator `demo`; with real keys configured it answers 204 and the
 * operator types their own.
 */
async function demoKey() {
  if (key()) return;
  const r = await fetch('/v1/demo/operator-key').catch(() => null);
  if (r?.status !== 200) return;
  const { key: demo } = await r.json();
  $('op-key').value = demo;
  sessionStorage.setItem(KEY_STORE, demo);
  $('op-key-msg').className = 'msg';
  $('op-key-msg').textContent = '沙箱演示：已填入演示操作员 demo 的密钥。';
}

try {
  await init();
  columns = batchColumns();
  wire();
  say('请选择或拖入表格文件。');
  await demoKey();
  updateSubmit();
  resume();
} catch (e) {
  say(`✗ 无法加载校验模块：${e.message}`, 'error');
}
$('main').setAttribute('aria-busy', 'false');
document.documentElement.dataset.ready = 'true';
