// The wgmma tile kernel and its reference (wgmma_cases.h).
#include "tests/tile/wgmma_cases.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>

#include "backend/launch/kernel.h"
#include "dsl/tile/core_matrix_tile.h"
#include "dsl/tile/intrinsics.h"
#include "dsl/tile/shared_tile.h"
#include "dsl/tilejit.h"
#include "tests/tile/tile_test_util.h"

namespace tilejit::tile_test {

namespace {

constexpr int kThreads = 256;

/// `width` floats at p (loads move at most 16 bytes: four at a time).
Value load_wide(const Value& p, int width) {
  std::vector<Value> elems;
  for (int i = 0; i < width; i += 4) {
    Value v = load(p + i, 4);
    for (int j = 0; j < 4; ++j) elems.push_back(extract(v, j));
  }
  return make_vector(elems);
}

void store_wide(const Value& p, const Value& v) {
  for (int i = 0; i < v.type().width; i += 4)
    store(p + i, make_vector({extract(v, i), extract(v, i + 1), extract(v, i + 2), extract(v, i + 3)}));
}

/// This lane's A fragment (the RS form's register layout, ops.def) of A (64 x k, row-major) at K
/// k0 .. k0 + 15: element i = A[16 w + l / 4 + 8 (i / 2 % 2)][k0 + 2 (l % 4) + i % 2 + 8 (i / 4)].
Value a_fragment(const WgmmaCase& c, Ptr<bf16> a, int k0) {
  Value lane = urem(thread_id(), 128);
  Value row = udiv(lane, 32) * 16 + udiv(urem(lane, 32), 4), col = urem(lane, 4) * 2 + k0;
  std::vector<Value> elems;
  for (int pair = 0; pair < 4; ++pair) {
    Value v = load(a + ((row + 8 * (pair % 2)) * c.k + col + 8 * (pair / 2)), 2);
    elems.push_back(extract(v, 0));
    elems.push_back(extract(v, 1));
  }
  return make_vector(elems);
}

/// Copies A (64 x k) and B (2n x k) into the tiles (A stays in global memory when c.a_in_registers),
/// then warpgroup g multiplies A by rows g n .. of B: out[thread] = acc_in[thread] + the product,
/// in the accumulator layout.
template <class Tile, class Operand>
void multiply(const WgmmaCase& c, const Tile& ta, const Tile& tb, Operand operand, tile::WgmmaLayout layout,
              Ptr<bf16> a, Ptr<bf16> b, Ptr<float> acc_in, Ptr<float> out) {
  const int chunks = c.k / 8;
  for (auto [t, src, rows] : {std::tuple{&ta, a, c.a_in_registers ? 0 : 64}, std::tuple{&tb, b, 2 * c.n}})
    for_range(thread_id(), rows * chunks, kThreads, [&, t = t, src = src](Value i) {
      Value row = udiv(i, chunks), chunk = urem(i, chunks);
      store(t->chunk_address(0, row, chunk), load(src + (row * c.k + chunk * 8), 8));
    });
  tile::fence_proxy_async();
  barrier();
  Value group = udiv(thread_id(), 128);
  Value d = load_wide(acc_in + thread_id() * (c.n / 2), c.n / 2);
  std::vector<Value> frags;
  for (int k0 = 0; k0 < c.k && c.a_in_registers; k0 += 16) frags.push_back(a_fragment(c, a, k0));
  Var<> acc(d);
  auto steps = [&](int from, int to) {
    for (int k0 = from; k0 < to; k0 += 16)
      acc = tile::wgmma(c.a_in_registers ? frags[size_t(k0 / 16)] : operand(ta, Int(0), k0), operand(tb, group * c.n, k0),
                        acc, layout);
  };
  tile::wgmma_fence();
  if (c.branch_between) {
    steps(0, c.k / 2);
    if_(acc_in[0] == acc_in[0], [&] { steps(c.k / 2, c.k); });  // finite inputs: always taken
  } else {
    steps(0, c.k);
  }
  tile::wgmma_commit();
  store_wide(out + thread_id() * (c.n / 2), tile::wgmma_wait(acc, 0));
}

KernelDef wgmma_kernel(const WgmmaCase& c) {
  KernelOptions opts;
  opts.block = {uint32_t(kThreads), 1, 1};
  if (c.swizzled)  // k is 64: one 128-byte swizzle row
    return kernel(fmt::format("wgmma_swizzled_n{}{}{}", c.n, c.a_in_registers ? "_rs" : "", c.branch_between ? "_br" : ""),
                  [c](Ptr<bf16> a, Ptr<bf16> b, Ptr<float> acc_in, Ptr<float> out) {
                    tile::SharedTile ta = tile::make_shared_tile(64, 64), tb = tile::make_shared_tile(2 * c.n, 64);
                    auto operand = [](const tile::SharedTile& t, const Value& row0, int k0) {
                      return tile::wgmma_operand(t, 0, row0, k0);
                    };
                    multiply(c, ta, tb, operand, tile::wgmma_layout(ta), a, b, acc_in, out);
                  },
                  opts);
  return kernel(fmt::format("wgmma_tile_n{}_k{}{}{}", c.n, c.k, c.a_in_registers ? "_rs" : "", c.branch_between ? "_br" : ""),
                [c](Ptr<bf16> a, Ptr<bf16> b, Ptr<float> acc_in, Ptr<float> out) {
                  tile::CoreMatrixTile ta = tile::make_core_matrix_tile(64, c.k);
                  tile::CoreMatrixTile tb = tile::make_core_matrix_tile(2 * c.n, c.k);
                  auto operand = [](const tile::CoreMatrixTile& t, const Value& row0, int k0) {
                    return t.operand(0, row0, k0);
                  };
                  multiply(c, ta, tb, operand, ta.layout(), a, b, acc_in, out);
                },
                opts);
}

std::vector<uint16_t> draw_bf16(std::mt19937& rng, size_t count, bool exact) {
  if (!exact) return random_bf16(rng, count);
  std::vector<uint16_t> v(count);
  for (auto& h : v) {
    float f = float(int(rng() % 15) - 7) * std::ldexp(1.0f, int(rng() % 5) - 2);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    h = uint16_t(u >> 16);
  }
  return v;
}

}  // namespace

WgmmaRun make_wgmma_inputs(const WgmmaCase& c, std::mt19937& rng) {
  WgmmaRun r;
  r.a = draw_bf16(rng, size_t(64) * c.k, c.exact_values);
  r.b = draw_bf16(rng, size_t(2 * c.n) * c.k, c.exact_values);
  std::vector<uint16_t> c16 = draw_bf16(rng, size_t(kThreads) * c.n / 2, c.exact_values);
  for (uint16_t h : c16) r.c.push_back(float(bf16_value(h)));
  return r;
}

CompileInfo run_wgmma(Device& device, const WgmmaCase& c, WgmmaRun& run) {
  static std::map<std::tuple<int, int, bool, bool, bool>, KernelDef> defs;
  auto key = std::tuple{c.n, c.k, c.swizzled, c.a_in_registers, c.branch_between};
  if (!defs.count(key)) defs.emplace(key, wgmma_kernel(c));
  Kernel k = compile(defs.at(key), device);
  Buffer<uint16_t> da(device, std::span<const uint16_t>(run.a)), db(device, std::span<const uint16_t>(run.b));
  Buffer<float> dc(device, std::span<const float>(run.c)), dout(device, run.c.size());
  dout.fill_bytes(0xFF);  // NaN: an element never written fails
  k.launch({1, 1, 1}, {uint32_t(kThreads), 1, 1}, da, db, dc, dout);
  run.out = dout.download();
  return k.info();
}

double wgmma_reference(const WgmmaCase& c, const WgmmaRun& run, int thread, int i, double* abs_sum) {
  const int g = thread / 128, w = thread % 128 / 32, l = thread % 32;
  const int row = 16 * w + l / 4 + 8 * (i / 2 % 2), col = g * c.n + 8 * (i / 4) + 2 * (l % 4) + i % 2;
  double sum = run.c[size_t(thread) * c.n / 2 + i], mag = std::abs(sum);
  for (int kk = 0; kk < c.k; ++kk) {
    double t = bf16_value(run.a[size_t(row) * c.k + kk]) * bf16_value(run.b[size_t(col) * c.k + kk]);
    sum += t;
    mag += std::abs(t);
  }
  if (abs_sum) *abs_sum = mag;
  return sum;
}

}  // namespace tilejit::tile_test
