// Property: any name the language accepts works as a tensor, an input, an output and a def — names
// that are keys of Object.prototype (toString, __proto__, constructor …), names of JavaScript values
// (Infinity, NaN, undefined) and letters beyond ASCII. derive's gradients, evaluate's result and the
// --at values are plain records whose own keys are exactly the tensors' names, the numbers agree with
// central differences, and an infinite constant prints as something that reads back as ∞ — not as
// the name Infinity.
//
// Seeded and reproducible (DELTAGRAD_PROPERTY_SEED, DELTAGRAD_PROPERTY_PATH).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { derive } from '../../src/diff/derive.js';
import { check } from '../../src/ir/check.js';
import { evaluate } from '../../src/ir/evaluate.js';
import { checkGradients } from '../helpers.js';

const SEED = Number(process.env.DELTAGRAD_PROPERTY_SEED ?? 20260601);
const PATH = process.env.DELTAGRAD_PROPERTY_PATH;

export const TRICKY = [
  'toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable',
  'toLocaleString', '__defineGetter__', '__lookupSetter__', 'Infinity', 'NaN', 'undefined', 'null', 'λ', 'θ2', 'é', '𝑥', '中', 'x_1',
];

/** Programs of the tricky names a, b (scalar inputs), t (a tensor input), y (an intermediate), o (the output) and f (a def). */
const TEMPLATES: ((n: Record<'a' | 'b' | 't' | 'y' | 'o' | 'f', string>) => string)[] = [
  ({ a, b, o }) => `${o} = ${a}*${b} + sin(${a})`,
  ({ a, t, y, o }) => `dims N=3\n${t}: [N]\n${y}[i] = ${t}[i]*${a}\n${o} = sum(i) ${y}[i]^2`,
  ({ a, b, o, f }) => `def ${f}(x) = x*sigmoid(x)\n${o} = ${f}(${a}) + ${f}(${a}*${b})`,
  ({ a, t, o, f }) => `dims N=2\n${t}: [N]\ndef ${f}(x, s) = s*x^2\n${o}[i] = ${f}(${t}[i], ${a})`,
];

const program = fc
  .tuple(fc.shuffledSubarray(TRICKY, { minLength: 6, maxLength: 6 }), fc.nat({ max: TEMPLATES.length - 1 }))
  .map(([[a, b, t, y, o, f], k]) => ({ names: { a: a!, b: b!, t: t!, y: y!, o: o! }, source: TEMPLATES[k]!({ a: a!, b: b!, t: t!, y: y!, o: o!, f: f! }) }));

/** Own keys only, in order; and no inherited key answers for a missing one. */
function expectKeys(record: object, keys: readonly string[]) {
  expect(Object.keys(record).sort()).toEqual([...keys].sort());
  for (const k of keys) expect(Object.hasOwn(record, k), `own key ${k}`).toBe(true);
  expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
}

describe('tricky names', () => {
  it('work in derive and evaluate: own keys, right numbers', () => {
    fc.assert(
      fc.property(program, ({ source }) => {
        const p = check(source);
        const inputs = p.tensors.filter((t) => t.role === 'input').map((t) => t.name);
        const r = derive(source);
        // a gradient for every input and intermediate (each template's intermediates read an input)
        expectKeys(r.gradients, p.tensors.filter((t) => t.role !== 'output').map((t) => t.name));
        for (const n of inputs) expect(r.gradients[n]!.index.startsWith(`d${n}`)).toBe(true);
        // the derived program runs with these names (the checker, the interpreter's environment and
        // its result), and its gradients are those of central differences
        const c = checkGradients(source, {}, { lo: 0.5, hi: 1.5 });
        for (const n of inputs) expect(c.errors[n], `d${n} of\n${source}`).toBeLessThan(1e-6);
        const assigned = p.statements.map((s) => s.tensor);
        expectKeys(evaluate(source, c.inputs), assigned);
      }),
      { seed: SEED, numRuns: 60, ...(PATH ? { path: PATH } : {}) },
    );
  });

  it('work in derive --at and its JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(TRICKY, { minLength: 3, maxLength: 3 }), async (names) => {
        const [a, b, o] = names as [string, string, string];
        let out = '';
        let err = '';
        const io = { out: (s: string) => (out += s + '\n'), err: (s: string) => (err += s + '\n') };
        const code = await main(['-e', `${o} = ${a}*${b}`, '--at', `${a}=2,${b}=3`, '--format', 'json'], io);
        expect(err).toBe('');
        expect(code).toBe(0);
        const j = JSON.parse(out);
        expect(j.at).toEqual(JSON.parse(JSON.stringify(Object.fromEntries([[a, 2], [b, 3]]))));
        expect(Object.keys(j.values)).toEqual([o, `d${a}`, `d${b}`]);
        expect([j.values[o], j.values[`d${a}`], j.values[`d${b}`]]).toEqual([6, 3, 2]);
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('r.gradients.__proto__ and r.gradients.toString are the gradients', () => {
    const r = derive('f = __proto__*toString');
    expect(r.gradients.__proto__!.index).toBe('d__proto__ = toString');
    const toString: string = 'toString'; // r.gradients.toString, which TypeScript types as the method
    expect(r.gradients[toString]!.index).toBe('dtoString = __proto__');
    const v = evaluate(r.program, Object.fromEntries([['__proto__', 2], ['toString', 5]]));
    expect([v.f![0], v.d__proto__![0], v.dtoString![0]]).toEqual([10, 5, 2]);
    // a missing input named like a key of Object.prototype is missing, not the inherited method
    expect(() => evaluate('f = toString*2', {})).toThrow('missing input toString');
  });

  it('an infinite constant prints as (1/0) and reads back as ∞, beside an input named Infinity', () => {
    const r = derive('f = Infinity*x*10^400 - NaN*y*10^400 + z*(0-1)^0.5');
    expect(r.gradients.x!.index).toBe('dx = (1/0)*Infinity');
    expect(r.gradients.y!.index).toBe('dy = (-1/0)*NaN');
    expect(r.gradients.z!.index).toBe('dz = sqrt(-1)');
    expect(r.gradients.x!.latex).toContain('\\infty');
    const v = evaluate(r.program, { Infinity: 2, x: 1, NaN: 3, y: 1, z: 1 });
    expect([v.dx![0], v.dy![0], v.dInfinity![0], v.dNaN![0]]).toEqual([Infinity, -Infinity, Infinity, -Infinity]);
    expect(Number.isNaN(v.dz![0])).toBe(true);
  });
});
