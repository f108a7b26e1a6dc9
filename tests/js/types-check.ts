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
