// evaluate(): bad inputs and sizes are rejected as compile rejects them, naming the tensor and the
// expected size — never a silent result from a shape that cannot be.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluate, InputError } from '../../src/ir/evaluate.js';
import { compile } from '../../src/codegen/compile.js';

const conv = readFileSync(fileURLToPath(new URL('../../examples/layers/conv2d.dg', import.meta.url)), 'utf8');

describe('evaluate rejects bad inputs, naming the tensor and the expected size', () => {
  it('a missing tensor input: its count and shape', () => {
    expect(() => evaluate('dims N=3\nX: [N]\nY[i]=X[i]', {})).toThrow('missing input X: expected 3 values (shape [3])');
  });
  it('a missing input whose sizes are unknown: the shape in sizes', () => {
    expect(() => evaluate('dims N, D=2\nX: [N, D]\nY[i,d]=X[i,d]', {})).toThrow('missing input X: expected N*2 values (shape [N, 2])');
  });
  it('a missing scalar input', () => {
    expect(() => evaluate('f = x*y', { x: 1 })).toThrow('missing input y: expected a number (shape [])');
  });
  it('an unknown extra input, as compile rejects it', () => {
    const src = 'dims N=3\nX: [N]\nY[i]=X[i]';
    expect(() => evaluate(src, { X: [1, 2, 3], Z: [1] })).toThrow('Z is not an input of the program (inputs: X)');
    expect(() => compile(src).forward({ X: new Float64Array(3), Z: new Float64Array(1) })).toThrow('Z is not an input of the program (inputs: X)');
    // an assigned tensor is not an input either
    expect(() => evaluate(src, { X: [1, 2, 3], Y: [0, 0, 0] })).toThrow(/Y is not an input/);
  });
  it('sizes that make a dimension negative, as compile rejects them (conv2d at P=0, H=1)', () => {
    const sizes = { N: 1, C: 1, H: 1, W: 1, F: 1, P: 0 };
    const message = 'the shape of Y is [1, 1, -1, -1] for these sizes: every dimension must be a whole number ≥ 0';
    expect(() => evaluate(conv, { X: [1], K: new Float64Array(9), b: [0] }, { sizes })).toThrow(message);
    expect(() => compile(conv, { sizes })).toThrow(message);
  });
  it('these are InputErrors, which callers can tell from internal faults', () => {
    expect(() => evaluate('f = x*y', { x: 1 })).toThrow(InputError);
  });
});
