#include "cli/output.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>

#include <sys/ioctl.h>
#include <unistd.h>

#include "storage/names.hpp"

namespace p2p::cli {

namespace {

// Display width of a UTF-8 string: code points, not bytes (good enough for
// names; wide CJK glyphs will still misalign a little).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

std::string pad(const std::string& s, size_t width, bool right) {
  auto w = display_width(s);
  if (w >= width)
    return s;
  std::string fill(width - w, ' ');
  return right ? fill + s : s + fill;
}

int terminal_columns() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    return ws.ws_col;
  return 80;
}

} // namespace

std::string format_rate(double bytes_per_second) {
  if (!(bytes_per_second > 0))
    return "0 B/s";
  return format_size(static_cast<uint64_t>(bytes_per_second)) + "/s";
}

std::string format_eta(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds))
    return "-";
  auto s = static_cast<uint64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%llu:%02llu:%02llu",
                  static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>((s / 60) % 60),
                  static_cast<unsigned long long>(s % 60));
  else
    std::snprintf(buf, sizeof(buf), "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  return buf;
}

std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

uint64_t json_u64(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number())
    return 0;
  if (it->is_number_unsigned())
    return it->get<uint64_t>();
  if (it->is_number_float()) {
    auto v = it->get<double>();
    constexpr double two_to_64 = 18446744073709551616.0; // first value out of range
    return v > 0 ? (v < two_to_64 ? static_cast<uint64_t>(v) : UINT64_MAX) : 0;
  }
  auto v = it->get<int64_t>();
  return v > 0 ? static_cast<uint64_t>(v) : 0;
}

double json_double(const nlohmann::json& obj, const char* key, double fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number())
    return fallback;
  return it->get<double>();
}

std::string json_str(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string())
    return {};
  return it->get<std::string>();
}

std::string json_name(const nlohmann::json& obj, const char* key) {
  auto text = json_str(obj, key);
  auto bytes = name_from_json(text);
  // A daemon that breaks the encoding still gets its text shown safely.
  return printable_name(bytes ? *bytes : text);
}

table::table(std::vector<std::string> headers, std::vector<size_t> right_aligned)
  : headers_(std::move(headers)), right_(std::move(right_aligned)) {
}

void table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  rows_.push_back(std::move(row));
}

std::string table::render(const std::string& indent) const {
  std::string out;
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) {
    width[c] = display_width(headers_[c]);
    for (auto& row : rows_)
      width[c] = std::max(width[c], display_width(row[c]));
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line = indent;
    for (size_t c = 0; c < row.size(); ++c) {
      bool right = std::find(right_.begin(), right_.end(), c) != right_.end();
      bool last = c + 1 == row.size();
      line += last && !right ? row[c] : pad(row[c], width[c], right);
      if (!last)
        line += "  ";
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line;
    out += '\n';
  };
  print_row(headers_);
  for (auto& row : rows_)
    print_row(row);
  return out;
}

void table::print(const std::string& indent) const {
  std::cout << render(indent);
}

std::string progress_text(const nlohmann::json& d, bool with_end_state) {
  auto size = json_u64(d, "size");
  auto done = json_u64(d, "bytes_done");
  double pct = size == 0 ? (json_str(d, "state") == "complete" ? 100.0 : 0.0)
                         : 100.0 * static_cast<double>(done) / static_cast<double>(size);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%5.1f%%", pct);
  auto text = std::string(buf) + "  " + format_size(done) + " / " + format_size(size);
  auto state = json_str(d, "state");
  // An ended download has no rate or ETA worth showing (both read 0 / -).
  if (state == "complete" || state == "failed" || state == "cancelled")
    return with_end_state ? text + "  " + state : text;
  return text + "  " + format_rate(json_double(d, "rate_bps", 0)) + "  ETA "
         + format_eta(json_double(d, "eta_s", -1));
}

void progress_bar::update(const nlohmann::json& d) {
  auto size = json_u64(d, "size");
  auto done = json_u64(d, "bytes_done");
  double frac = size == 0 ? 0.0 : static_cast<double>(done) / static_cast<double>(size);
  frac = std::clamp(frac, 0.0, 1.0);
  auto text = progress_text(d);
  int cols = terminal_columns();
  // A fixed-width bar, left out when the terminal is too narrow for it.
  constexpr int bar = 24;
  std::string line;
  if (cols - static_cast<int>(text.size()) - 4 >= bar) {
    int filled = static_cast<int>(frac * bar);
    line = "[" + std::string(filled, '#') + std::string(bar - filled, '-') + "] ";
  }
  line += text;
  std::cerr << '\r' << line << "\x1b[K" << std::flush;
  drawn_ = true;
}

void progress_bar::finish() {
  if (drawn_)
    std::cerr << '\n' << std::flush;
  drawn_ = false;
}

namespace {

// Optimal string alignment distance (Damerau-Levenshtein without repeated
// edits of one substring).
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

} // namespace

std::string closest_word(const std::string& typed, const std::vector<std::string>& candidates) {
  size_t limit = typed.size() <= 3 ? 1 : 2;
  std::string best;
  size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    auto dist = edit_distance(typed, c);
    if (dist < best_d) {
      best_d = dist;
      best = c;
    }
  }
  return best;
}

std::string shorten_ids(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && std::isxdigit(static_cast<unsigned char>(text[j])))
      ++j;
    if (j - i == 64)
      out += short_id(text.substr(i, 64));
    else
      out.append(text, i, j - i);
    if (j < text.size())
      out += text[j];
    i = j + 1;
  }
  return out;
}

std::vector<nlohmann::json> match_by_name_or_id(const nlohmann::json& items,
                                                const std::string& target) {
  bool hex = target.size() >= 4 && target.size() <= 64
             && std::all_of(target.begin(), target.end(),
                            [](unsigned char c) { return std::isxdigit(c) != 0; });
  std::vector<nlohmann::json> out;
  if (!items.is_array())
    return out;
  for (const auto& it : items) {
    auto id = json_str(it, "id");
    bool hit = json_str(it, "name") == target || (hex && id.compare(0, target.size(), target) == 0);
    bool seen = std::any_of(out.begin(), out.end(),
                            [&](const nlohmann::json& o) { return json_str(o, "id") == id; });
    if (hit && !seen)
      out.push_back(it);
  }
  return out;
}

std::string ambiguous_text(const std::string& target, const std::vector<nlohmann::json>& matches,
                           const char* where_key) {
  std::string text = "'" + target + "' matches " + std::to_string(matches.size()) + ":";
  bool first = true;
  for (const auto& m : matches) {
    text += first ? " " : ", ";
    first = false;
    text += short_id(json_str(m, "id")) + " (" + format_size(json_u64(m, "size"));
    auto where = where_key != nullptr ? json_str(m, where_key) : std::string();
    text += (where.empty() ? "" : ", " + where) + ")";
  }
  return text + "; name one by its short id";
}

void print_json(const nlohmann::json& doc) {
  std::cout << doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n'
            << std::flush;
}

void print_error(bool json, const std::string& code, const std::string& message) {
  std::cerr << "p2p-cli: " << printable_name(shorten_ids(message)) << '\n' << std::flush;
  if (json)
    print_json({{"error", {{"code", code}, {"message", name_to_json(message)}}}});
}

} // namespace p2p::cli
