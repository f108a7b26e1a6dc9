// The parts of the npm package and the functions each exports (besides `default`
// — init —, `initSync` and the `__fp…` internals of the boundary), for the tests
// in parts.test.mjs, browser.test.mjs and their child processes. A part must export
// exactly these: nothing of another part may leak in.
const TAXID = ['validateTaxId', 'validateTaxIds', 'validateBuyer', 'regionName', 'regionNamesLoaded', 'loadRegionNames', 'version'];
const INVOICE = [...TAXID, 'computeInvoice', 'amountInWords', 'buildIssueRequest'];
const ADVANCED = [...INVOICE, 'applyOrderDiscount', 'splitInvoice', 'computeRedInvoice', 'buildRedRequest'];
const TAXCODES = ['lookupTaxCode', 'searchTaxCodes', 'formatItemName', 'checkItemName', 'loadTaxCodes',
  'loadTaxCodeDescriptions', 'resetTaxCodes', 'taxCodeTableInfo', 'prepareTaxCodeSearch', 'version'];
const QR = ['parseTitleQr', 'parseReceipt', 'qrSvg', 'version'];
const CAMERA = ['decodeQrImage', 'version'];
/** 批量开票 only (not in the root): the batch part is everything of advanced and these. */
export const BATCH_ONLY = ['readSheet', 'checkSheet', 'checkFile', 'writeResults', 'writeSheet', 'batchTemplate', 'batchColumns'];
const BATCH = [...ADVANCED, ...BATCH_ONLY];

/** The part with discounts, splitting and red letters (`fapiao/advanced`). */
export const ADVANCED_PART = 'advanced';

/** Subpath name → function names. */
export const PART_FUNCTIONS = { taxid: TAXID, invoice: INVOICE, [ADVANCED_PART]: ADVANCED, taxcodes: TAXCODES, qr: QR, camera: CAMERA, batch: BATCH };

/** The parts that check taxpayer IDs and load region names at run time (the root embeds them). */
export const LIGHT = ['taxid', 'invoice', ADVANCED_PART, 'batch'];

/** The parts that compute amounts and build issuing requests. */
export const INVOICE_PARTS = ['invoice', ADVANCED_PART, 'batch'];

/** The functions shared/spec/js-api.md names: the root must keep every one. */
export const JS_API = ['validateTaxId', 'validateBuyer', 'parseTitleQr', 'parseReceipt', 'computeInvoice', 'amountInWords',
  'lookupTaxCode', 'searchTaxCodes', 'formatItemName', 'loadTaxCodes', 'buildIssueRequest', 'buildRedRequest'];
