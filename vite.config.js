// Bundling configuration: the page shell (index.html) loads the Transcrypt output in build/.
import { defineConfig, defaultClientConditions } from 'vite';

// Cross-origin isolation lets onnxruntime-web run WASM with several threads.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
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
});
