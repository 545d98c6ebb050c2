// The IR: typed SSA values, ops from the registry (ops.def), structured regions.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dsl/ir/types.h"

namespace tilejit::ir {

enum class OpCode : uint16_t {
#define TILEJIT_OP(Enum, text, operands, regions, kind) Enum,
#include "dsl/ir/ops.def"
#undef TILEJIT_OP
  Count_
};

enum class OpKind : uint8_t { Pure, Memory, Sync, Control, Slot, Target };

struct OpInfo {
  std::string_view name;
  int operands;  // -1: variadic
  int regions;
  OpKind kind;
};

const OpInfo& op_info(OpCode code);
/// Looks an op up by its text name; false when unknown.
bool op_from_name(std::string_view name, OpCode& out);

/// Comparison predicates (attr 0 of icmp / fcmp). Float predicates are ordered
/// (false if either side is NaN) except Une, which is true on NaN.
enum class CmpPred : uint8_t { Eq, Ne, Slt, Sle, Sgt, Sge, Ult, Ule, Ugt, Uge,
                               Oeq, Une, Olt, Ole, Ogt, Oge };
std::string_view pred_name(CmpPred p);
bool pred_from_name(std::string_view name, CmpPred& out);

/// How a global load uses the caches (optional attr 0 of load / buffer_load; absent = Normal).
/// Stream: the data is read once and not written while the kernel runs (weights): sm_90a reads
/// it non-coherently without allocating in L1 (ld.global.nc.L1::no_allocate), so L1 keeps the
/// data that is reused; gfx950 marks plain loads nontemporal. Results are the same either way.
enum class CachePolicy : uint8_t { Normal = 0, Stream = 1 };

using ValueId = uint32_t;
inline constexpr ValueId kNoValue = ~0u;

struct Op;

/// A region is a straight list of ops with optional arguments (a for loop's
/// induction variable).
struct Region {
  std::vector<ValueId> args;
  std::vector<Op> ops;
};

/// Where the user's code created an op (not part of the canonical text).
struct SourceLoc {
  std::string file;
  uint32_t line = 0;
  bool known() const { return line != 0; }
  std::string str() const;
};

/// One op. Attributes are integers: a const's raw bits, an id's dimension, a
/// predicate, a vector index, a shared allocation's element count, a param's index.
struct Op {
  OpCode code{};
  ValueId result = kNoValue;
  std::vector<ValueId> operands;
  std::vector<int64_t> attrs;
  std::vector<Region> regions;
  SourceLoc loc;
};

struct Param {
  std::string name;
  Type type;
};

/// A traced kernel: parameters, the value table and the body.
struct Function {
  std::string name;
  std::vector<Param> params;
  std::vector<Type> value_types;  // indexed by ValueId
  Region body;
  /// Fixed workgroup size when the kernel declares one (0 = any).
  uint32_t block_size[3] = {0, 0, 0};
  /// sm_90a occupancy hint with a fixed block size: at least this many blocks per SM
  /// (.minnctapersm; registers capped to fit). 0: the compiler's choice.
  uint32_t min_blocks_per_sm = 0;

  ValueId new_value(Type t) {
    value_types.push_back(t);
    return ValueId(value_types.size() - 1);
  }
  const Type& type_of(ValueId v) const { return value_types.at(v); }
  /// Total bytes of shared memory the kernel allocates (16-byte aligned each).
  uint64_t shared_bytes() const;
};

/// Constant bit helpers (a const's attr 0 holds the raw bits of its type).
int64_t const_bits_of_double(Type t, double v);
double const_bits_to_double(Type t, int64_t bits);

/// Visits every op, depth first, in program order.
template <class F>
void walk(const Region& r, F&& f) {
  for (const Op& op : r.ops) {
    f(op);
    for (const Region& sub : op.regions) walk(sub, f);
  }
}

}  // namespace tilejit::ir
