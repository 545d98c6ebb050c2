// Global and shared memory: vector loads/stores, pointer arithmetic, shared layout, a block reduction, buffer_load.
#include "emu_test.h"

namespace emutest {
namespace {

TEST(Memory, SharedMemoryBlockReductionWithBarriers) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Gfx950, 2});
  Kernel k("block_sum");
  ValueId in = k.param("in", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId sm = k.shared(Scalar::I32, 256);
  ValueId t = k.tid(0);
  k.store(k.at(sm, t), k.load(S(Scalar::I32), k.at(in, k.gid())));
  k.barrier();
  k.for_(k.i32(0), k.i32(8), k.i32(1), [&](ValueId step) {
    ValueId stride = k.op(OpCode::LShr, S(Scalar::I32), {k.i32(128), step});
    k.if_(k.icmp(CmpPred::Slt, t, stride), [&] {
      ValueId mine = k.at(sm, t);
      ValueId other = k.load(S(Scalar::I32), k.at(sm, k.add(t, stride)));
      k.store(mine, k.add(k.load(S(Scalar::I32), mine), other));
    });
    k.barrier();
  });
  k.if_(k.icmp(CmpPred::Eq, t, k.i32(0)), [&] { k.store(k.at(out, k.bid(0)), k.load(S(Scalar::I32), sm)); });
  const uint32_t blocks = 6;
  std::vector<int32_t> xs(256 * blocks);
  for (auto& x : xs) x = int32_t(rng() % 2001) - 1000;
  DevicePtr xi = upload(*dev, xs);
  DevicePtr o = poisoned<int32_t>(*dev, blocks);
  dev->load(k.fn, nullptr)->launch({blocks, 1, 1}, {256, 1, 1}, std::vector{ptr_arg(xi, Scalar::I32), ptr_arg(o, Scalar::I32)}, nullptr);
  auto got = download<int32_t>(*dev, o, blocks);
  for (uint32_t b = 0; b < blocks; ++b) {
    int32_t want = 0;
    for (int i = 0; i < 256; ++i) want += xs[b * 256 + i];
    ASSERT_EQ(got[b], want) << "block " << b;
  }
}

TEST(Memory, SharedAllocationsAreLaidOutInProgramOrder) {
  auto dev = emulator::make_emulator_device();
  Kernel k("layout");
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId a = k.shared(Scalar::I8, 3);
  ValueId b = k.shared(Scalar::F32, 5);
  ValueId c = k.shared(Scalar::I16, 8);
  ValueId t = k.tid(0);
  // Each thread writes its id into a (byte), b and c, then reads neighbours back.
  k.if_(k.icmp(CmpPred::Slt, t, k.i32(3)), [&] { k.store(k.at(a, t), k.op(OpCode::Trunc, S(Scalar::I8), {t})); });
  k.if_(k.icmp(CmpPred::Slt, t, k.i32(5)), [&] {
    k.store(k.at(b, t), k.op(OpCode::SIToFP, S(Scalar::F32), {k.add(t, k.i32(100))}));
  });
  k.store(k.at(c, t), k.op(OpCode::Trunc, S(Scalar::I16), {k.add(t, k.i32(200))}));
  k.barrier();
  auto off = [&](ValueId p) { return k.op(OpCode::Bitcast, S(Scalar::I32), {p}); };
  ValueId base = k.mul(t, k.i32(6));
  k.store(k.at(out, base), off(a));
  k.store(k.at(out, k.add(base, k.i32(1))), off(b));
  k.store(k.at(out, k.add(base, k.i32(2))), off(c));
  ValueId r = k.op(OpCode::URem, S(Scalar::I32), {k.add(t, k.i32(1)), k.i32(3)});
  k.store(k.at(out, k.add(base, k.i32(3))), k.op(OpCode::SExt, S(Scalar::I32), {k.load(S(Scalar::I8), k.at(a, r))}));
  ValueId r5 = k.op(OpCode::URem, S(Scalar::I32), {k.add(t, k.i32(2)), k.i32(5)});
  k.store(k.at(out, k.add(base, k.i32(4))), k.op(OpCode::FPToSI, S(Scalar::I32), {k.load(S(Scalar::F32), k.at(b, r5))}));
  ValueId r8 = k.op(OpCode::Sub, S(Scalar::I32), {k.i32(7), t});
  k.store(k.at(out, k.add(base, k.i32(5))), k.op(OpCode::SExt, S(Scalar::I32), {k.load(S(Scalar::I16), k.at(c, r8))}));
  // Reference layout: each allocation 16-byte aligned, in program order.
  std::vector<int32_t> offsets;
  uint32_t cursor = 0;
  for (uint32_t bytes : {3u * 1u, 5u * 4u, 8u * 2u}) {
    cursor = (cursor + 15) / 16 * 16;
    offsets.push_back(int32_t(cursor));
    cursor += bytes;
  }
  EXPECT_EQ(k.fn.shared_bytes(), cursor);
  DevicePtr o = poisoned<int32_t>(*dev, 48);
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {8, 1, 1}, std::vector{ptr_arg(o, Scalar::I32)}, nullptr);
  auto got = download<int32_t>(*dev, o, 48);
  for (int t = 0; t < 8; ++t) {
    ASSERT_EQ(got[size_t(t * 6 + 0)], offsets[0]);
    ASSERT_EQ(got[size_t(t * 6 + 1)], offsets[1]);
    ASSERT_EQ(got[size_t(t * 6 + 2)], offsets[2]);
    ASSERT_EQ(got[size_t(t * 6 + 3)], (t + 1) % 3);
    ASSERT_EQ(got[size_t(t * 6 + 4)], 100 + (t + 2) % 5);
    ASSERT_EQ(got[size_t(t * 6 + 5)], 200 + (7 - t));
  }
}

TEST(Memory, VectorLoadsAndStoresWithNegativeI64Indices) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device();
  Kernel k("reverse");
  ValueId in = k.param("in", G(Scalar::F32));
  ValueId inb = k.param("inb", G(Scalar::BF16));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId outb = k.param("outb", G(Scalar::BF16));
  ValueId n = k.param("n", S(Scalar::I32));
  ValueId g = k.op(OpCode::SExt, S(Scalar::I64), {k.gid()});
  ValueId n64 = k.op(OpCode::SExt, S(Scalar::I64), {n});
  // Pointers to the end, then negative offsets back.
  ValueId end = k.at(in, k.mul(n64, k.i64(4)));
  ValueId endb = k.at(inb, k.mul(n64, k.i64(8)));
  ValueId back = k.op(OpCode::Sub, S(Scalar::I64), {k.i64(0), k.mul(k.add(g, k.i64(1)), k.i64(4))});
  ValueId backb = k.op(OpCode::Sub, S(Scalar::I64), {k.i64(0), k.mul(k.add(g, k.i64(1)), k.i64(8))});
  ValueId v = k.load(V(Scalar::F32, 4), k.at(end, back));
  ValueId vb = k.load(V(Scalar::BF16, 8), k.at(endb, backb));
  k.store(k.at(out, k.mul(g, k.i64(4))), v);
  k.store(k.at(outb, k.mul(g, k.i64(8))), vb);
  const int N = 128;
  std::vector<float> xs(N * 4);
  std::vector<uint16_t> hs(N * 8);
  for (auto& x : xs) x = random_float(rng);
  for (auto& h : hs) h = uint16_t(rng());
  DevicePtr xi = upload(*dev, xs), hi = upload(*dev, hs);
  DevicePtr o = poisoned<float>(*dev, N * 4), ob = poisoned<uint16_t>(*dev, N * 8);
  dev->load(k.fn, nullptr)->launch({2, 1, 1}, {64, 1, 1},
                                   std::vector{ptr_arg(xi, Scalar::F32), ptr_arg(hi, Scalar::BF16), ptr_arg(o, Scalar::F32),
                                               ptr_arg(ob, Scalar::BF16), i32_arg(N)},
                                   nullptr);
  auto got = download<uint32_t>(*dev, o, N * 4);
  auto gotb = download<uint16_t>(*dev, ob, N * 8);
  for (int g = 0; g < N; ++g) {
    for (int e = 0; e < 4; ++e) ASSERT_EQ(got[size_t(g * 4 + e)], std::bit_cast<uint32_t>(xs[size_t((N - 1 - g) * 4 + e)]));
    for (int e = 0; e < 8; ++e) ASSERT_EQ(gotb[size_t(g * 8 + e)], hs[size_t((N - 1 - g) * 8 + e)]);
  }
}

TEST(Memory, BufferLoadChecksEachDwordAgainstNumRecords) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (Target target : {Target::Gfx950, Target::Sm90a}) {
    auto dev = emulator::make_emulator_device({target, 2});
    Kernel k("buffer");
    ValueId base = k.param("base", G(Scalar::I32));
    ValueId nrec = k.param("nrec", G(Scalar::I32));
    ValueId offs = k.param("offs", G(Scalar::I32));
    ValueId out = k.param("out", G(Scalar::I32));
    ValueId g = k.gid();
    ValueId nr = k.load(S(Scalar::I32), k.at(nrec, g));
    ValueId of = k.load(S(Scalar::I32), k.at(offs, g));
    ValueId v = k.op(OpCode::BufferLoad, V(Scalar::I32, 4), {base, nr, of});
    k.store(k.at(out, k.mul(g, k.i32(4))), v);
    const size_t lanes = 256;
    std::vector<int32_t> buf(64), nrs(lanes), ofs(lanes);
    for (auto& x : buf) x = int32_t(rng() | 1);  // never 0, so a read is distinguishable from a zero fill
    for (size_t i = 0; i < lanes; ++i) {
      nrs[i] = int32_t(rng() % 257);  // any byte count up to the buffer's 256 bytes
      ofs[i] = int32_t(4 * (rng() % 70));
    }
    ofs[0] = int32_t(0xFFFFFFF0u);  // unsigned offset near 2^32: out of range, no wraparound
    nrs[0] = 256;
    ofs[1] = 244;  // dwords 0..2 in range, dword 3 at 256 is not
    nrs[1] = 256;
    ofs[2] = 0;  // straddling dword: bytes 8..11 with num_records 10 -> OOB
    nrs[2] = 10;
    DevicePtr b = upload(*dev, buf), n = upload(*dev, nrs), o = upload(*dev, ofs);
    DevicePtr r = poisoned<int32_t>(*dev, lanes * 4);
    dev->load(k.fn, nullptr)->launch({4, 1, 1}, {64, 1, 1},
                                     std::vector{ptr_arg(b, Scalar::I32), ptr_arg(n, Scalar::I32), ptr_arg(o, Scalar::I32),
                                                 ptr_arg(r, Scalar::I32)},
                                     nullptr);
    auto got = download<int32_t>(*dev, r, lanes * 4);
    for (size_t i = 0; i < lanes; ++i)
      for (uint32_t d = 0; d < 4; ++d) {
        uint64_t o8 = uint64_t(uint32_t(ofs[i])) + 4 * d;
        int32_t want = o8 + 4 <= uint64_t(uint32_t(nrs[i])) ? buf[o8 / 4] : 0;
        ASSERT_EQ(got[i * 4 + d], want) << "lane " << i << " dword " << d << " offset " << ofs[i] << " nrec " << nrs[i];
      }
  }
}

}  // namespace
}  // namespace emutest
