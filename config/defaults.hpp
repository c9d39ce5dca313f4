#pragma once
// Every default of the daemon in one place (the old p2p_config).
#include <cstdint>

namespace p2p::defaults {

constexpr const char* multicast_group = "224.0.0.123";
constexpr uint16_t multicast_port = 7645;
constexpr int multicast_ttl = 1;
constexpr const char* control_host = "127.0.0.1";
constexpr uint16_t control_port = 7646;
constexpr uint16_t peer_port = 7647;
constexpr uint32_t chunk_size = 256 * 1024;
constexpr const char* log_level = "info";

// Discovery and catalog timing.
constexpr uint32_t announce_interval_ms = 5000;  // periodic announce
constexpr uint32_t peer_expiry_ms = 16000;       // silent peer dropped after
constexpr uint32_t scan_window_ms = 1000;        // `scan` waits for answers
constexpr uint32_t scan_reply_jitter_ms = 200;   // answers to a scan spread over

// Transfers.
constexpr uint32_t requests_in_flight = 16;      // per range_fetcher
// A seeder gets fewer when its rate is low: about request_queue_ms of its
// rate, at least min_requests_in_flight, start_requests_in_flight until its
// rate is first measured (storage/seeder_set.hpp pace()).
constexpr uint32_t request_queue_ms = 250;
constexpr uint32_t min_requests_in_flight = 1;
constexpr uint32_t start_requests_in_flight = 2;
// The downloader's chunk picker hands a source consecutive chunks within
// extents of this many bytes (storage/chunk_picker.hpp), which the seeder
// sends as chunk runs (docs/protocol.md, "Chunk runs"). libtorrent's
// piece_extent_affinity uses 4 MiB extents too.
constexpr uint32_t pick_extent_bytes = 4u << 20;
// The most bytes a seeder sends in one chunk run. Per-frame costs fall with
// the frame size, but 1 MiB chunks were as fast as 4 MiB ones (0.73x against
// 0.72x the raw copy, bench.py, 2026-12-01), and the downloader holds a run's
// bytes in one buffer until it is verified: 4 MiB runs took its peak RSS from
// ~25 to 56 MiB.
constexpr uint32_t max_run_bytes = 1u << 20;
// A chunk's request slot is free again once its bytes have arrived, not once
// they are verified and written: the bytes waiting for (or in) a verifier are
// bounded by this instead, per download. Freed only after the write, the
// seeders sat idle in epoll_wait 89 % of a 1 GiB download, a request going
// out a median 3.3-5.3 ms after the last bytes it replaced had arrived (perf
// trace of downloader and seeder, bench.py 1 GiB, 2026-12-02). libtorrent
// bounds the same with max_queued_disk_bytes. 8 MiB moved 1 GiB as fast as 16
// (0.65-0.73x against 0.64-0.75x the raw copy, 2 rounds of bench.py's median
// of 3) with a peak RSS of 43-44 MiB against 50-51.
constexpr uint64_t max_checking_bytes = 8u << 20;
// A download's bytes written and not yet on the disk, at most about this
// many (storage/part_file.hpp, write_behind).
constexpr uint64_t write_behind_bytes = 16u << 20;

// Limits of the peer_server against peers it does not trust (docs/protocol.md,
// "Limits"). Chunk requests queued: per connection and over all connections;
// beyond either the request is answered with error(busy).
constexpr uint32_t server_requests_per_conn = 32;
constexpr uint32_t server_requests_total = 1024;
// Peer connections open at once, in total and per remote IP address; beyond
// either a new connection gets error(busy) and is closed (--max-connections,
// --max-connections-per-addr).
constexpr uint32_t max_connections = 256;
constexpr uint32_t max_connections_per_addr = 32;
// Content ids one peer connection may ask bitfields and haves for
// (interested); beyond, error(busy).
constexpr uint32_t server_interests_per_conn = 16;
// Downloads running at once; more wait (state queued) and start, oldest
// first, as running ones end. Each holds one connection per seeder (plus a
// manifest query while it starts), so 8 stay well under a seeder's
// max_connections_per_addr (32): 1,000 files downloaded at once were refused
// with error(busy) and failed (bench/run.sh, 2026-11-30). Like aria2c's -j
// (max-concurrent-downloads) and a BitTorrent client's active downloads.
constexpr uint32_t max_active_downloads = 8;
// Sources (full or partial seeders) one download connects to at most; more
// listed ones wait until one is dropped.
constexpr uint32_t max_sources_per_download = 16;
// A connection that has not sent hello this long after it was accepted is
// closed (--hello-timeout-ms).
constexpr uint32_t hello_timeout_ms = 10000;
constexpr uint32_t stall_timeout_ms = 10000;     // no data from a seeder for this long
constexpr uint32_t connect_timeout_ms = 5000;
constexpr uint32_t max_bad_chunks = 3;           // a seeder is dropped after
constexpr uint32_t retry_base_ms = 500;          // reconnect backoff base
constexpr uint32_t retry_max_ms = 10000;         // and cap (--retry-max-ms)
constexpr uint32_t max_retries = 5;              // per seeder, before it is dropped


// Actor timers and request timeouts (not configurable; named for what they pace).
// download
constexpr uint32_t download_tick_ms = 250;          // progress report, rate sample
constexpr uint32_t resume_save_interval_ms = 1000;  // resume record saved at most this often
// ... and its part-file sync started at most once per this many times the
// last one took: a download stalls while its part file is synced (writes
// into it wait for the journal), 280-500 ms per fdatasync on a VM's disk,
// once a second (perf trace of bench's 1 GiB download, 2026-12-02). Chunks
// verified but not yet recorded are not lost: the resume check finds them.
constexpr uint32_t resume_sync_spacing = 10;
constexpr uint32_t seeder_poll_interval_ms = 250;   // ask the catalog for new seeders (partial ones join fast)
constexpr uint32_t manifest_rounds_max = 3;         // rounds over all seeders, then fail
constexpr uint32_t manifest_hedge_ms = 1000;        // silent seeder: ask the next one after
constexpr uint32_t endgame_in_flight = 4;           // requests per seeder once none is fresh
// The endgame's duplicate requests start only once no fresh chunk has been
// left for this long (at the first download tick after it): each seeder holds
// about request_queue_ms of its rate in requests, so one that keeps its rate
// has answered them by then and only a slower one's chunks are duplicated.
// Immediate duplicates fetched a one-chunk file from every seeder: 300 files of
// 64 KiB from 3 seeders moved 2.94 times their bytes (loopback, 2026-11-30).
// libtorrent's strict_end_game_mode holds duplicates back for the same reason.
constexpr uint32_t endgame_delay_ms = request_queue_ms;
constexpr uint32_t rate_window_ms = 3000;           // download rate averaged over
constexpr uint32_t catalog_ask_timeout_ms = 5000;   // download -> catalog requests
// range_fetcher
constexpr uint32_t fetcher_tick_ms = 500;           // stall and connect-timeout checks
// peer_server
constexpr uint32_t upload_rate_tick_ms = 50;        // token bucket refill period
// catalog
constexpr uint32_t catalog_max_tick_ms = 1000;      // expiry/static-poll tick, at most
constexpr uint32_t catalog_fetch_slack_ms = 1000;   // added to a catalog fetch's own timeout
// discovery
constexpr uint32_t scan_suppress_window_ms = 500;   // no scan answer if announced this recently
constexpr uint32_t shares_debounce_ms = 100;        // one announce for a burst of share changes
constexpr uint32_t bye_ack_timeout_ms = 200;        // `bye` replies at the latest after
// A keyed datagram whose timestamp is further than this from our clock is a
// replay (or a clock that is off by more): ignored. Senders remembered for
// the counter check, at most (docs/protocol.md, "Private swarms").
constexpr uint32_t datagram_replay_window_ms = 60000;
constexpr uint32_t datagram_replay_senders = 4096;
// share_registry
// Every check_interval the registry reads its inotify events and re-stats the
// shares in directories that changed; every full_check_interval it re-stats
// every share (inotify misses changes on network file systems, writes through
// mmap and renames of a folder's ancestors; inotify(7), "Limitations").
constexpr uint32_t share_check_interval_ms = 2000;
constexpr uint32_t share_full_check_interval_ms = 60000;
constexpr uint32_t share_flush_interval_ms = 2000;  // save + announce while a batch hashes
// A download's partial offer is announced (to the peer_server, discovery and
// the catalog) this long after it is made, with whatever else changed: every
// announce sends the whole table, and each download of a small file announced
// it twice (offer, then share): 1,000 downloads with 1,000+ shares spent ~13 %
// of the downloader's CPU there (perf, bench's small files). The share a
// complete download becomes goes to the listeners at once on its own
// (share_atom: the peer_server serves it from the final path) and in the
// table this long later, with the other downloads completed meanwhile.
constexpr uint32_t partial_announce_delay_ms = 100;
// download_manager
constexpr uint32_t manager_ask_timeout_ms = 10000;  // -> catalog and downloads
constexpr uint32_t download_stop_timeout_ms = 1000; // a download saving its record at shutdown
// control_server
constexpr uint32_t progress_interval_ms = 250;      // `download -w` progress lines
constexpr uint32_t control_ask_timeout_ms = 30000;  // -> the daemon's actors
constexpr uint32_t share_timeout_ms = 30 * 60 * 1000; // `share` hashes first: large dirs take long

} // namespace p2p::defaults
