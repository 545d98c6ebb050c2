// Stage-2 configuration checks and names.
#include "kernels/moe/stage2/config.h"

#include <fmt/format.h>

#include <set>
#include <sstream>
#include <stdexcept>

namespace tilejit::kernels {

void MoeStage2Config::validate() const {
  auto fail = [](const std::string& m) { throw std::invalid_argument("MoeStage2Config: " + m); };
  if (model_dim <= 0 || model_dim % 32) fail(fmt::format("model_dim must be a positive multiple of 32, got {}", model_dim));
  if (inter_dim <= 0 || inter_dim % 256) fail(fmt::format("inter_dim must be a positive multiple of 256, got {}", inter_dim));
  if (experts <= 0) fail(fmt::format("experts must be positive, got {}", experts));
  if (topk <= 0 || topk > experts || topk > 255) fail(fmt::format("topk must be in [1, min(experts, 255)], got {}", topk));
  // First: shared_bytes() and unroll_for() below divide by these.
  if (k_batch < 1 || inter_dim % k_batch || (inter_dim / k_batch) % kStage2ChunkK)
    fail(fmt::format("k_batch {} does not split inter_dim {} into whole slices of {} K", k_batch, inter_dim, kStage2ChunkK));
  if (unroll < 1 || unroll > 8 || unroll == 5 || unroll == 7)
    fail(fmt::format("unroll must be 1, 2, 3, 4, 6 or 8, got {}", unroll));
  if (tile_m != 16 && tile_m != 32 && tile_m != 64 && tile_m != 96 && tile_m != 128)
    fail(fmt::format("tile_m must be 16, 32, 64, 96 or 128, got {}", tile_m));
  if (tile_m > 64 && !shared_mainloop) fail(fmt::format("tile_m {} needs shared_mainloop", tile_m));
  if (token_owner) {
    if (tile_n != 16 && tile_n != 32 && tile_n != 64 && tile_n != 128)
      fail(fmt::format("token_owner needs tile_n 16, 32, 64 or 128, got {}", tile_n));
    if (tile_m != 16 || k_batch != 1 || warps_m != 1 || shared_mainloop || !accumulate)
      fail("token_owner needs tile_m 16, k_batch 1, warps_m 1, the register main loop and accumulate");
  } else if (tile_n != 64 && tile_n != 128 && tile_n != 256 && tile_n != 512) {
    fail(fmt::format("tile_n must be 64, 128, 256 or 512, got {}", tile_n));
  }
  if (!shared_mainloop && tile_m * tile_n > 32 * 256)
    fail(fmt::format("tile_m {} x tile_n {} is too large a tile for the register main loop (at most 8192 elements)",
                     tile_m, tile_n));
  if (token_owner && shared_bytes() > kStage2MaxSharedBytes)
    fail(fmt::format("token_owner with topk {} x inter_dim {} needs {} bytes of shared memory, more than gfx950's {} KiB",
                     topk, inter_dim, shared_bytes(), kStage2MaxSharedBytes / 1024));
  if (shared_bytes() > max_shared_bytes())
    fail(fmt::format("tile_m {} x tile_n {} needs {} bytes of shared memory, more than {}'s {} KiB", tile_m, tile_n,
                     shared_bytes(), warp_specialized ? "sm_90a" : "gfx950", max_shared_bytes() / 1024));
  if ((warps_m != 1 && warps_m != 2 && warps_m != 4) || (tile_m / 16) % warps_m)
    fail(fmt::format("warps_m must be 1, 2 or 4 and divide tile_m / 16 = {}, got {}", tile_m / 16, warps_m));
  if (shared_mainloop && (tile_m % 32 || tile_n < 128))
    fail(fmt::format("shared_mainloop needs tile_m a multiple of 32 and tile_n >= 128, got {} x {}", tile_m, tile_n));
  // Its tiles are those of the shared main loop (checked above): 32, 64, 96 or 128 x 128 or 256, not 96 or 128 x 256.
  if (wgmma_rs && (!wgmma || !shared_mainloop)) fail("wgmma_rs needs wgmma and shared_mainloop");
  if (wgmma && !wgmma_rs && (!shared_mainloop || !((tile_m == 64 && (tile_n == 128 || tile_n == 256)) || (tile_m == 128 && tile_n == 128))))
    fail(fmt::format("wgmma needs shared_mainloop with tile_m 64 and tile_n 128 or 256, or 128 x 128, got {} x {}{}", tile_m, tile_n,
                     shared_mainloop ? "" : " without shared_mainloop"));
  if (warp_specialized && wgmma_rs) {
    if (stagger_warpgroups) fail("warp_specialized with wgmma_rs needs the warpgroups in step ('ns')");
  } else if (warp_specialized) {
    if (shared_mainloop || token_owner) fail("warp_specialized needs the register main loop (not shared_mainloop or token_owner) or wgmma_rs");
    if (unroll_for(slice_k() / kStage2ChunkK) % 2)
      fail(fmt::format("warp_specialized needs an even unroll (whole 256-K scale runs per stage), the slice of {} chunks "
                       "runs unroll {}", slice_k() / kStage2ChunkK, unroll_for(slice_k() / kStage2ChunkK)));
    if (model_dim % tile_n) fail(fmt::format("warp_specialized needs model_dim {} a multiple of tile_n {}", model_dim, tile_n));
    if (!register_epilogue) fail("warp_specialized needs register_epilogue (its consumers share no block barrier)");
  }
  if (!accumulate && k_batch > 1) fail("k_batch > 1 needs accumulate = true (the slices add into the output)");
  if (min_blocks_per_sm < -1 || min_blocks_per_sm > 8)
    fail(fmt::format("min_blocks_per_sm must be -1 (automatic), 0 (none) or 1..8, got {}", min_blocks_per_sm));
}

bool MoeStage2Config::uses_shared_activations() const {
  return shared_activations && !shared_mainloop && !token_owner && activation_bytes() <= kStage2MaxActivationBytes;
}

std::string MoeStage2Config::kernel_name() const {
  // token_owner: the unroll as given (the kernel resolves it per K part, which depends on the target),
  // and no pair_scales / register_epilogue flags (it reads neither).
  return fmt::format("moe_stage2_a16w4_n{}_k{}_e{}_t{}_m{}n{}k{}u{}{}{}{}_{}{}{}{}{}{}{}{}{}{}{}{}", model_dim, inter_dim, experts, topk,
                     tile_m, tile_n, k_batch, token_owner ? unroll : unroll_for(slice_k() / kStage2ChunkK),
                     warps_m > 1 ? fmt::format("w{}", warps_m) : "", shared_mainloop ? (wgmma_rs ? "sr" : wgmma ? "sg" : "s") : "",
                     wgmma_rs && stagger_warpgroups ? "g" : "", out_dtype == OutDtype::BF16 ? "bf16" : "f32", has_bias ? "_bias" : "",
                     doweight ? "_w" : "", accumulate ? "" : "_store", stream_weights ? "" : "_l1w",
                     pair_scales || token_owner ? "" : "_s8", register_epilogue && !token_owner ? "_re" : "", small_scale_decode ? "" : "_x2",
                     uses_shared_activations() ? "_sa" : "",
                     blocks_per_sm_hint() ? fmt::format("_b{}", blocks_per_sm_hint()) : "", token_owner ? "_own" : "",
                     warp_specialized ? "_ws" : "");
}

std::string MoeStage2Config::tiles_text() const {
  return fmt::format("tm{} tn{} kb{} u{}{}{}{}{}{}", tile_m, tile_n, k_batch, token_owner ? unroll : unroll_for(slice_k() / kStage2ChunkK),
                     warps_m > 1 ? fmt::format(" wm{}", warps_m) : "", shared_mainloop ? (wgmma_rs ? " wr" : wgmma ? " wg" : " sh") : "",
                     wgmma_rs && !stagger_warpgroups ? " ns" : "", token_owner ? " ow" : "", warp_specialized ? " ws" : "");
}

MoeStage2Config MoeStage2Config::with_tiles_text(std::string_view text) const {
  auto fail = [&](const std::string& m) {
    throw std::invalid_argument(fmt::format("tiles \"{}\": {}", text, m));
  };
  MoeStage2Config c = *this;
  c.tile_m = c.tile_n = 0;
  c.k_batch = 1;
  c.unroll = 2;
  c.warps_m = 1;
  c.shared_mainloop = c.wgmma = c.wgmma_rs = c.token_owner = c.warp_specialized = false;
  c.stagger_warpgroups = true;
  std::set<std::string> seen;
  std::istringstream words{std::string(text)};
  for (std::string w; words >> w;) {
    const size_t digits = w.find_first_of("0123456789");
    const std::string key = w.substr(0, digits);
    const bool loop_word = key == "sh" || key == "wg" || key == "wr";
    if (!seen.insert(loop_word ? "loop" : key).second) fail(fmt::format("'{}' repeats a field", w));
    if ((key == "ow" || key == "ws") && digits == std::string::npos) {
      (key == "ow" ? c.token_owner : c.warp_specialized) = true;
      continue;
    }
    if (loop_word || key == "ns") {
      if (digits != std::string::npos) fail(fmt::format("unknown word '{}'", w));
      c.shared_mainloop = c.shared_mainloop || loop_word;
      c.wgmma = c.wgmma || key == "wg" || key == "wr";
      c.wgmma_rs = c.wgmma_rs || key == "wr";
      if (key == "ns") c.stagger_warpgroups = false;
      continue;
    }
    int* field = key == "tm" ? &c.tile_m : key == "tn" ? &c.tile_n : key == "kb" ? &c.k_batch
               : key == "u" ? &c.unroll : key == "wm" ? &c.warps_m : nullptr;
    if (!field) fail(fmt::format("unknown word '{}' (tmN tnN kbN uN wmN sh wg wr ns ow ws)", w));
    const std::string number = digits == std::string::npos ? "" : w.substr(digits);
    if (number.empty() || number.size() > 6 || number.find_first_not_of("0123456789") != std::string::npos)
      fail(fmt::format("'{}' needs a number after '{}'", w, key));
    *field = std::stoi(number);
  }
  if (!c.tile_m || !c.tile_n) fail("needs tmN and tnN");
  if (c.shared_mainloop && !seen.count("u")) c.unroll = 1;  // the shared loops' rows in tables and the tuner
  if (!c.stagger_warpgroups && !c.wgmma_rs) fail("'ns' needs 'wr'");
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  return c;
}

}  // namespace tilejit::kernels
