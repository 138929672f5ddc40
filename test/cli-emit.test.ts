// derive --emit ts when the code generator or prettier fails: one line and status 70, not the
// error's code frame and stack (prettier's errors carry both). The failure is simulated: emitAsync
// is replaced by one that rejects as prettier does.
import { describe, expect, it, vi } from 'vitest';

const failure = vi.hoisted(() => ({ error: undefined as unknown }));
vi.mock('../src/codegen/compile.js', () => ({
  emitAsync: async () => {
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

const PRETTIER = `prettier: SyntaxError: Unexpected token (3:5)
  1 | export function f() {
> 3 |   x = ;
    |     ^
    at d (file:///node_modules/prettier/plugins/typescript.mjs:1:2)
    at async format (file:///node_modules/prettier/index.mjs:3:4)`;

describe('derive --emit ts when emitting fails', () => {
  it('prints one line, the first of the error, and exits 70', async () => {
    failure.error = new Error(PRETTIER);
    const r = await cli(['-e', 'f = x*y', '--emit', 'ts']);
    expect(r.code).toBe(70);
    expect(r.out).toBe('');
    expect(r.err).toBe('derive: internal error: --emit ts failed: prettier: SyntaxError: Unexpected token (3:5) (set DEBUG=deltagrad for details)\n');
  });
  it('whatever was thrown (a rejection need not be an Error)', async () => {
    for (const thrown of ['a string', undefined, { code: 42 }]) {
      failure.error = thrown;
      const r = await cli(['-e', 'f = x*y', '--emit', 'ts']);
      expect(r.code).toBe(70);
      expect(r.err.split('\n')).toHaveLength(2);
      expect(r.err).toMatch(/^derive: internal error: --emit ts failed: \S/);
    }
  });
  it('DEBUG=deltagrad prints the rest and the stack', async () => {
    failure.error = new Error(PRETTIER);
    vi.stubEnv('DEBUG', 'deltagrad');
    try {
      const r = await cli(['-e', 'f = x*y', '--emit', 'ts']);
      expect(r.code).toBe(70);
      expect(r.err).toContain('    at async format');
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
