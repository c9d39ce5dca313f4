#include "storage/resume.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "protocol/frame.hpp"
#include "storage/fs.hpp"
#include "storage/manifest.hpp"
#include "storage/names.hpp"
#include "util/hex.hpp"

namespace p2p {

namespace {

using nlohmann::json;

bool get_string(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return false;
  out = it->get<std::string>();
  return true;
}

// A name or path: JSON text of name_to_json, back to its bytes.
bool get_name(const json& j, const char* key, std::string& out) {
  std::string text;
  if (!get_string(j, key, text))
    return false;
  auto bytes = name_from_json(text);
  if (!bytes)
    return false;
  out = std::move(*bytes);
  return true;
}

template <class T>
bool get_unsigned(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()
      || (!it->is_number_unsigned() && it->get<int64_t>() < 0))
    return false;
  auto v = it->get<uint64_t>();
  if (v > std::numeric_limits<T>::max())
    return false;
  out = static_cast<T>(v);
  return true;
}

} // namespace

std::string bitmap_to_hex(const std::vector<bool>& bits) {
  std::vector<uint8_t> bytes((bits.size() + 7) / 8, 0);
  for (size_t i = 0; i < bits.size(); ++i)
    if (bits[i])
      bytes[i / 8] |= static_cast<uint8_t>(0x80u >> (i % 8));
  return to_hex(bytes.data(), bytes.size());
}

std::optional<std::vector<bool>> bitmap_from_hex(const std::string& hex, size_t nbits) {
  if (hex.size() != (nbits + 7) / 8 * 2)
    return std::nullopt;
  auto bytes = from_hex(hex);
  if (!bytes)
    return std::nullopt;
  std::vector<bool> bits(nbits, false);
  for (size_t i = 0; i < bytes->size() * 8; ++i) {
    bool set = ((*bytes)[i / 8] & (0x80u >> (i % 8))) != 0;
    if (i < nbits)
      bits[i] = set;
    else if (set)
      return std::nullopt; // padding bits must be zero
  }
  return bits;
}

std::string to_json(const resume_record& r) {
  json j = {
    {"id", r.id_hex},
    {"name", name_to_json(r.name)},
    {"out_dir", name_to_json(r.out_dir)},
    {"size", r.size},
    {"chunk_size", r.chunk_size},
    {"overwrite", r.overwrite},
    {"seed", r.seed},
    {"chunks", r.have.size()},
    {"have", bitmap_to_hex(r.have)},
  };
  return j.dump(2) + "\n";
}

std::optional<resume_record> resume_from_json(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  resume_record r;
  std::string have_hex;
  uint64_t chunks = 0;
  if (!get_string(j, "id", r.id_hex) || !get_name(j, "name", r.name)
      || !get_name(j, "out_dir", r.out_dir) || !get_unsigned(j, "size", r.size)
      || !get_unsigned(j, "chunk_size", r.chunk_size) || !get_string(j, "have", have_hex)
      || !get_unsigned(j, "chunks", chunks))
    return std::nullopt;
  // Optional flags (records written before them lack them): a boolean or absent.
  for (auto [key, out] : {std::pair<const char*, bool*>{"overwrite", &r.overwrite},
                          std::pair<const char*, bool*>{"seed", &r.seed}}) {
    auto it = j.find(key);
    if (it == j.end())
      continue;
    if (!it->is_boolean())
      return std::nullopt;
    *out = it->get<bool>();
  }
  if (!proto::content_id_from_hex(r.id_hex) || r.name.empty() || r.out_dir.empty()
      || !is_valid_chunk_size(r.chunk_size))
    return std::nullopt;
  uint64_t expected = r.size / r.chunk_size + (r.size % r.chunk_size != 0 ? 1 : 0);
  if (chunks != expected || chunks > max_chunks)
    return std::nullopt;
  auto bits = bitmap_from_hex(have_hex, chunks);
  if (!bits)
    return std::nullopt;
  r.have = std::move(*bits);
  return r;
}

std::optional<resume_files> load_resume_files(const std::string& stem,
                                               const std::string& id_hex, std::string& why) {
  why.clear();
  auto text = read_file(stem + ".json");
  if (!text)
    return std::nullopt;
  auto rec = resume_from_json(*text);
  if (!rec) {
    why = "unreadable";
    return std::nullopt;
  }
  auto mbytes = read_file(stem + ".manifest");
  auto m = mbytes ? parse_manifest(mbytes->data(), mbytes->size()) : std::nullopt;
  if (!m) {
    why = "manifest missing or unreadable";
    return std::nullopt;
  }
  auto cid = content_id_of(*m);
  if (to_hex(cid.data(), cid.size()) != id_hex || rec->id_hex != id_hex) {
    why = "content id does not match";
    return std::nullopt;
  }
  if (rec->size != m->size || rec->have.size() != m->chunk_count()) {
    why = "size does not match the manifest";
    return std::nullopt;
  }
  return resume_files{std::move(*rec), std::move(*m)};
}

std::vector<uint32_t> verify_unrecorded(const std::string& part_path, const manifest& m,
                                        const std::vector<bool>& have,
                                        const std::atomic<bool>& stop, std::string& err) {
  std::vector<uint32_t> found;
  err.clear();
  int fd = ::open(part_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = "cannot open " + part_path + ": " + errno_text(errno);
    return found;
  }
  std::unique_ptr<char[]> buf(new char[m.chunk_size]);
  for (uint32_t i = 0; i < m.chunk_count() && !stop.load(std::memory_order_relaxed); ++i) {
    if (i < have.size() && have[i])
      continue;
    size_t len = m.chunk_length(i);
    auto n = read_full_at(fd, buf.get(), len, m.chunk_offset(i));
    if (n != static_cast<long>(len)) {
      err = "cannot read " + part_path + ": "
            + (n < 0 ? errno_text(errno) : std::string("file shorter than the manifest"));
      ::close(fd);
      return found;
    }
    if (m.verify(i, buf.get(), len))
      found.push_back(i);
  }
  ::close(fd);
  return found;
}

} // namespace p2p
