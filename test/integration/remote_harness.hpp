// The harness of the remote tests (test/integration/remote_test.cpp and
// test/remote/): role files with a [gateway] section, an `amp-node gateway`
// process and its port, a test certificate authority made with the openssl
// command line, raw TCP connections. No CAF.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"

namespace it {

/// The [gateway] section of a generated role file.
struct gateway_params {
  std::uint32_t port = 0; ///< 0: any free port
  std::string bind = "127.0.0.1";
  std::uint32_t max_connections = 64;
  std::uint32_t max_in_flight = 256;
  std::string allow; ///< "" = every service
  std::string tls_certificate, tls_key, tls_ca;
};

/// Writes dir()/name: the env's client role file with a [gateway] section.
std::string write_gateway_toml(const zone_env& env, const gateway_params& g,
                               const std::string& name = "gateway.toml");

/// A running `amp-node gateway` and the port it listens on.
struct gateway_proc {
  std::unique_ptr<child> proc;
  std::uint16_t port = 0;
  /// "127.0.0.1:<port>", for call --remote.
  std::string address() const;
};

/// Starts `amp-node gateway <toml> extra...` and waits for its "gateway
/// listening on" line; REQUIREs that it comes.
gateway_proc start_gateway(const std::string& toml,
                           std::vector<std::string> extra = {});

/// SIGTERM, then checks that it exits 0 and prints its counters.
void stop_gateway(gateway_proc& g);

/// `amp-node call --remote <address> <data> <sid> --json args...`.
std::unique_ptr<child> remote_call(const std::string& address,
                                   const std::string& data,
                                   const std::string& sid,
                                   std::vector<std::string> args = {});

/// A certificate authority for one test, made with the openssl command
/// line in `dir`: the CA, a gateway and a caller certificate it signed,
/// and a self-signed stranger. All PEM, keys not encrypted.
struct test_pki {
  std::string ca;
  std::string gateway_cert, gateway_key;
  std::string caller_cert, caller_key;
  std::string stranger_cert, stranger_key;
};
test_pki make_test_pki(const std::string& dir);

/// A TCP connection to 127.0.0.1:port (blocking); -1 if it failed.
int connect_tcp(std::uint16_t port);

/// Raises this process's open-file limit to its hard limit (and at least
/// `want` if the hard limit allows); the resulting soft limit.
std::uint64_t raise_file_limit(std::uint64_t want);

/// Completion batches the service has delivered so far: the sum of the
/// client slots' doorbell counters (it rings a client after completing).
std::uint64_t completion_rings(hyperamp::shm::region& r);

/// Waits, reading `c`'s output meanwhile, until the service has delivered
/// `batches` completion batches more than `base`: requests flow. False if
/// `c` exits first or 60 s pass.
bool wait_rings(hyperamp::shm::region& r, child& c, std::uint64_t base,
                std::uint64_t batches);

/// Entries of the region that are not on the free list (read without the
/// lock: exact only while nothing moves).
std::size_t entries_in_use(const zone_env& env);

} // namespace it
