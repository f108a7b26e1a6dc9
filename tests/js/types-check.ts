// Compiled with `tsc --noEmit` (tests/js/tsconfig.json) against the installed package:
// if a declared type drifts from what these lines use, the test run fails.
import { validateTaxId, validateBuyer, regionName } from 'fapiao';
import type { TaxIdResult, TaxIdKind, Issue, BuyerResult } from 'fapiao';

const r: TaxIdResult = validateTaxId('91110000600037341L');
const valid: boolean = r.valid;
const kind: TaxIdKind | null = r.kind;
const first: Issue | undefined = r.errors[0];
const code: string | undefined = first?.code;
const overridable: true | undefined = first?.overridable;
const region: string | null | undefined = r.details.regionName;
const suggestion: string | undefined = r.suggestions[0];
const highlight: number[] | undefined = r.suggestionEdits[0]?.positions;

const b: BuyerResult = validateBuyer(
  { type: 'company', name: '北京某某科技有限公司', taxId: '91110000600037341L' },
  { invoiceType: 'special', confirmed: ['TAXID_CHECKSUM'] },
);
const field: string | undefined = b.errors[0]?.field;
const name: string = b.normalized.name;
const where: string | undefined = regionName('110101');
// Options may be left out (数电普票).
const plain: BuyerResult = validateBuyer({ type: 'person', name: '张三' });

// @ts-expect-error: invoiceType is a closed union.
validateBuyer({}, { invoiceType: 'vat' });
// @ts-expect-error: kind is not any.
const wrong: number = r.kind;

export { plain, valid, kind, code, overridable, region, suggestion, highlight, field, name, where, wrong };

// ---------------------------------------------------------------------------
// The parts, each by its subpath: a declaration missing from a part, or one that
// leaks in from another part, fails the check.
import * as taxid from 'fapiao/taxid';
import * as invoice from 'fapiao/invoice';
import * as advanced from 'fapiao/advanced';
import * as taxcodes from 'fapiao/taxcodes';
import * as qr from 'fapiao/qr';
// The web entries (`fapiao/<part>/web`) resolve only through the `exports` map:
// with a resolution that ignores it (moduleResolution "node10") this import fails.
import initTaxidWeb, { validateTaxId as validateTaxIdWeb, loadRegionNames as loadNamesWeb } from 'fapiao/taxid/web';
import initInvoiceWeb, { computeInvoice as computeInvoiceWeb } from 'fapiao/invoice/web';
import type {
  TaxIdBatchResult, TaxIdResult as PartTaxIdResult, BuyerResult as PartBuyerResult,
} from 'fapiao/taxid';
import type { InvoiceResult, BuildResult, IssueRequest } from 'fapiao/invoice';
import type { OrderDiscountResult, SplitResult, RedResult, RedRequest } from 'fapiao/advanced';
import type { TaxCode, TaxCodeHit, ItemNameResult, TaxCodeLoadResult, TaxCodeTableInfo } from 'fapiao/taxcodes';
import type { TitleQrResult, ReceiptResult } from 'fapiao/qr';

for (const part of [taxid, invoice, advanced]) {
  const one: PartTaxIdResult = part.validateTaxId('91110000600037341L');
  const batch: TaxIdBatchResult = part.validateTaxIds(['91110000600037341L', null, undefined]);
  const count: number = batch.count;
  const validCount: number = batch.validCount;
  const firstValid: boolean | undefined = batch.valid[0];
  const problemIndex: number | undefined = batch.problems[0]?.index;
  const problem: PartTaxIdResult | undefined = batch.problems[0]?.result;
  const names: Promise<number> = part.loadRegionNames();
  const fromText: Promise<number> = part.loadRegionNames('北京市\n');
  const loaded: boolean = part.regionNamesLoaded();
  const region: string | undefined = part.regionName('110000');
  const buyer: PartBuyerResult = part.validateBuyer({ type: 'person', name: '张三' }, { invoiceType: 'normal' });
  const v: string = part.version();
  // @ts-expect-error: a number is no taxpayer ID.
  part.validateTaxIds([91110000600037341]);
  // @ts-expect-error: loadRegionNames resolves to a count, not to the names.
  const notNames: Promise<string> = part.loadRegionNames();
  void [one, count, validCount, firstValid, problemIndex, problem, names, fromText, loaded, region, buyer, v, notNames];
}

for (const part of [invoice, advanced]) {
  const r: InvoiceResult = part.computeInvoice({ priceIncludesTax: true, lines: [{ name: 'x', amount: '1.06', taxRate: '0.06' }] });
  const words: string = part.amountInWords('106', { style: 'invoice' });
  const req: BuildResult<IssueRequest> = part.buildIssueRequest({
    orderId: 'ORDER-1', buyer: { type: 'person', name: '张三' }, priceIncludesTax: true,
    lines: [{ name: '工作餐', taxCode: '3070401000000000000', amount: '106.00', taxRate: '0.06' }],
  });
  const total: string = r.totals.amountInclTax;
  void [words, req, total];
}

const order = { priceIncludesTax: true, lines: [{ name: 'x', amount: '1000.00', taxRate: '0.13' }] };
const discounted: OrderDiscountResult = advanced.applyOrderDiscount(order, '10.00');
const split: SplitResult = advanced.splitInvoice(order, { maxAmount: '500' });
const red: RedResult = advanced.computeRedInvoice({ blue: order, reason: '01' });
const redReq: BuildResult<RedRequest> = advanced.buildRedRequest({
  orderId: 'RED-1', blueOrderId: 'ORDER-1', blueInvoiceNumber: '24112000000000000001', reason: '01', full: true,
});

const taxCode: TaxCode | null = taxcodes.lookupTaxCode('3070401000000000000');
const hits: TaxCodeHit[] = taxcodes.searchTaxCodes('cyfw', { limit: 5 });
const itemName: string = taxcodes.formatItemName('3070401000000000000', '午餐');
const checked: ItemNameResult = taxcodes.checkItemName('3070401000000000000', '午餐');
const loadedCodes: TaxCodeLoadResult = taxcodes.loadTaxCodes('');
const loadedDescriptions: TaxCodeLoadResult = taxcodes.loadTaxCodeDescriptions('');
const info: TaxCodeTableInfo = taxcodes.taxCodeTableInfo();
const reset: void = taxcodes.resetTaxCodes();
const prepared: void = taxcodes.prepareTaxCodeSearch();

const title: TitleQrResult = qr.parseTitleQr('$01…$');
const receipt: ReceiptResult = qr.parseReceipt('FP1.x.y');
const svg: string | undefined = qr.qrSvg('https://example.com/');

// A plain page: init() first, then the same functions.
async function page(): Promise<string | null | undefined> {
  await initTaxidWeb();
  await initInvoiceWeb();
  const count: number = await loadNamesWeb();
  const sum: string = computeInvoiceWeb(order).totals.amountInclTax;
  void [count, sum];
  return validateTaxIdWeb('91110000600037341L').details.regionName;
}

// What belongs to another part is not declared in this one.
// @ts-expect-error: fapiao/taxid has no computeInvoice.
taxid.computeInvoice;
// @ts-expect-error: fapiao/taxid has no lookupTaxCode.
taxid.lookupTaxCode;
// @ts-expect-error: fapiao/invoice has no splitInvoice.
invoice.splitInvoice;
// @ts-expect-error: fapiao/invoice has no searchTaxCodes.
invoice.searchTaxCodes;
// @ts-expect-error: fapiao/advanced has no parseTitleQr.
advanced.parseTitleQr;
// @ts-expect-error: fapiao/taxcodes has no validateTaxId.
taxcodes.validateTaxId;
// @ts-expect-error: fapiao/taxcodes has no validateTaxIds.
taxcodes.validateTaxIds;
// @ts-expect-error: fapiao/qr has no computeInvoice.
qr.computeInvoice;
// @ts-expect-error: fapiao/qr has no loadRegionNames.
qr.loadRegionNames;

export { discounted, split, red, redReq, taxCode, hits, itemName, checked, loadedCodes, loadedDescriptions, info, reset, prepared, title, receipt, svg, page };

// fapiao/batch: the sheet functions and their types; the root has none of them.
import * as batchPart from 'fapiao/batch';
import type { BatchReport, BatchFinding, BatchInvoice, Sheet, SheetResult, FileCheck, BatchResultRow } from 'fapiao/batch';
const sheetRead: SheetResult = batchPart.readSheet(new Uint8Array(0), 'orders.csv');
const sheetOf: Sheet | null = sheetRead.sheet;
const batchReport: BatchReport = batchPart.checkSheet({ headers: ['订单号'], headerRow: 1, rows: [] }, { maxAmount: '100000' });
const finding: BatchFinding | undefined = batchReport.findings[0];
const fixValue: string | undefined = finding?.fixes[0]?.value;
const batchInvoice: BatchInvoice | undefined = batchReport.invoices[0];
const batchForm: IssueRequest | undefined = undefined;
const both: FileCheck = batchPart.checkFile(new Uint8Array(0), 'x.xlsx');
const resultRow: BatchResultRow = { orderId: 'A1', status: 'issued', invoiceNumber: '26442000000123456789' };
const resultFile: Uint8Array = batchPart.writeResults([resultRow], 'xlsx');
const templateFile: Uint8Array = batchPart.batchTemplate('csv');
const built = batchPart.buildIssueRequest(batchInvoice?.form ?? { orderId: 'A1', buyer: {}, priceIncludesTax: true, lines: [] });
// @ts-expect-error: the format is "xlsx" or "csv".
batchPart.batchTemplate('pdf');
// @ts-expect-error: the root has no checkSheet.
import('fapiao').then((m) => m.checkSheet);

export { sheetOf, fixValue, batchForm, both, resultFile, templateFile, built };
