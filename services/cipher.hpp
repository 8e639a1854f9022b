// The HyperAMP XOR pad of hvisor-tool's services 1 and 2: byte i becomes
// b ^ key[i % 16] ^ 0x55, with key the FIPS-197 AES-128 example key used
// only as a pad. Encrypt and decrypt are the same involution.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hyperamp::services {

inline constexpr std::uint8_t k_cipher_key[16] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
    0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};

/// Applies the pad to `n` bytes in place.
void xor_pad(std::uint8_t* data, std::size_t n) noexcept;

} // namespace hyperamp::services

#include "vocab/messages.hpp"

namespace hyperamp::services {

/// The work of services 1 and 2: the pad over the whole payload; an empty
/// payload is a bad request, as in hvisor-tool (length - 1 <= 0 fails).
vocab::job_result pad_job(vocab::job& j) noexcept;

} // namespace hyperamp::services
