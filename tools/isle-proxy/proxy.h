// Proxy: the isle-proxy server. Accepts TCP connections on a loopback (or
// any) address and forwards each to the upstream, one upstream connection
// per client connection, applying the config's rules at HTTP/1.1 message
// boundaries (http_framer.h). One io_context and one thread run every
// connection; a connection is a small object (two buffers, two framers,
// two timers), never a thread.
//
// Per connection, bytes travel in order and are never altered, added or
// dropped (a delay only holds them back). A connection whose requests
// cannot be framed either closes (limits.on_parse_error: close) or is
// forwarded byte for byte from then on (forward), counted in
// parse_fallbacks; a head over limits.max_header_bytes always closes it.
// Over limits.max_connections, new connections are accepted and closed at
// once (counted in rejected).
//
// Randomness: one Random seeded with config.seed, drawn in the order heads
// complete on the io thread, so a single connection's delays repeat
// exactly for a seed.
//
// Thread-safety: run() on one thread; stop(), stats(), port() and
// delay_samples() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "isle/status.h"
#include "proxy_config.h"

namespace isle::proxy {

struct ProxyStats {
  uint64_t connections = 0;          // accepted and forwarded
  uint64_t rejected = 0;             // over max_connections
  uint64_t upstream_failures = 0;    // connect to upstream failed or timed out
  uint64_t requests = 0;             // request heads forwarded
  uint64_t responses = 0;            // final response heads forwarded
  uint64_t delayed = 0;              // messages held by a delay rule (sample > 0)
  uint64_t delay_us_total = 0;       // sum of those samples
  uint64_t parse_fallbacks = 0;      // connections switched to byte forwarding
  uint64_t malformed_closed = 0;     // connections closed for a malformed request
  uint64_t oversized_closed = 0;     // connections closed for a head over the limit
  uint64_t bytes_up = 0;             // client -> upstream
  uint64_t bytes_down = 0;           // upstream -> client

  // One line, "requests=... delayed=...", for logs.
  std::string to_string() const;
};

// One delay the proxy applied, in the order they were drawn.
struct DelaySample {
  uint64_t connection = 0;  // 1, 2, ... in accept order
  Direction direction = Direction::kRequest;
  std::string method;       // of the request (also for a response delay)
  std::string rule;         // the rule's name
  std::chrono::microseconds delay{0};
};

class Proxy {
 public:
  // The last kMaxSamples delays are kept for delay_samples() (each well
  // under 200 bytes plus its method and rule name).
  static constexpr size_t kMaxSamples = 4096;

  // Resolves the upstream and binds the listen address; nothing is
  // accepted until run().
  static Result<std::unique_ptr<Proxy>> create(ProxyConfig config);
  ~Proxy();

  uint16_t port() const;  // the bound port (useful with listen port 0)
  // Serves until stop(); then closes every connection and returns.
  void run();
  void stop();
  ProxyStats stats() const;
  std::vector<DelaySample> delay_samples() const;

  struct Impl;

 private:
  explicit Proxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace isle::proxy
