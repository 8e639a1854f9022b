// validate(): every key against the schema, then the rules that involve
// several keys, in the order docs/configuration.md lists them. No toml11.
#include "config/role.hpp"

#include "config/schema.hpp"

#include <initializer_list>
#include <sstream>
#include <utility>

namespace hyperamp::config {

namespace {

using schema::message;

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = kib * 1024;
constexpr std::uint64_t gib = mib * 1024;

std::string hex(std::uint64_t n) {
  std::ostringstream out;
  out << "0x" << std::hex << n;
  return out.str();
}

// "83886080 (80 MiB)" for round sizes, else the plain number.
std::string bytes_text(std::uint64_t n) {
  const std::pair<std::uint64_t, const char*> units[] = {
      {gib, "GiB"}, {mib, "MiB"}, {kib, "KiB"}};
  for (const auto& [unit, name] : units)
    if (n >= unit && n % unit == 0)
      return std::to_string(n) + " (" + std::to_string(n / unit) + " " + name +
             ")";
  return std::to_string(n);
}

// The largest value the schema allows for a number key.
std::uint64_t upper_limit(const char* name) {
  return static_cast<std::uint64_t>(schema::at(name).hi);
}

class checker {
public:
  explicit checker(const role_config& cfg) : cfg_(cfg) {}

  void keys() const;
  void doorbell() const;
  void region() const;
  void client_queue() const;
  void client_payload() const;
  void service() const;
  void timeouts() const;

private:
  // Throws naming `key`, at the line of the first of key, `near` found in
  // the file, else at the line of key's section.
  [[noreturn]] void fail(const std::string& key, const std::string& text,
                         std::initializer_list<const char*> near = {}) const {
    throw config_error(message(cfg_.source, line_of(key, near), key, text));
  }

  std::uint32_t line_of(const std::string& key,
                        std::initializer_list<const char*> near) const {
    const auto& lines = cfg_.key_lines;
    if (auto i = lines.find(key); i != lines.end())
      return i->second;
    for (const auto* k : near)
      if (auto i = lines.find(k); i != lines.end())
        return i->second;
    if (auto i = lines.find(key.substr(0, key.find('.'))); i != lines.end())
      return i->second;
    return 0;
  }

  void physical() const;
  void payload() const;

  const role_config& cfg_;
};

// Ranges, choices and string rules, as the reader applies them: a config
// built or changed in code gets the same messages as a file.
void checker::keys() const {
  for (const auto& k : schema::keys())
    if (const auto p = schema::problem(k, k.get(cfg_)); !p.empty())
      fail(k.name, p);
}

void checker::doorbell() const {
  const auto& d = cfg_.doorbell;
  if (d.backend != doorbell_backend::hvisor)
    return;
  if (cfg_.scheduler.bridge == bridge_thread::threaded)
    fail("scheduler.bridge",
         "\"threaded\" needs the futex or polling doorbell (the hvisor "
         "doorbell cannot wake its own zone's thread); use \"auto\" or "
         "\"scheduled\"",
         {"doorbell.backend"});
  if (d.hvisor_device.empty())
    fail("doorbell.hvisor_device", "must not be empty");
  if (d.hshm_device.empty())
    fail("doorbell.hshm_device", "must not be empty");
}

void checker::region() const {
  const auto& r = cfg_.region;
  if (r.backend == region_backend::physical)
    physical();
  else if (r.phys_addr != 0)
    fail("region.phys_addr",
         "is only used by the physical backend (region.backend is \"file\"); "
         "remove it or set region.backend = \"physical\"",
         {"region.backend"});
  payload();
  if (r.size != 0 && r.size < r.payload_size)
    fail("region.size",
         std::to_string(r.size) + " is smaller than region.payload_size (" +
             bytes_text(r.payload_size) + "); raise it or use size = 0 to " +
             "let it be computed",
         {"region.payload_size"});
}

void checker::physical() const {
  const auto& r = cfg_.region;
  if (r.phys_addr == 0)
    fail("region.phys_addr",
         "is required for the physical backend (the physical address of the "
         "shared region, e.g. phys_addr = 0xde000000)",
         {"region.backend"});
  if (r.phys_addr % 4096 != 0)
    fail("region.phys_addr",
         hex(r.phys_addr) + " is not 4 KiB aligned (the nearest aligned " +
             "addresses are " + hex(r.phys_addr / 4096 * 4096) + " and " +
             hex((r.phys_addr / 4096 + 1) * 4096) + ")");
  if (r.size == 0)
    fail("region.size",
         "region.size is required for the physical backend (the size of the "
         "shared window at region.phys_addr, e.g. size = \"16MiB\")",
         {"region.backend"});
}

void checker::payload() const {
  const auto& r = cfg_.region;
  if (r.payload_size % 64 != 0)
    fail("region.payload_size",
         std::to_string(r.payload_size) + " is not a multiple of 64 (use " +
             std::to_string(r.payload_size / 64 * 64) + " or " +
             std::to_string((r.payload_size / 64 + 1) * 64) + ")");
  const auto least = std::uint64_t{64} * r.max_clients;
  if (r.payload_size < least)
    fail("region.payload_size",
         std::to_string(r.payload_size) +
             " is too small for region.max_clients" + " = " +
             std::to_string(r.max_clients) + " (64 bytes per client); " +
             "raise it to at least " + std::to_string(least) +
             " or lower region.max_clients",
         {"region.max_clients"});
}

// Each client actor may have max_in_flight requests in the queue, and
// the queue needs room for as many again (seed: entries >= 2 x threads).
void checker::client_queue() const {
  if (cfg_.role != role_kind::client)
    return;
  const auto& r = cfg_.region;
  const auto& c = cfg_.client;
  const auto need = std::uint64_t{2} * c.actors * c.max_in_flight;
  if (r.entries < need)
    fail(
        "region.entries",
        std::to_string(r.entries) + " is too small for this client: it needs " +
            "at least 2 x client.actors x client.max_in_flight = 2 x " +
            std::to_string(c.actors) + " x " + std::to_string(c.max_in_flight) +
            " = " + std::to_string(need) + "; " +
            (need <= upper_limit("region.entries")
                 ? "raise region.entries by " +
                       std::to_string(need - r.entries) + " (to " +
                       std::to_string(need) + ") or "
                 : std::string{}) +
            "lower client.actors or client.max_in_flight",
        {"client.actors", "client.max_in_flight"});
}

// Seed: payload space >= threads x message size x 10, for this client's
// partition of the payload area.
void checker::client_payload() const {
  if (cfg_.role != role_kind::client)
    return;
  const auto& r = cfg_.region;
  const auto& c = cfg_.client;
  const auto partition = r.payload_size / r.max_clients / 64 * 64;
  const auto want = std::uint64_t{10} * c.actors * c.max_message;
  if (partition >= want)
    return;
  const auto payload_needed = (want + 63) / 64 * 64 * r.max_clients;
  fail("region.payload_size",
       "the per-client payload partition (" + std::to_string(r.payload_size) +
           " / region.max_clients " + std::to_string(r.max_clients) +
           ", rounded down to 64) is " + std::to_string(partition) +
           " bytes, less than client.actors x client.max_message x 10 = " +
           std::to_string(c.actors) + " x " + std::to_string(c.max_message) +
           " x 10 = " + std::to_string(want) + "; " +
           (payload_needed <= upper_limit("region.payload_size")
                ? "raise region.payload_size by " +
                      std::to_string(payload_needed - r.payload_size) +
                      " (to " + bytes_text(payload_needed) + "), or "
                : std::string{}) +
           "lower client.max_message to " +
           std::to_string(partition / (10 * std::uint64_t{c.actors})) +
           ", client.actors or region.max_clients",
       {"client.max_message", "client.actors", "region.max_clients"});
}

void checker::service() const {
  if (cfg_.role != role_kind::service)
    return;
  const auto batch = cfg_.service.batch;
  const auto entries = cfg_.region.entries;
  if (batch > entries)
    fail("service.batch",
         std::to_string(batch) + " is larger than region.entries (" +
             std::to_string(entries) + "); lower service.batch to at most " +
             std::to_string(entries) + " or raise region.entries",
         {"region.entries"});
}

void checker::timeouts() const {
  const auto& t = cfg_.timeouts;
  const auto least = std::uint64_t{2} * t.heartbeat_ms + 1;
  if (t.peer_dead_ms < least)
    fail("timeouts.peer_dead_ms",
         std::to_string(t.peer_dead_ms) + " must be more than 2 x " +
             "timeouts.heartbeat_ms = 2 x " + std::to_string(t.heartbeat_ms) +
             "; raise it by " + std::to_string(least - t.peer_dead_ms) +
             " (to " + std::to_string(least) +
             ") or lower timeouts.heartbeat_ms",
         {"timeouts.heartbeat_ms"});
}

} // namespace

void validate(const role_config& cfg) {
  const checker c{cfg};
  c.keys();
  c.doorbell();
  c.region();
  c.client_queue();
  c.client_payload();
  c.service();
  c.timeouts();
}

} // namespace hyperamp::config
