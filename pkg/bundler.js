// Entry for bundlers (Vite, webpack 5, Rollup) and browsers that resolve the
// package's `exports`. The WebAssembly file is located with
// `new URL('fapiao_bg.wasm', import.meta.url)` inside fapiao.js, a pattern every
// current bundler copies as an asset, and instantiated with a top-level await, so
// `import { validateTaxId } from 'fapiao'` is ready to call.
import init from './fapiao.js';

await init();

export * from './fapiao.js';
export { default } from './fapiao.js';
