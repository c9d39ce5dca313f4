#pragma once
// Every actor of the daemon and the typed messages it handles, on one page.
// Brokers (control_server, discovery, peer_server, range_fetcher, peer_query)
// also list the CAF I/O messages they react to.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/fwd.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/messages.hpp"
#include "config/config.hpp"
#include "protocol/frame.hpp"

namespace p2p {

// -- atoms (at most 10 characters) ---------------------------------------------
using share_atom = caf::atom_constant<caf::atom("share")>;
using unshare_atom = caf::atom_constant<caf::atom("unshare")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using manifest_atom = caf::atom_constant<caf::atom("manifest")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using shares_atom = caf::atom_constant<caf::atom("shares")>;
using hash_atom = caf::atom_constant<caf::atom("hash")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using scan_atom = caf::atom_constant<caf::atom("scan")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using bye_atom = caf::atom_constant<caf::atom("bye")>;
using sighting_atom = caf::atom_constant<caf::atom("sighting")>;
using catalog_atom = caf::atom_constant<caf::atom("catalog")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using seeders_atom = caf::atom_constant<caf::atom("seeders")>;
using uploads_atom = caf::atom_constant<caf::atom("uploads")>;
using download_atom = caf::atom_constant<caf::atom("download")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using chunk_atom = caf::atom_constant<caf::atom("chunk")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using lost_atom = caf::atom_constant<caf::atom("lost")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using partial_atom = caf::atom_constant<caf::atom("partial")>;
using have_atom = caf::atom_constant<caf::atom("have")>;
using bitfield_atom = caf::atom_constant<caf::atom("bitfield")>;
using withdraw_atom = caf::atom_constant<caf::atom("withdraw")>;
using clear_atom = caf::atom_constant<caf::atom("clear")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;

// Index of a seeder within one download (range_fetcher <-> download).
using seeder_key = uint32_t;

// -- share_registry ------------------------------------------------------------

// Gets the share table whenever it changes (peer_server, discovery).
using shares_listener_actor = caf::typed_actor<
  // The whole share table and its catalog version (bumped on every change).
  caf::reacts_to<shares_atom, std::vector<share_info>, uint32_t>,
  // One share added at once, ahead of the table that lists it (which follows
  // within defaults::partial_announce_delay_ms): a completed download's file,
  // replacing its partial offer (same content id) if the listener has one.
  caf::reacts_to<share_atom, share_info>,
  // A partial offer (content id hex) verified chunk `index` (swarming).
  caf::reacts_to<have_atom, std::string, uint32_t>>;

// Builds manifests off the hot path (a detached actor per batch of files).
using hasher_actor = caf::typed_actor<
  // Hashes each file (paths) with the preferred chunk size; replies with one
  // hash_result per path, in order (a manifest or the error naming the file).
  caf::replies_to<hash_atom, std::vector<std::string>, uint32_t>::with<
    std::vector<hash_result>>>;

using share_registry_actor = caf::typed_actor<
  // Shares a file, or each regular file under a directory (absolute path).
  // A file is offered under its own name (a link under the link's name); the
  // files of a folder DIR as "DIR/sub/file". Links leading outside the
  // shared folder are skipped and listed in the reply.
  caf::replies_to<share_atom, std::string>::with<share_result>,
  // Stops sharing every share whose name, path or content id is the argument.
  caf::replies_to<unshare_atom, std::string>::with<std::vector<share_info>>,
  // All current shares.
  caf::replies_to<list_atom>::with<std::vector<share_info>>,
  // Hashing still to do: files queued or being hashed, and their bytes not
  // hashed yet (what `share` shows while it waits).
  caf::replies_to<hash_atom>::with<uint64_t, uint64_t>,
  // The serialized manifest of a shared content id (hex), or not_found.
  caf::replies_to<manifest_atom, std::string>::with<std::vector<char>>,
  // From a download: offer its part file (share_info.partial, with the chunks
  // verified so far) and its manifest to peers; ignored when the content id is
  // shared in full here. Bumps the catalog version (one announce).
  caf::reacts_to<partial_atom, share_info, std::vector<char>>,
  // From a download: the partial offer of this content id verified a chunk;
  // forwarded to the listeners (no catalog version bump).
  caf::reacts_to<have_atom, std::string, uint32_t>,
  // From a download that ends: withdraws its partial offer; with a path (the
  // completed file) installs that as a share with the known manifest.
  caf::reacts_to<withdraw_atom, std::string, std::string>,
  // Adds a listener; it gets the current table at once and every change.
  caf::reacts_to<subscribe_atom, shares_listener_actor>,
  // Timer: re-checks shared files on disk (size, mtime) and re-hashes changed ones.
  caf::reacts_to<tick_atom>,
  // Timer: persists and announces the changes of the last batch.
  caf::reacts_to<flush_atom>>;

// -- catalog -------------------------------------------------------------------

using catalog_actor = caf::typed_actor<
  // A peer announced itself (multicast) or is a static peer: fetch its catalog
  // over TCP if it is new or its catalog version changed.
  caf::reacts_to<sighting_atom, peer_sighting>,
  // A peer said bye: forget it and its files now.
  caf::reacts_to<bye_atom, uint64_t>,
  // Re-fetches every known peer's catalog and waits the scan window (ms; 0:
  // the configured one) for answers to a multicast scan; replies with what is
  // known then.
  caf::replies_to<scan_atom, uint32_t>::with<scan_result>,
  // Files on the LAN, one per (name, content id), sorted by name (for `ls`).
  caf::replies_to<list_atom>::with<std::vector<file_offer>>,
  // The entries of `list_atom` named `name` or in the folder `name` ("name/...")
  // and whose id starts with
  // `id_prefix` (an empty one matches all): what a download request needs,
  // without building and copying every offer (with 1,000 files shared, the
  // whole list per request made 1,000 downloads quadratic).
  caf::replies_to<list_atom, std::string, std::string>::with<std::vector<file_offer>>,
  // Known peers (for `peers`).
  caf::replies_to<peers_atom>::with<std::vector<peer_info>>,
  // Peer_server endpoints ("host:port") currently offering a content id.
  caf::replies_to<seeders_atom, std::string>::with<std::vector<std::string>>,
  // Timer: expire silent peers, poll static peers.
  caf::reacts_to<tick_atom>>;

// -- discovery (UDP multicast broker) ------------------------------------------

using discovery_actor = caf::typed_actor<
  caf::reacts_to<caf::io::new_datagram_msg>,
  caf::reacts_to<caf::io::datagram_sent_msg>,
  caf::reacts_to<caf::io::datagram_servant_closed_msg>,
  // Sends a scan to the group now (others answer with announces).
  caf::reacts_to<scan_atom>,
  // From share_registry: the catalog changed; announce the new version now.
  caf::reacts_to<shares_atom, std::vector<share_info>, uint32_t>,
  // From share_registry: a completed download's share ahead of the table
  // (ignored: the table brings the new version).
  caf::reacts_to<share_atom, share_info>,
  // From share_registry: a partial offer's new chunk (ignored: no datagrams
  // per chunk).
  caf::reacts_to<have_atom, std::string, uint32_t>,
  // Timer: periodic announce; also a delayed answer to a scan.
  caf::reacts_to<tick_atom>,
  // Sends bye to the group (daemon shutdown); replies when sent.
  caf::replies_to<bye_atom>::with<bool>>;

// -- peer_server (TCP broker serving other daemons) ----------------------------

using peer_server_actor = caf::typed_actor<
  caf::reacts_to<caf::io::new_connection_msg>,
  caf::reacts_to<caf::io::new_data_msg>,
  caf::reacts_to<caf::io::connection_closed_msg>,
  caf::reacts_to<caf::io::acceptor_closed_msg>,
  caf::reacts_to<caf::io::data_transferred_msg>,
  // From share_registry: the share table (what may be served).
  caf::reacts_to<shares_atom, std::vector<share_info>, uint32_t>,
  // From share_registry: a completed download's share, ahead of the table.
  caf::reacts_to<share_atom, share_info>,
  // From share_registry: a partial offer verified chunk `index`: serve it and
  // send `have` to the connections interested in that content id.
  caf::reacts_to<have_atom, std::string, uint32_t>,
  // Upload totals for `status`.
  caf::replies_to<uploads_atom>::with<upload_stats>,
  // Timer: refills the upload rate limiter.
  caf::reacts_to<tick_atom>,
  // Timer: closes the connections that sent no hello within
  // hello_timeout_ms. One timer for all connections, armed for the earliest
  // deadline: a timer per connection woke the I/O thread thousands of times
  // in the 10 s after a burst of connections (issue 9, idle CPU).
  caf::reacts_to<timeout_atom>>;

// -- peer_query (one short exchange with a remote peer_server) -----------------

using peer_query_actor = caf::typed_actor<
  caf::reacts_to<caf::io::new_data_msg>,
  caf::reacts_to<caf::io::connection_closed_msg>,
  // Hello + catalog request; replies with the remote's id and files. Quits after.
  caf::replies_to<catalog_atom>::with<remote_catalog>,
  // The same, conditional: `known` is the catalog version the asker holds of
  // this peer (0: none). Replies unchanged (no files) when it is current,
  // else the files and the version. A peer that refuses the request (an
  // older build: bad_request) gives an error of code ec::bad_request; ask it
  // plainly then.
  caf::replies_to<catalog_atom, uint32_t>::with<remote_catalog>,
  // Hello + manifest request for a content id (hex); replies with the manifest
  // bytes after checking that they hash to that id. Quits after.
  caf::replies_to<manifest_atom, std::string>::with<std::vector<char>>,
  // Timer: gives up when the remote is silent too long.
  caf::reacts_to<timeout_atom>>;

// -- download and range_fetcher ------------------------------------------------

using download_actor = caf::typed_actor<
  // From a range_fetcher: the seeder's bitfield (which chunks it has), sent
  // right before ready.
  caf::reacts_to<bitfield_atom, seeder_key, std::vector<bool>>,
  // From a range_fetcher: the seeder verified chunk `index` since (have).
  caf::reacts_to<have_atom, seeder_key, uint32_t>,
  // From a range_fetcher: its connection is up; it can take requests.
  caf::reacts_to<ready_atom, seeder_key>,
  // From a range_fetcher: chunk `index`'s bytes, not yet verified. The buffer
  // holds the whole chunk frame payload (read it with proto::decode_chunk).
  caf::reacts_to<chunk_atom, seeder_key, uint32_t, std::vector<char>>,
  // From a range_fetcher: chunks first .. first + count - 1 (the second
  // uint32_t is count), not yet verified, as one chunk_run frame payload
  // (read it with proto::decode_chunk_run).
  caf::reacts_to<chunk_atom, seeder_key, uint32_t, uint32_t, std::vector<char>>,
  // From a range_fetcher: the seeder answered error `code` (its message
  // follows) for chunk `index`.
  caf::reacts_to<failed_atom, seeder_key, uint32_t, proto::error_code, std::string>,
  // From a range_fetcher: connection refused, lost or stalled; it has quit.
  caf::reacts_to<lost_atom, seeder_key, std::string>,
  // Timer: save the resume record, report progress, look for new seeders.
  caf::reacts_to<tick_atom>,
  // Timer: reconnect to a seeder after its backoff.
  caf::reacts_to<retry_atom, seeder_key>,
  // Stops for good, removing the part file and the resume record.
  caf::replies_to<cancel_atom>::with<download_info>,
  // Daemon shutdown: flush, save the resume record, quit. Replies when saved.
  caf::replies_to<stop_atom>::with<bool>>;

using range_fetcher_actor = caf::typed_actor<
  caf::reacts_to<caf::io::new_data_msg>,
  caf::reacts_to<caf::io::connection_closed_msg>,
  // Request these chunks from the seeder, in this order, in one write (so
  // the seeder reads them together and can answer them as one chunk run).
  caf::reacts_to<fetch_atom, std::vector<uint32_t>>,
  // Withdraw the request for chunk `index` (another seeder delivered it).
  caf::reacts_to<cancel_atom, uint32_t>,
  // Timer: detects a stalled seeder (no data while requests are pending).
  caf::reacts_to<tick_atom>>;

// -- download_manager ----------------------------------------------------------

using download_manager_actor = caf::typed_actor<
  // Starts a download (by name or content id); replies with its info.
  caf::replies_to<download_atom, download_request>::with<download_info>,
  // One download by key.
  caf::replies_to<status_atom, uint64_t>::with<download_info>,
  // Replies once download (or folder) `key` has ended (complete, failed,
  // cancelled) with its final info, at once when it has; not_found for an
  // unknown key. `download -w` answers from it the moment a download ends
  // instead of at its next 250 ms progress poll.
  caf::replies_to<wait_atom, uint64_t>::with<download_info>,
  // All downloads, finished ones included.
  caf::replies_to<status_atom>::with<std::vector<download_info>>,
  // Cancels the downloads whose name or content id is the argument.
  caf::replies_to<cancel_atom, std::string>::with<std::vector<download_info>>,
  // Forgets every finished download (complete, failed, cancelled) so `status`
  // no longer lists it; replies with the ones forgotten. Files stay on disk.
  caf::replies_to<clear_atom>::with<std::vector<download_info>>,
  // From a download: its latest state (progress, or final).
  caf::reacts_to<progress_atom, download_info>,
  // Daemon shutdown: stops every download (records saved); replies when done.
  caf::replies_to<stop_atom>::with<bool>>;

// -- control_server (JSON lines for p2p-cli) -----------------------------------

using control_server_actor = caf::typed_actor<
  caf::reacts_to<caf::io::new_connection_msg>,
  caf::reacts_to<caf::io::new_data_msg>,
  caf::reacts_to<caf::io::connection_closed_msg>,
  caf::reacts_to<caf::io::acceptor_closed_msg>,
  // Timer: streams progress of `download` requests that wait.
  caf::reacts_to<tick_atom>,
  // The `status` reply's result object ({"shares","downloads","uploads"}),
  // serialised JSON: what the web page's /api/status serves.
  caf::replies_to<status_atom>::with<std::string>>;

// -- spawning ------------------------------------------------------------------

// What this daemon tells others about itself.
struct identity {
  uint64_t peer_id = 0;
  std::string advertise_addr; // address others dial
  uint16_t peer_port = 0;     // where peer_server listens
};

// Everything a download needs to start (download_manager -> download).
struct download_params {
  uint64_t key = 0;
  download_request req;
  std::string name;         // sanitised
  std::string id_hex;
  uint64_t size = 0;
  std::vector<std::string> seeders; // "host:port"
};

// How the catalog and the downloads reach other daemons: the actors they
// spawn for one exchange with a remote peer_server. tcp_links() gives the
// brokers that dial TCP (spawn_peer_query, spawn_range_fetcher); the
// deterministic actor tests (tests/support/deterministic.hpp) give plain
// actors instead, because CAF 0.17's test_coordinator drives no brokers.
struct peer_links {
  // As spawn_peer_query: host, port, this daemon's peer id, timeout (ms).
  std::function<peer_query_actor(caf::actor_system&, const std::string& host, uint16_t port,
                                 uint64_t self_id, uint32_t timeout_ms)>
    query;
  // As spawn_range_fetcher: one seeder (`endpoint`, "host:port") of content
  // `id_hex` for the download `owner`, which knows it as `key`.
  std::function<range_fetcher_actor(caf::actor_system&, const config&, identity,
                                    download_actor owner, seeder_key key,
                                    std::string endpoint, std::string id_hex)>
    fetcher;
};

// The daemon's links: TCP brokers; peer queries with the private swarm's
// keys `network` (null: none) and TLS when `encrypt` (range fetchers take
// both from their config).
peer_links tcp_links(std::shared_ptr<const network_secrets> network = nullptr,
                     bool encrypt = false);

share_registry_actor spawn_share_registry(caf::actor_system& sys, const config& cfg);

// Binds cfg.peer_port (0: any) on all interfaces; `bound_port` gets the port.
caf::expected<peer_server_actor> spawn_peer_server(caf::actor_system& sys,
                                                   const config& cfg,
                                                   share_registry_actor registry,
                                                   uint64_t peer_id,
                                                   uint16_t& bound_port);

catalog_actor spawn_catalog(caf::actor_system& sys, const config& cfg,
                            identity self, peer_links links = tcp_links());

// Joins the multicast group on the configured interface.
caf::expected<discovery_actor> spawn_discovery(caf::actor_system& sys,
                                               const config& cfg, identity self,
                                               catalog_actor catalog);

// `network`: the private swarm's keys (config::network), null without one;
// `encrypt` (needs them): TLS 1.3 on the connection (--encrypt).
peer_query_actor spawn_peer_query(caf::actor_system& sys, const std::string& host,
                                  uint16_t port, uint64_t self_id,
                                  uint32_t timeout_ms,
                                  std::shared_ptr<const network_secrets> network = nullptr,
                                  bool encrypt = false);

// With a registry, downloads offer their verified chunks (swarming) and
// completed ones are shared on unless the request says seed = false.
download_manager_actor spawn_download_manager(caf::actor_system& sys,
                                              const config& cfg, identity self,
                                              catalog_actor catalog,
                                              share_registry_actor registry = {},
                                              peer_links links = tcp_links());

download_actor spawn_download(caf::actor_system& sys, const config& cfg,
                              identity self, download_params params,
                              catalog_actor catalog,
                              download_manager_actor manager,
                              share_registry_actor registry = {},
                              peer_links links = tcp_links());

range_fetcher_actor spawn_range_fetcher(caf::actor_system& sys, const config& cfg,
                                        identity self, download_actor owner,
                                        seeder_key key, std::string endpoint,
                                        std::string id_hex);

// Binds cfg.control_host:cfg.control_port (0: any) for spawn_control_server;
// its port() is the bound one. Errors: ec::io_error naming the address. Kept
// apart from the spawn so start_daemon can fail on a taken control port
// before discovery announces anything.
caf::expected<caf::io::doorman_ptr> listen_control(caf::actor_system& sys,
                                                   const config& cfg);

// Serves the control channel on `doorman` (from listen_control).
control_server_actor
spawn_control_server(caf::actor_system& sys, const config& cfg, std::string cookie,
                     share_registry_actor registry, catalog_actor catalog,
                     discovery_actor discovery, peer_server_actor peer_server,
                     download_manager_actor downloads, caf::io::doorman_ptr doorman);

} // namespace p2p
