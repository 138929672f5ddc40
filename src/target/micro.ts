import type { MicroModule } from '../loop/types.js';
export function microModuleText(m: MicroModule, typed: boolean): string {
  void typed;
  throw new Error(`internal: micro module ${m} not yet`);
}
