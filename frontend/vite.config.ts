/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` serves the console on :5173 and forwards the API prefixes to the platform
// (`ministudio up`, :8000 unless MINISTUDIO_URL says otherwise). `npm run build` writes
// dist/, which Django serves at / (hashed files under assets/ are cached for a year).
const platform = process.env.MINISTUDIO_URL ?? "http://127.0.0.1:8000";
const proxied = ["/console/api", "/compatible-mode", "/api/v1", "/mcp", "/admin", "/static"];

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: Object.fromEntries(proxied.map((prefix) => [prefix, { target: platform }])),
  },
  build: {
    assetsDir: "assets",
    chunkSizeWarningLimit: 2000,
  },
  test: {
    environment: "happy-dom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    // Page tests render antd forms and wait on conditions (findBy*, waitFor); a busy
    // machine stretches a 1-second test past vitest's default 5 s without it being stuck.
    testTimeout: 30_000,
  },
});
