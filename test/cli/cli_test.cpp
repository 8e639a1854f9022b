// apps/cli.hpp: parse() for every subcommand and alias (as subcommand and
// as program name), help, usage errors (cli_error: amp-node exits 2),
// decode_payload and its limits, line_splitter, render_payload, to_hex,
// parse_count.
#include <cstdio>
#include <cstdlib>
#include <doctest/doctest.h>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "apps/cli.hpp"

using namespace hyperamp::apps;

namespace {

using args = std::vector<std::string>;
using bytes = std::vector<std::uint8_t>;

options p(args a) {
  a.insert(a.begin(), "amp-node");
  return parse(a);
}

/// The message of the cli_error that parse throws for `a` ("" if none).
std::string error_of(args a, bool prepend_program = true) {
  if (prepend_program)
    a.insert(a.begin(), "amp-node");
  try {
    parse(a);
  } catch (const cli_error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

bytes b(const std::string& s) {
  return {s.begin(), s.end()};
}

/// A temporary file holding `text`, removed by the destructor.
struct temp_file {
  explicit temp_file(const std::string& text) {
    char tmpl[] = "/tmp/hyperamp-cli-test-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    std::ofstream f{path, std::ios::binary | std::ios::trunc};
    f << text;
  }
  ~temp_file() { std::remove(path.c_str()); }
  std::string path;
};

} // namespace

// -- subcommands --------------------------------------------------------------

TEST_CASE("parse: serve") {
  auto o = p({"serve", "s.toml"});
  CHECK(o.cmd == command::serve);
  CHECK(o.role_file == "s.toml");
  CHECK_FALSE(o.workers.has_value());
  CHECK(p({"serve", "s.toml", "--workers", "8"}).workers == 8u);
  CHECK(p({"serve", "--workers=8", "s.toml"}).workers == 8u);
  CHECK(p({"serve", "s.toml", "--workers", "256"}).workers == 256u);
}

TEST_CASE("parse: call") {
  auto o = p({"call", "c.toml", "hello", "1"});
  CHECK(o.cmd == command::call);
  CHECK(o.role_file == "c.toml");
  CHECK(o.data == "hello");
  CHECK(o.service_id == 1u);
  CHECK_FALSE(o.threads.has_value());
  CHECK_FALSE(o.requests.has_value());
  CHECK_FALSE(o.json);
  CHECK_FALSE(o.quiet);

  o = p({"call", "c.toml", "hex:00ff", "66", "--threads", "4", "--requests",
         "100", "--json", "--quiet"});
  CHECK(o.data == "hex:00ff");
  CHECK(o.service_id == 66u);
  CHECK(o.threads == 4u);
  CHECK(o.requests == 100u);
  CHECK(o.json);
  CHECK(o.quiet);

  // Flags anywhere, --name=value too.
  o = p({"call", "--json", "c.toml", "--threads=3", "@data.bin", "2"});
  CHECK(o.json);
  CHECK(o.threads == 3u);
  CHECK(o.data == "@data.bin");
  CHECK(o.service_id == 2u);
  CHECK(p({"call", "c.toml", "x", "4294967295"}).service_id == 4294967295u);
  CHECK(p({"call", "c.toml", "x", "0"}).service_id == 0u);
  // Data that looks like a short option is data.
  CHECK(p({"call", "c.toml", "-x", "66"}).data == "-x");
}

TEST_CASE("parse: a role file alone runs the zone it describes") {
  auto o = p({"config/client.toml"});
  CHECK(o.cmd == command::run);
  CHECK(o.role_file == "config/client.toml");
  CHECK(p({"client.toml"}).cmd == command::run);
  CHECK(p({"./role"}).role_file == "./role");
}

TEST_CASE("parse: hvisor-tool aliases as subcommands") {
  auto o = p({"hyper_amp_test", "c.toml", "hello", "1"});
  CHECK(o.cmd == command::call);
  CHECK(o.role_file == "c.toml");
  CHECK(o.data == "hello");
  CHECK(o.service_id == 1u);
  CHECK(o.threads == 1u);
  CHECK(o.requests == 1u);
  CHECK(p({"hyper_amp_test", "c.toml", "hello", "1", "--json"}).json);

  o = p({"hyper_amp_test_mt", "c.toml", "hello", "1", "4"});
  CHECK(o.cmd == command::call);
  CHECK(o.threads == 4u);
  CHECK(o.requests == 4u);
  o = p({"hyper_amp_test_mt", "c.toml", "stress_test", "1", "100"});
  CHECK(o.threads == 100u);
  CHECK(o.requests == 100u);
  o = p({"hyper_amp_test_mt", "c.toml", "hello", "2", "4", "1000"});
  CHECK(o.service_id == 2u);
  CHECK(o.threads == 4u);
  CHECK(o.requests == 1000u);

  o = p({"hyper_amp_service_test", "s.toml"});
  CHECK(o.cmd == command::serve);
  CHECK(o.role_file == "s.toml");
  CHECK_FALSE(o.workers.has_value());
  o = p({"hyper_amp_service_test_mt", "s.toml"});
  CHECK(o.cmd == command::serve);
  CHECK_FALSE(o.workers.has_value());
  o = p({"hyper_amp_service_test_mt", "s.toml", "4"});
  CHECK(o.cmd == command::serve);
  CHECK(o.workers == 4u);
}

TEST_CASE("parse: hvisor-tool aliases as program names") {
  auto o = parse({"/usr/local/bin/hyper_amp_test", "c.toml", "hello", "1"});
  CHECK(o.cmd == command::call);
  CHECK(o.threads == 1u);
  CHECK(o.requests == 1u);
  CHECK(o.data == "hello");
  o = parse({"hyper_amp_test_mt", "c.toml", "hello", "1", "4", "8"});
  CHECK(o.threads == 4u);
  CHECK(o.requests == 8u);
  o = parse({"./hyper_amp_service_test", "s.toml"});
  CHECK(o.cmd == command::serve);
  o = parse({"bin/hyper_amp_service_test_mt", "s.toml", "2"});
  CHECK(o.cmd == command::serve);
  CHECK(o.workers == 2u);
  // amp-node under any other name is amp-node.
  CHECK(parse({"/opt/amp-node", "serve", "s.toml"}).cmd == command::serve);
  CHECK(parse({"something", "serve", "s.toml"}).cmd == command::serve);
}

TEST_CASE("parse: hyper_amp and hyper_amp_service, and an shm_config.json") {
  auto o = p({"hyper_amp", "shm_config.json", "hex:164e2c2f12", "2"});
  CHECK(o.cmd == command::call);
  CHECK(o.role_file == "shm_config.json");
  CHECK(o.data == "hex:164e2c2f12");
  CHECK(o.service_id == 2u);
  CHECK(o.threads == 1u);
  CHECK(o.requests == 1u);
  CHECK(o.hvisor_output);
  CHECK(p({"hyper_amp_test", "c.json", "hello", "1"}).hvisor_output);
  CHECK_FALSE(
      p({"hyper_amp_test_mt", "c.json", "hello", "1", "2"}).hvisor_output);
  CHECK_FALSE(p({"call", "c.json", "hello", "1"}).hvisor_output);
  o = parse({"/usr/bin/hyper_amp_service", "shm_config.json"});
  CHECK(o.cmd == command::serve);
  CHECK(o.role_file == "shm_config.json");
  CHECK_THROWS_WITH_AS(p({"hyper_amp", "c.json", "hello"}),
                       "hyper_amp: missing arguments (see amp-node help "
                       "aliases)",
                       cli_error);
  CHECK_THROWS_WITH_AS(p({"hyper_amp_service", "c.json", "4"}),
                       "hyper_amp_service: unexpected argument '4'", cli_error);
  // A .json file alone is taken for a config (amp-node then says it needs
  // a side).
  o = p({"shm_config.json"});
  CHECK(o.cmd == command::run);
  CHECK(o.role_file == "shm_config.json");
}

TEST_CASE("hvisor_result_lines: hvisor-tool's Result and Hex format lines") {
  auto to_bytes = [](const std::string& s) {
    return bytes(s.begin(), s.end());
  };
  CHECK(hvisor_result_lines(to_bytes("hello")) ==
        "Result: [hello] (5 bytes)\nHex format: 68656c6c6f\n");
  CHECK(hvisor_result_lines({0x16, 0x4e, 0x2c, 0x2f, 0x12}) ==
        "Result: [\\x16N,/\\x12] (5 bytes)\nHex format: 164e2c2f12\n");
  CHECK(hvisor_result_lines(to_bytes("a\nb\rc\td\x7f ~")) ==
        "Result: [a\\nb\\rc\\td\\x7f ~] (10 bytes)\n"
        "Hex format: 610a620d630964"
        "7f207e\n");
  CHECK(hvisor_result_lines({}) == "Result: [] (0 bytes)\nHex format: \n");
  // Up to 256 bytes in full; beyond, the first 64 and a note.
  const std::string full(256, 'x');
  std::string hex256;
  for (int i = 0; i < 256; ++i)
    hex256 += "78";
  CHECK(hvisor_result_lines(to_bytes(full)) ==
        "Result: [" + full + "] (256 bytes)\nHex format: " + hex256 + "\n");
  const std::string big(300, 'y');
  std::string hex64;
  for (int i = 0; i < 64; ++i)
    hex64 += "79";
  CHECK(hvisor_result_lines(to_bytes(big)) ==
        "Result: [" + std::string(64, 'y') +
            "... (showing first 64 of 300 bytes)] (300 bytes)\n"
            "Hex format: " +
            hex64 + "... (showing first 64 of 300 bytes)\n");
}

// -- help ---------------------------------------------------------------------

TEST_CASE("parse: help per command") {
  struct help_case {
    args a;
    std::string topic;
  };
  const help_case cases[] = {
      {{"--help"}, ""},
      {{"-h"}, ""},
      {{"help"}, ""},
      {{"help", "serve"}, "serve"},
      {{"help", "call"}, "call"},
      {{"help", "aliases"}, "aliases"},
      {{"help", "hyper_amp_test_mt"}, "hyper_amp_test_mt"},
      {{"serve", "--help"}, "serve"},
      {{"serve", "s.toml", "-h"}, "serve"},
      {{"call", "--help"}, "call"},
      {{"call", "c.toml", "x", "1", "--help"}, "call"},
      {{"hyper_amp_test", "--help"}, "aliases"},
      {{"hyper_amp_test_mt", "-h"}, "aliases"},
      {{"hyper_amp_service_test", "--help"}, "aliases"},
      {{"hyper_amp_service_test_mt", "--help"}, "aliases"},
  };
  for (const auto& c : cases) {
    INFO("args " << c.a.size() << ": " << c.a[0]);
    auto o = p(c.a);
    CHECK(o.cmd == command::help);
    CHECK(o.help_topic == c.topic);
  }
  // An alias as program name with --help.
  auto o = parse({"hyper_amp_test_mt", "--help"});
  CHECK(o.cmd == command::help);
  CHECK(o.help_topic == "aliases");
  o = parse({"hyper_amp_service_test", "s.toml", "-h"});
  CHECK(o.help_topic == "aliases");
}

TEST_CASE("help texts") {
  CHECK(contains(help(""), "Usage:"));
  CHECK(contains(help(""), "amp-node serve <cfg> [--workers N]"));
  CHECK(contains(help(""), "Exit codes: 0 ok, 1 a request or the zone "
                           "failed,\n2 bad arguments or configuration."));
  CHECK(help("serve").rfind("amp-node serve <cfg>", 0) == 0);
  CHECK(help("call").rfind("amp-node call <cfg>", 0) == 0);
  CHECK(contains(help("call"), "-> 164e2c2f12"));
  CHECK(contains(help("aliases"), "hyper_amp_service_test_mt <cfg> [threads]"));
  CHECK(help("hyper_amp_test") == help("aliases"));
  CHECK(help("hyper_amp_service_test_mt") == help("aliases"));
}

// -- usage errors (exit code 2) -----------------------------------------------

TEST_CASE("parse errors: threads and workers counts") {
  // Not a number.
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "abc"}) ==
        "--threads: 'abc' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "4x"}) ==
        "--threads: '4x' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", ""}) ==
        "--threads: '' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads="}) ==
        "--threads: '' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "+4"}) ==
        "--threads: '+4' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", " 4"}) ==
        "--threads: ' 4' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "2.5"}) ==
        "--threads: '2.5' is not a number");
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "x", "1", "four"}) ==
        "threads: 'four' is not a number");
  CHECK(error_of({"hyper_amp_service_test_mt", "s.toml", "x"}) ==
        "threads: 'x' is not a number");
  // Zero and negative.
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "0"}) ==
        "--threads: 0 is out of range (1..4096)");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "-1"}) ==
        "--threads: '-1' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads=-4"}) ==
        "--threads: '-4' is not a number");
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "x", "1", "0"}) ==
        "threads: 0 is out of range (1..4096)");
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "x", "1", "-2"}) ==
        "threads: '-2' is not a number");
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "x", "1", "4", "0"}) ==
        "total: 0 is out of range (1..100000000)");
  CHECK(error_of({"hyper_amp_service_test_mt", "s.toml", "0"}) ==
        "threads: 0 is out of range (1..256)");
  CHECK(error_of({"hyper_amp_service_test_mt", "s.toml", "-1"}) ==
        "threads: '-1' is not a number");
  CHECK(error_of({"serve", "s.toml", "--workers", "0"}) ==
        "--workers: 0 is out of range (1..256)");
  CHECK(error_of({"serve", "s.toml", "--workers", "257"}) ==
        "--workers: 257 is out of range (1..256)");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "4097"}) ==
        "--threads: 4097 is out of range (1..4096)");
  CHECK(error_of({"call", "c.toml", "x", "1", "--requests", "0"}) ==
        "--requests: 0 is out of range (1..100000000)");
  // Overflow is not a number, not a wrapped value.
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads",
                  "18446744073709551616"}) ==
        "--threads: '18446744073709551616' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "4294967296"}) ==
        "service_id: 4294967296 is out of range (0..4294967295)");
  CHECK(error_of({"call", "c.toml", "x", "one"}) ==
        "service_id: 'one' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads"}) ==
        "call: --threads needs a value");
  // Program-name aliases check the same way.
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "x", "1", "0"}, false) ==
        "threads: 0 is out of range (1..4096)");
}

TEST_CASE("parse errors: unknown subcommand and unknown option") {
  CHECK(error_of({"frobnicate", "x"}) ==
        "unknown subcommand 'frobnicate' (expected serve, call, gateway, "
        "inspect, help or a role file)");
  CHECK(error_of({"frobnicate"}) ==
        "unknown subcommand 'frobnicate' (expected serve, call, gateway, "
        "inspect, help or a role file)");
  CHECK(error_of({"Serve", "s.toml"}).rfind("unknown subcommand 'Serve'", 0) ==
        0);
  CHECK(error_of({"--bogus"}) == "unknown option '--bogus' (try amp-node "
                                 "--help)");
  CHECK(error_of({"-x"}) == "unknown option '-x' (try amp-node --help)");
  CHECK(error_of({"help", "nope"}) == "help: unknown topic 'nope'");
  CHECK(error_of({"call", "c.toml", "x", "1", "--bogus"}) ==
        "call: unknown option '--bogus'");
  CHECK(error_of({"call", "c.toml", "x", "1", "--workers", "2"}) ==
        "call: unknown option '--workers'");
  CHECK(error_of({"call", "c.toml", "x", "1", "--json=yes"}) ==
        "call: unknown option '--json=yes'");
  CHECK(error_of({"serve", "s.toml", "--json"}) ==
        "serve: unknown option '--json'");
  CHECK(error_of({"serve", "s.toml", "--threads", "2"}) ==
        "serve: unknown option '--threads'");
  // The call flags of the client aliases, under the name call.
  CHECK(error_of({"hyper_amp_test", "c.toml", "x", "1", "--workers", "2"}) ==
        "call: unknown option '--workers'");
  CHECK(error_of({"hyper_amp_service_test", "s.toml", "--json"}) ==
        "hyper_amp_service_test: unknown option '--json'");
}

TEST_CASE("parse errors: an option given twice") {
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "2", "--threads",
                  "3"}) == "call: --threads given twice");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads=2", "--threads=2"}) ==
        "call: --threads given twice");
  CHECK(error_of({"call", "--requests", "5", "c.toml", "x", "1", "--requests",
                  "6"}) == "call: --requests given twice");
  CHECK(error_of({"serve", "s.toml", "--workers", "2", "--workers", "4"}) ==
        "serve: --workers given twice");
  CHECK(error_of({"call", "c.toml", "x", "1", "--json", "--json"}) ==
        "call: --json given twice");
  CHECK(error_of({"call", "--quiet", "c.toml", "x", "1", "--quiet"}) ==
        "call: --quiet given twice");
  CHECK(error_of({"hyper_amp_test", "c.toml", "x", "1", "--json", "--json"}) ==
        "call: --json given twice");
  // Different options are fine.
  auto o = p({"call", "c.toml", "x", "1", "--threads", "2", "--requests", "3",
              "--json", "--quiet"});
  CHECK(o.threads == 2u);
  CHECK(o.requests == 3u);
  // The first problem in the order given is the one reported.
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "abc", "--threads",
                  "3"}) == "--threads: 'abc' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "2", "--threads",
                  "abc"}) == "call: --threads given twice");
}

TEST_CASE("parse errors: options that contradict an alias") {
  const std::string plain = " contradicts the alias: it makes 1 request from "
                            "1 thread (amp-node call takes --threads and "
                            "--requests)";
  const std::string mt = " contradicts the alias: its arguments <threads> "
                         "[total] set threads and requests (amp-node call "
                         "takes --threads and --requests)";
  CHECK(error_of({"hyper_amp_test", "c.toml", "x", "1", "--threads", "3"}) ==
        "hyper_amp_test: --threads" + plain);
  CHECK(error_of({"hyper_amp_test", "c.toml", "x", "1", "--requests=1"}) ==
        "hyper_amp_test: --requests" + plain);
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "x", "1", "4", "--threads",
                  "3"}) == "hyper_amp_test_mt: --threads" + mt);
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "x", "1", "4", "8",
                  "--requests", "8"}) == "hyper_amp_test_mt: --requests" + mt);
  // As program names too.
  CHECK(error_of({"hyper_amp_test", "c.toml", "x", "1", "--threads", "1"},
                 false) == "hyper_amp_test: --threads" + plain);
  CHECK(error_of(
            {"/bin/hyper_amp_test_mt", "c.toml", "x", "1", "4", "--threads=4"},
            false) == "hyper_amp_test_mt: --threads" + mt);
  // What does not contradict them still works.
  auto o =
      p({"hyper_amp_test_mt", "c.toml", "x", "1", "4", "--json", "--quiet"});
  CHECK(o.threads == 4u);
  CHECK(o.json);
  CHECK(o.quiet);
  // The service aliases never took options.
  CHECK(error_of({"hyper_amp_service_test_mt", "s.toml", "4", "--workers",
                  "2"}) == "hyper_amp_service_test_mt: unknown option "
                           "'--workers'");
}

TEST_CASE("parse errors: missing and extra arguments") {
  CHECK(error_of({}) == "missing arguments (try amp-node --help)");
  CHECK(error_of({}, false) == "missing arguments (try amp-node --help)");
  CHECK(error_of({"serve"}) ==
        "serve: missing arguments (see amp-node help serve)");
  CHECK(error_of({"serve", "--workers", "2"}) ==
        "serve: missing arguments (see amp-node help serve)");
  CHECK(error_of({"call"}) == "call: missing arguments (see amp-node help "
                              "call)");
  CHECK(error_of({"call", "c.toml", "hello"}) ==
        "call: missing arguments (see amp-node help call)");
  CHECK(error_of({"hyper_amp_test", "c.toml", "hello"}) ==
        "hyper_amp_test: missing arguments (see amp-node help aliases)");
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "hello", "1"}) ==
        "hyper_amp_test_mt: missing arguments (see amp-node help aliases)");
  CHECK(error_of({"hyper_amp_service_test"}) ==
        "hyper_amp_service_test: missing arguments (see amp-node help "
        "aliases)");
  CHECK(error_of({"hyper_amp_test"}, false) ==
        "hyper_amp_test: missing arguments (see amp-node help aliases)");
  CHECK(error_of({"serve", "s.toml", "extra"}) ==
        "serve: unexpected argument 'extra'");
  CHECK(error_of({"call", "c.toml", "x", "1", "2"}) ==
        "call: unexpected argument '2'");
  CHECK(error_of({"hyper_amp_test_mt", "c.toml", "x", "1", "2", "3", "4"}) ==
        "hyper_amp_test_mt: unexpected argument '4'");
  CHECK(error_of({"hyper_amp_service_test", "s.toml", "4"}) ==
        "hyper_amp_service_test: unexpected argument '4'");
  CHECK(error_of({"hyper_amp_service_test_mt", "s.toml", "4", "5"}) ==
        "hyper_amp_service_test_mt: unexpected argument '5'");
}

TEST_CASE("parse: words CLI11 would read differently keep their meaning") {
  // One dash: data, not short options; "--" is data too.
  CHECK(p({"call", "c.toml", "-hx", "1"}).data == "-hx");
  CHECK(p({"call", "c.toml", "--", "1"}).data == "--");
  CHECK(p({"call", "c.toml", "-", "1"}).data == "-");
  CHECK(p({"call", "c.toml", "\x1f-x", "1"}).data == "\x1f-x");
  CHECK(error_of({"call", "c.toml", "x", "1", "-j"}) ==
        "call: unexpected argument '-j'");
  // A flag takes no value, not even an empty or a true one.
  CHECK(error_of({"call", "c.toml", "x", "1", "--json="}) ==
        "call: unknown option '--json='");
  CHECK(error_of({"call", "c.toml", "x", "1", "--quiet=true"}) ==
        "call: unknown option '--quiet=true'");
  CHECK(error_of({"call", "c.toml", "x", "1", "--help=1"}) ==
        "call: unknown option '--help=1'");
  // "--name=" is the empty value, not "take the next word".
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads=", "5"}) ==
        "--threads: '' is not a number");
  CHECK(error_of({"serve", "s.toml", "--workers="}) ==
        "--workers: '' is not a number");
  // "--" words CLI11 would not take for options are unknown options.
  CHECK(error_of({"call", "c.toml", "x", "1", "---x"}) ==
        "call: unknown option '---x'");
  CHECK(error_of({"call", "c.toml", "x", "1", "--\x1fq"}) ==
        "call: unknown option '--\x1fq'");
  CHECK(error_of({"call", "c.toml", "x", "1", "--bogus=3"}) ==
        "call: unknown option '--bogus=3'");
  // Option names are exact: no prefixes, no other case.
  CHECK(error_of({"call", "c.toml", "x", "1", "--thread", "3"}) ==
        "call: unknown option '--thread'");
  CHECK(error_of({"call", "c.toml", "x", "1", "--Threads", "3"}) ==
        "call: unknown option '--Threads'");
  // An option's value is the next word, whatever it looks like...
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "--json"}) ==
        "--threads: '--json' is not a number");
  CHECK(error_of({"call", "c.toml", "x", "1", "--threads", "-x"}) ==
        "--threads: '-x' is not a number");
  // ... but -h and --help ask for help anywhere.
  CHECK(p({"call", "c.toml", "x", "1", "--threads", "-h"}).help_topic ==
        "call");
  CHECK(p({"call", "--help", "--threads"}).help_topic == "call");
  CHECK(p({"serve", "--workers", "--help"}).cmd == command::help);
  // Command names after the command are data.
  CHECK(p({"call", "c.toml", "serve", "1"}).data == "serve");
  CHECK(p({"call", "c.toml", "help", "1"}).data == "help");
  CHECK(p({"call", "c.toml", "[a,b]", "1"}).data == "[a,b]");
  CHECK(p({"call", "c.toml", "", "1"}).data == "");
}

// -- payloads -----------------------------------------------------------------

TEST_CASE("decode_payload: literal and hex") {
  CHECK(decode_payload("hello") == b("hello"));
  CHECK(decode_payload("") == bytes{});
  CHECK(decode_payload("hex:") == bytes{});
  CHECK(decode_payload("hex:164e2c2f12") ==
        bytes{0x16, 0x4e, 0x2c, 0x2f, 0x12});
  CHECK(decode_payload("hex:00FFaB") == bytes{0x00, 0xff, 0xab});
  // Only the prefix "hex:" makes it hex.
  CHECK(decode_payload("HEX:00") == b("HEX:00"));
  CHECK(decode_payload("xhex:00") == b("xhex:00"));
}

TEST_CASE("decode_payload: odd hex and bad hex characters are usage errors") {
  CHECK_THROWS_WITH_AS(decode_payload("hex:abc"),
                       "hex payload has an odd number of digits", cli_error);
  CHECK_THROWS_WITH_AS(decode_payload("hex:0"),
                       "hex payload has an odd number of digits", cli_error);
  CHECK_THROWS_WITH_AS(decode_payload("hex:zz"),
                       "hex payload has a non-hex character near 'zz'",
                       cli_error);
  CHECK_THROWS_WITH_AS(decode_payload("hex:00g1"),
                       "hex payload has a non-hex character near 'g1'",
                       cli_error);
  CHECK_THROWS_WITH_AS(decode_payload("hex:0x12"),
                       "hex payload has a non-hex character near '0x'",
                       cli_error);
  CHECK_THROWS_AS(decode_payload("hex:12 34"), cli_error);
  CHECK_THROWS_AS(decode_payload("hex:-1"), cli_error);
}

TEST_CASE("decode_payload: @file") {
  SUBCASE("raw bytes, every value, newlines kept") {
    std::string all;
    for (int i = 0; i < 256; ++i)
      all += static_cast<char>(i);
    all += "\n";
    temp_file f{all};
    CHECK(decode_payload("@" + f.path) == b(all));
  }
  SUBCASE("hex content, one trailing newline stripped") {
    temp_file f{"hex:68656c6c6f\n"};
    CHECK(decode_payload("@" + f.path) == b("hello"));
    temp_file g{"hex:68656c6c6f"};
    CHECK(decode_payload("@" + g.path) == b("hello"));
    temp_file h{"hex:68656c6c6f\n\n"};
    CHECK_THROWS_AS(decode_payload("@" + h.path), cli_error);
    temp_file odd{"hex:686\n"};
    CHECK_THROWS_WITH_AS(decode_payload("@" + odd.path),
                         "hex payload has an odd number of digits", cli_error);
  }
  SUBCASE("empty file") {
    temp_file f{""};
    CHECK(decode_payload("@" + f.path) == bytes{});
  }
  SUBCASE("missing file") {
    const std::string path = "/nonexistent-hyperamp-dir/missing.bin";
    const std::string why =
        "cannot read " + path + ": No such file or directory";
    CHECK_THROWS_WITH_AS(decode_payload("@" + path), why.c_str(), cli_error);
    CHECK_THROWS_AS(decode_payload("@"), cli_error);
  }
}

TEST_CASE("decode_payload: @file must be a regular file") {
  SUBCASE("a directory is an error naming it, not an empty payload") {
    char tmpl[] = "/tmp/hyperamp-cli-test-dir-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    const std::string why = "cannot read " + dir + ": is a directory";
    CHECK_THROWS_WITH_AS(decode_payload("@" + dir), why.c_str(), cli_error);
    CHECK_THROWS_WITH_AS(decode_payload("@" + dir + "/"),
                         ("cannot read " + dir + "/: is a directory").c_str(),
                         cli_error);
    ::rmdir(tmpl);
  }
  SUBCASE("a device is refused, not read until memory runs out") {
    CHECK_THROWS_WITH_AS(
        decode_payload("@/dev/zero"),
        "cannot read /dev/zero: a character device, not a regular file",
        cli_error);
    CHECK_THROWS_WITH_AS(
        decode_payload("@/dev/null"),
        "cannot read /dev/null: a character device, not a regular file",
        cli_error);
  }
  SUBCASE("a FIFO without a writer is refused at once, not waited for") {
    temp_file f{""};
    std::remove(f.path.c_str());
    REQUIRE(::mkfifo(f.path.c_str(), 0600) == 0);
    const std::string why =
        "cannot read " + f.path + ": a FIFO, not a regular file";
    CHECK_THROWS_WITH_AS(decode_payload("@" + f.path), why.c_str(), cli_error);
  }
}

TEST_CASE("decode_payload: at most limit.bytes, hex measured decoded") {
  const payload_limit ten{10, "the limit L"};
  SUBCASE("literal") {
    CHECK(decode_payload(std::string(10, 'x'), ten) == b(std::string(10, 'x')));
    CHECK_THROWS_WITH_AS(decode_payload(std::string(11, 'x'), ten),
                         "payload of 11 bytes exceeds the limit L", cli_error);
    CHECK(decode_payload("", payload_limit{0, "zero"}) == bytes{});
  }
  SUBCASE("hex: 20 digits are 10 bytes") {
    CHECK(decode_payload("hex:" + std::string(20, 'a'), ten).size() == 10u);
    CHECK_THROWS_WITH_AS(decode_payload("hex:" + std::string(22, 'a'), ten),
                         "payload of 11 bytes exceeds the limit L", cli_error);
  }
  SUBCASE("raw file") {
    temp_file fits{std::string(10, 'y')};
    CHECK(decode_payload("@" + fits.path, ten) == b(std::string(10, 'y')));
    temp_file over{std::string(11, 'y')};
    CHECK_THROWS_WITH_AS(decode_payload("@" + over.path, ten),
                         "payload of 11 bytes exceeds the limit L", cli_error);
  }
  SUBCASE("hex file, with and without its newline") {
    temp_file fits{"hex:" + std::string(20, 'b') + "\n"};
    CHECK(decode_payload("@" + fits.path, ten).size() == 10u);
    temp_file fits_bare{"hex:" + std::string(20, 'b')};
    CHECK(decode_payload("@" + fits_bare.path, ten).size() == 10u);
    temp_file over{"hex:" + std::string(22, 'b') + "\n"};
    CHECK_THROWS_WITH_AS(decode_payload("@" + over.path, ten),
                         "payload of 11 bytes exceeds the limit L", cli_error);
  }
  SUBCASE("a large file is refused by its size") {
    temp_file big{std::string(1 << 20, 'z')};
    CHECK_THROWS_WITH_AS(decode_payload("@" + big.path, ten),
                         "payload of 1048576 bytes exceeds the limit L",
                         cli_error);
    temp_file big_hex{"hex:" + std::string(1 << 20, '0')};
    CHECK_THROWS_WITH_AS(decode_payload("@" + big_hex.path, ten),
                         "payload of 524288 bytes exceeds the limit L",
                         cli_error);
  }
  SUBCASE("the default limit and amp-node's") {
    CHECK(payload_limit{}.bytes == 1073741824u);
    CHECK(payload_limit{}.name == "the payload limit (1073741824 bytes)");
    const auto l = max_message_limit(256, "c.toml");
    CHECK(l.bytes == 256u);
    CHECK_THROWS_WITH_AS(decode_payload(std::string(257, 'x'), l),
                         "payload of 257 bytes exceeds client.max_message "
                         "(256) in c.toml",
                         cli_error);
  }
}

namespace {

/// Everything `split` has cut so far: "text" per line, "!" per too-long.
std::vector<std::string> drain(line_splitter& split) {
  std::vector<std::string> out;
  while (auto l = split.next())
    out.push_back(l->too_long ? "!" : l->text);
  return out;
}

using lines = std::vector<std::string>;

} // namespace

TEST_CASE("max_line_length: a max_message payload as hex fits") {
  CHECK(max_line_length(256) == 2u * 256u + 4096u);
  CHECK(max_line_length(1) == 4098u);
  // The largest max_message a role file may set does not overflow.
  CHECK(max_line_length(1u << 30) == (std::size_t{1} << 31) + 4096u);
  const std::string line = "4294967295 hex:" + std::string(2 * 256, 'a');
  CHECK(line.size() <= max_line_length(256));
}

TEST_CASE("line_splitter: lines, and a last one without a newline") {
  line_splitter split{100};
  const std::string in = "66 a\n\n1 hex:00\n2 b";
  split.feed(in.data(), in.size());
  CHECK(drain(split) == lines{"66 a", "", "1 hex:00"});
  split.finish();
  CHECK(drain(split) == lines{"2 b"});
  split.finish(); // nothing more
  CHECK(drain(split).empty());
}

TEST_CASE("line_splitter: lines fed a byte at a time") {
  line_splitter split{100};
  lines got;
  for (char c : std::string{"12 abc\n3 d\n"}) {
    split.feed(&c, 1);
    const auto out = drain(split);
    CHECK(out.size() == (c == '\n' ? 1u : 0u)); // a line at its newline
    got.insert(got.end(), out.begin(), out.end());
  }
  CHECK(got == lines{"12 abc", "3 d"});
}

TEST_CASE("line_splitter: max_line bytes is a line, one more is too long") {
  line_splitter split{8};
  const std::string in =
      std::string(8, 'a') + "\n" + std::string(9, 'b') + "\n" + "after\n";
  split.feed(in.data(), in.size());
  CHECK(drain(split) == lines{std::string(8, 'a'), "!", "after"});
}

TEST_CASE("line_splitter: a too long line is reported once, at once, and "
          "skipped up to its newline") {
  line_splitter split{10};
  const std::string chunk(7, 'x');
  split.feed(chunk.data(), chunk.size());
  CHECK(drain(split).empty()); // 7 bytes: may still be a line
  split.feed(chunk.data(), chunk.size());
  CHECK(drain(split) == lines{"!"}); // 14: known too long, no newline yet
  // Megabytes more of the same line: nothing is held, nothing comes out.
  const std::string more(1 << 20, 'y');
  for (int i = 0; i < 8; ++i)
    split.feed(more.data(), more.size());
  CHECK(drain(split).empty());
  const std::string rest = "zz\n66 next\n";
  split.feed(rest.data(), rest.size());
  CHECK(drain(split) == lines{"66 next"});
}

TEST_CASE("line_splitter: a too long last line without a newline") {
  line_splitter split{4};
  const std::string in = "1 ok\n123456";
  split.feed(in.data(), in.size());
  split.finish();
  CHECK(drain(split) == lines{"1 ok", "!"});
  // The splitter starts over after finish().
  const std::string again = "2 x\n";
  split.feed(again.data(), again.size());
  CHECK(drain(split) == lines{"2 x"});
}

TEST_CASE("render_payload and to_hex") {
  CHECK(render_payload(b("hello")) == "hello");
  CHECK(render_payload(b("two words\tand\nlines")) == "two words\tand\nlines");
  CHECK(render_payload({}) == "");
  CHECK(render_payload({0x16, 0x4e, 0x2c, 0x2f, 0x12}) == "hex:164e2c2f12");
  CHECK(render_payload(b(std::string{"a\0b", 3})) == "hex:610062");
  CHECK(render_payload({'a', 0x7f}) == "hex:617f");
  CHECK(render_payload({'a', 0x80}) == "hex:6180");
  CHECK(render_payload({0xff}) == "hex:ff");
  CHECK(render_payload(b("a\rb")) == "hex:610d62");
  CHECK(to_hex({}) == "");
  CHECK(to_hex({0x00, 0x0f, 0xf0, 0xff}) == "000ff0ff");
  // to_hex and decode_payload("hex:...") are inverses.
  bytes all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<std::uint8_t>(i));
  CHECK(decode_payload("hex:" + to_hex(all)) == all);
}

TEST_CASE("parse_count") {
  CHECK(parse_count("7", "n", 1, 10) == 7u);
  CHECK(parse_count("007", "n", 1, 10) == 7u);
  CHECK(parse_count("0", "n", 0, 10) == 0u);
  CHECK(parse_count("4294967295", "n", 0, 4294967295u) == 4294967295u);
  CHECK_THROWS_WITH_AS(parse_count("11", "n", 1, 10),
                       "n: 11 is out of range (1..10)", cli_error);
  CHECK_THROWS_WITH_AS(parse_count("7 ", "n", 1, 10), "n: '7 ' is not a number",
                       cli_error);
  CHECK_THROWS_WITH_AS(parse_count("0x7", "n", 1, 10),
                       "n: '0x7' is not a number", cli_error);
  CHECK_THROWS_WITH_AS(parse_count("", "n", 1, 10), "n: '' is not a number",
                       cli_error);
}

TEST_CASE("json_escape") {
  CHECK(json_escape("plain text") == "plain text");
  CHECK(json_escape("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(json_escape(std::string("x\ny\0z", 5)) == "x\\u000ay\\u0000z");
  CHECK(json_escape("\xc3\xa9") == "\xc3\xa9"); // UTF-8 passes unchanged
}

// -- gateway and call --remote
// -------------------------------------------------

TEST_CASE("gateway: a role file, --port and --bind") {
  auto o = p({"gateway", "c.toml"});
  CHECK(o.cmd == command::gateway);
  CHECK(o.role_file == "c.toml");
  CHECK_FALSE(o.port.has_value());
  CHECK_FALSE(o.bind.has_value());
  o = p({"gateway", "c.toml", "--port", "0", "--bind", "0.0.0.0"});
  CHECK(o.port == 0u);
  CHECK(o.bind == std::string{"0.0.0.0"});
  o = p({"gateway", "--port=4242", "c.toml"});
  CHECK(o.port == 4242u);
  CHECK(error_of({"gateway"}) ==
        "gateway: missing arguments (see amp-node help gateway)");
  CHECK(error_of({"gateway", "c.toml", "--port", "65536"}) ==
        "--port: 65536 is out of range (0..65535)");
  CHECK(error_of({"gateway", "c.toml", "--bind="}) ==
        "gateway: --bind needs a value");
  CHECK(error_of({"gateway", "c.toml", "--remote", "h:1"}) ==
        "gateway: unknown option '--remote'");
  CHECK(error_of({"gateway", "c.toml", "x"}) ==
        "gateway: unexpected argument 'x'");
  CHECK(p({"gateway", "--help"}).help_topic == "gateway");
}

TEST_CASE("call --remote: no role file, the gateway's address") {
  auto o = p({"call", "--remote", "127.0.0.1:4242", "hello", "1"});
  CHECK(o.cmd == command::call);
  CHECK(o.role_file.empty());
  CHECK(o.remote == "127.0.0.1:4242");
  CHECK(o.data == "hello");
  CHECK(o.service_id == 1u);
  o = p({"call", "hex:00", "66", "--remote=h:1", "--threads", "8", "--requests",
         "1000", "--json"});
  CHECK(o.remote == "h:1");
  CHECK(o.data == "hex:00");
  CHECK(o.service_id == 66u);
  CHECK(o.threads == 8u);
  CHECK(o.requests == 1000u);
  CHECK(o.json);
  o = p({"call", "--remote", "h:1", "x", "1", "--tls-ca", "ca.pem",
         "--tls-cert", "me.pem", "--tls-key", "me.key"});
  CHECK(o.tls_ca == "ca.pem");
  CHECK(o.tls_cert == "me.pem");
  CHECK(o.tls_key == "me.key");
  CHECK(error_of({"call", "--remote", "h:1", "x"}) ==
        "call: missing arguments (see amp-node help call)");
  CHECK(error_of({"call", "--remote", "h:1", "c.toml", "x", "1"}) ==
        "call: unexpected argument '1'");
  CHECK(error_of({"call", "--remote", "nohost", "x", "1"}) ==
        "--remote: 'nohost' is not HOST:PORT");
  CHECK(error_of({"call", "--remote", "h:0", "x", "1"}) ==
        "--remote port: 0 is out of range (1..65535)");
  CHECK(error_of({"call", "--remote", "::1:80", "x", "1"}) ==
        "--remote: '::1:80' is not HOST:PORT (write an IPv6 address as "
        "[ADDR])");
  CHECK(error_of({"call", "--remote", "h:1", "x", "1", "--tls-ca", "a"}) ==
        "call: --tls-ca, --tls-cert and --tls-key go together (CAF's TLS is "
        "mutual: the caller shows a certificate too)");
  CHECK(error_of({"call", "c.toml", "x", "1", "--tls-ca", "a"}) ==
        "call: --tls-ca, --tls-cert and --tls-key go with --remote");
  CHECK(error_of({"call", "--remote=", "x", "1"}) ==
        "call: --remote needs a value");
  CHECK(error_of({"hyper_amp_test", "--remote", "h:1", "x", "1"}) ==
        "call: unknown option '--remote'");
}

TEST_CASE("parse_host_port") {
  auto hp = parse_host_port("10.0.0.2:4242");
  CHECK(hp.host == "10.0.0.2");
  CHECK(hp.port == 4242);
  hp = parse_host_port("[::1]:7");
  CHECK(hp.host == "::1");
  CHECK(hp.port == 7);
  CHECK_THROWS_AS(parse_host_port(":1"), cli_error);
  CHECK_THROWS_AS(parse_host_port("h:"), cli_error);
  CHECK_THROWS_AS(parse_host_port("h:x"), cli_error);
}

TEST_CASE("help gateway and the overview mention the remote commands") {
  CHECK(help("gateway").rfind("amp-node gateway <client-role.toml>", 0) == 0);
  CHECK(contains(help("gateway"), "tls_certificate, tls_key and tls_ca"));
  CHECK(contains(help(""), "amp-node gateway <client-role.toml> [--port P]"));
  CHECK(contains(help(""), "amp-node call --remote HOST:PORT"));
  CHECK(contains(help("call"), "--remote HOST:PORT calls through the gateway"));
  CHECK(p({"help", "gateway"}).help_topic == "gateway");
}
