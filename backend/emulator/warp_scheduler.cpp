// Thread groups as fibers (ucontext): each group runs the ops of its region in step for its lanes;
// the scheduler, on the worker's own stack, resumes runnable and waiting groups in turn.
#include "backend/emulator/warp_scheduler.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

namespace tilejit::emulator::detail {

namespace {

constexpr size_t kStackBytes = size_t(512) << 10;
constexpr size_t kGuardBytes = size_t(4) << 10;

/// Thrown inside a group to unwind its stack when another group faulted.
struct Abandon {};

struct Group {
  ucontext_t ctx{};
  void* stack = nullptr;
  const Block* block = nullptr;
  Group* parent = nullptr;
  int children = 0;        // groups forked by this one that have not finished
  bool started = false;
  bool waiting = false;    // blocked in wait_for_others
  bool done = false;
  bool give_up = false;    // resumed to fault: nothing can change any more
  bool abandon = false;    // resumed to unwind: another group faulted
  // The execution state of the group while another runs.
  uint8_t* mask = nullptr;
  uint32_t active = 0;
  uint8_t* masks = nullptr;
  std::vector<uint8_t> masks_buf;  // its own mask levels (forked groups)
};

}  // namespace

struct Scheduler {
  Wave* w = nullptr;
  ucontext_t main{};
  std::vector<std::unique_ptr<Group>> groups;  // this workgroup's, in creation order
  Group* current = nullptr;
  bool progress = false;
  std::exception_ptr error;
  std::vector<void*> free_stacks;

  ~Scheduler() {
    for (void* s : free_stacks) munmap(s, kStackBytes);
  }

  void* take_stack() {
    if (!free_stacks.empty()) {
      void* s = free_stacks.back();
      free_stacks.pop_back();
      return s;
    }
    void* s = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s == MAP_FAILED) throw std::bad_alloc();
    mprotect(s, kGuardBytes, PROT_NONE);  // an overflow faults instead of corrupting memory
    return s;
  }
};

namespace {

thread_local Scheduler* tls_starting = nullptr;

void save(Wave& w, Group& g) {
  g.mask = w.mask;
  g.active = w.active;
  g.masks = w.masks;
}

void restore(Wave& w, const Group& g) {
  w.mask = g.mask;
  w.active = g.active;
  w.masks = g.masks;
}

/// Switches from the current group back to the scheduler; returns when it resumes this group.
void yield(Scheduler& s) {
  Group& g = *s.current;
  save(*s.w, g);
  swapcontext(&g.ctx, &s.main);
  if (g.abandon) throw Abandon{};
}

void group_entry() {
  Scheduler& s = *tls_starting;
  Group& g = *s.current;
  try {
    run_block(*s.w, *g.block);
  } catch (const Abandon&) {
  } catch (...) {
    if (!s.error) s.error = std::current_exception();
  }
  g.done = true;
  s.progress = true;
  if (g.parent && --g.parent->children == 0) g.parent->waiting = false;
  save(*s.w, g);
  // uc_link returns to the scheduler.
}

Group& spawn(Scheduler& s, const Block* block, Group* parent) {
  auto g = std::make_unique<Group>();
  g->block = block;
  g->parent = parent;
  g->stack = s.take_stack();
  getcontext(&g->ctx);
  g->ctx.uc_stack.ss_sp = static_cast<char*>(g->stack) + kGuardBytes;
  g->ctx.uc_stack.ss_size = kStackBytes - kGuardBytes;
  g->ctx.uc_link = &s.main;
  makecontext(&g->ctx, group_entry, 0);
  s.groups.push_back(std::move(g));
  return *s.groups.back();
}

/// Resumes `g` (started or not) until it yields or finishes.
void resume(Scheduler& s, Group& g) {
  g.started = true;
  s.current = &g;
  restore(*s.w, g);
  tls_starting = &s;
  swapcontext(&s.main, &g.ctx);
  s.current = nullptr;
}

/// After a fault: unwinds every group still suspended, so that what their stacks hold is released.
void abandon_all(Scheduler& s) {
  for (auto& g : s.groups)
    if (g->started && !g->done) {
      g->abandon = true;
      resume(s, *g);
    }
}

}  // namespace

void run_scheduled(Wave& w, const Block& body) {
  if (!w.sched) {
    w.sched_buf = std::make_shared<Scheduler>();
    w.sched = w.sched_buf.get();
    w.sched->w = &w;
  }
  Scheduler& s = *w.sched;
  uint8_t* const masks = w.masks;
  s.groups.clear();
  s.error = nullptr;
  Group& root = spawn(s, &body, nullptr);
  save(w, root);
  while (!root.done && !s.error) {
    s.progress = false;
    bool runnable = false;
    for (size_t i = 0; i < s.groups.size() && !s.error; ++i) {
      Group& g = *s.groups[i];
      if (g.done || g.children) continue;
      runnable |= !g.waiting;
      resume(s, g);
    }
    if (s.error) break;
    if (!s.progress && !runnable) {
      // Every group waits and none changed anything: let the first waiting one fault.
      for (auto& g : s.groups)
        if (!g->done && !g->children && g->waiting) {
          g->give_up = true;
          resume(s, *g);
          break;
        }
      if (!s.error) s.error = std::make_exception_ptr(std::logic_error("emulator: thread groups deadlocked"));
    }
  }
  if (s.error) abandon_all(s);
  for (auto& g : s.groups) s.free_stacks.push_back(g->stack);
  s.groups.clear();
  w.masks = masks;
  if (s.error) std::rethrow_exception(std::exchange(s.error, nullptr));
}

void fork_branches(Wave& w, const Inst& in, const uint8_t* then_mask, uint32_t then_active, const uint8_t* else_mask,
                   uint32_t else_active) {
  Scheduler& s = *w.sched;
  Group& parent = *s.current;
  const size_t level_bytes = size_t(w.P->levels + 1) * w.nlanes;
  const uint8_t* masks[2] = {then_mask, else_mask};
  const uint32_t active[2] = {then_active, else_active};
  for (int b = 0; b < 2; ++b) {
    Group& g = spawn(s, in.region[b], &parent);
    g.masks_buf.assign(level_bytes, 0);
    g.masks = g.masks_buf.data();
    g.mask = g.masks + size_t(in.depth + 1) * w.nlanes;
    std::memcpy(g.mask, masks[b], w.nlanes);
    g.active = active[b];
  }
  parent.children = 2;
  parent.waiting = true;
  s.progress = true;
  yield(s);
}

bool wait_for_others(Wave& w) {
  Scheduler& s = *w.sched;
  Group& g = *s.current;
  if (g.give_up) return false;
  g.waiting = true;
  yield(s);
  g.waiting = false;
  return !g.give_up;
}

void note_progress(Wave& w) {
  if (w.sched) w.sched->progress = true;
}

}  // namespace tilejit::emulator::detail
