/*
 * advx's native WASM kernels (float32, NHWC), built by scripts/build-wasm.sh into kernels.wasm.ts.
 *
 * The module imports TF.js's own WebAssembly.Memory and every pointer below is a byte offset
 * into TF.js's heap (a tensor's memoryOffset), so kernels read and write tensors in place, with
 * no copies. That only works because this code never owns any memory of its own: no static data,
 * no stack frames (all locals live in wasm locals / registers), no malloc. The build script
 * checks the disassembly for any global access (the shadow-stack pointer) and data segments and
 * refuses to emit a module that has them.
 *
 * Built with -O3 -msimd128: 128-bit SIMD (4 floats), twice: plain, where a multiply-add is a
 * multiply then an add (two roundings), and with -mrelaxed-simd, where it is f32x4.relaxed_madd,
 * which x86 (FMA3) and ARM compile to one fused multiply-add (one rounding, or, on hardware
 * without FMA, the same two as plain). Relaxed SIMD is not baseline: the loader picks the
 * relaxed build only where WebAssembly.validate accepts it.
 */
#include <wasm_simd128.h>

/* acc + a·b. Needs clang >= 16 for the relaxed builtin (opcode 0x105, a·b + c operand order). */
#ifdef __wasm_relaxed_simd__
#define MADD(a, b, acc) ((v128_t)__builtin_wasm_relaxed_madd_f32x4((__f32x4)(a), (__f32x4)(b), (__f32x4)(acc)))
#else
#define MADD(a, b, acc) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
#endif

#define INLINE static inline __attribute__((always_inline))
#define EXPORT(name) __attribute__((export_name(#name)))

typedef float f32;

INLINE int imin(int a, int b) { return a < b ? a : b; }
INLINE int imax(int a, int b) { return a > b ? a : b; }
/* ceil(a / b) for b > 0, any sign of a. */
INLINE int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

/* ------------------------------------------------------------------------------------------ */
/* Conv2DBackpropFilter                                                                        */
/* ------------------------------------------------------------------------------------------ */
/*
 * dW[i,j,c,o] = Σ_{n,oy,ox} x[n, oy·SH+i−PT, ox·SW+j−PL, c] · dy[n,oy,ox,o]
 *
 * Over output rows rbeg..rend−1 only (a row is one (n, oy); rows = N·OH), so that threads can
 * each sum a share of the rows into their own dw.
 *
 * Direct: no im2col buffer. Output rows (n, oy) are taken in blocks small enough that the
 * block's dy stays in L1; for each block, each tap (i,j) and each register tile of dW
 * (CB input channels × OV·4 output channels, held in CB·OV accumulators) the tile is loaded,
 * every pixel of the block adds CB·OV outer-product vectors (a splat of x times a row of dy),
 * and the tile is stored back. Taps that fall in the padding are skipped, not multiplied.
 * Tiles of 4 input × 12 output channels where they fit (12 accumulators: one splat of x feeds
 * three products, ~15% faster than 4 × 8 on DANN's and the CNN's second conv; 4 × 16 and 5 × 12
 * were no faster), then 4 × 8, 4 × 4 and narrower tiles for the remainders.
 */
#define FILTER_TILE(CB, OV)                                                                     \
  INLINE void ftile_##CB##_##OV(const f32 *x, const f32 *dy, f32 *dw, int c0, int o0, int r0,  \
                                int r1, int i, int oxlo, int oxhi, int j, int H, int W, int C,  \
                                int OH, int OW, int O, int SH, int SW, int PT, int PL) {        \
    v128_t acc[CB][OV];                                                                         \
    for (int a = 0; a < CB; a++)                                                                \
      for (int v = 0; v < OV; v++) acc[a][v] = wasm_v128_load(dw + (c0 + a) * O + o0 + 4 * v); \
    int n = r0 / OH, oy = r0 - n * OH;                                                          \
    for (int row = r0; row < r1; row++, oy = oy + 1 == OH ? (n++, 0) : oy + 1) {                \
      int r = oy * SH + i - PT;                                                                 \
      if (r < 0 || r >= H) continue;                                                            \
      const f32 *xs = x + ((n * H + r) * W + oxlo * SW + j - PL) * C + c0;                      \
      const f32 *ds = dy + (row * OW + oxlo) * O + o0;                                          \
      const int xstep = SW * C;                                                                 \
      for (int ox = oxlo; ox < oxhi; ox++, xs += xstep, ds += O) {                              \
        v128_t d[OV];                                                                           \
        for (int v = 0; v < OV; v++) d[v] = wasm_v128_load(ds + 4 * v);                         \
        for (int a = 0; a < CB; a++) {                                                          \
          v128_t s = wasm_v128_load32_splat(xs + a);                                            \
          for (int v = 0; v < OV; v++) acc[a][v] = MADD(s, d[v], acc[a][v]); \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
    for (int a = 0; a < CB; a++)                                                                \
      for (int v = 0; v < OV; v++) wasm_v128_store(dw + (c0 + a) * O + o0 + 4 * v, acc[a][v]); \
  }

FILTER_TILE(4, 3)
FILTER_TILE(4, 2)
FILTER_TILE(4, 1)
FILTER_TILE(2, 2)
FILTER_TILE(2, 1)
FILTER_TILE(1, 4)
FILTER_TILE(1, 2)
FILTER_TILE(1, 1)

/* Scalar tile for the last O % 4 output channels. */
INLINE void ftile_scalar(const f32 *x, const f32 *dy, f32 *dw, int o0, int r0, int r1, int i,
                         int oxlo, int oxhi, int j, int H, int W, int C, int CK, int OH, int OW, int O,
                         int SH, int SW, int PT, int PL) {
  for (int row = r0; row < r1; row++) {
    int n = row / OH, oy = row - n * OH;
    int r = oy * SH + i - PT;
    if (r < 0 || r >= H) continue;
    for (int ox = oxlo; ox < oxhi; ox++) {
      const f32 *xs = x + ((n * H + r) * W + ox * SW + j - PL) * C;
      const f32 *ds = dy + (row * OW + ox) * O;
      for (int c = 0; c < CK; c++) {
        f32 xv = xs[c];
        for (int o = o0; o < O; o++) dw[c * O + o] += xv * ds[o];
      }
    }
  }
}

EXPORT(conv2d_backprop_filter)
void conv2d_backprop_filter(const f32 *x, const f32 *dy, f32 *dw, int rbeg, int rend, int H, int W,
                            int C, int OH, int OW, int O, int FH, int FW, int SH, int SW, int PT, int PL) {
  __builtin_memset(dw, 0, (unsigned)(FH * FW * C * O) * sizeof(f32));
  if (OW == 0) return;
  /* ~16 KB of dy per block of output rows. */
  const int rb = imax(1, 4096 / imax(1, OW * O));
  /* A window row that never leaves the input (no left padding and the last window ends inside
   * the row, as in every 'valid' conv) is FW·C contiguous floats of x, and dW's rows for taps
   * (i, 0..FW−1) are contiguous too: such a tap row is one tap of FW·C channels, which tiles
   * better when C is small (C = 3: tiles of 4 instead of 2 + 1 per tap). */
  const int rowTaps = PL == 0 && (OW - 1) * SW + FW <= W;
  const int FWe = rowTaps ? 1 : FW, CK = rowTaps ? FW * C : C;
  for (int r0 = rbeg; r0 < rend; r0 += rb) {
    const int r1 = imin(rend, r0 + rb);
    for (int i = 0; i < FH; i++) {
      for (int j = 0; j < FWe; j++) {
        /* Output columns whose input column ox·SW + j − PL lies inside [0, W). */
        const int oxlo = imax(0, ceil_div(PL - j, SW));
        const int oxhi = imin(OW, (W - 1 + PL - j) / SW + 1);
        if (oxhi <= oxlo) continue;
        f32 *dwt = dw + (i * FW + j) * C * O;
        int c0 = 0;
#define FARGS x, dy, dwt, c0, o0, r0, r1, i, oxlo, oxhi, j, H, W, C, OH, OW, O, SH, SW, PT, PL
        for (; c0 + 4 <= CK; c0 += 4) {
          int o0 = 0;
          for (; o0 + 12 <= O; o0 += 12) ftile_4_3(FARGS);
          for (; o0 + 8 <= O; o0 += 8) ftile_4_2(FARGS);
          for (; o0 + 4 <= O; o0 += 4) ftile_4_1(FARGS);
        }
        for (; c0 + 2 <= CK; c0 += 2) {
          int o0 = 0;
          for (; o0 + 8 <= O; o0 += 8) ftile_2_2(FARGS);
          for (; o0 + 4 <= O; o0 += 4) ftile_2_1(FARGS);
        }
        for (; c0 < CK; c0++) {
          int o0 = 0;
          for (; o0 + 16 <= O; o0 += 16) ftile_1_4(FARGS);
          for (; o0 + 8 <= O; o0 += 8) ftile_1_2(FARGS);
          for (; o0 + 4 <= O; o0 += 4) ftile_1_1(FARGS);
        }
#undef FARGS
        const int o0 = O & ~3;
        if (o0 < O) ftile_scalar(x, dy, dwt, o0, r0, r1, i, oxlo, oxhi, j, H, W, C, CK, OH, OW, O, SH, SW, PT, PL);
      }
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* col2im (the scatter half of Conv2DBackpropInput)                                            */
/* ------------------------------------------------------------------------------------------ */
/*
 * dx[n, oy·SH+i−PT, ox·SW+j−PL, c] += cols[p − p0, (i·FW + j)·C + c] for output pixels
 * p = p0 .. p0+pc−1 (p = (n·OH + oy)·OW + ox). dx must already hold the sum so far (zeros on the
 * first chunk).
 */
EXPORT(col2im)
void col2im(const f32 *cols, f32 *dx, int p0, int pc, int H, int W, int C, int OH, int OW,
            int FH, int FW, int SH, int SW, int PT, int PL) {
  const int K = FH * FW * C;
  const int c4 = C & ~3;
  for (int pp = 0; pp < pc; pp++) {
    const int p = p0 + pp;
    const int n = p / (OH * OW);
    const int rem = p - n * OH * OW;
    const int oy = rem / OW, ox = rem - (rem / OW) * OW;
    const f32 *cv = cols + pp * K;
    for (int i = 0; i < FH; i++) {
      const int r = oy * SH + i - PT;
      if (r < 0 || r >= H) continue;
      for (int j = 0; j < FW; j++) {
        const int col = ox * SW + j - PL;
        if (col < 0 || col >= W) continue;
        f32 *d = dx + ((n * H + r) * W + col) * C;
        const f32 *s = cv + (i * FW + j) * C;
        int c = 0;
        for (; c < c4; c += 4)
          wasm_v128_store(d + c, wasm_f32x4_add(wasm_v128_load(d + c), wasm_v128_load(s + c)));
        for (; c < C; c++) d[c] += s[c];
      }
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* MaxPoolGrad                                                                                 */
/* ------------------------------------------------------------------------------------------ */
/*
 * dx[argmax of window] += dy[window] per channel, the argmax being the first maximum in
 * row-major window order (as TF.js's cpu backend: a value wins only if strictly greater).
 * Non-overlapping windows (stride ≥ filter, the usual 2×2/2 pool) write dx directly: the window
 * max m is taken first, then each window position gets dy where x == m and no earlier position
 * took it, else 0. Overlapping windows keep a running (max, index) per lane and scatter-add.
 * FH/FW are the effective filter sizes; positions outside any window get 0. Images n0..n1−1.
 */
EXPORT(max_pool_grad)
void max_pool_grad(const f32 *x, const f32 *dy, f32 *dx, int n0, int n1, int H, int W, int C,
                   int OH, int OW, int FH, int FW, int SH, int SW, int PT, int PL) {
  const int c4 = C & ~3;
  const int overlap = SH < FH || SW < FW;
  /* Windows that tile a rectangle of the input with no gaps (stride = filter, no padding, C a
   * multiple of 4, the usual 2×2/2 pool) write every dx value inside it; only the rows and
   * columns past it (odd sizes) need zeros. Otherwise zero everything first. */
  const int tiled = SH == FH && SW == FW && PT == 0 && PL == 0 && c4 == C && OH * SH <= H && OW * SW <= W;
  if (tiled) {
    const int RH = OH * SH, RW = OW * SW;
    for (int n = n0; n < n1; n++) {
      f32 *img = dx + n * H * W * C;
      if (RW < W)
        for (int r = 0; r < RH; r++) __builtin_memset(img + (r * W + RW) * C, 0, (unsigned)((W - RW) * C) * sizeof(f32));
      __builtin_memset(img + RH * W * C, 0, (unsigned)((H - RH) * W * C) * sizeof(f32));
    }
  } else {
    __builtin_memset(dx + n0 * H * W * C, 0, (unsigned)((n1 - n0) * H * W * C) * sizeof(f32));
  }
  const v128_t ninf = wasm_f32x4_splat(-__builtin_inff());
  for (int n = n0; n < n1; n++) {
    const int img = n * H * W * C;
    for (int yr = 0; yr < OH; yr++) {
      const int r0 = yr * SH - PT;
      const int rs = imax(0, r0), re = imin(H, r0 + FH);
      for (int yc = 0; yc < OW; yc++) {
        const int q0 = yc * SW - PL;
        const int cs = imax(0, q0), ce = imin(W, q0 + FW);
        const f32 *g = dy + ((n * OH + yr) * OW + yc) * C;
        int d = 0;
        if (!overlap && re - rs == 2 && ce - cs == 2) {
          /* A full 2×2 window (the usual pool): its four vectors are loaded once. */
          f32 *o00 = dx + img + (rs * W + cs) * C, *o10 = o00 + W * C;
          const f32 *x00 = x + img + (rs * W + cs) * C, *x10 = x00 + W * C;
          for (; d < c4; d += 4) {
            const v128_t a = wasm_v128_load(x00 + d), b = wasm_v128_load(x00 + C + d);
            const v128_t e = wasm_v128_load(x10 + d), f = wasm_v128_load(x10 + C + d);
            const v128_t m = wasm_f32x4_pmax(wasm_f32x4_pmax(wasm_f32x4_pmax(ninf, a), b), wasm_f32x4_pmax(e, f));
            v128_t open = wasm_f32x4_gt(m, ninf);
            const v128_t gv = wasm_v128_load(g + d);
            v128_t hit = wasm_v128_and(wasm_f32x4_eq(a, m), open);
            wasm_v128_store(o00 + d, wasm_v128_and(gv, hit));
            open = wasm_v128_andnot(open, hit);
            hit = wasm_v128_and(wasm_f32x4_eq(b, m), open);
            wasm_v128_store(o00 + C + d, wasm_v128_and(gv, hit));
            open = wasm_v128_andnot(open, hit);
            hit = wasm_v128_and(wasm_f32x4_eq(e, m), open);
            wasm_v128_store(o10 + d, wasm_v128_and(gv, hit));
            open = wasm_v128_andnot(open, hit);
            wasm_v128_store(o10 + C + d, wasm_v128_and(gv, wasm_v128_and(wasm_f32x4_eq(f, m), open)));
          }
        } else if (!overlap) {
          /* (Writes every position of the window, so no zeros are needed under it.) */
          for (; d < c4; d += 4) {
            v128_t m = ninf;
            for (int r = rs; r < re; r++)
              for (int c = cs; c < ce; c++)
                m = wasm_f32x4_pmax(m, wasm_v128_load(x + img + (r * W + c) * C + d));
            /* A window of only −∞ (or NaN) has no argmax: no gradient, as in the cpu backend. */
            v128_t open = wasm_f32x4_gt(m, ninf);
            const v128_t gv = wasm_v128_load(g + d);
            for (int r = rs; r < re; r++)
              for (int c = cs; c < ce; c++) {
                const int at = img + (r * W + c) * C + d;
                v128_t hit = wasm_v128_and(wasm_f32x4_eq(wasm_v128_load(x + at), m), open);
                wasm_v128_store(dx + at, wasm_v128_and(gv, hit));
                open = wasm_v128_andnot(open, hit);
              }
          }
        } else {
          for (; d < c4; d += 4) {
            v128_t best = ninf;
            v128_t idx = wasm_i32x4_splat(-1);
            for (int r = rs; r < re; r++)
              for (int c = cs; c < ce; c++) {
                const int at = img + (r * W + c) * C + d;
                v128_t v = wasm_v128_load(x + at);
                v128_t gt = wasm_f32x4_gt(v, best);
                best = wasm_v128_bitselect(v, best, gt);
                idx = wasm_v128_bitselect(wasm_i32x4_splat(at), idx, gt);
              }
            int i0 = wasm_i32x4_extract_lane(idx, 0), i1 = wasm_i32x4_extract_lane(idx, 1);
            int i2 = wasm_i32x4_extract_lane(idx, 2), i3 = wasm_i32x4_extract_lane(idx, 3);
            if (i0 >= 0) dx[i0] += g[d];
            if (i1 >= 0) dx[i1 + 1] += g[d + 1];
            if (i2 >= 0) dx[i2 + 2] += g[d + 2];
            if (i3 >= 0) dx[i3 + 3] += g[d + 3];
          }
        }
        for (; d < C; d++) {
          f32 best = -__builtin_inff();
          int idx = -1;
          for (int r = rs; r < re; r++)
            for (int c = cs; c < ce; c++) {
              const int at = img + (r * W + c) * C + d;
              if (x[at] > best) {
                best = x[at];
                idx = at;
              }
            }
          if (idx >= 0) dx[idx] += g[d];
        }
      }
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Small matrix products                                                                       */
/* ------------------------------------------------------------------------------------------ */
/*
 * c = a·b for row-major a [M, K], b [K, N], c [M, N], on the calling thread: for the small
 * products (dense layers' heads, their gradients) that gain nothing from threads. Register tiles
 * of R rows × CV·4 columns accumulate over k (a splat of a times a row of b), sums in k order.
 */
#define MM_TILE(R, CV)                                                                           \
  INLINE void mm_##R##_##CV(const f32 *a, const f32 *b, f32 *c, int K, int N, int n0) {          \
    v128_t acc[R][CV];                                                                           \
    for (int q = 0; q < R; q++)                                                                  \
      for (int v = 0; v < CV; v++) acc[q][v] = wasm_f32x4_splat(0.0f);                           \
    const f32 *bk = b + n0;                                                                      \
    for (int k = 0; k < K; k++, bk += N) {                                                       \
      v128_t bv[CV];                                                                             \
      for (int v = 0; v < CV; v++) bv[v] = wasm_v128_load(bk + 4 * v);                           \
      for (int q = 0; q < R; q++) {                                                              \
        const v128_t s = wasm_v128_load32_splat(a + q * K + k);                                  \
        for (int v = 0; v < CV; v++) acc[q][v] = MADD(s, bv[v], acc[q][v]); \
      }                                                                                          \
    }                                                                                            \
    for (int q = 0; q < R; q++)                                                                  \
      for (int v = 0; v < CV; v++) wasm_v128_store(c + q * N + n0 + 4 * v, acc[q][v]);           \
  }
MM_TILE(4, 3)
MM_TILE(4, 2)
MM_TILE(4, 1)
MM_TILE(1, 3)
MM_TILE(1, 2)
MM_TILE(1, 1)

EXPORT(matmul)
void matmul(const f32 *a, const f32 *b, f32 *c, int M, int K, int N) {
  const int n4 = N & ~3;
  for (int r = 0; r < M;) {
    const int rows = M - r >= 4 ? 4 : 1;
    const f32 *ar = a + r * K;
    f32 *cr = c + r * N;
    int n0 = 0;
    if (rows == 4) {
      for (; n0 + 12 <= n4; n0 += 12) mm_4_3(ar, b, cr, K, N, n0);
      for (; n0 + 8 <= n4; n0 += 8) mm_4_2(ar, b, cr, K, N, n0);
      for (; n0 < n4; n0 += 4) mm_4_1(ar, b, cr, K, N, n0);
    } else {
      for (; n0 + 12 <= n4; n0 += 12) mm_1_3(ar, b, cr, K, N, n0);
      for (; n0 + 8 <= n4; n0 += 8) mm_1_2(ar, b, cr, K, N, n0);
      for (; n0 < n4; n0 += 4) mm_1_1(ar, b, cr, K, N, n0);
    }
    for (int q = 0; q < rows; q++)
      for (int n = n4; n < N; n++) {
        f32 t = 0.0f;
        for (int k = 0; k < K; k++) t += ar[q * K + k] * b[k * N + n];
        cr[q * N + n] = t;
      }
    r += rows;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Broadcasting Add / Sub / Mul                                                                */
/* ------------------------------------------------------------------------------------------ */
/*
 * out = a op b over an R × C output, one operand full ([R, C]) and the other broadcast:
 *   mode 0: b is a row [C] (a bias);     mode 1: a is a row [C];
 *   mode 2: b is a column [R] (per row); mode 3: a is a column [R].
 * op 0: +, 1: −, 2: ×. On the calling thread: memory-bound, and these are mostly small.
 */
INLINE v128_t vop(int op, v128_t x, v128_t y) {
  return op == 0 ? wasm_f32x4_add(x, y) : op == 1 ? wasm_f32x4_sub(x, y) : wasm_f32x4_mul(x, y);
}
INLINE f32 sop(int op, f32 x, f32 y) { return op == 0 ? x + y : op == 1 ? x - y : x * y; }

INLINE void bcast_rows(const f32 *full, const f32 *row, f32 *out, int R, int C, int op, int rowFirst) {
  const int c4 = C & ~3;
  for (int r = 0; r < R; r++, full += C, out += C) {
    int c = 0;
    if (rowFirst) {
      for (; c < c4; c += 4) wasm_v128_store(out + c, vop(op, wasm_v128_load(row + c), wasm_v128_load(full + c)));
      for (; c < C; c++) out[c] = sop(op, row[c], full[c]);
    } else {
      for (; c < c4; c += 4) wasm_v128_store(out + c, vop(op, wasm_v128_load(full + c), wasm_v128_load(row + c)));
      for (; c < C; c++) out[c] = sop(op, full[c], row[c]);
    }
  }
}

INLINE void bcast_cols(const f32 *full, const f32 *col, f32 *out, int R, int C, int op, int colFirst) {
  const int c4 = C & ~3;
  for (int r = 0; r < R; r++, full += C, out += C) {
    const f32 s = col[r];
    const v128_t sv = wasm_f32x4_splat(s);
    int c = 0;
    if (colFirst) {
      for (; c < c4; c += 4) wasm_v128_store(out + c, vop(op, sv, wasm_v128_load(full + c)));
      for (; c < C; c++) out[c] = sop(op, s, full[c]);
    } else {
      for (; c < c4; c += 4) wasm_v128_store(out + c, vop(op, wasm_v128_load(full + c), sv));
      for (; c < C; c++) out[c] = sop(op, full[c], s);
    }
  }
}

EXPORT(binary_bcast)
void binary_bcast(const f32 *a, const f32 *b, f32 *out, int R, int C, int op, int mode) {
  /* Constant op and mode in each call below, so the inlined loops carry no branches. */
#define BCAST(OP)                                                                                \
  switch (mode) {                                                                                \
    case 0: bcast_rows(a, b, out, R, C, OP, 0); break;                                           \
    case 1: bcast_rows(b, a, out, R, C, OP, 1); break;                                           \
    case 2: bcast_cols(a, b, out, R, C, OP, 0); break;                                           \
    default: bcast_cols(b, a, out, R, C, OP, 1); break;                                          \
  }
  if (op == 0) { BCAST(0) } else if (op == 1) { BCAST(1) } else { BCAST(2) }
#undef BCAST
}

/* out = max(x, 0) elementwise (NaN and −0 pass through, as in TF.js's cpu backend); out may be x. */
EXPORT(relu)
void relu(const f32 *x, f32 *out, int n) {
  const v128_t z = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t v = wasm_v128_load(x + i);
    wasm_v128_store(out + i, wasm_v128_bitselect(z, v, wasm_f32x4_lt(v, z)));
  }
  for (; i < n; i++) out[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/*
 * The gradient of ReLU (hi = +∞) and ReLU6 (hi = 6): dx = dy · m, m = 1 where 0 < x ≤ hi, else 0,
 * and NaN where x is NaN — what TF.js's gradients compute on cpu (Relu: dy·step(x); Relu6:
 * dy·(x ≤ 6)·step(x); Step passes NaN through). A product, not a select, so that a NaN or ±∞ in
 * dy and the sign of a zero come out as TF.js's mul gives them (∞·0 = NaN, −1·0 = −0).
 * One pass over three arrays instead of TF.js's four kernels and their intermediates.
 */
EXPORT(relu_grad)
void relu_grad(const f32 *dy, const f32 *x, f32 *dx, int n, f32 hi) {
  const v128_t zero = wasm_f32x4_splat(0.0f);
  const v128_t one = wasm_f32x4_splat(1.0f);
  const v128_t top = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t v = wasm_v128_load(x + i);
    const v128_t in = wasm_v128_and(wasm_f32x4_gt(v, zero), wasm_f32x4_le(v, top));
    /* 1.0f where inside, +0.0f outside, x itself (NaN) where x is NaN. */
    const v128_t m = wasm_v128_bitselect(v, wasm_v128_and(in, one), wasm_f32x4_ne(v, v));
    wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_v128_load(dy + i), m));
  }
  for (; i < n; i++) {
    const f32 v = x[i];
    dx[i] = dy[i] * (v != v ? v : (v > 0.0f && v <= hi ? 1.0f : 0.0f));
  }
}

/*
 * 2×2, stride-2 max pool over full windows (rows and columns past OH·2 / OW·2 are dropped):
 * out[n, y, x, c] = max of x[n, 2y..2y+1, 2x..2x+1, c], a running max from −∞ that skips NaN
 * (as TF.js's cpu backend, and as max_pool_grad finds the argmax).
 */
EXPORT(max_pool_2x2)
void max_pool_2x2(const f32 *x, f32 *out, int N, int H, int W, int C, int OH, int OW) {
  const v128_t ninf = wasm_f32x4_splat(-__builtin_inff());
  const int c4 = C & ~3;
  for (int n = 0; n < N; n++)
    for (int y = 0; y < OH; y++) {
      const f32 *r0 = x + ((n * H + 2 * y) * W) * C, *r1 = r0 + W * C;
      f32 *o = out + ((n * OH + y) * OW) * C;
      for (int q = 0; q < OW; q++, r0 += 2 * C, r1 += 2 * C, o += C) {
        int c = 0;
        for (; c < c4; c += 4) {
          v128_t m = wasm_f32x4_pmax(ninf, wasm_v128_load(r0 + c));
          m = wasm_f32x4_pmax(m, wasm_v128_load(r0 + C + c));
          m = wasm_f32x4_pmax(m, wasm_v128_load(r1 + c));
          wasm_v128_store(o + c, wasm_f32x4_pmax(m, wasm_v128_load(r1 + C + c)));
        }
        for (; c < C; c++) {
          f32 m = -__builtin_inff();
          if (r0[c] > m) m = r0[c];
          if (r0[C + c] > m) m = r0[C + c];
          if (r1[c] > m) m = r1[c];
          if (r1[C + c] > m) m = r1[C + c];
          o[c] = m;
        }
      }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Column sums (Sum over leading axes: bias gradients)                                         */
/* ------------------------------------------------------------------------------------------ */
/*
 * dst[c] = Σ_r src[r·cols + c] for a rows × cols row-major matrix, in one streaming pass per
 * block of up to 32 columns (8 accumulators). Two-level for accuracy: each run of SUM_BLOCK rows
 * is summed in registers from zero and then added into dst, so a sum of n rows carries the
 * rounding of ~SUM_BLOCK + n / SUM_BLOCK additions instead of n.
 */
#define SUM_BLOCK 64
#define COLSUM(CV)                                                                               \
  INLINE void colsum_##CV(const f32 *src, f32 *dst, int rows, int cols) {                        \
    for (int r0 = 0; r0 < rows; r0 += SUM_BLOCK) {                                               \
      const int r1 = imin(rows, r0 + SUM_BLOCK);                                                 \
      v128_t acc[CV];                                                                            \
      for (int v = 0; v < CV; v++) acc[v] = wasm_f32x4_splat(0.0f);                              \
      const f32 *p = src + r0 * cols;                                                            \
      for (int r = r0; r < r1; r++, p += cols)                                                   \
        for (int v = 0; v < CV; v++) acc[v] = wasm_f32x4_add(acc[v], wasm_v128_load(p + 4 * v)); \
      for (int v = 0; v < CV; v++)                                                               \
        wasm_v128_store(dst + 4 * v, wasm_f32x4_add(wasm_v128_load(dst + 4 * v), acc[v]));       \
    }                                                                                            \
  }
COLSUM(8)
COLSUM(4)
COLSUM(1)

EXPORT(column_sum)
void column_sum(const f32 *src, f32 *dst, int rows, int cols) {
  int c = 0;
  for (; c + 32 <= cols; c += 32) {
    __builtin_memset(dst + c, 0, 32 * sizeof(f32));
    colsum_8(src + c, dst + c, rows, cols);
  }
  for (; c + 16 <= cols; c += 16) {
    __builtin_memset(dst + c, 0, 16 * sizeof(f32));
    colsum_4(src + c, dst + c, rows, cols);
  }
  for (; c + 4 <= cols; c += 4) {
    __builtin_memset(dst + c, 0, 4 * sizeof(f32));
    colsum_1(src + c, dst + c, rows, cols);
  }
  for (; c < cols; c++) {
    f32 total = 0.0f;
    for (int r0 = 0; r0 < rows; r0 += SUM_BLOCK) {
      const int r1 = imin(rows, r0 + SUM_BLOCK);
      f32 part = 0.0f;
      for (int r = r0; r < r1; r++) part += src[r * cols + c];
      total += part;
    }
    dst[c] = total;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Transpose                                                                                   */
/* ------------------------------------------------------------------------------------------ */
/* dst[c, r] = src[r, c] for a rows × cols row-major matrix: 4×4 SIMD blocks inside 32×32 tiles. */
EXPORT(transpose2d)
void transpose2d(const f32 *src, f32 *dst, int rows, int cols) {
  for (int r0 = 0; r0 < rows; r0 += 32) {
    const int r1 = imin(rows, r0 + 32);
    for (int q0 = 0; q0 < cols; q0 += 32) {
      const int q1 = imin(cols, q0 + 32);
      int r = r0;
      for (; r + 4 <= r1; r += 4) {
        int c = q0;
        for (; c + 4 <= q1; c += 4) {
          v128_t a = wasm_v128_load(src + (r + 0) * cols + c);
          v128_t b = wasm_v128_load(src + (r + 1) * cols + c);
          v128_t e = wasm_v128_load(src + (r + 2) * cols + c);
          v128_t f = wasm_v128_load(src + (r + 3) * cols + c);
          v128_t ab_lo = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), ab_hi = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
          v128_t ef_lo = wasm_i32x4_shuffle(e, f, 0, 4, 1, 5), ef_hi = wasm_i32x4_shuffle(e, f, 2, 6, 3, 7);
          wasm_v128_store(dst + (c + 0) * rows + r, wasm_i64x2_shuffle(ab_lo, ef_lo, 0, 2));
          wasm_v128_store(dst + (c + 1) * rows + r, wasm_i64x2_shuffle(ab_lo, ef_lo, 1, 3));
          wasm_v128_store(dst + (c + 2) * rows + r, wasm_i64x2_shuffle(ab_hi, ef_hi, 0, 2));
          wasm_v128_store(dst + (c + 3) * rows + r, wasm_i64x2_shuffle(ab_hi, ef_hi, 1, 3));
        }
        for (; c < q1; c++)
          for (int k = 0; k < 4; k++) dst[c * rows + r + k] = src[(r + k) * cols + c];
      }
      for (; r < r1; r++)
        for (int c = q0; c < q1; c++) dst[c * rows + r] = src[r * cols + c];
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Conv2DBackpropInput, direct                                                                 */
/* ------------------------------------------------------------------------------------------ */
/*
 * dx[n, oy·SH+i−PT, ox·SW+j−PL, c] += Σ_o dy[n,oy,ox,o] · W[i,j,c,o], with the filter given
 * transposed per tap: wt[(i·FW+j)·O + o, c] (so a row of wt is contiguous over c). For every
 * tap and block of channels, 4 of the tap's output pixels (in row order, across rows) × CV·4
 * channels are accumulated in registers over o (a splat of dy times a row of wt) and then added
 * into dx; the last C % 4 channels are dot products with the filter w0 in its own [FH,FW,C,O]
 * layout. Images n0..n1−1 of the batch only, so callers can split the batch.
 */
#define INPUT_TILE(PX, CV)                                                                       \
  INLINE void itile_##PX##_##CV(const f32 *ds, const f32 *wt, f32 *xd, int c0, int O, int C,     \
                                int xstep) {                                                     \
    v128_t acc[PX][CV];                                                                          \
    for (int p = 0; p < PX; p++)                                                                 \
      for (int v = 0; v < CV; v++) acc[p][v] = wasm_f32x4_splat(0.0f);                           \
    const f32 *w = wt + c0;                                                                      \
    for (int o = 0; o < O; o++, w += C) {                                                        \
      v128_t wv[CV];                                                                             \
      for (int v = 0; v < CV; v++) wv[v] = wasm_v128_load(w + 4 * v);                            \
      for (int p = 0; p < PX; p++) {                                                             \
        v128_t s = wasm_v128_load32_splat(ds + p * O + o);                                       \
        for (int v = 0; v < CV; v++) acc[p][v] = MADD(s, wv[v], acc[p][v]); \
      }                                                                                          \
    }                                                                                            \
    for (int p = 0; p < PX; p++)                                                                 \
      for (int v = 0; v < CV; v++) {                                                             \
        f32 *d = xd + p * xstep + c0 + 4 * v;                                                    \
        wasm_v128_store(d, wasm_f32x4_add(wasm_v128_load(d), acc[p][v]));                        \
      }                                                                                          \
  }

/* One pixel (the taps' last np % 4). */
INPUT_TILE(1, 2)
INPUT_TILE(1, 1)

/* 4 output pixels anywhere (their own dy rows and dx positions: a tile may span output rows). */
#define INPUT_TILE_4P(CV)                                                                        \
  INLINE void itile_4p_##CV(const f32 *d0, const f32 *d1, const f32 *d2, const f32 *d3,          \
                            const f32 *wt, f32 *x0, f32 *x1, f32 *x2, f32 *x3, int c0, int O,      \
                            int C) {                                                             \
    v128_t a0[CV], a1[CV], a2[CV], a3[CV];                                                       \
    for (int v = 0; v < CV; v++) a0[v] = a1[v] = a2[v] = a3[v] = wasm_f32x4_splat(0.0f);         \
    const f32 *w = wt + c0;                                                                      \
    for (int o = 0; o < O; o++, w += C) {                                                        \
      v128_t wv[CV];                                                                             \
      for (int v = 0; v < CV; v++) wv[v] = wasm_v128_load(w + 4 * v);                            \
      const v128_t s0 = wasm_v128_load32_splat(d0 + o), s1 = wasm_v128_load32_splat(d1 + o);     \
      const v128_t s2 = wasm_v128_load32_splat(d2 + o), s3 = wasm_v128_load32_splat(d3 + o);     \
      for (int v = 0; v < CV; v++) {                                                             \
        a0[v] = MADD(s0, wv[v], a0[v]);                                                          \
        a1[v] = MADD(s1, wv[v], a1[v]);                                                          \
        a2[v] = MADD(s2, wv[v], a2[v]);                                                          \
        a3[v] = MADD(s3, wv[v], a3[v]);                                                          \
      }                                                                                          \
    }                                                                                            \
    for (int v = 0; v < CV; v++) {                                                               \
      f32 *p0 = x0 + c0 + 4 * v, *p1 = x1 + c0 + 4 * v, *p2 = x2 + c0 + 4 * v, *p3 = x3 + c0 + 4 * v; \
      wasm_v128_store(p0, wasm_f32x4_add(wasm_v128_load(p0), a0[v]));                            \
      wasm_v128_store(p1, wasm_f32x4_add(wasm_v128_load(p1), a1[v]));                            \
      wasm_v128_store(p2, wasm_f32x4_add(wasm_v128_load(p2), a2[v]));                            \
      wasm_v128_store(p3, wasm_f32x4_add(wasm_v128_load(p3), a3[v]));                            \
    }                                                                                            \
  }

INPUT_TILE_4P(2)
INPUT_TILE_4P(1)

EXPORT(conv2d_backprop_input)
void conv2d_backprop_input(const f32 *dy, const f32 *w0, const f32 *wt, f32 *dx, int n0, int n1, int H, int W,
                           int C, int OH, int OW, int O, int FH, int FW, int SH, int SW, int PT,
                           int PL) {
  __builtin_memset(dx + n0 * H * W * C, 0, (unsigned)((n1 - n0) * H * W * C) * sizeof(f32));
  const int c4 = C & ~3;
  const int xstep = SW * C;
  for (int n = n0; n < n1; n++) {
    for (int i = 0; i < FH; i++) {
      /* Output rows whose tap i lands inside the image: r = oy·SH + i − PT in [0, H). */
      const int oylo = imax(0, ceil_div(PT - i, SH));
      const int oyhi = imin(OH, (H - 1 + PT - i) / SH + 1);
      if (oyhi <= oylo) continue;
      for (int j = 0; j < FW; j++) {
        const int oxlo = imax(0, ceil_div(PL - j, SW));
        const int oxhi = imin(OW, (W - 1 + PL - j) / SW + 1);
        if (oxhi <= oxlo) continue;
        const f32 *w = wt + (i * FW + j) * O * C;
        /* The tap's pixels (oy, ox) in order, 4 at a time even across output rows (a 7-wide
         * row would otherwise leave 3 single pixels, whose tiles are bound by loads). */
        const int nx = oxhi - oxlo, np = (oyhi - oylo) * nx;
#define PIXEL(k, dsv, xdv)                                                                     \
  const f32 *dsv;                                                                              \
  f32 *xdv;                                                                                    \
  {                                                                                            \
    const int oy_ = oylo + (k) / nx, ox_ = oxlo + (k) % nx;                                    \
    dsv = dy + ((n * OH + oy_) * OW + ox_) * O;                                                \
    xdv = dx + ((n * H + oy_ * SH + i - PT) * W + ox_ * SW + j - PL) * C;                      \
  }
        for (int c0 = 0; c0 < c4;) {
          const int wide = c0 + 8 <= c4;
          int k = 0;
          for (; k + 4 <= np; k += 4) {
            PIXEL(k, d0, x0) PIXEL(k + 1, d1, x1) PIXEL(k + 2, d2, x2) PIXEL(k + 3, d3, x3)
            if (wide) itile_4p_2(d0, d1, d2, d3, w, x0, x1, x2, x3, c0, O, C);
            else itile_4p_1(d0, d1, d2, d3, w, x0, x1, x2, x3, c0, O, C);
          }
          for (; k < np; k++) {
            PIXEL(k, d0, x0)
            if (wide) itile_1_2(d0, w, x0, c0, O, C, xstep);
            else itile_1_1(d0, w, x0, c0, O, C, xstep);
          }
          c0 += wide ? 8 : 4;
        }
#undef PIXEL
      }
    }
    /* The last C % 4 channels (all of them when C < 4), output row by output row: a row of dy
     * stays in cache for all its taps (the 28×28 first layer's dy is 86 kB an image). */
    if (c4 == C) continue;
    for (int oy = 0; oy < OH; oy++) {
      const f32 *dyrow = dy + ((n * OH + oy) * OW) * O;
      for (int i = 0; i < FH; i++) {
        const int r = oy * SH + i - PT;
        if (r < 0 || r >= H) continue;
        f32 *dxrow = dx + ((n * H + r) * W) * C;
        for (int j = 0; j < FW; j++) {
          const int oxlo = imax(0, ceil_div(PL - j, SW));
          const int oxhi = imin(OW, (W - 1 + PL - j) / SW + 1);
          if (oxhi <= oxlo) continue;
          /* Dot products over o with the filter in its own layout, w0[i,j,c,o] (contiguous over o). */
          const f32 *wf = w0 + (i * FW + j) * C * O;
          for (int c = c4; c < C; c++) {
            const f32 *wc = wf + c * O;
            int ox = oxlo;
            /* 4 output pixels at a time share each load of wc; their 4 sums come out of one
             * transposing horizontal add. */
            for (; ox + 4 <= oxhi; ox += 4) {
              const f32 *ds = dyrow + ox * O;
              v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
              f32 t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
              int o = 0;
              for (; o + 4 <= O; o += 4) {
                const v128_t wv = wasm_v128_load(wc + o);
                a0 = MADD(wasm_v128_load(ds + o), wv, a0);
                a1 = MADD(wasm_v128_load(ds + O + o), wv, a1);
                a2 = MADD(wasm_v128_load(ds + 2 * O + o), wv, a2);
                a3 = MADD(wasm_v128_load(ds + 3 * O + o), wv, a3);
              }
              for (; o < O; o++) {
                t0 += ds[o] * wc[o];
                t1 += ds[O + o] * wc[o];
                t2 += ds[2 * O + o] * wc[o];
                t3 += ds[3 * O + o] * wc[o];
              }
              const v128_t u01 = wasm_f32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
              const v128_t u23 = wasm_f32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
              v128_t sum = wasm_f32x4_add(wasm_i64x2_shuffle(u01, u23, 0, 2), wasm_i64x2_shuffle(u01, u23, 1, 3));
              sum = wasm_f32x4_add(sum, wasm_f32x4_make(t0, t1, t2, t3));
              f32 *d = dxrow + (ox * SW + j - PL) * C + c;
              if (xstep == 1) {
                wasm_v128_store(d, wasm_f32x4_add(wasm_v128_load(d), sum));
              } else {
                d[0] += wasm_f32x4_extract_lane(sum, 0);
                d[xstep] += wasm_f32x4_extract_lane(sum, 1);
                d[2 * xstep] += wasm_f32x4_extract_lane(sum, 2);
                d[3 * xstep] += wasm_f32x4_extract_lane(sum, 3);
              }
            }
            for (; ox < oxhi; ox++) {
              const f32 *ds = dyrow + ox * O;
              v128_t acc = wasm_f32x4_splat(0.0f);
              f32 tail = 0.0f;
              int o = 0;
              for (; o + 4 <= O; o += 4)
                acc = MADD(wasm_v128_load(ds + o), wasm_v128_load(wc + o), acc);
              for (; o < O; o++) tail += ds[o] * wc[o];
              acc = wasm_f32x4_add(acc, wasm_i32x4_shuffle(acc, acc, 2, 3, 0, 1));
              acc = wasm_f32x4_add(acc, wasm_i32x4_shuffle(acc, acc, 1, 0, 3, 2));
              dxrow[(ox * SW + j - PL) * C + c] += wasm_f32x4_extract_lane(acc, 0) + tail;
            }
          }
        }
      }
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* DepthwiseConv2dNativeBackpropInput, channel multiplier 1                                    */
/* ------------------------------------------------------------------------------------------ */
/*
 * dx[n, y·SH + i·DH − PT, x·SW + j·DW − PL, c] += dy[n, y, x, c] · w[i, j, c], over input rows
 * rbeg..rend−1 (a row is one (n, r); rows = N·H), so that threads each write their own rows.
 * Per row: zeroed, then for every tap row i that lands on it and every output pixel and tap
 * column j, the window's input pixel gets its C channels added, 4 per vector (the last C % 4
 * one by one). Each row of dx is written by one thread only, in a fixed order: the result does
 * not depend on the split.
 */
EXPORT(depthwise_backprop_input)
void depthwise_backprop_input(const f32 *dy, const f32 *w, f32 *dx, int rbeg, int rend, int H, int W,
                              int C, int OH, int OW, int FH, int FW, int SH, int SW, int DH, int DW,
                              int PT, int PL) {
  const int C4 = C & ~3;
  for (int row = rbeg; row < rend; row++) {
    const int n = row / H, r = row - n * H;
    f32 *out = dx + (unsigned)row * W * C;
    __builtin_memset(out, 0, (unsigned)(W * C) * sizeof(f32));
    for (int i = 0; i < FH; i++) {
      const int t = r + PT - i * DH;
      if (t < 0 || t % SH != 0) continue;
      const int oy = t / SH;
      if (oy >= OH) continue;
      const f32 *g = dy + ((n * OH + oy) * OW) * C;
      for (int ox = 0; ox < OW; ox++, g += C) {
        for (int j = 0; j < FW; j++) {
          const int col = ox * SW + j * DW - PL;
          if (col < 0 || col >= W) continue;
          f32 *a = out + col * C;
          const f32 *k = w + (i * FW + j) * C;
          int c = 0;
          for (; c < C4; c += 4) wasm_v128_store(a + c, MADD(wasm_v128_load(g + c), wasm_v128_load(k + c), wasm_v128_load(a + c)));
          for (; c < C; c++) a[c] += g[c] * k[c];
        }
      }
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Winograd F(4×4, 3×3) and F(2×2, 5×5): the convolution and its filter gradient              */
/* ------------------------------------------------------------------------------------------ */
/*
 * y[n, oy, ox, o] = act(bias[o] + Σ_{i,j,c} x[n, oy+i−PT, ox+j−PL, c] · g[i,j,c,o]): an R×R,
 * stride-1 convolution, for C and O multiples of 4.
 *
 * Lavin & Gray 2016: an m×m block of outputs (a tile) needs its α×α input patch d
 * (α = m + R − 1); with U = G g Gᵀ (per filter), V = Bᵀ d B (per input channel) and
 * M_ξ = Σ_c V_ξ,c · U_ξ,c,o for each of the α² positions ξ, the tile is Aᵀ M A. α² multiply-adds
 * per (tile, c, o) instead of the direct m²R²; the transforms are linear in C and in O. The
 * filter gradient runs the same algebra backwards: dU_ξ,c,o = Σ_tiles V_ξ,c · dM_ξ,o with
 * dM = A dy Aᵀ, then dg = Gᵀ dU G. Two sizes, both with α = 6 (m = 7 − R):
 *   F(4×4, 3×3): 36 multiply-adds against 144 (4× fewer; 1.14–1.65× faster than F(2×2, 3×3)'s
 *     16 against 36 on the CNN's and larger 3×3 convolutions, forward and filter gradient);
 *   F(2×2, 5×5): 36 against 100 (2.78× fewer).
 * Both on the points 0, ±1, ±2, ∞: Bᵀ as in wino_bt; G rows g0/4, −Σ_k g_k/6, −Σ(−1)^k g_k/6,
 * Σ2^k g_k/24, Σ(−2)^k g_k/24, g_{R−1}; Aᵀ row i: m1 + m2·(−1)^i + m3·2^i + m4·(−2)^i (plus m0
 * in row 0, m5 in the last row). scripts/winograd-matrices.py derives them (Cook–Toom) and
 * measures their float32 error per output against a float64 direct sum over random patches:
 * mean 8e-7 (the ±2 points amplify rounding; F(2×2, 3×3)'s 0, ±1 give 1.2e-7), at most ~1e-5.
 *
 * Tiles go WTB at a time through the scratch (the caller's, per thread): their patches
 * transformed into V [α²][WTB][C], the α² products into M [α²][WTB][O] (register tiles of 4
 * tiles × 12 output channels), then each tile's outputs. Images n0..n1−1 only, so that threads
 * each take a share of the batch.
 */
#define WTB 16
/* The transforms' loops run over α, m or R (constants once a call's sizes are inlined):
 * unrolled whole, their arrays become registers (a local array indexed at run time would need a
 * stack). */
#define UNROLL _Pragma("clang loop unroll(full)")
/* The side of a tile's input patch and of the transformed tiles. */
#define A 6
INLINE int wino_m(int R) { return A + 1 - R; }

/* 1-D transforms on vectors, the matrices as above. α → α, in place: Bᵀ a. */
INLINE void wino_bt(v128_t *a) {
  const v128_t d0 = a[0], d1 = a[1], d2 = a[2], d3 = a[3], d4 = a[4], d5 = a[5];
  const v128_t two = wasm_f32x4_splat(2.0f), four = wasm_f32x4_splat(4.0f), five = wasm_f32x4_splat(5.0f);
  const v128_t s12 = wasm_f32x4_add(d1, d2), d12 = wasm_f32x4_sub(d1, d2), d31 = wasm_f32x4_sub(d3, d1);
  const v128_t s34 = wasm_f32x4_add(d4, d3), d43 = wasm_f32x4_sub(d4, d3), d42 = wasm_f32x4_sub(d4, d2);
  a[0] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four, d0), wasm_f32x4_mul(five, d2)), d4);
  a[1] = wasm_f32x4_sub(s34, wasm_f32x4_mul(four, s12));
  a[2] = wasm_f32x4_add(d43, wasm_f32x4_mul(four, d12));
  a[3] = wasm_f32x4_add(d42, wasm_f32x4_mul(two, d31));
  a[4] = wasm_f32x4_sub(d42, wasm_f32x4_mul(two, d31));
  a[5] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four, d1), wasm_f32x4_mul(five, d3)), d5);
}

/* α → m: Aᵀ w. */
INLINE void wino_at(const v128_t *w, v128_t *y, int M) {
  const v128_t s = wasm_f32x4_add(w[1], w[2]), d = wasm_f32x4_sub(w[1], w[2]);
  const v128_t s2 = wasm_f32x4_add(w[3], w[4]), d2 = wasm_f32x4_sub(w[3], w[4]);
  y[0] = wasm_f32x4_add(wasm_f32x4_add(w[0], s), s2);
  if (M == 2) {
    y[1] = wasm_f32x4_add(wasm_f32x4_add(d, wasm_f32x4_add(d2, d2)), w[5]);
  } else {
    y[1] = wasm_f32x4_add(d, wasm_f32x4_mul(wasm_f32x4_splat(2.0f), d2));
    y[2] = wasm_f32x4_add(s, wasm_f32x4_mul(wasm_f32x4_splat(4.0f), s2));
    y[3] = wasm_f32x4_add(wasm_f32x4_add(d, wasm_f32x4_mul(wasm_f32x4_splat(8.0f), d2)), w[5]);
  }
}

/* m → α: A y, the transpose of wino_at. */
INLINE void wino_a(const v128_t *y, v128_t *w, int M) {
  /* w_j = Σ_i p_j^i y_i over the points p = 0, 1, −1, 2, −2; w5 = y_{m−1} */
  v128_t even = y[0], odd = y[1], even2 = y[0], odd2 = wasm_f32x4_add(y[1], y[1]);
  if (M == 4) {
    even = wasm_f32x4_add(even, y[2]);
    odd = wasm_f32x4_add(odd, y[3]);
    even2 = wasm_f32x4_add(even2, wasm_f32x4_mul(wasm_f32x4_splat(4.0f), y[2]));
    odd2 = wasm_f32x4_add(odd2, wasm_f32x4_mul(wasm_f32x4_splat(8.0f), y[3]));
  }
  w[0] = y[0];
  w[1] = wasm_f32x4_add(even, odd);
  w[2] = wasm_f32x4_sub(even, odd);
  w[3] = wasm_f32x4_add(even2, odd2);
  w[4] = wasm_f32x4_sub(even2, odd2);
  w[5] = y[M - 1];
}

/* R → α: G g. */
INLINE void wino_g(const v128_t *g, v128_t *u, int R) {
  /* Σ g_k, Σ (−1)^k g_k split as even ± odd; Σ 2^k g_k and Σ (−2)^k g_k likewise */
  v128_t even = g[0], odd = g[1], even2 = g[0], odd2 = wasm_f32x4_add(g[1], g[1]), p = wasm_f32x4_splat(4.0f);
  even = wasm_f32x4_add(even, g[2]);
  even2 = wasm_f32x4_add(even2, wasm_f32x4_mul(p, g[2]));
  if (R == 5) {
    odd = wasm_f32x4_add(odd, g[3]);
    even = wasm_f32x4_add(even, g[4]);
    odd2 = wasm_f32x4_add(odd2, wasm_f32x4_mul(wasm_f32x4_splat(8.0f), g[3]));
    even2 = wasm_f32x4_add(even2, wasm_f32x4_mul(wasm_f32x4_splat(16.0f), g[4]));
  }
  const v128_t sixth = wasm_f32x4_splat(-1.0f / 6.0f), twentyfourth = wasm_f32x4_splat(1.0f / 24.0f);
  u[0] = wasm_f32x4_mul(wasm_f32x4_splat(0.25f), g[0]);
  u[1] = wasm_f32x4_mul(sixth, wasm_f32x4_add(even, odd));
  u[2] = wasm_f32x4_mul(sixth, wasm_f32x4_sub(even, odd));
  u[3] = wasm_f32x4_mul(twentyfourth, wasm_f32x4_add(even2, odd2));
  u[4] = wasm_f32x4_mul(twentyfourth, wasm_f32x4_sub(even2, odd2));
  u[5] = g[R - 1];
}

/* α → R: Gᵀ u, the transpose of wino_g. */
INLINE void wino_gt(const v128_t *u, v128_t *g, int R) {
  /* g_k = [k=0] u0/4 − (u1 + (−1)^k u2)/6 + 2^k (u3 + (−1)^k u4)/24 + [k=R−1] u5 */
  const v128_t sixth = wasm_f32x4_splat(1.0f / 6.0f), twentyfourth = wasm_f32x4_splat(1.0f / 24.0f);
  const v128_t p = wasm_f32x4_mul(sixth, wasm_f32x4_add(u[1], u[2])), q = wasm_f32x4_mul(sixth, wasm_f32x4_sub(u[1], u[2]));
  const v128_t s = wasm_f32x4_mul(twentyfourth, wasm_f32x4_add(u[3], u[4])), t = wasm_f32x4_mul(twentyfourth, wasm_f32x4_sub(u[3], u[4]));
  g[0] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(0.25f), u[0]), p), s);
  g[1] = wasm_f32x4_sub(wasm_f32x4_add(t, t), q);
  g[2] = wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(4.0f), s), p);
  if (R == 5) {
    g[3] = wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(8.0f), t), q);
    g[4] = wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(16.0f), s), p);
  }
  g[R - 1] = wasm_f32x4_add(g[R - 1], u[5]);
}

/* Calls `f` specialised for the filter sizes the kernels have. */
#define WINO_SIZES(R, f, ...)         \
  do {                                \
    if (R == 3) f(__VA_ARGS__, 3);    \
    else if (R == 5) f(__VA_ARGS__, 5); \
  } while (0)

/* Floats of scratch one thread needs: the convolution's V and M, WTB tiles each. */
EXPORT(winograd_scratch)
int winograd_scratch(int C, int O, int R) { return A * A * WTB * (C + O); }

/*
 * U = G g Gᵀ for every filter g = g[·, ·, c, o] of g [R][R][C][O], into U [α²][C][O], 4 output
 * channels per vector. (One thread: R²·C·O reads.)
 */
INLINE void wino_filter(const f32 *g, f32 *U, int C, int O, int R) {
  const int CO = C * O;
  for (int k = 0; k < CO; k += 4) {
    v128_t t[6][5]; /* t = G g: each column of g (over rows i) */
    UNROLL for (int j = 0; j < R; j++) {
      v128_t col[5], out[6];
      UNROLL for (int i = 0; i < R; i++) col[i] = wasm_v128_load(g + (i * R + j) * CO + k);
      wino_g(col, out, R);
      UNROLL for (int r = 0; r < A; r++) t[r][j] = out[r];
    }
    UNROLL for (int r = 0; r < A; r++) { /* U = t Gᵀ: each row of t */
      v128_t out[6];
      wino_g(t[r], out, R);
      UNROLL for (int s = 0; s < A; s++) wasm_v128_store(U + (r * A + s) * CO + k, out[s]);
    }
  }
}

EXPORT(winograd_filter)
void winograd_filter(const f32 *g, f32 *U, int C, int O, int R) { WINO_SIZES(R, wino_filter, g, U, C, O); }

/* V[ξ][t][c..] = Bᵀ d B for tile t's input patch, at row stride `tiles` (WTB or WTBF). */
INLINE void wino_input(const f32 *x, f32 *V, int t, int tiles, int n, int ty, int tx, int H, int W,
                       int C, int PT, int PL, int R) {
  const int M = wino_m(R), r0 = M * ty - PT, s0 = M * tx - PL;
  int off[6][6];
  UNROLL for (int r = 0; r < A; r++)
    UNROLL for (int s = 0; s < A; s++) {
      const int yy = r0 + r, xx = s0 + s;
      off[r][s] = (yy >= 0 && yy < H && xx >= 0 && xx < W) ? ((n * H + yy) * W + xx) * C : -1;
    }
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int c = 0; c < C; c += 4) {
    v128_t d[6][6];
    UNROLL for (int s = 0; s < A; s++) { /* Bᵀ d: each column */
      v128_t col[6];
      UNROLL for (int r = 0; r < A; r++) col[r] = off[r][s] >= 0 ? wasm_v128_load(x + off[r][s] + c) : zero;
      wino_bt(col);
      UNROLL for (int r = 0; r < A; r++) d[r][s] = col[r];
    }
    UNROLL for (int r = 0; r < A; r++) { /* (Bᵀ d) B: each row */
      wino_bt(d[r]);
      UNROLL for (int s = 0; s < A; s++) wasm_v128_store(V + ((r * A + s) * tiles + t) * C + c, d[r][s]);
    }
  }
}

/* M_ξ[p..p+PX, o..o+4·OV] = V_ξ[p.., :] · U_ξ[:, o..]. */
#define WINO_TILE(PX, OV)                                                                        \
  INLINE void wtile_##PX##_##OV(const f32 *v, const f32 *u, f32 *m, int C, int O) {              \
    v128_t acc[PX][OV];                                                                          \
    for (int p = 0; p < PX; p++)                                                                 \
      for (int k = 0; k < OV; k++) acc[p][k] = wasm_f32x4_splat(0.0f);                           \
    for (int c = 0; c < C; c++, u += O) {                                                        \
      v128_t uv[OV];                                                                             \
      for (int k = 0; k < OV; k++) uv[k] = wasm_v128_load(u + 4 * k);                            \
      for (int p = 0; p < PX; p++) {                                                             \
        const v128_t s = wasm_v128_load32_splat(v + p * C + c);                                  \
        for (int k = 0; k < OV; k++) acc[p][k] = MADD(s, uv[k], acc[p][k]);                      \
      }                                                                                          \
    }                                                                                            \
    for (int p = 0; p < PX; p++)                                                                 \
      for (int k = 0; k < OV; k++) wasm_v128_store(m + p * O + 4 * k, acc[p][k]);                \
  }

WINO_TILE(4, 3)
WINO_TILE(4, 2)
WINO_TILE(4, 1)
WINO_TILE(1, 3)
WINO_TILE(1, 2)
WINO_TILE(1, 1)

INLINE void wino_products(const f32 *V, const f32 *U, f32 *Mp, int T, int C, int O) {
  for (int xi = 0; xi < A * A; xi++) {
    const f32 *v = V + xi * WTB * C, *u = U + xi * C * O;
    f32 *m = Mp + xi * WTB * O;
    int p = 0;
    for (; p + 4 <= T; p += 4) {
      int o = 0;
      for (; o + 12 <= O; o += 12) wtile_4_3(v + p * C, u + o, m + p * O + o, C, O);
      for (; o + 8 <= O; o += 8) wtile_4_2(v + p * C, u + o, m + p * O + o, C, O);
      for (; o < O; o += 4) wtile_4_1(v + p * C, u + o, m + p * O + o, C, O);
    }
    for (; p < T; p++) {
      int o = 0;
      for (; o + 12 <= O; o += 12) wtile_1_3(v + p * C, u + o, m + p * O + o, C, O);
      for (; o + 8 <= O; o += 8) wtile_1_2(v + p * C, u + o, m + p * O + o, C, O);
      for (; o < O; o += 4) wtile_1_1(v + p * C, u + o, m + p * O + o, C, O);
    }
  }
}

/* act: 0 none, 1 ReLU, 2 ReLU6. */
INLINE v128_t wino_act(v128_t v, int act) {
  if (act == 1) return wasm_f32x4_pmax(v, wasm_f32x4_splat(0.0f));
  if (act == 2) return wasm_f32x4_pmin(wasm_f32x4_pmax(v, wasm_f32x4_splat(0.0f)), wasm_f32x4_splat(6.0f));
  return v;
}

INLINE void wino_output(const f32 *Mp, const f32 *bias, int has_bias, int act, f32 *y, int t, int n,
                        int ty, int tx, int OH, int OW, int O, int R) {
  const int M = wino_m(R), oy = M * ty, ox = M * tx;
  const int rows = imin(M, OH - oy), cols = imin(M, OW - ox);
  f32 *y00 = y + ((n * OH + oy) * OW + ox) * O;
  for (int o = 0; o < O; o += 4) {
    v128_t a[4][6]; /* Aᵀ m: each column */
    UNROLL for (int s = 0; s < A; s++) {
      v128_t col[6], out[4];
      UNROLL for (int r = 0; r < A; r++) col[r] = wasm_v128_load(Mp + ((r * A + s) * WTB + t) * O + o);
      wino_at(col, out, M);
      UNROLL for (int r = 0; r < M; r++) a[r][s] = out[r];
    }
    const v128_t b = has_bias ? wasm_v128_load(bias + o) : wasm_f32x4_splat(0.0f);
    UNROLL for (int r = 0; r < M; r++) { /* (Aᵀ m) A: each row */
      v128_t out[4];
      wino_at(a[r], out, M);
      f32 *row = y00 + r * OW * O + o;
      UNROLL for (int s = 0; s < M; s++)
        if (r < rows && s < cols) wasm_v128_store(row + s * O, wino_act(wasm_f32x4_add(out[s], b), act));
    }
  }
}

INLINE void wino_conv(const f32 *x, const f32 *U, const f32 *bias, f32 *y, f32 *scratch, int n0, int n1,
                      int H, int W, int C, int OH, int OW, int O, int PT, int PL, int has_bias, int act, int R) {
  const int M = wino_m(R), TH = (OH + M - 1) / M, TW = (OW + M - 1) / M, per = TH * TW;
  f32 *V = scratch, *Mp = scratch + A * A * WTB * C;
  const int total = (n1 - n0) * per;
  for (int t0 = 0; t0 < total; t0 += WTB) {
    const int T = imin(WTB, total - t0);
    for (int t = 0; t < T; t++) {
      const int k = t0 + t, n = n0 + k / per, rem = k % per;
      wino_input(x, V, t, WTB, n, rem / TW, rem % TW, H, W, C, PT, PL, R);
    }
    wino_products(V, U, Mp, T, C, O);
    for (int t = 0; t < T; t++) {
      const int k = t0 + t, n = n0 + k / per, rem = k % per;
      wino_output(Mp, bias, has_bias, act, y, t, n, rem / TW, rem % TW, OH, OW, O, R);
    }
  }
}

/* The convolution, U = G g Gᵀ [α²][C][O] from winograd_filter. */
EXPORT(winograd_conv)
void winograd_conv(const f32 *x, const f32 *U, const f32 *bias, f32 *y, f32 *scratch, int n0, int n1,
                   int H, int W, int C, int OH, int OW, int O, int PT, int PL, int has_bias, int act, int R) {
  WINO_SIZES(R, wino_conv, x, U, bias, y, scratch, n0, n1, H, W, C, OH, OW, O, PT, PL, has_bias, act);
}

/*
 * The filter gradient: dU_ξ[c][o] = Σ_tiles V_ξ[tile][c] · dM_ξ[tile][o], dM = A dy Aᵀ (the
 * outputs of a tile that fall outside OH × OW count as 0). Tiles go WTBF at a time (a longer
 * reduction per load and store of dU's register tiles than WTB would give); dU [α²][C][O] is this
 * thread's partial sum, zeroed here; winograd_filter_back sums the partials and maps them back.
 */
#define WTBF 32
EXPORT(winograd_grad_scratch)
int winograd_grad_scratch(int C, int O, int R) { return A * A * WTBF * (C + O); }

INLINE void wino_dy(const f32 *dy, f32 *DM, int t, int n, int ty, int tx, int OH, int OW, int O, int R) {
  const int M = wino_m(R), oy = M * ty, ox = M * tx;
  const int rows = imin(M, OH - oy), cols = imin(M, OW - ox);
  const f32 *d00 = dy + ((n * OH + oy) * OW + ox) * O;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int o = 0; o < O; o += 4) {
    v128_t e[4][6]; /* each row of dy, then A · */
    UNROLL for (int r = 0; r < M; r++) {
      v128_t yv[4];
      UNROLL for (int s = 0; s < M; s++) yv[s] = r < rows && s < cols ? wasm_v128_load(d00 + (r * OW + s) * O + o) : zero;
      wino_a(yv, e[r], M);
    }
    UNROLL for (int s = 0; s < A; s++) { /* A (dy Aᵀ): each column */
      v128_t yv[4], col[6];
      UNROLL for (int r = 0; r < M; r++) yv[r] = e[r][s];
      wino_a(yv, col, M);
      UNROLL for (int r = 0; r < A; r++) wasm_v128_store(DM + ((r * A + s) * WTBF + t) * O + o, col[r]);
    }
  }
}

/* dU_ξ[c0..c0+CB, o0..o0+4·OV] += Σ_t V_ξ[t][c] · DM_ξ[t][o]. */
#define WINO_GRAD_TILE(CB, OV)                                                                   \
  INLINE void wgtile_##CB##_##OV(const f32 *v, const f32 *dm, f32 *du, int T, int C, int O) {    \
    v128_t acc[CB][OV];                                                                          \
    for (int a = 0; a < CB; a++)                                                                 \
      for (int k = 0; k < OV; k++) acc[a][k] = wasm_v128_load(du + a * O + 4 * k);               \
    for (int t = 0; t < T; t++, v += C, dm += O) {                                               \
      v128_t d[OV];                                                                              \
      for (int k = 0; k < OV; k++) d[k] = wasm_v128_load(dm + 4 * k);                            \
      for (int a = 0; a < CB; a++) {                                                             \
        const v128_t s = wasm_v128_load32_splat(v + a);                                          \
        for (int k = 0; k < OV; k++) acc[a][k] = MADD(s, d[k], acc[a][k]);                       \
      }                                                                                          \
    }                                                                                            \
    for (int a = 0; a < CB; a++)                                                                 \
      for (int k = 0; k < OV; k++) wasm_v128_store(du + a * O + 4 * k, acc[a][k]);              \
  }

WINO_GRAD_TILE(4, 3)
WINO_GRAD_TILE(4, 2)
WINO_GRAD_TILE(4, 1)

INLINE void wino_grad(const f32 *x, const f32 *dy, f32 *dU, f32 *scratch, int n0, int n1, int H, int W,
                      int C, int OH, int OW, int O, int PT, int PL, int R) {
  const int M = wino_m(R), TH = (OH + M - 1) / M, TW = (OW + M - 1) / M, per = TH * TW;
  f32 *V = scratch, *DM = scratch + A * A * WTBF * C;
  __builtin_memset(dU, 0, (unsigned)(A * A * C * O) * sizeof(f32));
  const int total = (n1 - n0) * per;
  for (int t0 = 0; t0 < total; t0 += WTBF) {
    const int T = imin(WTBF, total - t0);
    for (int t = 0; t < T; t++) {
      const int k = t0 + t, n = n0 + k / per, rem = k % per;
      wino_input(x, V, t, WTBF, n, rem / TW, rem % TW, H, W, C, PT, PL, R);
      wino_dy(dy, DM, t, n, rem / TW, rem % TW, OH, OW, O, R);
    }
    for (int xi = 0; xi < A * A; xi++) {
      const f32 *v = V + xi * WTBF * C, *dm = DM + xi * WTBF * O;
      f32 *du = dU + xi * C * O;
      for (int c = 0; c < C; c += 4) {
        int o = 0;
        for (; o + 12 <= O; o += 12) wgtile_4_3(v + c, dm + o, du + c * O + o, T, C, O);
        for (; o + 8 <= O; o += 8) wgtile_4_2(v + c, dm + o, du + c * O + o, T, C, O);
        for (; o < O; o += 4) wgtile_4_1(v + c, dm + o, du + c * O + o, T, C, O);
      }
    }
  }
}

EXPORT(winograd_grad)
void winograd_grad(const f32 *x, const f32 *dy, f32 *dU, f32 *scratch, int n0, int n1, int H, int W,
                   int C, int OH, int OW, int O, int PT, int PL, int R) {
  WINO_SIZES(R, wino_grad, x, dy, dU, scratch, n0, n1, H, W, C, OH, OW, O, PT, PL);
}

/* dg [R][R][C][O] = Gᵀ (Σ_k dU_k) G over the `parts` partial sums dU [parts][α²][C][O]. */
INLINE void wino_back(const f32 *dU, int parts, f32 *dg, int C, int O, int R) {
  const int CO = C * O, stride = A * A * CO;
  for (int k = 0; k < CO; k += 4) {
    v128_t t[5][6]; /* t = Gᵀ du: each column of du (over rows r) */
    UNROLL for (int s = 0; s < A; s++) {
      v128_t col[6], out[5];
      UNROLL for (int r = 0; r < A; r++) {
        const f32 *u = dU + (r * A + s) * CO + k;
        v128_t sum = wasm_v128_load(u);
        for (int p = 1; p < parts; p++) sum = wasm_f32x4_add(sum, wasm_v128_load(u + p * stride));
        col[r] = sum;
      }
      wino_gt(col, out, R);
      UNROLL for (int i = 0; i < R; i++) t[i][s] = out[i];
    }
    UNROLL for (int i = 0; i < R; i++) { /* dg = t G: each row of t */
      v128_t out[5];
      wino_gt(t[i], out, R);
      UNROLL for (int j = 0; j < R; j++) wasm_v128_store(dg + (i * R + j) * CO + k, out[j]);
    }
  }
}

EXPORT(winograd_filter_back)
void winograd_filter_back(const f32 *dU, int parts, f32 *dg, int C, int O, int R) {
  WINO_SIZES(R, wino_back, dU, parts, dg, C, O);
}

#undef A
