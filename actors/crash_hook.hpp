#pragma once
// Test-only hook: lets the supervision tests kill a core actor's behaviour
// with an exception (tests/system/supervision_test.cpp).
//
// With P2P_TEST_CRASH=<state name> in the daemon's environment (e.g.
// "catalog"), that actor throws from its behaviour when it receives a
// `crash_atom`; p2p-daemon sends it one on SIGUSR1. Without the variable
// arm_crash_hook does nothing, and no actor's message handling changes: the
// hook only replaces the default handler, which sees messages no handler
// matched.
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <caf/atom.hpp>
#include <caf/message_view.hpp>
#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>

namespace p2p {

using crash_atom = caf::atom_constant<caf::atom("crash")>;

// The environment variable naming the actor to arm.
constexpr const char* crash_hook_env = "P2P_TEST_CRASH";

// Call once in a core actor's behaviour function, with its stateful self.
template <class Self>
void arm_crash_hook(Self* self) {
  const char* name = std::remove_reference_t<decltype(self->state)>::name;
  const char* want = std::getenv(crash_hook_env);
  if (want == nullptr || std::strcmp(want, name) != 0)
    return;
  self->set_default_handler(
    [](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
      if (x.content().match_elements<crash_atom>())
        throw std::runtime_error(std::string{"test crash ("} + crash_hook_env + ")");
      return caf::sec::unexpected_message;
    });
}

} // namespace p2p
