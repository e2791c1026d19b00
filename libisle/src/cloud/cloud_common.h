// Small rules the network stores share, so S3, GCS and Azure read the same
// header the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cloud/http_client.h"
#include "isle/object_store.h"
#include "isle/status.h"

namespace isle {

// An ETag header without its quotes (and without a weak "W/" mark).
std::string strip_etag_quotes(std::string_view etag);

// The common key limits plus valid UTF-8: cloud object names are Unicode.
// `service` names the store in the error ("S3 keys", "Azure blob names").
Status check_unicode_key(std::string_view key, std::string_view service);

int64_t unix_now_seconds();

// A response header's value, or "" when absent.
std::string header_value(const HttpClientResponse& r, std::string_view name);

// "bytes FIRST-LAST/TOTAL" -> first and total; false when malformed or
// inconsistent. "bytes TOTAL-(TOTAL-1)/TOTAL" (Azurite's answer to a range
// starting at the end) is accepted as an empty span at the end.
bool parse_content_range(std::string_view v, uint64_t* first, uint64_t* total);

// The outcome of a conditional put that got a 5xx, decided from the
// object read back afterwards (`now`, and the write id found in its
// metadata): our id -> success (`now`); the precondition still holds (same
// ETag) -> Transient, nothing was written; otherwise PreconditionFailed.
// The absent-object case is the caller's (it has no metadata).
Result<ObjectMeta> decide_after_read_back(const ObjectMeta& now, std::string_view found_write_id,
                                          std::string_view write_id, const PutOptions& options,
                                          const Status& why);

// "name=value" with both encoded as SigV4 wants (every store's query).
std::string query_param(std::string_view name, std::string_view value);

}  // namespace isle
