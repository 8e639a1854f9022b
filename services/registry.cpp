#include "services/registry.hpp"

#include <algorithm>

namespace hyperamp::services {

#define HYPERAMP_SERVICE(sid, name) service_entry name##_entry();
#include "services/services.def"
#undef HYPERAMP_SERVICE

const std::vector<service_entry>& registry() {
  static const std::vector<service_entry> table = [] {
    std::vector<service_entry> t;
#define HYPERAMP_SERVICE(sid, name)                                            \
  t.push_back(name##_entry());                                                 \
  t.back().id = sid;
#include "services/services.def"
#undef HYPERAMP_SERVICE
    std::sort(t.begin(), t.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    return t;
  }();
  return table;
}

const service_entry* find(std::uint32_t id) {
  const auto& t = registry();
  auto i =
      std::lower_bound(t.begin(), t.end(), id,
                       [](const auto& e, std::uint32_t x) { return e.id < x; });
  return i != t.end() && i->id == id ? &*i : nullptr;
}

} // namespace hyperamp::services
