// p2p-cli share <PATH>: share a file, or each file under a directory.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "storage/names.hpp"

namespace p2p::cli {

void add_share_command(CLI::App& app, context& ctx) {
  auto path = std::make_shared<std::string>();
  auto sub = app.add_subcommand("share", "Share a file (a directory: each file under it)");
  sub->footer("Example:\n  p2p-cli share ~/Videos      (a folder: every file under it)");
  sub->add_option("PATH", *path, "file or directory")->required();
  on_run(sub, ctx, [&ctx, path] {
    control_client client(ctx.global);
    auto abs = absolute_path(*path);
    // On a terminal the daemon reports the hashing still to do about four
    // times a second; shown as a bar once there is a lot of it.
    bool tty = isatty(STDERR_FILENO) != 0 && !ctx.global.json;
    std::optional<progress_bar> bar;
    uint64_t most_left = 0;
    auto start = std::chrono::steady_clock::now();
    // One file: its size is the whole of the hashing (the first report may
    // come after the hasher has read some of it).
    std::error_code ec;
    uint64_t one_file = std::filesystem::is_regular_file(abs, ec) ? std::filesystem::file_size(abs, ec) : 0;
    if (ec)
      one_file = 0;
    event_handler on_event = [&](const nlohmann::json& ev) {
      auto h = ev.value("hashing", nlohmann::json::object());
      auto left = json_u64(h, "bytes_left");
      if (left == 0 && !bar)
        return; // nothing to hash (already shared)
      most_left = std::max({most_left, left, left <= one_file ? one_file : 0});
      if (!bar && most_left < share_progress_min_bytes)
        return;
      if (!bar) {
        std::cerr << "p2p-cli: hashing " << json_u64(h, "files") << " file"
                  << (json_u64(h, "files") == 1 ? "" : "s") << " before sharing\n";
        bar.emplace();
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double rate = s > 0 ? static_cast<double>(most_left - left) / s : 0;
      bar->update({{"size", most_left},
                   {"bytes_done", most_left - left},
                   {"rate_bps", rate},
                   {"eta_s", rate > 0 ? static_cast<double>(left) / rate : -1.0},
                   {"state", "running"}});
    };
    nlohmann::json result;
    try {
      result = client.call("share", {{"path", abs}, {"progress", tty}}, share_timeout_ms,
                           on_event);
    } catch (const failure&) {
      if (bar)
        bar->finish();
      throw;
    }
    if (bar) {
      bar->update({{"size", most_left}, {"bytes_done", most_left}, {"state", "complete"}});
      bar->finish();
    }
    if (ctx.global.json)
      return print_json(result);
    auto shares = result.value("shares", nlohmann::json::array());
    // Links leading outside the shared folder (and broken ones) are left out.
    for (auto& s : result.value("skipped", nlohmann::json::array()))
      std::cout << "skipped " << json_name(s, "path") << ": " << json_name(s, "reason")
                << '\n';
    if (shares.empty()) {
      std::cout << "nothing to share under " << printable_name(abs) << '\n';
      return;
    }
    for (auto& s : shares)
      std::cout << "shared " << json_name(s, "name") << " (" << format_size(json_u64(s, "size"))
                << ", id " << short_id(json_str(s, "id")) << ")\n";
  });
}

} // namespace p2p::cli
