// deltagrad: symbolic matrix calculus for index-expression programs.
export { derive, deriveProgram, type DeriveResult, type GradientForms, type DeriveOptions } from './diff/derive.js';
export { evaluate, run, type Inputs } from './ir/evaluate.js';
export { check as parse, check } from './ir/check.js';
export { DeltagradError, formatError, type ErrorCode } from './ir/errors.js';
export { DEFAULT_LIMITS, type Limits } from './ir/limits.js';
export { numericGradient, relativeError, randomInputs, seededRandom } from './ir/gradcheck.js';
export type { Program, Statement, Expr } from './ir/types.js';
export { compile, emit, emitAsync, type Kernel, type CompileOptions, type Dtype } from './codegen/compile.js';
export type { ThreadedKernel } from './codegen/threaded.js';
export { operator, type Operator, type OperatorContext } from './codegen/operator.js';
export type { WebGpuCompileOptions, WebGpuKernel } from './codegen/compileWebgpu.js';
export type { GpuForward, GpuInput, GpuKernel } from './webgpu/gpuKernel.js';
export { requestGpuDevice, type GpuDevice } from './webgpu/gpuTypes.js';
export { gpuTensor, type GpuTensor } from './webgpu/tensor.js';
