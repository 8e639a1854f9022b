// The services table (services.def) and the plain process functions of the
// built-in services, against the hvisor-tool test vectors
// (hvisor-tool's services 1 and 2 and its published vectors).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "services/cipher.hpp"
#include "services/registry.hpp"

using namespace hyperamp;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes from_hex(const std::string& hex) {
  bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(
        static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

bytes to_bytes(const std::string& s) {
  return bytes(s.begin(), s.end());
}

/// Runs service `id`'s plain function over `in`; the buffer has room for
/// `extra` more bytes (as the payload capacity would).
vocab::job_result run(std::uint32_t id, bytes& data) {
  const auto* e = services::find(id);
  REQUIRE(e != nullptr);
  REQUIRE(static_cast<bool>(e->run_inline));
  vocab::job j;
  j.service_id = id;
  j.data = data.data();
  j.length = static_cast<std::uint32_t>(data.size());
  j.capacity = static_cast<std::uint32_t>(data.size());
  auto r = e->run_inline(j);
  if (r.status == shm::wire_status::ok)
    data.resize(r.length);
  return r;
}

} // namespace

TEST_SUITE_BEGIN("services");

TEST_CASE("the table registers encrypt decrypt and echo") {
  const auto& t = services::registry();
  REQUIRE(t.size() == 3);
  CHECK(t[0].id == 1);
  CHECK(t[1].id == 2);
  CHECK(t[2].id == 66);
  CHECK(std::string{t[0].name} == "encrypt");
  CHECK(std::string{t[1].name} == "decrypt");
  CHECK(std::string{t[2].name} == "echo");
  for (const auto& e : t) {
    INFO(e.name);
    CHECK(static_cast<bool>(e.spawn));
    CHECK(static_cast<bool>(e.run_inline));
    CHECK(services::find(e.id) == &e);
  }
  CHECK(services::find(0) == nullptr);
  CHECK(services::find(3) == nullptr);
  CHECK(services::find(65) == nullptr);
  CHECK(services::find(67) == nullptr);
  CHECK(services::find(0xFFFFFFFFu) == nullptr);
}

TEST_CASE("encrypt and decrypt match the hvisor-tool test vectors") {
  struct vec {
    const char* plain;
    const char* hex;
  };
  const vec vs[] = {
      {"hello", "164e2c2f12"},
      {"The quick brown fox", "2a4325630c8eee90958222af33ed7449184438"},
      {"ABCDEFGHIJKLMNOPQRS", "3f69030738bdc0bbb7e80b9111d455392f7913"},
  };
  for (const auto& v : vs) {
    INFO(v.plain);
    auto data = to_bytes(v.plain);
    auto r = run(1, data);
    CHECK(r.status == shm::wire_status::ok);
    CHECK(r.length == std::string{v.plain}.size());
    CHECK(data == from_hex(v.hex));
    r = run(2, data);
    CHECK(r.status == shm::wire_status::ok);
    CHECK(data == to_bytes(v.plain));
  }
}

TEST_CASE("xor_pad is an involution on every length and offset") {
  bytes ref(70);
  for (std::size_t i = 0; i < ref.size(); ++i)
    ref[i] = static_cast<std::uint8_t>(i * 7 + 3);
  for (std::size_t n = 0; n <= ref.size(); ++n) {
    INFO("n = " << n);
    bytes data(ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(n));
    services::xor_pad(data.data(), n);
    bool byte_rule = true; // b ^ key[i % 16] ^ 0x55, byte by byte
    for (std::size_t i = 0; i < n; ++i)
      byte_rule &=
          data[i] == static_cast<std::uint8_t>(
                         ref[i] ^ services::k_cipher_key[i % 16] ^ 0x55u);
    CHECK(byte_rule);
    services::xor_pad(data.data(), n);
    CHECK(std::equal(data.begin(), data.end(), ref.begin()));
  }
}

TEST_CASE("empty payloads are bad requests for the cipher and fine for echo") {
  bytes empty;
  CHECK(run(1, empty).status == shm::wire_status::bad_request);
  CHECK(run(2, empty).status == shm::wire_status::bad_request);
  auto r = run(66, empty);
  CHECK(r.status == shm::wire_status::ok);
  CHECK(r.length == 0);
}

TEST_CASE("echo returns the request unchanged") {
  auto data = to_bytes("echo me");
  auto r = run(66, data);
  CHECK(r.status == shm::wire_status::ok);
  CHECK(data == to_bytes("echo me"));
}

TEST_SUITE_END();
