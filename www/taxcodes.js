// The tax classification code picker: searchTaxCodes as the cashier types,
// lookupTaxCode and checkItemName for the chosen code. Every rule and every
// message comes from the fapiao package; this file only shows its results.
import init, {
  searchTaxCodes, lookupTaxCode, checkItemName, prepareTaxCodeSearch, taxCodeTableInfo,
} from '/pkg/taxcodes.js';
import { $, el } from '/dom.js';

const q = $('q');
const hits = $('hits');
const status = $('q-status');
const item = $('item');
let chosen = null;
let active = -1;

/** Times of the searches (ms, search and render), for the page test's figures. */
window.searchTimes = [];

const percent = (r) => `${Math.round(Number(r) * 1000) / 10}%`;

await init();
const info = taxCodeTableInfo();
$('table-info').textContent = `编码表 ${info.version ?? '（已加载）'}：${info.count} 条，其中 ${info.leaves} 条可用于开票。`;
// The index is built on the first search; build it while the page is idle so
// that the first keystroke does not wait for it.
const idle = window.requestIdleCallback ?? ((f) => setTimeout(f, 50));
idle(() => {
  const t0 = performance.now();
  prepareTaxCodeSearch();
  window.indexMs = performance.now() - t0;
  q.disabled = false;
  status.textContent = '请输入要查找的商品或服务。';
  q.focus();
  document.documentElement.dataset.ready = 'true';
});

function search() {
  const t0 = performance.now();
  const text = q.value;
  const found = text.trim() ? searchTaxCodes(text, { limit: 30 }) : [];
  active = -1;
  // The options are replaced: none of the old ones is active any more.
  q.removeAttribute('aria-activedescendant');
  hits.hidden = false;
  hits.replaceChildren(...found.map((h, i) => {
    const li = el('li', { role: 'option', id: `hit-${i}` },
      el('span', {}, el('span', { className: 'short', textContent: `*${h.shortName}* ` }), el('span', { className: 'name', textContent: h.name })),
      el('span', { className: `badge ${h.leaf ? 'leaf' : 'summary'}`, textContent: h.leaf ? '可开票' : '汇总项' }),
      el('span', { className: 'code', textContent: h.code }));
    li.setAttribute('aria-selected', 'false');
    li.onclick = () => choose(h.code);
    return li;
  }));
  q.setAttribute('aria-expanded', String(found.length > 0));
  status.className = 'status';
  status.textContent = !text.trim() ? '请输入要查找的商品或服务。'
    : found.length ? `找到 ${found.length}${found.length === 30 ? '+' : ''} 条，可开票的编码在前。` : '没有找到，换个说法或输入拼音首字母试试。';
  window.searchTimes.push(performance.now() - t0);
}

function highlight(i) {
  const items = [...hits.children];
  if (!items.length) return;
  active = (i + items.length) % items.length;
  items.forEach((li, k) => li.setAttribute('aria-selected', String(k === active)));
  items[active].scrollIntoView({ block: 'nearest' });
  q.setAttribute('aria-activedescendant', items[active].id);
}

function choose(code) {
  const c = lookupTaxCode(code);
  if (!c) return;
  q.removeAttribute('aria-activedescendant');
  chosen = c;
  const d = $('chosen-details');
  d.replaceChildren(
    el('dt', { textContent: '编码' }), el('dd', { className: 'mono', textContent: c.code }),
    el('dt', { textContent: '名称' }), el('dd', { textContent: c.name }),
    el('dt', { textContent: '简称' }), el('dd', { textContent: c.shortName }),
    el('dt', { textContent: '可否开票' }), el('dd', { textContent: c.leaf ? '可以（末级编码）' : '不可以：汇总项，请选择其下级编码', className: c.leaf ? '' : 'warn' }),
    el('dt', { textContent: '常见税率' }), el('dd', { textContent: c.rates.length ? `${c.rates.map(percent).join('、')}（一般纳税人参考，以实际业务为准）` : '不征税' }),
  );
  if (c.parent) {
    const p = lookupTaxCode(c.parent);
    d.append(el('dt', { textContent: '上级' }), el('dd', { textContent: p ? `${p.shortName} · ${p.name}` : c.parent }));
  }
  $('chosen').hidden = false;
  showItem();
  item.focus();
}

function showItem() {
  const s = $('item-status');
  if (!chosen) return;
  const r = checkItemName(chosen.code, item.value);
  const lines = [];
  // A 汇总项 cannot be printed: only its error, no `*简称*名称` above it.
  if (r.itemName && item.value.trim() && !r.errors.length && chosen.leaf) lines.push(el('div', { className: 'item-name', textContent: r.itemName }));
  for (const i of [...r.errors, ...r.warnings]) {
    lines.push(el('div', { className: r.errors.includes(i) ? 'error' : 'warn', textContent: `${r.errors.includes(i) ? '✗' : '⚠'} ${i.message}` }));
  }
  s.className = 'status';
  s.replaceChildren(...lines);
}

/** Closes the list (Escape); typing or ArrowDown opens it again. */
function close() {
  hits.hidden = true;
  active = -1;
  q.setAttribute('aria-expanded', 'false');
  q.removeAttribute('aria-activedescendant');
}

q.addEventListener('input', search);
q.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !hits.hidden && hits.children.length) { e.preventDefault(); close(); return; }
  if (e.key === 'ArrowDown' && hits.hidden && hits.children.length) {
    e.preventDefault();
    hits.hidden = false;
    q.setAttribute('aria-expanded', 'true');
    highlight(0);
    return;
  }
  if (e.key === 'ArrowDown') { e.preventDefault(); highlight(active + 1); }
  if (e.key === 'ArrowUp') { e.preventDefault(); highlight(active - 1); }
  if (e.key === 'Enter' && active >= 0) { e.preventDefault(); hits.children[active].click(); }
});
item.addEventListener('input', showItem);
