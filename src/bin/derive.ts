#!/usr/bin/env node
// The `derive` command (package.json's bin, built to dist/src/bin/derive.js): src/cli.ts's main
// with the process's arguments, output and exit status.
//
// Worked example:  derive -e 'f = x*y' --at x=2,y=3   prints f = 6, dx = 3, dy = 2 and exits 0.
import { setFlagsFromString } from 'node:v8';

// The command runs once and exits: V8's optimizing compiler (TurboFan) would compile hundreds of the
// compiler's functions on the way, each after little use — an 800-layer chain spent ~1 s of CPU
// compiling beside 1.2 s of running, time the code saved back only in part, and on a busy machine the
// compiling thread takes a core from the work. Eight times V8's default budget (67 584) before a
// function is optimized leaves the short-lived functions in the baseline tiers and still optimizes
// what stays hot (an --at loop, say) a few milliseconds later. Set before the rest is loaded: a
// function takes the budget its feedback is made with.
setFlagsFromString(`--interrupt-budget=${8 * 67_584}`);
const { main } = await import('../cli.js');

// A reader that stops early (`derive … | head`) closes the pipe: that ends the output quietly. Any
// other failure to write (a full disk: `derive … > /dev/full` gives ENOSPC) ends with one line and
// status 74 (EX_IOERR), not an uncaught stack trace; when stderr itself fails there is nowhere to say it.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  try {
    process.stderr.write(`derive: cannot write the output: ${String(e.message ?? e).replace(/, \w+$/, '')}\n`);
  } finally {
    process.exit(74);
  }
});
process.stderr.on('error', () => process.exit(74));

process.exitCode = await main(process.argv.slice(2));
