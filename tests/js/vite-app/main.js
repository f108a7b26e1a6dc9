import { validateTaxId, validateBuyer } from 'fapiao';
import * as taxid from 'fapiao/taxid';
import { computeInvoice, loadRegionNames as loadInvoiceNames, validateTaxId as invoiceTaxId } from 'fapiao/invoice';

const r = validateTaxId('9111OOOO600037341L');
const b = validateBuyer({ type: 'person', name: '张三' }, { invoiceType: 'special' });
// The light parts are ready on import, like the root, but load their region names on request.
const before = taxid.validateTaxId('91110000600037341L');
const names = await taxid.loadRegionNames();
const after = taxid.validateTaxId('91110000600037341L');
const amounts = computeInvoice({ priceIncludesTax: true, lines: [{ name: '*餐饮服务*工作餐', amount: '106.00', taxRate: '0.06' }] });
const invoiceBefore = invoiceTaxId('91110000600037341L');
await loadInvoiceNames();
document.getElementById('out').textContent = JSON.stringify({
  valid: r.valid,
  code: r.errors[0]?.code,
  suggestion: r.suggestions[0],
  buyerErrors: b.errors.map((e) => e.code),
  rootRegionName: validateTaxId('91110000600037341L').details.regionName,
  taxid: {
    valid: before.valid,
    regionNameBefore: 'regionName' in before.details,
    names,
    regionNameAfter: after.details.regionName,
    hasComputeInvoice: 'computeInvoice' in taxid,
  },
  invoice: {
    totals: [amounts.totals.amountExclTax, amounts.totals.taxAmount, amounts.totals.amountInclTax],
    regionNameBefore: 'regionName' in invoiceBefore.details,
    regionNameAfter: invoiceTaxId('91110000600037341L').details.regionName,
  },
});
