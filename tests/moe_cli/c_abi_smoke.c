/* A plain C caller of the MoE stage-2 C ABI: proves the header compiles and links as C. */
#include <stdio.h>
#include <string.h>

#include "kernels/moe/stage2/c_api.h"

/* Creates a handle from a bad and a good config, reads the kernel name and the last error.
 * Returns 0 on success, else a line number; `message` receives what went wrong or the kernel name. */
int tilejit_c_abi_smoke(int32_t model_dim, char* message, size_t size) {
  tilejit_moe_stage2_config config;
  tilejit_moe_stage2* op = NULL;
  const char* name = NULL;
  if (tilejit_moe_stage2_config_init(&config) != TILEJIT_OK) return __LINE__;
  config.model_dim = model_dim + 1; /* not a multiple of 32 */
  config.inter_dim = 256;
  config.experts = 4;
  config.topk = 2;
  if (tilejit_moe_stage2_create(&config, &op) != TILEJIT_ERROR_INVALID_ARGUMENT) return __LINE__;
  if (op != NULL) return __LINE__;
  if (strstr(tilejit_last_error(), "model_dim") == NULL) return __LINE__;
  config.model_dim = model_dim;
  if (tilejit_moe_stage2_create(&config, &op) != TILEJIT_OK) {
    snprintf(message, size, "%s", tilejit_last_error());
    return __LINE__;
  }
  if (tilejit_moe_stage2_kernel_name(op, &name) != TILEJIT_OK) return __LINE__;
  snprintf(message, size, "%s", name);
  if (tilejit_moe_stage2_destroy(op) != TILEJIT_OK) return __LINE__;
  return 0;
}
