#include "remote_harness.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <netinet/in.h>
#include <sstream>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "shm/lists.hpp"
#include "shm/participant.hpp"

namespace it {

namespace {

/// `name` on $PATH, or "" if it is not there.
std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs{path != nullptr ? path : "/usr/bin:/bin"};
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

/// Runs `openssl args...` (this machine's, also under an emulator) and
/// REQUIREs that it succeeds.
void openssl(const std::string& exe, std::vector<std::string> args) {
  args.insert(args.begin(), exe);
  child c{exe,
          std::move(args),
          {},
          child::stdin_mode::closed,
          child::machine::host};
  const bool done = c.wait(60s);
  REQUIRE_MESSAGE(done, c.describe());
  REQUIRE_MESSAGE(c.exit_code() == 0, c.describe());
}

} // namespace

std::string write_gateway_toml(const zone_env& env, const gateway_params& g,
                               const std::string& name) {
  std::string text =
      env.client_text() + "[gateway]\nport = " + std::to_string(g.port) +
      "\nbind = \"" + g.bind +
      "\"\nmax_connections = " + std::to_string(g.max_connections) +
      "\nmax_in_flight = " + std::to_string(g.max_in_flight) + "\nallow = \"" +
      g.allow + "\"\n";
  if (!g.tls_certificate.empty())
    text += "tls_certificate = \"" + g.tls_certificate + "\"\n";
  if (!g.tls_key.empty())
    text += "tls_key = \"" + g.tls_key + "\"\n";
  if (!g.tls_ca.empty())
    text += "tls_ca = \"" + g.tls_ca + "\"\n";
  return env.write(name, text);
}

std::string gateway_proc::address() const {
  return "127.0.0.1:" + std::to_string(port);
}

gateway_proc start_gateway(const std::string& toml,
                           std::vector<std::string> extra) {
  extra.insert(extra.begin(), toml);
  extra.insert(extra.begin(), "gateway");
  gateway_proc g;
  g.proc = child::amp(std::move(extra));
  const std::string marker = "gateway listening on ";
  const bool up = g.proc->wait_for_output(marker, 60s);
  REQUIRE_MESSAGE(up, g.proc->describe());
  // "gateway listening on 127.0.0.1:PORT (...)"
  const auto& out = g.proc->out();
  const auto at = out.find(marker) + marker.size();
  const auto colon = out.find(':', at);
  const auto space = out.find(' ', colon);
  REQUIRE(colon != std::string::npos);
  REQUIRE(space != std::string::npos);
  g.port = static_cast<std::uint16_t>(
      std::stoul(out.substr(colon + 1, space - colon - 1)));
  REQUIRE(g.port != 0);
  return g;
}

void stop_gateway(gateway_proc& g) {
  g.proc->signal(SIGTERM);
  const bool finished = g.proc->wait(60s);
  REQUIRE_MESSAGE(finished, g.proc->describe());
  CHECK_MESSAGE(g.proc->exit_code() == 0, g.proc->describe());
  CHECK_MESSAGE(g.proc->out().find("gateway: signal 15, shutting down") !=
                    std::string::npos,
                g.proc->describe());
}

std::unique_ptr<child> remote_call(const std::string& address,
                                   const std::string& data,
                                   const std::string& sid,
                                   std::vector<std::string> args) {
  std::vector<std::string> all{"call", "--remote", address,
                               data,   sid,        "--json"};
  all.insert(all.end(), args.begin(), args.end());
  return child::amp(std::move(all));
}

test_pki make_test_pki(const std::string& dir) {
  const std::string exe = find_program("openssl");
  REQUIRE_MESSAGE(!exe.empty(), "the openssl command is not installed "
                                "(scripts/install-deps installs it)");
  test_pki p;
  p.ca = dir + "/ca.pem";
  const std::string ca_key = dir + "/ca.key";
  const std::vector<std::string> ec = {
      "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  auto with = [](std::vector<std::string> a,
                 const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  openssl(exe, with({"req", "-x509"},
                    with(ec, {"-keyout", ca_key, "-out", p.ca, "-days", "2",
                              "-subj", "/CN=hyperamp test CA"})));
  auto signed_by_ca = [&](const std::string& name, std::string& cert,
                          std::string& key) {
    cert = dir + "/" + name + ".pem";
    key = dir + "/" + name + ".key";
    const std::string csr = dir + "/" + name + ".csr";
    openssl(exe, with({"req"}, with(ec, {"-keyout", key, "-out", csr, "-subj",
                                         "/CN=" + name})));
    openssl(exe, {"x509", "-req", "-in", csr, "-CA", p.ca, "-CAkey", ca_key,
                  "-CAcreateserial", "-out", cert, "-days", "2"});
  };
  signed_by_ca("gateway", p.gateway_cert, p.gateway_key);
  signed_by_ca("caller", p.caller_cert, p.caller_key);
  p.stranger_cert = dir + "/stranger.pem";
  p.stranger_key = dir + "/stranger.key";
  openssl(exe,
          with({"req", "-x509"},
               with(ec, {"-keyout", p.stranger_key, "-out", p.stranger_cert,
                         "-days", "2", "-subj", "/CN=stranger"})));
  return p;
}

int connect_tcp(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint64_t raise_file_limit(std::uint64_t want) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 0;
  if (lim.rlim_cur < want || lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

std::uint64_t completion_rings(hyperamp::shm::region& r) {
  std::uint64_t n = 0;
  for (std::uint32_t s = 1; s <= r.max_clients(); ++s)
    n += r.slot_at(s).bell_seq.load(std::memory_order_acquire);
  return n;
}

bool wait_rings(hyperamp::shm::region& r, child& c, std::uint64_t base,
                std::uint64_t batches) {
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until) {
    if (completion_rings(r) >= base + batches)
      return true;
    if (c.exited())
      return false;
    c.pump(1ms);
  }
  return false;
}

std::size_t entries_in_use(const zone_env& env) {
  namespace shm = hyperamp::shm;
  auto r = shm::region::open(env.region_options());
  REQUIRE_MESSAGE(r, r.message);
  shm::lists l{*r.value};
  const auto c = l.census();
  return r.value->entry_count() - c.free;
}

} // namespace it
