// define_once: one definition per configuration name.
#include "dsl/kernel_family.h"

#include <map>
#include <mutex>

namespace tilejit {

KernelDef define_once(const std::string& name, const std::function<KernelDef()>& define) {
  static std::mutex mutex;
  static std::map<std::string, KernelDef> defined;
  std::lock_guard lock(mutex);
  auto it = defined.find(name);
  if (it != defined.end()) return it->second;
  return defined.emplace(name, define()).first->second;
}

}  // namespace tilejit
