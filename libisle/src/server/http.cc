// The plain HTTP value types, the router and the percent-coding helpers
// declared in http.h. No Asio or Beast here (http_server.cc speaks those).
//
// Invariants:
//   * error bodies are always {"error":{"code":...,"message":...}} built by
//     nlohmann::json, so quotes, control bytes and invalid UTF-8 in a
//     message are escaped (or replaced) and never break the JSON;
//   * Router::match prefers a route for the request's method over any
//     other, and among those the most specific pattern (an exact path over
//     any prefix, a longer prefix over a shorter one); HEAD falls back to
//     GET. A path matched only with other methods gives 405 with Allow.
#include "server/http.h"

#include "util/signing.h"

#include <nlohmann/json.hpp>

namespace isle::server {

std::optional<std::string> HttpRequest::header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

HttpResponse HttpResponse::error(int status, std::string_view code, std::string_view message) {
  nlohmann::json j;
  j["error"]["code"] = std::string(code);
  j["error"]["message"] = std::string(message);
  return json(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

// ---- pull_stream ----------------------------------------------------------------

namespace {

class PullProducer final : public StreamProducer {
 public:
  explicit PullProducer(std::function<bool(StreamSink&)> step) : step_(std::move(step)) {}
  void on_open(std::shared_ptr<StreamSink> sink) override { sink->request_writable(); }
  void on_writable(StreamSink& sink) override {
    if (sink.closed()) return;
    if (step_(sink)) {
      sink.request_writable();
    } else {
      sink.end();
    }
  }

 private:
  std::function<bool(StreamSink&)> step_;
};

}  // namespace

std::shared_ptr<StreamProducer> pull_stream(std::function<bool(StreamSink&)> step) {
  return std::make_shared<PullProducer>(std::move(step));
}

std::shared_ptr<StreamProducer> pull_chunks(std::function<bool(std::string*)> step) {
  // The chunk the queue refused, kept for the next call (on_writable never
  // runs twice at once for one stream, so no lock is needed).
  auto carry = std::make_shared<std::string>();
  return pull_stream([step = std::move(step), carry](StreamSink& out) {
    if (!carry->empty()) {
      if (!out.write(*carry)) return true;  // wait for the queue to drain
      carry->clear();
    }
    std::string chunk;
    if (!step(&chunk)) {
      out.end(chunk);
      return false;
    }
    if (!out.write(chunk)) *carry = std::move(chunk);
    return true;
  });
}

// ---- Router -------------------------------------------------------------------

void Router::add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(handler), std::move(options)});
}

namespace {

// How well `pattern` matches `path`: -1 no match; an exact match beats any
// prefix; a longer prefix beats a shorter one.
long specificity(std::string_view pattern, std::string_view path) {
  if (!pattern.empty() && pattern.back() == '*') {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);
    if (path.substr(0, prefix.size()) != prefix) return -1;
    return static_cast<long>(prefix.size());
  }
  if (pattern != path) return -1;
  return static_cast<long>(1) << 40;  // longer than any path
}

}  // namespace

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match m;
  const Route* best = nullptr;
  long best_score = -1;
  const Route* best_get = nullptr;  // for HEAD without a HEAD route
  long best_get_score = -1;
  const Route* best_any = nullptr;  // names the route of a 405
  long best_any_score = -1;
  std::vector<std::string> allow;
  auto add_allow = [&allow](const std::string& meth) {
    for (const auto& a : allow) {
      if (a == meth) return;
    }
    allow.push_back(meth);
  };
  for (const Route& r : routes_) {
    long score = specificity(r.pattern, path);
    if (score < 0) continue;
    add_allow(r.method);
    if (r.method == "GET") add_allow("HEAD");
    if (score > best_any_score) {
      best_any = &r;
      best_any_score = score;
    }
    if (r.method == method && score > best_score) {
      best = &r;
      best_score = score;
    }
    if (r.method == "GET" && score > best_get_score) {
      best_get = &r;
      best_get_score = score;
    }
  }
  if (best == nullptr && method == "HEAD") best = best_get;
  if (best != nullptr) {
    m.handler = &best->handler;
    m.options = &best->options;
    m.pattern = best->pattern;
    return m;
  }
  if (allow.empty()) {
    m.status = 404;
    return m;
  }
  m.status = 405;
  m.pattern = best_any->pattern;
  for (const auto& a : allow) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += a;
  }
  return m;
}

// ---- Percent coding ----------------------------------------------------------


std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;  // "%4" at the end
    auto byte = from_hex(s.substr(i + 1, 2));
    if (!byte) return std::nullopt;
    out += *byte;
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;  // "a=1&&b=2"
    size_t eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

}  // namespace isle::server
