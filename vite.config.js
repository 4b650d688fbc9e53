// Bundling configuration: the page shell (index.html) loads the Transcrypt output in build/.
import { defineConfig } from 'vite';

// Cross-origin isolation lets onnxruntime-web run WASM with several threads.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  publicDir: 'public',
  server: {
    headers: isolation,
    proxy: { '/api': `http://127.0.0.1:${process.env.PORT || 8000}` },
  },
  preview: { headers: isolation },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
});
