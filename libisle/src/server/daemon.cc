// run_daemon: the life of every IsleDB daemon (see daemon.h for the
// sequence and the exit codes).
//
// The main thread runs an Asio event loop for the daemon's life: an
// asio::signal_set takes SIGTERM/SIGINT (stop) and SIGHUP (reload the
// tokens file), and a role's fatal error (a fence) posts to the same loop,
// so it is acted on at once instead of being polled for.
//
// Shutdown timeline (SIGTERM):
//   t0  stop accepting; new connections are refused by the kernel
//   t0+ in-flight requests finish (open streams are ended properly),
//       bounded by server.shutdown_timeout
//   t1  Role::shutdown(): the writer seals, flushes and commits
//   t2  remaining connections closed, threads joined, exit 0
// A fence skips the drain: a fenced role must not answer anything more.
#include <utility>  // first: Boost 1.74's Asio needs it with GCC 12

#include "server/daemon.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "isle/gc_mark_storage.h"
#include "lsm/engine_store.h"
#include "server/api.h"
#include "server/crash_handler.h"
#include "server/http_server.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "store/hedged_store.h"

#ifndef ISLE_VERSION
#define ISLE_VERSION "dev"
#endif

namespace isle::server {

namespace po = boost::program_options;
namespace asio = boost::asio;

const std::vector<std::string>& compression_choices() {
  static const std::vector<std::string> choices = {"none", "lz4", "zstd"};
  return choices;
}

Compression compression_setting(const Config& config, const std::string& path) {
  const std::string name = config.get_string(path);
  if (name == "none") return Compression::kNone;
  if (name == "zstd") return Compression::kZstd;
  return Compression::kLz4;  // the schema admits only the three choices
}

namespace {

// The process's hedged-request counters (every HedgedStore of the
// process summed), per request class, read at scrape time.
void add_hedge_metrics(Metrics& m) {
  struct Family {
    const char* name;
    const char* help;
    uint64_t HedgeClassStats::*field;
  };
  static constexpr Family kFamilies[] = {
      {"isle_store_hedgeable_requests_total",
       "GETs, HEADs and create-only PUTs that went through request hedging",
       &HedgeClassStats::requests},
      {"isle_store_hedges_sent_total", "second copies sent for slow requests",
       &HedgeClassStats::hedges_sent},
      {"isle_store_hedges_won_total", "hedges whose answer was the one used",
       &HedgeClassStats::hedges_won},
      {"isle_store_hedges_denied_budget_total",
       "slow requests not hedged because the extra-request budget was spent",
       &HedgeClassStats::denied_budget},
      {"isle_store_hedges_denied_workers_total",
       "slow requests not hedged because every hedging worker was busy",
       &HedgeClassStats::denied_workers},
      {"isle_store_hedge_unknown_outcomes_total",
       "hedged create-only PUTs answered UnknownOutcome (resolved by the caller)",
       &HedgeClassStats::unknown_outcomes},
  };
  for (const Family& f : kFamilies) {
    for (size_t c = 0; c < kHedgeClassCount; c++) {
      const auto cls = static_cast<HedgeClass>(c);
      m.callback(f.name, f.help, "counter", {{"class", std::string(hedge_class_name(cls))}},
                 [field = f.field, cls] {
                   return static_cast<double>(process_hedge_stats().of(cls).*field);
                 });
    }
  }
}

// store.hedge.*: HedgeOptions (docs/operations.md, "Hedged requests").
// The two fractions are strings in the schema (it has no real type):
// parsed whole here, anything else is a config error.
Status hedge_options(const Config& cfg, HedgeOptions* out) {
  auto fraction = [&](const char* key, bool open_range, double* v) -> Status {
    const std::string text = cfg.get_string(key);
    size_t used = 0;
    double d = 0;
    try {
      d = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    const bool in_range = open_range ? (d > 0 && d < 1) : (d >= 0 && d <= 1);
    if (text.empty() || used != text.size() || !in_range) {
      return Status::InvalidArgument(std::string(key) + ": '" + text + "' is not a number " +
                                     (open_range ? "between 0 and 1 (exclusive)" : "in [0, 1]"));
    }
    *v = d;
    return Status::OK();
  };
  out->enabled = cfg.get_bool("store.hedge.enabled");
  ISLE_RETURN_IF_ERROR(fraction("store.hedge.percentile", true, &out->percentile));
  ISLE_RETURN_IF_ERROR(
      fraction("store.hedge.max_extra_fraction", false, &out->max_extra_fraction));
  out->min_delay = cfg.get_duration("store.hedge.min_delay");
  if (out->max_delay < out->min_delay) out->max_delay = out->min_delay;
  return Status::OK();
}

// store.manifest_url / store.gc_marks_url: the manifest and GC's marks in
// stores of their own, each under the same store.prefix and with the
// engine's retries, like the data store. Unset keys leave the defaults
// (both in store.url).
Status open_side_stores(const Config& cfg, DBOptions* db) {
  // The manifest store is hedged like the data store (store.hedge.*); GC's
  // marks are not (only compactord's GC uses them: no one waits on it).
  auto open_scoped = [&](const char* key, bool hedged) -> Result<ObjectStorePtr> {
    auto store = open_object_store(cfg.get_string(key));
    if (!store.ok()) {
      return Status::InvalidArgument(std::string(key) + ": " + store.status().message());
    }
    if (!hedged) return engine_store(*store, db->prefix, std::chrono::milliseconds(50));
    return engine_store(*store, db->prefix, std::chrono::milliseconds(50), db->hedging);
  };
  if (cfg.is_set("store.manifest_url") && !cfg.get_string("store.manifest_url").empty()) {
    ISLE_ASSIGN_OR_RETURN(ObjectStorePtr s, open_scoped("store.manifest_url", true));
    db->manifest_storage = object_store_manifest_storage(std::move(s));
  }
  if (cfg.is_set("store.gc_marks_url") && !cfg.get_string("store.gc_marks_url").empty()) {
    ISLE_ASSIGN_OR_RETURN(ObjectStorePtr s, open_scoped("store.gc_marks_url", false));
    db->gc_mark_storage = object_store_gc_mark_storage(std::move(s));
  }
  return Status::OK();
}

ConfigSchema base_schema(const std::string& default_listen) {
  ConfigSchema s;
  using T = ConfigType;
  s.add({.path = "store.url", .type = T::kString,
         .help = "object store URL (file:///abs/dir, s3://..., mem://)", .required = true});
  s.add({.path = "store.prefix", .type = T::kString, .help = "the database's folder in the bucket"});
  s.add({.path = "store.manifest_url", .type = T::kString,
         .help = "object store URL for the manifest (CURRENT, log, snapshots), under "
                 "store.prefix there too (unset = store.url)"});
  s.add({.path = "store.gc_marks_url", .type = T::kString,
         .help = "object store URL for GC's pending-delete marks and checkpoint, under "
                 "store.prefix there too (unset = store.url)"});
  s.add({.path = "store.lease", .type = T::kDuration, .default_value = "30s",
         .help = "manifest lease (must be shorter than store.gc_grace)"});
  s.add({.path = "store.gc_grace", .type = T::kDuration, .default_value = "10m",
         .help = "how long unreferenced objects stay before GC deletes them"});
  s.add({.path = "store.hedge.enabled", .type = T::kBool, .default_value = "true",
         .help = "hedged GETs and create-only PUTs of the writer and readers (never on "
                 "file:// or mem://)"});
  s.add({.path = "store.hedge.percentile", .type = T::kString, .default_value = "0.95",
         .help = "hedge a request slower than this quantile of recent ones (0 < p < 1)"});
  s.add({.path = "store.hedge.max_extra_fraction", .type = T::kString, .default_value = "0.05",
         .help = "extra requests allowed for hedges, as a fraction of hedgeable ones (0..1)"});
  s.add({.path = "store.hedge.min_delay", .type = T::kDuration, .default_value = "10ms",
         .help = "never hedge sooner than this"});
  s.add({.path = "server.listen", .type = T::kString, .default_value = default_listen,
         .help = "host:port to listen on (port 0 = any free port)"});
  s.add({.path = "server.address_file", .type = T::kString,
         .help = "write the bound host:port here once listening"});
  s.add({.path = "server.tls_cert", .type = T::kString, .help = "PEM certificate (with tls_key: HTTPS)"});
  s.add({.path = "server.tls_key", .type = T::kString, .help = "PEM private key", .secret = true});
  s.add({.path = "server.auth_tokens_file", .type = T::kString,
         .help = "bearer tokens, one per line: TOKEN [SCOPE,...] with scopes read, write, admin, "
                 "metrics (none = all); SIGHUP reloads it (unset = no auth)"});
  s.add({.path = "server.open_routes", .type = T::kString,
         .help = "comma-separated paths reachable without a token, e.g. /readyz,/metrics"});
  s.add({.path = "server.allowed_origins", .type = T::kString,
         .help = "comma-separated browser origins allowed to call the API (others: 403)"});
  s.add({.path = "server.allowed_hosts", .type = T::kString,
         .help = "comma-separated Host names accepted besides loopback ones when listening on "
                 "loopback (DNS-rebinding defence)"});
  s.add({.path = "server.max_connections", .type = T::kInt, .default_value = "1024",
         .help = "open connections beyond this get 503", .min = 1, .max = 1'000'000});
  s.add({.path = "server.max_unauthenticated_connections", .type = T::kInt, .default_value = "256",
         .help = "with tokens on: connections that have not shown a valid token yet beyond this "
                 "get 503",
         .min = 1, .max = 1'000'000});
  s.add({.path = "server.max_streams", .type = T::kInt, .default_value = "256",
         .help = "concurrent streamed responses (scans, tails)", .min = 1, .max = 1'000'000});
  s.add({.path = "server.max_stream_buffer_bytes", .type = T::kSize, .default_value = "4MiB",
         .help = "bytes a stream may queue for a slow client (a tail beyond it: slow_consumer)"});
  s.add({.path = "server.io_threads", .type = T::kInt, .default_value = "1",
         .help = "threads running the event loops that read and write connections", .min = 1,
         .max = 64});
  s.add({.path = "server.stream_workers", .type = T::kInt, .default_value = "2",
         .help = "threads producing streamed bodies (a scan's next chunk)", .min = 1, .max = 256});
  s.add({.path = "server.handshake_timeout", .type = T::kDuration, .default_value = "5s",
         .help = "a TLS handshake must finish within this"});
  // Handlers block on the store and on group commit (a durable PUT waits
  // for its flush), so the worker count bounds how many such waits overlap:
  // 8 halved durable PUT throughput at 16 connections (docs/BENCHMARKS.md).
  s.add({.path = "server.workers", .type = T::kInt, .default_value = "64",
         .help = "threads running request handlers (each may wait on the store or a commit)",
         .min = 1, .max = 1024});
  s.add({.path = "server.max_queued", .type = T::kInt, .default_value = "1024",
         .help = "requests waiting for a worker beyond this get 429", .min = 1, .max = 1'000'000});
  s.add({.path = "server.max_header_bytes", .type = T::kSize, .default_value = "64KiB",
         .help = "largest request line + headers (431 beyond)"});
  s.add({.path = "server.max_body_bytes", .type = T::kSize, .default_value = "64MiB",
         .help = "largest request body (413 beyond)"});
  s.add({.path = "server.header_timeout", .type = T::kDuration, .default_value = "10s",
         .help = "the request head must arrive within this"});
  s.add({.path = "server.body_timeout", .type = T::kDuration, .default_value = "60s",
         .help = "the request body must arrive within this"});
  s.add({.path = "server.idle_timeout", .type = T::kDuration, .default_value = "60s",
         .help = "idle keep-alive connections are closed after this"});
  s.add({.path = "server.write_timeout", .type = T::kDuration, .default_value = "60s",
         .help = "a client that reads nothing for this long is dropped"});
  s.add({.path = "server.shutdown_timeout", .type = T::kDuration, .default_value = "15s",
         .help = "SIGTERM waits this long for in-flight requests"});
  s.add({.path = "log.level", .type = T::kEnum, .default_value = "info", .help = "log level",
         .choices = {"trace", "debug", "info", "warn", "error", "off"}});
  s.add({.path = "log.format", .type = T::kEnum, .default_value = "text",
         .help = "text or json (one object per line)", .choices = {"text", "json"}});
  s.add({.path = "log.access", .type = T::kBool, .default_value = "true",
         .help = "one log line per HTTP request"});
  return s;
}

}  // namespace

ConfigSchema common_schema(const std::string& default_listen,
                           const std::map<std::string, std::string>& default_overrides) {
  const ConfigSchema base = base_schema(default_listen);
  ConfigSchema out;
  for (ConfigKey k : base.keys()) {
    if (auto it = default_overrides.find(k.path); it != default_overrides.end()) {
      k.default_value = it->second;
    }
    out.add(std::move(k));
  }
  return out;
}

namespace {

std::atomic<int> g_fatal_code{-1};
std::mutex g_fatal_mu;
Status g_fatal_status;

std::string read_file(const std::string& path, Status* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = Status::InvalidArgument("cannot read " + path);
    return {};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// server.auth_tokens_file, parsed (access.h: TOKEN [SCOPE,...] lines).
Result<TokenSet> read_tokens(const std::string& path) {
  auto t = load_tokens_file(path);
  if (!t.ok()) return t.status().with_context("server.auth_tokens_file");
  return t;
}

// The server's access options from the config (tokens loaded by the caller).
Result<AccessOptions> access_options(const Config& c) {
  AccessOptions a;
  const std::pair<const char*, std::vector<std::string>*> lists[] = {
      {"server.open_routes", &a.open_routes},
      {"server.allowed_origins", &a.allowed_origins},
      {"server.allowed_hosts", &a.allowed_hosts}};
  for (const auto& [key, out] : lists) {
    auto v = AccessPolicy::parse_list(c.get_string(key));
    if (!v.ok()) return v.status().with_context(key);
    *out = std::move(*v);
  }
  for (const auto& route : a.open_routes) {
    if (route.empty() || route[0] != '/') {
      return Status::InvalidArgument("server.open_routes: '" + route + "' is not a path");
    }
  }
  return a;
}

// Streams hold a descriptor each: take the hard limit (systemd's
// LimitNOFILE, or the shell's) rather than the soft 1024 of many shells.
void raise_open_files_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r);
  }
}

Status write_address_file(const std::string& path, const std::string& address) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << address << "\n";
    if (!out) return Status::IOError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError("cannot rename " + tmp);
  return Status::OK();
}

void print_help(const DaemonSpec& spec, const po::options_description& flags,
                const ConfigSchema& schema) {
  std::cout << "usage: " << spec.name << " --config FILE.yaml [--set section.key=value]...\n\n"
            << flags << "\nConfiguration keys (YAML, or --set):\n";
  for (const auto& k : schema.keys()) {
    std::cout << "  " << k.path;
    if (!k.default_value.empty()) std::cout << " (default " << k.default_value << ")";
    if (k.required) std::cout << " (required)";
    std::cout << "\n      " << k.help;
    if (!k.choices.empty()) {
      std::cout << " [";
      for (size_t i = 0; i < k.choices.size(); i++) std::cout << (i ? "|" : "") << k.choices[i];
      std::cout << "]";
    }
    std::cout << "\n";
  }
  std::cout << "\nExit codes: 0 clean stop, 1 runtime failure, 75 fenced (do not restart), "
               "78 bad configuration\n";
}

HttpServerOptions server_options(const Config& c, const std::string& name, Metrics* /*m*/) {
  HttpServerOptions o;
  o.listen = c.get_string("server.listen");
  o.tls_cert_file = c.get_string("server.tls_cert");
  o.tls_key_file = c.get_string("server.tls_key");
  o.max_header_bytes = c.get_size("server.max_header_bytes");
  o.max_body_bytes = c.get_size("server.max_body_bytes");
  o.max_connections = static_cast<int>(c.get_int("server.max_connections"));
  o.max_unauthenticated = static_cast<int>(c.get_int("server.max_unauthenticated_connections"));
  o.max_streams = static_cast<int>(c.get_int("server.max_streams"));
  o.max_stream_buffer_bytes = c.get_size("server.max_stream_buffer_bytes");
  o.io_threads = static_cast<int>(c.get_int("server.io_threads"));
  o.stream_workers = static_cast<int>(c.get_int("server.stream_workers"));
  o.handshake_timeout = c.get_duration("server.handshake_timeout");
  o.workers = static_cast<int>(c.get_int("server.workers"));
  o.max_queued = static_cast<int>(c.get_int("server.max_queued"));
  o.header_timeout = c.get_duration("server.header_timeout");
  o.body_timeout = c.get_duration("server.body_timeout");
  o.idle_timeout = c.get_duration("server.idle_timeout");
  o.write_timeout = c.get_duration("server.write_timeout");
  if (c.get_bool("log.access")) {
    auto access = access_logger();
    o.on_request = [access, name](const HttpRequest& r, int status, uint64_t bytes,
                                  std::chrono::microseconds elapsed) {
      access->info("{} {} {} {} {}B {:.3f}ms", r.remote, r.method, r.target.substr(0, 256),
                   status, bytes, elapsed.count() / 1000.0);
    };
  }
  return o;
}

// Parses flags and loads the config; returns an exit code when the process
// should end here (help, version, check-config, errors).
std::optional<int> load(int argc, char** argv, const DaemonSpec& spec, const ConfigSchema& schema,
                        std::optional<Config>* config) {
  po::options_description flags("Flags");
  flags.add_options()("config,c", po::value<std::string>(), "YAML configuration file")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override one key: --set section.key=value (repeatable; wins over the file)")(
      "check-config", "validate the configuration, print it (secrets redacted) and exit")(
      "version", "print the version and exit")("help,h", "print this help and exit");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(flags).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << spec.name << ": " << e.what() << " (see --help)\n";
    return kExitConfig;
  }
  if (vm.count("help")) {
    print_help(spec, flags, schema);
    return kExitOk;
  }
  if (vm.count("version")) {
    std::cout << spec.name << " (IsleDB) " << ISLE_VERSION << "\n";
    return kExitOk;
  }
  std::optional<std::string> text;
  if (vm.count("config")) {
    Status err;
    text = read_file(vm["config"].as<std::string>(), &err);
    if (!err.ok()) {
      std::cerr << spec.name << ": " << err.message() << "\n";
      return kExitConfig;
    }
  }
  std::vector<std::string> sets;
  if (vm.count("set")) sets = vm["set"].as<std::vector<std::string>>();
  auto c = load_config(schema, text ? &*text : nullptr, sets);
  if (!c.ok()) {
    std::cerr << spec.name << ": configuration: " << c.status().message() << "\n";
    return kExitConfig;
  }
  // Values the schema cannot type (store.hedge.*'s fractions): checked
  // here too, so --check-config catches them.
  HedgeOptions hedging;
  if (Status hs = hedge_options(*c, &hedging); !hs.ok()) {
    std::cerr << spec.name << ": configuration: " << hs.message() << "\n";
    return kExitConfig;
  }
  if (vm.count("check-config")) {
    std::cout << c->dump() << spec.name << ": configuration ok\n";
    return kExitOk;
  }
  *config = std::move(*c);
  return std::nullopt;
}

void add_common_routes(Router& router, const DaemonSpec& spec, Role* role, Metrics* metrics,
                       std::chrono::steady_clock::time_point started) {
  router.add("GET", "/healthz",
             [](const HttpRequest&) { return HttpResponse::json(200, R"({"status":"ok"})"); },
             {.scope = Scope::kOpen});
  router.add("GET", "/readyz", [role](const HttpRequest&) {
    if (g_fatal_code.load() >= 0) return HttpResponse::error(503, "fenced", "stopping");
    return role->ready() ? HttpResponse::json(200, R"({"status":"ready"})")
                         : HttpResponse::error(503, "not_ready", "not ready yet");
  }, {.scope = Scope::kAnyToken});
  router.add("GET", "/metrics", [metrics](const HttpRequest&) {
    return HttpResponse::text(200, metrics->render(), "text/plain; version=0.0.4; charset=utf-8");
  }, {.scope = Scope::kMetrics});
  router.add("GET", "/v1/status", [role, spec_role = spec.role, spec_name = spec.name,
                                    started](const HttpRequest&) {
    nlohmann::json j = nlohmann::json::object();
    j["role"] = spec_role;
    j["daemon"] = spec_name;
    j["version"] = ISLE_VERSION;
    j["uptime_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    j["ready"] = role->ready();
    role->status(j);
    return HttpResponse::json(200, j.dump());
  }, {.scope = Scope::kAnyToken});
}

}  // namespace

int run_daemon(int argc, char** argv, DaemonSpec spec) {
  const auto started = std::chrono::steady_clock::now();
  ConfigSchema schema = common_schema(spec.default_listen, spec.server_defaults);
  for (const auto& k : spec.role_schema.keys()) schema.add(k);

  std::optional<Config> config;
  if (auto code = load(argc, argv, spec, schema, &config)) return *code;
  const Config& cfg = *config;

  if (Status s = setup_logging(cfg.get_string("log.level"), cfg.get_string("log.format"), spec.name);
      !s.ok()) {
    std::cerr << spec.name << ": " << s.message() << "\n";
    return kExitConfig;
  }
  install_crash_handler(spec.name);

  // The daemon's life runs on this loop: stop signals, SIGHUP, and a
  // role's fatal error all arrive here as handlers. The signal set is
  // installed before any thread starts, so an early SIGTERM is queued for
  // it rather than killing the process.
  asio::io_context loop(1);
  asio::signal_set signals(loop, SIGTERM, SIGINT, SIGHUP);
  signal(SIGPIPE, SIG_IGN);
  raise_open_files_limit();

  std::optional<TokenSet> tokens;
  const std::string tokens_path = cfg.get_string("server.auth_tokens_file");
  if (!tokens_path.empty()) {
    auto t = read_tokens(tokens_path);
    if (!t.ok()) {
      spdlog::error("{}", t.status().message());
      return kExitConfig;
    }
    tokens = std::move(*t);
  }
  auto access = access_options(cfg);
  if (!access.ok()) {
    spdlog::error("{}", access.status().message());
    return kExitConfig;
  }

  auto store = open_object_store(cfg.get_string("store.url"));
  if (!store.ok()) {
    spdlog::error("store.url: {}", store.status().message());
    return kExitConfig;
  }
  Metrics metrics;
  add_hedge_metrics(metrics);
  DaemonContext ctx;
  ctx.config = &cfg;
  ctx.store = *store;
  ctx.db.prefix = cfg.get_string("store.prefix");
  if (Status h = hedge_options(cfg, &ctx.db.hedging); !h.ok()) {
    spdlog::error("{}", h.message());
    return kExitConfig;
  }
  if (Status side = open_side_stores(cfg, &ctx.db); !side.ok()) {
    spdlog::error("{}", side.message());
    return kExitConfig;
  }
  ctx.db.lease = cfg.get_duration("store.lease");
  ctx.db.gc_grace = cfg.get_duration("store.gc_grace");
  if (ctx.db.lease >= ctx.db.gc_grace) {
    spdlog::error("store.lease ({}) must be shorter than store.gc_grace ({})",
                  format_duration(ctx.db.lease), format_duration(ctx.db.gc_grace));
    return kExitConfig;
  }
  ctx.metrics = &metrics;
  // A fenced role (or any fatal error) wakes the loop at once: nothing
  // polls for it.
  ctx.fatal = [&loop](int code, const Status& why) {
    {
      std::lock_guard lk(g_fatal_mu);
      if (g_fatal_code.load() >= 0) return;
      g_fatal_status = why;
    }
    g_fatal_code.store(code);
    asio::post(loop, [&loop] { loop.stop(); });
  };

  spdlog::info("{} {} starting: store {} prefix '{}'", spec.name, ISLE_VERSION,
               cfg.get_string("store.url"), ctx.db.prefix);
  if (ctx.db.manifest_storage) spdlog::info("manifest in {}", ctx.db.manifest_storage->describe());
  if (ctx.db.gc_mark_storage) spdlog::info("GC marks in {}", ctx.db.gc_mark_storage->describe());
  auto role = spec.open(ctx);
  if (!role.ok()) {
    const Status& s = role.status();
    spdlog::error("cannot start the {}: {}", spec.role, s.to_string());
    if (s.code() == Code::kFenced) return kExitFenced;
    return s.is_invalid_argument() ? kExitConfig : kExitFailure;
  }

  Router router;
  (*role)->add_routes(router);
  add_common_routes(router, spec, role->get(), &metrics, started);
  HttpServerOptions options = server_options(cfg, spec.name, &metrics);
  options.access = std::move(*access);
  options.access.tokens = std::move(tokens);
  auto server = HttpServer::start(std::move(options), std::move(router), &metrics);
  if (!server.ok()) {
    spdlog::error("cannot listen on {}: {}", cfg.get_string("server.listen"),
                  server.status().message());
    (void)(*role)->shutdown();
    return kExitFailure;
  }
  spdlog::info("{} listening on {}://{}", spec.name,
               cfg.get_string("server.tls_cert").empty() ? "http" : "https", (*server)->address());
  if (auto path = cfg.get_string("server.address_file"); !path.empty()) {
    if (Status s = write_address_file(path, (*server)->address()); !s.ok()) {
      spdlog::error("server.address_file: {}", s.message());
    }
  }

  // Run until a stop signal or a fatal error. SIGHUP reloads the tokens
  // file (a bad file keeps the old tokens) and never stops the daemon.
  int signo = 0;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig != SIGHUP) {
        signo = sig;
        loop.stop();
        return;
      }
      if (tokens_path.empty()) {
        spdlog::info("SIGHUP: no server.auth_tokens_file to reload");
      } else if (auto t = read_tokens(tokens_path); !t.ok()) {
        spdlog::error("SIGHUP: keeping the current tokens: {}", t.status().message());
      } else {
        spdlog::info("SIGHUP: reloaded {} token(s) from {}", t->size(), tokens_path);
        (*server)->replace_tokens(std::move(*t));
      }
      wait_signal();
    });
  };
  wait_signal();
  if (g_fatal_code.load() < 0) loop.run();

  if (int code = g_fatal_code.load(); code >= 0) {
    Status why;
    {
      std::lock_guard lk(g_fatal_mu);
      why = g_fatal_status;
    }
    spdlog::error("{} stopping: {}", spec.name, why.to_string());
    (*server)->stop_accepting();
    (*server)->stop();
    (void)(*role)->shutdown();
    spdlog::info("{} exits with {}", spec.name, code);
    spdlog::shutdown();
    return code;
  }

  spdlog::info("{} got {}: draining", spec.name, signo == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->stop_accepting();
  if (!(*server)->drain(cfg.get_duration("server.shutdown_timeout"))) {
    spdlog::warn("requests still in flight after server.shutdown_timeout; closing them");
  }
  Status s = (*role)->shutdown();
  (*server)->stop();
  int code = kExitOk;
  if (!s.ok()) {
    spdlog::error("{} shutdown: {}", spec.name, s.to_string());
    code = s.code() == Code::kFenced ? kExitFenced : kExitFailure;
  } else if (g_fatal_code.load() >= 0) {
    code = g_fatal_code.load();
  }
  spdlog::info("{} stopped (exit {})", spec.name, code);
  spdlog::shutdown();
  return code;
}

}  // namespace isle::server
