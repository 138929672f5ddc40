// npm run example:chain-rule — seed 002's computation graphs, differentiated by deltagrad:
//   f = (x + y)·z at x = −2, y = 5, z = −4, and the sigmoid neuron
//   f = 1/(1 + e^{−(w0·x0 + w1·x1 + w2)}) at w0 = 2, x0 = −1, w1 = −3, x1 = −2, w2 = −3.
// The gradients come from the library (derive for the formulas, compile for the generated kernels,
// evaluate for the intermediate gradients) and are printed next to the numbers the seed works out by hand.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compile, derive, evaluate } from '../src/index.js';

interface Case {
  readonly file: string;
  readonly title: string;
  readonly at: Record<string, number>;
  /** the seed's numbers, as it prints them (2 decimals where it rounds) */
  readonly seed: readonly (readonly [string, number, string])[];
}

const cases: Case[] = [
  {
    file: 'chain_rule.dg',
    title: 'f = (x + y)·z — seed 002, the first computation graph',
    at: { x: -2, y: 5, z: -4 },
    seed: [
      ['f', -12, 'f = q·z = 3·(−4)'],
      ['dq', -4, '∂f/∂q = z'],
      ['dx', -4, '∂f/∂x = ∂f/∂q · ∂q/∂x = z·1'],
      ['dy', -4, '∂f/∂y = z·1'],
      ['dz', 3, '∂f/∂z = q = x + y'],
    ],
  },
  {
    file: 'sigmoid_neuron.dg',
    title: 'the sigmoid neuron f = 1/(1 + e^−(w0·x0 + w1·x1 + w2)) — seed 002',
    at: { w0: 2, x0: -1, w1: -3, x1: -2, w2: -3 },
    seed: [
      ['f', 0.73, 'σ(1)'],
      ['dq', -0.53, '∂f/∂q = −1/q²'],
      ['dw0', -0.2, '∂f/∂w0 = x0·σ(1−σ)'],
      ['dx0', 0.39, '∂f/∂x0 = w0·σ(1−σ)'],
      ['dw1', -0.39, '∂f/∂w1 = x1·σ(1−σ)'],
      ['dx1', -0.59, '∂f/∂x1 = w1·σ(1−σ)'],
      ['dw2', 0.2, '∂f/∂w2 = σ(1−σ)'],
    ],
  },
];

let failures = 0;
for (const c of cases) {
  const path = fileURLToPath(new URL(`layers/${c.file}`, import.meta.url));
  const source = readFileSync(path, 'utf8');
  console.log(`\n━━ ${c.title}\n   program examples/layers/${c.file}, at ${Object.entries(c.at).map(([k, v]) => `${k} = ${v}`).join(', ')}\n`);
  for (const line of source.split('\n').filter((l) => l.trim() && !l.startsWith('#'))) console.log(`     ${line}`);

  // 1. the symbolic gradients: every input and every intermediate of the graph, as deltagrad prints them
  const derived = derive(source);
  console.log('\n   derived backward pass (deltagrad derive):');
  for (const [name, g] of Object.entries(derived.gradients)) console.log(`     ${g.intermediate ? `${g.index.padEnd(22)}   (intermediate ${name})` : g.index}`);

  // 2. the numbers: forward value and input gradients from the generated kernels (compile), the
  //    intermediate gradients from the backward program run by the reference interpreter (evaluate)
  const kernel = compile(source);
  const forward = kernel.forward(c.at);
  const grads = kernel.backward(c.at);
  const all = evaluate(derived.program, c.at);
  const value = (name: string): [number, string] => {
    if (grads[name]) return [grads[name][0]!, 'kernel'];
    if (forward[name]) return [forward[name][0]!, 'kernel'];
    return [all[name]![0]!, 'interpreter'];
  };

  console.log('\n   quantity    deltagrad  computed by   seed 002    seed’s reasoning');
  for (const [name, expected, why] of c.seed) {
    const [v, from] = value(name);
    const decimals = Number.isInteger(expected) ? 0 : 2;
    // the seed rounds to 2 decimals; an integer must match exactly (to rounding error)
    const ok = Number.isInteger(expected) ? Math.abs(v - expected) < 1e-12 : Math.abs(v - expected) <= 0.005 + 1e-12;
    if (!ok) failures++;
    console.log(
      `   ${name.padEnd(9)} ${v.toFixed(6).padStart(10)}  ${from.padEnd(12)} ${expected.toFixed(decimals).padStart(8)} ${ok ? '✓' : '✗'}   ${why}`,
    );
  }
  // cross-check: the interpreter agrees with the compiled kernels on every input gradient
  for (const [name, arr] of Object.entries(grads)) {
    if (Math.abs(arr[0]! - all[name]![0]!) > 1e-12) {
      failures++;
      console.log(`   ✗ ${name}: kernel ${arr[0]} ≠ interpreter ${all[name]![0]}`);
    }
  }
}
console.log(failures ? `\n${failures} value(s) differ from the seed` : '\nevery gradient matches the seed’s numbers (✓ = equal after the seed’s rounding)');
process.exitCode = failures ? 1 : 0;
