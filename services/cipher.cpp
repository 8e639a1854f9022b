#include "services/cipher.hpp"

#include <cstring>

namespace hyperamp::services {

void xor_pad(std::uint8_t* data, std::size_t n) noexcept {
  // Sixteen bytes at a time with the pad as two 64-bit words: the
  // compiler vectorises this; the payload may be uncached device memory on
  // a board, so it is read and written once per byte.
  std::uint64_t pad[2];
  std::uint8_t bytes[16];
  for (std::size_t i = 0; i < 16; ++i)
    bytes[i] = static_cast<std::uint8_t>(k_cipher_key[i] ^ 0x55u);
  std::memcpy(pad, bytes, 16);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    std::uint64_t w[2];
    std::memcpy(w, data + i, 16);
    w[0] ^= pad[0];
    w[1] ^= pad[1];
    std::memcpy(data + i, w, 16);
  }
  for (; i < n; ++i)
    data[i] = static_cast<std::uint8_t>(data[i] ^ bytes[i % 16]);
}

vocab::job_result pad_job(vocab::job& j) noexcept {
  if (j.length == 0)
    return {shm::wire_status::bad_request, 0};
  xor_pad(j.data, j.length);
  return {shm::wire_status::ok, j.length};
}

} // namespace hyperamp::services
