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
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hyperamp::config {

// -- enums --------------------------------------------------------------------

enum class role_kind { client, service };

enum class region_backend { file, physical };

// "hyperamp" (its own layout, docs/wire-layout.md), "hvisor-tool-v1"
// (hvisor-tool's AmpMsgQueue, docs/compatibility.md) or "partitioned" (a
// lock-free ring pair per client slot, docs/wire-layout.md).
enum class region_layout { hyperamp, hvisor_v1, partitioned };

// Spelled as in the file ("auto" | "create" | "attach"); `auto` is a
// keyword, hence `auto_`.
enum class region_create { auto_, create, attach };

// fifo: the hvisor-tool-v1 layout on a host (a named pipe).
enum class doorbell_backend { futex, hvisor, polling, fifo };

// How a service's pool spreads requests over its workers.
enum class dispatch_policy { least_loaded, round_robin };
/// Which thread runs the zone's bridge (actors::bridge_shell).
enum class bridge_thread { auto_, threaded, scheduled };

// The spelling used in role files ("client", "physical", "auto", ...); a
// value outside the enum gives its number.
std::string to_string(role_kind x);
std::string to_string(region_backend x);
std::string to_string(region_layout x);
std::string to_string(region_create x);
std::string to_string(doorbell_backend x);
std::string to_string(dispatch_policy x);
std::string to_string(bridge_thread x);

// -- sections -----------------------------------------------------------------

struct region_config {
  region_layout layout = region_layout::hyperamp;
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
  std::string fifo = "/dev/shm/hyperamp-v1-bell";
};

// The hvisor-tool-v1 layout's windows (shm_config.json's regions); the
// defaults are its Phytium Pi addresses.
struct v1_config {
  std::uint64_t buffer_addr = 0xde000000;
  std::uint64_t buffer_size = 0x400000;
  std::uint64_t queue_addr = 0xde400000;
  std::uint64_t queue_size = 0x1000;
  std::uint64_t ready_addr = 0xde410000;
  std::uint32_t rering_ms = 200;
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

// A client zone's gateway (amp-node gateway): its services on the network.
struct gateway_config {
  std::uint32_t port = 4242; // 0: any free port
  std::string bind = "127.0.0.1";
  std::uint32_t max_connections = 64;
  std::uint32_t max_in_flight = 256;
  // Service ids remote callers may call, "1, 2, 66"; empty: every id.
  std::string allow;
  // PEM files; all three or none (none: plain TCP).
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_ca;
};

struct role_config {
  // Path of the file it came from (the name given to parse_role).
  std::string source;
  role_kind role = role_kind::client;
  std::uint32_t zone_id = 0;
  std::string channel = "default";
  region_config region;
  v1_config v1;
  doorbell_config doorbell;
  service_config service;
  client_config client;
  timeouts_config timeouts;
  scheduler_config scheduler;
  gateway_config gateway;
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

// hvisor-tool's shm_config.json (docs/compatibility.md): the windows from
// its shm_regions, the hvisor-tool-v1 layout, /dev/mem and the hvisor
// doorbell. The file does not say which side a zone is: `role` does (zone
// 0 for the client, 1 for the service). Throws config_error naming the
// JSON key: "shm_config.json: shm_regions[1].mem_size: ...".
role_config parse_hvisor_json(const std::string& text, const std::string& name,
                              role_kind role);

// True if `text` is JSON rather than TOML (its first non-blank character
// is '{' or '[', which no role file starts with).
bool looks_like_json(const std::string& text);

// A role file or an shm_config.json (a name ending in ".json", or a text
// for which looks_like_json holds). The
// JSON needs `role` (the command's side); without one it is a config_error
// saying how to give it.
role_config load_config(const std::string& path, std::optional<role_kind> role);

// Range and cross-field checks (see docs/configuration.md); throws
// config_error naming cfg.source, the line (from key_lines) and the key.
// Called by load_role and parse_role; call it again after changing a
// config in code.
void validate(const role_config& cfg);

// The service ids of a list such as gateway.allow: decimal numbers
// (0..4294967295) separated by commas and/or spaces, in the order given;
// "" gives none. Throws config_error ("<what>: ...") for anything else.
std::vector<std::uint32_t> parse_id_list(const std::string& text,
                                         const std::string& what);

// The effective configuration as a complete role file (every key, defaults
// included), written by toml11: sections and keys in alphabetical order,
// each key under its help as a comment. parse_role(to_toml(cfg), ...) gives
// back the same values.
std::string to_toml(const role_config& cfg);

} // namespace hyperamp::config
