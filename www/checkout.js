// The web-shop checkout: cart from a sandbox order token, totals by computeInvoice,
// the invoice form checked by buildIssueRequest as the user types, then the proxy.
import init, { computeInvoice, buildIssueRequest } from '/pkg/invoice.js';
import {
  BuyerForm, readTitleQr, submitInvoice, waitForInvoice, ProxyError, say, hasCamera, scanWithCamera,
  listenForScanner, money, percent, $, el,
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
  const n = r.errors.length;
  submit.disabled = busy || !order || n > 0;
  $('submit-hint').textContent = !order ? '' : n ? `还有 ${n} 项需要填写或更正` : '信息完整，可以提交';
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
    order = body;
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

function showIssued(r) {
  const links = Object.entries(FILES).filter(([k]) => r.links?.[k]).map(([k, label]) => el('li', {}, el('a', { href: r.links[k], textContent: label, target: '_blank', rel: 'noopener' })));
  $('result-body').replaceChildren(
    el('h3', { className: 'ok', textContent: '✓ 发票已开具' }),
    el('dl', { className: 'kv' },
      el('dt', { textContent: '发票号码' }), el('dd', { className: 'mono invoice-number', textContent: r.invoiceNumber }),
      el('dt', { textContent: '开票时间' }), el('dd', { textContent: (r.issuedAt ?? '').replace('T', ' ').replace('+08:00', '') }),
      el('dt', { textContent: '价税合计' }), el('dd', { textContent: money(r.totals?.amountInclTax) }),
    ),
    el('ul', { className: 'files' }, ...links),
    el('p', { className: 'hint', textContent: '发票文件也会发送到您填写的邮箱或手机。' }),
  );
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
    await loadOrder();
    $('f-name').focus();
  }));
  kids.push(el('div', { className: 'actions' }, again));
  $('result-body').replaceChildren(...kids);
}

async function send(request) {
  $('result-body').replaceChildren(el('p', { className: 'hint', textContent: '正在提交…' }));
  progress('pending');
  try {
    const accepted = await submitInvoice(request, order.orderToken);
    const r = await waitForInvoice(accepted, (x) => {
      progress(x.status);
      if (x.status === 'pending' || x.status === 'issuing') $('result-body').replaceChildren(el('p', { className: 'hint', textContent: x.status === 'pending' ? '已提交，等待开票…' : '税务平台开票中，通常几秒钟…' }));
    });
    if (r.status === 'issued') showIssued(r);
    else showFailure([r.error ?? { message: `状态：${r.status}` }], { orderId: r.orderId });
  } catch (e) {
    progress('failed');
    if (e instanceof ProxyError && e.status < 500 && e.status !== 429) showFailure(e.issues.length ? e.issues : [{ message: e.message }], { orderId: request.orderId });
    else showFailure([{ message: e instanceof ProxyError ? e.issues.map((i) => i.message).join('；') || `服务返回 ${e.status}` : '网络连接中断' }], { retry: () => send(request) });
  }
  $('result').focus();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (busy || !order) return; // a second click never sends a second order
  const r = validate({ all: true });
  if (!r.valid) {
    form.querySelector('[aria-invalid="true"]')?.focus();
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
  if (text.startsWith('$01')) {
    $('scan-panel').hidden = false;
    applyTitle(text);
  }
});
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
$('new-order').addEventListener('click', loadOrder);

await init();
renderCart();
await loadOrder();
$('main').setAttribute('aria-busy', 'false');
document.documentElement.dataset.ready = 'true';
