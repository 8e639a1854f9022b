#include "apps/cli.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hyperamp::apps {

namespace {

const char* k_overview =
    R"(amp-node: a HyperAMP zone (client or service) on a shared-memory region.

Usage:
  amp-node <role.toml>                run the zone the file describes until
                                      SIGINT/SIGTERM (a client zone reads
                                      "<service_id> <data>" lines from stdin)
  amp-node serve <role.toml> [--workers N]
  amp-node call <role.toml> <data|@file|hex:HEX> <service_id>
                [--threads N] [--requests M] [--json] [--quiet]
  amp-node help [serve|call|aliases]  more about a command

Aliases of hvisor-tool's commands (as subcommands or as the program name):
  hyper_amp_test <cfg> <data> <service_id>
  hyper_amp_test_mt <cfg> <data> <service_id> <threads> [total]
  hyper_amp_service_test <cfg>
  hyper_amp_service_test_mt <cfg> [threads]

Services: 1 encrypt, 2 decrypt, 66 echo. Role files: config/*.toml and
docs/configuration.md. Exit codes: 0 ok, 1 a request or the zone failed,
2 bad arguments or configuration.
)";

const char* k_serve = R"(amp-node serve <role.toml> [--workers N]

Runs a service zone: attaches to (or creates) the region of the role file,
claims the service slot (taking over from a dead predecessor), and serves
requests until SIGINT or SIGTERM. --workers N overrides service.workers: the
number of worker actors per service (1..256).
)";

const char* k_call =
    R"(amp-node call <role.toml> <data|@file|hex:HEX> <service_id>
              [--threads N] [--requests M] [--json] [--quiet]

Sends M requests (default N) through N client actors (default 1), each
with at most client.max_in_flight requests outstanding. Prints each result
(printable text as text, otherwise hex) and a summary: total time,
requests/s, latency p50/p99 (a request's latency is the round trip of the
batch it went in: each actor sends max_in_flight / 2 requests per batch). --json prints one JSON object instead.
--quiet leaves out the per-request lines. Exits 0 only if every request
succeeded.

data:    a literal string; @file reads the file (if it starts with "hex:" it
         is hex, one trailing newline stripped); hex:HEX decodes HEX.
Example: amp-node call config/client.toml hello 1   -> 164e2c2f12
)";

const char* k_aliases = R"(Aliases kept for scripts written for hvisor-tool:
  hyper_amp_test <cfg> <data> <service_id>             = call ... --threads 1 --requests 1
  hyper_amp_test_mt <cfg> <data> <sid> <threads> [total] = call ... --threads T --requests total
  hyper_amp_service_test <cfg>                         = serve <cfg>
  hyper_amp_service_test_mt <cfg> [threads]            = serve <cfg> --workers threads
<cfg> is a hyperamp role file (TOML), not hvisor-tool's JSON.
)";

std::string basename_of(const std::string& p) {
  auto pos = p.find_last_of('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

bool is_alias(const std::string& s) {
  return s == "hyper_amp_test" || s == "hyper_amp_test_mt" ||
         s == "hyper_amp_service_test" || s == "hyper_amp_service_test_mt";
}

bool wants_help(const std::vector<std::string>& a) {
  for (const auto& s : a)
    if (s == "--help" || s == "-h")
      return true;
  return false;
}

void need(const std::vector<std::string>& pos, std::size_t min, std::size_t max,
          const std::string& cmd) {
  if (pos.size() < min)
    throw cli_error(cmd + ": missing arguments (see amp-node help " +
                    (cmd == "serve" || cmd == "call" ? cmd : "aliases") + ")");
  if (pos.size() > max)
    throw cli_error(cmd + ": unexpected argument '" + pos[max] + "'");
}

/// Splits flags (--name value / --name=value) from positional arguments.
std::vector<std::string> take_flags(const std::vector<std::string>& in,
                                    options& o, const std::string& cmd) {
  std::vector<std::string> pos;
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::string a = in[i];
    if (a.size() < 2 || a.compare(0, 2, "--") != 0 || a == "--") {
      pos.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    auto val = [&]() -> std::string {
      if (has_value)
        return value;
      if (i + 1 >= in.size())
        throw cli_error(cmd + ": " + name + " needs a value");
      return in[++i];
    };
    if (name == "--json" && cmd == "call" && !has_value)
      o.json = true;
    else if (name == "--quiet" && cmd == "call" && !has_value)
      o.quiet = true;
    else if (name == "--threads" && cmd == "call")
      o.threads = parse_count(val(), "--threads", 1, 4096);
    else if (name == "--requests" && cmd == "call")
      o.requests = parse_count(val(), "--requests", 1, 100000000);
    else if (name == "--workers" && cmd == "serve")
      o.workers = parse_count(val(), "--workers", 1, 256);
    else
      throw cli_error(cmd + ": unknown option '" + a + "'");
  }
  return pos;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::vector<std::uint8_t> decode_hex(const std::string& h) {
  if (h.size() % 2 != 0)
    throw cli_error("hex payload has an odd number of digits");
  std::vector<std::uint8_t> out;
  out.reserve(h.size() / 2);
  for (std::size_t i = 0; i < h.size(); i += 2) {
    int hi = hex_digit(h[i]), lo = hex_digit(h[i + 1]);
    if (hi < 0 || lo < 0)
      throw cli_error("hex payload has a non-hex character near '" +
                      h.substr(i, 2) + "'");
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

options parse_command(const std::string& cmd,
                      const std::vector<std::string>& rest) {
  options o;
  auto pos = take_flags(
      rest, o,
      cmd == "hyper_amp_test" || cmd == "hyper_amp_test_mt" ? "call" : cmd);
  if (cmd == "serve" || cmd == "hyper_amp_service_test") {
    need(pos, 1, 1, cmd);
    o.cmd = command::serve;
  } else if (cmd == "hyper_amp_service_test_mt") {
    need(pos, 1, 2, cmd);
    o.cmd = command::serve;
    if (pos.size() == 2)
      o.workers = parse_count(pos[1], "threads", 1, 256);
  } else if (cmd == "call" || cmd == "hyper_amp_test") {
    need(pos, 3, 3, cmd);
    o.cmd = command::call;
    if (cmd == "hyper_amp_test")
      o.threads = o.requests = 1;
  } else if (cmd == "hyper_amp_test_mt") {
    need(pos, 4, 5, cmd);
    o.cmd = command::call;
    o.threads = parse_count(pos[3], "threads", 1, 4096);
    o.requests = pos.size() == 5 ? parse_count(pos[4], "total", 1, 100000000)
                                 : *o.threads;
  }
  o.role_file = pos[0];
  if (o.cmd == command::call) {
    o.data = pos[1];
    o.service_id = parse_count(pos[2], "service_id", 0, 0xFFFFFFFFu);
  }
  return o;
}

} // namespace

std::uint32_t parse_count(const std::string& text, const std::string& what,
                          std::uint32_t min, std::uint32_t max) {
  errno = 0;
  char* end = nullptr;
  const bool digits =
      !text.empty() && std::isdigit(static_cast<unsigned char>(text[0]));
  const unsigned long long v =
      digits ? std::strtoull(text.c_str(), &end, 10) : 0;
  if (!digits || *end != '\0' || errno == ERANGE)
    throw cli_error(what + ": '" + text + "' is not a number");
  if (v < min || v > max)
    throw cli_error(what + ": " + text + " is out of range (" +
                    std::to_string(min) + ".." + std::to_string(max) + ")");
  return static_cast<std::uint32_t>(v);
}

options parse(const std::vector<std::string>& args) {
  options o;
  const std::string prog = args.empty() ? "amp-node" : basename_of(args[0]);
  std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1),
                                args.end());
  if (is_alias(prog)) {
    if (wants_help(rest)) {
      o.help_topic = "aliases";
      return o;
    }
    return parse_command(prog, rest);
  }
  if (rest.empty())
    throw cli_error("missing arguments (try amp-node --help)");
  const std::string cmd = rest[0];
  std::vector<std::string> tail(rest.begin() + 1, rest.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    o.help_topic = tail.empty() ? "" : tail[0];
    if (!o.help_topic.empty() && o.help_topic != "serve" &&
        o.help_topic != "call" && o.help_topic != "aliases" &&
        !is_alias(o.help_topic))
      throw cli_error("help: unknown topic '" + o.help_topic + "'");
    return o;
  }
  if (cmd == "serve" || cmd == "call" || is_alias(cmd)) {
    if (wants_help(tail)) {
      o.help_topic = is_alias(cmd) ? "aliases" : cmd;
      return o;
    }
    return parse_command(cmd, tail);
  }
  if (cmd.size() > 1 && cmd[0] == '-')
    throw cli_error("unknown option '" + cmd + "' (try amp-node --help)");
  if (!tail.empty())
    throw cli_error("unknown subcommand '" + cmd +
                    "' (expected serve, call, help or a role file)");
  if (cmd.find(".toml") == std::string::npos &&
      cmd.find('/') == std::string::npos)
    throw cli_error("unknown subcommand '" + cmd +
                    "' (expected serve, call, help or a role file)");
  o.cmd = command::run;
  o.role_file = cmd;
  return o;
}

std::string help(const std::string& topic) {
  if (topic == "serve")
    return k_serve;
  if (topic == "call")
    return k_call;
  if (topic == "aliases" || is_alias(topic))
    return k_aliases;
  return k_overview;
}

std::vector<std::uint8_t> decode_payload(const std::string& spec) {
  if (spec.rfind("hex:", 0) == 0)
    return decode_hex(spec.substr(4));
  if (spec.rfind("@", 0) == 0) {
    const std::string path = spec.substr(1);
    std::ifstream in{path, std::ios::binary};
    if (!in)
      throw cli_error("cannot read " + path + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.rfind("hex:", 0) == 0) {
      if (!text.empty() && text.back() == '\n')
        text.pop_back();
      return decode_hex(text.substr(4));
    }
    return {text.begin(), text.end()};
  }
  return {spec.begin(), spec.end()};
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else
      out += c;
  }
  return out;
}

std::string to_hex(const std::vector<std::uint8_t>& data) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (auto b : data) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

std::string render_payload(const std::vector<std::uint8_t>& data) {
  for (auto b : data)
    if (!std::isprint(b) && b != '\n' && b != '\t')
      return "hex:" + to_hex(data);
  return {data.begin(), data.end()};
}

} // namespace hyperamp::apps
