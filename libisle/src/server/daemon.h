// The shared life of a daemon (DESIGN §11). A daemon's main() builds a
// DaemonSpec — its role name, its config keys, and a factory for its Role
// — and hands it to run_daemon(), which does everything else:
//
//   flags (--config, --set, --check-config, --version, --help)
//   -> config (YAML + overrides, validated whole)  -> logging
//   -> object store + DBOptions from the `store` section
//   -> Role::open  -> HTTP server (role routes + /healthz /readyz
//      /metrics /v1/status)  -> run the daemon's event loop until
//      SIGTERM/SIGINT or a fatal error (SIGHUP reloads the tokens file)
//   -> stop accepting, drain in-flight requests, Role::shutdown, exit.
//
// Exit codes (scripts and systemd units rely on them):
//   0   clean shutdown after SIGTERM/SIGINT (or --check-config/--help ok)
//   1   runtime failure (the store unreachable at start, the port in use)
//   70  an uncaught exception in any thread (EX_SOFTWARE; crash_handler.h)
//   75  fenced: another process took this role over; systemd must not
//       restart (RestartPreventExitStatus=75), so two owners never fight
//   78  bad flags or configuration (EX_CONFIG)
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "isle/db.h"
#include "isle/object_store.h"
#include "isle/options.h"
#include "isle/status.h"
#include "server/config.h"
#include "server/http.h"

namespace isle::server {

class Metrics;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitFenced = 75;
inline constexpr int kExitConfig = 78;

// What run_daemon gives a role when it opens it.
struct DaemonContext {
  const Config* config = nullptr;
  ObjectStorePtr store;       // from store.url (not yet scoped to the prefix)
  // prefix, lease, gc_grace from `store`; manifest_storage and
  // gc_mark_storage from store.manifest_url / store.gc_marks_url (nullptr
  // when unset: in `store`). Every role must pass them on.
  DBOptions db;
  Metrics* metrics = nullptr;
  // Called (from any thread) when the role can no longer serve — above all
  // when it was fenced. run_daemon stops the server and exits with the
  // code (kExitFenced for a fence).
  std::function<void(int exit_code, const Status& why)> fatal;
};

class Role {
 public:
  virtual ~Role() = default;
  // Adds the role's own routes (run_daemon adds the common ones).
  virtual void add_routes(Router& router) = 0;
  // /readyz: whether the role serves correct answers now.
  virtual bool ready() const = 0;
  // /v1/status: fills role-specific fields; run_daemon adds "role" and
  // "version". Roles add at least "epoch", "owner" and "manifest_seq"
  // where they have them.
  virtual void status(nlohmann::json& out) const = 0;
  // SIGTERM: requests are drained; finish the role's work (the writer
  // flushes and commits) and stop background threads.
  virtual Status shutdown() = 0;
};

struct DaemonSpec {
  std::string name;            // "writerd": logs, --help, metrics prefix
  std::string role;            // "writer": /v1/status "role"
  std::string default_listen;  // "127.0.0.1:7001"
  // The role's own keys; run_daemon adds the common `store`, `server` and
  // `log` sections.
  ConfigSchema role_schema;
  std::function<Result<std::unique_ptr<Role>>(const DaemonContext&)> open;
  // Defaults of common keys this daemon sets otherwise ("server.max_streams"
  // -> "10000" for tailerd).
  std::map<std::string, std::string> server_defaults;
};

// The whole life of the process; returns the exit code for main().
int run_daemon(int argc, char** argv, DaemonSpec spec);

// The common sections, for tests and the `isle` CLI (store.* only).
ConfigSchema common_schema(const std::string& default_listen,
                           const std::map<std::string, std::string>& default_overrides = {});

// A block-compression setting: the schema's choices, and the value of an
// enum key declared with them ("none", "lz4", "zstd").
const std::vector<std::string>& compression_choices();
Compression compression_setting(const Config& config, const std::string& path);

}  // namespace isle::server
