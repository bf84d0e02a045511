import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The visualizer is built into dist/vision (served by `drp-sim vision`); `npm run build` runs this.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/vision', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
});
