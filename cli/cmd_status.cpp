// p2p-cli status: shares, downloads (state, bytes, rate, per-peer bytes), uploads.
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace p2p::cli {

namespace {

void print_shares(const nlohmann::json& shares) {
  std::cout << "Shares (" << shares.size() << ")\n";
  if (shares.empty())
    return;
  table t({"NAME", "SIZE", "ID", "PATH"}, {1});
  for (auto& s : shares)
    t.add({json_name(s, "name"), format_size(json_u64(s, "size")), short_id(json_str(s, "id")),
           json_name(s, "path")});
  t.print("  ");
}

void print_download(const nlohmann::json& d) {
  std::cout << "  " << json_name(d, "name") << "  " << json_str(d, "state") << "  "
            << progress_text(d, false) << "  -> " << json_name(d, "out_path") << '\n';
  auto peers = d.value("peers", nlohmann::json::array());
  if (!peers.empty()) {
    bool any_error = false;
    for (auto& p : peers)
      any_error = any_error || !json_name(p, "error").empty();
    table t(any_error ? std::vector<std::string>{"PEER", "BYTES", "STATE", "ERROR"}
                      : std::vector<std::string>{"PEER", "BYTES", "STATE"},
            {1});
    for (auto& p : peers)
      t.add({json_name(p, "addr"), format_size(json_u64(p, "bytes")), json_str(p, "state"),
             json_name(p, "error")}); // add() drops the error column when absent
    t.print("      ");
  }
  auto err = json_name(d, "error");
  if (!err.empty())
    std::cout << "      last error: " << err << '\n';
}

void print_status(const nlohmann::json& r) {
  print_shares(r.value("shares", nlohmann::json::array()));
  auto downloads = r.value("downloads", nlohmann::json::array());
  std::cout << "Downloads (" << downloads.size() << ")\n";
  for (auto& d : downloads)
    print_download(d);
  auto up = r.value("uploads", nlohmann::json::object());
  std::cout << "Uploads: " << json_u64(up, "active") << " active, "
            << format_size(json_u64(up, "bytes_total")) << " sent\n";
}

} // namespace

void add_status_command(CLI::App& app, context& ctx) {
  auto sub = app.add_subcommand("status", "Shares, downloads (state, bytes, rate, peers), uploads");
  sub->footer("Example:\n  p2p-cli status --watch");
  auto watch = std::make_shared<bool>(false);
  sub->add_flag("-w,--watch", *watch,
                "redraw every second until Ctrl-C (with --json: one document a line)");
  on_run(sub, ctx, [&ctx, watch] {
    bool tty = isatty(STDOUT_FILENO) != 0;
    for (;;) {
      control_client client(ctx.global); // one request per connection
      auto result = client.call("status", nlohmann::json::object(), request_timeout_ms);
      if (*watch && tty && !ctx.global.json)
        std::cout << "\x1b[H\x1b[2J"; // home, clear screen
      if (ctx.global.json) {
        print_json(result);
      } else {
        print_status(result);
        if (*watch)
          std::cout << (tty ? "(every 1 s; Ctrl-C stops)\n" : "\n");
      }
      if (!*watch)
        return;
      std::cout << std::flush;
      std::this_thread::sleep_for(std::chrono::seconds(1)); // the redraw period
    }
  });
}

} // namespace p2p::cli
