// AccessPolicy and the tokens file (see access.h for the contract).
//
// Tokens are hashed as soon as they are parsed; the plain text lives only
// in the caller's buffer. Every error message is built from the path, the
// line number and fixed words, never from the line's text: in the format
// from before scopes, a token could hold a space, so even the "scope" part
// of a line may be a piece of a secret.
//
// The token set is shared as a shared_ptr<const TokenSet>: check() copies
// the pointer under a mutex and then reads the set without a lock, so a
// concurrent replace_tokens() can neither tear a lookup nor free the set
// under it.
#include "server/access.h"
#include "util/ascii.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace isle::server {

namespace {


bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "a.b.c.d" in plain decimal with a first octet of 127.
bool is_loopback_ipv4(std::string_view s) {
  int parts = 0;
  int first = -1;
  while (true) {
    size_t dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    if (!all_digits(part) || part.size() > 3) return false;
    int v = 0;
    for (char c : part) v = v * 10 + (c - '0');
    if (v > 255) return false;
    if (parts == 0) first = v;
    ++parts;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return parts == 4 && first == 127;
}

// ::1, or an IPv4-mapped address in 127.0.0.0/8.
bool is_loopback_ipv6(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  in6_addr a{};
  if (inet_pton(AF_INET6, buf, &a) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
  return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
}

// The value of a Host header split into its name and port.
struct HostParts {
  bool ok = false;
  bool bracketed = false;  // an IPv6 literal; `name` is without the brackets
  std::string_view name;   // without one trailing '.'
};

HostParts split_host(std::string_view v) {
  HostParts h;
  std::string_view port;
  if (!v.empty() && v.front() == '[') {
    size_t close = v.find(']');
    if (close == std::string_view::npos) return h;
    h.name = v.substr(1, close - 1);
    h.bracketed = true;
    std::string_view rest = v.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return h;
      port = rest.substr(1);
      if (!all_digits(port)) return h;
    }
  } else {
    size_t colon = v.find(':');
    h.name = v.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = v.substr(colon + 1);
      if (!all_digits(port)) return h;  // also refuses a bare IPv6 literal
    }
    if (!h.name.empty() && h.name.back() == '.') h.name.remove_suffix(1);
  }
  if (port.size() > 5 || h.name.empty()) return h;
  h.ok = true;
  return h;
}

// The token of "Bearer <token>", or "" when the header has another form.
std::string_view bearer_token(std::string_view v) {
  constexpr std::string_view kScheme = "bearer ";
  if (v.size() < kScheme.size() || !ascii_iequals(v.substr(0, kScheme.size()), kScheme)) return {};
  v.remove_prefix(kScheme.size());
  return trim(v);
}

std::string line_error(std::string_view path, size_t line, std::string_view what) {
  std::string m(path);
  m += " line ";
  m += std::to_string(line);
  m += ": ";
  m += what;
  return m;
}

}  // namespace

ScopeMask scope_bit(Scope scope) {
  switch (scope) {
    case Scope::kRead: return 1;
    case Scope::kWrite: return 2;
    case Scope::kAdmin: return 4;
    case Scope::kMetrics: return 8;
    case Scope::kOpen:
    case Scope::kAnyToken: return 0;
  }
  return 0;
}

std::string_view scope_name(Scope scope) {
  switch (scope) {
    case Scope::kOpen: return "open";
    case Scope::kAnyToken: return "any_token";
    case Scope::kRead: return "read";
    case Scope::kWrite: return "write";
    case Scope::kAdmin: return "admin";
    case Scope::kMetrics: return "metrics";
  }
  return "?";
}

std::optional<Scope> parse_scope(std::string_view name) {
  for (Scope s : {Scope::kRead, Scope::kWrite, Scope::kAdmin, Scope::kMetrics}) {
    if (ascii_iequals(name, scope_name(s))) return s;
  }
  return std::nullopt;
}

// ---- TokenSet ----

namespace {

std::array<unsigned char, 32> sha256(std::string_view s) {
  std::array<unsigned char, 32> d{};
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

}  // namespace

void TokenSet::add(std::string_view token, ScopeMask scopes) {
  Entry e{sha256(token), static_cast<ScopeMask>(scopes & kAllScopes)};
  for (Entry& have : entries_) {
    if (have.digest == e.digest) {
      have.scopes |= e.scopes;
      return;
    }
  }
  entries_.push_back(e);
}

ScopeMask TokenSet::lookup(std::string_view token) const {
  if (token.empty()) return 0;
  const Digest d = sha256(token);
  // No early exit and no branch on the outcome: every entry is compared
  // and its scopes masked in or out arithmetically.
  unsigned scopes = 0;
  for (const Entry& e : entries_) {
    unsigned equal = CRYPTO_memcmp(e.digest.data(), d.data(), d.size()) == 0;
    scopes |= (0u - equal) & e.scopes;
  }
  return static_cast<ScopeMask>(scopes);
}

Result<TokenSet> parse_tokens(std::string_view text, std::string_view path_for_errors) {
  TokenSet set;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);

    while (!line.empty() && (line.back() == '\r' || is_blank(line.back()))) line.remove_suffix(1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;

    size_t gap = 0;
    while (gap < line.size() && !is_blank(line[gap])) ++gap;
    std::string_view token = line.substr(0, gap);
    std::string_view rest = trim(line.substr(gap));

    ScopeMask scopes = 0;
    if (rest.empty()) {
      scopes = kAllScopes;
    } else {
      while (true) {
        size_t comma = rest.find(',');
        std::string_view item = trim(rest.substr(0, comma));
        if (item.empty()) {
          return Status::InvalidArgument(
              line_error(path_for_errors, line_no, "empty scope in the comma-separated list"));
        }
        auto scope = parse_scope(item);
        if (!scope) {
          return Status::InvalidArgument(line_error(
              path_for_errors, line_no,
              "unknown scope (expected a comma-separated list of read, write, admin, metrics)"));
        }
        scopes |= scope_bit(*scope);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    set.add(token, scopes);
  }
  if (set.empty()) {
    return Status::InvalidArgument(std::string(path_for_errors) + " holds no token");
  }
  return set;
}

Result<TokenSet> load_tokens_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("cannot read " + path);
  return parse_tokens(ss.str(), path);
}

RequestView request_view(const HttpRequest& req) {
  RequestView v;
  v.method = req.method;
  v.path = req.path;
  auto get = [&req](const char* name) -> std::optional<std::string_view> {
    auto it = req.headers.find(name);
    if (it == req.headers.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  v.authorization = get("authorization");
  v.origin = get("origin");
  v.host = get("host");
  return v;
}

// ---- AccessPolicy ----

AccessPolicy::AccessPolicy(AccessOptions options)
    : open_routes_(std::move(options.open_routes)),
      allowed_origins_(std::move(options.allowed_origins)),
      allowed_hosts_(std::move(options.allowed_hosts)),
      loopback_listener_(options.loopback_listener) {
  for (std::string& o : allowed_origins_) {
    while (!o.empty() && o.back() == '/') o.pop_back();
  }
  if (options.tokens) tokens_ = std::make_shared<const TokenSet>(std::move(*options.tokens));
}

void AccessPolicy::replace_tokens(TokenSet tokens) {
  auto fresh = std::make_shared<const TokenSet>(std::move(tokens));
  {
    std::lock_guard lk(mu_);
    tokens_.swap(fresh);
  }
  // `fresh` now holds the old set; it is freed here, outside the lock, or
  // by the last check still using it.
}

bool AccessPolicy::tokens_enabled() const { return tokens() != nullptr; }

std::shared_ptr<const TokenSet> AccessPolicy::tokens() const {
  std::lock_guard lk(mu_);
  return tokens_;
}

bool AccessPolicy::origin_allowed(std::string_view origin) const {
  for (const std::string& o : allowed_origins_) {
    if (ascii_iequals(origin, o)) return true;
  }
  return false;
}

bool AccessPolicy::is_loopback_host(std::string_view host_header) {
  HostParts h = split_host(host_header);
  if (!h.ok) return false;
  if (h.bracketed) return is_loopback_ipv6(h.name);
  constexpr std::string_view kLocal = "localhost";
  if (ascii_iequals(h.name, kLocal)) return true;
  // "app.localhost": a non-empty label, then ".localhost".
  if (h.name.size() > kLocal.size() + 1 && h.name[h.name.size() - kLocal.size() - 1] == '.' &&
      h.name[0] != '.' && ascii_iequals(h.name.substr(h.name.size() - kLocal.size()), kLocal)) {
    return true;
  }
  return is_loopback_ipv4(h.name);
}

bool AccessPolicy::host_allowed(std::string_view host_header) const {
  if (is_loopback_host(host_header)) return true;
  HostParts h = split_host(host_header);
  for (const std::string& a : allowed_hosts_) {
    if (ascii_iequals(a, host_header)) return true;
    if (!h.ok) continue;
    std::string_view entry = a;
    if (h.bracketed && entry.size() >= 2 && entry.front() == '[' && entry.back() == ']') {
      entry = entry.substr(1, entry.size() - 2);
    }
    if (!h.bracketed && !entry.empty() && entry.back() == '.') entry.remove_suffix(1);
    if (ascii_iequals(entry, h.name)) return true;
  }
  return false;
}

Decision AccessPolicy::check(const RequestView& req, Scope needed) const {
  Decision d;
  // Taken once: the whole decision uses one token set.
  const std::shared_ptr<const TokenSet> set = tokens();
  ScopeMask held = 0;
  if (set && req.authorization) {
    held = set->lookup(bearer_token(*req.authorization));
    d.authenticated = held != 0;
  }

  bool open = needed == Scope::kOpen;
  for (const std::string& r : open_routes_) {
    if (!open && req.path == r) open = true;
  }
  if (open) return d;

  // (1) Browser defences.
  if (req.origin && !origin_allowed(*req.origin)) {
    d.status = 403;
    d.code = "forbidden_origin";
    d.message =
        "requests from this Origin are refused; list it in server.allowed_origins to allow a "
        "browser page served from it";
    return d;
  }
  if (loopback_listener_ && req.host && !req.host->empty() && !host_allowed(*req.host)) {
    d.status = 403;
    d.code = "forbidden_origin";
    d.message =
        "this server listens on loopback and the Host header does not name a loopback address; "
        "such requests are refused as a defence against DNS rebinding (a web page whose name "
        "resolves to 127.0.0.1). List the host name in server.allowed_hosts to allow it";
    return d;
  }

  // (2) Tokens.
  if (!set) return d;
  if (held == 0) {
    d.status = 401;
    d.code = "unauthorized";
    d.message = "a valid bearer token is required";
    d.close = true;
    return d;
  }
  if (needed == Scope::kAnyToken || (held & scope_bit(needed)) != 0) return d;
  d.status = 403;
  d.code = "forbidden";
  d.message =
      "this token lacks the '" + std::string(scope_name(needed)) + "' scope this route needs";
  return d;
}

Result<std::vector<std::string>> AccessPolicy::parse_list(std::string_view comma_separated) {
  std::vector<std::string> out;
  std::string_view rest = comma_separated;
  for (size_t n = 1;; ++n) {
    size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    for (char c : item) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == ' ') {
        return Status::InvalidArgument("item " + std::to_string(n) +
                                       " of the list holds whitespace or a control character; "
                                       "separate items with commas");
      }
    }
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace isle::server
