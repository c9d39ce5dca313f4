#pragma once
// A scratch directory for one test, removed with its contents afterwards.
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include <ftw.h>
#include <unistd.h>

namespace p2p::test {

class temp_dir {
public:
  temp_dir() {
    std::string tmpl = "/tmp/p2p-unit-XXXXXX";
    if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0')
      tmpl = std::string(t) + "/p2p-unit-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    ::nftw(path_.c_str(),
           [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); },
           16, FTW_DEPTH | FTW_PHYS);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  std::string write(const std::string& name, const std::string& data) const {
    auto p = file(name);
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }

private:
  std::string path_;
};

} // namespace p2p::test
