import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Run from the repository root as `vite build web`, so `root` is this folder.
// GATEHOUSE_URL points the dev server's API calls at a running gateway.
const gateway = process.env.GATEHOUSE_URL;

export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  build: { outDir: '../dist/web', emptyOutDir: true, sourcemap: true },
  server: gateway === undefined ? {} : { proxy: { '/gatehouse': { target: gateway, secure: false, changeOrigin: true } } },
});
