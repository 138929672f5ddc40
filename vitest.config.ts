import { defineConfig } from 'vitest/config';

export default defineConfig({
  // the playground imports the example programs as text (esbuild's text loader in its build)
  plugins: [{ name: 'deltagrad-program-text', transform: (code, id) => (id.endsWith('.dg') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined) }],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // snapshots are golden files: CI must never write them
    update: false,
  },
});
