// What the browser tests share: fapiao-proxy with the sandbox provider serving
// www/ and pkg/ on a free loopback port, and Debian's Chromium.
//   FAPIAO_PROXY_BIN=target/debug/fapiao-proxy node --test tests/js/pages.test.mjs
// Without FAPIAO_PROXY_BIN the proxy is built and taken from $CARGO_TARGET_DIR/debug
// (target/debug when unset).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = fileURLToPath(new URL('../../', import.meta.url));
/** Where the tests write screenshots, to be looked at. */
export const out = fileURLToPath(new URL('./out/', import.meta.url));
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];
const AXE = join(root, 'node_modules/axe-core/axe.min.js');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A temporary folder for the proxy's database (and whatever a test puts beside it,
 * such as a sellers file); `prefix` names it.
 */
export async function tempDir(prefix) {
  await mkdir(out, { recursive: true });
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * Starts fapiao-proxy (sandbox provider, no rate limit, no sandbox failures, its
 * SQLite database in `dir`) with `env` on top, and waits until /healthz answers.
 * `wasm` names a module of pkg/ the test needs (checked to be built).
 * Returns `{ base, stop }`.
 */
export async function startProxy({ dir, env = {}, wasm }) {
  const targetDir = process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target');
  const bin = process.env.FAPIAO_PROXY_BIN ?? join(targetDir, 'debug/fapiao-proxy');
  if (!process.env.FAPIAO_PROXY_BIN) {
    // Up to date in seconds when `cargo test --workspace` ran before.
    const b = spawnSync('cargo', ['build', '--quiet', '-p', 'fapiao-proxy'], { cwd: root, stdio: 'inherit' });
    assert.equal(b.status, 0, 'cargo build -p fapiao-proxy');
  }
  assert.ok(existsSync(bin), `${bin} is missing`);
  if (wasm) assert.ok(existsSync(join(root, 'pkg/wasm', wasm)), 'pkg/ is not built: bash scripts/build-pkg.sh');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = [];
  const proxy = spawn(bin, [], {
    cwd: root,
    env: {
      ...process.env,
      FAPIAO_LISTEN: `127.0.0.1:${port}`,
      FAPIAO_DATABASE_URL: `sqlite:${join(dir, 'fapiao.sqlite')}`,
      FAPIAO_PROVIDER: 'sandbox',
      FAPIAO_STATIC_DIR: join(root, 'www'),
      FAPIAO_PKG_DIR: join(root, 'pkg'),
      FAPIAO_SANDBOX_FAILURE_RATE: '0',
      FAPIAO_SANDBOX_TIMEOUT_RATE: '0',
      FAPIAO_RATE_LIMIT: '0',
      FAPIAO_LOG: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proxy.stdout.on('data', (d) => log.push(String(d)));
  proxy.stderr.on('data', (d) => log.push(String(d)));
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (i > 150 || proxy.exitCode !== null) throw new Error(`fapiao-proxy did not start:\n${log.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async () => {
    if (proxy.exitCode === null) {
      proxy.kill('SIGTERM');
      await new Promise((r) => proxy.once('exit', r));
    }
  };
  return { base, stop };
}

/** Debian's Chromium (or $CHROMIUM), headless, with `extraArgs`. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/** Removes a folder made by `tempDir`. */
export const removeDir = (dir) => (dir ? rm(dir, { recursive: true, force: true }) : undefined);

/** axe-core's violations on page `p`, each as one line, also logged under `what`. */
export async function axe(p, what) {
  await p.addScriptTag({ path: AXE });
  const r = await p.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const res = await axe.run(document, { resultTypes: ['violations'] });
    return res.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  console.log(`axe ${what}: ${r.length} violations${r.length ? `\n  ${r.join('\n  ')}` : ''}`);
  return r;
}
