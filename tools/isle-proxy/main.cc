// isle-proxy: a TCP proxy for HTTP/1.1 object-store traffic that delays
// requests and responses by configured distributions (docs/isle-proxy.md).
//
//   isle-proxy --config FILE [--listen HOST:PORT] [--check]
//              [--log-level info] [--log-format text|json]
//
// Exit codes: 0 after SIGTERM/SIGINT (a stats line is logged first), 78
// for bad flags or configuration (like the daemons), 1 when it cannot
// listen or resolve the upstream.
//
// Signals are taken by sigwait on the main thread (blocked in every
// thread), so no handler runs inside the io thread's work.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "proxy.h"
#include "server/logging.h"

namespace {

constexpr int kExitConfig = 78;

int usage(const std::string& why) {
  std::fprintf(stderr,
               "isle-proxy: %s\n"
               "usage: isle-proxy --config FILE [--listen HOST:PORT] [--check]\n"
               "                  [--log-level trace|debug|info|warn|error|off]"
               " [--log-format text|json]\n",
               why.c_str());
  return kExitConfig;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, listen, level = "info", format = "text";
  bool check = false;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (a == "--check") {
      check = true;
    } else if (a == "--config") {
      if (!value(&config_path)) return usage("--config needs a file");
    } else if (a == "--listen") {
      if (!value(&listen)) return usage("--listen needs HOST:PORT");
    } else if (a == "--log-level") {
      if (!value(&level)) return usage("--log-level needs a level");
    } else if (a == "--log-format") {
      if (!value(&format)) return usage("--log-format needs text or json");
    } else if (a == "--help" || a == "-h") {
      usage("help");
      return 0;
    } else {
      return usage("unknown flag '" + a + "'");
    }
  }
  if (config_path.empty()) return usage("--config is required");
  if (auto s = isle::server::setup_logging(level, format, "isle-proxy"); !s.ok()) {
    return usage(s.message());
  }
  std::ifstream in(config_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "isle-proxy: cannot read %s\n", config_path.c_str());
    return kExitConfig;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto config = isle::proxy::parse_proxy_config(text.str());
  if (!config.ok()) {
    std::fprintf(stderr, "isle-proxy: %s: %s\n", config_path.c_str(),
                 config.status().message().c_str());
    return kExitConfig;
  }
  if (!listen.empty()) {
    auto s = isle::proxy::parse_host_port(listen, "--listen", true, &config->listen_host,
                                          &config->listen_port);
    if (!s.ok()) return usage(s.message());
  }
  if (check) {
    std::printf("%s: ok (%zu rules; at most %llu bytes of state per connection)\n",
                config_path.c_str(), config->rules.size(),
                static_cast<unsigned long long>(
                    isle::proxy::per_connection_state_bytes(config->limits)));
    return 0;
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto proxy = isle::proxy::Proxy::create(*config);
  if (!proxy.ok()) {
    spdlog::error("{}", proxy.status().message());
    return 1;
  }
  spdlog::info("listening on {}:{}, forwarding to {}:{}, {} rules, seed {}", config->listen_host,
               (*proxy)->port(), config->upstream_host, config->upstream_port,
               config->rules.size(), config->seed);
  std::thread io([&] { (*proxy)->run(); });
  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::info("signal {}: stopping", sig);
  (*proxy)->stop();
  io.join();
  spdlog::info("stats: {}", (*proxy)->stats().to_string());
  return 0;
}
