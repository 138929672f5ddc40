// Running assembled modules in the tests: the runtime's WebAssembly, which TypeScript's ES library
// (all this project compiles against) does not declare.
import { expect } from 'vitest';

export interface Memory {
  readonly buffer: ArrayBuffer;
}
export const WA = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: object } } })
  .WebAssembly;

/** The module's exports, after checking that the engine accepts it. */
export function instantiate<T>(bytes: Uint8Array): T & { memory: Memory } {
  expect(WA.validate(bytes)).toBe(true);
  return new WA.Instance(new WA.Module(bytes)).exports as T & { memory: Memory };
}
