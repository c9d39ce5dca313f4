#include "storage/names.hpp"
#include "util/hex.hpp"

#include "storage/manifest.hpp"
#include "util/hex.hpp"

namespace p2p {

namespace {

constexpr size_t max_name_bytes = 255;
constexpr char hex_digits[] = "0123456789abcdef";

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

void put_hex_escape(std::string& out, unsigned char c) {
  out += "\\x";
  out.push_back(hex_digits[c >> 4]);
  out.push_back(hex_digits[c & 0x0f]);
}

// The JSON text (escape_controls false) or the terminal text (true) of `s`.
std::string escape(std::string_view s, bool escape_controls) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto len = utf8_sequence(s, i);
    auto c = static_cast<unsigned char>(s[i]);
    bool control = (len == 1 && (c < 0x20 || c == 0x7f))
                   || (len == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0);
    if (len == 0) {
      put_hex_escape(out, c);
      len = 1;
    } else if (c == '\\') {
      out += "\\\\";
    } else if (escape_controls && control) {
      for (size_t k = 0; k < len; ++k)
        put_hex_escape(out, static_cast<unsigned char>(s[i + k]));
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

} // namespace

std::string name_to_json(std::string_view bytes) {
  return escape(bytes, false);
}

std::optional<std::string> name_from_json(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back('\\');
      i += 1;
      continue;
    }
    if (i + 3 >= text.size() || text[i + 1] != 'x')
      return std::nullopt;
    int hi = hex_value(text[i + 2]);
    int lo = hex_value(text[i + 3]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 3;
  }
  return out;
}

std::string printable_name(std::string_view bytes) {
  return escape(bytes, true);
}

bool is_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto len = utf8_sequence(s, i);
    if (len == 0)
      return false;
    i += len;
  }
  return true;
}

// The longest prefix of `s` of at most `n` bytes that does not split a UTF-8
// sequence (bytes outside UTF-8 count as sequences of one).
std::string_view utf8_prefix(std::string_view s, size_t n) {
  size_t end = 0;
  while (end < s.size()) {
    auto len = utf8_sequence(s, end);
    len = len == 0 ? 1 : len;
    if (end + len > n)
      break;
    end += len;
  }
  return s.substr(0, end);
}

std::optional<std::string> sanitize_path(std::string_view name) {
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    auto slash = name.find('/', start);
    auto part = name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (!part.empty()) {
      if (part == "." || part == "..")
        return std::nullopt;
      auto clean = sanitize_name(part);
      if (!clean)
        return std::nullopt;
      out += (out.empty() ? "" : "/") + *clean;
    }
    if (slash == std::string_view::npos)
      break;
    start = slash + 1;
  }
  if (out.empty())
    return std::nullopt;
  return out;
}

std::string part_path_of(const std::string& final_path) {
  constexpr std::string_view suffix = ".part";
  auto slash = final_path.rfind('/');
  auto dir = slash == std::string::npos ? std::string() : final_path.substr(0, slash + 1);
  std::string_view file = std::string_view(final_path).substr(dir.size());
  if (file.size() + suffix.size() <= max_name_bytes)
    return final_path + std::string(suffix);
  auto d = sha256(file.data(), file.size());
  auto tag = "~" + to_hex(d.data(), 8); // 16 hex digits
  auto keep = utf8_prefix(file, max_name_bytes - suffix.size() - tag.size());
  return dir + std::string(keep) + tag + std::string(suffix);
}

std::optional<std::string> sanitize_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() < max_name_bytes ? name.size() : max_name_bytes);
  for (size_t i = 0; i < name.size();) {
    // A byte outside UTF-8 is kept as it is (a name of one byte).
    auto len = utf8_sequence(name, i);
    if (len == 0)
      len = 1;
    if (out.size() + len > max_name_bytes)
      break; // cut before a sequence that no longer fits
    for (size_t k = 0; k < len; ++k) {
      auto c = static_cast<unsigned char>(name[i + k]);
      bool bad = len == 1 && (c < 0x20 || c == 0x7f || c == '/' || c == '\\');
      out.push_back(bad ? '_' : static_cast<char>(c));
    }
    i += len;
  }
  if (out.empty() || out == "." || out == "..")
    return std::nullopt;
  return out;
}

} // namespace p2p
