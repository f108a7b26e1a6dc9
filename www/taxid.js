// The tax-ID demo: every rule comes from the fapiao package; this file only shows
// its results. A plain page with no bundler imports the package's tax-ID part
// (web build) and awaits init(); the region names follow when the first ID is
// typed (loadRegionNames), so the first load carries the rules only.
import init, { validateTaxId, loadRegionNames } from '/pkg/taxid.js';

const input = document.getElementById('tax-id');
const status = document.getElementById('tax-id-status');
const suggestions = document.getElementById('suggestions');
const confirmRow = document.getElementById('confirm-row');
const confirmBox = document.getElementById('confirm');
const details = document.getElementById('details');

const KIND = {
  uscc: '统一社会信用代码',
  legacy15: '旧版15位税号',
  legacy17: '旧版17位税号',
  legacy20: '旧版20位税号',
  resident: '居民身份证号码',
};

/** The region names' loading, started by the first ID typed. */
let names = null;

await init();
input.disabled = false;
status.textContent = '请输入纳税人识别号。';
input.focus();

function show() {
  const value = input.value;
  suggestions.hidden = true;
  suggestions.querySelectorAll('button').forEach((b) => b.remove());
  details.hidden = true;
  details.replaceChildren();
  if (!value.trim()) {
    status.className = 'status';
    status.textContent = '请输入纳税人识别号。';
    confirmRow.hidden = true;
    input.removeAttribute('aria-invalid');
    return;
  }
  if (!names) names = loadRegionNames().then(show, () => {});
  const r = validateTaxId(value);
  const overridable = r.errors.length > 0 && r.errors.every((e) => e.overridable);
  confirmRow.hidden = !overridable;
  const confirmed = overridable && confirmBox.checked;
  const ok = r.valid || confirmed;
  input.setAttribute('aria-invalid', String(!ok));
  status.className = 'status ' + (ok ? (r.warnings.length || confirmed ? 'warn' : 'ok') : 'error');
  const lines = [];
  if (r.valid) lines.push(`✓ 有效的${KIND[r.kind]}`);
  else if (confirmed) lines.push(`已确认使用：${r.normalized}`);
  for (const e of r.errors) lines.push(`${confirmed ? '⚠' : '✗'} ${e.message}`);
  for (const w of r.warnings) lines.push(`⚠ ${w.message}`);
  status.replaceChildren(...lines.map((t) => Object.assign(document.createElement('div'), { textContent: t })));

  if (r.suggestions.length) {
    suggestions.hidden = false;
    for (const s of r.suggestions) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = s;
      b.className = 'suggestion';
      b.addEventListener('click', () => {
        input.value = s;
        confirmBox.checked = false;
        show();
        input.focus();
      });
      suggestions.append(b);
    }
  }

  const d = r.details;
  const rows = [
    ['类型', r.kind && KIND[r.kind]],
    ['规范化', r.normalized],
    ['登记管理部门', d.registrationAuthority],
    ['机构类别', d.entityType],
    // regionName is absent while the names load, null for a code in no edition.
    ['行政区划', d.regionCode && `${d.regionCode} ${'regionName' in d ? (d.regionName ?? '（未知）') : '…'}${d.regionRetired ? `（${d.regionRetiredYear}年起停用）` : ''}`],
    ['组织机构代码', d.organizationCode],
    ['出生日期', d.birthDate],
  ].filter(([, v]) => v);
  if (rows.length) {
    details.hidden = false;
    for (const [k, v] of rows) {
      details.append(Object.assign(document.createElement('dt'), { textContent: k }));
      details.append(Object.assign(document.createElement('dd'), { textContent: v }));
    }
  }
}

input.addEventListener('input', () => {
  confirmBox.checked = false;
  show();
});
confirmBox.addEventListener('change', show);
