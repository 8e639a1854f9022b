// Role files: the TOML file `amp-node` is started with, as plain structs.
//
// Every field is a key of the file under the same dotted name
// ("region.entries"). Its default is the member initialiser below; its
// type, range or choices and help are in the schema, config/schema.cpp,
// which the reader, validate(), to_toml and the key tables of
// docs/configuration.md all follow. Nothing here exposes toml11: the parser
// lives in role.cpp only.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

namespace hyperamp::config {

// -- enums --------------------------------------------------------------------

enum class role_kind { client, service };

enum class region_backend { file, physical };

// Spelled as in the file ("auto" | "create" | "attach"); `auto` is a
// keyword, hence `auto_`.
enum class region_create { auto_, create, attach };

enum class doorbell_backend { futex, hvisor, polling };

// How a service's pool spreads requests over its workers.
enum class dispatch_policy { least_loaded, round_robin };
/// Which thread runs the zone's bridge (actors::bridge_shell).
enum class bridge_thread { auto_, threaded, scheduled };

// The spelling used in role files ("client", "physical", "auto", ...); a
// value outside the enum gives its number.
std::string to_string(role_kind x);
std::string to_string(region_backend x);
std::string to_string(region_create x);
std::string to_string(doorbell_backend x);
std::string to_string(dispatch_policy x);
std::string to_string(bridge_thread x);

// -- sections -----------------------------------------------------------------

struct region_config {
  region_backend backend = region_backend::file;
  // The reader makes it "/dev/mem" for the physical backend when the file
  // does not say.
  std::string path = "/dev/shm/hyperamp";
  std::uint64_t phys_addr = 0;
  // 0 = computed from entries, payload_size and max_clients by shm/.
  std::uint64_t size = 0;
  std::uint32_t entries = 256;
  std::uint64_t payload_size = 8 << 20;
  std::uint32_t max_clients = 32;
  region_create create = region_create::auto_;
};

struct doorbell_config {
  doorbell_backend backend = doorbell_backend::futex;
  std::uint32_t spin_us = 50;
  std::string hvisor_device = "/dev/hvisor";
  std::string hshm_device = "/dev/hshm0";
  std::uint32_t target_zone = 1;
  std::uint32_t swi = 74;
};

struct service_config {
  std::uint32_t workers = 4;
  std::uint32_t worker_capacity = 8;
  dispatch_policy dispatch = dispatch_policy::least_loaded;
  std::uint32_t inline_max = 4096;
  std::uint32_t batch = 32;
};

struct client_config {
  std::uint32_t actors = 4;
  std::uint32_t max_in_flight = 8;
  std::uint32_t pending_limit = 1024;
  std::uint32_t max_message = 4096;
};

struct timeouts_config {
  std::uint32_t request_ms = 5000;
  std::uint32_t heartbeat_ms = 20;
  std::uint32_t peer_dead_ms = 1000;
  std::uint32_t attach_ms = 5000;
};

struct scheduler_config {
  std::uint32_t max_threads = 2;
  // A string rather than an enum: CAF takes the name as it is.
  std::string policy = "stealing";
  std::uint32_t moderate_poll_attempts = 0;
  bridge_thread bridge = bridge_thread::auto_;
};

struct role_config {
  // Path of the file it came from (the name given to parse_role).
  std::string source;
  role_kind role = role_kind::client;
  std::uint32_t zone_id = 0;
  std::string channel = "default";
  region_config region;
  doorbell_config doorbell;
  service_config service;
  client_config client;
  timeouts_config timeouts;
  scheduler_config scheduler;
  // Line in `source` of every key and section present in the file, by
  // dotted name ("region", "region.entries"); lets validate() point at the
  // line of a key. Empty for a config built in code.
  std::map<std::string, std::uint32_t> key_lines;
};

// -- errors -------------------------------------------------------------------

// what() is one line: "<file>:<line>: <key>: <problem>", e.g.
// "config/client.toml:7: region.entries: 70000 is out of range (2..65535)".
// The line is left out when unknown, the key when there is none (syntax).
class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// -- loading ------------------------------------------------------------------

// Reads, parses and validates a role file. Throws config_error.
role_config load_role(const std::string& path);

// Same as load_role, from the text of a file; `name` is used in messages
// and stored as `source`.
role_config parse_role(const std::string& text, const std::string& name);

// Range and cross-field checks (see docs/configuration.md); throws
// config_error naming cfg.source, the line (from key_lines) and the key.
// Called by load_role and parse_role; call it again after changing a
// config in code.
void validate(const role_config& cfg);

// The effective configuration as a complete role file (every key, defaults
// included), written by toml11: sections and keys in alphabetical order,
// each key under its help as a comment. parse_role(to_toml(cfg), ...) gives
// back the same values.
std::string to_toml(const role_config& cfg);

} // namespace hyperamp::config
