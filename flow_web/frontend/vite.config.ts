/// <reference types="vitest/config" />
// Build: `npm run build` writes dist/ (index.html plus content-hashed files under
// dist/assets/), which flow_web's Tornado app serves. Tests: `npm test` runs the
// Vitest suites of the pure modules (*.test.ts) in Node.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
