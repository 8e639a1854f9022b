#include "config/schema.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace hyperamp::config::schema {

namespace {

// -- spellings of the enums, indexed by value --

constexpr const char* role_names[] = {"client", "service"};
constexpr const char* backend_names[] = {"file", "physical"};
constexpr const char* layout_names[] = {"hyperamp", "hvisor-tool-v1",
                                        "partitioned"};
constexpr const char* create_names[] = {"auto", "create", "attach"};
constexpr const char* doorbell_names[] = {"futex", "hvisor", "polling", "fifo"};
constexpr const char* dispatch_names[] = {"least_loaded", "round_robin"};
// scheduler.policy is a string field (CAF takes the name).
constexpr const char* policy_names[] = {"stealing", "sharing"};
constexpr const char* bridge_names[] = {"auto", "threaded", "scheduled"};

template <std::size_t N, class E>
std::string spelling(const char* const (&names)[N], E x) {
  const auto i = static_cast<std::size_t>(x);
  return i < N ? names[i] : std::to_string(i);
}

// -- building a key --

constexpr std::int64_t kib = 1024;
constexpr std::int64_t mib = kib * 1024;
constexpr std::int64_t gib = mib * 1024;
constexpr std::int64_t tib = gib * 1024;
constexpr std::int64_t day_ms = 86'400'000;

// The type of the member an accessor returns.
template <class Field>
using field_t = std::remove_cv_t<
    std::remove_reference_t<std::invoke_result_t<Field, role_config&>>>;

key named(const char* name, kind type, const char* help) {
  key k;
  k.name = name;
  k.type = type;
  k.help = help;
  return k;
}

template <class Field>
key number(const char* name, kind type, Field field, std::int64_t lo,
           std::int64_t hi, const char* help) {
  using T = field_t<Field>;
  static_assert(std::is_unsigned_v<T>, "numbers are unsigned fields");
  // A range the field cannot hold would wrap values around silently.
  if (lo < 0 || lo > hi ||
      static_cast<std::uint64_t>(hi) > std::numeric_limits<T>::max())
    throw std::logic_error(std::string{name} + ": range does not fit");
  auto k = named(name, type, help);
  k.lo = lo;
  k.hi = hi;
  k.get = [field](const role_config& c) { return value{field(c), {}}; };
  k.set = [field](role_config& c, const value& v) {
    field(c) = static_cast<T>(v.number);
  };
  return k;
}

template <class Field>
key integer(const char* name, Field field, std::int64_t lo, std::int64_t hi,
            const char* help) {
  return number(name, kind::integer, field, lo, hi, help);
}

template <class Field>
key size(const char* name, Field field, std::int64_t lo, std::int64_t hi,
         const char* help) {
  return number(name, kind::size, field, lo, hi, help);
}

template <class Field>
key text(const char* name, Field field, text_rule rule, const char* help) {
  static_assert(std::is_same_v<field_t<Field>, std::string>);
  auto k = named(name, kind::text, help);
  k.rule = rule;
  k.get = [field](const role_config& c) { return value{0, field(c)}; };
  k.set = [field](role_config& c, const value& v) { field(c) = v.text; };
  return k;
}

// An enum field (value i is names[i]) or a string field.
template <class Field, std::size_t N>
key choice(const char* name, Field field, const char* const (&names)[N],
           const char* help) {
  using T = field_t<Field>;
  auto k = named(name, kind::choice, help);
  k.choices.assign(names, names + N);
  if constexpr (std::is_enum_v<T>) {
    k.get = [field, &names](const role_config& c) {
      return value{0, spelling(names, field(c))};
    };
    k.set = [field, &names](role_config& c, const value& v) {
      const auto i = std::find(names, names + N, v.text) - names;
      field(c) = static_cast<T>(i);
    };
  } else {
    static_assert(std::is_same_v<T, std::string>);
    k.get = [field](const role_config& c) { return value{0, field(c)}; };
    k.set = [field](role_config& c, const value& v) { field(c) = v.text; };
  }
  return k;
}

key required(key k) {
  k.required = true;
  return k;
}

// A rule involving other keys, for the docs; validate.cpp checks it.
key also(key k, const char* rule) {
  k.range_note = rule;
  return k;
}

// A default that another key changes, for the docs; the reader applies it.
key unless(key k, std::string other_default) {
  k.default_note = std::move(other_default);
  return k;
}

// The key's name in the file and its member in role_config, written once:
// KEY(region.entries) is "region.entries", [](auto& c) -> auto& { return
// c.region.entries; }. Every key's file name is its member path.
// clang-format off
#define KEY(path) #path, [](auto& cfg) -> auto& { return cfg.path; }
// clang-format on

std::vector<key> make_keys() {
  return {
      required(choice(KEY(role), role_names, "what this zone does")),
      required(integer(KEY(zone_id), 0, 65535,
                       "this zone's id (hvisor: 0 is the root zone)")),
      text(KEY(channel), text_rule::name,
           "name of the channel: the region's creator writes it into the "
           "region, and a zone configured for another channel is refused"),
      // [region]
      choice(KEY(region.layout), layout_names,
             "the wire layout, the same for both zones: `hyperamp`: entries "
             "on lists under `queue_lock` (docs/wire-layout.md); "
             "`hvisor-tool-v1`: hvisor-tool's AmpMsgQueue, windows in `[v1]` "
             "(docs/compatibility.md); `partitioned`: a lock-free request "
             "and response ring per client slot (then `entries` is each "
             "slot's ring size)"),
      choice(KEY(region.backend), backend_names,
             "`file`: mmap a file (normally under `/dev/shm`); `physical`: "
             "map physical memory through a device at `phys_addr`"),
      unless(text(KEY(region.path), text_rule::non_empty,
                  "the file to map, or for `physical` the memory device"),
             "`\"" + std::string{physical_path} + "\"` for `physical`"),
      also(integer(KEY(region.phys_addr), 0, (std::int64_t{1} << 52) - 1,
                   "physical address of the region; **required** (nonzero) "
                   "for `physical`, must be absent or 0 for `file`; with "
                   "`hvisor-tool-v1` and `file`: the physical address the "
                   "file's first byte stands for (0 = the lowest window)"),
           "multiple of 4096"),
      size(KEY(region.size), 0, tib,
           "total bytes of the region; 0 = computed by `shm/` from "
           "`entries`, `payload_size` and `max_clients`; **required** "
           "(nonzero) for `physical`"),
      also(integer(KEY(region.entries), 2, 65535,
                   "entries of the message queue"),
           ">= 2 x `client.actors` x `client.max_in_flight` (client role)"),
      // shm/ entries address the payload area with 32-bit offsets.
      also(size(KEY(region.payload_size), 64, 4 * gib,
                "bytes of the payload area, split evenly between the client "
                "slots"),
           "multiple of 64, >= 64 x `max_clients`"),
      integer(KEY(region.max_clients), 1, 256, "client slots in the region"),
      choice(KEY(region.create), create_names,
             "`auto`: attach if the region exists, else create it; "
             "`create`: always create (initialise) it; `attach`: only "
             "attach, fail if it is not there"),
      // [doorbell]
      choice(KEY(doorbell.backend), doorbell_names,
             "`futex`: a futex on a word in the region (host); `hvisor`: "
             "the hvisor ioctl and `/dev/hshm0` (board); `polling`: no "
             "interrupt, poll the queue; `fifo`: a named pipe "
             "(`hvisor-tool-v1` on a host)"),
      integer(KEY(doorbell.spin_us), 0, 1'000'000,
              "microseconds to spin before going to sleep"),
      also(text(KEY(doorbell.hvisor_device), text_rule::any,
                "device for the doorbell ioctl"),
           "non-empty with `hvisor`"),
      also(text(KEY(doorbell.hshm_device), text_rule::any,
                "device the service polls for doorbell interrupts"),
           "non-empty with `hvisor`"),
      integer(KEY(doorbell.target_zone), 0, 65535,
              "zone the hvisor ioctl rings"),
      integer(KEY(doorbell.swi), 0, 1023,
              "interrupt number passed in the ioctl (hvisor ignores it "
              "today)"),
      also(text(KEY(doorbell.fifo), text_rule::any,
                "`fifo`: the named pipe the client writes a byte into and "
                "the service polls (made if missing)"),
           "non-empty with `fifo`"),
      // [v1]
      also(integer(KEY(v1.buffer_addr), 0, (std::int64_t{1} << 52) - 1,
                   "`hvisor-tool-v1`: physical address of the payload "
                   "buffer (`linux-2-npucore-buf`)"),
           "no overlap with the other windows"),
      size(KEY(v1.buffer_size), 4 * kib, 4 * gib,
           "`hvisor-tool-v1`: bytes of the payload buffer"),
      also(integer(KEY(v1.queue_addr), 0, (std::int64_t{1} << 52) - 1,
                   "`hvisor-tool-v1`: physical address of the request queue "
                   "(`linux-2-npucore-msg`, `zone0_ram_ipa`)"),
           "multiple of 4"),
      size(KEY(v1.queue_size), 28, 12 + 16 * 65535,
           "`hvisor-tool-v1`: bytes of the request queue; it holds "
           "(queue_size - 12) / 16 entries (255 for 4 KiB)"),
      also(integer(KEY(v1.ready_addr), 0, (std::int64_t{1} << 52) - 1,
                   "`hvisor-tool-v1`: physical address of the service's "
                   "readiness word (`linux-2-npucore-msg`, `zonex_ram_ipa`)"),
           "multiple of 4"),
      integer(KEY(v1.rering_ms), 1, 60'000,
              "`hvisor-tool-v1` client: ring again after this long when the "
              "service has not taken a handed-over request (a ring sent "
              "before the service listens is lost)"),
      // [service]
      integer(KEY(service.workers), 1, 256, "worker actors running requests"),
      integer(KEY(service.worker_capacity), 1, 65535,
              "requests queued per worker"),
      choice(KEY(service.dispatch), dispatch_names,
             "how the pool spreads requests over its workers: "
             "`least_loaded`: to the worker with the fewest requests queued; "
             "`round_robin`: to each worker in turn"),
      integer(KEY(service.inline_max), 0, gib,
              "requests of trivial services (echo, encrypt, decrypt) with at "
              "most this many payload bytes run inside the service bridge, "
              "skipping the worker actor (two messages fewer: see "
              "docs/benchmarks.md); 0 = always use the workers"),
      also(integer(KEY(service.batch), 1, 65535,
                   "queue entries taken per wake-up"),
           "<= `region.entries`"),
      // [client]
      integer(KEY(client.actors), 1, 256, "client actors sending requests"),
      integer(KEY(client.max_in_flight), 1, 65535,
              "requests one actor may have in the queue"),
      integer(KEY(client.pending_limit), 1, 1'000'000,
              "requests that may wait in the client for a free slot"),
      also(integer(KEY(client.max_message), 1, gib,
                   "largest request or response payload, in bytes"),
           "`actors` x `max_message` x 10 <= the client's payload share"),
      // [timeouts]
      integer(KEY(timeouts.request_ms), 1, day_ms,
              "a request fails after this long"),
      integer(KEY(timeouts.heartbeat_ms), 1, 60'000,
              "interval of the liveness beat each zone writes into the "
              "region"),
      also(integer(KEY(timeouts.peer_dead_ms), 1, day_ms,
                   "the peer counts as dead after this long without a beat"),
           "> 2 x `heartbeat_ms`"),
      integer(KEY(timeouts.attach_ms), 1, day_ms,
              "how long to wait for the region (or the peer) when attaching"),
      // [scheduler]
      integer(KEY(scheduler.max_threads), 1, 256,
              "CAF worker threads (`scheduler.max-threads`)"),
      choice(KEY(scheduler.policy), policy_names,
             "CAF scheduling policy (`scheduler.policy`)"),
      integer(KEY(scheduler.moderate_poll_attempts), 0, 1'000'000,
              "CAF `work-stealing.moderate-poll-attempts`; set as given: 0 "
              "(the default) removes the ~100 us moderate polling phase that "
              "delays externally triggered messages; CAF's own default is "
              "500"),
      // [gateway]
      integer(KEY(gateway.port), 0, 65535,
              "TCP port of `amp-node gateway` (`--port`); 0 = any free port "
              "(printed at start)"),
      text(KEY(gateway.bind), text_rule::non_empty,
           "address to listen on (`--bind`); `\"0.0.0.0\"` for every "
           "interface"),
      integer(KEY(gateway.max_connections), 1, 65535,
              "remote callers (connections) at once; beyond them a caller "
              "gets `overloaded`"),
      integer(KEY(gateway.max_in_flight), 1, 65535,
              "requests one connection may have in the zone; beyond them a "
              "request gets `overloaded`"),
      text(KEY(gateway.allow), text_rule::id_list,
           "service ids remote callers may call, e.g. `\"1, 2, 66\"`; any "
           "other is answered `not_allowed` and never queued; empty = every "
           "id"),
      also(text(KEY(gateway.tls_certificate), text_rule::any,
                "PEM certificate (chain) of the gateway; with `tls_key` and "
                "`tls_ca`: TLS only"),
           "all three `tls_` keys or none"),
      also(text(KEY(gateway.tls_key), text_rule::any,
                "PEM private key of `tls_certificate` (not encrypted)"),
           "all three `tls_` keys or none"),
      also(text(KEY(gateway.tls_ca), text_rule::any,
                "PEM CA certificate(s); callers must show a certificate "
                "signed by it (CAF's TLS is mutual)"),
           "all three `tls_` keys or none"),
      choice(KEY(scheduler.bridge), bridge_names,
             "which thread runs the zone's bridge: `threaded`: its own, "
             "which waits on the doorbell (a ring is a call, no CAF worker "
             "to wake; needs `futex` or `polling`); `scheduled`: CAF's "
             "workers, fed by a doorbell waiter thread; `auto`: `threaded` "
             "where the doorbell allows it, else `scheduled`"),
  };
}

#undef KEY

// -- "did you mean" --

std::string normalized(const std::string& s) {
  std::string out = s;
  for (auto& c : out)
    c = c == '-'
            ? '_'
            : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j < row.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Distance of a typed name from a known one (lower is closer), or npos if
// not close at all. Case and '-' vs '_' do not count; a shared prefix of 3+
// characters beats typos.
std::size_t closeness(const std::string& typed, const std::string& known) {
  const auto a = normalized(typed);
  const auto b = normalized(known);
  if (a == b)
    return 0;
  const auto& shorter = a.size() < b.size() ? a : b;
  const auto& longer = a.size() < b.size() ? b : a;
  if (shorter.size() >= 3 && longer.compare(0, shorter.size(), shorter) == 0)
    return 1;
  const auto d = edit_distance(a, b);
  if (d <= std::max<std::size_t>(2, b.size() / 2) && d < b.size())
    return d + 1;
  return std::string::npos;
}

// The closest candidate (the first of equals), "" if none is close.
std::string closest(const std::string& typed,
                    const std::vector<std::string>& candidates) {
  std::string best;
  auto best_score = std::string::npos;
  for (const auto& c : candidates) {
    const auto score = closeness(typed, c);
    if (score < best_score) {
      best = c;
      best_score = score;
    }
  }
  return best;
}

// -- lists of service ids --

// The ids of `text` ("1, 2, 66": decimal numbers separated by commas and/or
// spaces; "" has none), or false and what is wrong in `why`.
bool read_ids(const std::string& text, std::vector<std::uint32_t>& out,
              std::string& why) {
  std::size_t i = 0;
  bool need_id = false; // after a comma
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (c == ',') {
      if (need_id || out.empty()) {
        why = "has an empty entry (write ids separated by commas, e.g. "
              "\"1, 2, 66\")";
        return false;
      }
      need_id = true;
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && text[j] != ',' && text[j] != ' ' &&
           text[j] != '\t')
      ++j;
    const auto word = text.substr(i, j - i);
    const bool digits =
        word.size() <= 10 && std::all_of(word.begin(), word.end(), [](char d) {
          return std::isdigit(static_cast<unsigned char>(d)) != 0;
        });
    const auto n = digits ? std::stoull(word) : 0;
    if (!digits || n > 0xFFFFFFFFull) {
      why = in_quotes(word) + " is not a service id (0..4294967295)";
      return false;
    }
    out.push_back(static_cast<std::uint32_t>(n));
    need_id = false;
    i = j;
  }
  if (need_id) {
    why = "ends with a comma";
    return false;
  }
  return true;
}

// -- wording --

std::string choices_text(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0                  ? ""
            : i + 1 == names.size() ? " or "
                                    : ", ") +
           in_quotes(names[i]);
  return out;
}

// -- docs --

bool power_of_two(std::uint64_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

std::string log2_text(std::uint64_t n) {
  int bits = 0;
  while (n > 1) {
    n >>= 1;
    ++bits;
  }
  return "2^" + std::to_string(bits);
}

// 2^30 and 2^52-1 rather than their digits; smaller numbers as they are.
std::string integer_text(std::int64_t n) {
  const auto u = static_cast<std::uint64_t>(n);
  if (u >= (1u << 30) && power_of_two(u))
    return log2_text(u);
  if (u >= (1u << 30) && power_of_two(u + 1))
    return log2_text(u + 1) + "-1";
  return std::to_string(n);
}

const std::pair<std::int64_t, const char*> units[] = {
    {tib, "TiB"}, {gib, "GiB"}, {mib, "MiB"}, {kib, "KiB"}};

// "4 GiB" for whole units (with `space`, else "4GiB"), else the digits.
std::string size_text(std::int64_t n, const char* space) {
  for (const auto& [unit, name] : units)
    if (n >= unit && n % unit == 0)
      return std::to_string(n / unit) + space + name;
  return std::to_string(n);
}

std::string type_text(kind type) {
  switch (type) {
  case kind::integer:
    return "integer";
  case kind::size:
    return "size";
  default:
    return "string";
  }
}

std::string default_text(const key& k) {
  if (k.required)
    return "**required**";
  const auto v = k.get(role_config{});
  const auto n = static_cast<std::int64_t>(v.number);
  std::string out;
  if (k.type == kind::integer && n >= 0x100000 && n % 0x1000 == 0) {
    // A physical address: as it is written in hvisor-tool's files.
    static const char* digits = "0123456789abcdef";
    auto u = static_cast<std::uint64_t>(n);
    std::string h;
    for (; u != 0; u >>= 4)
      h.insert(h.begin(), digits[u & 15]);
    out = "0x" + h;
  } else if (k.type == kind::integer)
    out = std::to_string(n);
  else if (k.type == kind::size && size_text(n, "") != std::to_string(n))
    out = "`\"" + size_text(n, "") + "\"` (" + std::to_string(n) + ")";
  else if (k.type == kind::size)
    out = std::to_string(n);
  else
    out = "`" + in_quotes(v.text) + "`";
  return k.default_note.empty() ? out : out + "; " + k.default_note;
}

std::string range_text(const key& k) {
  std::vector<std::string> parts;
  if (k.type == kind::integer)
    parts.push_back(integer_text(k.lo) + ".." + integer_text(k.hi));
  if (k.type == kind::size)
    parts.push_back(size_text(k.lo, " ") + ".." + size_text(k.hi, " "));
  for (const auto& c : k.choices)
    parts.push_back("`" + in_quotes(c) + "`");
  if (k.rule == text_rule::non_empty)
    parts.emplace_back("non-empty");
  if (k.rule == text_rule::name)
    parts.emplace_back("non-empty, no control characters, at most 63 bytes");
  if (k.rule == text_rule::id_list)
    parts.emplace_back("service ids (0..2^32-1) separated by commas or "
                       "spaces");
  if (!k.range_note.empty())
    parts.push_back(k.range_note);
  std::string out;
  for (const auto& p : parts)
    out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "any" : out;
}

} // namespace

// -- keys --

std::string key::section() const {
  const auto dot = name.find('.');
  return dot == std::string::npos ? std::string{} : name.substr(0, dot);
}

std::string key::leaf() const {
  return name.substr(name.find('.') + 1);
}

const std::vector<key>& keys() {
  static const std::vector<key> result = make_keys();
  return result;
}

const std::vector<std::string>& sections() {
  static const std::vector<std::string> result = [] {
    std::vector<std::string> out{""};
    for (const auto& k : keys())
      if (std::find(out.begin(), out.end(), k.section()) == out.end())
        out.push_back(k.section());
    return out;
  }();
  return result;
}

const key* find(const std::string& section, const std::string& leaf) {
  for (const auto& k : keys())
    if (k.section() == section && k.leaf() == leaf)
      return &k;
  return nullptr;
}

const key& at(const std::string& name) {
  for (const auto& k : keys())
    if (k.name == name)
      return k;
  throw std::logic_error("no key " + name + " in the schema");
}

// -- checks --

std::string range_problem(const key& k, std::int64_t n,
                          const std::string& shown) {
  if (n >= k.lo && n <= k.hi)
    return {};
  return shown + " is out of range (" + std::to_string(k.lo) + ".." +
         std::to_string(k.hi) + ")";
}

std::string text_problem(const key& k, const std::string& s) {
  if (k.type == kind::choice) {
    if (std::find(k.choices.begin(), k.choices.end(), s) != k.choices.end())
      return {};
    const auto best = closest(s, k.choices);
    return in_quotes(s) + " is not one of " + choices_text(k.choices) +
           (best.empty() ? "" : " (did you mean " + in_quotes(best) + "?)");
  }
  if (k.rule != text_rule::any && k.rule != text_rule::id_list && s.empty())
    return "must not be empty";
  if (k.rule == text_rule::name) {
    for (const char c : s)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        return "must not contain control characters";
    if (s.size() > 63) // it is stored in the region's header
      return "is " + std::to_string(s.size()) + " bytes, at most 63";
  }
  if (k.rule == text_rule::id_list) {
    std::vector<std::uint32_t> ids;
    std::string why;
    if (!read_ids(s, ids, why))
      return in_quotes(s) + ": " + why;
  }
  return {};
}

std::string problem(const key& k, const value& v) {
  if (k.type == kind::text || k.type == kind::choice)
    return text_problem(k, v.text);
  // Stored numbers beyond int64 are out of every range: clamp, show as is.
  constexpr auto most = std::numeric_limits<std::int64_t>::max();
  const auto n = v.number > static_cast<std::uint64_t>(most)
                     ? most
                     : static_cast<std::int64_t>(v.number);
  return range_problem(k, n, std::to_string(v.number));
}

// -- wording --

std::string message(const std::string& file, std::uint32_t line,
                    const std::string& key, const std::string& text) {
  std::string out = file.empty() ? std::string{"<config>"} : file;
  if (line != 0)
    out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty())
    out += key + ": ";
  return out + text;
}

std::string in_quotes(const std::string& s) {
  return "\"" + s + "\"";
}

std::string suggestion(const std::string& section, const std::string& leaf) {
  std::vector<std::string> local;
  std::vector<const key*> elsewhere;
  for (const auto& k : keys())
    if (k.section() == section)
      local.push_back(k.leaf());
    else
      elsewhere.push_back(&k);
  if (section.empty())
    for (const auto& s : sections())
      if (!s.empty())
        local.push_back(s);
  auto best = closest(leaf, local);
  if (best.empty())
    for (const auto* k : elsewhere)
      if (normalized(k->leaf()) == normalized(leaf))
        return k->name;
  return best;
}

// -- docs --

std::string doc_table(const std::string& section) {
  std::string out = "| key | type | default | range / values | meaning |\n"
                    "|---|---|---|---|---|\n";
  for (const auto& k : keys())
    if (k.section() == section)
      out += "| `" + k.leaf() + "` | " + type_text(k.type) + " | " +
             default_text(k) + " | " + range_text(k) + " | " + k.help + " |\n";
  return out;
}

} // namespace hyperamp::config::schema

// -- enum spellings (role.hpp) --

namespace hyperamp::config {

std::string to_string(role_kind x) {
  return schema::spelling(schema::role_names, x);
}

std::string to_string(region_backend x) {
  return schema::spelling(schema::backend_names, x);
}

std::string to_string(region_layout x) {
  return schema::spelling(schema::layout_names, x);
}

std::string to_string(region_create x) {
  return schema::spelling(schema::create_names, x);
}

std::string to_string(doorbell_backend x) {
  return schema::spelling(schema::doorbell_names, x);
}

std::string to_string(dispatch_policy x) {
  return schema::spelling(schema::dispatch_names, x);
}

std::vector<std::uint32_t> parse_id_list(const std::string& text,
                                         const std::string& what) {
  std::vector<std::uint32_t> ids;
  std::string why;
  if (!schema::read_ids(text, ids, why))
    throw config_error(what + ": " + schema::in_quotes(text) + ": " + why);
  return ids;
}

std::string to_string(bridge_thread x) {
  return schema::spelling(schema::bridge_names, x);
}

} // namespace hyperamp::config
