// inlinedSize's count of a statement in a program with no defs (a plain walk, src/ir/inlinedSize.ts
// countNodes) against its general measure (forced by a def the statement never calls): the same
// size and depth on every statement of every example layer and on deep and wide generated ones.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InlinedSizes } from '../../src/ir/inlinedSize.js';
import { parse, type Ast } from '../../src/ir/parse.js';

const layersDir = fileURLToPath(new URL('../../examples/layers/', import.meta.url));
const LAYERS = readdirSync(layersDir)
  .filter((f) => f.endsWith('.dg'))
  .map((f) => readFileSync(`${layersDir}${f}`, 'utf8'));
const terms = (n: number, f: (k: number) => string, op: string) => Array.from({ length: n }, (_, k) => f(k)).join(op);
const GENERATED = [
  `y = ${terms(3000, (k) => `X[${k % 7}]*${k}`, ' + ')}`,
  `y = ${terms(120, () => 'x', '/')}`,
  `y = ${'('.repeat(100)}x${')'.repeat(100)} - ${terms(200, () => 'x', ' - ')}`,
  'Y[i] = sum(r:4) max(j:N) relu(X[4*i+r, j]) * argmax(k:3 @ i) W[k] + inv(A)[i, i]',
  `y = ${'-'.repeat(50)}x^${terms(40, () => 'z', '^')}`,
];

const rightSides = (source: string): Ast[] => parse(source).flatMap((l) => (l.k === 'assign' ? [l.rhs] : []));

describe('inlinedSize without defs', () => {
  const plain = new InlinedSizes(new Map());
  const general = new InlinedSizes(new Map([['neverCalled', { params: ['x'], body: { k: 'name', name: 'x', span: { line: 1, col: 1, length: 1 } } }]]));
  it('counts what the general measure counts', () => {
    const all = [...LAYERS, ...GENERATED].flatMap(rightSides);
    expect(all.length).toBeGreaterThan(30);
    for (const rhs of all) expect(plain.statement(rhs)).toEqual(general.statement(rhs));
  });
  it('counts nodes and levels', () => {
    expect(plain.statement(rightSides('y = a*(b + 2)')[0]!)).toEqual({ size: 5, depth: 3, calls: [] });
  });
});
