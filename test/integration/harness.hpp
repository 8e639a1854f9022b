// The integration harness: real amp-node processes on a temporary region.
//
// - child: one process started with posix_spawn, stdout and stderr captured
//   through pipes, every wait bounded by a deadline (a child still running
//   at its deadline is killed with SIGKILL and the wait reports failure),
//   killed and reaped by the destructor: the harness never hangs and never
//   leaves a process behind.
// - zone_env: a temporary directory with the role files of one test and a
//   region path of its own (/dev/shm/hyperamp-it-<pid>-<n>), removed at the
//   end.
// - a small JSON reader for `amp-node call --json` and the XOR pad of
//   services 1 and 2, written independently of services/.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "shm/region.hpp"

namespace it {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

// -- programs -----------------------------------------------------------------

/// The amp-node under test: $HYPERAMP_IT_AMP_NODE if set, else AMP_NODE
/// (the build's). The aliases are symlinks next to it.
std::string amp_node();

/// An alias symlink next to amp-node (hyper_amp_test, ...).
std::string alias(const std::string& name);

/// $HYPERAMP_IT_EMULATOR split at spaces: a qemu-user command line that
/// every child is started through (aarch64 binaries on an x86-64 host; see
/// cmake/aarch64-linux-gnu.cmake). Empty when unset.
std::vector<std::string> emulator();

// -- deadlines ----------------------------------------------------------------

/// $HYPERAMP_TEST_TIME_SCALE, a positive integer (default 1): every deadline
/// of the harness (wait, wait_for_output, wait_all, the attach timeout) is
/// multiplied by it, for slow runs such as qemu-user.
int time_scale();
/// `timeout` x time_scale().
ms scaled(ms timeout);
/// The same for a role file's milliseconds.
std::uint32_t scaled_ms(std::uint32_t timeout_ms);

// -- processes ----------------------------------------------------------------

class child {
public:
  /// How the child's stdin is fed.
  enum class stdin_mode {
    closed, ///< `input` is written, then stdin is closed (none: /dev/null)
    open,   ///< `input` is written and stdin stays open: send(), close_stdin()
  };

  /// Whether `exe` is built for the target (amp-node: through emulator())
  /// or a program of the machine the tests run on (openssl: never through it).
  enum class machine { target, host };

  /// Starts `exe` with `argv` (argv[0] included); a target program through
  /// emulator() if one is set (which then passes the path of `exe` as
  /// argv[0]).
  child(const std::string& exe, std::vector<std::string> argv,
        const std::string& input = {}, stdin_mode mode = stdin_mode::closed,
        machine where = machine::target);
  /// Runs amp-node with `args` (argv[0] = the amp-node path).
  static std::unique_ptr<child> amp(std::vector<std::string> args,
                                    const std::string& input = {},
                                    stdin_mode mode = stdin_mode::closed);
  /// Runs the alias `name` (a symlink to amp-node) with `args`.
  static std::unique_ptr<child> alias(const std::string& name,
                                      std::vector<std::string> args);

  /// Kills (SIGKILL) and reaps the process if it is still running.
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& command() const { return command_; }
  bool exited() const { return reaped_; }
  /// Exit status, or -1 if it was killed by a signal (or still runs).
  int exit_code() const { return exit_code_; }
  /// The signal that ended it, or 0.
  int term_signal() const { return term_signal_; }
  /// True if a wait ran into its deadline and killed the process.
  bool timed_out() const { return timed_out_; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

  void signal(int sig);

  /// Writes to the child's stdin (stdin_mode::open; small texts only).
  void send(const std::string& text);
  /// Closes the child's stdin: it reads EOF.
  void close_stdin();

  /// Waits until stdout contains `needle`; false if the process exits first
  /// or the timeout passes (the process keeps running).
  bool wait_for_output(const std::string& needle, ms timeout);

  /// Waits for the exit, reading the output. At the deadline the process is
  /// killed (SIGKILL), reaped, timed_out() is set, and false is returned.
  bool wait(ms timeout);

  /// Reads whatever output is there, waiting at most `timeout` for some;
  /// reaps the process if it has exited. For polling loops.
  void pump(ms timeout);

  /// One line for failure messages: command, status, stderr tail.
  std::string describe() const;

  /// Waits for all of `children` together (one poll over all their pipes).
  /// At the deadline every one still running is killed; false then.
  static bool wait_all(const std::vector<std::unique_ptr<child>>& children,
                       ms timeout);

private:
  friend struct child_access;
  bool try_reap();
  void kill_and_reap();
  // Reads from fd `i` (0 = stdout, 1 = stderr); closes it at EOF.
  void read_fd(int i);

  pid_t pid_ = -1;
  int fds_[2] = {-1, -1};
  int stdin_ = -1;
  std::string out_, err_, command_;
  bool reaped_ = false, timed_out_ = false;
  int exit_code_ = -1, term_signal_ = 0;
};

// -- role files and the region -----------------------------------------------

/// What the generated role files say. The defaults fit a load test: room
/// for 256 client processes of one actor each; the default request, attach
/// and peer-death deadlines scale with time_scale() (values a test sets
/// are written as they are).
struct role_params {
  std::uint32_t entries = 1024;
  std::string payload_size = "64MiB";
  std::uint32_t max_clients = 256;
  std::uint32_t workers = 4;
  std::uint32_t inline_max = 4096; ///< service.inline_max (0: always workers)
  std::uint32_t batch = 32;        ///< service.batch (at most entries)
  std::uint32_t actors = 1;
  std::uint32_t max_in_flight = 8;
  std::uint32_t max_message = 256;
  std::uint32_t request_ms = scaled_ms(30000);
  std::uint32_t heartbeat_ms = 10;
  std::uint32_t peer_dead_ms = scaled_ms(3000);
  std::uint32_t attach_ms = scaled_ms(20000);
  /// region.layout; the default layout is not written into the files.
  std::string layout = "hyperamp";
};

class zone_env {
public:
  explicit zone_env(role_params p = {});
  /// Removes the role files, the directory and the region.
  ~zone_env();
  zone_env(const zone_env&) = delete;
  zone_env& operator=(const zone_env&) = delete;

  const role_params& params() const { return params_; }
  const std::string& dir() const { return dir_; }
  const std::string& region_path() const { return region_; }
  const std::string& service_toml() const { return service_; }
  const std::string& client_toml() const { return client_; }

  /// Writes `text` to dir()/name and returns the path.
  std::string write(const std::string& name, const std::string& text) const;

  std::string service_text() const;
  std::string client_text() const;

  /// Starts `amp-node serve <service.toml> extra...` (or, with `alias_name`,
  /// that alias as program name) and waits for its "serving" line; a
  /// REQUIRE fails if it does not come.
  std::unique_ptr<child> start_service(std::vector<std::string> extra = {},
                                       const std::string& alias_name = {});

  /// The region as the role files describe it, for attaching.
  hyperamp::shm::region_options region_options() const;

  /// After every process has exited: the region's lists are consistent,
  /// every entry is free, the queue lock is free, no slot is claimed (for
  /// the partitioned layout: every ring is empty, no record is held).
  void check_region_clean() const;

private:
  role_params params_;
  std::string dir_, region_, service_, client_;
};

// -- amp-node call --json -----------------------------------------------------

struct json {
  enum kind_t { null_v, bool_v, number_v, string_v, array_v, object_v };
  kind_t kind = null_v;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<json> a;
  std::vector<std::pair<std::string, json>> o;

  /// The member `key` of an object, or nullptr.
  const json* get(const std::string& key) const;
};

/// Parses one JSON value (surrounding white space allowed). Throws
/// std::runtime_error naming the offset of the problem.
json parse_json(const std::string& text);

struct call_result {
  bool ok = false;
  std::string hex;   ///< the result bytes, if ok
  std::string error; ///< the error name, if not
};

struct call_output {
  std::size_t requests = 0, ok = 0, failed = 0;
  std::vector<call_result> results;
};

/// Reads the object `amp-node call --json` prints. Throws
/// std::runtime_error if it is not there or malformed.
call_output parse_call(const std::string& stdout_text);

/// Waits (up to `timeout`) for a `call ... --json` process, checks its exit
/// code is `rc` and returns its parsed output (REQUIREs on failure).
call_output finish_call(child& c, ms timeout = 120s, int rc = 0);

/// Sends SIGTERM to a service zone and checks it exits 0 (REQUIREs).
void stop_service(child& svc);

// -- payloads -----------------------------------------------------------------

std::string to_hex(const std::string& bytes);
std::string from_hex(const std::string& hex);

/// Services 1 and 2: byte i ^ key[i % 16] ^ 0x55, key = 2b7e1516...4f3c.
std::string xor_pad(const std::string& bytes);

} // namespace it
