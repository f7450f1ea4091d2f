import { defineConfig } from "vite";

// The dev server proxies the API to a local host (`make run`, or set
// AGENT_VAULT_URL), so `npm run dev` works against real data.
const api = process.env.AGENT_VAULT_URL ?? "http://127.0.0.1:14321";

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    // Keep dist/README.md: it is the committed placeholder go:embed needs.
    emptyOutDir: false,
    assetsDir: "assets",
    // No inline scripts or data: URLs, so the CSP stays strict.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/v1": api,
      "/health": api,
      "/openapi.json": api,
      "/discover": api,
    },
  },
});
