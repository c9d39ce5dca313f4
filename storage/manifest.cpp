#include "storage/manifest.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/bytes.hpp"

namespace p2p {

namespace {

constexpr size_t serialized_header = 8 + 4 + 4;
constexpr size_t read_buffer_size = 1 << 20;

EVP_MD_CTX* as_ctx(void* p) {
  return static_cast<EVP_MD_CTX*>(p);
}

uint64_t chunks_for(uint64_t size, uint64_t chunk) {
  return size / chunk + (size % chunk != 0 ? 1 : 0);
}

struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

digest sha256(const void* data, size_t n) {
  digest d{};
  unsigned len = 0;
  if (EVP_Digest(data, n, d.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  return d;
}

sha256_stream::sha256_stream() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(as_ctx(ctx_), EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(as_ctx(ctx_));
    throw std::runtime_error("EVP_DigestInit_ex(SHA-256) failed");
  }
}

sha256_stream::~sha256_stream() {
  EVP_MD_CTX_free(as_ctx(ctx_));
}

void sha256_stream::update(const void* data, size_t n) {
  if (n > 0)
    EVP_DigestUpdate(as_ctx(ctx_), data, n);
}

digest sha256_stream::finish() {
  digest d{};
  unsigned len = 0;
  EVP_DigestFinal_ex(as_ctx(ctx_), d.data(), &len);
  // Ready for the next message.
  EVP_DigestInit_ex(as_ctx(ctx_), EVP_sha256(), nullptr);
  return d;
}

bool is_valid_chunk_size(uint64_t n) {
  return n >= min_chunk_size && n <= max_chunk_size && (n & (n - 1)) == 0;
}

uint32_t effective_chunk_size(uint64_t file_size, uint32_t preferred) {
  uint64_t cs = min_chunk_size;
  while (cs < preferred && cs < max_chunk_size)
    cs *= 2; // rounds an odd preference up to a power of two, within bounds
  while (chunks_for(file_size, cs) > max_chunks && cs < max_chunk_size)
    cs *= 2;
  return static_cast<uint32_t>(cs);
}

uint32_t manifest::chunk_length(uint32_t i) const {
  if (i >= chunk_count())
    return 0;
  auto rest = size - chunk_offset(i);
  return rest < chunk_size ? static_cast<uint32_t>(rest) : chunk_size;
}

bool manifest::verify(uint32_t i, const void* data, size_t n) const {
  if (i >= chunk_count() || n != chunk_length(i))
    return false;
  return sha256(data, n) == hashes[i];
}

std::vector<char> serialize(const manifest& m) {
  std::vector<char> out;
  out.reserve(serialized_header + m.hashes.size() * sizeof(digest));
  bytes::put_u64(out, m.size);
  bytes::put_u32(out, m.chunk_size);
  bytes::put_u32(out, m.chunk_count());
  for (auto& h : m.hashes)
    bytes::put_raw(out, h.data(), h.size());
  return out;
}

std::optional<manifest> parse_manifest(const char* p, size_t n) {
  bytes::reader r(p, n);
  manifest m;
  uint32_t count;
  if (!r.get_u64(m.size) || !r.get_u32(m.chunk_size) || !r.get_u32(count))
    return std::nullopt;
  if (!is_valid_chunk_size(m.chunk_size) || count > max_chunks
      || count != chunks_for(m.size, m.chunk_size)
      || r.remaining() != uint64_t{count} * sizeof(digest))
    return std::nullopt;
  m.hashes.resize(count);
  for (auto& h : m.hashes)
    r.get_raw(h.data(), h.size());
  return m;
}

digest content_id_of(const manifest& m) {
  auto bytes = serialize(m);
  return sha256(bytes.data(), bytes.size());
}

std::optional<manifest> build_manifest(const std::string& path,
                                       uint32_t preferred_chunk, std::string& err,
                                       const std::atomic<bool>* cancel,
                                       std::atomic<uint64_t>* progress) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = "cannot open " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  fd_closer closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    err = "cannot stat " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    err = "cannot share " + path + ": not a regular file";
    return std::nullopt;
  }
  manifest m;
  m.size = static_cast<uint64_t>(st.st_size);
  m.chunk_size = effective_chunk_size(m.size, preferred_chunk);
  auto count = chunks_for(m.size, m.chunk_size);
  if (count > max_chunks) {
    err = "cannot share " + path + ": file too large (" + std::to_string(m.size)
          + " bytes)";
    return std::nullopt;
  }
  m.hashes.reserve(count);
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  std::unique_ptr<char[]> buf(new char[read_buffer_size]);
  sha256_stream hasher;
  uint64_t done = 0;      // bytes hashed so far
  uint32_t in_chunk = 0;  // bytes of the current chunk hashed so far
  while (done < m.size) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      err = "cancelled";
      return std::nullopt;
    }
    auto want = m.size - done < read_buffer_size ? m.size - done : read_buffer_size;
    auto got = ::read(fd, buf.get(), want);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      err = "cannot read " + path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    if (got == 0) {
      err = "cannot read " + path + ": file shrank while hashing";
      return std::nullopt;
    }
    if (progress != nullptr)
      progress->fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
    const char* p = buf.get();
    auto left = static_cast<size_t>(got);
    while (left > 0) {
      size_t take = m.chunk_size - in_chunk;
      if (take > left)
        take = left;
      hasher.update(p, take);
      p += take;
      left -= take;
      in_chunk += static_cast<uint32_t>(take);
      done += take;
      if (in_chunk == m.chunk_size || done == m.size) {
        m.hashes.push_back(hasher.finish());
        in_chunk = 0;
      }
    }
  }
  return m;
}

} // namespace p2p
