#include "harness.hpp"
#include "shm/partitioned_layout.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <doctest/doctest.h>

#include "shm/lists.hpp"
#include "shm/participant.hpp"

extern char** environ;

namespace it {

namespace {

using clock_type = std::chrono::steady_clock;

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

int remaining_ms(clock_type::time_point deadline, int cap) {
  const auto left =
      std::chrono::duration_cast<ms>(deadline - clock_type::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, cap));
}

/// One poll over the open pipes of `children`, then a non-blocking reap of
/// each. Waits at most `wait_ms` for output; with no pipe open it waits a
/// short while for the exit instead.
template <class Read, class Reap>
void poll_round(std::vector<std::pair<int, std::pair<child*, int>>>& fds,
                int wait_ms, Read read, Reap reap) {
  std::vector<pollfd> p;
  for (auto& f : fds)
    p.push_back(pollfd{f.first, POLLIN, 0});
  if (p.empty()) {
    std::this_thread::sleep_for(ms(std::min(wait_ms, 2)));
  } else if (::poll(p.data(), p.size(), wait_ms) > 0) {
    for (std::size_t i = 0; i < p.size(); ++i)
      if (p[i].revents != 0)
        read(fds[i].second.first, fds[i].second.second);
  }
  for (auto& f : fds)
    reap(f.second.first);
}

void ignore_sigpipe_once() {
  static std::atomic<bool> done{false};
  if (!done.exchange(true))
    std::signal(SIGPIPE, SIG_IGN);
}

} // namespace

// Lets the free helpers reach child's private members.
struct child_access {
  static void read(child* c, int i) { c->read_fd(i); }
  static bool reap(child* c) { return c->try_reap(); }
  static bool done(const child* c) {
    return c->reaped_ && c->fds_[0] < 0 && c->fds_[1] < 0;
  }
  static void open_fds(child* c,
                       std::vector<std::pair<int, std::pair<child*, int>>>& v) {
    for (int i = 0; i < 2; ++i)
      if (c->fds_[i] >= 0)
        v.push_back({c->fds_[i], {c, i}});
  }
  static void give_up(child* c) {
    c->timed_out_ = true;
    c->kill_and_reap();
    for (int i = 0; i < 2; ++i) {
      if (c->fds_[i] >= 0) {
        c->read_fd(i);
        if (c->fds_[i] >= 0) {
          ::close(c->fds_[i]);
          c->fds_[i] = -1;
        }
      }
    }
  }
};

// -- programs -----------------------------------------------------------------

std::string amp_node() {
  // Another build of amp-node (say, of an older commit) may be tested with
  // the same harness.
  if (const char* other = std::getenv("HYPERAMP_IT_AMP_NODE"))
    return other;
  return AMP_NODE;
}

std::string alias(const std::string& name) {
  const std::string p = amp_node();
  return p.substr(0, p.find_last_of('/') + 1) + name;
}

std::vector<std::string> emulator() {
  std::vector<std::string> words;
  if (const char* e = std::getenv("HYPERAMP_IT_EMULATOR")) {
    std::string w;
    for (const char* c = e;; ++c) {
      if (*c == ' ' || *c == '\0') {
        if (!w.empty())
          words.push_back(std::move(w));
        w.clear();
        if (*c == '\0')
          break;
      } else {
        w += *c;
      }
    }
  }
  return words;
}

// -- deadlines ----------------------------------------------------------------

int time_scale() {
  static const int scale = [] {
    const char* s = std::getenv("HYPERAMP_TEST_TIME_SCALE");
    const long f = s != nullptr ? std::strtol(s, nullptr, 10) : 1;
    return f > 0 && f < 1000 ? static_cast<int>(f) : 1;
  }();
  return scale;
}

ms scaled(ms timeout) {
  return timeout * time_scale();
}

std::uint32_t scaled_ms(std::uint32_t timeout_ms) {
  return timeout_ms * static_cast<std::uint32_t>(time_scale());
}

// -- child --------------------------------------------------------------------

child::child(const std::string& exe, std::vector<std::string> argv,
             const std::string& input, stdin_mode mode, machine where) {
  ignore_sigpipe_once();
  for (const auto& a : argv)
    command_ += (command_.empty() ? "" : " ") + a;
  int out[2], err[2], in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error(errno_text("pipe2"));
  if (::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error(errno_text("pipe2"));
  if ((!input.empty() || mode == stdin_mode::open) &&
      ::pipe2(in, O_CLOEXEC) != 0)
    throw std::runtime_error(errno_text("pipe2"));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in[0] >= 0)
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  // The child starts with the default disposition of the signals the tests
  // use and an empty mask, whatever the harness does with them.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // Under an emulator: `emulator... exe argv[1]...` (qemu-user gives the
  // program the path of exe as argv[0], which is what amp() and alias()
  // pass anyway).
  std::vector<std::string> emu =
      where == machine::target ? emulator() : std::vector<std::string>{};
  const std::string program = emu.empty() ? exe : emu.front();
  if (!emu.empty()) {
    emu.push_back(exe);
    emu.insert(emu.end(), argv.begin() + (argv.empty() ? 0 : 1), argv.end());
    argv = std::move(emu);
  }
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  const int rc =
      ::posix_spawnp(&pid_, program.c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (in[0] >= 0)
    ::close(in[0]);
  fds_[0] = out[0];
  fds_[1] = err[0];
  for (int fd : fds_)
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (rc != 0) {
    pid_ = -1;
    reaped_ = true;
    for (int fd : {fds_[0], fds_[1], in[1]})
      if (fd >= 0)
        ::close(fd);
    errno = rc;
    throw std::runtime_error(errno_text("posix_spawn " + program));
  }
  stdin_ = in[1];
  send(input);
  if (mode == stdin_mode::closed)
    close_stdin();
}

void child::send(const std::string& text) {
  // Small texts only: they fit the pipe, so this does not block.
  std::size_t at = 0;
  while (stdin_ >= 0 && at < text.size()) {
    const ssize_t n = ::write(stdin_, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    at += static_cast<std::size_t>(n);
  }
}

void child::close_stdin() {
  if (stdin_ >= 0)
    ::close(stdin_);
  stdin_ = -1;
}

std::unique_ptr<child> child::amp(std::vector<std::string> args,
                                  const std::string& input, stdin_mode mode) {
  args.insert(args.begin(), amp_node());
  return std::make_unique<child>(amp_node(), std::move(args), input, mode);
}

std::unique_ptr<child> child::alias(const std::string& name,
                                    std::vector<std::string> args) {
  const std::string exe = it::alias(name);
  args.insert(args.begin(), exe);
  return std::make_unique<child>(exe, std::move(args));
}

child::~child() {
  close_stdin();
  if (!reaped_)
    kill_and_reap();
  for (int& fd : fds_)
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
}

void child::signal(int sig) {
  if (!reaped_)
    ::kill(pid_, sig);
}

bool child::try_reap() {
  if (reaped_)
    return true;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r != pid_)
    return false;
  reaped_ = true;
  if (WIFEXITED(st))
    exit_code_ = WEXITSTATUS(st);
  else if (WIFSIGNALED(st))
    term_signal_ = WTERMSIG(st);
  return true;
}

void child::kill_and_reap() {
  if (reaped_)
    return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFEXITED(st))
    exit_code_ = WEXITSTATUS(st);
  else if (WIFSIGNALED(st))
    term_signal_ = WTERMSIG(st);
}

void child::read_fd(int i) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fds_[i], buf, sizeof buf);
    if (n > 0) {
      (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    ::close(fds_[i]); // EOF or an error: this pipe is done
    fds_[i] = -1;
    return;
  }
}

void child::pump(ms timeout) {
  std::vector<std::pair<int, std::pair<child*, int>>> fds;
  child_access::open_fds(this, fds);
  if (fds.empty()) {
    if (!try_reap())
      std::this_thread::sleep_for(std::min(timeout, ms(2)));
    try_reap();
    return;
  }
  poll_round(
      fds, static_cast<int>(timeout.count()),
      [](child* c, int i) { child_access::read(c, i); },
      [](child* c) { child_access::reap(c); });
}

bool child::wait_for_output(const std::string& needle, ms timeout) {
  const auto deadline = clock_type::now() + scaled(timeout);
  for (;;) {
    if (out_.find(needle) != std::string::npos)
      return true;
    if (child_access::done(this) || clock_type::now() >= deadline)
      return false;
    pump(ms(remaining_ms(deadline, 50)));
  }
}

bool child::wait(ms timeout) {
  const auto deadline = clock_type::now() + scaled(timeout);
  while (!child_access::done(this)) {
    if (clock_type::now() >= deadline) {
      child_access::give_up(this);
      return false;
    }
    pump(ms(remaining_ms(deadline, 50)));
  }
  return true;
}

bool child::wait_all(const std::vector<std::unique_ptr<child>>& children,
                     ms timeout) {
  const auto deadline = clock_type::now() + scaled(timeout);
  for (;;) {
    std::vector<std::pair<int, std::pair<child*, int>>> fds;
    std::vector<child*> pending;
    for (const auto& c : children) {
      if (!child_access::done(c.get())) {
        pending.push_back(c.get());
        child_access::open_fds(c.get(), fds);
      }
    }
    if (pending.empty())
      return true;
    if (clock_type::now() >= deadline) {
      for (auto* c : pending)
        child_access::give_up(c);
      return false;
    }
    if (fds.empty()) {
      std::this_thread::sleep_for(ms(std::min(remaining_ms(deadline, 2), 2)));
      for (auto* c : pending)
        child_access::reap(c);
      continue;
    }
    poll_round(
        fds, remaining_ms(deadline, 50),
        [](child* c, int i) { child_access::read(c, i); },
        [](child* c) { child_access::reap(c); });
  }
}

std::string child::describe() const {
  std::string s = "`" + command_ + "`";
  if (timed_out_)
    s += " timed out (killed)";
  else if (!reaped_)
    s += " still running";
  else if (term_signal_ != 0)
    s += " killed by signal " + std::to_string(term_signal_);
  else
    s += " exited " + std::to_string(exit_code_);
  auto tail = [](const std::string& t) {
    return t.size() > 1500 ? "..." + t.substr(t.size() - 1500) : t;
  };
  s += "\n--- stderr:\n" + tail(err_) + "\n--- stdout:\n" + tail(out_);
  return s;
}

// -- zone_env -----------------------------------------------------------------

zone_env::zone_env(role_params p) : params_(std::move(p)) {
  static std::atomic<int> counter{0};
  char tmpl[] = "/tmp/hyperamp-it-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error(errno_text("mkdtemp"));
  dir_ = tmpl;
  region_ = "/dev/shm/hyperamp-it-" + std::to_string(::getpid()) + "-" +
            std::to_string(++counter);
  ::unlink(region_.c_str()); // a leftover of an earlier run with this pid
  service_ = write("service.toml", service_text());
  client_ = write("client.toml", client_text());
}

zone_env::~zone_env() {
  ::unlink(region_.c_str());
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string zone_env::write(const std::string& name,
                            const std::string& text) const {
  const std::string path = dir_ + "/" + name;
  std::ofstream f{path, std::ios::binary | std::ios::trunc};
  f << text;
  f.close();
  if (!f)
    throw std::runtime_error("cannot write " + path);
  return path;
}

namespace {

std::string region_section(const role_params& p, const std::string& path) {
  return "[region]\npath = \"" + path +
         "\"\nentries = " + std::to_string(p.entries) + "\npayload_size = \"" +
         p.payload_size + "\"\nmax_clients = " + std::to_string(p.max_clients) +
         "\ncreate = \"auto\"\n" +
         (p.layout == "hyperamp" ? "" : "layout = \"" + p.layout + "\"\n");
}

std::string timeouts_section(const role_params& p) {
  return "[timeouts]\nrequest_ms = " + std::to_string(p.request_ms) +
         "\nheartbeat_ms = " + std::to_string(p.heartbeat_ms) +
         "\npeer_dead_ms = " + std::to_string(p.peer_dead_ms) +
         "\nattach_ms = " + std::to_string(p.attach_ms) + "\n";
}

} // namespace

std::string zone_env::service_text() const {
  return "role = \"service\"\nzone_id = 1\n" +
         region_section(params_, region_) +
         "[service]\nworkers = " + std::to_string(params_.workers) +
         "\ninline_max = " + std::to_string(params_.inline_max) +
         "\nbatch = " + std::to_string(params_.batch) + "\n" +
         timeouts_section(params_);
}

std::string zone_env::client_text() const {
  return "role = \"client\"\nzone_id = 0\n" + region_section(params_, region_) +
         "[client]\nactors = " + std::to_string(params_.actors) +
         "\nmax_in_flight = " + std::to_string(params_.max_in_flight) +
         "\nmax_message = " + std::to_string(params_.max_message) + "\n" +
         timeouts_section(params_);
}

std::unique_ptr<child> zone_env::start_service(std::vector<std::string> extra,
                                               const std::string& alias_name) {
  std::unique_ptr<child> c;
  extra.insert(extra.begin(), service_);
  if (alias_name.empty()) {
    extra.insert(extra.begin(), "serve");
    c = child::amp(std::move(extra));
  } else {
    c = child::alias(alias_name, std::move(extra));
  }
  const bool serving = c->wait_for_output(" serving " + region_, 60s);
  REQUIRE_MESSAGE(serving, c->describe());
  return c;
}

hyperamp::shm::region_options zone_env::region_options() const {
  hyperamp::shm::region_options o;
  o.path = region_;
  o.entries = params_.entries;
  o.max_clients = params_.max_clients;
  o.payload_size = 0;
  // payload_size as the role file gives it: "<n>MiB" or "<n>KiB" or bytes.
  const std::string& s = params_.payload_size;
  std::uint64_t mult = 1;
  if (s.size() > 3 && s.compare(s.size() - 3, 3, "MiB") == 0)
    mult = 1u << 20;
  else if (s.size() > 3 && s.compare(s.size() - 3, 3, "KiB") == 0)
    mult = 1u << 10;
  o.payload_size = std::stoull(s) * mult;
  o.create = hyperamp::shm::create_mode::attach;
  o.attach_timeout = scaled(2s);
  o.layout = params_.layout == "partitioned"
                 ? hyperamp::shm::wire_layout::partitioned
                 : hyperamp::shm::wire_layout::hyperamp;
  return o;
}

void zone_env::check_region_clean() const {
  namespace shm = hyperamp::shm;
  auto r = shm::region::open(region_options());
  REQUIRE_MESSAGE(r, r.message);
  auto& reg = *r.value;
  CHECK(reg.header().queue_lock.load() == 0u);
  for (std::uint32_t s = 0; s <= reg.max_clients(); ++s) {
    INFO("slot " << s << " (pid " << reg.slot_at(s).pid << ")");
    CHECK_FALSE(shm::is_active(reg.slot_at(s)));
  }
  if (reg.geo().layout == shm::wire_layout::partitioned) {
    for (std::uint32_t s = 1; s <= reg.max_clients(); ++s) {
      INFO("ring of slot " << s);
      const auto& rc = shm::ring_of(reg, s);
      CHECK(rc.req_head.load() == rc.req_tail.load());
      CHECK(rc.resp_head.load() == rc.resp_tail.load());
    }
    std::uint32_t held = 0;
    for (std::uint32_t i = 0; i < reg.entry_count(); ++i)
      held += shm::record_at(reg, i).state.load() != 0;
    CHECK(held == 0u);
    return;
  }
  shm::lists l{reg};
  const auto c = l.census();
  INFO("census: free " << c.free << " submitted " << c.submitted
                       << " in_service " << c.in_service << " completed "
                       << c.completed << " client " << c.client << " of "
                       << reg.entry_count());
  CHECK(c.consistent);
  CHECK(c.submitted == 0u);
  CHECK(c.in_service == 0u);
  CHECK(c.completed == 0u);
  CHECK(c.client == 0u);
  CHECK(c.free == reg.entry_count());
}

// -- json ---------------------------------------------------------------------

const json* json::get(const std::string& key) const {
  for (const auto& kv : o)
    if (kv.first == key)
      return &kv.second;
  return nullptr;
}

namespace {

class json_reader {
public:
  explicit json_reader(const std::string& t) : t_(t) {}

  json parse() {
    json v = value();
    ws();
    if (i_ != t_.size())
      fail("trailing characters");
    return v;
  }

private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("json: " + why + " at offset " +
                             std::to_string(i_));
  }
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' ||
                              t_[i_] == '\r' || t_[i_] == '\t'))
      ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c))
      fail(std::string{"expected '"} + c + "'");
  }
  bool word(const char* w) {
    const std::size_t n = std::strlen(w);
    if (t_.compare(i_, n, w) == 0) {
      i_ += n;
      return true;
    }
    return false;
  }
  json value() {
    ws();
    if (i_ >= t_.size())
      fail("unexpected end");
    json v;
    const char c = t_[i_];
    if (c == '{') {
      ++i_;
      v.kind = json::object_v;
      if (eat('}'))
        return v;
      do {
        ws();
        std::string k = string();
        expect(':');
        v.o.emplace_back(std::move(k), value());
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.kind = json::array_v;
      if (eat(']'))
        return v;
      do
        v.a.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = json::string_v;
      v.s = string();
    } else if (word("true")) {
      v.kind = json::bool_v;
      v.b = true;
    } else if (word("false")) {
      v.kind = json::bool_v;
    } else if (word("null")) {
      v.kind = json::null_v;
    } else {
      const char* start = t_.c_str() + i_;
      char* end = nullptr;
      v.n = std::strtod(start, &end);
      if (end == start)
        fail("unexpected character");
      v.kind = json::number_v;
      i_ += static_cast<std::size_t>(end - start);
    }
    return v;
  }
  std::string string() {
    if (i_ >= t_.size() || t_[i_] != '"')
      fail("expected a string");
    ++i_;
    std::string s;
    while (i_ < t_.size() && t_[i_] != '"') {
      char c = t_[i_++];
      if (c != '\\') {
        s += c;
        continue;
      }
      if (i_ >= t_.size())
        fail("unterminated escape");
      c = t_[i_++];
      switch (c) {
      case 'n':
        s += '\n';
        break;
      case 't':
        s += '\t';
        break;
      case 'r':
        s += '\r';
        break;
      case 'b':
        s += '\b';
        break;
      case 'f':
        s += '\f';
        break;
      case 'u': {
        if (i_ + 4 > t_.size())
          fail("short \\u escape");
        const unsigned long cp = std::stoul(t_.substr(i_, 4), nullptr, 16);
        i_ += 4;
        if (cp < 0x80) {
          s += static_cast<char>(cp);
        } else if (cp < 0x800) {
          s += static_cast<char>(0xC0 | (cp >> 6));
          s += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
          s += static_cast<char>(0xE0 | (cp >> 12));
          s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          s += static_cast<char>(0x80 | (cp & 0x3F));
        }
        break;
      }
      default:
        s += c; // \" \\ \/
      }
    }
    if (i_ >= t_.size())
      fail("unterminated string");
    ++i_;
    return s;
  }

  const std::string& t_;
  std::size_t i_ = 0;
};

std::size_t count_of(const json& obj, const char* key) {
  const json* v = obj.get(key);
  if (v == nullptr || v->kind != json::number_v)
    throw std::runtime_error(std::string{"call json: no number \""} + key +
                             "\"");
  return static_cast<std::size_t>(v->n);
}

} // namespace

json parse_json(const std::string& text) {
  return json_reader{text}.parse();
}

call_output parse_call(const std::string& stdout_text) {
  const auto at = stdout_text.find('{');
  if (at == std::string::npos)
    throw std::runtime_error("call json: no object in the output");
  const json j = parse_json(stdout_text.substr(at));
  call_output out;
  out.requests = count_of(j, "requests");
  out.ok = count_of(j, "ok");
  out.failed = count_of(j, "failed");
  const json* results = j.get("results");
  if (results == nullptr || results->kind != json::array_v)
    throw std::runtime_error("call json: no \"results\" array");
  for (const auto& r : results->a) {
    call_result c;
    const json* ok = r.get("ok");
    if (ok == nullptr || ok->kind != json::bool_v)
      throw std::runtime_error("call json: a result without \"ok\"");
    c.ok = ok->b;
    if (const json* h = r.get("hex"); h != nullptr)
      c.hex = h->s;
    if (const json* e = r.get("error"); e != nullptr)
      c.error = e->s;
    if (c.ok && r.get("hex") == nullptr)
      throw std::runtime_error("call json: an ok result without \"hex\"");
    if (!c.ok && r.get("error") == nullptr)
      throw std::runtime_error("call json: a failed result without \"error\"");
    out.results.push_back(std::move(c));
  }
  return out;
}

call_output finish_call(child& c, ms timeout, int rc) {
  const bool finished = c.wait(timeout);
  REQUIRE_MESSAGE(finished, c.describe());
  REQUIRE_MESSAGE(c.exit_code() == rc, c.describe());
  call_output out;
  try {
    out = parse_call(c.out());
  } catch (const std::exception& e) {
    FAIL(e.what() << "\n" << c.describe());
  }
  REQUIRE(out.results.size() == out.requests);
  REQUIRE(out.ok + out.failed == out.requests);
  return out;
}

void stop_service(child& svc) {
  svc.signal(SIGTERM);
  const bool finished = svc.wait(60s);
  REQUIRE_MESSAGE(finished, svc.describe());
  REQUIRE_MESSAGE(svc.exit_code() == 0, svc.describe());
}

// -- payloads -----------------------------------------------------------------

std::string to_hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string h;
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    h += digits[b >> 4];
    h += digits[b & 15];
  }
  return h;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string xor_pad(const std::string& bytes) {
  static const unsigned char key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae,
                                        0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88,
                                        0x09, 0xcf, 0x4f, 0x3c};
  std::string out = bytes;
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(static_cast<unsigned char>(out[i]) ^
                               key[i % 16] ^ 0x55);
  return out;
}

} // namespace it
