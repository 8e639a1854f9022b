// The hvisor-tool-v1 layout byte by byte, against the facts about
// hvisor-tool's AmpMsgQueue (docs/compatibility.md): sizes, offsets, flag
// bit values, the state a client's queue init leaves, and the queue dump
// after one request.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "shm/v1_layout.hpp"
#include "shm/v1_ports.hpp"
#include "test_util.hpp"
#include "v1_env.hpp"

using namespace hyperamp::shm;
using hyperamp::shm::test::v1_env;

namespace {

/// The first 12 bytes of the queue window as hvisor-tool's dump groups
/// them: "bbbbbbbb ff00 0000 ff00 ff00".
std::string dump(const std::uint8_t* q) {
  std::string out;
  const int groups[] = {4, 2, 2, 2, 2};
  int at = 0;
  for (int g = 0; g < 5; ++g) {
    if (g > 0)
      out += ' ';
    for (int i = 0; i < groups[g]; ++i) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", q[at++]);
      out += b;
    }
  }
  return out;
}

} // namespace

TEST_CASE("v1 layout: sizes and offsets are hvisor-tool's") {
  // struct Msg (12 bytes), struct MsgEntry (16), struct AmpMsgQueue (12).
  struct field {
    const char* name;
    std::size_t offset, expected;
  };
  const field fields[] = {
      {"Msg.flag", offsetof(v1::msg, flag), 0},
      {"Msg.service_id", offsetof(v1::msg, service_id), 2},
      {"Msg.offset", offsetof(v1::msg, offset), 4},
      {"Msg.length", offsetof(v1::msg, length), 8},
      {"MsgEntry.msg", offsetof(v1::msg_entry, m), 0},
      {"MsgEntry.cur_idx", offsetof(v1::msg_entry, cur_idx), 12},
      {"MsgEntry.nxt_idx", offsetof(v1::msg_entry, nxt_idx), 14},
      {"AmpMsgQueue.working_mark", offsetof(v1::queue_header, working_mark), 0},
      {"AmpMsgQueue.buf_size", offsetof(v1::queue_header, buf_size), 4},
      {"AmpMsgQueue.empty_h", offsetof(v1::queue_header, empty_h), 6},
      {"AmpMsgQueue.wait_h", offsetof(v1::queue_header, wait_h), 8},
      {"AmpMsgQueue.proc_ing_h", offsetof(v1::queue_header, proc_ing_h), 10},
  };
  for (const auto& f : fields) {
    INFO(f.name);
    CHECK(f.offset == f.expected);
  }
  CHECK(sizeof(v1::msg) == 12);
  CHECK(sizeof(v1::msg_entry) == 16);
  CHECK(sizeof(v1::queue_header) == 12);
  CHECK(v1::k_entries_offset == 12);
  // buf_size = floor((mem_len - 12) / 16): 255 for a 4 KiB page.
  CHECK(v1::entries_for(4096) == 255);
  CHECK(v1::entries_for(27) == 0);
  CHECK(v1::entries_for(28) == 1);
  CHECK(v1::entries_for(12 + 16 * 70000ull) == 65535);
}

TEST_CASE("v1 layout: flag bits and mark values") {
  // Measured raw values: deal_state=1 -> 0x0001; service_result=1 ->
  // 0x0002; deal=1, result=3 -> 0x0007.
  CHECK(v1::k_deal_state == 0x0001);
  CHECK((static_cast<std::uint16_t>(v1::result::success)
         << v1::k_result_shift) == 0x0002);
  CHECK(v1::done_flag(v1::result::not_exists) == 0x0007);
  CHECK(v1::done_flag(v1::result::success) == 0x0003);
  CHECK(v1::done_flag(v1::result::fail) == 0x0005);
  CHECK(v1::result_of(0x0007) == v1::result::not_exists);
  CHECK(v1::result_of(0x0001) == v1::result::none);
  CHECK(v1::is_done(0x0001));
  CHECK_FALSE(v1::is_done(0x0006));
  CHECK(v1::k_mark_idle == 0xBBBBBBBBu);
  CHECK(v1::k_mark_busy == 0xFFFFFFFFu);
  CHECK(v1::k_ready == 0xEEEEEEEEu);
}

TEST_CASE("v1 layout: a client's queue init, byte by byte") {
  v1_env env;
  auto m = v1::window_map::open(env.zone().region);
  REQUIRE_MESSAGE(m, m.message);
  v1::init_queue(*m.value);
  const auto* q = reinterpret_cast<const std::uint8_t*>(&m.value->header());
  // working_mark IDLE, buf_size 255, empty_h 0, wait_h 255, proc_ing_h 255.
  CHECK(dump(q) == "bbbbbbbb ff00 0000 ff00 ff00");
  for (std::uint32_t i = 0; i < 255; ++i) {
    const std::uint8_t* e = q + 12 + 16 * i;
    std::uint16_t cur = 0, nxt = 0;
    std::memcpy(&cur, e + 12, 2);
    std::memcpy(&nxt, e + 14, 2);
    INFO("entry " << i);
    CHECK(cur == i);
    CHECK(nxt == i + 1); // the last one: 255 = buf_size, the end
    for (int b = 0; b < 12; ++b)
      CHECK(e[b] == 0);
  }
}

TEST_CASE("v1 layout: the queue dump after one request is hvisor-tool's") {
  v1_env env;
  const auto o = env.zone();
  auto svc = v1::open_service(o);
  REQUIRE_MESSAGE(svc, svc.error);
  auto cli = v1::open_client(o);
  REQUIRE_MESSAGE(cli, cli.error);
  auto m = v1::window_map::open(o.region);
  REQUIRE(m);
  const auto* q = reinterpret_cast<const std::uint8_t*>(&m.value->header());

  const std::uint32_t size = 5;
  lease l;
  REQUIRE(cli.port->acquire(&size, 1, &l).count == 1);
  std::memcpy(l.data, "hello", 5);
  request_desc d{l.ticket, 42, 1, 5};
  REQUIRE(cli.port->submit(&d, 1).count == 1);
  // Handed over: BUSY, proc_ing_h = entry 0, empty_h = 1.
  CHECK(dump(q) == "ffffffff ff00 0100 ff00 0000");
  const auto* e0 = q + 12;
  CHECK(std::memcmp(m.value->buffer() + 64, "hello\0", 6) == 0);
  std::uint32_t off = 0, len = 0;
  std::memcpy(&off, e0 + 4, 4);
  std::memcpy(&len, e0 + 8, 4);
  CHECK(off == 64); // [0, 64) stays free for hvisor-tool's "Test\0"
  CHECK(len == 6);  // n + 1: the trailing NUL

  incoming in;
  REQUIRE(svc.port->take_submitted(&in, 1).count == 1);
  CHECK(in.length == 5);
  CHECK(dump(q) == "bbbbbbbb ff00 0100 ff00 ff00");
  for (std::uint32_t i = 0; i < in.length; ++i)
    in.data[i] = static_cast<std::uint8_t>(in.data[i] ^ 0x20);
  outcome out{in.ticket, wire_status::ok, in.length};
  svc.port->complete(&out, 1);
  CHECK(e0[0] == 0x03); // deal_state 1, service_result 1 (SUCCESS)
  CHECK(e0[1] == 0x00);

  completion c;
  REQUIRE(cli.port->take_completed(&c, 1).count == 1);
  REQUIRE(c.why == nullptr);
  CHECK(c.done_seq == 42);
  CHECK(std::string(reinterpret_cast<const char*>(c.data), c.length) ==
        "HELLO");
  cli.port->release(&c.ticket, 1);
  CHECK(dump(q) == "bbbbbbbb ff00 0000 ff00 ff00");
  CHECK(e0[0] == 0x00); // msg_reset
}
