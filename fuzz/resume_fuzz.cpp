// Resume records read back from the state directory: what parses is
// consistent, and writing it and reading it again gives the same record.
#include <cstdint>
#include <string>

#include "fuzz/check.hpp"
#include "storage/manifest.hpp"
#include "storage/resume.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = p2p::resume_from_json(text);
  if (!r)
    return 0;
  FUZZ_CHECK(p2p::is_valid_chunk_size(r->chunk_size));
  FUZZ_CHECK(r->have.size() == (r->size + r->chunk_size - 1) / r->chunk_size);
  FUZZ_CHECK(r->id_hex.size() == 64 && !r->name.empty() && !r->out_dir.empty());
  auto again = p2p::resume_from_json(p2p::to_json(*r));
  FUZZ_CHECK(again);
  FUZZ_CHECK(again->id_hex == r->id_hex && again->name == r->name
             && again->out_dir == r->out_dir && again->size == r->size
             && again->chunk_size == r->chunk_size && again->overwrite == r->overwrite
             && again->have == r->have);
  return 0;
}
