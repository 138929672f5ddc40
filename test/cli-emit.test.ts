// derive --emit ts when the code generator fails: one line and status 70, not the error's code
// frame and stack. The failure is simulated: emit is replaced by one that throws a many-line error
// (as a verifier's or a parser's would be).
import { describe, expect, it, vi } from 'vitest';

const failure = vi.hoisted(() => ({ error: undefined as unknown }));
vi.mock('../src/codegen/compile.js', () => ({
  emit: () => {
    throw failure.error;
  },
}));

import { main } from '../src/cli.js';

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  return { code, out, err };
}

const MANY_LINES = `verifyLoops: forward_f writes f outside its extent (3:5)
  1 | export function forward_f(t, s) {
> 3 |   f[9] = x;
    |     ^
    at verify (file:///src/loop/verifyLoops.ts:1:2)
    at async lowerToLoops (file:///src/lower/lowerToLoops.ts:3:4)`;

describe('derive --emit ts when emitting fails', () => {
  it('prints one line, the first of the error, and exits 70', async () => {
    failure.error = new Error(MANY_LINES);
    const r = await cli(['-e', 'f = x*y', '--emit', 'ts']);
    expect(r.code).toBe(70);
    expect(r.out).toBe('');
    expect(r.err).toBe('derive: internal error: --emit ts failed: verifyLoops: forward_f writes f outside its extent (3:5) (set DEBUG=deltagrad for details)\n');
  });
  it('whatever was thrown (a throw need not be an Error)', async () => {
    for (const thrown of ['a string', undefined, { code: 42 }]) {
      failure.error = thrown;
      const r = await cli(['-e', 'f = x*y', '--emit', 'ts']);
      expect(r.code).toBe(70);
      expect(r.err.split('\n')).toHaveLength(2);
      expect(r.err).toMatch(/^derive: internal error: --emit ts failed: \S/);
    }
  });
  it('DEBUG=deltagrad prints the rest and the stack', async () => {
    failure.error = new Error(MANY_LINES);
    vi.stubEnv('DEBUG', 'deltagrad');
    try {
      const r = await cli(['-e', 'f = x*y', '--emit', 'ts']);
      expect(r.code).toBe(70);
      expect(r.err).toContain('    at async lowerToLoops');
    } finally {
      vi.unstubAllEnvs();
    }
  });
  it('a bad program is still the user\'s: exit 1 with its location', async () => {
    const r = await cli(['-e', 'f = x $', '--emit', 'ts']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^<program>:1:7: error: syntax error/);
  });
});
