// The mall kiosk: scan the receipt (keyboard-wedge scanner, camera, or typed), show
// it read-only, take the title (typed or from a 抬头 QR), issue through the proxy and
// show a QR code to download the invoice. A shared device: nothing is stored, and an
// idle timer (?idle=<seconds>, default 120) clears everything.
import init, { computeInvoice, buildIssueRequest } from '/pkg/invoice.js';
import {
  BuyerForm, readTitleQr, submitInvoice, getInvoice, waitForInvoice, ProxyError, say, hasCamera, scanPart,
  scanWithCamera, listenForScanner, money, getSeller, offerInvoiceTypes, $, el,
} from '/invoice-form.js';

const T = {
  title: ['自助开票', 'Self-service invoicing'],
  scanReceipt: ['请扫描购物小票上的二维码', 'Scan the QR code on your receipt'],
  scanReceiptHint: ['将小票二维码对准下方扫码窗口', 'Hold the receipt under the scanner below'],
  useCamera: ['使用摄像头扫码', 'Use the camera'],
  typeCode: ['手动输入小票码', 'Type the receipt code'],
  receiptCode: ['小票码', 'Receipt code'],
  ok: ['确定', 'OK'],
  yourReceipt: ['您的小票', 'Your receipt'],
  store: ['商户', 'Store'], time: ['时间', 'Time'], order: ['单号', 'Order'],
  item: ['商品', 'Item'], qty: ['数量', 'Qty'], amount: ['金额', 'Amount'], total: ['合计', 'Total'],
  titleHeading: ['发票抬头', 'Invoice title'],
  titleScanHint: ['可扫描单位的抬头二维码自动填写', 'Scan your company’s title QR code to fill this in'],
  invoiceType: ['发票类型', 'Invoice type'], normal: ['数电普票', 'Standard'], special: ['数电专票', 'Special VAT'],
  titleType: ['抬头类型', 'Title'], company: ['单位', 'Company'], person: ['个人', 'Person'],
  name: ['名称', 'Name'], taxId: ['纳税人识别号', 'Taxpayer ID'],
  confirmTaxId: ['号码与营业执照一致，确认使用', 'It matches the licence: use it'],
  more: ['地址、电话、开户行及账号（选填）', 'Address, phone, bank and account (optional)'],
  address: ['地址', 'Address'], phone: ['电话', 'Phone'], bankName: ['开户行', 'Bank'], bankAccount: ['账号', 'Account'],
  email: ['接收邮箱（选填）', 'E-mail (optional)'], mobile: ['接收手机（选填）', 'Mobile (optional)'],
  cancel: ['取消', 'Cancel'], issue: ['开具发票', 'Issue invoice'], finish: ['完成', 'Done'],
  issuing: ['正在开具发票…', 'Issuing your invoice…'],
  issued: ['发票已开具', 'Your invoice is ready'],
  already: ['此小票已开具发票', 'This receipt has been invoiced already'],
  alreadyPending: ['此小票的发票正在开具', 'This receipt’s invoice is being issued'],
  failed: ['未能开具发票', 'The invoice could not be issued'],
  failedNext: ['请到服务台，出示小票，工作人员会为您处理。', 'Please take your receipt to the service desk.'],
  number: ['发票号码', 'Invoice number'],
  scanToDownload: ['用手机扫码下载发票', 'Scan with your phone to download'],
  sentTo: ['发票也将发送至', 'The invoice is also sent to'],
  titleFilled: ['已填入抬头：', 'Title filled in: '],
  idle: ['无操作，{n} 秒后返回首页', 'No activity: back to start in {n} s'],
  network: ['网络暂时不可用，请稍后重试或到服务台办理。', 'The network is unavailable; try again or go to the service desk.'],
  notReceipt: ['请扫描小票上的二维码', 'Please scan the QR code on the receipt'],
  titleFirst: ['这是抬头二维码。请先扫描购物小票，再扫描抬头二维码。', 'That is a title QR code. Scan your receipt first, then the title.'],
  sample: ['示例小票', 'Sample receipt'],
  sampleHeading: ['示例小票（演示）', 'Sample receipt (demo)'],
  sampleUse: ['使用这张小票', 'Use this receipt'],
  sampleFailed: ['示例小票暂不可用（需要沙箱演示模式）。', 'No sample receipt: the demo mode is off.'],
  receiptCodeHint: ['小票二维码下方的 8 位码', 'The 8 characters under the receipt’s QR code'],
  codeUnknown: ['没有找到这个小票码，请核对后重试。', 'No receipt has this code; check it and try again.'],
  noCamera: ['此设备没有可用的摄像头，请用扫码窗口或输入小票码。', 'This device has no camera to use: use the scanner or type the receipt code.'],
  personNormal: ['个人只能开具数电普票', 'A person gets a standard invoice'],
  taxIdPerson: ['（选填，可填身份证号）', ' (optional: resident ID)'],
  otherReceipt: ['又扫描了一张小票（单号 {id}）。当前填写的内容保留在这张小票上。', 'Another receipt was scanned (order {id}). What you filled in stays with this receipt.'],
  useOther: ['改开那张小票', 'Switch to that receipt'],
  keepThis: ['继续当前小票', 'Keep this receipt'],
  wrong: ['还有 {n} 项需要填写或更正：{list}', '{n} field(s) to fill in or correct: {list}'],
};

/** What the sandbox's 示例小票 sells. */
const SAMPLE = [
  { name: '拿铁咖啡（大杯）', taxCode: '1030307060000000000', unit: '杯', quantity: '2', unitPrice: '32.00', taxRate: '0.13' },
  { name: '简餐', taxCode: '3070401000000000000', quantity: '1', unitPrice: '68.00', taxRate: '0.06' },
];

const params = new URLSearchParams(location.search);
const IDLE_S = Math.max(1, Number(params.get('idle')) || 120);
let lang = params.get('lang') === 'en' ? 'en' : 'zh';
let receipt = null;
let busy = false;
let stopCamera = null;
let idleTimer = null;
let idleTick = null;

const t = (k, vars = {}) => T[k][lang === 'en' ? 1 : 0].replace(/\{(\w+)\}/g, (_, v) => vars[v]);
const form = $('title-form');
const buyerForm = new BuyerForm(form, { lang: () => lang, onChange: () => validate() });

function applyLang() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  document.querySelectorAll('[data-t]').forEach((e) => { e.textContent = t(e.dataset.t); });
  $('lang').textContent = lang === 'en' ? '中文' : 'English';
  $('lang').lang = lang === 'en' ? 'zh-CN' : 'en';
  document.title = `${t('title')} · fapiao`;
  if (receipt) showReceipt();
  buyerForm.titleType();
  validate();
}

function screen(id) {
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== id;
}

// --- receipt ------------------------------------------------------------------------
function issueForm() {
  const v = buyerForm.values();
  return {
    orderId: receipt?.orderId ?? '', invoiceType: v.invoiceType, buyer: v.buyer, confirmed: v.confirmed,
    priceIncludesTax: receipt?.priceIncludesTax ?? true, lines: receipt?.lines ?? [], delivery: v.delivery,
  };
}

function validate({ all = false } = {}) {
  if (!receipt) return null;
  const r = buildIssueRequest(issueForm());
  const loose = buyerForm.show(r, { all });
  $('form-errors').replaceChildren(...(all ? loose : []).map((i) => el('div', { className: 'error', textContent: `✗ ${say(i, lang)}` })));
  // Submitting is always possible: a submit with something missing names it.
  $('issue').disabled = busy;
  const names = buyerForm.wrongFields(r).filter((f) => all || buyerForm.erring.has(f)).map((f) => buyerForm.label(f));
  $('issue-hint').textContent = r.valid || !names.length ? '' : t('wrong', { n: names.length, list: names.join(lang === 'en' ? ', ' : '、') });
  return r;
}

function showReceipt() {
  const c = computeInvoice({ priceIncludesTax: receipt.priceIncludesTax, lines: receipt.lines });
  $('r-store').textContent = receipt.merchantName ?? `${lang === 'en' ? 'Taxpayer ID' : '税号'} ${receipt.merchant}`;
  $('r-time').textContent = (receipt.issuedAt ?? '').replace('T', ' ').replace(/\+08:00$/, '');
  $('r-order').textContent = receipt.orderId;
  $('r-lines').replaceChildren(...receipt.lines.map((l, i) => el('tr', {},
    el('td', { textContent: l.name ?? '' }),
    el('td', { className: 'num', textContent: `${l.quantity ?? 1}${l.unit ?? ''}` }),
    el('td', { className: 'num', textContent: money(c.lines[i]?.amountInclTax) }),
  )));
  $('r-total').textContent = money(receipt.totals.amountInclTax ?? c.totals.amountInclTax);
  $('r-words').textContent = lang === 'en' ? '' : c.totals.amountInclTaxInWords;
}

/** The package's part for scanned codes, once a code was read (receipts come first). */
let scan = null;

async function openReceipt(text, { replace = false } = {}) {
  scan = await scanPart();
  const r = scan.parseReceipt(text);
  if (!r.valid) {
    $(receipt ? 'form-errors' : 'start-msg').replaceChildren(...r.errors.map((i) => el('div', { className: 'error', textContent: say(i, lang) })));
    return;
  }
  if (receipt && !replace) {
    // Another receipt while this one is on screen: nothing typed is thrown away unasked.
    if (r.receipt.orderId === receipt.orderId || form.hidden || busy) return;
    const use = el('button', { type: 'button', className: 'secondary', textContent: t('useOther') });
    const keep = el('button', { type: 'button', textContent: t('keepThis') });
    use.onclick = () => { $('switch').hidden = true; openReceipt(text, { replace: true }); };
    keep.onclick = () => { $('switch').hidden = true; $('k-name').focus(); };
    $('switch').replaceChildren(el('p', { textContent: t('otherReceipt', { id: r.receipt.orderId }) }), el('div', { className: 'row' }, use, keep));
    $('switch').hidden = false;
    use.focus();
    return;
  }
  $('switch').hidden = true;
  stopCamera?.();
  receipt = r.receipt;
  $('start-msg').replaceChildren();
  buyerForm.reset();
  showReceipt();
  // The receipt's seller as the proxy knows it (one kiosk serves every seller of
  // a group or mall): its registered name, and the invoice types it offers.
  const shown = receipt;
  getSeller(receipt.merchant).then((seller) => {
    if (!seller || receipt !== shown) return;
    $('r-store').textContent = seller.name;
    offerInvoiceTypes(form, seller.invoiceTypes);
  }).catch(() => { /* the token's own name stays */ });
  $('r-warn').replaceChildren(...r.warnings.map((i) => el('div', { className: 'warn', textContent: `⚠ ${say(i, lang)}` })));
  $('already').hidden = true;
  form.hidden = false;
  screen('s-receipt');
  validate();
  // A receipt invoiced before shows that invoice instead of issuing again.
  try {
    const existing = await getInvoice(receipt.orderId, receipt.token);
    if (existing && receipt) showAlready(existing);
  } catch { /* the proxy will answer on submit */ }
  // The receipt first: a phone shows it from the top (the form is below it).
  if (!form.hidden) $('k-name').focus({ preventScroll: true });
  $('app').scrollTo(0, 0);
  window.scrollTo(0, 0);
}

function downloadLink(r) {
  const href = r.links?.pdf ?? r.links?.view ?? r.links?.ofd ?? r.links?.xml;
  return href ? new URL(href, location.href).href : null;
}

function invoiceBlock(r) {
  const link = downloadLink(r);
  const svg = link && scan ? scan.qrSvg(link) : null;
  const qr = el('figure', { className: 'qr' });
  if (svg) {
    qr.innerHTML = svg;
    qr.querySelector('svg').setAttribute('aria-label', t('scanToDownload'));
    qr.append(el('figcaption', { textContent: t('scanToDownload') }));
  }
  const v = buyerForm.values().delivery;
  const to = [v.email, v.mobile].filter(Boolean).join(lang === 'en' ? ', ' : '、');
  return [
    el('dl', { className: 'kv' },
      el('dt', { textContent: t('number') }), el('dd', { className: 'mono invoice-number', textContent: r.invoiceNumber ?? '' }),
      el('dt', { textContent: t('total') }), el('dd', { textContent: money(r.totals?.amountInclTax) })),
    ...(svg ? [qr] : []),
    ...(to ? [el('p', { className: 'sub', textContent: `${t('sentTo')} ${to}` })] : []),
  ];
}

function showAlready(r) {
  form.hidden = true;
  const box = $('already');
  box.hidden = false;
  if (r.status === 'issued' || r.status === 'reversed') {
    box.replaceChildren(el('h2', { className: 'ok', textContent: `✓ ${t('already')}` }), ...invoiceBlock(r));
  } else if (r.status === 'failed') {
    box.replaceChildren(el('h2', { className: 'error', textContent: t('failed') }),
      el('p', { textContent: r.error ? say(r.error, lang) : '' }), el('p', { className: 'next', textContent: t('failedNext') }));
  } else {
    box.replaceChildren(el('h2', { textContent: t('alreadyPending') }), el('p', { className: 'spinner', textContent: t('issuing') }));
    waitForInvoice(r, () => {}).then((f) => receipt?.orderId === f.orderId && showAlready(f)).catch(() => {});
  }
  box.append(el('div', { className: 'actions' }, Object.assign(el('button', { type: 'button', className: 'primary', textContent: t('finish') }), { onclick: reset })));
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (busy || !receipt) return;
  const r = validate({ all: true });
  if (!r?.valid) { buyerForm.focusFirstWrong(r); return; }
  busy = true;
  $('issue').disabled = true;
  screen('s-done');
  $('done-body').replaceChildren(el('p', { className: 'spinner big', textContent: t('issuing') }));
  const order = receipt.orderId;
  try {
    const accepted = await submitInvoice(r.request, receipt.token);
    const final = await waitForInvoice(accepted, () => {});
    if (receipt?.orderId !== order) return; // reset meanwhile
    if (final.status === 'issued') $('done-body').replaceChildren(el('h2', { className: 'ok', textContent: `✓ ${t('issued')}` }), ...invoiceBlock(final));
    else $('done-body').replaceChildren(el('h2', { className: 'error', textContent: t('failed') }), el('p', { textContent: final.error ? say(final.error, lang) : final.status }), el('p', { className: 'next', textContent: t('failedNext') }));
  } catch (err) {
    if (receipt?.orderId !== order) return;
    const issues = err instanceof ProxyError ? err.issues : [];
    $('done-body').replaceChildren(el('h2', { className: 'error', textContent: t('failed') }),
      ...issues.map((i) => el('p', { textContent: say(i, lang) })),
      el('p', { className: 'next', textContent: issues.length ? t('failedNext') : t('network') }));
  }
  $('s-done').focus();
});

// --- 抬头 QR ------------------------------------------------------------------------
async function applyTitle(text) {
  const r = await readTitleQr(text);
  const msg = $('title-qr-msg');
  if (!r.valid) {
    msg.replaceChildren(...r.errors.map((i) => el('div', { className: 'error', textContent: `✗ ${say(i, lang)}` })));
    return;
  }
  buyerForm.fill(r.buyer);
  msg.replaceChildren(el('div', { className: 'ok', textContent: `✓ ${t('titleFilled')}${r.buyer.name}` }),
    ...r.warnings.map((i) => el('div', { className: 'warn', textContent: `⚠ ${say(i, lang)}` })));
}

async function onScan(text) {
  text = text.trim();
  if (text.includes('FP1.')) openReceipt(text);
  else if (text.startsWith('$01') && receipt && !form.hidden) applyTitle(text);
  else if (text.startsWith('$01') && !receipt) $('start-msg').replaceChildren(el('div', { textContent: t('titleFirst') }));
  else if (!receipt) {
    scan = await scanPart();
    $('start-msg').replaceChildren(el('div', { textContent: scan.parseReceipt(text).errors.map((i) => say(i, lang)).join(' ') || t('notReceipt') }));
  }
}

// --- session ------------------------------------------------------------------------
function reset() {
  stopCamera?.();
  receipt = null;
  busy = false;
  buyerForm.reset();
  form.hidden = false;
  for (const id of ['start-msg', 'title-qr-msg', 'form-errors', 'r-lines', 'r-warn', 'done-body', 'already', 'switch', 'sample-qr']) $(id).replaceChildren();
  for (const id of ['r-store', 'r-time', 'r-order', 'r-total', 'r-words', 'sample-code', 'issue-hint']) $(id).textContent = '';
  $('switch').hidden = true;
  $('sample-box').hidden = true;
  sampleToken = null;
  $('manual').value = '';
  $('manual-box').hidden = true;
  $('manual-toggle').setAttribute('aria-expanded', 'false');
  $('already').hidden = true;
  form.querySelector('details').open = false;
  screen('s-start');
  $('idle-warning').hidden = true;
  clearTimeout(idleTimer);
  clearInterval(idleTick);
}

function pristineStart() {
  return $('manual-box').hidden && !$('manual').value && $('sample-box').hidden && !$('start-msg').textContent;
}

function activity() {
  clearTimeout(idleTimer);
  clearInterval(idleTick);
  $('idle-warning').hidden = true;
  // The start screen waits for ever when untouched; anything begun on it (a code
  // half typed, a sample receipt, a message) is cleared like the other screens.
  if ($('s-start').hidden === false && !receipt && pristineStart()) return;
  const warnAt = Math.min(10, Math.floor(IDLE_S / 2));
  let left = IDLE_S;
  idleTick = setInterval(() => {
    left -= 1;
    if (left <= warnAt && left > 0) {
      $('idle-warning').hidden = false;
      $('idle-warning').textContent = t('idle', { n: left });
    }
  }, 1000);
  idleTimer = setTimeout(reset, IDLE_S * 1000);
}
for (const ev of ['pointerdown', 'keydown', 'input', 'touchstart']) document.addEventListener(ev, activity, { capture: true, passive: true });
new MutationObserver(activity).observe($('app'), { attributes: true, subtree: true, attributeFilter: ['hidden'] });

$('lang').addEventListener('click', () => { lang = lang === 'en' ? 'zh' : 'en'; applyLang(); });
$('manual-toggle').addEventListener('click', () => {
  const box = $('manual-box');
  box.hidden = !box.hidden;
  $('manual-toggle').setAttribute('aria-expanded', String(!box.hidden));
  if (!box.hidden) $('manual').focus();
});
// --- the demo: a sample receipt and short receipt codes ------------------------------
let sampleToken = null;

/** A receipt code as typed: the proxy's 8 characters (spaces and dashes allowed). */
const CODE = /^[23456789A-HJKMNP-Z]{8}$/;

async function typed(text) {
  text = text.trim();
  const code = text.replace(/[\s-]/g, '').toUpperCase();
  if (!CODE.test(code)) return openReceipt(text);
  try {
    const res = await fetch(`/v1/demo/receipts/${encodeURIComponent(code)}`);
    if (!res.ok) throw new Error(String(res.status));
    return openReceipt((await res.json()).orderToken);
  } catch {
    $('start-msg').replaceChildren(el('div', { textContent: t('codeUnknown') }));
  }
}

async function sample() {
  try {
    const res = await fetch('/v1/demo/order-token', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ priceIncludesTax: true, lines: SAMPLE, receiptCode: true }),
    });
    if (!res.ok) throw new Error(String(res.status));
    const body = await res.json();
    scan = await scanPart();
    sampleToken = body.orderToken;
    $('sample-qr').innerHTML = scan.qrSvg(body.orderToken);
    const svg = $('sample-qr').querySelector('svg');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', t('sampleHeading'));
    $('sample-code').textContent = body.receiptCode ?? '';
    $('start-msg').replaceChildren();
    $('sample-box').hidden = false;
    $('sample-use').focus();
  } catch {
    $('start-msg').replaceChildren(el('div', { textContent: t('sampleFailed') }));
  }
}

$('sample').addEventListener('click', sample);
$('sample-use').addEventListener('click', () => sampleToken && openReceipt(sampleToken));
$('manual-go').addEventListener('click', () => typed($('manual').value));
$('manual').addEventListener('keydown', (e) => { if (e.key === 'Enter' && $('manual').value.trim()) { e.preventDefault(); typed($('manual').value); } });
form.querySelector('.cancel').addEventListener('click', reset);
document.querySelector('.finish').addEventListener('click', reset);
listenForScanner(onScan);
$('no-camera').hidden = hasCamera();
if (hasCamera()) {
  $('camera').hidden = false;
  $('camera').addEventListener('click', async () => {
    if (stopCamera) { stopCamera(); return; }
    $('video').hidden = false;
    try {
      const stop = await scanWithCamera($('video'), (text) => { onScan(text); return text.includes('FP1.'); });
      stopCamera = () => { stop(); stopCamera = null; $('video').hidden = true; };
    } catch {
      $('video').hidden = true;
    }
  });
}

await init();
applyLang();
reset();
document.documentElement.dataset.ready = 'true';
