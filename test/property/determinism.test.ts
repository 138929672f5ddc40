// Determinism: the same program derives to byte-identical output — run after run in one process
// (no state leaks between derivations: fresh-name counters, caches), and in two separate processes
// (no dependence on hash seeds, timing or load order).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { derive } from '../../src/index.js';
import { generateProgram } from './generate.js';

// the command as its sources are now (the built one, dist/, is tested from the packed tarball: test/package)
const bin = fileURLToPath(new URL('../../src/bin/derive.ts', import.meta.url));
const command = ['--import', 'tsx', bin];
const layersDir = fileURLToPath(new URL('../../examples/layers/', import.meta.url));

/** Every seed layer, and random programs (with fresh names, Einstein sums, reductions, defs). */
const PROGRAMS: [string, string][] = [
  ...readdirSync(layersDir)
    .filter((f) => f.endsWith('.dg'))
    .sort()
    .map((f): [string, string] => [f, readFileSync(`${layersDir}${f}`, 'utf8')]),
  ...fc
    .sample(fc.tuple(fc.array(fc.nat({ max: 9999 }), { maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 1000 })), { seed: 99, numRuns: 25 })
    .map(([choices, seed], k): [string, string] => [`random program ${k}`, generateProgram(choices, seed).source]),
];

/** A program whose derivation renames binders apart and back (c2, r2, p2) and copies reductions. */
const RENAMING = `dims N, C, H=5, W=4
X: [N, C, H, W]
S: [N, C]
Yt: [N, C]
P[n,c,u,v] = max(i:2, j:2) X[n,c,2*u+i-1,2*v+j]
L = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c]*S[n,c]) / N + sum(n,c,u,v) P[n,c,u,v]^2 / (1 + sum(c2) S[n,c2]^2)`;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  return { code, out, err };
}

describe('derive is deterministic', () => {
  it('repeated derivations in one process give byte-identical results', () => {
    for (const [name, source] of [...PROGRAMS, ['renaming', RENAMING] as [string, string]]) {
      const first = JSON.stringify(derive(source, { steps: true }));
      for (let k = 0; k < 3; k++) expect(JSON.stringify(derive(source, { steps: true })), name).toBe(first);
    }
  });

  it('derivations interleaved with others do not change (no state carried between programs)', () => {
    const alone = PROGRAMS.map(([, s]) => JSON.stringify(derive(s, { steps: true })));
    const reversed = [...PROGRAMS].reverse().map(([, s]) => JSON.stringify(derive(s, { steps: true }))).reverse();
    expect(reversed).toEqual(alone);
  });

  it('two separate processes print byte-identical output, equal to the in-process command', async () => {
    const args = ['-e', RENAMING, '--format', 'json', '--steps'];
    const runs = [0, 1].map(() => spawnSync(process.execPath, [...command, ...args], { encoding: 'utf8' }));
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    expect(runs[1]!.stdout).toBe(runs[0]!.stdout);
    const here = await cli(args);
    expect(here.out).toBe(runs[0]!.stdout);
    expect(JSON.parse(here.out).gradients.X.index).toMatch(/^dX\[n,c,h,w\] = /);
  }, 30_000);
});
