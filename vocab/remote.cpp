#include "vocab/remote.hpp"

#include <caf/actor_system_config.hpp>

#include "vocab/errors.hpp"

namespace hyperamp::vocab {

void register_remote_types(caf::actor_system_config& cfg) {
  // add_message_type<T> also registers std::vector<T> as
  // "std::vector<name>": call_replies and the batch of call_specs.
  cfg.add_message_type<bytes>(remote_type_names::bytes);
  cfg.add_message_type<call_spec>(remote_type_names::call_spec);
  cfg.add_message_type<call_reply>(remote_type_names::call_reply);
  cfg.add_message_type<session_grant>(remote_type_names::session_grant);
  register_errors(cfg);
}

} // namespace hyperamp::vocab
