// The stage-2 config chooser: table parsing and writing, bucket selection, the fallback heuristic.
#include "kernels/moe/stage2/chooser.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tilejit::kernels {

/// The JSON text of kernels/moe/stage2/configs/builtin.json (generated at configure time).
extern const char* const kMoeStage2BuiltinConfigsJson;

namespace {

using json = nlohmann::json;
constexpr const char* kFormat = "tilejit-moe-stage2-configs";
constexpr int kVersion = 1;

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

/// Checks one table row; `fail(field, message)` throws.
class EntryParser {
 public:
  EntryParser(const std::string& origin, size_t index, const json& j) : origin_(origin), index_(index), j_(j) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw std::invalid_argument(fmt::format("{}: entry {}: field '{}': {}", origin_, index_, field, what));
  }

  int integer(const char* field, int lo, int hi) const {
    auto it = j_.find(field);
    if (it == j_.end()) fail(field, "missing");
    if (!it->is_number_integer()) fail(field, fmt::format("must be an integer, got {}", it->dump()));
    int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) fail(field, fmt::format("must be in [{}, {}], got {}", lo, hi, v));
    return int(v);
  }
  int one_of(const char* field, std::initializer_list<int> allowed) const {
    int v = integer(field, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
      fail(field, fmt::format("must be one of {}, got {}", fmt::join(allowed, ", "), v));
    return v;
  }
  bool flag(const char* field, bool absent) const {
    auto it = j_.find(field);
    if (it == j_.end()) return absent;
    if (!it->is_boolean()) fail(field, fmt::format("must be true or false, got {}", it->dump()));
    return it->get<bool>();
  }
  std::optional<std::string> string(const char* field, bool required) const {
    auto it = j_.find(field);
    if (it == j_.end()) {
      if (required) fail(field, "missing");
      return std::nullopt;
    }
    if (!it->is_string()) fail(field, fmt::format("must be a string, got {}", it->dump()));
    return it->get<std::string>();
  }

  MoeStage2TableEntry parse() const {
    if (!j_.is_object()) throw std::invalid_argument(fmt::format("{}: entry {}: must be an object, got {}", origin_, index_, j_.dump()));
    static const char* const kFields[] = {"device",  "model_dim", "inter_dim", "experts", "topk",
                                          "max_tokens", "tile_m",  "tile_n",    "k_batch", "unroll",
                                          "warps_m", "shared_mainloop", "wgmma", "wgmma_rs", "stagger_warpgroups", "token_owner", "warp_specialized", "median_us", "source",  "device_name"};
    for (const auto& [key, value] : j_.items())
      if (std::find_if(std::begin(kFields), std::end(kFields), [&](const char* f) { return key == f; }) ==
          std::end(kFields))
        fail(key, "is not a field of a table entry");
    MoeStage2TableEntry e;
    e.device = *string("device", true);
    if (e.device.empty()) fail("device", "must not be empty (use \"default\" for any device)");
    e.shape.model_dim = integer("model_dim", 32, 1 << 20);
    if (e.shape.model_dim % 32) fail("model_dim", fmt::format("must be a multiple of 32, got {}", e.shape.model_dim));
    e.shape.inter_dim = integer("inter_dim", 256, 1 << 20);
    if (e.shape.inter_dim % 256) fail("inter_dim", fmt::format("must be a multiple of 256, got {}", e.shape.inter_dim));
    e.shape.experts = integer("experts", 1, 1 << 20);
    e.shape.topk = integer("topk", 1, std::min(e.shape.experts, 255));
    e.max_tokens = integer("max_tokens", 1, (1 << 24) - 1);
    e.tile_m = one_of("tile_m", {16, 32, 64, 96, 128});
    e.token_owner = flag("token_owner", false);
    e.tile_n = e.token_owner ? one_of("tile_n", {16, 32, 64, 128}) : one_of("tile_n", {64, 128, 256, 512});
    e.k_batch = integer("k_batch", 1, e.shape.inter_dim / kStage2ChunkK);
    if (e.shape.inter_dim % e.k_batch || (e.shape.inter_dim / e.k_batch) % kStage2ChunkK)
      fail("k_batch", fmt::format("{} does not split inter_dim {} into whole slices of {} K", e.k_batch,
                                  e.shape.inter_dim, kStage2ChunkK));
    e.unroll = one_of("unroll", {1, 2, 3, 4, 6, 8});
    if (j_.contains("warps_m")) e.warps_m = one_of("warps_m", {1, 2, 4});
    e.shared_mainloop = flag("shared_mainloop", false);
    e.wgmma = flag("wgmma", false);
    e.wgmma_rs = flag("wgmma_rs", false);
    e.stagger_warpgroups = flag("stagger_warpgroups", true);
    if (!e.stagger_warpgroups && !e.wgmma_rs)
      fail("stagger_warpgroups", "false needs wgmma_rs (other main loops have no warpgroups to stagger)");
    if (e.token_owner && (e.tile_m != 16 || e.k_batch != 1 || e.warps_m != 1 || e.shared_mainloop))
      fail("token_owner", "true needs tile_m 16, k_batch 1, warps_m 1 and the register main loop");
    e.warp_specialized = flag("warp_specialized", false);
    if (auto it = j_.find("median_us"); it != j_.end()) {
      if (!it->is_number() || it->is_boolean()) fail("median_us", fmt::format("must be a number, got {}", it->dump()));
      double v = it->get<double>();
      if (!std::isfinite(v) || v <= 0) fail("median_us", fmt::format("must be positive, got {}", v));
      e.median_us = v;
    }
    e.source = *string("source", true);
    if (e.source != "tuned" && e.source != "heuristic")
      fail("source", fmt::format("must be \"tuned\" or \"heuristic\", got \"{}\"", e.source));
    e.device_name = string("device_name", false).value_or("");
    MoeStage2Config c = e.apply_tiles({e.shape.model_dim, e.shape.inter_dim, e.shape.experts, e.shape.topk});
    try {
      c.validate();
    } catch (const std::invalid_argument& ex) {
      fail("config", ex.what());
    }
    return e;
  }

 private:
  const std::string& origin_;
  size_t index_;
  const json& j_;
};

}  // namespace

MoeStage2Config MoeStage2TableEntry::apply_tiles(MoeStage2Config base) const {
  base.tile_m = tile_m;
  base.tile_n = tile_n;
  base.k_batch = k_batch;
  base.unroll = unroll;
  base.warps_m = warps_m;
  base.shared_mainloop = shared_mainloop;
  base.wgmma = wgmma;
  base.wgmma_rs = wgmma_rs;
  base.stagger_warpgroups = stagger_warpgroups;
  base.token_owner = token_owner;
  base.warp_specialized = warp_specialized;
  return base;
}

void MoeStage2TableEntry::take_tiles(const MoeStage2Config& c) {
  tile_m = c.tile_m;
  tile_n = c.tile_n;
  k_batch = c.k_batch;
  unroll = c.unroll;
  warps_m = c.warps_m;
  shared_mainloop = c.shared_mainloop;
  wgmma = c.wgmma;
  wgmma_rs = c.wgmma_rs;
  stagger_warpgroups = !c.wgmma_rs || c.stagger_warpgroups;
  token_owner = c.token_owner;
  warp_specialized = c.warp_specialized;
}

bool same_table_row(const MoeStage2TableEntry& a, const MoeStage2TableEntry& b) {
  return lower(a.device) == lower(b.device) && a.shape == b.shape && a.max_tokens == b.max_tokens;
}

namespace {

auto sort_key(const MoeStage2TableEntry& e) {
  return std::make_tuple(lower(e.device) == "default", lower(e.device), e.shape.model_dim, e.shape.inter_dim,
                         e.shape.experts, e.shape.topk, e.max_tokens);
}

nlohmann::ordered_json entry_json(const MoeStage2TableEntry& e) {
  nlohmann::ordered_json j;
  j["device"] = e.device;
  j["model_dim"] = e.shape.model_dim;
  j["inter_dim"] = e.shape.inter_dim;
  j["experts"] = e.shape.experts;
  j["topk"] = e.shape.topk;
  j["max_tokens"] = e.max_tokens;
  j["tile_m"] = e.tile_m;
  j["tile_n"] = e.tile_n;
  j["k_batch"] = e.k_batch;
  j["unroll"] = e.unroll;
  if (e.warps_m != 1) j["warps_m"] = e.warps_m;
  if (e.shared_mainloop) j["shared_mainloop"] = true;
  if (e.wgmma) j["wgmma"] = true;
  if (e.wgmma_rs) j["wgmma_rs"] = true;
  if (e.wgmma_rs && !e.stagger_warpgroups) j["stagger_warpgroups"] = false;  // meaningless without wgmma_rs
  if (e.token_owner) j["token_owner"] = true;
  if (e.warp_specialized) j["warp_specialized"] = true;
  if (e.median_us) j["median_us"] = std::round(*e.median_us * 100) / 100;
  j["source"] = e.source;
  if (!e.device_name.empty()) j["device_name"] = e.device_name;
  return j;
}

std::string shape_text(const MoeStage2Shape& s) {
  return fmt::format("N={} K={} E={} topk={}", s.model_dim, s.inter_dim, s.experts, s.topk);
}

}  // namespace

std::optional<MoeStage2Shape> moe_stage2_model_shape(std::string_view name) {
  if (name == "gpt_oss") return MoeStage2Shape{3072, 3072, 128, 4};
  if (name == "deepseek_r1") return MoeStage2Shape{7168, 1024, 384, 8};
  return std::nullopt;
}

MoeStage2ConfigTable parse_config_table(std::string_view text, const std::string& origin) {
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw std::invalid_argument(fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  auto top_fail = [&](const std::string& field, const std::string& what) {
    throw std::invalid_argument(fmt::format("{}: field '{}': {}", origin, field, what));
  };
  if (!root.is_object()) throw std::invalid_argument(fmt::format("{}: the table must be a JSON object", origin));
  for (const auto& [key, value] : root.items())
    if (key != "format" && key != "version" && key != "comment" && key != "entries")
      top_fail(key, "is not a field of a config table (format, version, comment, entries)");
  auto format = root.find("format");
  if (format == root.end()) top_fail("format", fmt::format("missing (\"{}\")", kFormat));
  if (!format->is_string() || format->get<std::string>() != kFormat)
    top_fail("format", fmt::format("must be \"{}\", got {}", kFormat, format->dump()));
  auto version = root.find("version");
  if (version == root.end()) top_fail("version", "missing");
  if (!version->is_number_integer() || version->get<int64_t>() != kVersion)
    top_fail("version", fmt::format("must be {}, got {}", kVersion, version->dump()));
  if (auto c = root.find("comment"); c != root.end() && !c->is_string())
    top_fail("comment", fmt::format("must be a string, got {}", c->dump()));
  auto entries = root.find("entries");
  if (entries == root.end()) top_fail("entries", "missing");
  if (!entries->is_array()) top_fail("entries", fmt::format("must be an array, got {}", entries->type_name()));

  MoeStage2ConfigTable table;
  table.origin = origin;
  for (size_t i = 0; i < entries->size(); ++i) {
    MoeStage2TableEntry e = EntryParser(origin, i, (*entries)[i]).parse();
    for (size_t k = 0; k < table.entries.size(); ++k)
      if (same_table_row(table.entries[k], e))
        throw std::invalid_argument(fmt::format("{}: entry {}: duplicates entry {} (same device, shape and max_tokens)",
                                                origin, i, k));
    table.entries.push_back(std::move(e));
  }
  return table;
}

MoeStage2ConfigTable load_config_table(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument(fmt::format("{}: cannot open the config table", path));
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw std::invalid_argument(fmt::format("{}: cannot read the config table", path));
  return parse_config_table(ss.str(), path);
}

const MoeStage2ConfigTable& builtin_config_table() {
  static const MoeStage2ConfigTable table = parse_config_table(kMoeStage2BuiltinConfigsJson, "built-in");
  return table;
}

const MoeStage2ConfigTable& default_config_table() {
  static std::once_flag once;
  static std::optional<MoeStage2ConfigTable> from_env;
  static std::string env_error;
  std::call_once(once, [] {
    const char* path = std::getenv("TILEJIT_MOE_CONFIGS");
    if (!path || !*path) return;
    try {
      from_env = load_config_table(path);
    } catch (const std::invalid_argument& e) {
      env_error = fmt::format("TILEJIT_MOE_CONFIGS: {}", e.what());
    }
  });
  if (!env_error.empty()) throw std::invalid_argument(env_error);
  return from_env ? *from_env : builtin_config_table();
}

std::string config_table_json(const MoeStage2ConfigTable& table) {
  std::vector<MoeStage2TableEntry> entries = table.entries;
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return sort_key(a) < sort_key(b); });
  std::string out = fmt::format("{{\n  \"format\": \"{}\",\n  \"version\": {},\n", kFormat, kVersion);
  out += "  \"comment\": \"MoE stage-2 configs per (device substring, N, K, E, topk, token bucket upper bound); "
         "written by tilejit tune moe-stage2, read by kernels/moe/stage2/chooser.h\",\n";
  out += "  \"entries\": [";
  for (size_t i = 0; i < entries.size(); ++i)
    out += fmt::format("{}\n    {}", i ? "," : "", entry_json(entries[i]).dump());
  out += entries.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

MoeStage2ConfigTable merge_config_tables(const MoeStage2ConfigTable& base, const MoeStage2ConfigTable& update) {
  MoeStage2ConfigTable out;
  out.origin = base.origin;
  for (const MoeStage2TableEntry& e : base.entries)
    if (std::none_of(update.entries.begin(), update.entries.end(), [&](const auto& u) { return same_table_row(u, e); }))
      out.entries.push_back(e);
  for (const MoeStage2TableEntry& u : update.entries) out.entries.push_back(u);
  return out;
}

MoeStage2Config heuristic_moe_stage2(const MoeStage2Shape& s, int tokens, uint32_t compute_units,
                                     const MoeStage2Epilogue& epi, int tile_n, int unroll) {
  (void)compute_units;  // the tuned tables showed no dependence on the grid size to keep
  // What tuning on the H100 and the H200 found for both model shapes: with up to 16 rows per
  // routed expert, 16-row tiles and K slices of at most 4 chunks loaded at once (unroll 4: a block
  // requests all its weights before using any); with more rows, 32-row tiles over the whole K.
  const int64_t routed = int64_t(std::max(tokens, 1)) * s.topk;
  const int64_t active = std::min<int64_t>(routed, s.experts);
  const bool many_rows = routed > 16 * active;
  const int chunks = s.inter_dim / kStage2ChunkK;
  int k_batch = 1;
  if (!many_rows && epi.accumulate)
    while (chunks / k_batch > 4 || chunks % k_batch) ++k_batch;
  const int tn = tile_n ? tile_n : s.model_dim >= 512 ? 256 : s.model_dim >= 128 ? 128 : 64;
  const int tm = many_rows && 32 * tn <= 8192 ? 32 : 16;
  MoeStage2Config c{s.model_dim, s.inter_dim, s.experts, s.topk, tm, tn, k_batch, epi.out_dtype, epi.has_bias,
                    epi.doweight, epi.accumulate, unroll ? unroll : (many_rows ? 2 : 4)};
  c.validate();
  return c;
}

MoeStage2Choice choose_moe_stage2(const MoeStage2ConfigTable& table, const MoeStage2Shape& shape, int tokens,
                                  const std::string& device_name, uint32_t compute_units,
                                  const MoeStage2Epilogue& epi) {
  if (tokens < 1) throw std::invalid_argument(fmt::format("choose_moe_stage2: tokens must be positive, got {}", tokens));
  MoeStage2Choice choice;
  choice.config = heuristic_moe_stage2(shape, tokens, compute_units, epi);  // validates the shape
  const std::string name = lower(device_name);

  // The device group: the longest device string found in the name, else "default".
  std::string group;
  for (const MoeStage2TableEntry& e : table.entries) {
    std::string d = lower(e.device);
    if (e.shape == shape && d != "default" && name.find(d) != std::string::npos && d.size() > group.size()) group = d;
  }
  if (group.empty()) group = "default";
  int best = -1;
  for (size_t i = 0; i < table.entries.size(); ++i) {
    const MoeStage2TableEntry& e = table.entries[i];
    if (!(e.shape == shape) || lower(e.device) != group) continue;
    if (best < 0) {
      best = int(i);
      continue;
    }
    const MoeStage2TableEntry& b = table.entries[size_t(best)];
    const bool e_fits = e.max_tokens >= tokens, b_fits = b.max_tokens >= tokens;
    if (e_fits != b_fits ? e_fits : (e_fits ? e.max_tokens < b.max_tokens : e.max_tokens > b.max_tokens))
      best = int(i);
  }
  if (best < 0) {
    choice.reason = fmt::format("heuristic: the {} table has no entry for {} on '{}'", table.origin, shape_text(shape),
                                device_name);
    return choice;
  }
  const MoeStage2TableEntry& e = table.entries[size_t(best)];
  MoeStage2Config c = e.apply_tiles(choice.config);
  if (!epi.accumulate) c.k_batch = 1;
  c.validate();
  choice.config = c;
  choice.from_table = true;
  choice.entry_index = best;
  choice.reason = fmt::format("{} entry {} (device '{}', tokens <= {}{}, {}){}", table.origin, best, e.device,
                              e.max_tokens, e.max_tokens < tokens ? ": the largest bucket" : "", e.source,
                              !epi.accumulate && e.k_batch > 1 ? ", k_batch 1 without accumulation" : "");
  return choice;
}

unsigned compile_moe_stage2_parallel(Device& device, std::vector<MoeStage2A16W4>& kernels,
                                     const MoeStage2PrecompileOptions& options) {
  const size_t n = kernels.size();
  if (n == 0) return 0;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads = unsigned(std::min<size_t>(n, options.threads ? std::min(options.threads, hw) : hw));
  std::atomic<size_t> next{0};
  std::mutex report_mutex;
  size_t done = 0;
  std::vector<std::exception_ptr> errors(n);
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      auto t0 = std::chrono::steady_clock::now();
      std::string what;
      try {
        const CompileInfo& info = kernels[i].compile(device).info();
        what = info.memory_hit      ? " (memory cache hit)"
               : info.trace_skipped ? " (disk cache hit, not traced)"
               : info.disk_hit      ? " (disk cache hit)"
                                    : "";
      } catch (const std::exception& e) {
        errors[i] = std::current_exception();
        what = fmt::format(": FAILED: {}", e.what());
      } catch (...) {
        errors[i] = std::current_exception();
        what = ": FAILED";
      }
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard lock(report_mutex);
      ++done;
      if (options.progress)
        options.progress(fmt::format("compiled {}/{} {} in {:.1f} ms{}", done, n, kernels[i].definition().name(), ms, what));
    }
  };
  if (threads == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);
    for (std::thread& t : pool) t.join();
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return threads;
}

MoeStage2KernelSet precompile_moe_stage2(Device& device, const MoeStage2Shape& shape, const MoeStage2Epilogue& epilogue,
                                         std::vector<int> token_buckets, const MoeStage2ConfigTable& table,
                                         const MoeStage2PrecompileOptions& options) {
  if (token_buckets.empty()) throw std::invalid_argument("precompile_moe_stage2: no token buckets");
  std::sort(token_buckets.begin(), token_buckets.end());
  token_buckets.erase(std::unique(token_buckets.begin(), token_buckets.end()), token_buckets.end());
  if (token_buckets.front() < 1)
    throw std::invalid_argument(
        fmt::format("precompile_moe_stage2: token buckets must be positive, got {}", token_buckets.front()));
  MoeStage2KernelSet set;
  set.buckets_ = token_buckets;
  const std::string name = device.name();
  std::vector<std::string> names;
  for (int b : token_buckets) {
    MoeStage2Choice c = choose_moe_stage2(table, shape, b, name, device.compute_units(), epilogue);
    std::string kernel = c.config.kernel_name();
    auto it = std::find(names.begin(), names.end(), kernel);
    if (it == names.end()) {
      names.push_back(kernel);
      set.kernels_.emplace_back(c.config);
      it = names.end() - 1;
    }
    set.kernel_of_bucket_.push_back(size_t(it - names.begin()));
    set.choices_.push_back(std::move(c));
  }
  auto t0 = std::chrono::steady_clock::now();
  set.threads_ = compile_moe_stage2_parallel(device, set.kernels_, options);
  set.compile_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return set;
}

size_t MoeStage2KernelSet::bucket_index(int tokens) const {
  if (tokens < 1) throw std::invalid_argument(fmt::format("MoeStage2KernelSet: tokens must be positive, got {}", tokens));
  if (buckets_.empty()) throw std::logic_error("MoeStage2KernelSet: empty (made by precompile_moe_stage2)");
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), tokens);
  return it == buckets_.end() ? buckets_.size() - 1 : size_t(it - buckets_.begin());
}

const MoeStage2A16W4& MoeStage2KernelSet::for_tokens(int tokens) const {
  return kernels_[kernel_of_bucket_[bucket_index(tokens)]];
}

const MoeStage2Choice& MoeStage2KernelSet::choice_for_tokens(int tokens) const { return choices_[bucket_index(tokens)]; }

}  // namespace tilejit::kernels
