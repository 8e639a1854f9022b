// hvisor-tool's shm_config.json as a role: the only translation unit of
// config/ that includes nlohmann-json.
//
// The file (as hvisor-tool reads it):
//
//   { "shm_regions": [
//       { "region_flag": "linux-2-npucore-buf", "zone0_ram_ipa": "0xde000000",
//         "zonex_ram_ipa": "0xde000000", "mem_size": "0x400000" },
//       { "region_flag": "linux-2-npucore-msg", "zone0_ram_ipa": "0xde400000",
//         "zonex_ram_ipa": "0xde410000", "mem_size": "0x1000" } ] }
//
// The numbers are hex strings ("0x" optional). `linux-2-npucore-buf` is
// the payload buffer at its zone0_ram_ipa (both zones map that address;
// its zonex_ram_ipa is read and checked but not used); `linux-2-npucore-msg`
// is the request queue at its zone0_ram_ipa and the service's readiness
// word at its zonex_ram_ipa. hvisor-tool skips a region whose mem_size is
// 0; both are needed here. Keys other than these four are ignored, as
// hvisor-tool does; a missing one is named, with any key that looks like a
// misspelling of it.
#include "config/input.hpp"
#include "config/role.hpp"
#include "config/schema.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <string>

namespace hyperamp::config {

namespace {

using json = nlohmann::json;

constexpr const char* k_buf_flag = "linux-2-npucore-buf";
constexpr const char* k_msg_flag = "linux-2-npucore-msg";

[[noreturn]] void fail(const std::string& file, const std::string& key,
                       const std::string& text) {
  throw config_error(schema::message(file, 0, key, text));
}

std::string hex(std::uint64_t n) {
  std::ostringstream out;
  out << "0x" << std::hex << n;
  return out.str();
}

std::string type_name(const json& v) {
  switch (v.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return "a boolean";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
  case json::value_t::number_float:
    return "a number";
  case json::value_t::string:
    return "a string";
  case json::value_t::array:
    return "an array";
  case json::value_t::object:
    return "an object";
  default:
    return "something else";
  }
}

/// The text of a string for a message: quoted, control characters as
/// \xNN, at most 40 characters.
std::string shown(const std::string& s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* digits = "0123456789abcdef";
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (s.size() > 40 ? "...\"" : "\"");
}

/// "0xde000000" or "de000000": hex digits after an optional 0x, at most
/// 16 of them. Stricter than hvisor-tool's strtoull, which also takes
/// signs, blanks and trailing garbage.
bool parse_hex(const std::string& s, std::uint64_t& out) {
  std::size_t i = 0;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    i = 2;
  if (i == s.size())
    return false;
  std::uint64_t v = 0;
  std::size_t digits = 0;
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!std::isxdigit(c))
      return false;
    if (v >> 60 != 0)
      return false; // more than 64 bits
    v = v * 16 + static_cast<std::uint64_t>(
                     std::isdigit(c) ? c - '0' : std::tolower(c) - 'a' + 10);
    ++digits;
  }
  out = v;
  return digits > 0;
}

/// A key of an object that is missing: its name, and a present key that
/// looks like a misspelling of it ("mem_szie").
std::string missing_key(const json& obj, const std::string& key) {
  std::string near;
  for (const auto& [k, v] : obj.items()) {
    (void)v;
    std::string a = k, b = key;
    std::transform(a.begin(), a.end(), a.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::size_t same = 0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
      if (a[i] == b[i])
        ++same;
    const bool anagram = a.size() == b.size() &&
                         std::is_permutation(a.begin(), a.end(), b.begin());
    if (a != b &&
        (anagram || (a.size() + 2 >= b.size() && b.size() + 2 >= a.size() &&
                     same + 3 >= b.size())))
      near = k;
  }
  return "missing key \"" + key + "\"" +
         (near.empty() ? "" : " (found \"" + near + "\": a misspelling?)");
}

struct region_entry {
  bool present = false;
  std::size_t index = 0;
  std::uint64_t zone0 = 0, zonex = 0, size = 0;
};

/// The hex value of `key` in region object `obj` at shm_regions[i].
std::uint64_t hex_field(const std::string& file, const json& obj,
                        const std::string& where, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end())
    fail(file, where, missing_key(obj, key));
  const std::string name = where + "." + key;
  if (!it->is_string())
    fail(file, name,
         "expected a hex string such as \"0xde000000\", got " + type_name(*it));
  std::uint64_t v = 0;
  if (!parse_hex(it->get_ref<const std::string&>(), v))
    fail(file, name,
         shown(it->get_ref<const std::string&>()) +
             " is not a hex number (expected e.g. \"0xde000000\": hex "
             "digits, an optional 0x, at most 64 bits)");
  return v;
}

std::string syntax_message(const json::parse_error& e,
                           const std::string& text) {
  // e.byte is the 1-based offset of the byte where parsing failed.
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string what = e.what();
  // "[json.exception.parse_error.101] parse error at line 1, column 2:
  // syntax error while parsing value - ..." -> the part after ": ".
  const auto colon = what.find(": ");
  if (colon != std::string::npos)
    what = what.substr(colon + 2);
  return "line " + std::to_string(line) + ", column " + std::to_string(column) +
         ": not valid JSON: " + what;
}

} // namespace

bool looks_like_json(const std::string& text) {
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
      continue;
    return c == '{' || c == '[';
  }
  return false;
}

role_config parse_hvisor_json(const std::string& text, const std::string& name,
                              role_kind role) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(name, "", syntax_message(e, text));
  } catch (const std::exception& e) {
    fail(name, "", std::string{"cannot parse: "} + e.what());
  }
  if (!root.is_object())
    fail(name, "",
         "expected a JSON object with \"shm_regions\" (hvisor-tool's "
         "shm_config.json), got " +
             type_name(root));
  const auto regions = root.find("shm_regions");
  if (regions == root.end())
    fail(name, "shm_regions", missing_key(root, "shm_regions"));
  if (!regions->is_array())
    fail(name, "shm_regions",
         "expected an array of regions, got " + type_name(*regions));
  if (regions->empty())
    fail(name, "shm_regions",
         "is empty; it needs a \"" + std::string{k_buf_flag} + "\" and a \"" +
             k_msg_flag + "\" region");

  region_entry buf, msg;
  for (std::size_t i = 0; i < regions->size(); ++i) {
    const json& r = (*regions)[i];
    const std::string where = "shm_regions[" + std::to_string(i) + "]";
    if (!r.is_object())
      fail(name, where, "expected an object, got " + type_name(r));
    const auto flag = r.find("region_flag");
    if (flag == r.end())
      fail(name, where, missing_key(r, "region_flag"));
    if (!flag->is_string())
      fail(name, where + ".region_flag",
           "expected a string, got " + type_name(*flag));
    const auto& f = flag->get_ref<const std::string&>();
    region_entry* target = f == k_buf_flag   ? &buf
                           : f == k_msg_flag ? &msg
                                             : nullptr;
    if (target == nullptr)
      fail(name, where + ".region_flag",
           shown(f) + " is not a region hyperamp knows (\"" + k_buf_flag +
               "\" or \"" + k_msg_flag +
               "\"; the seL4 ring variant's regions are not supported)");
    if (target->present)
      fail(name, where + ".region_flag",
           shown(f) + " appears twice (first at shm_regions[" +
               std::to_string(target->index) + "])");
    target->present = true;
    target->index = i;
    target->zone0 = hex_field(name, r, where, "zone0_ram_ipa");
    target->zonex = hex_field(name, r, where, "zonex_ram_ipa");
    target->size = hex_field(name, r, where, "mem_size");
  }
  for (const auto* e : {&buf, &msg}) {
    const char* flag = e == &buf ? k_buf_flag : k_msg_flag;
    if (!e->present)
      fail(name, "shm_regions",
           std::string{"has no region with \"region_flag\": \""} + flag +
               "\" (" +
               (e == &buf ? "the payload buffer" : "the request queue") + ")");
    const std::string where = "shm_regions[" + std::to_string(e->index) + "]";
    if (e->size == 0)
      fail(name, where + ".mem_size",
           std::string{"is 0; hvisor-tool skips such a region, but the "} +
               (e == &buf ? "payload buffer" : "request queue") + " is needed");
  }
  const std::string buf_at = "shm_regions[" + std::to_string(buf.index) + "]";
  const std::string msg_at = "shm_regions[" + std::to_string(msg.index) + "]";
  if (buf.size < 4096 || buf.size > (std::uint64_t{4} << 30))
    fail(name, buf_at + ".mem_size",
         hex(buf.size) + " is out of range for the payload buffer (0x1000 "
                         "to 0x100000000: message offsets are 32-bit)");
  if (msg.size < 28 || msg.size > 12 + 16 * 65535ull)
    fail(name, msg_at + ".mem_size",
         hex(msg.size) +
             " is out of range for the request queue (0x1c, a "
             "12-byte header and one 16-byte entry, to " +
             hex(12 + 16 * 65535ull) + ")");
  const std::uint64_t top = std::uint64_t{1} << 52;
  for (const auto& [value, key] :
       {std::pair{buf.zone0, buf_at + ".zone0_ram_ipa"},
        std::pair{buf.zonex, buf_at + ".zonex_ram_ipa"},
        std::pair{msg.zone0, msg_at + ".zone0_ram_ipa"},
        std::pair{msg.zonex, msg_at + ".zonex_ram_ipa"}})
    if (value >= top)
      fail(name, key, hex(value) + " is beyond the 52-bit physical space");
  if (msg.zone0 % 4 != 0)
    fail(name, msg_at + ".zone0_ram_ipa",
         hex(msg.zone0) + " is not 4-byte aligned");
  if (msg.zonex % 4 != 0)
    fail(name, msg_at + ".zonex_ram_ipa",
         hex(msg.zonex) + " is not 4-byte aligned");
  struct span {
    std::string key;
    std::uint64_t addr, size;
  };
  const span spans[] = {
      {buf_at + ".zone0_ram_ipa", buf.zone0, buf.size},
      {msg_at + ".zone0_ram_ipa", msg.zone0, msg.size},
      {msg_at + ".zonex_ram_ipa", msg.zonex, 4},
  };
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = i + 1; j < 3; ++j)
      if (spans[i].addr < spans[j].addr + spans[j].size &&
          spans[j].addr < spans[i].addr + spans[i].size)
        fail(name, spans[j].key,
             hex(spans[j].addr) + "..+" + hex(spans[j].size) + " overlaps " +
                 spans[i].key + " " + hex(spans[i].addr) + "..+" +
                 hex(spans[i].size));

  role_config cfg;
  cfg.source = name;
  cfg.role = role;
  cfg.zone_id = role == role_kind::client ? 0 : 1;
  cfg.region.layout = region_layout::hvisor_v1;
  cfg.region.backend = region_backend::physical;
  cfg.region.path = schema::physical_path;
  cfg.v1.buffer_addr = buf.zone0;
  cfg.v1.buffer_size = buf.size;
  cfg.v1.queue_addr = msg.zone0;
  cfg.v1.queue_size = msg.size;
  cfg.v1.ready_addr = msg.zonex;
  cfg.doorbell.backend = doorbell_backend::hvisor;
  cfg.doorbell.target_zone = 1;
  // hvisor-tool's client checks the readiness word 11 times, a second
  // apart; hyperamp waits as long, then fails instead of sending anyway.
  cfg.timeouts.attach_ms = 11000;
  // One request may use the whole buffer (less the reserved start).
  cfg.client.max_message = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(buf.size - 128, std::uint64_t{1} << 30));
  cfg.service.batch = std::min<std::uint32_t>(
      cfg.service.batch, static_cast<std::uint32_t>((msg.size - 12) / 16));
  validate(cfg);
  return cfg;
}

role_config load_config(const std::string& path,
                        std::optional<role_kind> role) {
  const std::string text = input::read_file(path);
  const bool json_name =
      path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (!json_name && !looks_like_json(text))
    return parse_role(text, path);
  if (!role)
    throw config_error(
        path +
        ": this is hvisor-tool's shm_config.json, which does not say "
        "which side this zone is: run `amp-node hyper_amp_service " +
        path + "` (the service zone) or `amp-node hyper_amp_test " + path +
        " <data> <service_id>` (a client)");
  return parse_hvisor_json(text, path, *role);
}

} // namespace hyperamp::config
