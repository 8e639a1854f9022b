// Processes for the benchmark programs: a forked second process, programs
// started with posix_spawn, waiting with a deadline. No CAF (shm-bench uses
// it, also in the TSan build).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hyperamp::bench {

/// A forked second process, killed and reaped with this object unless it
/// was reaped before. It runs `body(ready, stop)` and leaves with
/// _exit(result): nothing of the parent (stdio buffers, destructors) runs
/// twice. It dies with the parent and drops the parent's signal handlers.
/// It may report on `ready` (report_ready, report_error) and wait for the
/// parent to close `stop` (wait_stop, stop_requested).
class child {
public:
  using body = std::function<int(int ready, int stop)>;

  child() = default;
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// Forks (from a single-threaded parent); false and *error if it failed.
  bool start(const body& b, std::string* error);

  /// False, with the child's message or a timeout, unless it got ready.
  bool await_ready(int timeout_ms, std::string* error);

  /// Its waitpid status once it exited (waiting at most `timeout`; -1 if
  /// it cannot be waited for); nothing while it runs.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);

  /// Asks it to stop, kills it after `timeout_ms`; its exit_code.
  int stop(int timeout_ms);

  void kill() noexcept;

private:
  pid_t pid_ = -1;
  int ready_ = -1;
  int stop_ = -1;
};

/// The running child started last (0: none), for a signal handler.
pid_t current_child() noexcept;

// The child's side of the pipes.
void report_ready(int fd);
void report_error(int fd, const std::string& why);
void wait_stop(int fd);      ///< blocks until asked to stop
bool stop_requested(int fd); ///< does not block

/// Starts the program argv[0] (a path) with stdout to /dev/null and stderr
/// appended to `log`; -1 if it could not start.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log);

/// Blocks until `pid` ends; its exit_code (-1 if it cannot be waited for).
int wait_exit(pid_t pid);

/// The exit code in a waitpid status: -signal if killed, -1 otherwise.
int exit_code(int status);

/// Writes all `n` bytes (again after EINTR); false on an error.
bool write_all(int fd, const void* data, std::size_t n);

} // namespace hyperamp::bench
