// Prepares a Function for the emulator: value storage layout (liveness-based reuse) and one handler per op.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "backend/emulator/interp.h"
#include "dsl/error.h"

namespace tilejit::emulator::detail {

void Prep::reject(const std::string& why) const {
  throw UserError(fmt::format("emulator: kernel '{}': op '{}' at {}: {}", fn.name, ir::op_info(op.code).name,
                              op.loc.str(), why));
}

namespace {

constexpr uint32_t kNone = ~0u;

/// Where an op's value can be computed ahead of the body (see Program::prologue).
enum class Hoist { No, Launch, Workgroup };

Hoist hoist_of(ir::OpCode code) {
  switch (code) {
    case ir::OpCode::Const: case ir::OpCode::Param: case ir::OpCode::ThreadId: case ir::OpCode::LaneId:
    case ir::OpCode::BlockDim: case ir::OpCode::GridDim: case ir::OpCode::SharedAlloc:
      return Hoist::Launch;
    case ir::OpCode::BlockId: return Hoist::Workgroup;
    default: return Hoist::No;
  }
}

/// Identical hoisted values share storage: constants of one type and bits, the same id or parameter.
std::string hoist_key(const ir::Function& fn, const ir::Op& op) {
  if (op.code == ir::OpCode::SharedAlloc) return {};  // each allocation is distinct
  std::string key = fmt::format("{}|{}", int(op.code), ir::to_string(fn.type_of(op.result)));
  for (int64_t a : op.attrs) key += fmt::format("|{}", a);
  return key;
}

struct Loop {
  uint32_t start, end;
};

/// Liveness over the ops numbered in program (pre-)order. A value lives from the op that
/// defines it to its last use; a use inside a loop that does not contain the definition keeps
/// the value alive to the end of that loop. Operands of for/if are used at the end of the op.
/// With concurrent ifs, an if counts as a loop and what its regions define lives to its end.
class Layout {
 public:
  /// concurrent_ifs: the two regions of an if may run interleaved (the warp scheduler), so an if
  /// keeps what its regions use or define alive to its end, like a loop.
  Layout(const ir::Function& fn, bool concurrent_ifs) : fn_(fn), concurrent_ifs_(concurrent_ifs) {
    size_t n = fn.value_types.size();
    def_.assign(n, kNone);
    last_.assign(n, 0);
    offset_.assign(n, kNone);
    def_region_.assign(n, nullptr);
    def_op_.assign(n, nullptr);
    uint32_t next = 0;
    number(fn.body, next);
    count_ = next;
    std::vector<Loop> loops, ifs;
    std::vector<const ir::Region*> scopes{&fn.body};
    uses(fn.body, loops, ifs, scopes);
    allocate();
  }

  uint32_t offset(ir::ValueId v) const { return offset_.at(v); }
  uint32_t lane_bytes() const { return lane_bytes_; }

 private:
  static uint32_t storage(const ir::Type& t) { return uint32_t(std::max(t.size_bytes(), 0)); }

  void number(const ir::Region& r, uint32_t& next) {
    for (const ir::Op& op : r.ops) {
      uint32_t idx = next++;
      index_[&op] = idx;
      if (op.result != ir::kNoValue) {
        define(op, op.result, idx, &r);
        def_op_[op.result] = &op;
      }
      for (const ir::Region& sub : op.regions)
        for (ir::ValueId a : sub.args) define(op, a, idx, &sub);
      for (const ir::Region& sub : op.regions) number(sub, next);
      end_[&op] = next - 1;
      for (const ir::Region& sub : op.regions)
        for (ir::ValueId a : sub.args) last_[a] = next - 1;  // the induction variable lives to the loop's end
    }
  }

  void define(const ir::Op& op, ir::ValueId v, uint32_t idx, const ir::Region* region) {
    if (v >= def_.size())
      throw UserError(fmt::format("emulator: kernel '{}': op '{}' at {} defines value %{} outside the value table",
                                  fn_.name, ir::op_info(op.code).name, op.loc.str(), v));
    if (def_[v] != kNone)
      throw UserError(fmt::format("emulator: kernel '{}': value %{} is defined twice (op '{}' at {})", fn_.name,
                                  v, ir::op_info(op.code).name, op.loc.str()));
    def_[v] = idx;
    def_region_[v] = region;
    last_[v] = std::max(last_[v], idx);
  }

  void uses(const ir::Region& r, std::vector<Loop>& loops, std::vector<Loop>& ifs,
            std::vector<const ir::Region*>& scopes) {
    for (const ir::Op& op : r.ops) {
      uint32_t idx = index_.at(&op), end = end_.at(&op);
      if (!ifs.empty()) {  // defined inside a concurrent if: alive until the outermost one ends
        if (op.result != ir::kNoValue) last_[op.result] = std::max(last_[op.result], ifs.front().end);
        for (const ir::Region& sub : op.regions)
          for (ir::ValueId a : sub.args) last_[a] = std::max(last_[a], ifs.front().end);
      }
      uint32_t at = op.regions.empty() ? idx : end;
      for (ir::ValueId v : op.operands) {
        if (v >= def_.size() || def_[v] == kNone || def_[v] > idx)
          throw UserError(fmt::format("emulator: kernel '{}': op '{}' at {} uses value %{} before it is defined",
                                      fn_.name, ir::op_info(op.code).name, op.loc.str(), v));
        if (std::find(scopes.begin(), scopes.end(), def_region_[v]) == scopes.end())
          throw UserError(fmt::format("emulator: kernel '{}': op '{}' at {} uses value %{} outside the region "
                                      "that defines it",
                                      fn_.name, ir::op_info(op.code).name, op.loc.str(), v));
        uint32_t until = at;
        for (const Loop& l : loops)
          if (def_[v] < l.start) {
            until = std::max(until, l.end);
            break;
          }
        last_[v] = std::max(last_[v], until);
      }
      const bool loop = op.code == ir::OpCode::For || (concurrent_ifs_ && op.code == ir::OpCode::If);
      if (loop) loops.push_back({idx, end});
      if (concurrent_ifs_ && op.code == ir::OpCode::If) ifs.push_back({idx, end});
      for (const ir::Region& sub : op.regions) {
        scopes.push_back(&sub);
        uses(sub, loops, ifs, scopes);
        scopes.pop_back();
      }
      if (loop) loops.pop_back();
      if (concurrent_ifs_ && op.code == ir::OpCode::If) ifs.pop_back();
    }
  }

  void allocate() {
    std::vector<std::vector<ir::ValueId>> defs(count_), frees(count_);
    for (ir::ValueId v = 0; v < def_.size(); ++v) {
      if (def_[v] == kNone) continue;
      defs[def_[v]].push_back(v);
      frees[last_[v]].push_back(v);
    }
    std::map<uint32_t, std::vector<uint32_t>> free_lists;  // rounded size -> offsets
    std::map<std::string, uint32_t> pinned;                // hoisted values by key
    uint32_t top = 0;
    auto rounded = [&](ir::ValueId v) { return (storage(fn_.value_types[v]) + 7u) & ~7u; };
    for (uint32_t i = 0; i < count_; ++i) {
      for (ir::ValueId v : defs[i]) {
        uint32_t size = rounded(v);
        const ir::Op* op = def_op_[v];
        if (op && hoist_of(op->code) != Hoist::No) {
          std::string key = hoist_key(fn_, *op);
          auto it = key.empty() ? pinned.end() : pinned.find(key);
          if (it != pinned.end()) {
            offset_[v] = it->second;
          } else {
            offset_[v] = top;
            top += size;
            if (!key.empty()) pinned[key] = offset_[v];
          }
          continue;
        }
        auto& fl = free_lists[size];
        if (!fl.empty()) {
          offset_[v] = fl.back();
          fl.pop_back();
        } else {
          offset_[v] = top;
          top += size;
        }
      }
      for (ir::ValueId v : frees[i])
        if (!def_op_[v] || hoist_of(def_op_[v]->code) == Hoist::No) free_lists[rounded(v)].push_back(offset_[v]);
    }
    lane_bytes_ = std::max<uint32_t>(top, 8);
  }

  const ir::Function& fn_;
  bool concurrent_ifs_ = false;
  std::map<const ir::Op*, uint32_t> index_, end_;
  std::vector<uint32_t> def_, last_, offset_;
  std::vector<const ir::Region*> def_region_;
  std::vector<const ir::Op*> def_op_;
  uint32_t count_ = 0;
  uint32_t lane_bytes_ = 0;
};

class Builder {
 public:
  Builder(Program& prog, const Layout& layout) : prog_(prog), layout_(layout) {}

  const Block* build(const ir::Region& r, uint32_t depth) {
    prog_.levels = std::max(prog_.levels, depth + 1);
    prog_.blocks.push_back(std::make_unique<Block>());
    Block* b = prog_.blocks.back().get();
    b->insts.reserve(r.ops.size());
    for (const ir::Op& op : r.ops) {
      Inst in = make(op, depth);
      Hoist h = hoist_of(op.code);
      if (h == Hoist::No) {
        b->insts.push_back(std::move(in));
      } else if (emitted_.insert(in.r).second) {  // one op per shared storage slot
        (h == Hoist::Launch ? prog_.prologue : prog_.wg_prologue).insts.push_back(std::move(in));
      }
    }
    return b;
  }

 private:
  Inst make(const ir::Op& op, uint32_t depth) {
    const ir::Function& fn = prog_.fn;
    Inst in;
    in.op = &op;
    in.depth = depth;
    in.cache = prog_.insts;
    prog_.insts += 2;  // two cache slots (cp_async: global source, shared destination)
    in.attr = op.attrs.empty() ? 0 : op.attrs[0];
    if (op.result != ir::kNoValue) {
      in.rt = fn.type_of(op.result);
      in.r = layout_.offset(op.result);
      in.width = in.rt.width;
    }
    for (size_t i = 0; i < op.operands.size(); ++i) {
      uint32_t off = layout_.offset(op.operands[i]);
      in.ov.push_back(off);
      if (i < 3) {
        in.o[i] = off;
        in.ot[i] = fn.type_of(op.operands[i]);
      }
    }
    Prep p{fn, prog_.opts, *prog_.target, op, in, shared_cursor_, prog_.shared_ranges};
    const ir::OpInfo& info = ir::op_info(op.code);
    if (info.operands >= 0 && op.operands.size() != size_t(info.operands))
      p.reject(fmt::format("expects {} operands, has {}", info.operands, op.operands.size()));
    if (op.regions.size() != size_t(info.regions))
      p.reject(fmt::format("expects {} regions, has {}", info.regions, op.regions.size()));
    for (size_t i = 0; i < op.regions.size(); ++i) {
      if (!op.regions[i].args.empty()) in.arg = layout_.offset(op.regions[i].args[0]);
      in.region[i] = build(op.regions[i], depth + 1);
    }
    for (auto select : {select_values, select_arith, select_convert, select_memory, select_control,
                        select_intrinsics})
      if ((in.fn = select(p))) return in;
    p.reject("the emulator has no semantics for this op");
  }

  Program& prog_;
  const Layout& layout_;
  uint64_t shared_cursor_ = 0;
  std::set<uint32_t> emitted_;  // storage offsets of hoisted values already computed
};

}  // namespace

std::unique_ptr<Program> build_program(const ir::Function& fn, const Options& opts) {
  auto prog = std::make_unique<Program>();
  prog->fn = fn;
  prog->opts = opts;
  prog->target = &target_info(opts.target);
  for (uint32_t i = 0; i < fn.value_types.size(); ++i)
    if (fn.value_types[i].is_value() && (fn.value_types[i].width < 1 || fn.value_types[i].width > 64))
      throw UserError(fmt::format("emulator: kernel '{}': value %{} has vector width {} (1..64 allowed)",
                                  fn.name, i, fn.value_types[i].width));
  ir::walk(prog->fn.body, [&](const ir::Op& op) {
    prog->warp_scheduling |= op.code == ir::OpCode::MbarrierInit || op.code == ir::OpCode::MbarrierWait ||
                             op.code == ir::OpCode::NamedBarrier;
  });
  Layout layout(prog->fn, prog->warp_scheduling);
  prog->lane_bytes = layout.lane_bytes();
  Builder b(*prog, layout);
  b.build(prog->fn.body, 0);
  prog->shared_bytes = prog->fn.shared_bytes();
  ir::walk(prog->fn.body, [&](const ir::Op& op) { prog->uses_wgmma |= op.code == ir::OpCode::Wgmma; });
  return prog;
}

}  // namespace tilejit::emulator::detail
