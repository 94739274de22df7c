// The fused low-rank finish of one layer of the population forward (the CUDA body of
// `eggroll_policies::device::FinishOp`). Runs after the shared GEMM `y = x Wᵀ` (cuBLAS).
//
// One block per row (row i belongs to noise block blk[i]); for every row:
//   t_q   = coef_i · Σ_j x[i,j] · b[blk,j,q]              (q < r; coef_i = σ·sign_i/√r)
//   y[i,k] = act(y[i,k] + Σ_q t_q · a[blk,k,q] + bias[k] + sig_i · bias_eps[blk,k])
// so W + σ A Bᵀ is never formed: the kernel reads x, a, b once and updates y in place.
//
// flags: bit 0 = low-rank term, bit 1 = bias, bit 2 = bias noise. act: 0 none, 1 tanh, 2 relu.
// Launch: grid = rows, block = a multiple of 32 (≤ 1024), dynamic shared memory =
// (r + (block / 32) · r) floats, r ≤ block.

// The CPU emulator (emulate.cpp) provides its own shared memory.
#ifndef EGGROLL_SHARED_DECL
#define EGGROLL_SHARED_DECL extern __shared__ float sh[]
#endif

extern "C" __global__ void eggroll_lowrank_finish(
    const float* __restrict__ x,
    const float* __restrict__ a,
    const float* __restrict__ b,
    const unsigned int* __restrict__ blk,
    const float* __restrict__ coef,
    const float* __restrict__ sig,
    const float* __restrict__ bias,
    const float* __restrict__ bias_eps,
    float* __restrict__ y,
    int n, int m, int r, int act, int flags)
{
    EGGROLL_SHARED_DECL;
    float* t = sh;          // r values
    float* part = sh + r;   // (block / 32) × r warp partial sums
    const int row = blockIdx.x;
    const int tid = threadIdx.x;
    const int nwarps = blockDim.x >> 5;
    const bool lowrank = (flags & 1) != 0;
    const bool has_bias = (flags & 2) != 0;
    const bool has_bias_eps = (flags & 4) != 0;
    const unsigned int k = (lowrank || has_bias_eps) ? blk[row] : 0u;
    const float* xr = x + (size_t)row * n;
    float* yr = y + (size_t)row * m;

    if (lowrank) {
        const float* bk = b + (size_t)k * n * r;
        for (int q = 0; q < r; ++q) {
            float s = 0.0f;
            for (int j = tid; j < n; j += blockDim.x) {
                s += xr[j] * bk[(size_t)j * r + q];
            }
            for (int off = 16; off > 0; off >>= 1) {
                s += __shfl_down_sync(0xffffffffu, s, off);
            }
            if ((tid & 31) == 0) {
                part[(tid >> 5) * r + q] = s;
            }
        }
        __syncthreads();
        if (tid < r) {
            float s = 0.0f;
            for (int w = 0; w < nwarps; ++w) {
                s += part[w * r + tid];
            }
            t[tid] = s * coef[row];
        }
        __syncthreads();
    }

    const float* ak = a + (size_t)k * m * r;
    const float sg = has_bias_eps ? sig[row] : 0.0f;
    for (int i = tid; i < m; i += blockDim.x) {
        float v = yr[i];
        if (lowrank) {
            float s = 0.0f;
            for (int q = 0; q < r; ++q) {
                s += t[q] * ak[(size_t)i * r + q];
            }
            v += s;
        }
        if (has_bias) {
            v += bias[i];
        }
        if (has_bias_eps) {
            v += sg * bias_eps[(size_t)k * m + i];
        }
        if (act == 1) {
            v = tanhf(v);
        } else if (act == 2) {
            v = fmaxf(v, 0.0f);
        } else if (act == 3) {
            v = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
        }
        yr[i] = v;
    }
}
