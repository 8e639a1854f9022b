// TLS files checked before CAF sees them. CAF 0.17's libcaf_openssl loads
// the certificate, key and CA only when the first connection arrives, and
// a file it cannot load ends the whole process from its network thread
// (an uncaught exception); an encrypted key makes OpenSSL ask for a
// passphrase on the terminal, from that thread. So amp-node loads them
// the same way at start and refuses bad ones with a message. No CAF here.
#pragma once

#include <string>

namespace hyperamp::apps {

/// The three PEM files and how messages name each (a role-file key or an
/// option).
struct tls_check {
  std::string certificate, key, ca;
  std::string certificate_name, key_name, ca_name;
};

/// What is wrong with the files ("" if nothing): unreadable, not PEM, an
/// encrypted key, a key that does not match the certificate, no CA
/// certificate in the CA file.
std::string tls_problem(const tls_check& files);

} // namespace hyperamp::apps
