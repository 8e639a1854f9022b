// amp-node as a process with bad arguments, payloads and role files: exit
// code 2 and one line on stderr saying what is wrong (file:line: key:
// problem for role files). None of these needs a running service but the
// last, where the stdin client answers bad lines with error lines.
#include <csignal>
#include <doctest/doctest.h>
#include <fstream>
#include <sys/stat.h>

#include "harness.hpp"

using namespace it;

namespace {

/// Runs amp-node with `args`; checks exit code `rc`, that stderr contains
/// `needle` and (for rc 2) that stdout is empty.
void expect_exit(std::vector<std::string> args, int rc,
                 const std::string& needle) {
  auto c = child::amp(std::move(args));
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK_MESSAGE(c->exit_code() == rc, c->describe());
  CHECK_MESSAGE(c->err().find(needle) != std::string::npos,
                "expected on stderr: " << needle << "\n"
                                       << c->describe());
  if (rc == 2) {
    CHECK_MESSAGE(c->out().empty(), c->describe());
    CHECK_MESSAGE(c->err().rfind("amp-node: ", 0) == 0, c->describe());
  }
}

} // namespace

TEST_CASE("cli process: help exits 0 with the usage on stdout") {
  struct help_case {
    std::vector<std::string> args;
    const char* needle;
  };
  const help_case cases[] = {
      {{"--help"}, "Usage:\n  amp-node <role.toml>"},
      {{"-h"}, "Usage:"},
      {{"help"}, "Usage:"},
      {{"help", "serve"}, "amp-node serve <role.toml> [--workers N]"},
      {{"serve", "--help"}, "amp-node serve <role.toml> [--workers N]"},
      {{"call", "-h"}, "amp-node call <role.toml> <data|@file|hex:HEX>"},
      {{"help", "aliases"}, "Aliases kept for scripts written for hvisor-tool"},
      {{"hyper_amp_test_mt", "--help"}, "Aliases kept for scripts"},
  };
  for (const auto& h : cases) {
    auto c = child::amp(h.args);
    REQUIRE_MESSAGE(c->wait(60s), c->describe());
    CHECK_MESSAGE(c->exit_code() == 0, c->describe());
    CHECK_MESSAGE(c->out().find(h.needle) != std::string::npos, c->describe());
    CHECK(c->err().empty());
  }
  // An alias as program name.
  auto c = child::alias("hyper_amp_service_test_mt", {"--help"});
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK(c->exit_code() == 0);
  CHECK(c->out().find("hyper_amp_service_test_mt <cfg> [threads]") !=
        std::string::npos);
}

TEST_CASE("cli process: bad arguments exit 2 with a message") {
  zone_env env;
  const std::string client = env.client_toml();
  const std::string service = env.service_toml();
  expect_exit({}, 2, "amp-node: missing arguments (try amp-node --help)");
  expect_exit({"frobnicate", "x"}, 2, "unknown subcommand 'frobnicate'");
  expect_exit({"frobnicate"}, 2, "unknown subcommand 'frobnicate'");
  expect_exit({"--bogus"}, 2, "unknown option '--bogus'");
  expect_exit({"help", "nope"}, 2, "help: unknown topic 'nope'");
  expect_exit({"serve"}, 2, "serve: missing arguments");
  expect_exit({"serve", service, "extra"}, 2,
              "serve: unexpected argument 'extra'");
  expect_exit({"serve", service, "--workers", "0"}, 2,
              "--workers: 0 is out of range (1..256)");
  expect_exit({"serve", service, "--json"}, 2,
              "serve: unknown option '--json'");
  expect_exit({"call", client, "hello"}, 2, "call: missing arguments");
  expect_exit({"call", client, "hello", "1", "--threads", "abc"}, 2,
              "--threads: 'abc' is not a number");
  expect_exit({"call", client, "hello", "1", "--threads", "0"}, 2,
              "--threads: 0 is out of range (1..4096)");
  expect_exit({"call", client, "hello", "1", "--threads", "-4"}, 2,
              "--threads: '-4' is not a number");
  expect_exit({"call", client, "hello", "1", "--threads"}, 2,
              "call: --threads needs a value");
  expect_exit({"call", client, "hello", "1", "--requests", "0"}, 2,
              "--requests: 0 is out of range");
  expect_exit({"call", client, "hello", "1", "--workers", "2"}, 2,
              "call: unknown option '--workers'");
  expect_exit({"call", client, "hello", "x1"}, 2,
              "service_id: 'x1' is not a number");
  expect_exit({"hyper_amp_test_mt", client, "hello", "1", "0"}, 2,
              "threads: 0 is out of range");
  expect_exit({"hyper_amp_test_mt", client, "hello", "1", "-3"}, 2,
              "threads: '-3' is not a number");
  expect_exit({"hyper_amp_service_test_mt", service, "many"}, 2,
              "threads: 'many' is not a number");
}

TEST_CASE("cli process: an option given twice exits 2, not the last wins") {
  zone_env env;
  expect_exit({"call", env.client_toml(), "hello", "1", "--threads", "2",
               "--threads", "3"},
              2, "amp-node: call: --threads given twice");
  expect_exit({"serve", env.service_toml(), "--workers=2", "--workers=4"}, 2,
              "amp-node: serve: --workers given twice");
}

TEST_CASE("cli process: the client aliases refuse --threads and --requests") {
  zone_env env;
  const std::string client = env.client_toml();
  expect_exit({"hyper_amp_test", client, "hello", "1", "--threads", "3"}, 2,
              "amp-node: hyper_amp_test: --threads contradicts the alias");
  expect_exit(
      {"hyper_amp_test_mt", client, "hello", "1", "4", "--requests", "9"}, 2,
      "amp-node: hyper_amp_test_mt: --requests contradicts the alias");
  auto c =
      child::alias("hyper_amp_test", {client, "hello", "1", "--threads", "3"});
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK_MESSAGE(c->exit_code() == 2, c->describe());
  CHECK_MESSAGE(c->err().find("hyper_amp_test: --threads contradicts the "
                              "alias") != std::string::npos,
                c->describe());
  CHECK(c->out().empty());
}

TEST_CASE("cli process: bad payloads exit 2 before any service is needed") {
  zone_env env;
  const std::string client = env.client_toml();
  expect_exit({"call", client, "hex:abc", "1"}, 2,
              "call: hex payload has an odd number of digits");
  expect_exit({"call", client, "hex:zz", "1"}, 2,
              "call: hex payload has a non-hex character near 'zz'");
  expect_exit({"call", client, "@" + env.dir() + "/missing.bin", "1"}, 2,
              "call: cannot read " + env.dir() +
                  "/missing.bin: No such file or directory");
  expect_exit(
      {"call", client, std::string(257, 'x'), "66"}, 2,
      "call: payload of 257 bytes exceeds client.max_message (256) in " +
          client);
}

TEST_CASE("cli process: payload files are regular files within "
          "client.max_message") {
  zone_env env; // client.max_message = 256
  const std::string client = env.client_toml();
  // A directory is not an empty payload.
  expect_exit({"call", client, "@" + env.dir(), "66"}, 2,
              "call: cannot read " + env.dir() + ": is a directory");
  // A device is not read until memory runs out.
  expect_exit({"call", client, "@/dev/zero", "66"}, 2,
              "call: cannot read /dev/zero: a character device, not a "
              "regular file");
  // A FIFO nobody writes to is not waited for (the deadline would fail).
  const std::string fifo = env.dir() + "/payload.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  expect_exit({"call", client, "@" + fifo, "66"}, 2,
              "call: cannot read " + fifo + ": a FIFO, not a regular file");
  // Too large: named by client.max_message, hex measured decoded.
  const auto big = env.write("big.bin", std::string(300, 'x'));
  expect_exit(
      {"call", client, "@" + big, "66"}, 2,
      "call: payload of 300 bytes exceeds client.max_message (256) in " +
          client);
  const auto big_hex = env.write("big.hex", "hex:" + std::string(514, 'a'));
  expect_exit(
      {"call", client, "@" + big_hex, "66"}, 2,
      "call: payload of 257 bytes exceeds client.max_message (256) in " +
          client);
  expect_exit(
      {"call", client, "hex:" + std::string(514, '0'), "66"}, 2,
      "call: payload of 257 bytes exceeds client.max_message (256) in " +
          client);
}

TEST_CASE("cli process: bad role files exit 2 naming file and line and key") {
  zone_env env;
  const std::string head = "role = \"service\"\nzone_id = 1\n";
  SUBCASE("syntax error") {
    const auto f = env.write("syntax.toml", head + "[region]\nentries = 3 3\n");
    expect_exit({"serve", f}, 2, f + ":4: syntax error");
  }
  SUBCASE("unknown key") {
    const auto f = env.write("unknown.toml", head + "[service]\nwokers = 4\n");
    expect_exit({"serve", f}, 2,
                f + ":4: service.wokers: unknown key (did you mean "
                    "\"workers\"?)");
  }
  SUBCASE("unknown section") {
    const auto f = env.write("section.toml", head + "[regoin]\n");
    expect_exit({"serve", f}, 2, f + ":3: regoin: unknown section");
  }
  SUBCASE("out of range") {
    const auto f =
        env.write("range.toml", head + "[region]\nentries = 70000\n");
    expect_exit({"serve", f}, 2,
                f + ":4: region.entries: 70000 is out of range (2..65535)");
  }
  SUBCASE("wrong type") {
    const auto f = env.write("type.toml", head + "[service]\nworkers = 4.0\n");
    expect_exit({"serve", f}, 2, f + ":4: service.workers: ");
  }
  SUBCASE("missing required key") {
    const auto f = env.write("missing.toml", "role = \"service\"\n");
    expect_exit({"serve", f}, 2, f + ":1: zone_id: required key is missing");
  }
  SUBCASE("cross-field rule") {
    const auto f = env.write("cross.toml", "role = \"client\"\nzone_id = 0\n"
                                           "[region]\nentries = 4\n");
    expect_exit({"call", f, "hello", "1"}, 2,
                f + ":4: region.entries: 4 is too small for this client");
  }
  SUBCASE("missing file") {
    const auto f = env.dir() + "/nope.toml";
    expect_exit({"serve", f}, 2,
                "cannot open " + f + ": No such file or directory");
    expect_exit({f}, 2, "cannot open " + f);
  }
  SUBCASE("wrong role for the command") {
    expect_exit({"serve", env.client_toml()}, 2,
                env.client_toml() +
                    ": role is \"client\"; serve needs a role file with role "
                    "= \"service\"");
    expect_exit({"call", env.service_toml(), "hello", "1"}, 2,
                env.service_toml() +
                    ": role is \"service\"; call needs a role file with role "
                    "= \"client\"");
    expect_exit({"hyper_amp_service_test_mt", env.client_toml(), "4"}, 2,
                ": role is \"client\"; serve needs");
    expect_exit({"hyper_amp_test", env.service_toml(), "hello", "1"}, 2,
                ": role is \"service\"; call needs");
  }
}

TEST_CASE("cli process: the stdin client bounds its lines by "
          "client.max_message") {
  zone_env env; // client.max_message = 256: lines of up to 2 x 256 + 4096
  auto svc = env.start_service();
  auto c = child::amp({env.client_toml()}, {}, child::stdin_mode::open);
  c->send("66 before\n");
  REQUIRE_MESSAGE(c->wait_for_output("\nbefore\n", 60s), c->describe());
  // A line as long as a max_message payload in hex is a line.
  c->send("66 hex:" + std::string(2 * 256, '4') + "\n");
  REQUIRE_MESSAGE(c->wait_for_output("\n" + std::string(256, 'D') + "\n", 60s),
                  c->describe());
  // A longer line is answered before its newline comes, then skipped.
  const std::string too_long =
      "error: line longer than 4608 bytes (2 x client.max_message + 4096) "
      "skipped\n";
  c->send("66 " + std::string(5000, 'x'));
  REQUIRE_MESSAGE(c->wait_for_output(too_long, 60s), c->describe());
  c->send(std::string(20000, 'x') + " still the same line\n66 after\n");
  REQUIRE_MESSAGE(c->wait_for_output("\nafter\n", 60s), c->describe());
  // A payload over client.max_message is an error line too.
  c->send("66 " + std::string(257, 'y') + "\n");
  REQUIRE_MESSAGE(c->wait_for_output("error: payload of 257 bytes exceeds "
                                     "client.max_message (256) in " +
                                         env.client_toml() + "\n",
                                     60s),
                  c->describe());
  c->send("66 last\n");
  c->close_stdin();
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK_MESSAGE(c->exit_code() == 1, c->describe()); // lines failed
  const std::string& out = c->out();
  CHECK_MESSAGE(out.find(too_long) == out.rfind(too_long), c->describe());
  CHECK(out.find("still the same line") == std::string::npos);
  CHECK(out.find("\nlast\n") != std::string::npos);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("cli process: more than 10^6 listed results is refused; with "
          "--quiet any count runs in bounded memory, shows progress and "
          "stops on SIGTERM") {
  zone_env env;
  expect_exit({"call", env.client_toml(), "x", "66", "--requests", "1000001"},
              2, "need --quiet");
  auto svc = env.start_service();
  auto c = child::amp({"call", env.client_toml(), "x", "66", "--requests",
                       "100000000", "--quiet", "--threads", "2"});
  // Two progress lines: it is well into the run.
  const auto until = std::chrono::steady_clock::now() + scaled(120s);
  auto progress = [&] {
    std::size_t n = 0;
    for (auto p = c->err().find("requests done"); p != std::string::npos;
         p = c->err().find("requests done", p + 1))
      ++n;
    return n;
  };
  while (progress() < 2 && !c->exited() &&
         std::chrono::steady_clock::now() < until)
    c->pump(100ms);
  REQUIRE_MESSAGE(progress() >= 2, c->describe());
  // Peak memory so far: 10^8 outcomes kept would be gigabytes.
  std::ifstream status{"/proc/" + std::to_string(c->pid()) + "/status"};
  std::string line;
  long peak_kb = -1;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      peak_kb = std::stol(line.substr(6));
  CHECK(peak_kb > 0);
  CHECK_MESSAGE(peak_kb < 400 * 1024, "peak RSS " << peak_kb << " kB");
  c->signal(SIGTERM);
  REQUIRE_MESSAGE(c->wait(scaled(60s)), c->describe());
  CHECK(c->exit_code() == 1);
  CHECK(c->out().find(" requests: ") != std::string::npos);
  stop_service(*svc);
  env.check_region_clean();
}

TEST_CASE("cli process: call --expect counts a response other than the "
          "expected one as failed") {
  zone_env env;
  auto svc = env.start_service();
  auto good = child::amp({"call", env.client_toml(), "hello", "1", "--requests",
                          "20", "--expect", "hex:164e2c2f12", "--json"});
  auto r = finish_call(*good);
  CHECK(r.ok == 20u);
  auto bad = child::amp({"call", env.client_toml(), "hello", "66", "--requests",
                         "20", "--expect", "hellO", "--json"});
  r = finish_call(*bad, 120s, 1);
  CHECK(r.failed == 20u);
  for (const auto& x : r.results)
    CHECK(x.error == "response differs from --expect");
  const auto summary = parse_json(bad->out());
  const json* errors = summary.get("errors");
  REQUIRE(errors != nullptr);
  REQUIRE(errors->get("response differs from --expect") != nullptr);
  CHECK(errors->get("response differs from --expect")->n == 20);
  expect_exit({"call", env.client_toml(), "x", "66", "--expect", "hex:zz"}, 2,
              "hex payload has a non-hex character");
  stop_service(*svc);
}
