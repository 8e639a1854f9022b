// The only translation unit that includes toml11 (its first toml::parse
// instantiation is slow to compile, and its types must not leak): reading a
// role file into role_config, driven by the schema (schema.hpp), and
// to_toml.
//
// Values are read through toml::value's own accessors, never toml::find /
// find_or: find_or<std::string>(v, "a", "b", "literal") crashes, find_or
// returns the default on a type mismatch and find<std::uint16_t> does not
// range-check. Integers are read as std::int64_t and range-checked by the
// schema; wrong types and unknown keys are reported with the line of the
// offending value. Problems are collected and the first one in file order
// is thrown as a config_error.
#include "config/role.hpp"

#include "config/input.hpp"
#include "config/schema.hpp"

#include <toml.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

namespace hyperamp::config {

namespace {

using schema::in_quotes;
using schema::message;

// One toml11 value type for reading and writing (each instantiation is slow
// to compile). std::map keeps to_toml's output in a fixed (alphabetical)
// order; comments carry each key's help into to_toml's output.
using tvalue =
    toml::basic_value<toml::preserve_comments, std::map, std::vector>;
using ttable = tvalue::table_type;

constexpr std::int64_t kib = 1024;
constexpr std::int64_t mib = kib * 1024;
constexpr std::int64_t gib = mib * 1024;
constexpr std::int64_t tib = gib * 1024;

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

// -- the reader --

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
std::string literal(const tvalue& v) {
  const auto loc = v.location();
  const auto& line = loc.line_str();
  if (loc.column() >= 1 && loc.column() - 1 + loc.region() <= line.size())
    return line.substr(loc.column() - 1, loc.region());
  return std::to_string(v.as_integer());
}

// The value of `leaf` in `t`, nullptr if absent (or `t` is).
const tvalue* lookup(const ttable* t, const std::string& leaf) {
  if (t == nullptr)
    return nullptr;
  const auto i = t->find(leaf);
  return i == t->end() ? nullptr : &i->second;
}

class reader {
public:
  reader(const std::string& name, role_config& cfg) : name_(name), cfg_(cfg) {}

  void run(const tvalue& root);

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
  using table = ttable;

  // -- reporting --
  void report(std::uint32_t line, std::uint32_t column, std::string key,
              std::string text) {
    problems_.push_back({line, column, std::move(key), std::move(text)});
  }
  void report(const tvalue& v, std::string key, std::string text) {
    const auto loc = v.location();
    report(loc.line(), loc.column(), std::move(key), std::move(text));
  }
  void wrong_type(const tvalue& v, const std::string& key,
                  const std::string& expected) {
    report(v, key, "expected " + expected + ", got " + type_name(v.type()));
  }

  // -- tables --
  const table* section(const table& root, const std::string& name);
  void unknown_keys(const table& t, const std::string& section);

  // -- values; each leaves the field alone on a problem --
  void read(const schema::key& k, const table* t);
  void read_integer(const schema::key& k, const tvalue& v);
  void read_size(const schema::key& k, const tvalue& v);
  void read_size_string(const schema::key& k, const tvalue& v);
  void read_string(const schema::key& k, const tvalue& v);
  // Stores `value` unless something is `wrong` with it.
  void store(const schema::key& k, const tvalue& v, const std::string& wrong,
             const schema::value& value) {
    if (wrong.empty())
      k.set(cfg_, value);
    else
      report(v, k.name, wrong);
  }

  // -- member variables --
  const std::string& name_;
  role_config& cfg_;
  std::vector<problem> problems_;
};

void reader::run(const tvalue& root) {
  const auto& top = root.as_table();
  unknown_keys(top, "");
  std::map<std::string, const table*> tables{{"", &top}};
  for (const auto& s : schema::sections())
    if (!s.empty())
      tables[s] = section(top, s);
  for (const auto& k : schema::keys())
    read(k, tables[k.section()]);
  // The physical backend's path defaults to its device instead.
  if (cfg_.region.backend == region_backend::physical &&
      cfg_.key_lines.count("region.path") == 0)
    cfg_.region.path = schema::physical_path;
}

// The table of a section, nullptr if absent or not a table.
const ttable* reader::section(const table& root, const std::string& name) {
  const auto i = root.find(name);
  if (i == root.end())
    return nullptr;
  cfg_.key_lines[name] = i->second.location().line();
  if (!i->second.is_table()) {
    wrong_type(i->second, name, "a table ([" + name + "])");
    return nullptr;
  }
  unknown_keys(i->second.as_table(), name);
  return &i->second.as_table();
}

// Every key of `t` must be in the schema's `section` (or be a section).
void reader::unknown_keys(const table& t, const std::string& section) {
  const auto& sections = schema::sections();
  for (const auto& [leaf, v] : t) {
    if (schema::find(section, leaf) != nullptr)
      continue;
    if (section.empty() &&
        std::find(sections.begin(), sections.end(), leaf) != sections.end())
      continue;
    const auto what =
        section.empty() && v.is_table() ? "unknown section" : "unknown key";
    const auto best = schema::suggestion(section, leaf);
    report(v, section.empty() ? leaf : section + "." + leaf,
           what + (best.empty() ? ""
                                : " (did you mean " + in_quotes(best) + "?)"));
  }
}

// Reads `k` from its section's table `t` (nullptr: absent), recording the
// key's line.
void reader::read(const schema::key& k, const table* t) {
  const auto* found = lookup(t, k.leaf());
  if (found == nullptr) {
    if (k.required)
      report(1, 0, k.name, "required key is missing");
    return;
  }
  const auto& v = *found;
  cfg_.key_lines[k.name] = v.location().line();
  switch (k.type) {
  case schema::kind::integer:
    read_integer(k, v);
    break;
  case schema::kind::size:
    read_size(k, v);
    break;
  case schema::kind::text:
  case schema::kind::choice:
    read_string(k, v);
    break;
  }
}

void reader::read_integer(const schema::key& k, const tvalue& v) {
  if (!v.is_integer()) {
    wrong_type(v, k.name, "an integer");
    return;
  }
  const auto n = v.as_integer();
  store(k, v, schema::range_problem(k, n, literal(v)),
        {static_cast<std::uint64_t>(n), {}});
}

// An integer, or a string like "8MiB".
void reader::read_size(const schema::key& k, const tvalue& v) {
  if (v.is_integer())
    read_integer(k, v);
  else if (v.is_string())
    read_size_string(k, v);
  else
    wrong_type(v, k.name, "an integer or a string like \"8MiB\"");
}

void reader::read_size_string(const schema::key& k, const tvalue& v) {
  const auto& text = v.as_string().str;
  const auto n = parse_size_text(text);
  if (n < 0) {
    auto hint = size_hint(text);
    report(
        v, k.name,
        in_quotes(text) +
            " is not a size (use bytes or a number with unit "
            "B, KiB, MiB or GiB" +
            (hint.empty() ? ")" : "; did you mean " + in_quotes(hint) + "?)"));
    return;
  }
  store(k, v, schema::range_problem(k, n, in_quotes(text)),
        {static_cast<std::uint64_t>(n), {}});
}

void reader::read_string(const schema::key& k, const tvalue& v) {
  if (!v.is_string()) {
    wrong_type(v, k.name, "a string");
    return;
  }
  const auto& text = v.as_string().str;
  store(k, v, schema::text_problem(k, text), {0, text});
}

// -- output --

// `text` as comment lines of at most `width` characters (each starts with
// a space: toml11 writes "#" + line).
std::vector<std::string> comment_lines(const std::string& text,
                                       std::size_t width) {
  std::vector<std::string> out;
  std::istringstream words{text};
  std::string line;
  for (std::string word; words >> word;) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out.push_back(line);
      line.clear();
    }
    line += " " + word;
  }
  if (!line.empty())
    out.push_back(line);
  return out;
}

// The value of `k` in `cfg`, with the key's help as its comment.
tvalue toml_value(const schema::key& k, const role_config& cfg) {
  const auto v = k.get(cfg);
  auto help = comment_lines(k.help, 76);
  if (k.type == schema::kind::integer || k.type == schema::kind::size)
    return tvalue{static_cast<std::int64_t>(v.number), std::move(help)};
  return tvalue{v.text, std::move(help)};
}

// The table of `section` in `root`, made if missing.
ttable& section_table(tvalue& root, const std::string& section) {
  if (section.empty())
    return root.as_table();
  auto& t = root.as_table()[section];
  if (!t.is_table())
    t = ttable{};
  return t.as_table();
}

} // namespace

// -- public API --

role_config parse_role(const std::string& text, const std::string& name) {
  if (const auto p = input::prescan(text))
    throw config_error(message(name, p->line, "", p->text));
  tvalue root;
  try {
    std::istringstream in{text};
    root =
        toml::parse<toml::preserve_comments, std::map, std::vector>(in, name);
  } catch (...) {
    rethrow_toml_error(name);
  }
  role_config cfg;
  cfg.source = name;
  reader r{name, cfg};
  r.run(root);
  r.finish();
  validate(cfg);
  return cfg;
}

role_config load_role(const std::string& path) {
  return parse_role(input::read_file(path), path);
}

std::string to_toml(const role_config& cfg) {
  tvalue root{ttable{},
              {" hyperamp role file: the effective configuration, "
               "every key with its value"}};
  for (const auto& k : schema::keys())
    section_table(root, k.section()).emplace(k.leaf(), toml_value(k, cfg));
  // No width limit: strings stay on one line. Sections are written as
  // [section] (not inlined) because their values have comments.
  return toml::format(root, std::numeric_limits<std::size_t>::max());
}

} // namespace hyperamp::config
