// serve: `npm run playground` — the playground from its sources on http://localhost:8000, rebuilt on
// every save, and the open page reloads itself (esbuild's change events; main.ts listens in dev).
//
// Worked example:  npm run playground            → http://localhost:8000/
//                  npm run playground -- --port 3000
// The dev page has no service worker (it would serve the previous build while you edit); the built
// page (npm run build:playground) has one.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { appOptions, PLAYGROUND } from './build.js';

const DEV = join(PLAYGROUND, 'dist-dev');
const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const port = Number(flag('--port') ?? 8000);
const host = flag('--host') ?? 'localhost';
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`playground: --port takes a port number, not ${flag('--port')}`);
  process.exit(2);
}

rmSync(DEV, { recursive: true, force: true });
mkdirSync(DEV, { recursive: true });
// index.html loads ./main.js and ./main.css, the names of the dev build's outputs
copyFileSync(join(PLAYGROUND, 'index.html'), join(DEV, 'index.html'));
const ctx = await esbuild.context({ ...appOptions(true), outdir: DEV, logLevel: 'info' });
await ctx.watch();
const served = await ctx.serve({ servedir: DEV, port, host });
console.log(`deltagrad playground: http://${host}:${served.port}/  (live reload; Ctrl-C stops)`);
