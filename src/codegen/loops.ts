// The loop IR: what a kernel does, between the math IR and TypeScript text.
//
// Worked example: dX[k,j] = sum(i) A[i,k]*dY[i,j] lowers (unoptimised) to
//   for k in [0, P): for j in [0, N):
//     let $acc = 0
//     for i in [0, M): $acc += A[$pA]*dY[$pdY]   (running offsets advanced by the loop)
//     dX[$o++] = $acc
// Expressions are already JavaScript text (`Code`); the structure (loops, declarations, stores)
// stays data so passes and the emitter can walk it.
export type Code = string;

export type LoopNode =
  /** for (let v = lo; v < hi; v += step, p1 += s1, …) body */
  | {
      readonly k: 'for';
      readonly v: string;
      readonly lo: Code;
      readonly hi: Code;
      readonly step: Code;
      readonly advance: readonly { readonly name: string; readonly by: Code }[];
      readonly body: readonly LoopNode[];
    }
  | { readonly k: 'let'; readonly name: string; readonly init: Code; readonly mutable: boolean }
  | { readonly k: 'set'; readonly name: string; readonly op: '=' | '+=' | '-=' | '*='; readonly value: Code }
  | { readonly k: 'store'; readonly array: string; readonly offset: Code; readonly value: Code }
  | { readonly k: 'if'; readonly cond: Code; readonly then: readonly LoopNode[]; readonly else: readonly LoopNode[] }
  | { readonly k: 'comment'; readonly text: string }
  /** a block of already-written statements (the unrolled GEMM micro-kernel) */
  | { readonly k: 'raw'; readonly lines: readonly string[] };

export interface KernelParam {
  readonly name: string;
  readonly type: 'data' | 'int32';
  readonly role: 'read' | 'write';
}

export interface LoweredKernel {
  readonly name: string;
  /** the statement it computes, in the language (for the doc comment) */
  readonly formula: string;
  readonly tensors: readonly KernelParam[];
  readonly sizes: readonly string[];
  readonly body: readonly LoopNode[];
}

export function renderLoops(nodes: readonly LoopNode[], indent = ''): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    switch (n.k) {
      case 'for': {
        const adv = n.advance.map((a) => `, ${a.name} += ${a.by}`).join('');
        const step = n.step === '1' ? `${n.v}++` : `${n.v} += ${n.step}`;
        out.push(`${indent}for (let ${n.v} = ${n.lo}; ${n.v} < ${n.hi}; ${step}${adv}) {`);
        out.push(...renderLoops(n.body, indent + '  '));
        out.push(`${indent}}`);
        break;
      }
      case 'let':
        out.push(`${indent}${n.mutable ? 'let' : 'const'} ${n.name} = ${n.init};`);
        break;
      case 'set':
        out.push(`${indent}${n.name} ${n.op} ${n.value};`);
        break;
      case 'store':
        out.push(`${indent}${n.array}[${n.offset}] = ${n.value};`);
        break;
      case 'if':
        out.push(`${indent}if (${n.cond}) {`);
        out.push(...renderLoops(n.then, indent + '  '));
        if (n.else.length) {
          out.push(`${indent}} else {`);
          out.push(...renderLoops(n.else, indent + '  '));
        }
        out.push(`${indent}}`);
        break;
      case 'comment':
        out.push(`${indent}// ${n.text}`);
        break;
      case 'raw':
        out.push(...n.lines.map((l) => indent + l));
        break;
      default: {
        const never: never = n;
        throw new Error(`internal: loop node ${JSON.stringify(never)}`);
      }
    }
  }
  return out;
}
