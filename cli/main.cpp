// p2p-cli: talks to the local p2p-daemon over its control channel.
#include <algorithm>
#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "p2p/version.hpp"

namespace {

bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0)
      return true;
  return false;
}

// The first word of the command line that is neither an option nor the value
// of a global option taking one; "" when there is none.
std::string first_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--control" || a == "--state-dir") {
      ++i; // its value
      continue;
    }
    if (!a.empty() && a[0] == '-')
      continue;
    return a;
  }
  return {};
}

} // namespace

int main(int argc, char** argv) {
  using namespace p2p::cli;
  context ctx;
  CLI::App app{"p2p-cli: share, find and download files on the LAN through p2p-daemon",
               "p2p-cli"};
  app.fallthrough(); // global options may follow the subcommand too
  app.require_subcommand(1);
  app.set_version_flag("--version", p2p::version_line("p2p-cli"));
  app.add_option("--control", ctx.global.control, "control address of the daemon, HOST:PORT")
    ->envname("P2P_CONTROL");
  app.add_option("--state-dir", ctx.global.state_dir,
                 "the daemon's state dir (cookie, control.addr)")
    ->envname("P2P_STATE_DIR");
  app.add_flag("--json", ctx.global.json, "print one JSON document on stdout");
  app.footer("Example:\n  p2p-cli share ./movie.mkv && p2p-cli ls\n"
             "Run `p2p-cli COMMAND --help` for a command's options and an example.");

  add_share_command(app, ctx);
  add_unshare_command(app, ctx);
  add_scan_command(app, ctx);
  add_ls_command(app, ctx);
  add_peers_command(app, ctx);
  add_download_command(app, ctx);
  add_cancel_command(app, ctx);
  add_status_command(app, ctx);
  add_clear_command(app, ctx);
  add_web_command(app, ctx);
  add_keygen_command(app, ctx);

  // A mistyped command: name the closest one instead of CLI11's
  // "A subcommand is required".
  std::vector<std::string> commands;
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    commands.push_back(sub->get_name());
  if (auto word = first_word(argc, argv);
      !word.empty() && std::find(commands.begin(), commands.end(), word) == commands.end()) {
    auto guess = closest_word(word, commands);
    std::string msg = "unknown command '" + word + "'"
                      + (guess.empty() ? "" : "; did you mean '" + guess + "'?")
                      + " (p2p-cli --help lists the commands)";
    print_error(wants_json(argc, argv), "usage", msg);
    return exit_code::usage;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) { // --help or --version: CLI11 prints them
      app.exit(e);
      return exit_code::ok;
    }
    // One `p2p-cli: ...` line like every other error (README), not CLI11's
    // two lines; the command's --help has the usage and an example.
    print_error(wants_json(argc, argv), "usage",
                std::string(e.what()) + " (p2p-cli COMMAND --help shows the usage)");
    return exit_code::usage;
  }
  return ctx.exit;
}
