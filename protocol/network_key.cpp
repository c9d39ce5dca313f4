#include "protocol/network_key.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "storage/fs.hpp"
#include "util/hex.hpp"

namespace p2p {

namespace {

constexpr size_t max_key_file = 4096;

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

} // namespace

std::optional<key_bytes> parse_network_key(const std::string& text) {
  auto body = text;
  if (body.size() >= 1 && body.back() == '\n')
    body.pop_back();
  if (body.size() >= 1 && body.back() == '\r')
    body.pop_back();
  if (body.size() != 64)
    return std::nullopt;
  auto bytes = from_hex(body);
  if (!bytes || bytes->size() != 32)
    return std::nullopt;
  key_bytes k;
  std::copy(bytes->begin(), bytes->end(), k.begin());
  return k;
}

std::optional<key_bytes> load_network_key(const std::string& path, std::string& err) {
  auto prefix = "network key " + path + ": ";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    err = prefix + errno_text(errno);
    return std::nullopt;
  }
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) != 0) {
    err = prefix + errno_text(errno);
  } else if (!S_ISREG(st.st_mode)) {
    err = prefix + "not a regular file";
  } else if ((st.st_mode & 077) != 0) {
    err = prefix + "mode " + octal_mode(st.st_mode)
          + " lets group or others read or write it; chmod 600 it";
  } else if (st.st_size > static_cast<off_t>(max_key_file)) {
    err = prefix + "malformed (larger than 4 KiB; expected 64 hex digits)";
  } else {
    text.resize(static_cast<size_t>(st.st_size));
    auto n = read_full_at(fd, text.data(), text.size(), 0);
    if (n < 0)
      err = prefix + errno_text(errno);
    else
      text.resize(static_cast<size_t>(n));
  }
  ::close(fd);
  if (!err.empty())
    return std::nullopt;
  auto key = parse_network_key(text);
  if (!key)
    err = prefix + "malformed (expected 64 hex digits, as p2p-cli keygen writes)";
  return key;
}

std::string write_new_network_key(const std::string& path) {
  key_bytes k;
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
    return "no randomness from OpenSSL";
  auto text = to_hex(k.data(), k.size()) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno == EEXIST ? path + " exists; not overwritten"
                           : path + ": " + errno_text(errno);
  std::string err;
  // The umask may only narrow 0600; fchmod makes the mode exact anyway.
  if (::fchmod(fd, 0600) != 0 || ::write(fd, text.data(), text.size())
                                     != static_cast<ssize_t>(text.size())
      || ::fsync(fd) != 0)
    err = path + ": " + errno_text(errno);
  ::close(fd);
  if (!err.empty())
    ::unlink(path.c_str()); // never leave a half-written key behind
  OPENSSL_cleanse(k.data(), k.size());
  OPENSSL_cleanse(text.data(), text.size());
  return err;
}

key_bytes hkdf_sha256(const key_bytes& key, const std::string& info) {
  key_bytes out{};
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf != nullptr ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  if (ctx == nullptr)
    throw std::runtime_error("OpenSSL has no HKDF");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                      const_cast<uint8_t*>(key.data()), key.size()),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                      const_cast<char*>(info.data()), info.size()),
    OSSL_PARAM_construct_end(),
  };
  int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1)
    throw std::runtime_error("HKDF-SHA256 failed");
  return out;
}

network_secrets derive_secrets(const key_bytes& key) {
  return {hkdf_sha256(key, "p2p datagram v1"), hkdf_sha256(key, "p2p hello v1"),
          hkdf_sha256(key, "p2p tls v1")};
}

mac_tag hmac_sha256(const key_bytes& key, const void* p, size_t n) {
  mac_tag out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       static_cast<const unsigned char*>(p), n, out.data(), &len);
  return out;
}

bool same_tag(const mac_tag& a, const uint8_t* b) {
  return CRYPTO_memcmp(a.data(), b, a.size()) == 0;
}

} // namespace p2p
