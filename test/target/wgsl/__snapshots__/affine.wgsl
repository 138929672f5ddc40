// ── forward_Y
// Y[n,f] = sum(d) X[n,d]*W[f,d] + b[f]
struct Sizes { s0: i32, s1: i32, s2: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
var<workgroup> As: array<f32, 512>;
var<workgroup> Bs: array<f32, 512>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let D: i32 = sizes.s0;
  let F: i32 = sizes.s1;
  let N: i32 = sizes.s2;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid;
  if (flat < (N + 31) / 32 * ((F + 31) / 32)) {
    let bi: i32 = flat / ((F + 31) / 32);
    let bj: i32 = flat % ((F + 31) / 32);
    // matmul: rows n, columns f, contraction over d; 32×32 tiles of 8×8 invocations
    let hi: i32 = (N + 31) / 32;
    let hi2: i32 = (F + 31) / 32;
    let k: i32 = bi * 32;
    let t: i32 = lid;
    let k2: i32 = bj * 32;
    let ty: i32 = t / 8;
    let tx: i32 = t % 8;
    var acc: array<f32, 16>;
    var bv: array<f32, 4>;
    let k3: i32 = tx * 4;
    let k4: i32 = ty * 4;
    for (var k0: i32 = 0; k0 < D; k0 += 16) {
      for (var l: i32 = 0; l < 8; l++) {
        let e: i32 = t + l * 64;
        let x: i32 = k + e / 16;
        let k5: i32 = k0 + e % 16;
        As[e % 16 * 32 + e / 16] = select(0f, X[x * D + k5], (x < N) && (k5 < D));
      }
      for (var l: i32 = 0; l < 8; l++) {
        let e: i32 = t + l * 64;
        let x2: i32 = k2 + e / 16;
        let k6: i32 = k0 + e % 16;
        Bs[e % 16 * 32 + e / 16] = select(0f, W[x2 * D + k6], (x2 < F) && (k6 < D));
      }
      workgroupBarrier();
      for (var kk: i32 = 0; kk < 16; kk++) {
        let k7: i32 = kk * 32;
        for (var q: i32 = 0; q < 4; q++) {
          bv[q] = Bs[k7 + (k3 + q)];
        }
        for (var r: i32 = 0; r < 4; r++) {
          let a: f32 = As[k7 + (k4 + r)];
          let k8: i32 = r * 4;
          for (var q: i32 = 0; q < 4; q++) {
            acc[k8 + q] = acc[k8 + q] + a * bv[q];
          }
        }
      }
      workgroupBarrier();
    }
    let k9: i32 = k2 + tx * 4;
    let k10: i32 = k + ty * 4;
    for (var r: i32 = 0; r < 4; r++) {
      let k11: bool = k10 + r < N;
      let k12: i32 = (k10 + r) * F;
      let k13: i32 = r * 4;
      for (var q: i32 = 0; q < 4; q++) {
        if (k11 && (k9 + q < F)) {
          Y[k12 + (k9 + q)] = acc[k13 + q] + b[k9 + q];
        }
      }
    }
  }
}

// ── backward_dX
// dX[n,d] = sum(f) W[f,d]*dY[n,f]
struct Sizes { s0: i32, s1: i32, s2: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> dX: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
var<workgroup> As: array<f32, 512>;
var<workgroup> Bs: array<f32, 512>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let D: i32 = sizes.s0;
  let F: i32 = sizes.s1;
  let N: i32 = sizes.s2;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid;
  if (flat < (N + 31) / 32 * ((D + 31) / 32)) {
    let bi: i32 = flat / ((D + 31) / 32);
    let bj: i32 = flat % ((D + 31) / 32);
    // matmul: rows n, columns d, contraction over f; 32×32 tiles of 8×8 invocations
    let hi: i32 = (N + 31) / 32;
    let hi2: i32 = (D + 31) / 32;
    let k: i32 = bi * 32;
    let t: i32 = lid;
    let k2: i32 = bj * 32;
    let ty: i32 = t / 8;
    let tx: i32 = t % 8;
    var acc: array<f32, 16>;
    var bv: array<f32, 4>;
    let k3: i32 = tx * 4;
    let k4: i32 = ty * 4;
    for (var k0: i32 = 0; k0 < F; k0 += 16) {
      for (var l: i32 = 0; l < 8; l++) {
        let e: i32 = t + l * 64;
        let x: i32 = k + e / 16;
        let k5: i32 = k0 + e % 16;
        As[e % 16 * 32 + e / 16] = select(0f, dY[x * F + k5], (x < N) && (k5 < F));
      }
      for (var l: i32 = 0; l < 8; l++) {
        let e: i32 = t + l * 64;
        let x2: i32 = k2 + e % 32;
        let k6: i32 = k0 + e / 32;
        Bs[e] = select(0f, W[k6 * D + x2], (x2 < D) && (k6 < F));
      }
      workgroupBarrier();
      for (var kk: i32 = 0; kk < 16; kk++) {
        let k7: i32 = kk * 32;
        for (var q: i32 = 0; q < 4; q++) {
          bv[q] = Bs[k7 + (k3 + q)];
        }
        for (var r: i32 = 0; r < 4; r++) {
          let a: f32 = As[k7 + (k4 + r)];
          let k8: i32 = r * 4;
          for (var q: i32 = 0; q < 4; q++) {
            acc[k8 + q] = acc[k8 + q] + a * bv[q];
          }
        }
      }
      workgroupBarrier();
    }
    let k9: i32 = k2 + tx * 4;
    let k10: i32 = k + ty * 4;
    for (var r: i32 = 0; r < 4; r++) {
      let k11: bool = k10 + r < N;
      let k12: i32 = (k10 + r) * D;
      let k13: i32 = r * 4;
      for (var q: i32 = 0; q < 4; q++) {
        if (k11 && (k9 + q < D)) {
          dX[k12 + (k9 + q)] = acc[k13 + q];
        }
      }
    }
  }
}

// ── backward_dW
// dW[f,d] = sum(n) X[n,d]*dY[n,f]
struct Sizes { s0: i32, s1: i32, s2: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> dW: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
var<workgroup> As: array<f32, 512>;
var<workgroup> Bs: array<f32, 512>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let D: i32 = sizes.s0;
  let F: i32 = sizes.s1;
  let N: i32 = sizes.s2;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid;
  if (flat < (F + 31) / 32 * ((D + 31) / 32)) {
    let bi: i32 = flat / ((D + 31) / 32);
    let bj: i32 = flat % ((D + 31) / 32);
    // matmul: rows f, columns d, contraction over n; 32×32 tiles of 8×8 invocations
    let hi: i32 = (F + 31) / 32;
    let hi2: i32 = (D + 31) / 32;
    let k: i32 = bi * 32;
    let t: i32 = lid;
    let k2: i32 = bj * 32;
    let ty: i32 = t / 8;
    let tx: i32 = t % 8;
    var acc: array<f32, 16>;
    var bv: array<f32, 4>;
    let k3: i32 = tx * 4;
    let k4: i32 = ty * 4;
    for (var k0: i32 = 0; k0 < N; k0 += 16) {
      for (var l: i32 = 0; l < 8; l++) {
        let e: i32 = t + l * 64;
        let x: i32 = k + e % 32;
        let k5: i32 = k0 + e / 32;
        As[e] = select(0f, dY[k5 * F + x], (x < F) && (k5 < N));
      }
      for (var l: i32 = 0; l < 8; l++) {
        let e: i32 = t + l * 64;
        let x2: i32 = k2 + e % 32;
        let k6: i32 = k0 + e / 32;
        Bs[e] = select(0f, X[k6 * D + x2], (x2 < D) && (k6 < N));
      }
      workgroupBarrier();
      for (var kk: i32 = 0; kk < 16; kk++) {
        let k7: i32 = kk * 32;
        for (var q: i32 = 0; q < 4; q++) {
          bv[q] = Bs[k7 + (k3 + q)];
        }
        for (var r: i32 = 0; r < 4; r++) {
          let a: f32 = As[k7 + (k4 + r)];
          let k8: i32 = r * 4;
          for (var q: i32 = 0; q < 4; q++) {
            acc[k8 + q] = acc[k8 + q] + a * bv[q];
          }
        }
      }
      workgroupBarrier();
    }
    let k9: i32 = k2 + tx * 4;
    let k10: i32 = k + ty * 4;
    for (var r: i32 = 0; r < 4; r++) {
      let k11: bool = k10 + r < F;
      let k12: i32 = (k10 + r) * D;
      let k13: i32 = r * 4;
      for (var q: i32 = 0; q < 4; q++) {
        if (k11 && (k9 + q < D)) {
          dW[k12 + (k9 + q)] = acc[k13 + q];
        }
      }
    }
  }
}

// ── backward_db
// db[f] = sum(n) dY[n,f]
struct Sizes { s0: i32, s1: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let F: i32 = sizes.s0;
  let N: i32 = sizes.s1;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid;
  if (flat < F) {
    let f: i32 = flat;
    // a workgroup per output element: 64 invocations reduce over n, then a tree in workgroup memory
    let t: i32 = lid;
    var acc: f32 = 0f;
    for (var q: i32 = t; q < N; q += 64) {
      acc += dY[q * F + f];
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
      db[f] = red[0];
    }
  }
}
