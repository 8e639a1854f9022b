// Service 66, echo: the response is the request.
#include "services/registry.hpp"

namespace hyperamp::services {

namespace {

class echo_service final : public basic_service<echo_service> {
public:
  static constexpr const char* service_name = "echo";

  using basic_service::basic_service;

  static job_result process(job& j) { return {shm::wire_status::ok, j.length}; }
};

} // namespace

service_entry echo_entry() {
  return make_entry<echo_service>(true);
}

} // namespace hyperamp::services
