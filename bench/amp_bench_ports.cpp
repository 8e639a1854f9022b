// amp-bench through the queue ports (amp_bench_ports.hpp): a service
// process and 1..16 client processes, forked from the (single-threaded)
// parent, sharing one block of counters and samples in an anonymous shared
// mapping. No CAF in this translation unit.
#include "bench/amp_bench_ports.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "bench/common/memory.hpp"
#include "bench/common/proc.hpp"
#include "bench/common/stats.hpp"
#include "shm/locked_ports.hpp"
#include "shm/ports.hpp"

namespace hyperamp::bench {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::uint32_t k_max_clients = 16;
constexpr std::uint32_t k_zones = k_max_clients + 1; ///< + the service
constexpr std::uint32_t k_lat_samples = 8192;        ///< per client
constexpr std::uint32_t k_hold_samples = 4096;       ///< per zone
constexpr std::uint32_t k_echo = 66;

/// Everything the processes of one run share.
struct run_state {
  std::atomic<std::uint32_t> phase{0}; ///< 0 wait, 1 warm, 2 timed, 3 stop
  std::atomic<std::uint32_t> failed{0};
  std::uint64_t count[k_max_clients];
  double seconds[k_max_clients];
  std::uint32_t lat_n[k_max_clients];
  float lat_us[k_max_clients][k_lat_samples];
  // queue_lock, by zone (clients 0..15, the service 16)
  std::uint64_t acquisitions[k_zones], contended[k_zones], yields[k_zones];
  std::uint32_t hold_n[k_zones];
  std::uint32_t hold_ns[k_zones][k_hold_samples];
};

shm::zone_options zone_of(const ports_config& c, const std::string& path,
                          bool service) {
  shm::zone_options o;
  o.region = region_options(path, 1024, k_max_clients, 16u << 20,
                            service ? shm::create_mode::auto_
                                    : shm::create_mode::attach,
                            std::chrono::seconds(10));
  o.region.layout = c.layout;
  o.zone_id = service ? 1 : 0;
  o.bell.kind = shm::bell_kind::futex;
  o.bell.spin = c.polling
                    ? std::chrono::nanoseconds(std::chrono::seconds(1))
                    : std::chrono::nanoseconds(std::chrono::microseconds(50));
  o.peer_dead = std::chrono::seconds(5);
  o.measure_lock = c.measure_lock;
  return o;
}

/// Copies what a locked port measured into zone `z` of the state.
template <class Port>
void save_lock(run_state& st, std::uint32_t z, Port* p) {
  if (p == nullptr)
    return;
  const shm::lock_stats& s = p->lock_measured();
  st.acquisitions[z] = s.acquisitions;
  st.contended[z] = s.contended;
  st.yields[z] = s.yields;
  const auto n = static_cast<std::uint32_t>(
      std::min<std::size_t>(s.hold_ns.size(), k_hold_samples));
  std::copy(s.hold_ns.begin(), s.hold_ns.begin() + n, st.hold_ns[z]);
  st.hold_n[z] = n;
}

int service_body(const ports_config& c, const std::string& path, run_state& st,
                 int ready, int stop) {
  auto r = shm::open_service_port(zone_of(c, path, true));
  if (!r) {
    report_error(ready, r.error);
    return 1;
  }
  shm::service_port& s = *r.port;
  s.abort_predecessor();
  report_ready(ready);
  std::vector<shm::incoming> in(64);
  std::vector<shm::outcome> out(64);
  for (;;) {
    const auto got = s.take_submitted(in.data(), in.size());
    for (std::size_t i = 0; i < got.count; ++i)
      out[i] = {in[i].ticket, shm::wire_status::ok, in[i].length};
    s.complete(out.data(), got.count);
    if (got.st == shm::status::ok)
      continue;
    if (stop_requested(stop))
      break;
    s.wait_bell().wait(clock_type::now() + std::chrono::milliseconds(20));
  }
  save_lock(st, k_max_clients,
            dynamic_cast<shm::locked_service_port*>(r.port.get()));
  s.leave();
  return 0;
}

/// One client process: keeps `window` requests in flight until told to
/// stop; counts and samples only in the timed phase.
class pipeline {
public:
  pipeline(shm::client_port& p, const ports_config& c, run_state& st,
           std::uint32_t id)
      : p_(p),
        c_(c),
        st_(st),
        id_(id),
        sent_at_(p.tickets()),
        seq_of_(p.tickets()),
        sizes_(c.window, c.payload),
        leases_(c.window),
        descs_(c.window),
        done_(c.window) {}

  void run() {
    std::uint64_t in_flight = 0, counted = 0;
    clock_type::time_point t0{};
    while (st_.phase.load(std::memory_order_acquire) < 3) {
      in_flight += fill(in_flight);
      const bool timed = st_.phase.load(std::memory_order_relaxed) == 2;
      if (timed && counted == 0 && t0 == clock_type::time_point{})
        t0 = clock_type::now();
      const std::size_t n = collect(timed, &counted);
      in_flight -= n;
      if (n == 0)
        p_.wait_bell().wait(clock_type::now() + std::chrono::milliseconds(10));
    }
    const auto t1 = clock_type::now();
    st_.count[id_] = counted;
    st_.seconds[id_] = std::chrono::duration<double>(t1 - t0).count();
    drain(in_flight);
  }

private:
  std::size_t fill(std::uint64_t in_flight) {
    const std::size_t want = c_.window - in_flight;
    if (want == 0)
      return 0;
    const auto got = p_.acquire(sizes_.data(), want, leases_.data());
    const auto now = clock_type::now();
    for (std::size_t i = 0; i < got.count; ++i) {
      std::memset(leases_[i].data, 0x5A, c_.payload);
      descs_[i] = {leases_[i].ticket, next_seq_, k_echo, c_.payload};
      seq_of_[leases_[i].ticket] = next_seq_++;
      sent_at_[leases_[i].ticket] = now;
    }
    const auto sub = p_.submit(descs_.data(), got.count);
    for (std::size_t i = sub.count; i < got.count; ++i)
      p_.release(&descs_[i].ticket, 1);
    return sub.count;
  }

  std::size_t collect(bool timed, std::uint64_t* counted) {
    const auto got = p_.take_completed(done_.data(), done_.size());
    const auto now = clock_type::now();
    for (std::size_t i = 0; i < got.count; ++i) {
      const shm::completion& x = done_[i];
      if (x.why != nullptr || x.result != shm::wire_status::ok ||
          x.done_seq != seq_of_[x.ticket])
        st_.failed.fetch_add(1, std::memory_order_relaxed);
      if (timed) {
        ++*counted;
        // Every request's round trip while the window is filling, then
        // about one in 16.
        std::uint32_t& n = st_.lat_n[id_];
        if (n < k_lat_samples &&
            (*counted < k_lat_samples / 2 || *counted % 16 == 0))
          st_.lat_us[id_][n++] =
              static_cast<float>(std::chrono::duration<double, std::micro>(
                                     now - sent_at_[x.ticket])
                                     .count());
      }
      p_.release(&x.ticket, 1);
    }
    return got.count;
  }

  void drain(std::uint64_t in_flight) {
    const auto until = clock_type::now() + std::chrono::seconds(2);
    while (in_flight > 0 && clock_type::now() < until) {
      std::uint64_t ignored = 0;
      const std::size_t n = collect(false, &ignored);
      in_flight -= n;
      if (n == 0)
        p_.wait_bell().wait(clock_type::now() + std::chrono::milliseconds(10));
    }
  }

  shm::client_port& p_;
  const ports_config& c_;
  run_state& st_;
  std::uint32_t id_;
  std::uint64_t next_seq_ = 1;
  std::vector<clock_type::time_point> sent_at_; ///< by ticket
  std::vector<std::uint64_t> seq_of_;           ///< by ticket
  std::vector<std::uint32_t> sizes_;
  std::vector<shm::lease> leases_;
  std::vector<shm::request_desc> descs_;
  std::vector<shm::completion> done_;
};

int client_body(const ports_config& c, const std::string& path, run_state& st,
                std::uint32_t id, int ready) {
  auto r = shm::open_client_port(zone_of(c, path, false));
  if (!r) {
    report_error(ready, r.error);
    return 1;
  }
  report_ready(ready);
  while (st.phase.load(std::memory_order_acquire) == 0)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  pipeline{*r.port, c, st, id}.run();
  save_lock(st, id, dynamic_cast<shm::locked_client_port*>(r.port.get()));
  r.port->leave();
  return 0;
}

/// The lock figures of every zone of the run.
void summarise_locks(const run_state& st, std::uint64_t requests,
                     lock_result* out) {
  std::uint64_t acq = 0, contended = 0, yields = 0;
  out->hold = run_result{};
  for (std::uint32_t z = 0; z < k_zones; ++z) {
    acq += st.acquisitions[z];
    contended += st.contended[z];
    yields += st.yields[z];
    for (std::uint32_t i = 0; i < st.hold_n[z]; ++i)
      out->hold.lat_us.push_back(st.hold_ns[z][i] / 1000.0);
  }
  if (acq == 0) {
    *out = lock_result{};
    out->hold = failure("no lock acquisitions measured");
    return;
  }
  out->contended = static_cast<double>(contended) / static_cast<double>(acq);
  const double req = std::max<double>(1, static_cast<double>(requests));
  out->per_request = static_cast<double>(acq) / req;
  out->yields_per_request = static_cast<double>(yields) / req;
}

} // namespace

run_result ports_run(const ports_config& c, const budget& b,
                     lock_result* locks) {
  if (c.clients < 1 || c.clients > k_max_clients)
    return failure("1..16 client processes");
  shared<run_state> st;
  if (!st.ok())
    return failure("cannot map the shared counters");
  region_file file{fresh_region_path()};
  const std::string path = file.path();
  std::string err;
  child service;
  run_state& state = *st;
  if (!service.start(
          [&](int ready, int stop) {
            return service_body(c, path, state, ready, stop);
          },
          &err) ||
      !service.await_ready(15000, &err))
    return failure(err);
  std::vector<std::unique_ptr<child>> clients;
  for (std::uint32_t i = 0; i < c.clients; ++i) {
    clients.push_back(std::make_unique<child>());
    if (!clients.back()->start(
            [&, i](int ready, int) {
              return client_body(c, path, state, i, ready);
            },
            &err) ||
        !clients.back()->await_ready(15000, &err)) {
      state.phase.store(3);
      return failure(err);
    }
  }
  const auto secs = std::chrono::duration<double>(b.seconds);
  state.phase.store(1, std::memory_order_release); // warm up
  std::this_thread::sleep_for(secs / 5);
  state.phase.store(2, std::memory_order_release); // timed
  std::this_thread::sleep_for(secs);
  state.phase.store(3, std::memory_order_release);
  int bad = 0;
  for (auto& cl : clients)
    bad += cl->stop(10000) != 0;
  bad += service.stop(10000) != 0;
  if (bad > 0)
    return failure(std::to_string(bad) + " processes exited with an error");
  run_result r;
  double rate = 0;
  for (std::uint32_t i = 0; i < c.clients; ++i) {
    r.count += state.count[i];
    if (state.seconds[i] > 0)
      rate += static_cast<double>(state.count[i]) / state.seconds[i];
    for (std::uint32_t k = 0; k < state.lat_n[i]; ++k)
      r.lat_us.push_back(state.lat_us[i][k]);
  }
  // count / seconds is the sum of the clients' rates.
  r.seconds = rate > 0 ? static_cast<double>(r.count) / rate : 0;
  r.failed = state.failed.load();
  r.bytes = r.count * c.payload;
  if (r.failed > 0)
    r.error = "bad completions";
  if (locks != nullptr && c.measure_lock)
    summarise_locks(state, r.count, locks);
  return r;
}

} // namespace hyperamp::bench
