// Builds the single-page app into dist/, which `pulse-etl serve` embeds: hashed file names
// under assets/ (cached for a year), index.html never cached. Nothing loads from a CDN.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, assetsInlineLimit: 0 },
  server: { proxy: { "/api": "http://127.0.0.1:8080", "/ws": { target: "ws://127.0.0.1:8080", ws: true } } },
});
