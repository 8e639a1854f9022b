// Example service for docs/adding-a-service.md: reverses the payload.
// To make it part of hyperamp, copy this file to services/reverse.cpp and
// add one line to services/services.def:
//   HYPERAMP_SERVICE(3, reverse)
// test/example/ compiles this very file and runs it through two zones.
#include <algorithm>

#include "services/registry.hpp"

namespace hyperamp::services {

namespace {

class reverse_service final : public basic_service<reverse_service> {
public:
  static constexpr const char* service_name = "reverse";

  using basic_service::basic_service;

  // The payload is in the shared region: transform it in place and say how
  // many bytes of the buffer (at most j.capacity) are the response.
  static job_result process(job& j) {
    std::reverse(j.data, j.data + j.length);
    return {shm::wire_status::ok, j.length};
  }
};

} // namespace

// services.def's HYPERAMP_SERVICE(3, reverse) calls this by name.
service_entry reverse_entry() {
  return make_entry<reverse_service>(/* may run inline */ true);
}

} // namespace hyperamp::services
