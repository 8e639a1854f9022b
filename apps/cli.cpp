#include "apps/cli.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

namespace hyperamp::apps {

namespace {

const char* k_overview =
    R"(amp-node: a HyperAMP zone (client or service) on a shared-memory region.

Usage:
  amp-node <role.toml>                run the zone the file describes until
                                      SIGINT/SIGTERM (a client zone reads
                                      "<service_id> <data>" lines from stdin)
  amp-node serve <cfg> [--workers N]
  amp-node call <cfg> <data|@file|hex:HEX> <service_id>
                [--threads N] [--requests M] [--json] [--quiet]
                [--expect DATA]
  amp-node gateway <client-role.toml> [--port P] [--bind ADDR]
                                      run a client zone and publish its
                                      services on the network (CAF's
                                      middleman) until SIGINT/SIGTERM
  amp-node call --remote HOST:PORT <data|@file|hex:HEX> <service_id>
                [--threads N] [--requests M] [--json] [--quiet]
                [--expect DATA] [--tls-ca FILE --tls-cert FILE --tls-key FILE]
                                      call through a gateway (no role file)
  amp-node inspect <role.toml> [--json] [--watch SECONDS]
                                      look at the region without joining it
  amp-node help [serve|call|gateway|inspect|aliases]  more about a command

<cfg> is a hyperamp role file (TOML) or hvisor-tool's shm_config.json (then
the zone speaks hvisor-tool's layout through /dev/mem, /dev/hvisor and
/dev/hshm0; see docs/compatibility.md).

Aliases of hvisor-tool's commands (as subcommands or as the program name):
  hyper_amp <cfg> <data|@file|hex:HEX> <service_id>
  hyper_amp_test <cfg> <data|@file|hex:HEX> <service_id>
  hyper_amp_test_mt <cfg> <data> <service_id> <threads> [total]
  hyper_amp_service <cfg>
  hyper_amp_service_test <cfg>
  hyper_amp_service_test_mt <cfg> [threads]

Services: 1 encrypt, 2 decrypt, 66 echo. Role files: config/*.toml and
docs/configuration.md. Exit codes: 0 ok, 1 a request or the zone failed,
2 bad arguments or configuration.
)";

const char* k_serve = R"(amp-node serve <cfg> [--workers N]

Runs a service zone: attaches to (or creates) the region of the role file,
claims the service slot (taking over from a dead predecessor), and serves
requests until SIGINT or SIGTERM. --workers N overrides service.workers: the
number of worker actors per service (1..256).

<cfg> may be hvisor-tool's shm_config.json: the zone then serves
hvisor-tool's queue at the file's addresses (zone 1; it writes the
readiness word 0xEEEEEEEE once it listens on /dev/hshm0).
)";

const char* k_call =
    R"(amp-node call <cfg> <data|@file|hex:HEX> <service_id>
              [--threads N] [--requests M] [--json] [--quiet]
              [--expect data|@file|hex:HEX]
amp-node call --remote HOST:PORT <data|@file|hex:HEX> <service_id>
              [--threads N] [--requests M] [--json] [--quiet]
              [--expect data|@file|hex:HEX]
              [--tls-ca FILE --tls-cert FILE --tls-key FILE]

Sends M requests (default N) through N client actors (default 1), each
with at most client.max_in_flight requests outstanding. Prints each result
(printable text as text, otherwise hex) and a summary: total time,
requests/s, latency p50/p99 (a request's latency is the round trip of the
batch it went in: each actor sends max_in_flight / 2 requests per batch).
--json prints one JSON object instead. --quiet leaves out the per-request
lines (and the JSON results): only the summary and the failures by kind,
in bounded memory for any M (above 1000000 requests --quiet is required;
progress goes to stderr every second). Exits 0 only if every request
succeeded; SIGINT/SIGTERM stops early (exit 1). --expect DATA: a response
other than DATA (same forms as data) counts as failed ("response differs
from --expect"), for soak and smoke tests.

data:    a literal string; @file reads the file (if it starts with "hex:" it
         is hex, one trailing newline stripped); hex:HEX decodes HEX.
<cfg>:   a role file, or hvisor-tool's shm_config.json (zone 0; it waits up
         to 11 s for the service's readiness word, then fails).
Example: amp-node call config/client.toml hello 1   -> 164e2c2f12

--remote HOST:PORT calls through the gateway of a client zone (amp-node
gateway) instead of a zone of this machine; no role file. The N actors
share the connection's credit (the gateway's max_in_flight): each gets an
equal part of it. A request fails with the zone's errors, and with
not_allowed (the gateway's allow-list), overloaded, timeout (its deadline:
the zone's request_ms and one second) or disconnected (the connection was
lost). --tls-ca, --tls-cert and --tls-key (all three, PEM) connect with
TLS: CAF's TLS is mutual, the caller presents a certificate the gateway's
CA signed and checks the gateway's against --tls-ca. See docs/remote.md.
Example: amp-node call --remote 127.0.0.1:4242 hello 1   -> 164e2c2f12
)";

const char* k_gateway =
    R"(amp-node gateway <client-role.toml> [--port P] [--bind ADDR]

Runs the client zone of the role file (as amp-node <client-role.toml> does,
without reading stdin) and publishes its gateway with CAF's middleman:
programs elsewhere call the zone's services through it (amp-node call
--remote, or connect_remote in C++, actors/zone.hpp). Prints

  gateway listening on ADDR:PORT (plain TCP|TLS) for client zone Z on REGION

once it serves, runs until SIGINT or SIGTERM, and prints its counters.

The [gateway] section of the role file gives the settings
(docs/configuration.md): port (0: any free port), bind (default 127.0.0.1),
max_connections (remote callers at once), max_in_flight (requests of one
connection in the zone), allow (the service ids remote callers may call;
empty: every one), and tls_certificate, tls_key and tls_ca: with all three
the gateway speaks TLS only (plain TCP is refused) and takes only callers
whose certificate tls_ca signed. --port and --bind override port and bind.

Without TLS, whoever can connect speaks CAF's protocol with this process:
keep it on loopback or a trusted network. See docs/remote.md.
)";

const char* k_inspect =
    R"(amp-node inspect <role.toml> [--json] [--watch SECONDS]

Looks at the region of the role file without joining it: maps it read-only,
takes no slot and no lock, writes nothing. Shows the header and geometry,
the channel, the lock word and its holder, each list's length and whether
the lists are consistent, the entries by the list their tag names, every
slot in use (zone, pid, epoch, entries it holds, and whether its heartbeat
moved during a 200 ms look), and the counters of damage found, repairs and
lock recoveries. The snapshot is taken without the lock: a list changing at
that moment can look inconsistent once; look again.

--json      one JSON object (with --watch: one per line)
--watch S   look again every S seconds (1..86400) until SIGINT or SIGTERM

Only hyperamp's own layout (region.layout = "hyperamp") is shown; the
partitioned and hvisor-tool layouts are refused (exit 2).

Exit codes: 0 the lists are consistent, 1 they are not, or the region
cannot be opened (it does not exist, is not a hyperamp region, ...),
2 bad arguments or configuration. With --watch: the last look's.
)";

const char* k_aliases = R"(Aliases kept for scripts written for hvisor-tool:
  hyper_amp <cfg> <data|@file|hex:HEX> <service_id>    = call ... --threads 1 --requests 1
  hyper_amp_test <cfg> <data|@file|hex:HEX> <service_id> = the same
  hyper_amp_test_mt <cfg> <data> <sid> <threads> [total] = call ... --threads T --requests total
  hyper_amp_service <cfg>                              = serve <cfg>
  hyper_amp_service_test <cfg>                         = serve <cfg>
  hyper_amp_service_test_mt <cfg> [threads]            = serve <cfg> --workers threads
<cfg> is a hyperamp role file (TOML) or hvisor-tool's shm_config.json.
hyper_amp and hyper_amp_test print the result as hvisor-tool does:
  Result: [<text, \n \r \t and \xNN escaped>] (N bytes)
  Hex format: <hex>
(the first 64 bytes of a result longer than 256). Unlike hvisor-tool's
hyper_amp_test they decode hex: and @file; the services serve until
SIGINT/SIGTERM (hvisor-tool's hyper_amp_service stops after 10 messages).
)";

std::string basename_of(const std::string& p) {
  auto pos = p.find_last_of('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

bool is_alias(const std::string& s) {
  return s == "hyper_amp" || s == "hyper_amp_test" ||
         s == "hyper_amp_test_mt" || s == "hyper_amp_service" ||
         s == "hyper_amp_service_test" || s == "hyper_amp_service_test_mt";
}

/// The aliases that make one request and print it as hvisor-tool does.
bool is_single_alias(const std::string& s) {
  return s == "hyper_amp" || s == "hyper_amp_test";
}

// -- the words of a command as CLI11 sees them --------------------------------
//
// CLI11 reads a few words differently from amp-node's grammar (which scripts
// rely on). Those words are rewritten before CLI11 sees them, and restore()
// gives back every string CLI11 hands out as the user wrote it:
// - A word starting with one '-' (other than -h), and the word "--", are
//   data: a payload may be "-x", a count "-1" is reported as not a number.
//   CLI11 would read short options or the end of the options. They get a
//   k_mark in front, which CLI11 reads as a positional argument.
// - "--name=" gives the option --name the empty value (which the count
//   check rejects by name). CLI11 would take the next word as the value. It
//   becomes the two words "--name" and "".
// - "--flag=value" (a flag takes no value) and a "--" word whose name CLI11
//   does not take for an option name are unknown options. CLI11 would set
//   the flag to the value, or read data. They get a k_mark after the "--",
//   which CLI11 reads as an unknown option.
// A word that starts with k_mark, or with "--" and k_mark, gets one more,
// so that restore() is exact.

constexpr char k_mark = '\x1f';

bool is_long(const std::string& w) {
  return w.size() > 2 && w[0] == '-' && w[1] == '-';
}

std::vector<std::string> to_cli11(const CLI::App& app,
                                  const std::vector<std::string>& words) {
  std::vector<std::string> out;
  for (const auto& w : words) {
    const bool data = w == "--" || (!w.empty() && w[0] == k_mark) ||
                      (w.size() > 1 && w[0] == '-' && w[1] != '-' && w != "-h");
    if (data) {
      out.push_back(k_mark + w);
      continue;
    }
    if (!is_long(w)) {
      out.push_back(w);
      continue;
    }
    const auto eq = w.find('=');
    const CLI::Option* opt = eq == std::string::npos
                                 ? nullptr
                                 : app.get_option_no_throw(w.substr(0, eq));
    const bool flag_with_value = opt != nullptr && opt->get_expected_max() == 0;
    // valid_first_char: what CLI11 takes for the start of an option name.
    if (flag_with_value || w[2] == k_mark ||
        !CLI::detail::valid_first_char(w[2]))
      out.push_back("--" + (k_mark + w.substr(2)));
    else if (opt != nullptr && eq + 1 == w.size()) {
      out.push_back(w.substr(0, eq));
      out.push_back("");
    } else
      out.push_back(w);
  }
  return out;
}

std::string restore(std::string w) {
  if (!w.empty() && w[0] == k_mark)
    w.erase(0, 1);
  else if (is_long(w) && w[2] == k_mark)
    w.erase(2, 1);
  return w;
}

// -- commands -----------------------------------------------------------------

/// A count option (--threads N) and the field it sets.
struct count_option {
  const char* name;
  std::uint32_t max;
  std::optional<std::uint32_t> options::*field;
  std::uint32_t min = 1;
};

/// A flag (--json) and the field it sets.
struct flag_option {
  const char* name;
  bool options::*field;
};

/// An option with a text value (--remote HOST:PORT) and what it sets.
struct text_option {
  const char* name;
  void (*set)(options&, std::string);
  bool empty_ok = false; ///< --expect "" expects an empty response
};

/// --remote's address, and the TLS files: only with --remote, all three.
void check_remote(const options& o) {
  const bool any_tls =
      !o.tls_ca.empty() || !o.tls_cert.empty() || !o.tls_key.empty();
  if (o.remote.empty()) {
    if (any_tls)
      throw cli_error("call: --tls-ca, --tls-cert and --tls-key go with "
                      "--remote");
    return;
  }
  parse_host_port(o.remote);
  if (any_tls && (o.tls_ca.empty() || o.tls_cert.empty() || o.tls_key.empty()))
    throw cli_error("call: --tls-ca, --tls-cert and --tls-key go together "
                    "(CAF's TLS is mutual: the caller shows a certificate "
                    "too)");
}

/// call's --remote (and the TLS files that only go with it).
bool has_remote(const std::vector<std::string>& words) {
  return std::any_of(words.begin(), words.end(), [](const std::string& w) {
    return w == "--remote" || w.rfind("--remote=", 0) == 0;
  });
}

/// Parses the words after the command `name` (serve, call, gateway or an
/// alias).
options parse_command(const std::string& name,
                      const std::vector<std::string>& words) {
  const bool client =
      name == "call" || is_single_alias(name) || name == "hyper_amp_test_mt";
  // call --remote: no role file, the gateway's address instead.
  const bool remote = name == "call" && has_remote(words);
  // The options of the client aliases are call's, and so named in errors.
  const std::string label = client ? "call" : name;
  const std::string topic = name == "serve" || name == "call" ||
                                    name == "gateway" || name == "inspect"
                                ? name
                                : "aliases";
  options help;
  help.help_topic = is_alias(name) ? "aliases" : name;
  // The client aliases fix the load: --threads and --requests contradict
  // them (they are call's options, so CLI11 still reads their values).
  const std::string fixed_load =
      is_single_alias(name) ? "it makes 1 request from 1 thread"
      : name == "hyper_amp_test_mt"
          ? "its arguments <threads> [total] set threads and requests"
          : "";

  const auto counts = [&]() -> std::vector<count_option> {
    if (client)
      return {{"--threads", 4096, &options::threads},
              {"--requests", 100000000, &options::requests}};
    if (name == "serve")
      return {{"--workers", 256, &options::workers}};
    if (name == "gateway")
      return {{"--port", 65535, &options::port, 0}};
    if (name == "inspect")
      return {{"--watch", 86400, &options::watch}};
    return {};
  }();
  const auto texts = [&]() -> std::vector<text_option> {
    std::vector<text_option> t;
    if (client)
      t.push_back({"--expect",
                   [](options& o, std::string v) { o.expect = std::move(v); },
                   true});
    if (name == "call") {
      t.push_back(
          {"--remote", [](options& o, std::string v) { o.remote = v; }});
      t.push_back(
          {"--tls-ca", [](options& o, std::string v) { o.tls_ca = v; }});
      t.push_back(
          {"--tls-cert", [](options& o, std::string v) { o.tls_cert = v; }});
      t.push_back(
          {"--tls-key", [](options& o, std::string v) { o.tls_key = v; }});
    }
    if (name == "gateway")
      t.push_back({"--bind", [](options& o, std::string v) { o.bind = v; }});
    return t;
    return {};
  }();
  const auto flags = [&]() -> std::vector<flag_option> {
    if (client)
      return {{"--json", &options::json}, {"--quiet", &options::quiet}};
    if (name == "inspect")
      return {{"--json", &options::json}};
    return {};
  }();

  CLI::App app{"", name};
  app.set_help_flag("-h,--help");
  // Unknown options, extra arguments and repeats are reported below, in
  // amp-node's words.
  app.allow_extras();
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  for (const auto& c : counts)
    app.add_option(c.name);
  for (const auto& t : texts)
    app.add_option(t.name);
  for (const auto& f : flags)
    app.add_flag(f.name);
  std::vector<CLI::Option*> pos;
  auto positional = [&](const char* arg, bool required) {
    pos.push_back(app.add_option(arg)->required(required));
  };
  if (!remote)
    positional("role", true);
  if (client) {
    positional("data", true);
    positional("service_id", true);
  }
  if (name == "hyper_amp_test_mt") {
    positional("threads", true);
    positional("total", false);
  } else if (name == "hyper_amp_service_test_mt")
    positional("threads", false);

  options o;
  // -h or --help anywhere after the command asks for its help, also where
  // CLI11 took it for the value of an option (--threads -h).
  auto help_asked = [&] {
    if (app.get_help_ptr()->count() > 0)
      return true;
    for (const auto& c : counts)
      for (const auto& v : app.get_option(c.name)->results())
        if (v == "-h" || v == "--help")
          return true;
    for (const auto& t : texts)
      for (const auto& v : app.get_option(t.name)->results())
        if (v == "-h" || v == "--help")
          return true;
    return false;
  };
  auto cli11_words = to_cli11(app, words);
  std::reverse(cli11_words.begin(), cli11_words.end()); // as CLI11 wants
  bool missing = false;
  try {
    app.parse(cli11_words);
  } catch (const CLI::CallForHelp&) {
    return help;
  } catch (const CLI::RequiredError&) {
    // CLI11 has read every word; the checks below come first, as before.
    missing = true;
  } catch (const CLI::ArgumentMismatch&) {
    // An option wanting a value was the last word.
    if (help_asked())
      return help;
    throw cli_error(label + ": " + words.back() + " needs a value");
  } catch (const CLI::ParseError& e) {
    throw cli_error(label + ": " + e.what());
  }

  if (help_asked())
    return help;
  const auto extras = app.remaining();
  for (const auto& w : extras)
    if (is_long(w))
      throw cli_error(label + ": unknown option '" + restore(w) + "'");
  // The options in the order given (parse_order has an entry per value).
  std::map<const CLI::Option*, std::size_t> nth;
  for (const CLI::Option* opt : app.parse_order()) {
    const std::size_t i = nth[opt]++;
    if (opt->get_positional())
      continue;
    if (i == 1)
      throw cli_error(label + ": " + opt->get_name() + " given twice");
    if (!fixed_load.empty() &&
        (opt->get_name() == "--threads" || opt->get_name() == "--requests"))
      throw cli_error(name + ": " + opt->get_name() +
                      " contradicts the alias: " + fixed_load +
                      " (amp-node call takes --threads and --requests)");
    for (const auto& c : counts)
      if (opt->get_name() == c.name)
        o.*c.field =
            parse_count(restore(opt->results().at(i)), c.name, c.min, c.max);
    for (const auto& t : texts)
      if (opt->get_name() == t.name) {
        auto v = restore(opt->results().at(i));
        if (v.empty() && !t.empty_ok)
          throw cli_error(label + ": " + t.name + " needs a value");
        t.set(o, std::move(v));
      }
    for (const auto& f : flags)
      if (opt->get_name() == f.name)
        o.*f.field = true;
  }
  if (missing)
    throw cli_error(name + ": missing arguments (see amp-node help " + topic +
                    ")");
  if (!extras.empty())
    throw cli_error(name + ": unexpected argument '" + restore(extras.front()) +
                    "'");

  auto arg = [&](std::size_t i) { return restore(pos[i]->results().front()); };
  // call --remote has no role file: its positional arguments start at 0.
  const std::size_t first = remote ? 0 : 1;
  if (!remote)
    o.role_file = arg(0);
  if (client) {
    o.cmd = command::call;
    o.data = arg(first);
    if (is_single_alias(name)) {
      o.threads = o.requests = 1;
      o.hvisor_output = true;
    }
    if (name == "hyper_amp_test_mt") {
      o.threads = parse_count(arg(3), "threads", 1, 4096);
      o.requests = pos[4]->count() > 0
                       ? parse_count(arg(4), "total", 1, 100000000)
                       : *o.threads;
    }
    o.service_id = parse_count(arg(first + 1), "service_id", 0, 0xFFFFFFFFu);
    check_remote(o);
  } else if (name == "gateway") {
    o.cmd = command::gateway;
  } else if (name == "inspect") {
    o.cmd = command::inspect;
  } else {
    o.cmd = command::serve;
    if (name == "hyper_amp_service_test_mt" && pos[1]->count() > 0)
      o.workers = parse_count(arg(1), "threads", 1, 256);
  }
  return o;
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

void check_size(std::uint64_t bytes, const payload_limit& limit) {
  if (bytes > limit.bytes)
    throw cli_error("payload of " + std::to_string(bytes) + " bytes exceeds " +
                    limit.name);
}

/// Reads from `fd` until `want` bytes are in `into` or the file ends.
void read_up_to(int fd, const std::string& path, std::string& into,
                std::size_t want) {
  while (into.size() < want) {
    char buf[65536];
    const std::size_t n = std::min(sizeof buf, want - into.size());
    const ssize_t got = ::read(fd, buf, n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      throw cli_error("cannot read " + path + ": " + std::strerror(errno));
    if (got == 0)
      return;
    into.append(buf, static_cast<std::size_t>(got));
  }
}

/// An @file payload. Only a regular file: a directory is no payload, and
/// a FIFO or a device may block or never end. Its size says whether the
/// payload fits before anything but the first four bytes is read.
std::vector<std::uint8_t> read_payload_file(const std::string& path,
                                            const payload_limit& limit) {
  // O_NONBLOCK: opening a FIFO does not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw cli_error("cannot read " + path + ": " + std::strerror(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_fd{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw cli_error("cannot read " + path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    throw cli_error("cannot read " + path + ": is a directory");
  if (!S_ISREG(st.st_mode))
    throw cli_error("cannot read " + path + ": " +
                    (S_ISFIFO(st.st_mode)   ? "a FIFO"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "a special file") +
                    ", not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::string text;
  read_up_to(fd, path, text, 4);
  const bool hex = text == "hex:";
  // A hex file's payload: (size - 4) / 2 bytes, with or without the one
  // newline at its end.
  check_size(hex && size >= 4 ? (size - 4) / 2 : size, limit);
  // One byte more than fstat said, to see a file that grew meanwhile.
  read_up_to(fd, path, text, static_cast<std::size_t>(size) + 1);
  if (text.size() != size)
    throw cli_error("cannot read " + path + ": it changed while being read");
  if (hex) {
    if (text.back() == '\n')
      text.pop_back();
    auto out = decode_hex(text.substr(4));
    check_size(out.size(), limit);
    return out;
  }
  return {text.begin(), text.end()};
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

host_port parse_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw cli_error("--remote: '" + text + "' is not HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2); // [::1]:4242
  else if (host.find(':') != std::string::npos)
    throw cli_error("--remote: '" + text +
                    "' is not HOST:PORT (write an IPv6 address as [ADDR])");
  const auto port =
      parse_count(text.substr(colon + 1), "--remote port", 1, 65535);
  return {host, static_cast<std::uint16_t>(port)};
}

// The program name or the first word picks the command; CLI11 reads the
// words of serve, call, gateway and the aliases (parse_command).
options parse(const std::vector<std::string>& args) {
  options o;
  const std::string prog = args.empty() ? "amp-node" : basename_of(args[0]);
  std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1),
                                args.end());
  if (is_alias(prog))
    return parse_command(prog, rest);
  if (rest.empty())
    throw cli_error("missing arguments (try amp-node --help)");
  const std::string cmd = rest[0];
  std::vector<std::string> tail(rest.begin() + 1, rest.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    o.help_topic = tail.empty() ? "" : tail[0];
    if (!o.help_topic.empty() && o.help_topic != "serve" &&
        o.help_topic != "call" && o.help_topic != "gateway" &&
        o.help_topic != "inspect" && o.help_topic != "aliases" &&
        !is_alias(o.help_topic))
      throw cli_error("help: unknown topic '" + o.help_topic + "'");
    return o;
  }
  if (cmd == "serve" || cmd == "call" || cmd == "gateway" || cmd == "inspect" ||
      is_alias(cmd))
    return parse_command(cmd, tail);
  if (cmd.size() > 1 && cmd[0] == '-')
    throw cli_error("unknown option '" + cmd + "' (try amp-node --help)");
  if (!tail.empty())
    throw cli_error("unknown subcommand '" + cmd +
                    "' (expected serve, call, gateway, inspect, help or a "
                    "role file)");
  if (cmd.find(".toml") == std::string::npos &&
      cmd.find(".json") == std::string::npos &&
      cmd.find('/') == std::string::npos)
    throw cli_error("unknown subcommand '" + cmd +
                    "' (expected serve, call, gateway, inspect, help or a "
                    "role file)");
  o.cmd = command::run;
  o.role_file = cmd;
  return o;
}

std::string help(const std::string& topic) {
  if (topic == "serve")
    return k_serve;
  if (topic == "call")
    return k_call;
  if (topic == "gateway")
    return k_gateway;
  if (topic == "inspect")
    return k_inspect;
  if (topic == "aliases" || is_alias(topic))
    return k_aliases;
  return k_overview;
}

payload_limit max_message_limit(std::uint32_t max_message,
                                const std::string& source) {
  return {max_message, "client.max_message (" + std::to_string(max_message) +
                           ") in " + source};
}

std::vector<std::uint8_t> decode_payload(const std::string& spec,
                                         const payload_limit& limit) {
  std::vector<std::uint8_t> out;
  if (spec.rfind("hex:", 0) == 0)
    out = decode_hex(spec.substr(4));
  else if (spec.rfind("@", 0) == 0)
    return read_payload_file(spec.substr(1), limit);
  else
    out.assign(spec.begin(), spec.end());
  check_size(out.size(), limit);
  return out;
}

std::size_t max_line_length(std::uint32_t max_message) {
  return 2 * std::size_t{max_message} + 4096;
}

void line_splitter::feed(const char* data, std::size_t n) {
  while (n > 0) {
    const auto* nl = static_cast<const char*>(std::memchr(data, '\n', n));
    const std::size_t piece = nl ? static_cast<std::size_t>(nl - data) : n;
    if (skipping_) {
      // the rest of a line already reported
    } else if (piece > max_line_ - partial_.size()) {
      ready_.push_back({{}, true});
      partial_.clear();
      partial_.shrink_to_fit();
      skipping_ = true;
    } else
      partial_.append(data, piece);
    if (nl == nullptr)
      return;
    if (!skipping_)
      ready_.push_back({std::move(partial_), false});
    partial_.clear();
    skipping_ = false;
    data += piece + 1;
    n -= piece + 1;
  }
}

void line_splitter::finish() {
  if (!skipping_ && !partial_.empty())
    ready_.push_back({std::move(partial_), false});
  partial_.clear();
  skipping_ = false;
}

std::optional<line_splitter::line> line_splitter::next() {
  if (ready_.empty())
    return std::nullopt;
  line l = std::move(ready_.front());
  ready_.pop_front();
  return l;
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

std::string hvisor_result_lines(const std::vector<std::uint8_t>& data) {
  static const char* digits = "0123456789abcdef";
  const std::size_t n = data.size();
  const bool cut = n > 256;
  const std::size_t shown = cut ? 64 : n;
  const std::string tail =
      cut ? "... (showing first 64 of " + std::to_string(n) + " bytes)"
          : std::string{};
  std::string text = "Result: [";
  std::string hex = "Hex format: ";
  for (std::size_t i = 0; i < shown; ++i) {
    const std::uint8_t b = data[i];
    if (b >= 32 && b <= 126)
      text += static_cast<char>(b);
    else if (b == '\n')
      text += "\\n";
    else if (b == '\r')
      text += "\\r";
    else if (b == '\t')
      text += "\\t";
    else {
      text += "\\x";
      text += digits[b >> 4];
      text += digits[b & 15];
    }
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  return text + tail + "] (" + std::to_string(n) + " bytes)\n" + hex + tail +
         "\n";
}

std::string render_payload(const std::vector<std::uint8_t>& data) {
  for (auto b : data)
    if (!std::isprint(b) && b != '\n' && b != '\t')
      return "hex:" + to_hex(data);
  return {data.begin(), data.end()};
}

} // namespace hyperamp::apps
