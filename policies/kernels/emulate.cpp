// Runs kernels/lowrank.cu on the CPU: every CUDA thread of a block is a std::thread,
// __syncthreads is a block barrier and __shfl_down_sync a warp exchange through memory with
// CUDA's semantics (lanes reading past the warp keep their own value). Checks the kernel
// against a plain reference over ranks, widths, block sizes, flags and activations, so the
// kernel's indexing and reductions are tested on machines without a GPU.
//   g++ -std=c++20 -O1 -pthread -x c++ policies/kernels/emulate.cpp -o /tmp/emulate && /tmp/emulate
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <vector>

struct Dim3 { unsigned x; };
static thread_local unsigned t_tid;
static unsigned g_bdim, g_bidx;
static std::unique_ptr<std::barrier<>> g_block;
static std::vector<std::unique_ptr<std::barrier<>>> g_warps;
static std::vector<float> g_lanes;
static std::vector<float> g_shared(1 << 16);

#define threadIdx (Dim3{t_tid})
#define blockIdx (Dim3{g_bidx})
#define blockDim (Dim3{g_bdim})
#define __global__
#define __restrict__
#define EGGROLL_SHARED_DECL float* sh = g_shared.data()

static void __syncthreads() { g_block->arrive_and_wait(); }
static float __shfl_down_sync(unsigned, float v, int off) {
    unsigned lane = t_tid & 31, w = t_tid >> 5;
    g_lanes[t_tid] = v;
    g_warps[w]->arrive_and_wait();
    float r = lane + off < 32 ? g_lanes[w * 32 + lane + off] : v;
    g_warps[w]->arrive_and_wait();
    return r;
}

#include "lowrank.cu"

static void launch(int rows, int block, const float* x, const float* a, const float* b,
                   const unsigned* blk, const float* coef, const float* sig, const float* bias,
                   const float* beps, float* y, int n, int m, int r, int act, int flags) {
    g_bdim = block;
    g_lanes.assign(block, 0.0f);
    for (int row = 0; row < rows; ++row) {
        g_bidx = row;
        g_block = std::make_unique<std::barrier<>>(block);
        g_warps.clear();
        for (int w = 0; w < block / 32; ++w) g_warps.push_back(std::make_unique<std::barrier<>>(32));
        std::vector<std::thread> ts;
        for (int t = 0; t < block; ++t)
            ts.emplace_back([=] { t_tid = t; eggroll_lowrank_finish(x, a, b, blk, coef, sig, bias, beps, y, n, m, r, act, flags); });
        for (auto& t : ts) t.join();
    }
}

int main() {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd;
    int cases = 0, failed = 0;
    struct Case { int n, m, r, block, act, flags; };
    const Case cs[] = {{4, 64, 1, 64, 1, 7}, {64, 2, 1, 64, 0, 7}, {70, 33, 4, 96, 2, 7},
                       {300, 40, 3, 256, 1, 5}, {5, 9, 2, 32, 1, 1}, {17, 12, 1, 32, 0, 2},
                       {40, 40, 8, 64, 1, 3}, {3, 7, 1, 32, 2, 0}};
    for (const Case& c : cs) {
        const int rows = 6, K = 4;
        std::vector<float> x(rows * c.n), a(K * c.m * c.r), b(K * c.n * c.r), y0(rows * c.m);
        std::vector<float> bias(c.m), beps(K * c.m), coef(rows), sig(rows);
        std::vector<unsigned> blk(rows);
        for (auto* v : {&x, &a, &b, &y0, &bias, &beps})
            for (auto& e : *v) e = nd(rng);
        for (int i = 0; i < rows; ++i) {
            blk[i] = (i * 3) % K;
            sig[i] = (i % 2 ? -0.3f : 0.3f);
            coef[i] = sig[i] / std::sqrt((float)c.r);
        }
        std::vector<float> y = y0, ref = y0;
        launch(rows, c.block, x.data(), a.data(), b.data(), blk.data(), coef.data(), sig.data(),
               bias.data(), beps.data(), y.data(), c.n, c.m, c.r, c.act, c.flags);
        float worst = 0;
        for (int i = 0; i < rows; ++i) {
            unsigned k = blk[i];
            std::vector<double> t(c.r, 0.0);
            for (int q = 0; q < c.r; ++q)
                for (int j = 0; j < c.n; ++j) t[q] += (double)x[i * c.n + j] * b[(k * c.n + j) * c.r + q];
            for (int o = 0; o < c.m; ++o) {
                double v = y0[i * c.m + o];
                if (c.flags & 1)
                    for (int q = 0; q < c.r; ++q) v += coef[i] * t[q] * a[(k * c.m + o) * c.r + q];
                if (c.flags & 2) v += bias[o];
                if (c.flags & 4) v += sig[i] * beps[k * c.m + o];
                if (c.act == 1) v = std::tanh(v);
                if (c.act == 2) v = v > 0 ? v : 0;
                worst = std::fmax(worst, std::fabs((float)v - y[i * c.m + o]));
            }
        }
        ++cases;
        bool ok = worst <= 1e-4f;
        failed += !ok;
        std::printf("n=%d m=%d r=%d block=%d act=%d flags=%d: max abs error %.2e %s\n", c.n, c.m,
                    c.r, c.block, c.act, c.flags, worst, ok ? "ok" : "FAILED");
    }
    std::printf("%d cases, %d failed\n", cases, failed);
    return failed ? 1 : 0;
}
