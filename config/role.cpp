// The only translation unit that includes toml11 (its first toml::parse
// instantiation is slow to compile, and its types must not leak).
//
// Parsing reads every value through toml::value's own accessors (never
// toml::find / find_or, see caf-0.17-notes.md section 7): integers are read
// as std::int64_t and range-checked here, wrong types and unknown keys are
// reported with the line of the offending value. Problems are collected and
// the first one in file order is thrown as a config_error.
#include "config/role.hpp"

#include "config/input.hpp"

#include <toml.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <initializer_list>
#include <iomanip>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

namespace hyperamp::config {

namespace {

// -- names and ranges (shared by the parser, validate and to_toml) --

// Allowed spellings, indexed by the enum's value.
constexpr const char* role_names[] = {"client", "service"};
constexpr const char* backend_names[] = {"file", "physical"};
constexpr const char* create_names[] = {"auto", "create", "attach"};
constexpr const char* doorbell_names[] = {"futex", "hvisor", "polling"};
constexpr const char* policy_names[] = {"stealing", "sharing"};

struct range {
  std::int64_t lo;
  std::int64_t hi;
};

constexpr std::int64_t kib = 1024;
constexpr std::int64_t mib = kib * 1024;
constexpr std::int64_t gib = mib * 1024;
constexpr std::int64_t tib = gib * 1024;
constexpr std::int64_t day_ms = 86'400'000;

namespace limits {
constexpr range zone{0, 65535};
constexpr range phys_addr{0, (std::int64_t{1} << 52) - 1};
constexpr range size{0, tib};
constexpr range entries{2, 65535};
// shm/ entries address the payload area with 32-bit offsets.
constexpr range payload_size{64, 4 * gib};
constexpr range max_clients{1, 256};
constexpr range spin_us{0, 1'000'000};
constexpr range swi{0, 1023};
constexpr range threads{1, 256};
constexpr range queue_depth{1, 65535};
constexpr range pending_limit{1, 1'000'000};
constexpr range max_message{1, gib};
constexpr range inline_max{0, gib};
constexpr range timeout_ms{1, day_ms};
constexpr range heartbeat_ms{1, 60'000};
constexpr range poll_attempts{0, 1'000'000};
} // namespace limits

// Known keys per section; "" is the top level. Order is the documented one.
struct section_schema {
  const char* name;
  std::vector<const char*> keys;
};

const std::vector<section_schema>& schema() {
  static const std::vector<section_schema> result{
      {"", {"role", "zone_id", "channel"}},
      {"region",
       {"backend", "path", "phys_addr", "size", "entries", "payload_size",
        "max_clients", "create"}},
      {"doorbell",
       {"backend", "spin_us", "hvisor_device", "hshm_device", "target_zone",
        "swi"}},
      {"service", {"workers", "worker_capacity", "batch", "inline_max"}},
      {"client", {"actors", "max_in_flight", "pending_limit", "max_message"}},
      {"timeouts", {"request_ms", "heartbeat_ms", "peer_dead_ms", "attach_ms"}},
      {"scheduler", {"max_threads", "policy", "moderate_poll_attempts"}},
  };
  return result;
}

std::string dotted(const std::string& section, const std::string& key) {
  return section.empty() ? key : section + "." + key;
}

// -- message helpers --

// "<file>:<line>: <key>: <text>"; line 0 = unknown, empty key = none.
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

std::string range_text(range r) {
  return "(" + std::to_string(r.lo) + ".." + std::to_string(r.hi) + ")";
}

std::string in_quotes(const std::string& s) {
  return "\"" + s + "\"";
}

std::string choices_text(const char* const* names, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += (i == 0 ? "" : i + 1 == n ? " or " : ", ") + in_quotes(names[i]);
  return out;
}

// "83886080 (80 MiB)" for round sizes, else the plain number.
std::string bytes_text(std::uint64_t n) {
  const std::pair<std::uint64_t, const char*> units[] = {
      {static_cast<std::uint64_t>(gib), "GiB"},
      {static_cast<std::uint64_t>(mib), "MiB"},
      {static_cast<std::uint64_t>(kib), "KiB"}};
  for (const auto& [unit, name] : units)
    if (n >= unit && n % unit == 0)
      return std::to_string(n) + " (" + std::to_string(n / unit) + " " + name +
             ")";
  return std::to_string(n);
}

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

// Distance of a typed key from a known one (lower is closer), or npos if
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

// Suggestion for an unknown key: the closest key of its own table, else the
// same key in another section ("service.workers").
std::string suggestion(const std::string& section, const std::string& key) {
  std::vector<std::string> local;
  std::vector<std::string> elsewhere;
  for (const auto& s : schema()) {
    for (const auto* k : s.keys)
      (s.name == section ? local : elsewhere).emplace_back(dotted(s.name, k));
    if (section.empty() && *s.name != '\0')
      local.emplace_back(s.name);
  }
  for (auto& k : local)
    k = k.substr(section.empty() ? 0 : section.size() + 1);
  auto best = closest(key, local);
  if (best.empty())
    for (const auto& k : elsewhere)
      if (normalized(k.substr(k.find('.') + 1)) == normalized(key))
        return k;
  return best;
}

// -- sizes ("8MiB") --

// Bytes of "<digits>[ ]<unit>", -1 if the text is not a size; anything
// above 1 TiB comes back as tib + 1 (out of every range).
std::int64_t parse_size_text(const std::string& text) {
  std::size_t i = 0;
  std::int64_t n = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]));
       ++i)
    n = std::min(n * 10 + (text[i] - '0'), tib + 1);
  if (i == 0)
    return -1;
  while (i < text.size() && text[i] == ' ')
    ++i;
  const auto unit = text.substr(i);
  const std::pair<const char*, std::int64_t> units[] = {
      {"", 1}, {"B", 1}, {"KiB", kib}, {"MiB", mib}, {"GiB", gib}};
  for (const auto& [name, factor] : units)
    if (unit == name)
      return n > tib / factor ? tib + 1 : n * factor;
  return -1;
}

// "8MB" -> "8MiB": what the user most likely meant, or "".
std::string size_hint(const std::string& text) {
  const auto pos = text.find_first_not_of("0123456789 ");
  if (pos == 0 || pos == std::string::npos)
    return {};
  const char unit =
      static_cast<char>(std::toupper(static_cast<unsigned char>(text[pos])));
  if (unit != 'K' && unit != 'M' && unit != 'G')
    return {};
  return text.substr(0, text.find_last_of("0123456789") + 1) + unit + "iB";
}

// -- the one place that turns toml11 exceptions into a message --

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// What toml11 said, from its multi-line what(): the headline without the
// "[error] toml::parse_xxx:" prefix, the last underline comment, and the
// numbered source line above it (e.location() is not always that line,
// e.g. it is 1 for a bad date).
struct toml_report {
  std::uint32_t line = 0;
  std::string source;
  std::string text;
};

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

std::string without_final_dots(std::string s) {
  while (!s.empty() && s.back() == '.')
    s.pop_back();
  return s;
}

toml_report digest(const std::string& what) {
  std::istringstream in{what};
  std::string head;
  std::getline(in, head);
  if (head.compare(0, 8, "[error] ") == 0)
    head.erase(0, 8);
  if (head.compare(0, 6, "toml::") == 0)
    head.erase(0, std::min(head.find(':', 6), head.size() - 1) + 1);
  toml_report out;
  std::string detail;
  std::pair<std::uint32_t, std::string> numbered;
  for (std::string line; std::getline(in, line);) {
    const auto bar = line.find('|');
    if (bar == std::string::npos)
      continue;
    const auto left = trimmed(line.substr(0, bar));
    const auto right = trimmed(line.substr(bar + 1));
    if (all_digits(left) && left.size() < 9)
      numbered = {static_cast<std::uint32_t>(std::stoul(left)), right};
    else if (left.empty() && !right.empty() &&
             (right[0] == '^' || right[0] == '~')) {
      detail = trimmed(right.substr(right.find_first_not_of("^~-")));
      std::tie(out.line, out.source) = numbered;
    }
  }
  head = without_final_dots(trimmed(head));
  detail = without_final_dots(detail);
  if (head.empty())
    std::swap(head, detail);
  out.text =
      detail.empty() || detail == "here" ? head : head + " (" + detail + ")";
  return out;
}

// Call from a catch block around toml::parse only.
[[noreturn]] void rethrow_toml_error(const std::string& name) {
  try {
    throw;
  } catch (const toml::exception& e) {
    auto r = digest(e.what());
    if (r.line == 0) {
      r.line = e.location().line();
      r.source = trimmed(e.location().line_str());
    }
    if (dynamic_cast<const toml::syntax_error*>(&e) != nullptr)
      r.text = "syntax error: " + r.text;
    if (r.source.size() > 60)
      r.source = r.source.substr(0, 57) + "...";
    if (!r.source.empty())
      r.text += " in `" + r.source + "`";
    throw config_error(message(name, r.line, "", r.text));
  } catch (const std::exception& e) {
    throw config_error(
        message(name, 0, "", std::string{"cannot parse: "} + e.what()));
  }
}

// -- the parser --

std::string type_name(toml::value_t t) {
  switch (t) {
  case toml::value_t::boolean:
    return "a boolean";
  case toml::value_t::integer:
    return "an integer";
  case toml::value_t::floating:
    return "a floating-point number";
  case toml::value_t::string:
    return "a string";
  case toml::value_t::offset_datetime:
  case toml::value_t::local_datetime:
    return "a date-time";
  case toml::value_t::local_date:
    return "a date";
  case toml::value_t::local_time:
    return "a time";
  case toml::value_t::array:
    return "an array";
  case toml::value_t::table:
    return "a table";
  default:
    return "nothing";
  }
}

// The value as written in the file ("0x10", "70_000"), for messages.
std::string literal(const toml::value& v) {
  const auto loc = v.location();
  const auto& line = loc.line_str();
  if (loc.column() >= 1 && loc.column() - 1 + loc.region() <= line.size())
    return line.substr(loc.column() - 1, loc.region());
  return std::to_string(v.as_integer());
}

class parser {
public:
  parser(const std::string& name, role_config& cfg) : name_(name), cfg_(cfg) {}

  void run(const toml::value& root);

  // Throws the first problem in file order, if any.
  void finish() {
    if (problems_.empty())
      return;
    auto first = std::min_element(problems_.begin(), problems_.end(),
                                  [](const problem& a, const problem& b) {
                                    return std::tie(a.line, a.column) <
                                           std::tie(b.line, b.column);
                                  });
    throw config_error(message(name_, first->line, first->key, first->text));
  }

private:
  // -- member types --
  struct problem {
    std::uint32_t line;
    std::uint32_t column;
    std::string key;
    std::string text;
  };
  using table = toml::table;

  // -- reporting --
  void report(std::uint32_t line, std::uint32_t column, std::string key,
              std::string text) {
    problems_.push_back({line, column, std::move(key), std::move(text)});
  }
  void report(const toml::value& v, std::string key, std::string text) {
    const auto loc = v.location();
    report(loc.line(), loc.column(), std::move(key), std::move(text));
  }
  void wrong_type(const toml::value& v, const std::string& key,
                  const std::string& expected) {
    report(v, key, "expected " + expected + ", got " + type_name(v.type()));
  }

  // -- lookup --

  // The value of `key` in `t` (nullptr if absent); records its line.
  const toml::value* find(const table* t, const std::string& section,
                          const char* key) {
    if (t == nullptr)
      return nullptr;
    const auto i = t->find(key);
    if (i == t->end())
      return nullptr;
    cfg_.key_lines[dotted(section, key)] = i->second.location().line();
    return &i->second;
  }

  const table* section(const table& root, const char* name) {
    const auto* v = find(&root, "", name);
    if (v == nullptr)
      return nullptr;
    if (v->is_table())
      return &v->as_table();
    auto expected = std::string{"a table (["} + name + "])";
    wrong_type(*v, name, expected);
    return nullptr;
  }

  // -- typed readers; each leaves `out` alone on a problem --

  bool read_int(const table* t, const std::string& sec, const char* key,
                range r, std::int64_t& out) {
    const auto* v = find(t, sec, key);
    if (v == nullptr)
      return false;
    if (!v->is_integer()) {
      wrong_type(*v, dotted(sec, key), "an integer");
      return false;
    }
    return in_range(*v, dotted(sec, key), v->as_integer(), r, out);
  }

  bool in_range(const toml::value& v, const std::string& key, std::int64_t n,
                range r, std::int64_t& out) {
    if (n < r.lo || n > r.hi) {
      report(v, key, literal(v) + " is out of range " + range_text(r));
      return false;
    }
    out = n;
    return true;
  }

  template <class T>
  void read_uint(const table* t, const std::string& sec, const char* key,
                 range r, T& out) {
    std::int64_t n = 0;
    if (read_int(t, sec, key, r, n))
      out = static_cast<T>(n);
  }

  // An integer, or a string like "8MiB".
  void read_size(const table* t, const std::string& sec, const char* key,
                 range r, std::uint64_t& out) {
    const auto* v = find(t, sec, key);
    if (v == nullptr)
      return;
    const auto full = dotted(sec, key);
    std::int64_t n = 0;
    if (v->is_integer()) {
      if (in_range(*v, full, v->as_integer(), r, n))
        out = static_cast<std::uint64_t>(n);
    } else if (v->is_string()) {
      read_size_string(*v, full, r, out);
    } else {
      wrong_type(*v, full, "an integer or a string like \"8MiB\"");
    }
  }

  void read_size_string(const toml::value& v, const std::string& key, range r,
                        std::uint64_t& out) {
    const auto& text = v.as_string().str;
    const auto n = parse_size_text(text);
    if (n < 0) {
      auto hint = size_hint(text);
      report(v, key,
             in_quotes(text) +
                 " is not a size (use bytes or a number with unit "
                 "B, KiB, MiB or GiB" +
                 (hint.empty() ? ")"
                               : "; did you mean " + in_quotes(hint) + "?)"));
    } else if (n < r.lo || n > r.hi) {
      report(v, key, in_quotes(text) + " is out of range " + range_text(r));
    } else {
      out = static_cast<std::uint64_t>(n);
    }
  }

  void read_string(const table* t, const std::string& sec, const char* key,
                   std::string& out) {
    if (const auto* v = find(t, sec, key)) {
      if (v->is_string())
        out = v->as_string().str;
      else
        wrong_type(*v, dotted(sec, key), "a string");
    }
  }

  // One of `names`; `out` becomes its index.
  template <class E, std::size_t N>
  void read_enum(const table* t, const std::string& sec, const char* key,
                 const char* const (&names)[N], E& out) {
    const auto* v = find(t, sec, key);
    if (v == nullptr)
      return;
    if (!v->is_string()) {
      wrong_type(*v, dotted(sec, key), "a string");
      return;
    }
    const auto& text = v->as_string().str;
    for (std::size_t i = 0; i < N; ++i)
      if (text == names[i]) {
        out = static_cast<E>(i);
        return;
      }
    bad_choice(*v, dotted(sec, key), text, names, N);
  }

  void bad_choice(const toml::value& v, const std::string& key,
                  const std::string& text, const char* const* names,
                  std::size_t n) {
    const auto best = closest(text, std::vector<std::string>(names, names + n));
    report(
        v, key,
        in_quotes(text) + " is not one of " + choices_text(names, n) +
            (best.empty() ? "" : " (did you mean " + in_quotes(best) + "?)"));
  }

  void require(const table& root, const char* key) {
    if (root.count(key) == 0)
      report(1, 0, key, "required key is missing");
  }

  // Every key of `t` must be in the schema of `section`.
  void unknown_keys(const table& t, const std::string& sec) {
    const auto& sections = schema();
    const auto s = std::find_if(sections.begin(), sections.end(),
                                [&](const auto& x) { return x.name == sec; });
    for (const auto& [key, v] : t) {
      if (std::find(s->keys.begin(), s->keys.end(), key) != s->keys.end())
        continue;
      const bool known_section =
          sec.empty() &&
          std::any_of(sections.begin(), sections.end(),
                      [&](const auto& x) { return x.name == key; });
      if (known_section)
        continue;
      const auto what =
          sec.empty() && v.is_table() ? "unknown section" : "unknown key";
      const auto best = suggestion(sec, key);
      report(v, dotted(sec, key),
             what + (best.empty()
                         ? ""
                         : " (did you mean " + in_quotes(best) + "?)"));
    }
  }

  void read_region(const table* t);
  void read_doorbell(const table* t);
  void read_others(const table& root);

  // -- member variables --
  const std::string& name_;
  role_config& cfg_;
  std::vector<problem> problems_;
};

void parser::run(const toml::value& root) {
  const auto& top = root.as_table();
  unknown_keys(top, "");
  require(top, "role");
  require(top, "zone_id");
  read_enum(&top, "", "role", role_names, cfg_.role);
  read_uint(&top, "", "zone_id", limits::zone, cfg_.zone_id);
  read_string(&top, "", "channel", cfg_.channel);
  read_region(section(top, "region"));
  read_doorbell(section(top, "doorbell"));
  read_others(top);
}

void parser::read_region(const table* t) {
  if (t != nullptr)
    unknown_keys(*t, "region");
  auto& r = cfg_.region;
  const char* s = "region";
  read_enum(t, s, "backend", backend_names, r.backend);
  if (r.backend == region_backend::physical)
    r.path = "/dev/mem";
  read_string(t, s, "path", r.path);
  read_uint(t, s, "phys_addr", limits::phys_addr, r.phys_addr);
  read_size(t, s, "size", limits::size, r.size);
  read_uint(t, s, "entries", limits::entries, r.entries);
  read_size(t, s, "payload_size", limits::payload_size, r.payload_size);
  read_uint(t, s, "max_clients", limits::max_clients, r.max_clients);
  read_enum(t, s, "create", create_names, r.create);
}

void parser::read_doorbell(const table* t) {
  if (t != nullptr)
    unknown_keys(*t, "doorbell");
  auto& d = cfg_.doorbell;
  const char* s = "doorbell";
  read_enum(t, s, "backend", doorbell_names, d.backend);
  read_uint(t, s, "spin_us", limits::spin_us, d.spin_us);
  read_string(t, s, "hvisor_device", d.hvisor_device);
  read_string(t, s, "hshm_device", d.hshm_device);
  read_uint(t, s, "target_zone", limits::zone, d.target_zone);
  read_uint(t, s, "swi", limits::swi, d.swi);
}

void parser::read_others(const table& root) {
  const auto* sv = section(root, "service");
  const auto* cl = section(root, "client");
  const auto* to = section(root, "timeouts");
  const auto* sc = section(root, "scheduler");
  const std::pair<const table*, const char*> sections[] = {
      {sv, "service"}, {cl, "client"}, {to, "timeouts"}, {sc, "scheduler"}};
  for (const auto& [t, name] : sections)
    if (t != nullptr)
      unknown_keys(*t, name);
  read_uint(sv, "service", "workers", limits::threads, cfg_.service.workers);
  read_uint(sv, "service", "worker_capacity", limits::queue_depth,
            cfg_.service.worker_capacity);
  read_uint(sv, "service", "batch", limits::queue_depth, cfg_.service.batch);
  read_uint(sv, "service", "inline_max", limits::inline_max,
            cfg_.service.inline_max);
  auto& c = cfg_.client;
  read_uint(cl, "client", "actors", limits::threads, c.actors);
  read_uint(cl, "client", "max_in_flight", limits::queue_depth,
            c.max_in_flight);
  read_uint(cl, "client", "pending_limit", limits::pending_limit,
            c.pending_limit);
  read_uint(cl, "client", "max_message", limits::max_message, c.max_message);
  auto& m = cfg_.timeouts;
  read_uint(to, "timeouts", "request_ms", limits::timeout_ms, m.request_ms);
  read_uint(to, "timeouts", "heartbeat_ms", limits::heartbeat_ms,
            m.heartbeat_ms);
  read_uint(to, "timeouts", "peer_dead_ms", limits::timeout_ms, m.peer_dead_ms);
  read_uint(to, "timeouts", "attach_ms", limits::timeout_ms, m.attach_ms);
  auto& p = cfg_.scheduler;
  read_uint(sc, "scheduler", "max_threads", limits::threads, p.max_threads);
  std::size_t policy = 0;
  read_enum(sc, "scheduler", "policy", policy_names, policy);
  p.policy = policy_names[policy];
  read_uint(sc, "scheduler", "moderate_poll_attempts", limits::poll_attempts,
            p.moderate_poll_attempts);
}

// -- validation --

std::string hex(std::uint64_t n) {
  std::ostringstream out;
  out << "0x" << std::hex << n;
  return out.str();
}

class checker {
public:
  explicit checker(const role_config& cfg) : cfg_(cfg) {}

  void ranges() const;
  void strings() const;
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

  void check(const char* key, std::uint64_t n, range r) const {
    if (n < static_cast<std::uint64_t>(r.lo) ||
        n > static_cast<std::uint64_t>(r.hi))
      fail(key, std::to_string(n) + " is out of range " + range_text(r));
  }

  void not_empty(const char* key, const std::string& s) const {
    if (s.empty())
      fail(key, "must not be empty");
  }

  void physical() const;
  void payload() const;

  const role_config& cfg_;
};

void checker::ranges() const {
  const auto& r = cfg_.region;
  const auto& d = cfg_.doorbell;
  const auto& c = cfg_.client;
  const auto& t = cfg_.timeouts;
  check("zone_id", cfg_.zone_id, limits::zone);
  check("region.phys_addr", r.phys_addr, limits::phys_addr);
  check("region.size", r.size, limits::size);
  check("region.entries", r.entries, limits::entries);
  check("region.payload_size", r.payload_size, limits::payload_size);
  check("region.max_clients", r.max_clients, limits::max_clients);
  check("doorbell.spin_us", d.spin_us, limits::spin_us);
  check("doorbell.target_zone", d.target_zone, limits::zone);
  check("doorbell.swi", d.swi, limits::swi);
  check("service.workers", cfg_.service.workers, limits::threads);
  check("service.worker_capacity", cfg_.service.worker_capacity,
        limits::queue_depth);
  check("service.batch", cfg_.service.batch, limits::queue_depth);
  check("service.inline_max", cfg_.service.inline_max, limits::inline_max);
  check("client.actors", c.actors, limits::threads);
  check("client.max_in_flight", c.max_in_flight, limits::queue_depth);
  check("client.pending_limit", c.pending_limit, limits::pending_limit);
  check("client.max_message", c.max_message, limits::max_message);
  check("timeouts.request_ms", t.request_ms, limits::timeout_ms);
  check("timeouts.heartbeat_ms", t.heartbeat_ms, limits::heartbeat_ms);
  check("timeouts.peer_dead_ms", t.peer_dead_ms, limits::timeout_ms);
  check("timeouts.attach_ms", t.attach_ms, limits::timeout_ms);
  check("scheduler.max_threads", cfg_.scheduler.max_threads, limits::threads);
  check("scheduler.moderate_poll_attempts",
        cfg_.scheduler.moderate_poll_attempts, limits::poll_attempts);
}

void checker::strings() const {
  not_empty("channel", cfg_.channel);
  for (const char c : cfg_.channel)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      fail("channel", "must not contain control characters");
  not_empty("region.path", cfg_.region.path);
  if (cfg_.doorbell.backend == doorbell_backend::hvisor) {
    not_empty("doorbell.hvisor_device", cfg_.doorbell.hvisor_device);
    not_empty("doorbell.hshm_device", cfg_.doorbell.hshm_device);
  }
  const auto& p = cfg_.scheduler.policy;
  if (p != policy_names[0] && p != policy_names[1])
    fail("scheduler.policy",
         in_quotes(p) + " is not one of " + choices_text(policy_names, 2));
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
            (need <= static_cast<std::uint64_t>(limits::entries.hi)
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
  fail(
      "region.payload_size",
      "the per-client payload partition (" + std::to_string(r.payload_size) +
          " / region.max_clients " + std::to_string(r.max_clients) +
          ", rounded down to 64) is " + std::to_string(partition) +
          " bytes, less than client.actors x client.max_message x 10 = " +
          std::to_string(c.actors) + " x " + std::to_string(c.max_message) +
          " x 10 = " + std::to_string(want) + "; " +
          (payload_needed <= static_cast<std::uint64_t>(limits::payload_size.hi)
               ? "raise region.payload_size by " +
                     std::to_string(payload_needed - r.payload_size) + " (to " +
                     bytes_text(payload_needed) + "), or "
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

// -- output --

// A TOML basic string.
std::string toml_string(const std::string& s) {
  std::ostringstream out;
  out << '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\')
      out << '\\' << c;
    else if (u < 0x20 || u == 0x7f)
      out << "\\u" << std::hex << std::setw(4) << std::setfill('0')
          << static_cast<unsigned>(u) << std::dec;
    else
      out << c;
  }
  out << '"';
  return out.str();
}

} // namespace

// -- public API --

std::string to_string(role_kind x) {
  return role_names[static_cast<std::size_t>(x)];
}

std::string to_string(region_backend x) {
  return backend_names[static_cast<std::size_t>(x)];
}

std::string to_string(region_create x) {
  return create_names[static_cast<std::size_t>(x)];
}

std::string to_string(doorbell_backend x) {
  return doorbell_names[static_cast<std::size_t>(x)];
}

role_config parse_role(const std::string& text, const std::string& name) {
  if (const auto p = input::prescan(text))
    throw config_error(message(name, p->line, "", p->text));
  toml::value root;
  try {
    std::istringstream in{text};
    root = toml::parse(in, name);
  } catch (...) {
    rethrow_toml_error(name);
  }
  role_config cfg;
  cfg.source = name;
  parser p{name, cfg};
  p.run(root);
  p.finish();
  validate(cfg);
  return cfg;
}

role_config load_role(const std::string& path) {
  return parse_role(input::read_file(path), path);
}

void validate(const role_config& cfg) {
  const checker c{cfg};
  c.ranges();
  c.strings();
  c.region();
  c.client_queue();
  c.client_payload();
  c.service();
  c.timeouts();
}

std::string to_toml(const role_config& cfg) {
  const auto& r = cfg.region;
  const auto& d = cfg.doorbell;
  const auto& v = cfg.service;
  const auto& c = cfg.client;
  const auto& t = cfg.timeouts;
  const auto& s = cfg.scheduler;
  std::ostringstream out;
  out << "role = " << toml_string(to_string(cfg.role))
      << "\nzone_id = " << cfg.zone_id
      << "\nchannel = " << toml_string(cfg.channel)
      << "\n\n[region]\nbackend = " << toml_string(to_string(r.backend))
      << "\npath = " << toml_string(r.path)
      << "\nphys_addr = " << hex(r.phys_addr) << "\nsize = " << r.size
      << "\nentries = " << r.entries << "\npayload_size = " << r.payload_size
      << "\nmax_clients = " << r.max_clients
      << "\ncreate = " << toml_string(to_string(r.create))
      << "\n\n[doorbell]\nbackend = " << toml_string(to_string(d.backend))
      << "\nspin_us = " << d.spin_us
      << "\nhvisor_device = " << toml_string(d.hvisor_device)
      << "\nhshm_device = " << toml_string(d.hshm_device)
      << "\ntarget_zone = " << d.target_zone << "\nswi = " << d.swi
      << "\n\n[service]\nworkers = " << v.workers
      << "\nworker_capacity = " << v.worker_capacity << "\nbatch = " << v.batch
      << "\ninline_max = " << v.inline_max
      << "\n\n[client]\nactors = " << c.actors
      << "\nmax_in_flight = " << c.max_in_flight
      << "\npending_limit = " << c.pending_limit
      << "\nmax_message = " << c.max_message
      << "\n\n[timeouts]\nrequest_ms = " << t.request_ms
      << "\nheartbeat_ms = " << t.heartbeat_ms
      << "\npeer_dead_ms = " << t.peer_dead_ms
      << "\nattach_ms = " << t.attach_ms
      << "\n\n[scheduler]\nmax_threads = " << s.max_threads
      << "\npolicy = " << toml_string(s.policy)
      << "\nmoderate_poll_attempts = " << s.moderate_poll_attempts << "\n";
  return out.str();
}

} // namespace hyperamp::config
