#include "apps/tls_check.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace hyperamp::apps {

namespace {

/// OpenSSL's queued errors as one line, the queue emptied.
std::string ssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string{buf};
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

/// "" if `path` can be read, else why not.
std::string unreadable(const std::string& name, const std::string& path) {
  if (path.empty())
    return name + ": no file given";
  if (::access(path.c_str(), R_OK) != 0)
    return name + ": cannot read " + path + ": " + std::strerror(errno);
  return {};
}

/// Never asks for a passphrase: an encrypted key fails to load instead.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

} // namespace

std::string tls_problem(const tls_check& f) {
  for (const auto& [name, path] :
       {std::pair{f.certificate_name, f.certificate},
        std::pair{f.key_name, f.key}, std::pair{f.ca_name, f.ca}})
    if (auto why = unreadable(name, path); !why.empty())
      return why;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()),
                                                   SSL_CTX_free};
  if (!ctx)
    return "cannot make an OpenSSL context: " + ssl_errors();
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  // The key first: OpenSSL checks a key against a certificate already
  // loaded and would report a mismatch as a key it cannot load.
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), f.key.c_str(), SSL_FILETYPE_PEM) !=
      1)
    return f.key_name + ": " + f.key +
           " is not a PEM private key OpenSSL can load (an encrypted key "
           "is not supported): " +
           ssl_errors();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), f.certificate.c_str()) != 1)
    return f.certificate_name + ": " + f.certificate +
           " is not a PEM certificate OpenSSL can load: " + ssl_errors();
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return f.key_name + ": " + f.key + " is not the key of " +
           f.certificate_name + " " + f.certificate;
  }
  if (SSL_CTX_load_verify_locations(ctx.get(), f.ca.c_str(), nullptr) != 1)
    return f.ca_name + ": " + f.ca +
           " holds no PEM certificate OpenSSL can load: " + ssl_errors();
  return {};
}

} // namespace hyperamp::apps
