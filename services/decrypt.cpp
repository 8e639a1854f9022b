// Service decrypt: the hvisor-tool XOR pad over the whole payload ("hello"
// encrypts to 16 4e 2c 2f 12). An empty payload is a bad request, as in
// hvisor-tool, where length - 1 <= 0 fails.
#include "services/cipher.hpp"
#include "services/registry.hpp"

namespace hyperamp::services {

namespace {

class decrypt_service final : public basic_service<decrypt_service> {
public:
  static constexpr const char* service_name = "decrypt";

  using basic_service::basic_service;

  static job_result process(job& j) { return pad_job(j); }
};

} // namespace

service_entry decrypt_entry() {
  return make_entry<decrypt_service>(true);
}

} // namespace hyperamp::services
