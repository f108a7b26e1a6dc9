// Run by tests/js/parts.test.mjs with `node` (Node ≥ 20.19 loads ES modules with
// require() unless they use top-level await): a CommonJS user of every entry.
// Prints one JSON line with a result of each.
'use strict';

const out = {};
const f = require('fapiao');
const beijing = f.validateTaxId('91110000600037341L');
out.fapiao = {
  valid: beijing.valid,
  regionName: beijing.details.regionName,
  amountInclTax: f.computeInvoice({ priceIncludesTax: true, lines: [{ name: 'x', amount: '106.00', taxRate: '0.06' }] }).totals.amountInclTax,
};
// The parts that check taxpayer IDs, as the first argument (JSON).
for (const name of JSON.parse(process.argv[2])) {
  const r = require(`fapiao/${name}`).validateTaxId('91110000600037341L');
  out[name] = { valid: r.valid, regionName: r.details.regionName };
}
out.taxcodes = require('fapiao/taxcodes').lookupTaxCode('3070401000000000000').name;
const text = '测试公司</>91110000600037341L</>北京市海淀区|010-12345678</>中国工商银行|6222000000000000</>6792';
out.qr = require('fapiao/qr').parseTitleQr(`$01${Buffer.from(text).toString('base64')}$`).buyer.taxId;
// A blank 32×32 frame holds no code.
out.camera = require('fapiao/camera').decodeQrImage(new Uint8Array(32 * 32 * 4), 32, 32) ?? 'none';
console.log(JSON.stringify(out));
