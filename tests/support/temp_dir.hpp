#pragma once
// A scratch directory for one test, removed with its contents afterwards,
// and the plain file helpers the tests use with it (no CAF here: the unit
// tests include this too).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

#include <stdlib.h>

namespace p2p::test {

// Writes `data` to `path` (replacing it), creating missing parent dirs.
inline void write_file(const std::string& path, const std::string& data) {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty())
    std::filesystem::create_directories(parent);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Made under $TMPDIR (or /tmp).
class temp_dir {
public:
  temp_dir() {
    auto tmpl = (std::filesystem::temp_directory_path() / "p2p-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  // `name` (may have slashes) inside the dir.
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes file(name) and returns its path.
  std::string write(const std::string& name, const std::string& data) const {
    auto p = file(name);
    write_file(p, data);
    return p;
  }

private:
  std::string path_;
};

} // namespace p2p::test
