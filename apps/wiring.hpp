// From a role file to the settings of each layer. The one place that knows
// both config/ and the layers below.
#pragma once

#include <memory>
#include <string>

#include <caf/actor_system_config.hpp>

#include "actors/client_bridge.hpp"
#include "actors/gateway.hpp"
#include "actors/service_bridge.hpp"
#include "actors/zone.hpp"
#include "apps/cli.hpp"
#include "config/role.hpp"
#include "shm/region.hpp"

namespace hyperamp::apps {

shm::region_options region_options(const config::role_config& cfg);
shm::bell_settings bell_settings(const config::role_config& cfg);
actors::client_settings client_settings(const config::role_config& cfg);
actors::service_settings service_settings(const config::role_config& cfg);

/// CAF's settings: scheduler policy and threads, moderate-poll-attempts,
/// the hyperamp error category.
std::unique_ptr<caf::actor_system_config>
caf_config(const config::role_config& cfg);

/// The gateway of `amp-node gateway`: the role file's [gateway] section,
/// --port and --bind, the zone's deadline and largest payload.
actors::gateway_settings gateway_settings(const config::role_config& cfg,
                                          const options& o);

/// The gateway's TLS files (none: plain TCP).
actors::tls_files gateway_tls(const config::role_config& cfg);

/// CAF's settings for `amp-node call --remote` (no role file: the defaults
/// of one), with the middleman, the remote types and, with `tls`,
/// libcaf_openssl.
std::unique_ptr<caf::actor_system_config>
remote_caf_config(const actors::tls_files& tls);

/// Raises the open-file limit to its hard limit (a gateway holds a socket
/// per connection); a message if it could not, "" otherwise.
std::string raise_file_limit();

/// Refuses a command that does not fit the file's role (config_error).
void check_role(const config::role_config& cfg, const options& o);

/// "1 encrypt, 2 decrypt, 66 echo"
std::string service_list();

} // namespace hyperamp::apps
