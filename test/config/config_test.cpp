// Tests of config/role.hpp: the example files, defaults, sizes, and one
// message per kind of bad input, each naming file, line and key.
#include "config/role.hpp"

#include "config/schema.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace hyperamp::config;
namespace schema = hyperamp::config::schema;

namespace {

const std::string examples = HYPERAMP_CONFIG_EXAMPLES;
const std::string data = HYPERAMP_CONFIG_TEST_DATA;
const std::string docs = HYPERAMP_CONFIG_DOCS;

// The two required keys, on lines 1 and 2.
const std::string client_head = "role = \"client\"\nzone_id = 0\n";
const std::string service_head = "role = \"service\"\nzone_id = 1\n";

// The message parse_role throws for `text` as "bad.toml", or "no error".
std::string error_of(const std::string& text) {
  try {
    parse_role(text, "bad.toml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

bool has(const std::string& message, const std::string& part) {
  return message.find(part) != std::string::npos;
}

// A key's value in `cfg`, as one comparable string.
std::string value_text(const schema::key& k, const role_config& cfg) {
  const auto v = k.get(cfg);
  return std::to_string(v.number) + "/" + v.text;
}

// The text of `doc` after the line `begin` up to the next end marker, or
// "(no table)".
std::string doc_block(const std::string& doc, const std::string& begin) {
  const auto b = doc.find(begin);
  const auto e = doc.find("<!-- end schema -->", b);
  if (b == std::string::npos || e == std::string::npos)
    return "(no table)";
  return doc.substr(b + begin.size(), e - b - begin.size());
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

// A fresh directory for the files a test makes, removed with it. ctest
// runs each test case in its own process: the pid keeps parallel runs
// apart.
class scratch_dir {
public:
  scratch_dir()
      : dir_(std::filesystem::temp_directory_path() /
             ("hyperamp-config-test-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
  }
  ~scratch_dir() { std::filesystem::remove_all(dir_); }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  std::string path(const std::string& name) const {
    return (dir_ / name).string();
  }

  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream{path(name), std::ios::binary} << text;
    return path(name);
  }

private:
  std::filesystem::path dir_;
};

} // namespace

TEST_CASE("the example service file loads and validates") {
  const auto cfg = load_role(examples + "/service.toml");
  CHECK(cfg.source == examples + "/service.toml");
  CHECK(cfg.role == role_kind::service);
  CHECK(cfg.zone_id == 1);
  CHECK(cfg.region.backend == region_backend::file);
  CHECK(cfg.region.path == "/dev/shm/hyperamp-demo");
  CHECK(cfg.region.payload_size == 8u << 20);
  CHECK(cfg.doorbell.backend == doorbell_backend::futex);
  CHECK_NOTHROW(validate(cfg));
}

TEST_CASE("the example client file loads and validates") {
  const auto cfg = load_role(examples + "/client.toml");
  CHECK(cfg.role == role_kind::client);
  CHECK(cfg.zone_id == 0);
  CHECK(cfg.region.path == "/dev/shm/hyperamp-demo");
  CHECK(cfg.doorbell.backend == doorbell_backend::futex);
  CHECK(cfg.client.actors == 4);
  CHECK_NOTHROW(validate(cfg));
}

TEST_CASE("the example files describe the same region") {
  const auto service = load_role(examples + "/service.toml");
  const auto client = load_role(examples + "/client.toml");
  CHECK(service.channel == client.channel);
  CHECK(service.region.path == client.region.path);
  CHECK(service.region.entries == client.region.entries);
  CHECK(service.region.payload_size == client.region.payload_size);
  CHECK(service.region.max_clients == client.region.max_clients);
}

TEST_CASE("a minimal file gives the documented defaults") {
  const auto cfg = parse_role(client_head, "min.toml");
  const role_config def;
  CHECK(cfg.source == "min.toml");
  CHECK(cfg.channel == "default");
  CHECK(cfg.region.backend == region_backend::file);
  CHECK(cfg.region.path == "/dev/shm/hyperamp");
  CHECK(cfg.region.phys_addr == 0);
  CHECK(cfg.region.size == 0);
  CHECK(cfg.region.entries == 256);
  CHECK(cfg.region.payload_size == 8u << 20);
  CHECK(cfg.region.max_clients == 32);
  CHECK(cfg.region.create == region_create::auto_);
  CHECK(cfg.doorbell.spin_us == 50);
  CHECK(cfg.doorbell.hvisor_device == "/dev/hvisor");
  CHECK(cfg.doorbell.hshm_device == "/dev/hshm0");
  CHECK(cfg.doorbell.target_zone == 1);
  CHECK(cfg.doorbell.swi == 74);
  CHECK(cfg.service.workers == 4);
  CHECK(cfg.client.max_in_flight == 8);
  CHECK(cfg.client.pending_limit == 1024);
  CHECK(cfg.client.max_message == 4096);
  CHECK(cfg.timeouts.request_ms == 5000);
  CHECK(cfg.scheduler.max_threads == 2);
  CHECK(cfg.scheduler.policy == "stealing");
  CHECK(to_toml(cfg) == to_toml(def)); // everything else as well
  CHECK(cfg.key_lines.at("role") == 1);
  CHECK(cfg.key_lines.at("zone_id") == 2);
  CHECK(cfg.key_lines.count("region") == 0);
}

TEST_CASE("the physical backend defaults its path to /dev/mem") {
  const auto cfg = load_role(data + "/physical.toml");
  CHECK(cfg.region.backend == region_backend::physical);
  CHECK(cfg.region.path == "/dev/mem");
  CHECK(cfg.region.phys_addr == 0xde000000);
  CHECK(cfg.region.size == 4u << 20);
  CHECK(cfg.region.create == region_create::attach);
  CHECK(cfg.doorbell.backend == doorbell_backend::hvisor);
}

TEST_CASE("sizes are integers or strings with a unit") {
  auto payload = [](const std::string& value) {
    return parse_role(service_head + "[region]\npayload_size = " + value + "\n",
                      "s.toml")
        .region.payload_size;
  };
  CHECK(payload("1048576") == 1048576);
  CHECK(payload("0x100000") == 1048576);
  CHECK(payload("1_048_576") == 1048576);
  CHECK(payload("\"1048576\"") == 1048576);
  CHECK(payload("\"1048576B\"") == 1048576);
  CHECK(payload("\"1024KiB\"") == 1048576);
  CHECK(payload("\"16MiB\"") == 16u << 20);
  CHECK(payload("\"16 MiB\"") == 16u << 20);
  CHECK(payload("\"1GiB\"") == 1u << 30);
  const auto cfg = parse_role(service_head + "[region]\nsize = \"64KiB\"\n"
                                             "payload_size = \"4KiB\"\n",
                              "s.toml");
  CHECK(cfg.region.size == 65536);
}

TEST_CASE("bad sizes name file, line and key") {
  auto err = [](const std::string& value) {
    return error_of(client_head + "[region]\npayload_size = " + value + "\n");
  };
  CHECK(err("\"8MB\"") ==
        "bad.toml:4: region.payload_size: \"8MB\" is not a size (use bytes "
        "or a number with unit B, KiB, MiB or GiB; did you mean "
        "\"8MiB\"?)");
  CHECK(has(err("\"8k\""), "did you mean \"8KiB\"?"));
  CHECK(has(err("\"1.5MiB\""), "bad.toml:4: region.payload_size: \"1.5MiB\" "
                               "is not a size"));
  CHECK(has(err("\"-1MiB\""), "bad.toml:4: region.payload_size: \"-1MiB\" "
                              "is not a size"));
  CHECK(has(err("\"MiB\""), "is not a size"));
  CHECK(err("\"5GiB\"") ==
        "bad.toml:4: region.payload_size: \"5GiB\" is out of range "
        "(64..4294967296)");
  CHECK(has(err("\"99999999999999999999999GiB\""), "is out of range"));
  CHECK(err("-64") == "bad.toml:4: region.payload_size: -64 is out of range "
                      "(64..4294967296)");
  CHECK(err("1.5") ==
        "bad.toml:4: region.payload_size: expected an integer or a string "
        "like \"8MiB\", got a floating-point number");
}

TEST_CASE("syntax errors give toml11's line and a short message") {
  const auto m = error_of(client_head + "[region]\nentries = 3 3\n");
  CHECK(m == "bad.toml:4: syntax error: invalid line format (expected newline, "
             "but got '3') in `entries = 3 3`");
  CHECK(has(error_of(client_head + "channel = \"abc\n"),
            "bad.toml:3: syntax error: "));
  CHECK(has(error_of(client_head + "\n[region\n"), "bad.toml:4: syntax error"));
  CHECK(has(error_of(client_head + "zone_id = 2\n"),
            "bad.toml:3: syntax error: value (\"zone_id\") already exists"));
  CHECK(has(error_of(client_head + "[client]\n[region]\n[client]\n"),
            "bad.toml:5: syntax error: table (\"client\") already exists"));
  CHECK(has(error_of(client_head + "[client]\nactors =\n"),
            "bad.toml:4: syntax error: missing value"));
  // toml11's own location says line 1 here; the message has the real one.
  CHECK(error_of(client_head + "[region]\nsize = 1979-13-40\n") ==
        "bad.toml:4: syntax error: invalid date: it does not conform RFC3339 "
        "(month should be 01-12, day should be 01-28,29,30,31, depending on "
        "month/year) in `size = 1979-13-40`");
  CHECK(error_of(client_head + "[region]\nentries = 0b2\n") ==
        "bad.toml:4: syntax error: the next token is not an integer in "
        "`entries = 0b2`");
  // One line, no toml11 banner.
  CHECK_FALSE(has(m, "\n"));
  CHECK_FALSE(has(m, "[error]"));
}

TEST_CASE("wrong types name the expected and the actual type") {
  CHECK(error_of(client_head + "[region]\nentries = \"256\"\n") ==
        "bad.toml:4: region.entries: expected an integer, got a string");
  CHECK(error_of("role = 1\nzone_id = 0\n") ==
        "bad.toml:1: role: expected a string, got an integer");
  CHECK(error_of(client_head + "channel = [\"a\"]\n") ==
        "bad.toml:3: channel: expected a string, got an array");
  CHECK(error_of(client_head + "\n\n[client]\nactors = 4.0\n") ==
        "bad.toml:6: client.actors: expected an integer, got a "
        "floating-point number");
  CHECK(error_of(client_head + "[doorbell]\nspin_us = true\n") ==
        "bad.toml:4: doorbell.spin_us: expected an integer, got a boolean");
  CHECK(error_of(client_head + "[timeouts]\nattach_ms = 1979-05-27\n") ==
        "bad.toml:4: timeouts.attach_ms: expected an integer, got a date");
  CHECK(error_of(client_head + "region = 5\n") ==
        "bad.toml:3: region: expected a table ([region]), got an integer");
  CHECK(error_of(client_head + "[[client]]\nactors = 4\n") ==
        "bad.toml:3: client: expected a table ([client]), got an array");
  CHECK(error_of(client_head + "[region]\nentries = { n = 4 }\n") ==
        "bad.toml:4: region.entries: expected an integer, got a table");
}

TEST_CASE("numbers are range-checked before narrowing") {
  // toml11 would turn 70000 into 4464 for a 16-bit field.
  CHECK(error_of(client_head + "[region]\nentries = 70000\n") ==
        "bad.toml:4: region.entries: 70000 is out of range (2..65535)");
  CHECK(error_of(client_head + "[region]\nentries = -1\n") ==
        "bad.toml:4: region.entries: -1 is out of range (2..65535)");
  CHECK(error_of(client_head + "[region]\nentries = 1\n") ==
        "bad.toml:4: region.entries: 1 is out of range (2..65535)");
  CHECK(error_of("role = \"client\"\nzone_id = 70000\n") ==
        "bad.toml:2: zone_id: 70000 is out of range (0..65535)");
  CHECK(error_of("role = \"client\"\nzone_id = -1\n") ==
        "bad.toml:2: zone_id: -1 is out of range (0..65535)");
  // 2^40 does not fit the 32-bit fields.
  CHECK(error_of(client_head + "[client]\nmax_message = 1099511627776\n") ==
        "bad.toml:4: client.max_message: 1099511627776 is out of range "
        "(1..1073741824)");
  CHECK(has(error_of(client_head + "[timeouts]\nrequest_ms = 0x10000000000\n"),
            "bad.toml:4: timeouts.request_ms: 0x10000000000 is out of range"));
  CHECK(has(error_of(client_head + "[doorbell]\ntarget_zone = 4294967296\n"),
            "bad.toml:4: doorbell.target_zone: 4294967296 is out of range"));
  CHECK(has(error_of(client_head + "[region]\nmax_clients = 257\n"),
            "bad.toml:4: region.max_clients: 257 is out of range (1..256)"));
  CHECK(has(error_of(client_head + "[service]\nworkers = 0\n"),
            "bad.toml:4: service.workers: 0 is out of range (1..256)"));
  CHECK(has(error_of(client_head + "[region]\nphys_addr = -4096\n"),
            "bad.toml:4: region.phys_addr: -4096 is out of range"));
  // toml11 saturates integers that overflow 64 bits; the message shows what
  // was written.
  CHECK(has(error_of(client_head + "[region]\nsize = 99999999999999999999\n"),
            "bad.toml:4: region.size: 99999999999999999999 is out of range"));
}

TEST_CASE("unknown keys and sections are errors, with a suggestion") {
  CHECK(error_of(service_head + "[service]\nwokers = 4\n") ==
        "bad.toml:4: service.wokers: unknown key (did you mean "
        "\"workers\"?)");
  CHECK(error_of(client_head + "\n[regoin]\nentries = 4\n") ==
        "bad.toml:4: regoin: unknown section (did you mean \"region\"?)");
  CHECK(error_of(client_head + "zone = 3\n") ==
        "bad.toml:3: zone: unknown key (did you mean \"zone_id\"?)");
  CHECK(error_of(client_head + "[scheduler]\nmax-threads = 2\n") ==
        "bad.toml:4: scheduler.max-threads: unknown key (did you mean "
        "\"max_threads\"?)");
  CHECK(error_of(client_head + "[client]\nworkers = 4\n") ==
        "bad.toml:4: client.workers: unknown key (did you mean "
        "\"service.workers\"?)");
  CHECK(error_of(client_head + "colour = \"blue\"\n") ==
        "bad.toml:3: colour: unknown key");
  CHECK(error_of(client_head + "[region.extra]\nx = 1\n") ==
        "bad.toml:3: region.extra: unknown key");
  CHECK(error_of(client_head + "region.entrys = 4\n") ==
        "bad.toml:3: region.entrys: unknown key (did you mean "
        "\"entries\"?)");
}

TEST_CASE("bad enum strings list the allowed values") {
  CHECK(error_of("role = \"server\"\nzone_id = 1\n") ==
        "bad.toml:1: role: \"server\" is not one of \"client\" or "
        "\"service\" (did you mean \"service\"?)");
  CHECK(error_of(client_head + "[region]\ncreate = \"open\"\n") ==
        "bad.toml:4: region.create: \"open\" is not one of \"auto\", "
        "\"create\" or \"attach\"");
  CHECK(has(error_of(client_head + "[region]\nbackend = \"mem\"\n"),
            "bad.toml:4: region.backend: \"mem\" is not one of \"file\" or "
            "\"physical\""));
  CHECK(has(error_of(client_head + "[doorbell]\nbackend = \"Futex\"\n"),
            "bad.toml:4: doorbell.backend: \"Futex\" is not one of \"futex\", "
            "\"hvisor\", \"polling\" or \"fifo\" (did you mean \"futex\"?)"));
  CHECK(error_of(client_head + "[scheduler]\npolicy = \"steal\"\n") ==
        "bad.toml:4: scheduler.policy: \"steal\" is not one of \"stealing\" "
        "or \"sharing\" (did you mean \"stealing\"?)");
}

TEST_CASE("missing required keys") {
  CHECK(error_of("zone_id = 0\n") ==
        "bad.toml:1: role: required key is missing");
  CHECK(error_of("role = \"client\"\n") ==
        "bad.toml:1: zone_id: required key is missing");
  CHECK(error_of("") == "bad.toml:1: role: required key is missing");
  CHECK(error_of("# only a comment\n[region]\nentries = 4\n") ==
        "bad.toml:1: role: required key is missing");
}

TEST_CASE("the first problem in file order is reported") {
  const auto text =
      client_head + "[client]\nactors = 0\n[region]\nentries = 70000\n";
  CHECK(has(error_of(text), "bad.toml:4: client.actors"));
  const auto text2 =
      client_head + "[region]\nentries = 70000\n[client]\nactors = 0\n";
  CHECK(has(error_of(text2), "bad.toml:4: region.entries"));
}

TEST_CASE("missing or unreadable files") {
  CHECK_THROWS_WITH_AS(load_role("config/nope.toml"),
                       "cannot open config/nope.toml: No such file or "
                       "directory",
                       config_error);
  CHECK_THROWS_WITH_AS(load_role(data), doctest::Contains("Is a directory"),
                       config_error);
  CHECK_THROWS_WITH_AS(load_role(data + "/out_of_range.toml"),
                       (data + "/out_of_range.toml:7: region.entries: 70000 "
                               "is out of range (2..65535)")
                           .c_str(),
                       config_error);
}

TEST_CASE("client: the queue must hold 2 x actors x max_in_flight") {
  CHECK(error_of(client_head +
                 "[region]\nentries = 16\n[client]\nactors = 4\n") ==
        "bad.toml:4: region.entries: 16 is too small for this client: it "
        "needs at least 2 x client.actors x client.max_in_flight = 2 x 4 x "
        "8 = 64; raise region.entries by 48 (to 64) or lower client.actors "
        "or client.max_in_flight");
  // Without region.entries in the file, the line is that of client.actors.
  const auto m = error_of(client_head + "\n[client]\nactors = 256\n"
                                        "max_in_flight = 256\n");
  CHECK(has(m, "bad.toml:5: region.entries: 256 is too small"));
  CHECK(has(m, "= 131072; lower client.actors"));
  // A service does not check client settings.
  CHECK_NOTHROW(parse_role(service_head + "[region]\nentries = 16\n"
                                          "[service]\nbatch = 16\n",
                           "s.toml"));
}

TEST_CASE("client: the payload partition must hold actors x message x 10") {
  const auto m = error_of(client_head + "[region]\npayload_size = \"1MiB\"\n"
                                        "[client]\nmax_message = 65536\n");
  CHECK(m ==
        "bad.toml:4: region.payload_size: the per-client payload partition "
        "(1048576 / region.max_clients 32, rounded down to 64) is 32768 "
        "bytes, less than client.actors x client.max_message x 10 = 4 x "
        "65536 x 10 = 2621440; raise region.payload_size by 82837504 (to "
        "83886080 (80 MiB)), or lower client.max_message to 819, "
        "client.actors or region.max_clients");
  // No suggestion beyond the 4 GiB limit of payload_size.
  const auto big = error_of(client_head + "[client]\nactors = 256\n"
                                          "max_message = 1048576\n"
                                          "[region]\nentries = 4096\n");
  CHECK(has(big, "bad.toml:5: region.payload_size: the per-client payload"));
  CHECK(has(big, "= 2684354560; lower client.max_message to 102, "));
  // The suggested size is enough.
  CHECK_NOTHROW(parse_role(client_head + "[region]\npayload_size = \"80MiB\"\n"
                                         "[client]\nmax_message = 65536\n",
                           "ok.toml"));
}

TEST_CASE("service: batch must not exceed the queue") {
  CHECK(error_of(service_head +
                 "[region]\nentries = 16\n[service]\nbatch = 32\n") ==
        "bad.toml:6: service.batch: 32 is larger than region.entries (16); "
        "lower service.batch to at most 16 or raise region.entries");
  // The default batch (32) against a small queue: the line of entries.
  CHECK(has(error_of(service_head + "[region]\nentries = 8\n"),
            "bad.toml:4: service.batch: 32 is larger than region.entries"));
}

TEST_CASE("physical backend needs an aligned address and a size") {
  const auto head = client_head + "[region]\nbackend = \"physical\"\n";
  CHECK(error_of(head + "size = \"1MiB\"\n") ==
        "bad.toml:4: region.phys_addr: is required for the physical "
        "backend (the physical address of the shared region, e.g. "
        "phys_addr = 0xde000000)");
  CHECK(error_of(head + "size = \"1MiB\"\nphys_addr = 0xde000100\n") ==
        "bad.toml:6: region.phys_addr: 0xde000100 is not 4 KiB aligned "
        "(the nearest aligned addresses are 0xde000000 and 0xde001000)");
  CHECK(has(error_of(head + "phys_addr = 0xde000000\n"),
            "bad.toml:4: region.size: region.size is required for the "
            "physical backend"));
  CHECK(error_of(client_head + "[region]\nphys_addr = 0xde000000\n") ==
        "bad.toml:4: region.phys_addr: is only used by the physical "
        "backend (region.backend is \"file\"); remove it or set "
        "region.backend = \"physical\"");
}

TEST_CASE("payload size: multiple of 64, 64 bytes per client, fits size") {
  CHECK(error_of(service_head + "[region]\npayload_size = 1000\n") ==
        "bad.toml:4: region.payload_size: 1000 is not a multiple of 64 "
        "(use 960 or 1024)");
  CHECK(error_of(service_head + "[region]\npayload_size = 1024\n") ==
        "bad.toml:4: region.payload_size: 1024 is too small for "
        "region.max_clients = 32 (64 bytes per client); raise it to at "
        "least 2048 or lower region.max_clients");
  CHECK(has(error_of(service_head + "[region]\nsize = \"1MiB\"\n"),
            "bad.toml:4: region.size: 1048576 is smaller than "
            "region.payload_size (8388608 (8 MiB))"));
}

TEST_CASE("peer_dead_ms must exceed two heartbeats") {
  CHECK(error_of(client_head + "[timeouts]\nheartbeat_ms = 20\n"
                               "peer_dead_ms = 40\n") ==
        "bad.toml:5: timeouts.peer_dead_ms: 40 must be more than 2 x "
        "timeouts.heartbeat_ms = 2 x 20; raise it by 1 (to 41) or lower "
        "timeouts.heartbeat_ms");
  CHECK(has(error_of(client_head + "[timeouts]\nheartbeat_ms = 600\n"),
            "bad.toml:4: timeouts.peer_dead_ms: 1000 must be more than"));
  CHECK_NOTHROW(parse_role(client_head + "[timeouts]\nheartbeat_ms = 20\n"
                                         "peer_dead_ms = 41\n",
                           "ok.toml"));
}

TEST_CASE("strings must not be empty") {
  CHECK(error_of(client_head + "channel = \"\"\n") ==
        "bad.toml:3: channel: must not be empty");
  CHECK(error_of(client_head + "channel = \"a\\nb\"\n") ==
        "bad.toml:3: channel: must not contain control characters");
  CHECK(error_of(client_head + "[region]\npath = \"\"\n") ==
        "bad.toml:4: region.path: must not be empty");
}

TEST_CASE("validate checks configs built in code") {
  role_config cfg;
  CHECK_NOTHROW(validate(cfg));
  cfg.region.entries = 70000;
  CHECK_THROWS_WITH_AS(validate(cfg),
                       "<config>: region.entries: 70000 is out of range "
                       "(2..65535)",
                       config_error);
  cfg = parse_role(client_head + "[client]\nactors = 2\n", "c.toml");
  cfg.client.actors = 32; // needs 2 x 32 x 8 = 512 entries
  CHECK_THROWS_WITH_AS(validate(cfg),
                       doctest::Contains("c.toml:4: region.entries: 256 is "
                                         "too small"),
                       config_error);
  cfg = role_config{};
  cfg.scheduler.policy = "fifo";
  CHECK_THROWS_WITH_AS(validate(cfg),
                       "<config>: scheduler.policy: \"fifo\" is not one of "
                       "\"stealing\" or \"sharing\"",
                       config_error);
}

TEST_CASE("to_toml writes a file that parses back to the same config") {
  for (const auto& path :
       {examples + "/service.toml", examples + "/client.toml",
        data + "/physical.toml"}) {
    CAPTURE(path);
    const auto cfg = load_role(path);
    const auto again = parse_role(to_toml(cfg), "again.toml");
    CHECK(to_toml(again) == to_toml(cfg));
  }
  role_config odd;
  odd.channel = "a \"quoted\" \\ name";
  CHECK(parse_role(to_toml(odd), "odd.toml").channel == odd.channel);
}

TEST_CASE("enum names") {
  CHECK(to_string(role_kind::service) == "service");
  CHECK(to_string(role_kind::client) == "client");
  CHECK(to_string(region_backend::physical) == "physical");
  CHECK(to_string(region_create::auto_) == "auto");
  CHECK(to_string(region_create::create) == "create");
  CHECK(to_string(region_create::attach) == "attach");
  CHECK(to_string(doorbell_backend::polling) == "polling");
  CHECK(to_string(region_layout::hyperamp) == "hyperamp");
  CHECK(to_string(region_layout::partitioned) == "partitioned");
}

TEST_CASE("region.layout: hyperamp by default, partitioned when asked") {
  CHECK(parse_role(client_head, "c.toml").region.layout ==
        region_layout::hyperamp);
  CHECK(
      parse_role(client_head + "[region]\nlayout = \"partitioned\"\n", "c.toml")
          .region.layout == region_layout::partitioned);
  CHECK(has(error_of(client_head + "[region]\nlayout = \"plan-b\"\n"),
            "bad.toml:4: region.layout: \"plan-b\" is not one of "
            "\"hyperamp\", \"hvisor-tool-v1\" or \"partitioned\""));
}

// -- bounded input: nothing a file says can crash or stall the parser --

TEST_CASE("nesting deeper than 16 arrays or inline tables is refused") {
  // toml11 recurses per level: 5000 arrays or 3000 inline tables overflow
  // its stack (SIGSEGV) without the pre-scan.
  const auto deep = "bad.toml:3: arrays and inline tables nested more than 16 "
                    "deep";
  CHECK(error_of(client_head + "x = " + std::string(5000, '[') + "\n") == deep);
  CHECK(error_of(client_head + "x = " + repeat("{a = ", 3000) + "\n") == deep);
  CHECK(error_of(client_head + "x = [\n" + repeat("[\n", 20) + "\n") ==
        "bad.toml:19: arrays and inline tables nested more than 16 deep");
  // 16 levels pass the pre-scan and reach the type check.
  CHECK(error_of(client_head + "channel = " + std::string(16, '[') +
                 std::string(16, ']') + "\n") ==
        "bad.toml:3: channel: expected a string, got an array");
  CHECK(error_of(client_head + "channel = " + std::string(17, '[') +
                 std::string(17, ']') + "\n") == deep);
}

TEST_CASE("brackets, dots and '=' in strings and comments are not counted") {
  const auto brackets = std::string(100, '[') + std::string(100, '{');
  const auto dots = repeat("a.", 100) + repeat("=,", 600);
  for (const auto& inside : {brackets, dots}) {
    for (const auto& value :
         {"\"" + inside + "\"", "'" + inside + "'",
          "\"\"\"\n" + inside + "\n" + inside + "\"\"\"",
          "'''" + inside + "\n'''", "\"\\\"" + inside + "\"",
          "\"\"\"" + inside + "\"\"\"\"\""}) {
      CAPTURE(value);
      const auto text = client_head + "# " + inside + "\n[doorbell]\n" +
                        "hvisor_device = " + value + " # " + inside + "\n";
      CHECK(error_of(text) == "no error");
    }
  }
  // A quoted key part is one part, whatever dots it holds.
  CHECK(error_of(client_head + "\"" + repeat("a.", 20) + "\" = 1\n") ==
        "bad.toml:3: " + repeat("a.", 20) + ": unknown key");
}

TEST_CASE("more than 512 keys, sections and array elements are refused") {
  const std::string many = ": more than 512 keys, sections and array elements "
                           "(a role file has about 40)";
  std::string sections = client_head;
  for (int i = 0; i < 600; ++i)
    sections += "[s" + std::to_string(i) + "]\n";
  // Lines 1 and 2 are the first two entries; one entry per line after.
  CHECK(error_of(sections) == "bad.toml:513" + many);
  CHECK(error_of(client_head + "x = [" + repeat("1,", 600) + "1]\n") ==
        "bad.toml:3" + many);
  CHECK(error_of(client_head + "x = {" + repeat("a = 1, ", 600) + "b = 1}\n") ==
        "bad.toml:3" + many);
  // 512 are fine for the pre-scan: toml11 parses them.
  CHECK(error_of(client_head + "x = [" + repeat("1,", 509) + "1]\n") ==
        "bad.toml:3: x: unknown key");
  // An inline table's keys count once each (role, zone_id, x and 509).
  std::string pairs;
  for (int i = 0; i < 510; ++i)
    pairs += (i == 0 ? "k" : ", k") + std::to_string(i) + " = 1";
  CHECK(error_of(client_head + "x = {" + pairs + "}\n") == "bad.toml:3" + many);
  pairs.erase(pairs.rfind(','));
  CHECK(error_of(client_head + "x = {" + pairs + "}\n") ==
        "bad.toml:3: x: unknown section");
}

TEST_CASE("dotted keys of more than 8 parts are refused") {
  const auto long_key = "bad.toml:3: dotted key with more than 8 parts";
  // 30000 parts fit in 64 KiB and take toml11 over 10 s.
  CHECK(error_of(client_head + repeat("a.", 30000) + "a = 1\n") == long_key);
  CHECK(error_of(client_head + repeat("a.", 8) + "a = 1\n") == long_key);
  CHECK(error_of(client_head + "[" + repeat("a.", 8) + "a]\n") == long_key);
  CHECK(error_of(client_head + "[[" + repeat("a . ", 8) + "a]]\n") == long_key);
  CHECK(error_of(client_head + "x = { " + repeat("a.", 8) + "a = 1 }\n") ==
        long_key);
  // 8 parts reach the schema check.
  CHECK(error_of(client_head + repeat("a.", 7) + "a = 1\n") ==
        "bad.toml:3: a: unknown section");
  // Dots in values are not key parts.
  CHECK(error_of(client_head + "x = [" + repeat("1.5, ", 20) + "1.5]\n") ==
        "bad.toml:3: x: unknown key");
}

TEST_CASE("a role file larger than 64 KiB is refused") {
  const scratch_dir dir;
  const auto text = client_head + "# padding\n";
  const auto at_limit = text + std::string(65536 - text.size() - 1, '#') + "\n";
  CHECK(load_role(dir.write("max.toml", at_limit)).zone_id == 0);
  const auto big = dir.write("big.toml", at_limit + "\n");
  CHECK_THROWS_WITH_AS(
      load_role(big),
      ("cannot read " + big + ": larger than 64 KiB (a role file is a few KiB)")
          .c_str(),
      config_error);
  CHECK(error_of(at_limit + "\n") ==
        "bad.toml: larger than 64 KiB (a role file is a few KiB)");
}

TEST_CASE("a role file that is not a regular file is refused at once") {
  const scratch_dir dir;
  const auto fifo = dir.path("role.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // A blocking open would wait for a writer forever: the alarm turns that
  // into a failure (SIGALRM ends the process).
  ::alarm(20);
  CHECK_THROWS_WITH_AS(
      load_role(fifo),
      ("cannot read " + fifo + ": not a regular file (a FIFO)").c_str(),
      config_error);
  CHECK_THROWS_WITH_AS(load_role("/dev/null"),
                       "cannot read /dev/null: not a regular file (a character "
                       "device)",
                       config_error);
  ::alarm(0);
}

// -- the schema: one description per key drives reading and validate --

TEST_CASE("every schema key reaches its own field, and its range fits") {
  for (const auto& k : schema::keys()) {
    CAPTURE(k.name);
    std::vector<schema::value> samples;
    if (k.type == schema::kind::integer || k.type == schema::kind::size)
      for (const auto n : {k.lo, k.hi})
        samples.push_back({static_cast<std::uint64_t>(n), {}});
    for (const auto& c : k.choices)
      samples.push_back({0, c});
    if (k.type == schema::kind::text)
      samples.push_back({0, "some/text"});
    REQUIRE_FALSE(samples.empty());
    for (const auto& v : samples) {
      role_config cfg;
      k.set(cfg, v);
      CHECK(k.get(cfg).number == v.number);
      CHECK(k.get(cfg).text == v.text);
      // No other key sees the change: each key has a field of its own.
      for (const auto& other : schema::keys())
        if (&other != &k)
          CHECK(value_text(other, cfg) == value_text(other, {}));
    }
  }
}

TEST_CASE("the reader and validate apply every key's range") {
  for (const auto& k : schema::keys()) {
    if (k.type != schema::kind::integer && k.type != schema::kind::size)
      continue;
    CAPTURE(k.name);
    const auto range = " is out of range (" + std::to_string(k.lo) + ".." +
                       std::to_string(k.hi) + ")";
    const auto above = std::to_string(k.hi + 1);
    std::string text = "role = \"client\"\n";
    if (k.name != "zone_id")
      text += "zone_id = 0\n";
    if (!k.section().empty())
      text += "[" + k.section() + "]\n";
    text += k.leaf() + " = " + above + "\n";
    const auto line = std::count(text.begin(), text.end(), '\n');
    CHECK(error_of(text) == "bad.toml:" + std::to_string(line) + ": " + k.name +
                                ": " + above + range);
    // The same range for a config built in code, where the field can
    // hold the value.
    role_config cfg;
    k.set(cfg, {static_cast<std::uint64_t>(k.hi + 1), {}});
    if (k.get(cfg).number == static_cast<std::uint64_t>(k.hi + 1))
      CHECK_THROWS_WITH_AS(
          validate(cfg), ("<config>: " + k.name + ": " + above + range).c_str(),
          config_error);
  }
}

TEST_CASE("to_toml writes every key of the schema, with its help") {
  role_config cfg;
  cfg.region.entries = 1000;
  const auto text = to_toml(cfg);
  CHECK(has(text, "\n[region]\n"));
  CHECK(has(text, "\n# entries of the message queue\nentries = 1000\n"));
  CHECK(has(text, "\n# what this zone does\nrole = \"client\"\n"));
  const auto again = parse_role(text, "again.toml");
  for (const auto& k : schema::keys()) {
    CAPTURE(k.name);
    CHECK(again.key_lines.count(k.name) == 1);
    CHECK(value_text(k, again) == value_text(k, cfg));
  }
}

TEST_CASE("to_toml quotes any string so that it reads back the same") {
  for (const auto& path :
       {std::string{"a \"quoted\" \\ path\""}, std::string{"\"\"\"x\"\"\"\""},
        std::string{"tab\there\nnew line\r\n"}, std::string{"\x01\x7f end"},
        std::string{"'''single'''"}, std::string{"caf\xc3\xa9 \xe2\x9c\x93"},
        std::string(300, 'p') + "\"" + std::string(300, 'q')}) {
    CAPTURE(path);
    role_config cfg;
    cfg.region.path = path;
    CHECK(parse_role(to_toml(cfg), "odd.toml").region.path == path);
  }
}

TEST_CASE("the key tables of docs/configuration.md are the schema's") {
  std::ifstream in{docs};
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = text.str();
  REQUIRE_FALSE(doc.empty());
  // One table per section, in the schema's order, and no others.
  const std::string open = "<!-- schema: ";
  std::string found;
  for (auto p = doc.find(open); p != std::string::npos;
       p = doc.find(open, p + 1)) {
    const auto name = p + open.size();
    found += doc.substr(name, doc.find(" -->", name) - name) + "; ";
  }
  std::string expected;
  for (const auto& s : schema::sections())
    expected += (s.empty() ? "top level" : s) + "; ";
  CHECK(found == expected);
  // Each the same as the schema writes it: a missing or extra key, another
  // type, default, range or help shows here, with the table it should be.
  for (const auto& s : schema::sections()) {
    const auto name = s.empty() ? "top level" : s;
    CAPTURE(name);
    CHECK(doc_block(doc, open + name + " -->\n") == schema::doc_table(s));
  }
}

TEST_CASE("service.dispatch: least_loaded (default) or round_robin") {
  CHECK(role_config{}.service.dispatch == dispatch_policy::least_loaded);
  CHECK(load_role(examples + "/service.toml").service.dispatch ==
        dispatch_policy::least_loaded);
  CHECK(parse_role(service_head + "[service]\ndispatch = \"round_robin\"\n",
                   "s.toml")
            .service.dispatch == dispatch_policy::round_robin);
  CHECK(error_of(service_head + "[service]\ndispatch = \"round-robin\"\n") ==
        "bad.toml:4: service.dispatch: \"round-robin\" is not one of "
        "\"least_loaded\" or \"round_robin\" (did you mean \"round_robin\"?)");
  CHECK(error_of(service_head + "[service]\ndispatch = 1\n") ==
        "bad.toml:4: service.dispatch: expected a string, got an integer");
  CHECK(to_string(dispatch_policy::least_loaded) == "least_loaded");
  CHECK(to_string(dispatch_policy::round_robin) == "round_robin");
  role_config cfg;
  cfg.service.dispatch = static_cast<dispatch_policy>(7);
  CHECK_THROWS_WITH_AS(validate(cfg),
                       "<config>: service.dispatch: \"7\" is not one of "
                       "\"least_loaded\" or \"round_robin\"",
                       config_error);
}

TEST_CASE("[gateway]: defaults, the allow-list, TLS all three or none") {
  const auto d = parse_role(client_head, "c.toml").gateway;
  CHECK(d.port == 4242u);
  CHECK(d.bind == "127.0.0.1");
  CHECK(d.max_connections == 64u);
  CHECK(d.max_in_flight == 256u);
  CHECK(d.allow.empty());
  CHECK(d.tls_certificate.empty());
  const auto g = parse_role(client_head + "[gateway]\nport = 0\nallow = \"1, "
                                          "2 66,4294967295\"\n",
                            "c.toml")
                     .gateway;
  CHECK(g.port == 0u);
  CHECK(parse_id_list(g.allow, "x") ==
        std::vector<std::uint32_t>{1, 2, 66, 4294967295u});
  CHECK(parse_id_list("", "x").empty());
  CHECK(error_of(client_head + "[gateway]\nallow = \"1, x\"\n") ==
        "bad.toml:4: gateway.allow: \"1, x\": \"x\" is not a service id "
        "(0..4294967295)");
  CHECK(error_of(client_head + "[gateway]\nallow = \"1,,2\"\n") ==
        "bad.toml:4: gateway.allow: \"1,,2\": has an empty entry (write ids "
        "separated by commas, e.g. \"1, 2, 66\")");
  CHECK(error_of(client_head + "[gateway]\nallow = \"4294967296\"\n") ==
        "bad.toml:4: gateway.allow: \"4294967296\": \"4294967296\" is not a "
        "service id (0..4294967295)");
  CHECK(error_of(client_head + "[gateway]\nallow = [1, 2]\n") ==
        "bad.toml:4: gateway.allow: expected a string, got an array");
  CHECK(error_of(client_head + "[gateway]\nbind = \"\"\n") ==
        "bad.toml:4: gateway.bind: must not be empty");
  CHECK(error_of(client_head +
                 "[gateway]\ntls_certificate = \"gw.pem\"\ntls_ca = "
                 "\"ca.pem\"\n") ==
        "bad.toml:4: gateway.tls_key: is required with "
        "gateway.tls_certificate (TLS needs gateway.tls_certificate, "
        "gateway.tls_key and gateway.tls_ca together; remove all three for "
        "plain TCP)");
  const auto tls =
      parse_role(client_head + "[gateway]\ntls_certificate = \"gw.pem\"\n"
                               "tls_key = \"gw.key\"\ntls_ca = \"ca.pem\"\n",
                 "c.toml")
          .gateway;
  CHECK(tls.tls_key == "gw.key");
  CHECK_THROWS_WITH_AS(parse_id_list("1 ,", "gateway.allow"),
                       "gateway.allow: \"1 ,\": ends with a comma",
                       config_error);
}

TEST_CASE("scheduler.bridge: auto (default), threaded or scheduled") {
  CHECK(role_config{}.scheduler.bridge == bridge_thread::auto_);
  CHECK(parse_role(client_head + "[scheduler]\nbridge = \"scheduled\"\n",
                   "c.toml")
            .scheduler.bridge == bridge_thread::scheduled);
  CHECK(parse_role(client_head + "[doorbell]\nbackend = \"polling\"\n"
                                 "[scheduler]\nbridge = \"threaded\"\n",
                   "c.toml")
            .scheduler.bridge == bridge_thread::threaded);
  CHECK(error_of(client_head + "[scheduler]\nbridge = \"own\"\n") ==
        "bad.toml:4: scheduler.bridge: \"own\" is not one of \"auto\", "
        "\"threaded\" or \"scheduled\"");
  // The hvisor doorbell cannot wake its own zone: threaded is refused.
  CHECK(error_of(service_head + "[doorbell]\nbackend = \"hvisor\"\n"
                                "[scheduler]\nbridge = \"threaded\"\n") ==
        "bad.toml:6: scheduler.bridge: \"threaded\" needs the futex or "
        "polling doorbell (the hvisor doorbell cannot wake its own zone's "
        "thread); use \"auto\" or \"scheduled\"");
  CHECK_NOTHROW(parse_role(service_head + "[doorbell]\nbackend = \"hvisor\"\n"
                                          "[scheduler]\nbridge = \"auto\"\n",
                           "s.toml"));
  CHECK(to_string(bridge_thread::auto_) == "auto");
  CHECK(to_string(bridge_thread::scheduled) == "scheduled");
}
