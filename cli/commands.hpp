#pragma once
// One function per subcommand (cli/cmd_<name>.cpp) registers its options and
// its callback; main only wires them.
#include <functional>

#include <CLI/CLI.hpp>

#include "cli/client.hpp"

namespace p2p::cli {

// Shared by main and every subcommand: the global options, filled by CLI11
// before any callback runs, and the exit code the callback leaves.
struct context {
  global_options global;
  int exit = exit_code::ok;
};

// Makes `body` the subcommand's callback; failures become exit codes.
inline void on_run(CLI::App* sub, context& ctx, std::function<void()> body) {
  sub->callback([&ctx, body = std::move(body)] { ctx.exit = run_command(ctx.global, body); });
}

void add_share_command(CLI::App& app, context& ctx);
void add_unshare_command(CLI::App& app, context& ctx);
void add_scan_command(CLI::App& app, context& ctx);
void add_ls_command(CLI::App& app, context& ctx);
void add_peers_command(CLI::App& app, context& ctx);
void add_download_command(CLI::App& app, context& ctx);
void add_cancel_command(CLI::App& app, context& ctx);
void add_status_command(CLI::App& app, context& ctx);
void add_clear_command(CLI::App& app, context& ctx);
void add_web_command(CLI::App& app, context& ctx);
void add_keygen_command(CLI::App& app, context& ctx);

} // namespace p2p::cli
