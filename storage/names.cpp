#include "storage/names.hpp"

namespace p2p {

namespace {

constexpr size_t max_name_bytes = 255;

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(i);
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(i + 1) || !cont(i + 2))
      return 0;
    if ((c == 0xe0 && b(i + 1) < 0xa0) || (c == 0xed && b(i + 1) >= 0xa0))
      return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3))
      return 0;
    if ((c == 0xf0 && b(i + 1) < 0x90) || (c == 0xf4 && b(i + 1) >= 0x90))
      return 0;
    return 4;
  }
  return 0;
}

} // namespace

std::optional<std::string> sanitize_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() < max_name_bytes ? name.size() : max_name_bytes);
  for (size_t i = 0; i < name.size();) {
    auto len = utf8_sequence(name, i);
    if (len == 0) {
      // Invalid UTF-8 would break the JSON that shows this name; replace it.
      len = 1;
      if (out.size() + 1 > max_name_bytes)
        break;
      out.push_back('_');
    } else {
      if (out.size() + len > max_name_bytes)
        break; // cut before a sequence that no longer fits
      for (size_t k = 0; k < len; ++k) {
        auto c = static_cast<unsigned char>(name[i + k]);
        bool bad = len == 1 && (c < 0x20 || c == 0x7f || c == '/' || c == '\\');
        out.push_back(bad ? '_' : static_cast<char>(c));
      }
    }
    i += len;
  }
  if (out.empty() || out == "." || out == "..")
    return std::nullopt;
  return out;
}

} // namespace p2p
