// Decoders and encoders of the XML bodies the cloud backends exchange with
// S3, Azure Blob Storage and GCS (XML API), built on xml.h.
//
// Every decoder takes untrusted bytes: malformed bodies give Corruption
// naming what was wrong (parse_cloud_error never fails), nothing throws,
// and the dates parsers return nullopt instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isle/object_store.h"
#include "isle/status.h"

namespace isle {

// An error body: S3/GCS <Error><Code>..</Code><Message>..</Message></Error>;
// Azure uses the same element names. Unparseable, empty or differently
// rooted bodies give empty fields (never fails).
struct CloudError {
  std::string code;
  std::string message;
};
CloudError parse_cloud_error(std::string_view body);

// One page of an S3 ListObjectsV2 response (root ListBucketResult).
//   * With <EncodingType>url</EncodingType>, S3 url-encodes the Key,
//     Prefix, StartAfter and Delimiter elements (not the continuation
//     tokens); Keys are then decoded like form data: %XX is a byte and '+'
//     a space (S3 writes a literal '+' as %2B). Other encodings: Corruption.
//   * Contents need Key and Size; ETag (quotes stripped, literal or &quot;)
//     and LastModified (ISO 8601 -> unix ms) may be absent (then "" and 0)
//     but must be well formed when present.
//   * IsTruncated is "true" or "false" (absent: false). The token is
//     returned as sent; a truncated page without one is not an error here.
//   * With generation_etags (the GCS dialect), each entry's token is its
//     <Generation> (required) instead of its ETag.
struct S3ListPage {
  std::vector<ObjectMeta> objects;
  bool truncated = false;
  std::string next_continuation_token;
};
Result<S3ListPage> parse_s3_list_v2(std::string_view body, bool generation_etags = false);

// The body of an S3 DeleteObjects request in Quiet mode (only failures are
// reported back). InvalidArgument when `keys` is empty, holds more than
// 1000 keys, an empty key, or a key XML 1.0 cannot carry (invalid UTF-8,
// control characters other than \t \n \r, U+FFFE/U+FFFF). \r is sent as
// &#13; so that it survives line-end normalization.
Result<std::string> build_s3_delete_body(const std::vector<std::string>& keys);

// The failures listed in an S3 DeleteResult: one DeleteOutcome per <Error>
// entry (Key, Code, Message), <Deleted> entries ignored. Code "NoSuchKey"
// counts as deleted (skipped); "SlowDown" gives Throttled;
// "InternalError"/"ServiceUnavailable" give Transient; everything else
// ("AccessDenied"...) gives Permanent. Each message names the key, code and
// S3's message. A body whose root is <Error> (the whole request failed)
// returns that error as the Status, mapped the same way.
Result<std::vector<DeleteOutcome>> parse_s3_delete_result(std::string_view body);

// One page of an Azure List Blobs response (root EnumerationResults):
// Blobs/Blob{Name, Properties{Content-Length, Etag, Last-Modified}} and
// NextMarker. A Name with attribute Encoded="true" is percent-encoded and is
// decoded ('+' stays '+'). Etag quotes are stripped; Last-Modified is RFC 1123
// -> unix ms. BlobPrefix entries, snapshots, non-current versions and
// soft-deleted blobs are skipped. Name and Content-Length are required.
struct AzureListPage {
  std::vector<ObjectMeta> objects;
  std::string next_marker;
};
Result<AzureListPage> parse_azure_list(std::string_view body);

// "2009-10-12T17:50:30.000Z": a fraction of any length is optional (kept to
// the millisecond, truncated); the zone is 'Z' or an offset "+HH:MM" /
// "-HH:MM". Fields are range-checked (second 60 is accepted as a leap
// second). nullopt on anything else.
std::optional<int64_t> parse_iso8601_ms(std::string_view s);

// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate "Wed, 12 Oct 2009 17:50:00 GMT",
// and the obsolete RFC 850 ("Wednesday, 12-Oct-09 17:50:00 GMT", two-digit
// years 70..99 are 19xx, else 20xx) and asctime ("Wed Oct 12 17:50:00 2009")
// forms. Day and month names must be valid (the weekday is not checked
// against the date). nullopt on anything else.
std::optional<int64_t> parse_http_date_ms(std::string_view s);

}  // namespace isle
