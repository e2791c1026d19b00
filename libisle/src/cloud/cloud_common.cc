// Shared header and key rules of the network stores; see cloud_common.h.
#include "cloud/cloud_common.h"

#include <cctype>
#include <chrono>

#include "cloud/sigv4.h"
#include "store/store_common.h"
#include "util/utf8.h"

namespace isle {

std::string strip_etag_quotes(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

Status check_unicode_key(std::string_view key, std::string_view service) {
  ISLE_RETURN_IF_ERROR(check_common_key(key));
  if (!is_valid_utf8(key)) {
    return Status::InvalidArgument("object key is not valid UTF-8 (" + std::string(service) +
                                   " are Unicode)");
  }
  return Status::OK();
}

int64_t unix_now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string header_value(const HttpClientResponse& r, std::string_view name) {
  const std::string* v = r.header(name);
  return v ? *v : std::string();
}

namespace {

bool parse_number(std::string_view* s, uint64_t* out) {
  if (s->empty() || !std::isdigit(static_cast<unsigned char>((*s)[0]))) return false;
  uint64_t n = 0;
  while (!s->empty() && std::isdigit(static_cast<unsigned char>((*s)[0]))) {
    uint64_t d = static_cast<uint64_t>((*s)[0] - '0');
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
    s->remove_prefix(1);
  }
  *out = n;
  return true;
}

}  // namespace

bool parse_content_range(std::string_view v, uint64_t* first, uint64_t* total) {
  if (!v.starts_with("bytes ")) return false;
  v.remove_prefix(6);
  uint64_t last = 0;
  if (!parse_number(&v, first) || v.empty() || v[0] != '-') return false;
  v.remove_prefix(1);
  if (!parse_number(&v, &last) || v.empty() || v[0] != '/') return false;
  v.remove_prefix(1);
  if (!parse_number(&v, total) || !v.empty()) return false;
  if (*first == *total && *total > 0 && last == *total - 1) return true;  // empty at the end
  return *first <= last && last < *total;
}

Result<ObjectMeta> decide_after_read_back(const ObjectMeta& now, std::string_view found_write_id,
                                          std::string_view write_id, const PutOptions& options,
                                          const Status& why) {
  if (!write_id.empty() && found_write_id == write_id) return now;
  if (options.mode == PutMode::kIfMatch && now.etag == options.if_match) {
    return Status::Transient(why.message() + "; nothing was written");
  }
  return Status::PreconditionFailed(why.message() + "; another writer's version is there");
}

std::string query_param(std::string_view name, std::string_view value) {
  return sigv4_uri_encode(name, true) + "=" + sigv4_uri_encode(value, true);
}

}  // namespace isle
