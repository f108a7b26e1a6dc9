// Shared by checkout.html and kiosk.html: the buyer form, the proxy client and the
// scanners. Every rule comes from the fapiao package (validateTaxId,
// buildIssueRequest, parseTitleQr); this file only shows results and moves data.
// The pages load the package's invoice part first; the part for scanned codes
// (抬头 QR, receipts, QR images) is fetched when a code is first read.
import { validateTaxId } from '/pkg/invoice.js';
import { $, el } from '/dom.js';

export { $, el };

let scanned = null;
/** The package's part for scanned codes, loaded and initialised on first use. */
export const scanPart = () => (scanned ??= import('/pkg/qr.js').then(async (m) => { await m.default(); return m; }));

/** The message of an Issue in the page's language. */
export const say = (issue, lang) => (lang === 'en' ? issue.messageEn : issue.message);

const FIELDS = ['name', 'taxId', 'address', 'phone', 'bankName', 'bankAccount', 'email', 'mobile'];

/**
 * The buyer form inside `root`. Markup conventions: inputs `[name=<field>]`, a
 * message element `[data-msg=<field>]` per field, radio groups `invoiceType` and
 * `titleType`, `[data-suggestions]` and `[data-confirm]` next to the tax ID.
 */
export class BuyerForm {
  constructor(root, { lang = () => 'zh', onChange = () => {} } = {}) {
    this.root = root;
    this.lang = lang;
    this.onChange = onChange;
    // Fields whose errors are shown: left after typing, or all of them after a
    // submit. A field being typed in shows no new error; one that showed an
    // error keeps it up to date, so the shopper sees it go away.
    this.checked = new Set();
    this.erring = new Set();
    this.input = (f) => root.querySelector(`[name="${f}"]`);
    this.msg = (f) => root.querySelector(`[data-msg="${f}"]`);
    this.suggestions = root.querySelector('[data-suggestions]');
    this.confirmBox = root.querySelector('[data-confirm] input');
    root.addEventListener('input', (e) => {
      const f = e.target.name;
      if (f === 'taxId' && this.confirmBox) this.confirmBox.checked = false;
      if (f && e.target.type !== 'radio' && e.target.type !== 'checkbox' && !this.erring.has(f)) this.checked.delete(f);
      this.changed();
    });
    root.addEventListener('change', (e) => {
      // Text inputs were handled on `input`; rebuilding the suggestions on their
      // `change` (fired on blur, i.e. on the mousedown of a suggestion) would swallow the click.
      if (e.target.type !== 'radio' && e.target.type !== 'checkbox') return;
      if (e.target.name) this.checked.add(e.target.name);
      this.changed();
    });
    root.addEventListener('focusout', (e) => {
      const f = e.target.name;
      if (!f || e.target.type === 'radio' || e.target.type === 'checkbox') return;
      if (e.target.value.trim()) this.checked.add(f);
      this.changed();
    });
    this.titleType();
  }

  /** 个人: no 数电专票, the tax ID optional (a 身份证号 may go there); 单位: the tax ID required. */
  titleType() {
    const person = this.radio('titleType') === 'person';
    const special = this.root.querySelector('[name="invoiceType"][value="special"]');
    if (special) {
      special.closest('label').hidden = person;
      if (person && special.checked) {
        special.checked = false;
        this.root.querySelector('[name="invoiceType"][value="normal"]').checked = true;
      }
    }
    this.root.querySelectorAll('[data-company]').forEach((e) => { e.hidden = person; });
    this.root.querySelectorAll('[data-person]').forEach((e) => { e.hidden = !person; });
    const taxId = this.input('taxId');
    if (taxId) {
      const ph = this.lang() === 'en' ? ['Unified social credit code', 'Optional: resident ID number'] : ['统一社会信用代码', '选填，可填身份证号'];
      taxId.placeholder = person ? ph[1] : ph[0];
      if (person) taxId.removeAttribute('aria-required'); else taxId.setAttribute('aria-required', 'true');
    }
  }

  /** The label of a field as shown (without its marks and hints). */
  label(f) {
    if (f === 'titleType' || f === 'invoiceType') return this.root.querySelector(`[name="${f}"]`)?.closest('fieldset')?.querySelector('legend')?.textContent.trim() ?? f;
    const input = this.input(f);
    const label = input && this.root.querySelector(`label[for="${input.id}"]`);
    if (!label) return f;
    const own = [...label.childNodes].filter((n) => n.nodeType === 3 || (n.dataset && n.dataset.t !== undefined)).map((n) => n.textContent).join('');
    return own.replace(/[（(].*$/, '').trim() || f;
  }

  /** The fields with errors in `result`, in the order of the form. */
  wrongFields(result) {
    const keys = new Set(result.errors.map((i) => {
      const f = i.field.replace(/^buyer\./, '').replace(/^delivery\./, '');
      return f === 'type' ? 'titleType' : f;
    }));
    return [...FIELDS, 'titleType'].filter((f) => keys.has(f) && this.msg(f));
  }

  /** Moves the focus to the first field with an error (opening what hides it); false when there is none. */
  focusFirstWrong(result) {
    const f = this.wrongFields(result)[0];
    const target = f === 'titleType' ? this.root.querySelector('[name="titleType"]:checked') : f && this.input(f);
    if (!target) return false;
    const d = target.closest('details');
    if (d) d.open = true;
    target.focus();
    return true;
  }

  changed() {
    this.titleType();
    this.showTaxId();
    this.onChange();
  }

  radio(name) {
    return this.root.querySelector(`[name="${name}"]:checked`)?.value ?? '';
  }

  values() {
    const v = Object.fromEntries(FIELDS.map((f) => [f, this.input(f)?.value ?? '']));
    const confirmed = this.confirmBox?.checked ? validateTaxId(v.taxId).errors.filter((e) => e.overridable).map((e) => e.code) : [];
    return {
      invoiceType: this.radio('invoiceType') || 'normal',
      confirmed,
      buyer: {
        type: this.radio('titleType') || 'company',
        name: v.name, taxId: v.taxId, address: v.address, phone: v.phone,
        bankName: v.bankName, bankAccount: v.bankAccount, email: v.email, mobile: v.mobile,
      },
      delivery: { email: v.email, mobile: v.mobile },
    };
  }

  /** Live tax-ID feedback: suggestions (one tap) and the confirm box for overridable errors. */
  showTaxId() {
    const input = this.input('taxId');
    if (!input || !this.suggestions) return;
    // Suggestions and the confirm box once the field was left, like its errors.
    const r = input.value.trim() && this.checked.has('taxId') ? validateTaxId(input.value) : null;
    const overridable = r && r.errors.length > 0 && r.errors.every((e) => e.overridable);
    const confirmRow = this.root.querySelector('[data-confirm]');
    if (confirmRow) confirmRow.hidden = !overridable;
    const key = `${this.lang()} ${r?.suggestions.join(' ') ?? ''}`;
    if (key === this.shownSuggestions) return;
    this.shownSuggestions = key;
    this.suggestions.replaceChildren();
    this.suggestions.hidden = true;
    if (r?.suggestions.length) {
      const label = document.createElement('span');
      label.textContent = this.lang() === 'en' ? 'Did you mean:' : '您是否要输入：';
      this.suggestions.append(label);
      for (const s of r.suggestions) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'suggestion';
        b.textContent = s;
        b.setAttribute('aria-label', `${this.lang() === 'en' ? 'Use' : '改为'} ${s}`);
        b.addEventListener('click', () => {
          input.value = s;
          this.checked.add('taxId');
          this.changed();
          input.focus();
        });
        this.suggestions.append(b);
      }
      this.suggestions.hidden = false;
    }
  }

  /**
   * Shows a buildIssueRequest result under the fields: the errors and warnings of the
   * fields left (all of them with `all`, after a submit); returns the errors not
   * bound to a field.
   */
  show(result, { all = false } = {}) {
    if (all) for (const f of [...FIELDS, 'titleType']) this.checked.add(f);
    const lang = this.lang();
    const byField = new Map();
    const loose = [];
    for (const [kind, list] of [['error', result.errors], ['warn', result.warnings]]) {
      for (const i of list) {
        const f = i.field.replace(/^buyer\./, '').replace(/^delivery\./, '');
        const key = f === 'type' ? 'titleType' : f;
        if (this.msg(key)) {
          if (!byField.has(key)) byField.set(key, []);
          byField.get(key).push({ kind, text: say(i, lang) });
        } else if (kind === 'error') loose.push(i);
      }
    }
    for (const f of [...FIELDS, 'titleType']) {
      const el = this.msg(f);
      if (!el) continue;
      const input = f === 'titleType' ? null : this.input(f);
      const shown = (byField.get(f) ?? []).filter(() => this.checked.has(f));
      if (shown.some((m) => m.kind === 'error')) this.erring.add(f); else this.erring.delete(f);
      el.replaceChildren(...shown.map((m) => Object.assign(document.createElement('div'), {
        className: m.kind, textContent: `${m.kind === 'warn' ? '⚠' : '✗'} ${m.text}`,
      })));
      if (input) {
        const bad = shown.some((m) => m.kind === 'error');
        if (bad) input.setAttribute('aria-invalid', 'true');
        else if (input.value && this.checked.has(f)) input.setAttribute('aria-invalid', 'false');
        else input.removeAttribute('aria-invalid');
      }
    }
    if (this.confirmBox?.checked && this.msg('taxId') && !(byField.get('taxId') ?? []).some((m) => m.kind === 'error')) {
      this.msg('taxId').prepend(Object.assign(document.createElement('div'), {
        className: 'warn', textContent: lang === 'en' ? '⚠ Confirmed as printed on the licence' : '⚠ 已确认使用此号码',
      }));
    }
    return loose;
  }

  /** Fills the fields from a 抬头 QR's buyer (company title). */
  fill(b) {
    const company = this.root.querySelector('[name="titleType"][value="company"]');
    if (company) company.checked = true;
    for (const [f, v] of Object.entries({ name: b.name, taxId: b.taxId, address: b.address, phone: b.phone, bankName: b.bankName, bankAccount: b.bankAccount })) {
      const input = this.input(f);
      if (input) {
        input.value = v;
        if (v) this.checked.add(f);
      }
    }
    const more = this.root.querySelector('details');
    if (more && (b.address || b.bankName)) more.open = true;
    if (this.confirmBox) this.confirmBox.checked = false;
    this.changed();
  }

  reset() {
    this.root.querySelectorAll('input').forEach((i) => {
      if (i.type === 'radio') i.checked = i.defaultChecked;
      else if (i.type === 'checkbox') i.checked = false;
      else i.value = '';
      i.removeAttribute('aria-invalid');
    });
    this.root.querySelectorAll('[data-msg]').forEach((m) => m.replaceChildren());
    if (this.suggestions) { this.suggestions.replaceChildren(); this.suggestions.hidden = true; this.shownSuggestions = ''; }
    const c = this.root.querySelector('[data-confirm]');
    if (c) c.hidden = true;
    this.checked.clear();
    this.erring.clear();
    this.titleType();
  }
}

/** Reads a 抬头 QR's text; resolves to the package's result. */
export const readTitleQr = async (text) => (await scanPart()).parseTitleQr(text);

/** An error from the proxy: `{ status, issues }`. */
export class ProxyError extends Error {
  constructor(status, issues) {
    super(issues.map((i) => i.code).join(', ') || `HTTP ${status}`);
    this.status = status;
    this.issues = issues;
  }
}

async function json(res) {
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ProxyError(res.status, body.errors ?? []);
  return body;
}

/** POST /v1/invoices: the same order twice gives the same record (the proxy issues each order once). */
export async function submitInvoice(request, orderToken) {
  const res = await fetch('/v1/invoices', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ request, orderToken }),
  });
  return json(res);
}

/**
 * GET /v1/invoices/{id}; `null` when the proxy does not know the order. Reading an
 * order needs its order token (or the access token the proxy returned with it).
 */
export async function getInvoice(orderId, orderToken) {
  const res = await fetch(`/v1/invoices/${encodeURIComponent(orderId)}?optional=true`, {
    headers: { authorization: `Bearer ${orderToken}` },
  });
  return json(res);
}

/**
 * The seller an order token names (its `merchant`): which seller's page this is.
 * Read without checking the token (the proxy checks it); `null` when unreadable.
 */
export function sellerOfToken(orderToken) {
  try {
    const payload = String(orderToken).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)).merchant ?? null;
  } catch {
    return null;
  }
}

/** GET /v1/sellers/{taxId}: what a page may show of a seller (`{ taxId, name, invoiceTypes }`); `null` when unknown. */
export async function getSeller(taxId) {
  if (!taxId) return null;
  const res = await fetch(`/v1/sellers/${encodeURIComponent(taxId)}`);
  return res.ok ? res.json() : null;
}

/** Offers only the seller's invoice types: the other choices are disabled (and left if chosen). */
export function offerInvoiceTypes(form, types) {
  if (!Array.isArray(types) || !types.length) return;
  const radios = [...form.querySelectorAll('[name="invoiceType"]')];
  for (const r of radios) r.disabled = !types.includes(r.value);
  const first = radios.find((r) => !r.disabled);
  if (first && radios.some((r) => r.checked && r.disabled)) {
    first.checked = true;
    first.dispatchEvent(new Event('change', { bubbles: true }));
  }
}

const FINAL = new Set(['issued', 'failed', 'reversed']);

/** Long-polls until the order's status is final, reporting each status seen. */
export async function waitForInvoice(record, onStatus, { signal } = {}) {
  let r = record;
  onStatus(r);
  while (!FINAL.has(r.status)) {
    const res = await fetch(`/v1/invoices/${encodeURIComponent(r.orderId)}?wait=25&since=${r.status}`, {
      signal, headers: { authorization: `Bearer ${record.accessToken}` },
    });
    r = await json(res);
    onStatus(r);
  }
  return r;
}

/** A receipt's order token (`FP1.` and its base64url parts), as a scanner types it. */
const RECEIPT_SHAPE = /^FP1\.[A-Za-z0-9_-]{20,}(\.[A-Za-z0-9_-]+)*$/;
/** A 抬头 QR's text: `$01`, base64 fields, a closing `$`. */
const TITLE_SHAPE = /^\$01[A-Za-z0-9+/=]{8,}\$$/;

/** Whether `text` has the shape of a code a scanner reads here: a receipt or a 抬头 QR. */
export const looksScanned = (text) => RECEIPT_SHAPE.test(text) || TITLE_SHAPE.test(text);

/**
 * A keyboard-wedge scanner types fast and ends with Enter. Calls `onScan(text)` for
 * such bursts and removes the burst from the input it landed in, if any. A burst
 * counts as a scan only when everything says so: at least `min` characters, under
 * `gap` ms apart, ended by Enter, and the text has the shape `accept` asks for
 * (by default a receipt or a 抬头 QR). Anything else is typing, however fast: it
 * stays in the field, and its Enter does what Enter does (submits the form).
 * The gaps are measured between the times the keys were pressed
 * (`event.timeStamp`), not the times they are handled: a page busy for more than
 * `gap` ms in the middle of a scan must not cut the scan in two.
 */
export function listenForScanner(onScan, { gap = 100, min = 8, accept = looksScanned } = {}) {
  let buf = '';
  let last = 0;
  let target = null;
  const onKey = (e) => {
    const now = e.timeStamp || performance.now();
    if (now - last > gap) { buf = ''; target = e.target; }
    last = now;
    if (e.key === 'Enter') {
      const text = buf;
      buf = '';
      last = -Infinity; // the next key starts a new burst, whatever its time stamp
      if (text.length >= min && accept(text)) {
        e.preventDefault();
        e.stopPropagation();
        if (target && 'value' in target && typeof target.value === 'string' && target.value.endsWith(text)) {
          target.value = target.value.slice(0, -text.length);
          target.dispatchEvent(new Event('input', { bubbles: true }));
        }
        onScan(text);
      }
    } else if (e.key.length === 1) {
      buf += e.key;
    }
  };
  document.addEventListener('keydown', onKey, true);
  return () => document.removeEventListener('keydown', onKey, true);
}

/** Whether the device has a camera API (QR codes are read by BarcodeDetector, or by the package's camera part). */
export const hasCamera = () => !!navigator.mediaDevices?.getUserMedia;

/** Longest side of the frame handed to the package's decoder: enough pixels a module for a dense receipt code. */
const FRAME_SIDE = 960;

/**
 * A reader of QR codes in video frames: the browser's BarcodeDetector where there
 * is one, else the package's camera part (fetched now) on a canvas copy of the frame.
 */
async function qrReader() {
  if ('BarcodeDetector' in window) {
    // eslint-disable-next-line no-undef
    const detector = new BarcodeDetector({ formats: ['qr_code'] });
    return async (video) => (await detector.detect(video)).map((c) => c.rawValue);
  }
  const camera = await import('/pkg/camera.js');
  await camera.default();
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  return async (video) => {
    const { videoWidth: w, videoHeight: h } = video;
    if (!w || !h) return [];
    const scale = Math.min(1, FRAME_SIDE / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const frame = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const text = camera.decodeQrImage(frame.data, frame.width, frame.height);
    return text == null ? [] : [text];
  };
}

/** Scans QR codes from the camera into `video` until `onText` returns true or stop() is called. */
export async function scanWithCamera(video, onText) {
  const read = await qrReader();
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  video.srcObject = stream;
  await video.play();
  let running = true;
  const stop = () => {
    running = false;
    stream.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
  };
  (async () => {
    while (running) {
      try {
        const codes = await read(video);
        if (codes.length && (await onText(codes[0]))) { stop(); return; }
      } catch { /* a frame that is not ready */ }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return stop;
}

/** 价税合计 etc. with a thousands separator, for display only (the value stays the package's string). */
export const money = (s) => (s == null ? '' : `¥${String(s).replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`);

/** "0.13" → "13%". */
export const percent = (rate) => {
  const [i, f = ''] = String(rate).split('.');
  const p = (i === '0' ? '' : i) + (f + '00').slice(0, 2) + ((f.slice(2).replace(/0+$/, '')) ? '.' + f.slice(2).replace(/0+$/, '') : '');
  return `${p.replace(/^0(?=\d)/, '') || '0'}%`;
};
