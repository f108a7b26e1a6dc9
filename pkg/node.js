// Entry for Node.js (>= 18): the module is compiled and instantiated while this
// file is imported, so every export can be called right after `await import(...)`.
import { readFileSync } from 'node:fs';
import { initSync } from './fapiao.js';

initSync({ module: readFileSync(new URL('./fapiao_bg.wasm', import.meta.url)) });

export * from './fapiao.js';
export { default } from './fapiao.js';
