// The config loader: a config file (JSON with comments), P2P_* environment
// variables and flags, all fuzzed. load_config never throws; a configuration
// it accepts has a state dir and a valid chunk size and log level.
#include <fuzzer/FuzzedDataProvider.h>

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "fuzz/check.hpp"
#include "storage/manifest.hpp"

namespace {

constexpr std::array<const char*, 25> env_names = {
  "P2P_STATE_DIR", "P2P_CONTROL_ADDR", "P2P_PEER_PORT", "P2P_ADVERTISE_ADDR",
  "P2P_INTERFACE", "P2P_MULTICAST_GROUP", "P2P_MULTICAST_PORT", "P2P_PEERS",
  "P2P_CHUNK_SIZE", "P2P_LOG", "P2P_NO_MULTICAST", "P2P_ANNOUNCE_INTERVAL_MS",
  "P2P_PEER_EXPIRY_MS", "P2P_SCAN_WINDOW_MS", "P2P_REQUESTS_IN_FLIGHT",
  "P2P_STALL_TIMEOUT_MS", "P2P_RETRY_MAX_MS", "P2P_UPLOAD_RATE_LIMIT", "HOME",
  "XDG_STATE_HOME", "P2P_CONFIG", "P2P_NETWORK_KEY", "P2P_MAX_CONNECTIONS",
  "P2P_MAX_CONNECTIONS_PER_ADDR", "P2P_HELLO_TIMEOUT_MS",
};

// One file per fuzzing process, rewritten for every input.
const std::string& config_path() {
  static const std::string path = "/tmp/p2p-fuzz-config-" + std::to_string(getpid())
                                  + ".json";
  return path;
}

void write_file(const std::string& path, const std::string& text) {
  auto* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::map<std::string, std::string> env;
  auto n_env = in.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < n_env; ++i) {
    auto name = env_names[in.ConsumeIntegralInRange<size_t>(0, env_names.size() - 1)];
    env[name] = in.ConsumeRandomLengthString(64);
  }
  auto flags = nlohmann::json::parse(in.ConsumeRandomLengthString(256), nullptr, false);
  if (flags.is_discarded())
    flags = nullptr;
  if (flags.is_object())
    flags.erase("config"); // the file is always ours
  bool with_file = in.ConsumeBool();
  if (with_file)
    write_file(config_path(), in.ConsumeRemainingBytesAsString());
  auto lookup = [&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end())
      return std::nullopt;
    return it->second;
  };
  auto file = with_file ? std::optional<std::string>(config_path()) : std::nullopt;
  auto result = p2p::load_config(file, lookup, flags);
  if (!result.cfg) {
    FUZZ_CHECK(!result.error.empty());
    return 0;
  }
  auto& cfg = *result.cfg;
  FUZZ_CHECK(!cfg.state_dir.empty());
  FUZZ_CHECK(p2p::is_valid_chunk_size(cfg.chunk_size));
  FUZZ_CHECK(p2p::is_valid_log_level(cfg.log_level));
  return 0;
}
