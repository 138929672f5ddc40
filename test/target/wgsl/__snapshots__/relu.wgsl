// ── forward_Y
// Y[n,d] = relu(X[n,d])
struct Sizes { s0: i32, s1: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
fn dg_relu(x: f32) -> f32 { return select(0f, x, x > 0f); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let D: i32 = sizes.s0;
  let N: i32 = sizes.s1;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid * 64 + lid;
  if (flat < N * D) {
    let n: i32 = flat / D;
    let d: i32 = flat % D;
    let k: i32 = n * D;
    Y[k + d] = dg_relu(X[k + d]);
  }
}

// ── backward_dX
// dX[n,d] = (Y[n,d] > 0)*dY[n,d]
struct Sizes { s0: i32, s1: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> dX: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> dY: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let D: i32 = sizes.s0;
  let N: i32 = sizes.s1;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid * 64 + lid;
  if (flat < N * D) {
    let n: i32 = flat / D;
    let d: i32 = flat % D;
    let k: i32 = n * D;
    dX[k + d] = f32(Y[k + d] > 0f) * dY[k + d];
  }
}
