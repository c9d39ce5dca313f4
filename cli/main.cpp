// p2p-cli: talks to the local p2p-daemon over its control channel.
#include <cstring>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace {

bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0)
      return true;
  return false;
}

} // namespace

int main(int argc, char** argv) {
  using namespace p2p::cli;
  context ctx;
  CLI::App app{"p2p-cli: share, find and download files on the LAN through p2p-daemon",
               "p2p-cli"};
  app.fallthrough(); // global options may follow the subcommand too
  app.require_subcommand(1);
  app.add_option("--control", ctx.global.control, "control address of the daemon, HOST:PORT")
    ->envname("P2P_CONTROL");
  app.add_option("--state-dir", ctx.global.state_dir,
                 "the daemon's state dir (cookie, control.addr)")
    ->envname("P2P_STATE_DIR");
  app.add_flag("--json", ctx.global.json, "print one JSON document on stdout");

  add_share_command(app, ctx);
  add_unshare_command(app, ctx);
  add_scan_command(app, ctx);
  add_ls_command(app, ctx);
  add_peers_command(app, ctx);
  add_download_command(app, ctx);
  add_cancel_command(app, ctx);
  add_status_command(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e); // prints help (rc 0) or the error
    if (rc == 0)
      return exit_code::ok;
    if (wants_json(argc, argv))
      print_json({{"error", {{"code", "usage"}, {"message", e.what()}}}});
    return exit_code::usage;
  }
  return ctx.exit;
}
