// The npm README's examples, run against the installed package: every line of a
// ```js block written as `expression;  // 'expected'` (or true/false/a number) must
// give exactly that, so the README cannot drift from what the package does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

const f = await import('fapiao');
const readme = await readFile(new URL('../../pkg/README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
const EXPECT = /^(.*?);\s*\/\/\s*('(?:[^'\\]|\\.)*'|true|false|-?\d+(?:\.\d+)?)(?:\s|$)/;

function toProgram(block) {
  let checks = 0;
  const body = block.split('\n').map((line) => {
    const importLine = line.match(/^import \{([^}]*)\} from 'fapiao';/);
    if (importLine) return `const {${importLine[1]}} = f;`;
    if (/await import\('fapiao'\)/.test(line)) return line.replace(/await import\('fapiao'\)/, 'f');
    const m = line.match(EXPECT);
    if (m && m[1].trim() && !m[1].trim().startsWith('//')) {
      checks += 1;
      return `assert.deepEqual(${m[1].trim()}, ${m[2]}, ${JSON.stringify(line.trim())});`;
    }
    return line;
  });
  return { checks, source: body.join('\n') };
}

test('the README has examples with expected values', () => {
  const total = blocks.map(toProgram).reduce((n, p) => n + p.checks, 0);
  assert.ok(total >= 10, `only ${total} checked lines`);
});

blocks.forEach((block, i) => {
  const { checks, source } = toProgram(block);
  if (checks === 0) return; // prose-only examples (e.g. loading from a URL)
  test(`README example ${i + 1} (${checks} checked lines)`, async () => {
    const showUnder = () => {};
    const run = new Function('f', 'assert', 'showUnder', `return (async () => {\n${source}\n})();`);
    await run(f, assert, showUnder);
  });
});
