#include "bench/common/proc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "bench/common/report.hpp"

extern char** environ;

namespace hyperamp::bench {

namespace {

std::atomic<pid_t> g_current{0};

void close_fd(int& fd) noexcept {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

[[noreturn]] void run_child(const child::body& b, pid_t parent, int ready,
                            int stop) {
  ::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(SIGKILL));
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    struct sigaction sa {};
    if (::sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler != SIG_IGN)
      ::signal(sig, SIG_DFL);
  }
  int rc = 1;
  if (::getppid() == parent) { // else the parent died before the prctl
    try {
      rc = b(ready, stop);
    } catch (const std::exception& e) {
      progress(std::string{"peer process: error: "} + e.what());
      report_error(ready, e.what());
    }
  }
  std::cout.flush();
  std::cerr.flush();
  ::_exit(rc);
}

} // namespace

child::~child() {
  kill();
  close_fd(ready_);
  close_fd(stop_);
}

bool child::start(const body& b, std::string* error) {
  int rp[2] = {-1, -1}, sp[2] = {-1, -1};
  if (::pipe2(rp, O_CLOEXEC) != 0 || ::pipe2(sp, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    for (int fd : {rp[0], rp[1], sp[0], sp[1]})
      close_fd(fd);
    return false;
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::close(rp[0]);
    ::close(sp[1]);
    run_child(b, parent, rp[1], sp[0]);
  }
  if (pid_ < 0)
    *error = std::string("fork: ") + std::strerror(errno);
  else
    g_current.store(pid_);
  ::close(rp[1]);
  ::close(sp[0]);
  ready_ = rp[0];
  stop_ = sp[1];
  return pid_ > 0;
}

bool child::await_ready(int timeout_ms, std::string* error) {
  pollfd p{ready_, POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  char buf[2048];
  const ssize_t got = n > 0 ? ::read(ready_, buf, sizeof buf) : 0;
  if (got >= 1 && buf[0] == 'R')
    return true;
  *error = n == 0 ? "the second process did not get ready within " +
                        std::to_string(timeout_ms) + " ms"
           : got > 1 ? std::string(buf + 1, static_cast<std::size_t>(got - 1))
                     : "the second process exited before it was ready";
  return false;
}

std::optional<int> child::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return -1;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) {
      pid_t p = pid_;
      g_current.compare_exchange_strong(p, 0);
      pid_ = -1;
      return r < 0 ? -1 : st;
    }
    if (std::chrono::steady_clock::now() >= until)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int child::stop(int timeout_ms) {
  if (pid_ <= 0)
    return -1;
  close_fd(stop_);
  auto st = wait_for(std::chrono::milliseconds(timeout_ms));
  if (!st) {
    progress("second process " + std::to_string(pid_) + " did not stop in " +
             std::to_string(timeout_ms) + " ms; killing it");
    kill();
    st = W_EXITCODE(0, SIGKILL);
  }
  close_fd(ready_);
  return exit_code(*st);
}

void child::kill() noexcept {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  wait_for(std::chrono::hours(1));
}

pid_t current_child() noexcept {
  return g_current.load();
}

void report_ready(int fd) {
  write_all(fd, "R", 1);
}

void report_error(int fd, const std::string& why) {
  write_all(fd, ("E" + why).data(), why.size() + 1);
}

void wait_stop(int fd) {
  char c; // a byte, EOF (closed) or an error: stop in every case
  while (::read(fd, &c, 1) < 0 && errno == EINTR) {
  }
}

bool stop_requested(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int wait_exit(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return exit_code(st);
}

int exit_code(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

bool write_all(int fd, const void* data, std::size_t n) {
  for (const auto* p = static_cast<const char*>(data); n > 0;) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

} // namespace hyperamp::bench
