// Bundling configuration: the page shell (index.html) loads the Transcrypt output in build/.
// `vite build --mode bench` builds the benchmark page (bench/page/bench.html, transpiled by
// bench/browser.py into .cache/bench-build) into .cache/bench-dist instead; the normal build
// never sees it.
import { createRequire } from 'node:module';
import path from 'node:path';
import { defineConfig, defaultClientConditions } from 'vite';

// Cross-origin isolation lets onnxruntime-web run WASM with several threads.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const product = {
  publicDir: 'public',
  resolve: {
    // onnxruntime-web without its glue code inlined: the glue is loaded from the URL the page
    // sets in ort.env.wasm.wasmPaths, and its WASM threads start from that file. The inlined
    // ("bundle") build starts its threads from the app's own chunk, which hangs.
    conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions],
  },
  server: {
    headers: isolation,
    proxy: { '/api': `http://127.0.0.1:${process.env.PORT || 8000}` },
  },
  preview: { headers: isolation },
  // The tokenizer worker is an ES module importing the transpiled tokenizer.
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
};

// The onnxruntime-web dist folder that transformers.js itself imports (it pins its own
// version): the bench page points transformers.js at these wasm files, never at a CDN.
function transformersOrtDist() {
  const require = createRequire(import.meta.url);
  const transformers = require.resolve('@huggingface/transformers');
  const wasm = createRequire(transformers).resolve('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm');
  return path.dirname(wasm);
}

function bench() {
  return {
    ...product,
    resolve: {
      ...product.resolve,
      alias: { 'transformers-ort-dist': transformersOrtDist() },
    },
    optimizeDeps: { exclude: ['onnxruntime-web', '@huggingface/transformers'] },
    build: {
      ...product.build,
      outDir: '.cache/bench-dist',
      sourcemap: false,
      minify: false,   // readable function names in CPU profiles
      chunkSizeWarningLimit: 4096,
      rolldownOptions: { input: 'bench/page/bench.html' },
    },
  };
}

export default defineConfig(({ mode }) => (mode === 'bench' ? bench() : product));
