// The web-shop checkout: cart from a sandbox order token, totals by computeInvoice,
// the invoice form checked by buildIssueRequest as the user types, then the proxy.
import init, { computeInvoice, buildIssueRequest } from '/pkg/invoice.js';
import {
  BuyerForm, readTitleQr, submitInvoice, getInvoice, waitForInvoice, ProxyError, say, hasCamera, scanWithCamera,
  listenForScanner, looksScanned, money, percent, sellerOfToken, getSeller, offerInvoiceTypes, $, el,
} from '/invoice-form.js';

// What the merchant's back end sold (the sandbox signs it in demo mode).
const CART = [
  { name: '*服装*男式纯棉T恤', taxCode: '1040201100000000000', unit: '件', quantity: '2', unitPrice: '99.00', taxRate: '0.13' },
  { name: '*软件*办公软件（一年授权）', taxCode: '1060301010100000000', unit: '套', quantity: '1', unitPrice: '1200.00', taxRate: '0.13' },
  { name: '*印刷品*Rust 程序设计', taxCode: '1060201019900000000', unit: '本', quantity: '1', unitPrice: '89.00', taxRate: '0.09' },
  { name: '*餐饮服务*会员下午茶', taxCode: '3070401000000000000', quantity: '1', unitPrice: '58.00', taxRate: '0.06' },
];

const params = new URLSearchParams(location.search);
const form = $('invoice-form');
const submit = $('submit');
let order = null; // { orderId, orderToken }
let busy = false;

const buyerForm = new BuyerForm(form, { onChange: validate });

function issueForm() {
  const v = buyerForm.values();
  return {
    orderId: order?.orderId ?? '',
    invoiceType: v.invoiceType,
    buyer: v.buyer,
    confirmed: v.confirmed,
    priceIncludesTax: true,
    lines: CART,
    remark: $('demo-fail').checked ? '#sandbox:fail' : '',
    delivery: v.delivery,
  };
}

function validate({ all = false } = {}) {
  $('more').open ||= form.querySelector('[name="invoiceType"]:checked').value === 'special';
  const r = buildIssueRequest(issueForm());
  const loose = buyerForm.show(r, { all });
  $('form-errors').replaceChildren(...(all ? loose : []).map((i) => el('div', { className: 'error', textContent: `✗ ${say(i, 'zh')}` })));
  // Submitting is always possible: a submit with something missing says what.
  submit.disabled = busy || !order;
  if (!order) $('submit-hint').textContent = '';
  else if (r.valid) $('submit-hint').textContent = '信息完整，可以提交';
  else if (all) {
    const names = buyerForm.wrongFields(r).map((f) => buyerForm.label(f));
    const n = names.length + (loose.length ? 1 : 0);
    $('submit-hint').textContent = `还有 ${n} 项需要填写或更正：${[...names, ...(loose.length ? ['其他'] : [])].join('、')}`;
  } else if ($('submit-hint').textContent.startsWith('还有')) {
    const names = buyerForm.wrongFields(r).filter((f) => buyerForm.erring.has(f)).map((f) => buyerForm.label(f));
    $('submit-hint').textContent = names.length ? `还有 ${names.length} 项需要填写或更正：${names.join('、')}` : '';
  } else $('submit-hint').textContent = '';
  return r;
}

function renderCart() {
  const r = computeInvoice({ priceIncludesTax: true, lines: CART });
  const body = $('cart').tBodies[0];
  body.replaceChildren(...CART.map((l, i) => el('tr', {},
    el('td', { textContent: l.name }),
    el('td', { className: 'num', textContent: `${l.quantity}${l.unit ?? ''}` }),
    el('td', { className: 'num', textContent: money(l.unitPrice) }),
    el('td', { className: 'num', textContent: money(r.lines[i].amountInclTax) }),
  )));
  // Tax per rate: the package sums each rate's lines.
  const rates = [...new Set(CART.map((l) => l.taxRate))];
  $('by-rate').tBodies[0].replaceChildren(...rates.map((rate) => {
    const t = computeInvoice({ priceIncludesTax: true, lines: CART.filter((l) => l.taxRate === rate) }).totals;
    return el('tr', {}, el('td', { textContent: percent(rate) }), el('td', { className: 'num', textContent: money(t.amountExclTax) }), el('td', { className: 'num', textContent: money(t.taxAmount) }));
  }));
  $('t-excl').textContent = money(r.totals.amountExclTax);
  $('t-tax').textContent = money(r.totals.taxAmount);
  $('t-incl').textContent = money(r.totals.amountInclTax);
  $('t-words').textContent = r.totals.amountInclTaxInWords;
  for (const id of ['cart', 'by-rate', 'totals']) $(id).hidden = false;
}

/** The seller of the order token: its name over the cart, only the invoice types it offers. */
function showSeller(orderToken) {
  getSeller(sellerOfToken(orderToken)).then((seller) => {
    if (!seller) return;
    $('seller').textContent = `销售方：${seller.name}（${seller.taxId}）`;
    $('seller').hidden = false;
    offerInvoiceTypes(form, seller.invoiceTypes);
    validate();
  }).catch(() => { /* shown without the seller's name */ });
}

async function loadOrder() {
  $('cart-status').textContent = '正在加载订单…';
  try {
    const res = await fetch('/v1/demo/order-token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ priceIncludesTax: true, lines: CART }),
    });
    const body = await res.json();
    if (!res.ok) throw new ProxyError(res.status, body.errors ?? []);
    order = { orderId: body.orderId, orderToken: body.orderToken };
    remember(order);
    showSeller(order.orderToken);
    $('order-id').textContent = order.orderId;
    $('cart-status').textContent = '';
    $('cart-status').hidden = true;
  } catch (e) {
    order = null;
    $('cart-status').hidden = false;
    $('cart-status').className = 'note error';
    $('cart-status').textContent = e instanceof ProxyError && e.status === 404
      ? '演示订单不可用：请用沙箱模式启动代理（bash scripts/run.sh）。'
      : `无法加载订单：${e.issues?.map((i) => i.message).join('；') || e.message}。请刷新重试。`;
  }
  validate();
}

// --- the order in the address bar ----------------------------------------------------
// The order id stays in the URL (?order=…) and its token in this tab's session
// storage, so a reload shows that order: the form while nothing was sent, else
// its real status and files as the proxy has them.
const KEY = (id) => `fapiao-checkout:${id}`;

function remember(o) {
  try { sessionStorage.setItem(KEY(o.orderId), JSON.stringify(o)); } catch { /* storage off: the URL alone */ }
  const u = new URL(location.href);
  u.searchParams.set('order', o.orderId);
  history.replaceState(null, '', u);
}

function forget() {
  const u = new URL(location.href);
  u.searchParams.delete('order');
  history.replaceState(null, '', u);
}

/** Reopens the order named in the URL; false when there is none to reopen. */
async function resume() {
  const id = params.get('order');
  let saved = null;
  try { saved = id && JSON.parse(sessionStorage.getItem(KEY(id)) ?? 'null'); } catch { /* none */ }
  if (!saved?.orderToken) { forget(); return false; }
  order = saved;
  $('order-id').textContent = order.orderId;
  showSeller(order.orderToken);
  $('cart-status').hidden = true;
  let record = null;
  try {
    record = await getInvoice(order.orderId, order.orderToken);
  } catch (e) {
    $('cart-status').hidden = false;
    $('cart-status').className = 'note error';
    $('cart-status').textContent = `无法读取订单 ${order.orderId} 的状态：${e.issues?.map((i) => i.message).join('；') || e.message}。请刷新重试。`;
  }
  if (!record) { validate(); return true; }
  busy = true;
  form.hidden = true;
  $('result').hidden = false;
  follow({ ...record, accessToken: record.accessToken ?? order.orderToken }).catch(() => {
    showFailure([{ message: '网络连接中断' }], { retry: () => location.reload() });
  });
  return true;
}

// --- saved 抬头: on this device, with the shopper's consent -----------------------------
const SAVED = 'fapiao-saved-titles';
const TITLE_FIELDS = ['name', 'taxId', 'address', 'phone', 'bankName', 'bankAccount'];

function savedTitles() {
  try { return JSON.parse(localStorage.getItem(SAVED) ?? '[]').filter((t) => t && t.name); } catch { return []; }
}

function storeTitles(list) {
  try { localStorage.setItem(SAVED, JSON.stringify(list)); } catch { /* storage off */ }
  renderSaved();
}

function renderSaved() {
  const list = savedTitles();
  const box = $('saved-titles');
  box.hidden = list.length === 0;
  box.querySelector('ul').replaceChildren(...list.map((t, i) => {
    const pick = el('button', { type: 'button', className: 'pick secondary' }, t.name, el('small', { textContent: t.taxId || (t.type === 'person' ? '个人' : '') }));
    pick.setAttribute('aria-label', `使用抬头 ${t.name}${t.taxId ? ` ${t.taxId}` : ''}`);
    pick.addEventListener('click', () => {
      form.querySelector(`[name="titleType"][value="${t.type === 'person' ? 'person' : 'company'}"]`).checked = true;
      for (const f of TITLE_FIELDS) form.querySelector(`[name="${f}"]`).value = t[f] ?? '';
      if (t.address || t.bankName) $('more').open = true;
      buyerForm.changed();
      for (const f of TITLE_FIELDS) if (t[f]) buyerForm.checked.add(f);
      validate();
      $('f-email').focus();
    });
    const del = el('button', { type: 'button', className: 'delete', textContent: '删除' });
    del.setAttribute('aria-label', `删除抬头 ${t.name}`);
    del.addEventListener('click', () => storeTitles(savedTitles().filter((_, k) => k !== i)));
    return el('li', {}, pick, del);
  }));
}

/** After an invoice: asks whether to keep its 抬头 on this device (nothing is kept unasked). */
function offerToSave(asked) {
  if (!asked?.name) return;
  const same = (t) => t.name === asked.name && (t.taxId ?? '') === (asked.taxId ?? '');
  if (savedTitles().some(same)) return;
  const box = el('div', { className: 'remember' },
    el('p', { textContent: `下次开票时直接选用“${asked.name}”？抬头只保存在这台设备的浏览器里，可随时删除。` }));
  const yes = el('button', { type: 'button', className: 'secondary', textContent: '在本设备记住此抬头' });
  const no = el('button', { type: 'button', textContent: '不用了' });
  yes.addEventListener('click', () => {
    const t = { type: asked.type };
    for (const f of TITLE_FIELDS) t[f] = asked[f] ?? '';
    storeTitles([t, ...savedTitles().filter((x) => !same(x))].slice(0, 10));
    box.replaceChildren(el('p', { className: 'ok', role: 'status', textContent: '✓ 已保存，下次在“常用抬头”中选择。' }));
  });
  no.addEventListener('click', () => box.remove());
  box.append(el('div', { className: 'actions' }, yes, no));
  $('result-body').append(box);
}

// --- submit: one order, one invoice ----------------------------------------------
const STEP = { pending: 0, issuing: 1, issued: 2, failed: 2, reversed: 2 };

function progress(status) {
  const at = STEP[status] ?? 0;
  $('result').querySelector('[data-step="issued"]').textContent = status === 'failed' ? '未开具' : '已开具';
  $('result').querySelectorAll('[data-step]').forEach((li, i) => {
    li.className = i < at || (i === at && status === 'issued') ? 'done' : i === at ? (status === 'failed' ? 'failed' : 'current') : '';
    if (i === at) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current');
  });
}

const FILES = { pdf: 'PDF 版式文件', ofd: 'OFD 版式文件', xml: 'XML 数据文件', view: '在线查看' };

const TYPES = { normal: '数电普票', special: '数电专票' };

/** What was asked for, as the shopper filled it in (kept with the order for a reload). */
function summaryOf(request) {
  const b = request.buyer ?? {};
  return {
    invoiceType: request.invoiceType, type: b.type, name: b.name, taxId: b.taxId ?? '',
    address: b.address ?? '', phone: b.phone ?? '', bankName: b.bankName ?? '', bankAccount: b.bankAccount ?? '',
    email: request.delivery?.email ?? '', mobile: request.delivery?.mobile ?? '',
  };
}

function showIssued(r) {
  // The data files are saved, not opened (a browser shows XML as a bare tree); the
  // PDF and the online view open in a new tab.
  const links = Object.entries(FILES).filter(([k]) => r.links?.[k]).map(([k, label]) => {
    const a = el('a', { href: r.links[k], textContent: label, target: '_blank', rel: 'noopener' });
    if (k === 'xml' || k === 'ofd') a.download = `${r.invoiceNumber ?? r.orderId}.${k}`;
    return el('li', {}, a);
  });
  const asked = order?.asked ?? {};
  const to = [asked.email, asked.mobile].filter(Boolean);
  $('result-body').replaceChildren(
    el('h3', { className: 'ok', textContent: '✓ 发票已开具' }),
    el('dl', { className: 'kv' },
      el('dt', { textContent: '发票号码' }), el('dd', { className: 'mono invoice-number', textContent: r.invoiceNumber }),
      el('dt', { textContent: '开票时间' }), el('dd', { textContent: (r.issuedAt ?? '').replace('T', ' ').replace('+08:00', '') }),
      ...(asked.invoiceType ? [el('dt', { textContent: '发票类型' }), el('dd', { textContent: TYPES[asked.invoiceType] ?? asked.invoiceType })] : []),
      ...(asked.name ? [el('dt', { textContent: '购买方' }), el('dd', { className: 'buyer-name', textContent: asked.name })] : []),
      ...(asked.taxId ? [el('dt', { textContent: '纳税人识别号' }), el('dd', { className: 'mono', textContent: asked.taxId })] : []),
      el('dt', { textContent: '价税合计' }), el('dd', { textContent: money(r.totals?.amountInclTax) }),
    ),
    el('ul', { className: 'files', ariaLabel: '发票文件' }, ...links),
    ...(to.length ? [el('p', { className: 'hint', textContent: `发票文件也会发送到 ${to.join('、')}。` })] : []),
  );
  offerToSave(asked);
}

function showFailure(issues, { retry, orderId }) {
  const kids = [el('h3', { className: 'error', textContent: '✗ 未能开具发票' })];
  for (const i of issues) kids.push(el('p', { className: 'error', textContent: i.message }));
  const next = retry
    ? '网络或服务暂时不可用，您的申请没有重复提交的风险，可以直接重试。'
    : `请核对发票信息。订单 ${orderId} 已记录这次失败；如需用更正后的信息开票，请联系商家客服，或在演示中换一个新订单。`;
  kids.push(el('p', { className: 'next', textContent: `下一步：${next}` }));
  const again = el('button', { type: 'button', className: 'primary', textContent: retry ? '重试' : '修改信息并换新订单（演示）' });
  again.addEventListener('click', retry ?? (async () => {
    $('result').hidden = true;
    form.hidden = false;
    busy = false;
    forget();
    await loadOrder();
    $('f-name').focus();
  }));
  kids.push(el('div', { className: 'actions' }, again));
  $('result-body').replaceChildren(...kids);
}

async function send(request) {
  $('result-body').replaceChildren(el('p', { className: 'hint', textContent: '正在提交…' }));
  progress('pending');
  order.asked = summaryOf(request);
  remember(order);
  try {
    const accepted = await submitInvoice(request, order.orderToken);
    await follow(accepted);
  } catch (e) {
    progress('failed');
    if (e instanceof ProxyError && e.status < 500 && e.status !== 429) showFailure(e.issues.length ? e.issues : [{ message: e.message }], { orderId: request.orderId });
    else showFailure([{ message: e instanceof ProxyError ? e.issues.map((i) => i.message).join('；') || `服务返回 ${e.status}` : '网络连接中断' }], { retry: () => send(request) });
  }
  $('result').focus();
}

/** Shows an order's progress until it is final, then its invoice or what went wrong. */
async function follow(record) {
  const r = await waitForInvoice(record, (x) => {
    progress(x.status);
    if (x.status === 'pending' || x.status === 'issuing') $('result-body').replaceChildren(el('p', { className: 'hint', textContent: x.status === 'pending' ? '已提交，等待开票…' : '税务平台开票中，通常几秒钟…' }));
  });
  if (r.status === 'issued' || r.status === 'reversed') showIssued(r);
  else showFailure([r.error ?? { message: `状态：${r.status}` }], { orderId: r.orderId });
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (busy || !order) return; // a second click never sends a second order
  const r = validate({ all: true });
  if (!r.valid) {
    if (!buyerForm.focusFirstWrong(r)) $('form-errors').focus();
    return;
  }
  busy = true;
  submit.disabled = true;
  form.hidden = true;
  $('result').hidden = false;
  send(r.request);
});

// --- 抬头 QR ------------------------------------------------------------------------
async function applyTitle(text) {
  const r = await readTitleQr(text);
  const msg = $('title-qr-msg');
  if (!r.valid) {
    msg.replaceChildren(...r.errors.map((i) => el('div', { className: 'error', textContent: `✗ ${i.message}` })));
    return false;
  }
  buyerForm.fill(r.buyer);
  msg.replaceChildren(el('div', { className: 'ok', textContent: `✓ 已填入：${r.buyer.name}` }), ...r.warnings.map((i) => el('div', { className: 'warn', textContent: `⚠ ${i.message}` })));
  $('title-qr').value = '';
  return true;
}

$('scan-toggle').addEventListener('click', () => {
  const panel = $('scan-panel');
  panel.hidden = !panel.hidden;
  $('scan-toggle').setAttribute('aria-expanded', String(!panel.hidden));
  if (!panel.hidden) $('title-qr').focus();
});
$('title-qr-read').addEventListener('click', () => applyTitle($('title-qr').value));
$('title-qr').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') { e.preventDefault(); applyTitle($('title-qr').value); }
});
$('title-qr').addEventListener('paste', () => setTimeout(() => $('title-qr').value.trim() && applyTitle($('title-qr').value)));
// A handheld scanner anywhere on the page: a 抬头 QR fills the form.
listenForScanner((text) => {
  $('scan-panel').hidden = false;
  applyTitle(text);
}, { accept: (text) => text.startsWith('$01') && looksScanned(text) });
if (hasCamera()) {
  const cam = $('title-qr-camera');
  cam.hidden = false;
  let stop = null;
  cam.addEventListener('click', async () => {
    if (stop) { stop(); stop = null; $('title-video').hidden = true; return; }
    $('title-video').hidden = false;
    try {
      stop = await scanWithCamera($('title-video'), async (t) => {
        const ok = await applyTitle(t);
        if (ok) { $('title-video').hidden = true; stop = null; }
        return ok;
      });
    } catch {
      $('title-video').hidden = true;
      $('title-qr-msg').textContent = '无法使用摄像头，请用扫码枪或粘贴二维码内容。';
    }
  });
}

$('demo-fail').checked = params.get('sandbox') === 'fail';
if ($('demo-fail').checked) $('demo-fail').closest('details').open = true;
$('demo-fail').addEventListener('change', () => validate());
$('new-order').addEventListener('click', () => { forget(); loadOrder(); });

await init();
renderCart();
renderSaved();
await resume() || await loadOrder();
$('main').setAttribute('aria-busy', 'false');
document.documentElement.dataset.ready = 'true';
