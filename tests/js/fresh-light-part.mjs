// Run by tests/js/parts.test.mjs in a child process: fapiao/taxid as a page
// without a bundler gets it (the web entry, initialised by hand), so that its
// region names are not loaded yet. Compares the quick path with the general path
// before and after loadRegionNames(text); prints a JSON report as its last line.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inspect, isDeepStrictEqual } from 'node:util';
import { mixedInputs } from './taxid-inputs.mjs';

const require = createRequire(import.meta.url);
const part = await import('fapiao/taxid/web');
const gen = await import('fapiao/wasm/taxid.js');
part.initSync({ module: readFileSync(require.resolve('fapiao/wasm/taxid_bg.wasm')) });

const inputs = mixedInputs(41);
const mismatches = [];
let compared = 0;
function compare(stage) {
  for (const round of [1, 2]) {
    for (const x of inputs) {
      // Strict: a field left as undefined or a symbol is not the same as one left out.
      const quick = part.validateTaxId(x);
      const general = JSON.parse(JSON.stringify(gen.validateTaxId(x)));
      compared++;
      if (!isDeepStrictEqual(quick, general) && mismatches.length < 5) {
        mismatches.push({ stage, round, input: x, quick: inspect(quick, { depth: 4 }), general: JSON.stringify(general) });
      }
    }
  }
}

const loadedBefore = part.regionNamesLoaded();
part.validateTaxId('91110000600037341L');
const before = part.validateTaxId('91110000600037341L');
const regionNameBefore = 'regionName' in before.details;
compare('before loadRegionNames');
const names = await part.loadRegionNames(readFileSync(require.resolve('fapiao/wasm/region-names.txt'), 'utf8'));
const regionNameAfter = part.validateTaxId('91110000600037341L').details.regionName;
compare('after loadRegionNames');
console.log(JSON.stringify({ loadedBefore, regionNameBefore, names, regionNameAfter, compared, mismatches }));
