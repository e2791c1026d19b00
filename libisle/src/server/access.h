// Access policy of the daemons: which request may reach which route.
//
// Two independent defences, checked in this order by AccessPolicy::check:
//   1. browser defences (every route but the open ones): a request whose
//      Origin header is not listed in server.allowed_origins is refused,
//      and on a loopback listener a Host that is not a loopback name nor
//      listed in server.allowed_hosts is refused (DNS rebinding: a web page
//      whose name resolves to 127.0.0.1 must not reach the daemon);
//   2. bearer tokens (when a tokens file is configured): each token carries
//      scopes, each route declares the Scope it needs.
//
// Invariants:
//   * a TokenSet holds sha256 digests of the tokens, never their text, and
//     a lookup compares the digest against every entry in constant time;
//   * no error message or Decision ever contains a token's text;
//   * AccessPolicy::check may run on any thread while replace_tokens runs
//     on another: a check sees the old set or the new one, never a mix.
//
// Nothing here includes Asio or Beast.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isle/status.h"
#include "server/http.h"
#include "server/scope.h"

namespace isle::server {

// Scope (what a route needs) is declared in server/scope.h.

// A set of the four grantable scopes, one bit each.
using ScopeMask = uint8_t;
// The bit of kRead, kWrite, kAdmin or kMetrics; 0 for kOpen and kAnyToken.
ScopeMask scope_bit(Scope scope);
inline constexpr ScopeMask kAllScopes = 0x0f;

// "open", "any_token", "read", "write", "admin", "metrics".
std::string_view scope_name(Scope scope);
// One of the four grantable scopes by name (case-insensitive); nullopt for
// anything else, including "open" and "any_token".
std::optional<Scope> parse_scope(std::string_view name);

// Tokens and the scopes each holds. A token added twice holds the union of
// its scopes. Copyable value; not synchronised (AccessPolicy shares it
// read-only between threads).
class TokenSet {
 public:
  // `scopes` must not be 0 (a token with no scope could never be used).
  void add(std::string_view token, ScopeMask scopes);
  // The scopes `token` holds, 0 when it is not in the set (or is empty).
  // Hashes the token once and compares the digest with every entry, so the
  // time taken does not depend on which entry matched, or whether one did.
  ScopeMask lookup(std::string_view token) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    Digest digest;
    ScopeMask scopes;
  };
  std::vector<Entry> entries_;
};

// Parses a tokens file. One token per line: `TOKEN [SCOPE,...]`, the token,
// then optional whitespace and a comma-separated list of read, write,
// admin, metrics (spaces around the commas are allowed). A line without
// scopes grants all four, so files from before scopes keep working. Blank
// lines and lines whose first non-blank character is '#' are skipped;
// trailing CR, spaces and tabs are trimmed.
// Errors (InvalidArgument, naming `path_for_errors` and the 1-based line
// number but never the line's text): an unknown scope, an empty scope
// (",," or a leading/trailing comma), a text without any token.
Result<TokenSet> parse_tokens(std::string_view text, std::string_view path_for_errors);
// Reads `path` and parse_tokens() it. An unreadable file is InvalidArgument.
Result<TokenSet> load_tokens_file(const std::string& path);

struct AccessOptions {
  // nullopt: tokens are off and every route passes the token step.
  std::optional<TokenSet> tokens;
  // Exact request paths (as sent, before '?') treated as kOpen whatever the
  // route declares, e.g. "/readyz", "/metrics" (server.open_routes).
  std::vector<std::string> open_routes;
  // Exact origins a browser may send, e.g. "https://console.example:8443"
  // (server.allowed_origins). Compared case-insensitively; a trailing '/'
  // on an entry is ignored. "null" matches only when listed.
  std::vector<std::string> allowed_origins;
  // Host names (with or without a port) accepted on a loopback listener in
  // addition to the loopback names (server.allowed_hosts).
  std::vector<std::string> allowed_hosts;
  // Whether the server listens on a loopback address only: enables the
  // Host check.
  bool loopback_listener = false;
};

// The parts of a request the policy looks at. Views: valid while the
// strings they point to are. nullopt = the header is absent.
struct RequestView {
  std::string_view method;
  std::string_view path;  // before '?', as sent (still percent-encoded)
  std::optional<std::string_view> authorization;
  std::optional<std::string_view> origin;
  std::optional<std::string_view> host;
};

// A view of `req` (no copies); valid while `req` is alive and unchanged.
RequestView request_view(const HttpRequest& req);

struct Decision {
  int status = 0;        // 0 = allowed; else 401 or 403, to answer with
  std::string code;      // "unauthorized", "forbidden", "forbidden_origin"
  std::string message;   // for the JSON error body; holds no token
  bool authenticated = false;  // a valid bearer token was shown
  bool close = false;    // close the connection after answering (401)

  bool allowed() const { return status == 0; }
};

class AccessPolicy {
 public:
  explicit AccessPolicy(AccessOptions options);
  AccessPolicy(const AccessPolicy&) = delete;
  AccessPolicy& operator=(const AccessPolicy&) = delete;

  // Swaps in a new token set (SIGHUP reload); turns tokens on if they were
  // off. Checks already running finish with the set they started with.
  // An empty set refuses every token (fails closed).
  void replace_tokens(TokenSet tokens);

  // Whether tokens are configured.
  bool tokens_enabled() const;

  // Decides whether `req` may reach a route that needs `needed`:
  //   * kOpen routes, and paths listed in open_routes, are allowed at once
  //     (`authenticated` still reports a valid token, if one was shown);
  //   * Origin present and not in allowed_origins: 403 forbidden_origin;
  //   * loopback listener and a Host that is neither a loopback name
  //     (localhost, *.localhost, 127.0.0.0/8, [::1]) nor in allowed_hosts:
  //     403 forbidden_origin. An absent or empty Host passes (HTTP/1.0);
  //   * tokens on, no valid "Authorization: Bearer <token>": 401
  //     unauthorized with close set (answer with WWW-Authenticate: Bearer);
  //   * tokens on, valid token lacking the scope: 403 forbidden naming the
  //     scope; kAnyToken accepts any valid token;
  //   * tokens off: allowed.
  // Thread-safe; takes a mutex only to copy a shared pointer.
  Decision check(const RequestView& req, Scope needed) const;

  // Splits a comma-separated config value: items trimmed of spaces and
  // tabs, empty items dropped. InvalidArgument when an item holds inner
  // whitespace or a control character.
  static Result<std::vector<std::string>> parse_list(std::string_view comma_separated);

  // Whether the value of a Host header names this machine's loopback
  // interface: localhost, *.localhost, 127.0.0.0/8 or ::1 (in brackets),
  // with an optional port. Exposed for tests.
  static bool is_loopback_host(std::string_view host_header);

 private:
  std::shared_ptr<const TokenSet> tokens() const;
  bool origin_allowed(std::string_view origin) const;
  bool host_allowed(std::string_view host_header) const;

  // Fixed after construction.
  std::vector<std::string> open_routes_;
  std::vector<std::string> allowed_origins_;
  std::vector<std::string> allowed_hosts_;
  bool loopback_listener_;

  mutable std::mutex mu_;
  std::shared_ptr<const TokenSet> tokens_;  // guarded by mu_; null = off
};

}  // namespace isle::server
