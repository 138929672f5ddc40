#!/usr/bin/env node
// The `derive` command. It runs bin/derive.bundle.mjs — src/cli.ts and its modules as one JavaScript
// file, built by `npm run build:cli` — when that bundle was built from the sources now in src/
// (the CRC-32 of the sources in its header, checked here in ~5 ms); otherwise it compiles src/ on
// the fly through tsx as before, ~0.3 s slower, so an edited src/ is never answered by stale code.
//
// Worked example:
//   $ DEBUG=deltagrad derive -e 'f = x*y' --at x=2,y=3
//   derive: running bin/derive.bundle.mjs            (on stderr; after an edit to src/:
//   f = 6                                             "… is stale (npm run build:cli); running src/ through tsx")
// DELTAGRAD_CLI=tsx or =bundle forces one path (test/cli-bundle.test.ts compares the two).
import { fileURLToPath } from 'node:url';
import { isFresh } from './bundleStamp.mjs';

// A reader that stops early (`derive … | head`) closes the pipe: that ends the output quietly. Any
// other failure to write (a full disk: `derive … > /dev/full` gives ENOSPC) ends with one line and
// status 74 (EX_IOERR), not an uncaught stack trace; when stderr itself fails there is nowhere to say it.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  try {
    process.stderr.write(`derive: cannot write the output: ${String(e.message ?? e).replace(/, \w+$/, '')}\n`);
  } finally {
    process.exit(74);
  }
});
process.stderr.on('error', () => process.exit(74));

const bundle = new URL('./derive.bundle.mjs', import.meta.url);
const force = process.env.DELTAGRAD_CLI;
const debug = process.env.DEBUG?.includes('deltagrad');

let main;
if (force === 'bundle' || (force !== 'tsx' && isFresh(fileURLToPath(new URL('..', import.meta.url)), bundle))) {
  if (debug) process.stderr.write('derive: running bin/derive.bundle.mjs\n');
  ({ main } = await import(bundle.href));
} else {
  if (debug) process.stderr.write(`derive: ${force === 'tsx' ? 'DELTAGRAD_CLI=tsx' : 'bin/derive.bundle.mjs is stale (npm run build:cli)'}; running src/ through tsx\n`);
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
