// ── forward_Y
// Y[n,c,u,v] = max(i:2,j:2) X[n,c,2*u+i,2*v+j]
struct Sizes { s0: i32, s1: i32, s2: i32, s3: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y_argmax: array<i32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
fn dg_floordiv(a: i32, b: i32) -> i32 { let q = a / b; return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0))); }
var<private> dg_inf_bits: u32 = 0x7f800000u;
fn dg_inf() -> f32 { return bitcast<f32>(dg_inf_bits); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let C: i32 = sizes.s0;
  let H: i32 = sizes.s1;
  let N: i32 = sizes.s2;
  let W: i32 = sizes.s3;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid * 64 + lid;
  if (flat < N * C * (dg_floordiv(H - 2, 2) + 1) * (dg_floordiv(W - 2, 2) + 1)) {
    let n: i32 = dg_floordiv(flat, (dg_floordiv(W - 2, 2) + 1) * (dg_floordiv(H - 2, 2) + 1) * C);
    let c: i32 = dg_floordiv(flat, (dg_floordiv(W - 2, 2) + 1) * (dg_floordiv(H - 2, 2) + 1)) % C;
    let u: i32 = dg_floordiv(flat, dg_floordiv(W - 2, 2) + 1) % (dg_floordiv(H - 2, 2) + 1);
    let v: i32 = flat % (dg_floordiv(W - 2, 2) + 1);
    let hi: i32 = dg_floordiv(H - 2, 2) + 1;
    let hi2: i32 = dg_floordiv(W - 2, 2) + 1;
    let k: i32 = H * W;
    let k2: i32 = (dg_floordiv(H - 2, 2) + 1) * (dg_floordiv(W - 2, 2) + 1);
    let k3: i32 = C * H * W;
    let k4: i32 = C * (dg_floordiv(H - 2, 2) + 1) * (dg_floordiv(W - 2, 2) + 1);
    let k5: i32 = n * k3;
    let k6: i32 = n * k4;
    let k7: i32 = k5 + c * k;
    let k8: i32 = k6 + c * k2;
    let k9: bool = (2 * u >= 0) && (2 * u + 2 <= H);
    let k10: i32 = 2 * u;
    let k11: i32 = k8 + u * hi2;
    var acc: f32 = -dg_inf();
    var arg: i32 = 0;
    let inside: bool = (k9 && (2 * v >= 0)) && (2 * v + 2 <= W);
    if (inside) {
      let k12: i32 = 2 * v;
      for (var i: i32 = 0; i < 2; i++) {
        let k13: i32 = k7 + (k10 + i) * W;
        let k14: i32 = i * 2;
        for (var j: i32 = 0; j < 2; j++) {
          let v2: f32 = X[k13 + (k12 + j)];
          if (v2 > acc) {
            acc = v2;
            arg = k14 + j;
          }
        }
      }
    } else {
      let k15: i32 = 2 * v;
      for (var i2: i32 = 0; i2 < 2; i2++) {
        let k16: bool = k10 + i2 < H;
        let k17: i32 = k7 + (k10 + i2) * W;
        let k18: i32 = i2 * 2;
        for (var j2: i32 = 0; j2 < 2; j2++) {
          let v3: f32 = select(0f, X[k17 + (k15 + j2)], k16 && (k15 + j2 < W));
          if (v3 > acc) {
            acc = v3;
            arg = k18 + j2;
          }
        }
      }
    }
    Y_argmax[k11 + v] = arg;
    Y[k11 + v] = acc;
  }
}

// ── backward_dX
// dX[n,c,h,w] = (argmax(i:2, j:2 @ h%2, w%2) X[n,c,2*(h/2)+i,2*(w/2)+j])*dY[n,c,h/2,w/2]
struct Sizes { s0: i32, s1: i32, s2: i32, s3: i32 }
@group(0) @binding(0) var<uniform> sizes: Sizes;
@group(0) @binding(1) var<storage, read_write> dX: array<f32>;
@group(0) @binding(2) var<storage, read> Y_argmax: array<i32>;
@group(0) @binding(3) var<storage, read> dY: array<f32>;
fn dg_floordiv(a: i32, b: i32) -> i32 { let q = a / b; return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0))); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) wg_count: vec3<u32>, @builtin(local_invocation_index) local_index: u32) {
  let C: i32 = sizes.s0;
  let H: i32 = sizes.s1;
  let N: i32 = sizes.s2;
  let W: i32 = sizes.s3;
  let wid: i32 = i32(wg_id.x + wg_id.y * wg_count.x);
  let lid: i32 = i32(local_index);
  let flat: i32 = wid * 64 + lid;
  if (flat < N * C * H * W) {
    let n: i32 = flat / (W * H * C);
    let c: i32 = flat / (W * H) % C;
    let h: i32 = flat / W % H;
    let w: i32 = flat % W;
    let k: i32 = dg_floordiv(W - 2, 2) + 1;
    let k2: i32 = dg_floordiv(H - 2, 2) + 1;
    let k3: i32 = H * W;
    let k4: i32 = (dg_floordiv(H - 2, 2) + 1) * (dg_floordiv(W - 2, 2) + 1);
    let k5: i32 = C * H * W;
    let k6: i32 = C * (dg_floordiv(H - 2, 2) + 1) * (dg_floordiv(W - 2, 2) + 1);
    let k7: i32 = n * k5;
    let k8: i32 = n * k6;
    let k9: i32 = k7 + c * k3;
    let k10: i32 = k8 + c * k4;
    let k11: i32 = k9 + h * W;
    let k12: bool = h / 2 < k2;
    let k13: i32 = k10 + h / 2 * k;
    let k14: i32 = h % 2 * 2;
    dX[k11 + w] = select(0f, f32((k12 && (w / 2 < k)) && (Y_argmax[k13 + w / 2] == k14 + w % 2)) * dY[k13 + w / 2], k12 && (w / 2 < k));
  }
}
