// v1_peer: a replica of hvisor-tool's HyperAMP client (`hvisor shm
// hyper_amp_test`) and service (`hvisor shm hyper_amp_service_test`),
// written from the published facts about them, independent of hyperamp's
// code: its own structs, its own queue operations, the board's devices
// (/dev/mem, /dev/hvisor, /dev/hshm0; run it under libhvisor_emu.so on a
// host). It does what the C tools do, including what they do wrong:
//
// client: re-initialises the queue, checks the readiness word (11 tries;
//   here 100 ms apart instead of 1 s) and goes on even without a service,
//   writes working_mark IDLE, allocates its payload at buffer offset 0,
//   pops an entry (LIFO), pushes it on wait_h, spins until IDLE, moves
//   wait_h over proc_ing_h (overwriting it), writes BUSY, rings, spins on
//   deal_state, prints the result as hvisor-tool does, puts the entry back.
// service: writes the readiness word, writes "Test\0" at buffer offset 0,
//   opens /dev/hshm0, and per POLLIN takes only the head of proc_ing_h,
//   transforms length - 1 bytes in place, stores deal_state and then
//   service_result (two stores), unlinks the entry, writes IDLE.
//
// Usage:
//   v1_peer client <json> <data> <service_id> [--corrupt=WHAT]
//       WHAT: index (nxt_idx beyond buf_size), offset, length, zero
//       (length 0), cycle (two entries linked both ways), head (proc_ing_h
//       beyond buf_size)
//   v1_peer service <json> [--max N] [--bad=WHAT] [--listen-late] [--quiet]
//       WHAT (first message only): length, offset, index (proc_ing_h),
//       cycle (the served entry linked to itself, left at proc_ing_h),
//       none (deal_state without result)
//       --listen-late: open /dev/hshm0 only after a client's ring was lost
//       --quiet: no line per message (a pipe nobody reads fills up)
//   v1_peer dump <json>          the queue header's 12 bytes, grouped
//   v1_peer set-ready <json> <hex>   write the readiness word
//   v1_peer ready <json>         print the readiness word (8 hex digits)
// Exit: 0 ok, 1 the service answered FAIL (or not SUCCESS), 2 usage or
// setup, 3 timeout (30 s; nothing here waits forever).
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace {

// -- the wire, written down again from the facts --------------------------

struct Msg {
  volatile std::uint16_t flag; // bit 0 deal_state, bits 1-2 service_result
  volatile std::uint16_t service_id;
  volatile std::uint32_t offset;
  volatile std::uint32_t length;
};
struct MsgEntry {
  Msg msg;
  volatile std::uint16_t cur_idx;
  volatile std::uint16_t nxt_idx;
};
struct AmpMsgQueue {
  volatile std::uint32_t working_mark;
  volatile std::uint16_t buf_size;
  volatile std::uint16_t empty_h;
  volatile std::uint16_t wait_h;
  volatile std::uint16_t proc_ing_h;
};
static_assert(sizeof(Msg) == 12 && sizeof(MsgEntry) == 16 &&
              sizeof(AmpMsgQueue) == 12);

constexpr std::uint32_t MARK_IDLE = 0xBBBBBBBB;
constexpr std::uint32_t MARK_BUSY = 0xFFFFFFFF;
constexpr std::uint32_t INITIALIZED = 0xEEEEEEEE;
constexpr std::uint16_t RET_SUCCESS = 1, RET_FAIL = 2;
constexpr unsigned long HVISOR_SHM_SIGNAL = 10;

const std::uint8_t key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                              0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};

struct shm_args {
  std::uint64_t target_zone_id, service_id, swi;
};

struct addr_info {
  std::uint64_t start = 0, len = 0;
};

addr_info buf_info, queue_info, ready_info;

using steady = std::chrono::steady_clock;
constexpr auto k_timeout = std::chrono::seconds(30);

[[noreturn]] void die(int code, const std::string& what) {
  std::fprintf(stderr, "v1_peer: %s\n", what.c_str());
  std::exit(code);
}

void parse_config(const char* path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  auto root = nlohmann::json::parse(ss.str());
  for (auto& r : root.at("shm_regions")) {
    const auto flag = r.at("region_flag").get<std::string>();
    const auto z0 = std::strtoull(
        r.at("zone0_ram_ipa").get<std::string>().c_str(), nullptr, 16);
    const auto zx = std::strtoull(
        r.at("zonex_ram_ipa").get<std::string>().c_str(), nullptr, 16);
    const auto size =
        std::strtoull(r.at("mem_size").get<std::string>().c_str(), nullptr, 16);
    if (flag == "linux-2-npucore-buf")
      buf_info = {z0, size};
    else if (flag == "linux-2-npucore-msg") {
      queue_info = {z0, size};
      ready_info = {zx, size};
    }
  }
}

int mem_fd = -1;

void* map(const addr_info& a) {
  void* p = ::mmap(nullptr, a.len, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd,
                   static_cast<off_t>(a.start));
  if (p == MAP_FAILED)
    die(2, "mmap of 0x" + std::to_string(a.start) +
               " failed: " + std::strerror(errno));
  return p;
}

AmpMsgQueue* queue = nullptr;
MsgEntry* entries = nullptr;
volatile std::uint8_t* buffer = nullptr;
volatile std::uint32_t* ready_word = nullptr;

void map_all() {
  mem_fd = ::open("/dev/mem", O_RDWR | O_SYNC);
  if (mem_fd < 0)
    die(2, std::string{"open /dev/mem: "} + std::strerror(errno));
  buffer = static_cast<volatile std::uint8_t*>(map(buf_info));
  queue = static_cast<AmpMsgQueue*>(map(queue_info));
  entries = reinterpret_cast<MsgEntry*>(reinterpret_cast<char*>(queue) + 12);
  ready_word =
      static_cast<volatile std::uint32_t*>(map({ready_info.start, 4096}));
}

void ring(std::uint16_t service_id) {
  const int fd = ::open("/dev/hvisor", O_RDWR);
  if (fd < 0)
    die(2, std::string{"open /dev/hvisor: "} + std::strerror(errno));
  shm_args a{1, service_id, 74};
  if (::ioctl(fd, HVISOR_SHM_SIGNAL, &a) < 0)
    die(2, std::string{"ioctl: "} + std::strerror(errno));
  ::close(fd);
}

void transform(volatile std::uint8_t* p, std::uint32_t n, int service) {
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint8_t b = p[i];
    if (service == 1)
      p[i] = static_cast<std::uint8_t>((b ^ key[i % 16]) ^ 0x55);
    else if (service == 2)
      p[i] = static_cast<std::uint8_t>((b ^ 0x55) ^ key[i % 16]);
  }
}

// -- queue operations (pop, push, transfer), as described -------------------

std::uint16_t pop(volatile std::uint16_t* head) {
  if (*head >= queue->buf_size)
    return queue->buf_size;
  const std::uint16_t r = *head;
  *head = entries[r].nxt_idx;
  entries[r].nxt_idx = queue->buf_size;
  return r;
}

void push(volatile std::uint16_t* head, std::uint16_t i) {
  entries[i].nxt_idx = *head;
  *head = i;
}

void transfer(volatile std::uint16_t* from, volatile std::uint16_t* to) {
  *to = *from;
  *from = queue->buf_size;
}

void queue_init() {
  const auto n = static_cast<std::uint16_t>((queue_info.len - 12) / 16);
  queue->buf_size = n;
  queue->empty_h = 0;
  queue->wait_h = n;
  queue->proc_ing_h = n;
  for (std::uint16_t i = 0; i < n; ++i) {
    entries[i].cur_idx = i;
    entries[i].nxt_idx = static_cast<std::uint16_t>(i + 1);
  }
}

void print_result(volatile std::uint8_t* p, std::uint32_t n) {
  const std::uint32_t show = n > 256 ? 64 : n;
  std::printf("Result: [");
  for (std::uint32_t i = 0; i < show; ++i) {
    const std::uint8_t c = p[i];
    if (c >= 32 && c <= 126)
      std::printf("%c", c);
    else if (c == '\n')
      std::printf("\\n");
    else if (c == '\r')
      std::printf("\\r");
    else if (c == '\t')
      std::printf("\\t");
    else
      std::printf("\\x%02x", c);
  }
  if (n > 256)
    std::printf("... (showing first %u of %u bytes)", show, n);
  std::printf("] (%u bytes)\n", n);
  std::printf("Hex format: ");
  for (std::uint32_t i = 0; i < show; ++i)
    std::printf("%02x", p[i]);
  if (n > 256)
    std::printf("... (showing first %u of %u bytes)", show, n);
  std::printf("\n");
}

template <class Pred>
bool spin_until(Pred pred) {
  const auto deadline = steady::now() + k_timeout;
  while (!pred()) {
    if (steady::now() >= deadline)
      return false;
    sched_yield();
  }
  return true;
}

/// Waits for deal_state of entry i; prints its result; 0, 1 or 3.
int await_result(std::uint16_t i, int service) {
  if (!spin_until([&] { return (entries[i].msg.flag & 1) != 0; })) {
    std::printf("timeout: no answer for entry %u\n", i);
    return 3;
  }
  if (((entries[i].msg.flag >> 1) & 3) != RET_SUCCESS) {
    std::printf("error : HyperAMP service failed [service_id = %d]\n", service);
    return 1;
  }
  const std::uint32_t len = entries[i].msg.length;
  print_result(buffer + entries[i].msg.offset, len > 0 ? len - 1 : 0);
  return 0;
}

int client(int argc, char** argv) {
  if (argc < 5)
    die(2, "usage: v1_peer client <json> <data> <service_id> [--corrupt=X]");
  parse_config(argv[2]);
  const std::string data = argv[3];
  const int service = std::atoi(argv[4]);
  std::string corrupt;
  for (int i = 5; i < argc; ++i)
    if (std::strncmp(argv[i], "--corrupt=", 10) == 0)
      corrupt = argv[i] + 10;
  map_all();
  queue_init();
  bool ready = false;
  for (int tries = 0; tries < 11 && !ready; ++tries) {
    const std::uint32_t w = *ready_word;
    ready = w == INITIALIZED || w == MARK_IDLE;
    if (!ready)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!ready)
    std::printf("warning: the service is not ready; sending anyway\n");
  queue->working_mark = MARK_IDLE;

  // Payload at offset 0, as every hvisor-tool client process allocates.
  const auto n = static_cast<std::uint32_t>(data.size());
  for (std::uint32_t i = 0; i < n; ++i)
    buffer[i] = static_cast<std::uint8_t>(data[i]);
  buffer[n] = 0;

  const std::uint16_t a = pop(&queue->empty_h);
  entries[a].msg.flag = 0;
  entries[a].msg.length = 0;
  entries[a].msg.service_id = static_cast<std::uint16_t>(service);
  entries[a].msg.offset = 0;
  entries[a].msg.length = n + 1;
  std::uint16_t b = queue->buf_size;
  if (corrupt == "cycle") {
    // A second request right behind the first, and a link back to it.
    b = pop(&queue->empty_h);
    for (std::uint32_t i = 0; i <= n; ++i)
      buffer[64 + i] = buffer[i];
    entries[b].msg.flag = 0;
    entries[b].msg.service_id = static_cast<std::uint16_t>(service);
    entries[b].msg.offset = 64;
    entries[b].msg.length = n + 1;
    push(&queue->wait_h, b);
  }
  push(&queue->wait_h, a);
  if (!spin_until([] { return queue->working_mark == MARK_IDLE; })) {
    std::printf("timeout: working_mark never IDLE\n");
    return 3;
  }
  transfer(&queue->wait_h, &queue->proc_ing_h);
  if (corrupt == "index")
    entries[a].nxt_idx = 0x1234;
  else if (corrupt == "offset")
    entries[a].msg.offset = static_cast<std::uint32_t>(buf_info.len + 0x100);
  else if (corrupt == "length")
    entries[a].msg.length = 0xFFFFFFF0u;
  else if (corrupt == "zero")
    entries[a].msg.length = 0;
  else if (corrupt == "cycle")
    entries[b].nxt_idx = a;
  else if (corrupt == "head")
    queue->proc_ing_h = 0x7777;
  queue->working_mark = MARK_BUSY;
  ring(static_cast<std::uint16_t>(service));

  int rc = 0;
  if (corrupt == "head") {
    // No request to answer; the service must put the list back in order.
    if (!spin_until([] {
          return queue->proc_ing_h == queue->buf_size &&
                 queue->working_mark == MARK_IDLE;
        })) {
      std::printf("timeout: proc_ing_h stays %u\n", queue->proc_ing_h);
      return 3;
    }
    std::printf("head reset to %u, IDLE\n", queue->proc_ing_h);
    return 0;
  }
  rc = await_result(a, service);
  if (corrupt == "cycle") {
    const int rc2 = await_result(b, service);
    rc = rc == 3 || rc2 == 3 ? 3 : rc * 10 + rc2;
  }
  entries[a].msg.flag = 0;
  entries[a].msg.length = 0;
  push(&queue->empty_h, a);
  return rc;
}

/// Waits until the emulation's log shows a lost ring (--listen-late).
void wait_for_lost_ring() {
  const char* log = std::getenv("HVISOR_EMU_LOG");
  if (log == nullptr)
    die(2, "--listen-late needs HVISOR_EMU_LOG");
  const auto deadline = steady::now() + k_timeout;
  for (;;) {
    std::ifstream in{log};
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find("dropped") != std::string::npos)
      return;
    if (steady::now() >= deadline)
      die(3, "no lost ring seen");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int service(int argc, char** argv) {
  if (argc < 3)
    die(2, "usage: v1_peer service <json> [--max N] [--bad=X] [--listen-late]");
  parse_config(argv[2]);
  long max = -1;
  std::string bad;
  bool late = false, quiet = false;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--max") == 0 && i + 1 < argc)
      max = std::atol(argv[++i]);
    else if (std::strncmp(argv[i], "--bad=", 6) == 0)
      bad = argv[i] + 6;
    else if (std::strcmp(argv[i], "--listen-late") == 0)
      late = true;
    else if (std::strcmp(argv[i], "--quiet") == 0)
      quiet = true;
  }
  map_all();
  *ready_word = INITIALIZED;
  buffer[0] = 'T';
  buffer[1] = 'e';
  buffer[2] = 's';
  buffer[3] = 't';
  buffer[4] = 0;
  if (late)
    wait_for_lost_ring();
  const int fd = ::open("/dev/hshm0", O_RDONLY);
  if (fd < 0)
    die(2, std::string{"open /dev/hshm0: "} + std::strerror(errno));
  std::printf("service: listening\n");
  std::fflush(stdout);
  long count = 0;
  while (max < 0 || count < max) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, -1) <= 0 || (p.revents & POLLIN) == 0)
      continue;
    if (queue->proc_ing_h >= queue->buf_size)
      continue;
    const std::uint16_t head = queue->proc_ing_h;
    MsgEntry& e = entries[head];
    const std::uint32_t off = e.msg.offset, len = e.msg.length;
    std::uint16_t result = RET_SUCCESS;
    if (len == 0 || off > buf_info.len || len > buf_info.len - off)
      result = RET_FAIL;
    else
      transform(buffer + off, len - 1, e.msg.service_id);
    const bool first = count == 0;
    if (first && bad == "length")
      e.msg.length = 0xFFFFFFFFu;
    if (first && bad == "offset")
      e.msg.offset = 0xFFFFFF00u;
    e.msg.flag = static_cast<std::uint16_t>(e.msg.flag | 1); // deal_state
    if (!(first && bad == "none"))
      e.msg.flag = static_cast<std::uint16_t>(e.msg.flag | (result << 1));
    if (first && bad == "cycle") {
      // The served entry linked to itself and left at the head.
      e.nxt_idx = head;
      queue->proc_ing_h = head;
    } else {
      queue->proc_ing_h = e.nxt_idx;
      e.nxt_idx = queue->buf_size;
    }
    if (first && bad == "index")
      queue->proc_ing_h = 0x7777;
    queue->working_mark = MARK_IDLE;
    ++count;
    if (quiet)
      continue;
    std::printf("service: message %ld: entry %u, service %u, %u bytes, "
                "result %u\n",
                count, head, e.msg.service_id, len, result);
    std::fflush(stdout);
  }
  ::close(fd);
  return 0;
}

int dump(int argc, char** argv) {
  if (argc < 3)
    die(2, "usage: v1_peer dump <json>");
  parse_config(argv[2]);
  map_all();
  const auto* b = reinterpret_cast<const volatile std::uint8_t*>(queue);
  const int groups[] = {4, 2, 2, 2, 2};
  int at = 0;
  for (int g = 0; g < 5; ++g) {
    if (g > 0)
      std::printf(" ");
    for (int i = 0; i < groups[g]; ++i)
      std::printf("%02x", b[at++]);
  }
  std::printf("\n");
  return 0;
}

int set_ready(int argc, char** argv) {
  if (argc < 4)
    die(2, "usage: v1_peer set-ready <json> <hex>");
  parse_config(argv[2]);
  map_all();
  *ready_word = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 16));
  return 0;
}

int ready(int argc, char** argv) {
  if (argc < 3)
    die(2, "usage: v1_peer ready <json>");
  parse_config(argv[2]);
  map_all();
  std::printf("%08x\n", *ready_word);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    die(2, "usage: v1_peer client|service|dump|set-ready ...");
  const std::string cmd = argv[1];
  if (cmd == "client")
    return client(argc, argv);
  if (cmd == "service")
    return service(argc, argv);
  if (cmd == "dump")
    return dump(argc, argv);
  if (cmd == "set-ready")
    return set_ready(argc, argv);
  if (cmd == "ready")
    return ready(argc, argv);
  die(2, "unknown command " + cmd);
}
