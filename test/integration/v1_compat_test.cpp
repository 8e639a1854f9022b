// hyperamp as a drop-in for hvisor-tool's HyperAMP: amp-node speaking the
// hvisor-tool-v1 layout against v1_peer, a replica of hvisor-tool's C
// client and service (test/board/v1_peer.cpp), in both directions.
//
// "board": every process runs under libhvisor_emu.so (test/board), so
// amp-node takes hvisor-tool's shm_config.json and goes through its board
// code: open("/dev/mem", O_RDWR | O_SYNC), mmap at the physical addresses,
// ioctl(/dev/hvisor, 10, ...), poll(/dev/hshm0). "host": amp-node with a
// TOML role file on a window file and a FIFO, no emulation.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "../config/hvisor_json_cases.hpp"
#include "harness.hpp"

using namespace it;

namespace {

constexpr const char* k_base = "0xde000000";

/// Sets environment variables for the processes spawned while it lives.
class scoped_env {
public:
  void set(const std::string& name, const std::string& value) {
    const char* old = std::getenv(name.c_str());
    saved_.push_back({name, old != nullptr, old != nullptr ? old : ""});
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~scoped_env() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->had)
        ::setenv(it->name.c_str(), it->value.c_str(), 1);
      else
        ::unsetenv(it->name.c_str());
    }
  }

private:
  struct saved {
    std::string name;
    bool had;
    std::string value;
  };
  std::vector<saved> saved_;
};

/// One test's board: a file standing for physical memory from 0xde000000
/// (8 MiB, as in hvisor-tool's setup), a FIFO for the IRQ line, the
/// emulation's log, and hvisor-tool's shm_config.json for these addresses.
class board {
public:
  board() {
    static int n = 0;
    const std::string tag =
        std::to_string(::getpid()) + "-" + std::to_string(n++);
    window_ = "/dev/shm/hyperamp-it-v1-" + tag + ".win";
    fifo_ = "/dev/shm/hyperamp-it-v1-" + tag + ".bell";
    log_ = "/dev/shm/hyperamp-it-v1-" + tag + ".log";
    const int fd = ::open(window_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, 8 << 20) == 0);
    ::close(fd);
    json_ = env_.write("shm_config.json", hvisor_json_cases::good());
  }
  ~board() {
    ::unlink(window_.c_str());
    ::unlink(fifo_.c_str());
    ::unlink(log_.c_str());
  }
  board(const board&) = delete;
  board& operator=(const board&) = delete;

  const std::string& json() const { return json_; }
  const std::string& window() const { return window_; }
  const std::string& fifo() const { return fifo_; }
  std::string write(const std::string& name, const std::string& text) const {
    return env_.write(name, text);
  }

  /// What the emulation logged so far.
  std::string log() const {
    std::ifstream in{log_};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  /// Waits (polling the log) until it contains `needle`.
  bool wait_log(const std::string& needle, ms timeout = 30s) const {
    const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    while (log().find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(ms(2));
    }
    return true;
  }

  /// amp-node, an alias of it, or v1_peer, under the emulation.
  std::unique_ptr<child> amp(std::vector<std::string> args) const {
    auto e = emulated();
    return child::amp(std::move(args));
  }
  std::unique_ptr<child> alias(const std::string& name,
                               std::vector<std::string> args) const {
    auto e = emulated();
    return child::alias(name, std::move(args));
  }
  std::unique_ptr<child> peer(std::vector<std::string> args) const {
    auto e = emulated();
    args.insert(args.begin(), V1_PEER);
    return std::make_unique<child>(V1_PEER, std::move(args));
  }

  /// Runs v1_peer to its end; REQUIREs it exits `rc`.
  std::string peer_run(std::vector<std::string> args, int rc = 0) const {
    auto c = peer(std::move(args));
    REQUIRE_MESSAGE(c->wait(60s), c->describe());
    CHECK_MESSAGE(c->exit_code() == rc, c->describe() << "\n" << c->out());
    return c->out();
  }

  /// The queue header as hvisor-tool's dump shows it.
  std::string dump() const {
    auto out = peer_run({"dump", json_});
    return out.substr(0, out.find('\n'));
  }

private:
  std::unique_ptr<scoped_env> emulated() const {
    auto e = std::make_unique<scoped_env>();
    e->set("LD_PRELOAD", HVISOR_EMU);
    e->set("HVISOR_EMU_MEM", window_);
    e->set("HVISOR_EMU_BASE", k_base);
    e->set("HVISOR_EMU_FIFO", fifo_);
    e->set("HVISOR_EMU_LOG", log_);
    if (HYPERAMP_SANITIZED) {
      // The emulation is preloaded ahead of the sanitizer runtime (it is
      // not sanitized itself); ASan would refuse to start otherwise.
      const char* old = std::getenv("ASAN_OPTIONS");
      e->set("ASAN_OPTIONS", std::string{old != nullptr ? old : ""} +
                                 ":verify_asan_link_order=0");
    }
    return e;
  }

  zone_env env_;
  std::string window_, fifo_, log_, json_;
};

/// Starts v1_peer's service and waits until it listens.
std::unique_ptr<child> start_peer_service(const board& b,
                                          std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"service", b.json()};
  args.insert(args.end(), extra.begin(), extra.end());
  auto svc = b.peer(std::move(args));
  REQUIRE_MESSAGE(svc->wait_for_output("service: listening", 30s),
                  svc->describe());
  return svc;
}

/// Starts amp-node's service (through `alias_name`, or serve) on the board.
std::unique_ptr<child> start_amp_service(const board& b,
                                         const std::string& alias_name,
                                         std::vector<std::string> args) {
  auto svc = alias_name.empty() ? b.amp(std::move(args))
                                : b.alias(alias_name, std::move(args));
  REQUIRE_MESSAGE(svc->wait_for_output("serving", 60s), svc->describe());
  return svc;
}

struct vector_case {
  std::string data;
  const char* service;
  std::string hex;
};

/// The services' test vectors (hvisor-tool's XOR pad, echo).
const std::vector<vector_case>& vectors() {
  static const std::vector<vector_case> v = {
      {"hello", "1", "164e2c2f12"},
      {"The quick brown fox", "1", "2a4325630c8eee90958222af33ed7449184438"},
      {"ABCDEFGHIJKLMNOPQRS", "1", "3f69030738bdc0bbb7e80b9111d455392f7913"},
      {from_hex("164e2c2f12"), "2", to_hex("hello")},
      {"hello", "66", to_hex("hello")},
  };
  return v;
}

} // namespace

TEST_CASE("v1 board: amp-node hyper_amp_test against hvisor-tool's service") {
  board b;
  auto svc = start_peer_service(b);
  for (const auto& v : vectors()) {
    INFO("data " << to_hex(v.data) << ", service " << v.service);
    // hvisor-tool's own spelling of a binary payload on the command line.
    const std::string arg =
        v.data == from_hex("164e2c2f12") ? "hex:164e2c2f12" : v.data;
    auto c = b.alias("hyper_amp_test", {b.json(), arg, v.service});
    REQUIRE_MESSAGE(c->wait(60s), c->describe());
    CHECK_MESSAGE(c->exit_code() == 0, c->describe() << "\n" << c->out());
    CHECK_MESSAGE(c->out().find("Hex format: " + v.hex + "\n") !=
                      std::string::npos,
                  c->out());
    CHECK(c->out().find("(" + std::to_string(v.hex.size() / 2) + " bytes)\n") !=
          std::string::npos);
  }
  // The lines a script parses, exactly as hvisor-tool prints them.
  auto c = b.alias("hyper_amp", {b.json(), "hello", "1"});
  REQUIRE(c->wait(60s));
  CHECK(c->out().find("Result: [\\x16N,/\\x12] (5 bytes)\nHex format: "
                      "164e2c2f12\n") != std::string::npos);
  CHECK(c->out().find("To decrypt, use: amp-node hyper_amp_test " + b.json() +
                      " hex:164e2c2f12 2\n") != std::string::npos);
  auto d = b.alias("hyper_amp", {b.json(), "hex:164e2c2f12", "2"});
  REQUIRE(d->wait(60s));
  CHECK_MESSAGE(d->out().find("Result: [hello] (5 bytes)\nHex format: "
                              "68656c6c6f\n") != std::string::npos,
                d->out());
  // What the client left: the dump hvisor-tool's client leaves.
  CHECK(b.dump() == "bbbbbbbb ff00 0000 ff00 ff00");
  // Through the board's devices, as on a board.
  const auto log = b.log();
  CHECK(log.find("open /dev/mem O_SYNC") != std::string::npos);
  CHECK(log.find("mmap /dev/mem pa=0xde000000 len=0x400000 MAP_SHARED") !=
        std::string::npos);
  CHECK(log.find("mmap /dev/mem pa=0xde400000 len=0x1000 MAP_SHARED") !=
        std::string::npos);
  CHECK(log.find("mmap /dev/mem pa=0xde410000") != std::string::npos);
  CHECK(log.find("ioctl 10 zone=1 service=1 swi=74 delivered") !=
        std::string::npos);
  CHECK(log.find("ioctl 10 zone=1 service=66 swi=74 delivered") !=
        std::string::npos);
}

TEST_CASE("v1 board: hvisor-tool's client against amp-node "
          "hyper_amp_service") {
  board b;
  auto svc = start_amp_service(b, "hyper_amp_service", {b.json()});
  CHECK(svc->out().find("hvisor-tool's queue at 0xde400000") !=
        std::string::npos);
  CHECK(b.peer_run({"ready", b.json()}) == "eeeeeeee\n");
  for (const auto& v : vectors()) {
    INFO("data " << to_hex(v.data) << ", service " << v.service);
    const auto out = b.peer_run({"client", b.json(), v.data, v.service});
    CHECK_MESSAGE(out.find("Hex format: " + v.hex + "\n") != std::string::npos,
                  out);
  }
  const auto out = b.peer_run({"client", b.json(), "hello", "1"});
  CHECK(out.find("Result: [\\x16N,/\\x12] (5 bytes)\n") != std::string::npos);
  CHECK(b.dump() == "bbbbbbbb ff00 0000 ff00 ff00");
  // hyperamp's service listens on /dev/hshm0 before it says it is ready,
  // and clears the readiness word when it stops.
  const auto log = b.log();
  CHECK(log.find("open /dev/hshm0") != std::string::npos);
  stop_service(*svc);
  CHECK(b.peer_run({"ready", b.json()}) == "00000000\n");
}

TEST_CASE("v1 board: 100 hvisor-tool client runs against amp-node's pools") {
  board b;
  auto svc = start_amp_service(b, "", {"serve", b.json(), "--workers", "4"});
  const char* services[] = {"1", "2", "66"};
  for (int i = 0; i < 100; ++i) {
    const std::string data = "message " + std::to_string(i);
    const std::string service = services[i % 3];
    const auto out = b.peer_run({"client", b.json(), data, service});
    const std::string hex =
        service == std::string{"66"} ? to_hex(data) : to_hex(xor_pad(data));
    INFO("run " << i);
    CHECK_MESSAGE(out.find("Hex format: " + hex + "\n") != std::string::npos,
                  out);
  }
  stop_service(*svc);
}

TEST_CASE("v1 board: 8 hyperamp client actors, 1000 requests, against "
          "hvisor-tool's service") {
  board b;
  auto svc = start_peer_service(b, {"--quiet"});
  auto c = b.alias("hyper_amp_test_mt",
                   {b.json(), "hello", "1", "8", "1000", "--json"});
  const auto r = finish_call(*c, 240s);
  CHECK(r.requests == 1000);
  CHECK(r.ok == 1000);
  for (const auto& one : r.results)
    CHECK(one.hex == "164e2c2f12");
}

TEST_CASE("v1 board: a ring lost before the service listened is rung "
          "again") {
  board b;
  // hvisor-tool's service writes the readiness word before it opens
  // /dev/hshm0; this one opens it only once a ring was lost.
  auto svc = b.peer({"service", b.json(), "--listen-late"});
  auto c = b.alias("hyper_amp_test", {b.json(), "hello", "1"});
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK_MESSAGE(c->exit_code() == 0, c->describe() << "\n" << c->out());
  CHECK(c->out().find("Hex format: 164e2c2f12\n") != std::string::npos);
  const auto log = b.log();
  const auto lost = log.find("service=1 swi=74 dropped");
  REQUIRE(lost != std::string::npos);
  CHECK(log.find("service=1 swi=74 delivered", lost) != std::string::npos);
}

TEST_CASE("v1 board: hyperamp's service looks at the queue once it "
          "listens") {
  board b;
  // A stale readiness word (hvisor-tool's service never clears it): the
  // client sends while nobody listens, and its ring is lost.
  b.peer_run({"set-ready", b.json(), "eeeeeeee"});
  auto cli = b.peer({"client", b.json(), "hello", "1"});
  REQUIRE(b.wait_log("dropped"));
  // A service whose tick would come only after a minute: only the look at
  // start-up can find the request.
  const auto role = b.write("service.toml", R"(role = "service"
zone_id = 1
[region]
layout = "hvisor-tool-v1"
backend = "physical"
[doorbell]
backend = "hvisor"
[timeouts]
heartbeat_ms = 60000
peer_dead_ms = 120001
)");
  auto svc = start_amp_service(b, "", {"serve", role});
  REQUIRE_MESSAGE(cli->wait(30s), cli->describe());
  CHECK_MESSAGE(cli->exit_code() == 0, cli->describe() << "\n" << cli->out());
  CHECK(cli->out().find("Hex format: 164e2c2f12\n") != std::string::npos);
}

TEST_CASE("v1 board: damaged requests fail alone, the service keeps "
          "serving") {
  board b;
  auto svc = start_amp_service(b, "hyper_amp_service", {b.json()});
  struct damage {
    const char* what;
    int rc;
    const char* out;
  };
  const damage cases[] = {
      {"index", 1, "error : HyperAMP service failed [service_id = 66]"},
      {"offset", 1, "error : HyperAMP service failed [service_id = 66]"},
      {"length", 1, "error : HyperAMP service failed [service_id = 66]"},
      {"zero", 1, "error : HyperAMP service failed [service_id = 66]"},
      // The first of the two is served, the one closing the cycle fails.
      {"cycle", 1, "Result: [hello] (5 bytes)"},
      {"head", 0, "head reset to 255, IDLE"},
  };
  for (const auto& d : cases) {
    INFO("damage: " << d.what);
    const auto out = b.peer_run(
        {"client", b.json(), "hello", "66", std::string{"--corrupt="} + d.what},
        d.rc);
    CHECK_MESSAGE(out.find(d.out) != std::string::npos, out);
    // And the next request is served.
    const auto ok = b.peer_run({"client", b.json(), "hello", "1"});
    CHECK(ok.find("Hex format: 164e2c2f12\n") != std::string::npos);
  }
  stop_service(*svc);
  const auto& err = svc->err();
  for (const char* reason :
       {"rejected: an entry's nxt_idx is beyond buf_size",
        "rejected: a message's offset and length reach beyond the buffer",
        "rejected: a message of length 0",
        "rejected: the processing list has a cycle",
        "rejected: proc_ing_h beyond buf_size"})
    CHECK_MESSAGE(err.find(reason) != std::string::npos, err);
}

TEST_CASE("v1 board: a damaged completion fails that request, the client "
          "goes on") {
  struct damage {
    const char* what;
    bool fails;
    const char* reason;
  };
  const damage cases[] = {
      {"length", true, "the service wrote a result length out of range"},
      {"offset", true, "the service changed a request's payload offset"},
      {"none", true, "the service marked a request done without a result"},
      {"index", false, "proc_ing_h beyond buf_size; reset to empty"},
  };
  for (const auto& d : cases) {
    INFO("damage: " << d.what);
    board b;
    auto svc = start_peer_service(b, {std::string{"--bad="} + d.what});
    auto c = b.alias("hyper_amp_test", {b.json(), "hello", "66"});
    REQUIRE_MESSAGE(c->wait(60s), c->describe());
    CHECK_MESSAGE(c->exit_code() == (d.fails ? 1 : 0), c->describe());
    if (d.fails)
      CHECK(c->out().find("error : HyperAMP service failed [service_id = "
                          "66]") != std::string::npos);
    CHECK_MESSAGE(c->err().find(d.reason) != std::string::npos, c->err());
    auto again = b.alias("hyper_amp_test", {b.json(), "hello", "66"});
    REQUIRE(again->wait(60s));
    CHECK_MESSAGE(again->exit_code() == 0, again->describe());
  }
  // The served entry linked to itself and left on the list: taken off,
  // never run twice, every request of the load served.
  board b;
  auto svc = start_peer_service(b, {"--bad=cycle"});
  auto c = b.alias("hyper_amp_test_mt",
                   {b.json(), "hello", "1", "1", "10", "--json"});
  const auto r = finish_call(*c);
  CHECK(r.ok == 10);
  for (const auto& one : r.results)
    CHECK(one.hex == "164e2c2f12"); // transformed once, not twice
  CHECK_MESSAGE(c->err().find("the service left a finished request on the "
                              "processing list") != std::string::npos,
                c->err());
  svc->pump(ms(100));
  CHECK(svc->out().find("message 2:") != std::string::npos);
  CHECK(svc->out().find("message 11:") == std::string::npos);
}

TEST_CASE("v1 host: a window file and a FIFO, amp-node on both sides and "
          "with hvisor-tool's programs") {
  board b;
  const std::string common = R"(
[region]
layout = "hvisor-tool-v1"
backend = "file"
path = ")" + b.window() + R"("
phys_addr = 0xde000000
[doorbell]
backend = "fifo"
fifo = ")" + b.fifo() + R"("
)";
  const auto service_toml =
      b.write("v1-service.toml", "role = \"service\"\nzone_id = 1\n" + common);
  const auto client_toml =
      b.write("v1-client.toml", "role = \"client\"\nzone_id = 0\n" + common);
  {
    auto svc = child::amp({"serve", service_toml});
    REQUIRE_MESSAGE(svc->wait_for_output("serving", 60s), svc->describe());
    auto c = child::amp({"call", client_toml, "hello", "1", "--threads", "4",
                         "--requests", "200", "--json"});
    const auto r = finish_call(*c);
    CHECK(r.ok == 200);
    for (const auto& one : r.results)
      CHECK(one.hex == "164e2c2f12");
    // hvisor-tool's client, under the emulation, on the same file and FIFO.
    const auto out = b.peer_run({"client", b.json(), "hello", "1"});
    CHECK(out.find("Hex format: 164e2c2f12\n") != std::string::npos);
    stop_service(*svc);
  }
  // hvisor-tool's service, and amp-node's host-mode client.
  auto svc = start_peer_service(b);
  auto c = child::amp({"call", client_toml, "hello", "66", "--json"});
  const auto r = finish_call(*c);
  CHECK(r.ok == 1);
  CHECK(r.results.at(0).hex == to_hex("hello"));
}

TEST_CASE("v1: a malformed shm_config.json exits 2 naming the key") {
  board b;
  int i = 0;
  for (const auto& bad : hvisor_json_cases::cases()) {
    INFO(bad.name);
    const auto path = b.write("bad" + std::to_string(i++) + ".json", bad.text);
    const std::string cmd = i % 2 == 0 ? "hyper_amp_test" : "hyper_amp_service";
    std::vector<std::string> args{cmd, path};
    if (cmd == "hyper_amp_test") {
      args.push_back("hello");
      args.push_back("1");
    }
    auto c = child::amp(args);
    REQUIRE_MESSAGE(c->wait(60s), c->describe());
    CHECK_MESSAGE(c->exit_code() == 2, c->describe());
    CHECK(c->out().empty());
    CHECK_MESSAGE(c->err().find("amp-node: " + path + ": ") == 0, c->err());
    CHECK_MESSAGE(c->err().find(bad.expected) != std::string::npos, c->err());
  }
  // A good file without a side.
  auto c = child::amp({b.json()});
  REQUIRE(c->wait(60s));
  CHECK(c->exit_code() == 2);
  CHECK(c->err().find("does not say which side this zone is") !=
        std::string::npos);
}

TEST_CASE("v1 board: no service: the client fails with a clear error") {
  board b;
  const auto role = b.write("client.toml", R"(role = "client"
zone_id = 0
[region]
layout = "hvisor-tool-v1"
backend = "physical"
[doorbell]
backend = "hvisor"
[timeouts]
attach_ms = 300
)");
  auto c = b.amp({"call", role, "hello", "1"});
  REQUIRE_MESSAGE(c->wait(60s), c->describe());
  CHECK(c->exit_code() == 1);
  CHECK_MESSAGE(c->err().find("no service zone is up: the readiness word at "
                              "0xde410000 (/dev/mem) is 0x00000000 after 300 "
                              "ms") != std::string::npos,
                c->err());
}
