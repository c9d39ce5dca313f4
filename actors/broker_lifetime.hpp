#pragma once
// How a broker (an actor on CAF's I/O multiplexer) times itself and quits
// without leaking, around two faults of CAF 0.17.6 (docs/architecture.md,
// "Sanitizers"; scripts/caf-broker-leaks.cpp shows both with CAF alone).
#include <chrono>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/abstract_broker.hpp>
#include <caf/send.hpp>

namespace p2p {

// Sends `self` the message `xs...` after `delay`, without a sender. A
// broker's timer message must not name the broker as its sender: CAF 0.17.6
// never closes a terminated broker's mailbox (abstract_broker::cleanup calls
// local_actor::cleanup, skipping scheduled_actor::cleanup, which closes and
// empties it), so a timer that fires after the broker quit stays in that
// mailbox, and as its sender keeps the broker (and whatever its mailbox
// holds) alive for good. Anonymous, it is freed with the broker.
template <class Broker, class Rep, class Period, class... Ts>
void delayed_self_send(Broker* self, std::chrono::duration<Rep, Period> delay, Ts&&... xs) {
  caf::delayed_anon_send(caf::actor_cast<typename Broker::actor_hdl>(self), delay,
                         std::forward<Ts>(xs)...);
}

// Quits `self` (closing its connections) with `reason` in the multiplexer's
// next loop iteration instead of now, the way CAF's middleman stops its own
// brokers. Needed by a broker that may quit in the iteration that added a
// connection or a listening socket (it connected in its init function and
// fails on the first message, or an exit arrives right after its start):
// CAF 0.17.6 queues the epoll registration of a new socket and cancels it
// against a removal queued in the same iteration (default_multiplexer.hpp,
// new_event), so the socket never leaves the loop and its reference to its
// servant (stream::reader_, released only by removed_from_loop) leaks the
// servant and the socket. One iteration later the registration has been
// applied. Until then the broker still gets messages; its handlers should
// ignore them.
template <class Broker>
void quit_next_iteration(Broker* self, caf::error reason = caf::error{}) {
  auto* mpx = &self->backend();
  caf::strong_actor_ptr me{self->ctrl()};
  mpx->post([me, mpx, reason]() mutable {
    auto* broker = static_cast<caf::io::abstract_broker*>(
      caf::actor_cast<caf::abstract_actor*>(me));
    if (broker->getf(caf::abstract_actor::is_terminated_flag))
      return;
    broker->context(mpx);
    broker->quit(std::move(reason));
    broker->finalize();
  });
}

// Makes `self` quit on an exit message (other than a normal one, which CAF
// ignores too) through quit_next_iteration, with the message's reason. For a
// broker that adds a socket in its init function: an exit that arrives at
// once (a start that fails after spawning it, a linked actor that dies)
// would otherwise leak that socket.
template <class Broker>
void defer_exit(Broker* self) {
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.reason)
      quit_next_iteration(self, std::move(msg.reason));
  });
}

} // namespace p2p
