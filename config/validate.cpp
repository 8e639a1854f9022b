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
  void layout() const;
  void region() const;
  void client_queue() const;
  void client_payload() const;
  void service() const;
  void timeouts() const;
  void gateway() const;

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
  void v1_windows() const;
  bool v1() const { return cfg_.region.layout == region_layout::hvisor_v1; }

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

// The hvisor-tool-v1 layout: its doorbells and its windows. (It ignores
// region.entries, payload_size and max_clients, as hyperamp's layout
// ignores [v1]: to_toml writes every key, and its output must read back.)
void checker::layout() const {
  const auto& d = cfg_.doorbell;
  if (!v1()) {
    if (d.backend == doorbell_backend::fifo)
      fail("doorbell.backend",
           "\"fifo\" needs region.layout = \"hvisor-tool-v1\" (hyperamp's "
           "own layout wakes zones through \"futex\", \"hvisor\" or "
           "\"polling\")",
           {"region.layout"});
    return;
  }
  if (d.backend != doorbell_backend::hvisor &&
      d.backend != doorbell_backend::fifo)
    fail("doorbell.backend",
         schema::in_quotes(to_string(d.backend)) +
             " does not work with region.layout = \"hvisor-tool-v1\", which "
             "has no doorbell word in shared memory; use \"hvisor\" (a "
             "board: /dev/hvisor and /dev/hshm0) or \"fifo\" (a host)",
         {"region.layout"});
  if (d.backend == doorbell_backend::fifo && d.fifo.empty())
    fail("doorbell.fifo", "must not be empty");
  const auto& r = cfg_.region;
  if (r.backend == region_backend::physical) {
    if (r.phys_addr != 0)
      fail("region.phys_addr",
           "is not used by \"hvisor-tool-v1\" on the physical backend (each "
           "window is mapped at its own v1.*_addr); remove it");
    if (r.size != 0)
      fail("region.size",
           "is not used by \"hvisor-tool-v1\" on the physical backend (the "
           "window sizes are v1.buffer_size and v1.queue_size); remove it");
  } else if (r.phys_addr % 4096 != 0) {
    fail("region.phys_addr",
         hex(r.phys_addr) + " is not 4 KiB aligned (with \"hvisor-tool-v1\" "
                            "and the file backend it is the physical address "
                            "of the file's first byte)");
  }
  v1_windows();
  const auto entries = (cfg_.v1.queue_size - 12) / 16;
  if (cfg_.role == role_kind::service && cfg_.service.batch > entries)
    fail("service.batch",
         std::to_string(cfg_.service.batch) + " is larger than the queue's " +
             std::to_string(entries) +
             " entries ((v1.queue_size - 12) / 16); lower it",
         {"v1.queue_size"});
  const auto most = cfg_.v1.buffer_size - 128;
  if (cfg_.role == role_kind::client && cfg_.client.max_message > most)
    fail("client.max_message",
         std::to_string(cfg_.client.max_message) +
             " does not fit the payload buffer (v1.buffer_size " +
             bytes_text(cfg_.v1.buffer_size) +
             " less 128 bytes for the reserved start and the trailing NUL = " +
             std::to_string(most) + ")",
         {"v1.buffer_size"});
}

void checker::v1_windows() const {
  const auto& v = cfg_.v1;
  if (v.queue_addr % 4 != 0)
    fail("v1.queue_addr", hex(v.queue_addr) + " is not a multiple of 4");
  if (v.ready_addr % 4 != 0)
    fail("v1.ready_addr", hex(v.ready_addr) + " is not a multiple of 4");
  struct window {
    const char* key;
    std::uint64_t addr, size;
  };
  const window ws[] = {{"v1.buffer_addr", v.buffer_addr, v.buffer_size},
                       {"v1.queue_addr", v.queue_addr, v.queue_size},
                       {"v1.ready_addr", v.ready_addr, 4}};
  const auto base = cfg_.region.phys_addr;
  for (const auto& w : ws)
    if (cfg_.region.backend == region_backend::file && base != 0 &&
        w.addr < base)
      fail(w.key,
           hex(w.addr) + " is below region.phys_addr " + hex(base) +
               ", where the window file starts",
           {"region.phys_addr"});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = i + 1; j < 3; ++j)
      if (ws[i].addr < ws[j].addr + ws[j].size &&
          ws[j].addr < ws[i].addr + ws[i].size)
        fail(ws[j].key, "the window " + hex(ws[j].addr) + "..+" +
                            hex(ws[j].size) + " overlaps " + ws[i].key + " " +
                            hex(ws[i].addr) + "..+" + hex(ws[i].size));
}

void checker::region() const {
  if (v1())
    return; // layout() checked what applies
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
  if (cfg_.role != role_kind::client || v1())
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
  if (cfg_.role != role_kind::client || v1())
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
  if (cfg_.role != role_kind::service || v1())
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

// CAF's TLS needs the certificate, its key and the CA together.
void checker::gateway() const {
  const auto& g = cfg_.gateway;
  const std::pair<const char*, const std::string*> files[] = {
      {"gateway.tls_certificate", &g.tls_certificate},
      {"gateway.tls_key", &g.tls_key},
      {"gateway.tls_ca", &g.tls_ca}};
  const char* given = nullptr;
  for (const auto& [key, value] : files)
    if (!value->empty() && given == nullptr)
      given = key;
  if (given == nullptr)
    return;
  for (const auto& [key, value] : files)
    if (value->empty())
      fail(key,
           std::string{"is required with "} + given +
               " (TLS needs gateway.tls_certificate, gateway.tls_key and "
               "gateway.tls_ca together; remove all three for plain TCP)",
           {given});
}

} // namespace

void validate(const role_config& cfg) {
  const checker c{cfg};
  c.keys();
  c.doorbell();
  c.layout();
  c.region();
  c.client_queue();
  c.client_payload();
  c.service();
  c.timeouts();
  c.gateway();
}

} // namespace hyperamp::config
