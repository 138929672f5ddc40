// ── forward_L
// L = sum(n) (logsumexp(c) S[n,c] - sum(c2) Yt[n,c2]*S[n,c2])/N
struct Sizes { s0: i32, s1: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> L: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> Yt: array<f32>;
var<workgroup> red: array<f32, 64>;
var<private> dg_inf_bits: u32 = 0x7f800000u;
fn dg_inf() -> f32 { return bitcast<f32>(dg_inf_bits); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let C: i32 = sizes.s0;
  let N: i32 = sizes.s1;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid;
  if (flat < 1) {
    let t: i32 = lid;
    // a workgroup per output element: 64 invocations reduce over n, then a tree in workgroup memory
    var acc: f32 = 0f;
    for (var q: i32 = t; q < N; q += 64) {
      var max_: f32 = -dg_inf();
      let k: i32 = q * C;
      for (var c: i32 = 0; c < C; c++) {
        if (S[k + c] > max_) {
          max_ = S[k + c];
        }
      }
      var acc2: f32 = 0f;
      for (var c2: i32 = 0; c2 < C; c2++) {
        acc2 += exp(S[k + c2] - max_);
      }
      let log_: f32 = select(log(acc2), 0f, max_ == -dg_inf());
      var acc3: f32 = 0f;
      for (var c2_2: i32 = 0; c2_2 < C; c2_2++) {
        acc3 += Yt[k + c2_2] * S[k + c2_2];
      }
      acc += (max_ + log_ - acc3) / f32(N);
    }
    red[t] = acc;
    workgroupBarrier();
    if (t < 32) {
      red[t] = red[t] + red[t + 32];
    }
    workgroupBarrier();
    if (t < 16) {
      red[t] = red[t] + red[t + 16];
    }
    workgroupBarrier();
    if (t < 8) {
      red[t] = red[t] + red[t + 8];
    }
    workgroupBarrier();
    if (t < 4) {
      red[t] = red[t] + red[t + 4];
    }
    workgroupBarrier();
    if (t < 2) {
      red[t] = red[t] + red[t + 2];
    }
    workgroupBarrier();
    if (t < 1) {
      red[t] = red[t] + red[t + 1];
    }
    workgroupBarrier();
    if (t == 0) {
      L[0] = red[0];
    }
  }
}

// ── backward_dS
// dS[n,c] = dL*(exp(S[n,c] - logsumexp(c2) S[n,c2]) - Yt[n,c])/N
struct Sizes { s0: i32, s1: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> dS: array<f32>;
@group(0) @binding(2) var<storage, read> dL: array<f32>;
@group(0) @binding(3) var<storage, read> S: array<f32>;
@group(0) @binding(4) var<storage, read> Yt: array<f32>;
var<private> dg_inf_bits: u32 = 0x7f800000u;
fn dg_inf() -> f32 { return bitcast<f32>(dg_inf_bits); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let C: i32 = sizes.s0;
  let N: i32 = sizes.s1;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid * 64 + lid;
  if (flat < N * C) {
    let n: i32 = flat / C;
    let c: i32 = flat % C;
    let k: i32 = n * C;
    var max_: f32 = -dg_inf();
    for (var c2: i32 = 0; c2 < C; c2++) {
      if (S[k + c2] > max_) {
        max_ = S[k + c2];
      }
    }
    var acc: f32 = 0f;
    for (var c2_2: i32 = 0; c2_2 < C; c2_2++) {
      acc += exp(S[k + c2_2] - max_);
    }
    let log_: f32 = select(log(acc), 0f, max_ == -dg_inf());
    dS[k + c] = dL[0] * (exp(S[k + c] - max_ - log_) - Yt[k + c]) / f32(N);
  }
}

// ── backward_dYt
// dYt[n,c] = -S[n,c]*dL/N
struct Sizes { s0: i32, s1: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> dYt: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> dL: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let C: i32 = sizes.s0;
  let N: i32 = sizes.s1;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid * 64 + lid;
  if (flat < N * C) {
    let n: i32 = flat / C;
    let c: i32 = flat % C;
    let k: i32 = n * C;
    dYt[k + c] = -(S[k + c] * dL[0] / f32(N));
  }
}
