// Service encrypt: the hvisor-tool XOR pad over the whole payload ("hello"
// encrypts to 16 4e 2c 2f 12). An empty payload is a bad request, as in
// hvisor-tool, where length - 1 <= 0 fails.
#include "services/cipher.hpp"
#include "services/registry.hpp"

namespace hyperamp::services {

namespace {

class encrypt_service final : public basic_service<encrypt_service> {
public:
  static constexpr const char* service_name = "encrypt";

  using basic_service::basic_service;

  static job_result process(job& j) { return pad_job(j); }
};

} // namespace

service_entry encrypt_entry() {
  return make_entry<encrypt_service>(true);
}

} // namespace hyperamp::services
