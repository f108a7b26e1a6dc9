import { validateTaxId, validateBuyer } from 'fapiao';

const r = validateTaxId('9111OOOO600037341L');
const b = validateBuyer({ type: 'person', name: '张三' }, { invoiceType: 'special' });
document.getElementById('out').textContent = JSON.stringify({
  valid: r.valid,
  code: r.errors[0]?.code,
  suggestion: r.suggestions[0],
  buyerErrors: b.errors.map((e) => e.code),
});
