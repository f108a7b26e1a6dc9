// The 批量开票 page on a 10,000-row sheet (2,000 invoices of 5 lines): parse +
// validate + render of the first screen, in desktop Chromium and with the CPU
// slowed 4× (CDP Emulation.setCPUThrottlingRate), then the redraw of the
// virtualised table per scroll step and a cell edit (its order re-checked).
//   bash scripts/build-pkg.sh && node bench/batch-page.mjs [runs]
// Serves www/ and pkg/ itself (no proxy needed). Prints medians; the targets are
// ≤ 1 s (desktop) and ≤ 4 s (4× slower CPU) for the first screen.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../', import.meta.url));
const runs = Number(process.argv[2] ?? 5);
const batch = await import(new URL('../pkg/batch.node.js', import.meta.url));

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8' };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
  const file = path.startsWith('/pkg/') ? join(root, path) : join(root, 'www', path === '/' ? 'index.html' : path);
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

// 2,000 orders × 5 lines, a few with errors (as a real export would have).
const HEADERS = ['订单号', '发票类型', '购买方类型', '购买方名称', '购买方税号', '收票邮箱', '项目名称', '税收分类编码', '规格型号', '单位', '数量', '单价', '金额', '税率', '含税标志', '备注'];
const rows = [];
for (let o = 0; o < 2000; o++) {
  for (let l = 0; l < 5; l++) {
    const q = 1 + ((o + l) % 7);
    const price = `${10 + ((o * 7 + l * 3) % 90)}.50`;
    const amount = (Math.round(q * Number(price) * 100) / 100).toFixed(2);
    const food = l % 2 === 0;
    const first = l === 0;
    rows.push({
      row: rows.length + 2,
      cells: [`BENCH-${o}`, first ? '数电普票' : '', first ? '企业' : '', first ? `北京某某科技有限公司第${o}分公司` : '',
        first ? (o % 97 === 0 ? '91110000600037341N' : '91110000600037341L') : '', first ? 'caiwu@example.com' : '',
        food ? '工作午餐' : '服务器', food ? '3070401000000000000' : '1090511030000000000', '', food ? '份' : '台',
        String(q), price, o % 113 === 0 && l === 1 ? '1.00' : amount, food ? '6%' : '13%', '是', first ? `合同 HT-${o}` : ''],
    });
  }
}
const xlsx = Buffer.from(batch.writeSheet({ headers: HEADERS, headerRow: 1, rows }, 'xlsx'));
console.log(`sheet: ${rows.length} rows, ${xlsx.length} bytes .xlsx`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

for (const rate of [1, 4]) {
  const first = [], read = [], scroll = [], edit = [];
  for (let i = 0; i < runs; i++) {
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const cdp = await p.context().newCDPSession(p);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate });
    await p.goto(`${base}/batch.html`);
    await p.waitForFunction(() => document.documentElement.dataset.ready === 'true');
    await p.locator('#file').setInputFiles({ name: 'bench.xlsx', mimeType: 'application/octet-stream', buffer: xlsx });
    await p.waitForFunction(() => document.documentElement.dataset.checked, null, { timeout: 120000 });
    const t = await p.evaluate(() => window.__batchTimings);
    if (t.rows !== rows.length) throw new Error(`read ${t.rows} rows`);
    first.push(t.firstFrame);
    read.push(t.readAndCheck);
    // Scrolling: 40 steps of about a screen each; the table's own work per step
    // (the rows in view, as HTML) as the page records it.
    scroll.push(await p.evaluate(async () => {
      const g = document.getElementById('grid');
      const work = [];
      for (let k = 1; k <= 40; k++) {
        g.scrollTop = k * 997;
        await new Promise(requestAnimationFrame);
        await new Promise(requestAnimationFrame);
        work.push(window.__batchRenderMs);
      }
      work.sort((a, b) => a - b);
      return work[work.length >> 1];
    }));
    // A cell edit: its order re-checked and the screen redrawn.
    await p.evaluate(() => { document.getElementById('grid').scrollTop = 0; });
    await p.locator('#body tr[data-row="2"] td[data-c="3"]').click();
    await p.locator('#body input.cell-edit').fill('上海某某有限公司');
    edit.push(await p.evaluate(async () => {
      const input = document.querySelector('#body input.cell-edit');
      const start = performance.now();
      input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
      await new Promise(requestAnimationFrame);
      return performance.now() - start;
    }));
    await p.close();
  }
  console.log(`CPU ${rate}×: first screen (read + parse + check + render) median ${median(first).toFixed(0)} ms ` +
    `[${first.map((x) => x.toFixed(0)).join(', ')}] (of which reading and checking in the module ${median(read).toFixed(0)} ms); ` +
    `redraw per scroll step ${median(scroll).toFixed(1)} ms; cell edit re-checked ${median(edit).toFixed(1)} ms`);
}
await browser.close();
server.close();
