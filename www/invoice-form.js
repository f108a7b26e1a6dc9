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
    this.touched = new Set();
    this.input = (f) => root.querySelector(`[name="${f}"]`);
    this.msg = (f) => root.querySelector(`[data-msg="${f}"]`);
    this.suggestions = root.querySelector('[data-suggestions]');
    this.confirmBox = root.querySelector('[data-confirm] input');
    root.addEventListener('input', (e) => {
      if (e.target.name === 'taxId' && this.confirmBox) this.confirmBox.checked = false;
      if (e.target.name) this.touched.add(e.target.name);
      this.changed();
    });
    root.addEventListener('change', (e) => {
      // Text inputs were handled on `input`; rebuilding the suggestions on their
      // `change` (fired on blur, i.e. on the mousedown of a suggestion) would swallow the click.
      if (e.target.type !== 'radio' && e.target.type !== 'checkbox') return;
      if (e.target.name) this.touched.add(e.target.name);
      this.changed();
    });
    root.addEventListener('focusout', (e) => {
      if (e.target.name && e.target.value) this.touched.add(e.target.name);
      this.onChange();
    });
  }

  changed() {
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
    const r = input.value.trim() ? validateTaxId(input.value) : null;
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
          this.touched.add('taxId');
          this.changed();
          input.focus();
        });
        this.suggestions.append(b);
      }
      this.suggestions.hidden = false;
    }
  }

  /**
   * Shows a buildIssueRequest result under the fields. Errors of fields the user has
   * not touched stay hidden unless `all`; returns the errors not bound to a field.
   */
  show(result, { all = false } = {}) {
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
      const shown = (byField.get(f) ?? []).filter((m) => m.kind === 'warn' || all || this.touched.has(f) || f === 'titleType');
      el.replaceChildren(...shown.map((m) => Object.assign(document.createElement('div'), {
        className: m.kind, textContent: `${m.kind === 'warn' ? '⚠' : '✗'} ${m.text}`,
      })));
      if (input) {
        const bad = shown.some((m) => m.kind === 'error');
        if (bad) input.setAttribute('aria-invalid', 'true');
        else if (input.value) input.setAttribute('aria-invalid', 'false');
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
        if (v) this.touched.add(f);
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
    this.touched.clear();
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

/**
 * A keyboard-wedge scanner types fast and ends with Enter. Calls `onScan(text)` for
 * such bursts (at least `min` characters, under `gap` ms apart) and removes the
 * burst from the input it landed in, if any. The gaps are measured between the
 * times the keys were pressed (`event.timeStamp`), not the times they are handled:
 * a page busy for more than `gap` ms in the middle of a scan (a first search, a
 * first use of a table) must not cut the scan in two.
 */
export function listenForScanner(onScan, { gap = 100, min = 8 } = {}) {
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
      if (text.length >= min) {
        e.preventDefault();
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

/** Whether the browser can read QR codes from the camera. */
export const hasCamera = () => 'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia;

/** Scans QR codes from the camera into `video` until `onText` returns true or stop() is called. */
export async function scanWithCamera(video, onText) {
  // eslint-disable-next-line no-undef
  const detector = new BarcodeDetector({ formats: ['qr_code'] });
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
        const codes = await detector.detect(video);
        if (codes.length && (await onText(codes[0].rawValue))) { stop(); return; }
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
