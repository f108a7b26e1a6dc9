// A small static file server for the demo pages and the browser tests: `/` serves
// www/, `/pkg/` the built npm package. No dependencies.
//
//   node scripts/serve.mjs [--port 8080] [--host 127.0.0.1]
//
// The proxy (proxy/) replaces it as the main job's server once it exists.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ts': 'text/plain; charset=utf-8',
};

/** Starts a server; `mounts` maps URL prefixes to folders (longest prefix wins). */
export function startServer({ port = 0, host = '127.0.0.1', mounts } = {}) {
  const table = Object.entries(mounts ?? { '/pkg/': join(root, 'pkg'), '/': join(root, 'www') })
    .map(([prefix, dir]) => [prefix, resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const [prefix, dir] = table.find(([p]) => path.startsWith(p)) ?? [];
      if (!dir) return send(res, 404, 'not found');
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (file !== dir && !file.startsWith(dir + sep)) return send(res, 403, 'forbidden');
      if ((await stat(file).catch(() => null))?.isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file).catch(() => null);
      if (!body) return send(res, 404, 'not found');
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
      });
      res.end(body);
    } catch {
      send(res, 400, 'bad request');
    }
  });
  return new Promise((ok) => server.listen(port, host, () => ok(server)));
}

function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const server = await startServer({ port: Number(arg('--port', 8080)), host: arg('--host', '127.0.0.1') });
  const { address, port } = server.address();
  console.log(`fapiao demo: http://${address}:${port}/  (Ctrl-C to stop)`);
}
