// The S3 / Azure / GCS response decoders and request encoders (see
// cloud_xml.h for each contract).
//
// Invariants: bodies are parsed with parse_xml (bounded, non-recursive);
// every number, date and percent-escape is range-checked before use, so a
// malformed body yields Corruption and never a bogus ObjectMeta; messages
// quote at most a short, bounded excerpt of the offending value.
#include "cloud/cloud_xml.h"

#include <array>
#include <cstdint>

#include "cloud/xml.h"

namespace isle {

namespace {

// A value from the body for an error message: bounded.
std::string shown(std::string_view s) {
  if (s.size() <= 80) return std::string(s);
  return std::string(s.substr(0, 80)) + "...";
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  s = trim(s);
  if (s == "true") return true;
  if (s == "false") return false;
  return std::nullopt;
}

// An ETag without its quotes ("abc" and abc both give abc).
std::string strip_quotes(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX -> byte; '+' -> ' ' when plus_is_space. nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (s.size() - i < 3) return std::nullopt;
      int hi = hex_digit(s[i + 1]);
      int lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Status bad(std::string_view what, std::string message) {
  return Status::Corruption(std::string(what) + ": " + std::move(message));
}

// Parses `body` and checks its root element's name.
Result<XmlElement> parse_root(std::string_view body, std::string_view what,
                              std::string_view root_name) {
  auto doc = parse_xml(body);
  if (!doc.ok()) return doc.status().with_context(what);
  if (doc->name != root_name) {
    return bad(what, "root element is <" + shown(doc->name) + ">, expected <" +
                         std::string(root_name) + ">");
  }
  return doc;
}

// The Status for an S3 error code (per key of a DeleteObjects, or for the
// whole request); OK for NoSuchKey.
Status s3_error_status(std::string_view code, std::string_view message, std::string prefix) {
  std::string text = std::move(prefix) + (code.empty() ? "(no error code)" : shown(code));
  if (!message.empty()) text += ": " + shown(message);
  if (code == "NoSuchKey") return Status::OK();
  if (code == "SlowDown") return Status::Throttled(std::move(text));
  if (code == "InternalError" || code == "ServiceUnavailable") {
    return Status::Transient(std::move(text));
  }
  return Status::Permanent(std::move(text));
}

// ---- dates ------------------------------------------------------------------

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int64_t y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[static_cast<size_t>(m - 1)];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<int64_t>(y - era * 400);
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::optional<int64_t> to_unix_ms(int64_t y, int mo, int d, int h, int mi, int s, int ms) {
  if (y < 0 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
    return std::nullopt;
  }
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60 || ms < 0 || ms > 999) {
    return std::nullopt;
  }
  const int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  return secs * 1000 + ms;
}

// A cursor over a date string; every read is bounds-checked.
struct Cursor {
  std::string_view s;
  size_t p = 0;

  bool done() const { return p == s.size(); }
  bool lit(char c) {
    if (p < s.size() && s[p] == c) {
      ++p;
      return true;
    }
    return false;
  }
  bool lit(std::string_view t) {
    if (s.size() - p >= t.size() && s.compare(p, t.size(), t) == 0) {
      p += t.size();
      return true;
    }
    return false;
  }
  // Exactly n digits.
  bool digits(size_t n, int* out) {
    if (s.size() - p < n) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = s[p + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    p += n;
    *out = v;
    return true;
  }
  // One of `names` (exact, case-sensitive); *index gets its position.
  template <size_t N>
  bool name(const std::array<std::string_view, N>& names, int* index) {
    for (size_t i = 0; i < N; ++i) {
      if (lit(names[i])) {
        *index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  // "HH:MM:SS"
  bool time(int* h, int* m, int* sec) {
    return digits(2, h) && lit(':') && digits(2, m) && lit(':') && digits(2, sec);
  }
};

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
// RFC 850 weekdays; parse_http_date_ms tries these after kDays matched a prefix.
constexpr std::array<std::string_view, 7> kLongDays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

}  // namespace

// ---- error bodies -----------------------------------------------------------

CloudError parse_cloud_error(std::string_view body) {
  CloudError e;
  auto doc = parse_xml(body);
  if (!doc.ok() || doc->name != "Error") return e;
  e.code = std::string(trim(doc->child_text("Code")));
  e.message = doc->child_text("Message");
  return e;
}

// ---- S3 ---------------------------------------------------------------------

Result<S3ListPage> parse_s3_list_v2(std::string_view body, bool generation_etags) {
  constexpr std::string_view kWhat = "S3 ListObjectsV2 response";
  ISLE_ASSIGN_OR_RETURN(XmlElement root, parse_root(body, kWhat, "ListBucketResult"));
  bool url = false;
  if (const XmlElement* enc = root.child("EncodingType")) {
    std::string_view t = trim(enc->text);
    if (t == "url") {
      url = true;
    } else if (!t.empty()) {
      return bad(kWhat, "unsupported EncodingType '" + shown(t) + "'");
    }
  }
  S3ListPage page;
  if (const XmlElement* tr = root.child("IsTruncated")) {
    auto b = parse_bool(tr->text);
    if (!b) return bad(kWhat, "IsTruncated is '" + shown(tr->text) + "'");
    page.truncated = *b;
  }
  page.next_continuation_token = root.child_text("NextContinuationToken");
  size_t n = 0;
  for (const XmlElement& c : root.children) {
    if (c.name != "Contents") continue;
    const std::string where = "Contents #" + std::to_string(++n);
    ObjectMeta meta;
    const XmlElement* key = c.child("Key");
    if (key == nullptr) return bad(kWhat, where + " has no Key");
    if (url) {
      auto k = percent_decode(key->text, /*plus_is_space=*/true);
      if (!k) {
        return bad(kWhat, where + " has a malformed url-encoded Key '" + shown(key->text) + "'");
      }
      meta.key = std::move(*k);
    } else {
      meta.key = key->text;
    }
    if (meta.key.empty()) return bad(kWhat, where + " has an empty Key");
    const XmlElement* size = c.child("Size");
    if (size == nullptr) return bad(kWhat, where + " has no Size");
    auto sz = parse_u64(size->text);
    if (!sz) return bad(kWhat, where + " has a malformed Size '" + shown(size->text) + "'");
    meta.size = *sz;
    meta.etag = strip_quotes(c.child_text("ETag"));
    if (generation_etags) {
      meta.etag = c.child_text("Generation");
      if (meta.etag.empty() || meta.etag.find_first_not_of("0123456789") != std::string::npos) {
        return bad(kWhat, where + " has no valid Generation");
      }
    }
    if (const XmlElement* lm = c.child("LastModified")) {
      auto ms = parse_iso8601_ms(trim(lm->text));
      if (!ms) return bad(kWhat, where + " has a malformed LastModified '" + shown(lm->text) + "'");
      meta.modified_ms = *ms;
    }
    page.objects.push_back(std::move(meta));
  }
  return page;
}

Result<std::string> build_s3_delete_body(const std::vector<std::string>& keys) {
  if (keys.empty()) return Status::InvalidArgument("S3 DeleteObjects: no keys to delete");
  if (keys.size() > 1000) {
    return Status::InvalidArgument("S3 DeleteObjects: " + std::to_string(keys.size()) +
                                   " keys, at most 1000 per request");
  }
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
  for (const std::string& key : keys) {
    if (key.empty()) return Status::InvalidArgument("S3 DeleteObjects: empty key");
    if (!is_xml_chars(key)) {
      return Status::InvalidArgument("S3 DeleteObjects: key '" + shown(key) +
                                     "' holds characters XML 1.0 cannot carry");
    }
    out += "<Object><Key>";
    for (char c : xml_escape(key)) {
      if (c == '\r') {
        out += "&#13;";
      } else {
        out.push_back(c);
      }
    }
    out += "</Key></Object>";
  }
  out += "</Delete>";
  return out;
}

Result<std::vector<DeleteOutcome>> parse_s3_delete_result(std::string_view body) {
  constexpr std::string_view kWhat = "S3 DeleteObjects response";
  auto doc = parse_xml(body);
  if (!doc.ok()) return doc.status().with_context(kWhat);
  if (doc->name == "Error") {
    Status st = s3_error_status(trim(doc->child_text("Code")), doc->child_text("Message"),
                                "S3 DeleteObjects failed: ");
    if (st.ok()) st = Status::Permanent("S3 DeleteObjects failed: NoSuchKey");
    return st;
  }
  if (doc->name != "DeleteResult") {
    return bad(kWhat, "root element is <" + shown(doc->name) + ">, expected <DeleteResult>");
  }
  std::vector<DeleteOutcome> out;
  size_t n = 0;
  for (const XmlElement& c : doc->children) {
    if (c.name != "Error") continue;
    ++n;
    const XmlElement* key = c.child("Key");
    if (key == nullptr) return bad(kWhat, "Error #" + std::to_string(n) + " has no Key");
    Status st = s3_error_status(trim(c.child_text("Code")), c.child_text("Message"),
                                "S3 delete of '" + shown(key->text) + "' failed: ");
    if (st.ok()) continue;  // NoSuchKey: already gone
    out.push_back({key->text, std::move(st)});
  }
  return out;
}

// ---- Azure ------------------------------------------------------------------

Result<AzureListPage> parse_azure_list(std::string_view body) {
  constexpr std::string_view kWhat = "Azure List Blobs response";
  ISLE_ASSIGN_OR_RETURN(XmlElement root, parse_root(body, kWhat, "EnumerationResults"));
  AzureListPage page;
  page.next_marker = root.child_text("NextMarker");
  const XmlElement* blobs = root.child("Blobs");
  if (blobs == nullptr) return page;
  size_t n = 0;
  for (const XmlElement& b : blobs->children) {
    if (b.name != "Blob") continue;  // BlobPrefix: a "directory" under a delimiter
    const std::string where = "Blob #" + std::to_string(++n);
    if (!trim(b.child_text("Snapshot")).empty()) continue;
    if (trim(b.child_text("Deleted")) == "true") continue;
    if (trim(b.child_text("IsCurrentVersion")) == "false") continue;
    ObjectMeta meta;
    const XmlElement* name = b.child("Name");
    if (name == nullptr) return bad(kWhat, where + " has no Name");
    const std::string* encoded = name->attribute("Encoded");
    if (encoded != nullptr && trim(*encoded) == "true") {
      auto k = percent_decode(name->text, /*plus_is_space=*/false);
      if (!k) {
        return bad(kWhat, where + " has a malformed encoded Name '" + shown(name->text) + "'");
      }
      meta.key = std::move(*k);
    } else {
      meta.key = name->text;
    }
    if (meta.key.empty()) return bad(kWhat, where + " has an empty Name");
    const XmlElement* props = b.child("Properties");
    if (props == nullptr) return bad(kWhat, where + " has no Properties");
    const XmlElement* len = props->child("Content-Length");
    if (len == nullptr) return bad(kWhat, where + " has no Content-Length");
    auto sz = parse_u64(len->text);
    if (!sz) {
      return bad(kWhat, where + " has a malformed Content-Length '" + shown(len->text) + "'");
    }
    meta.size = *sz;
    meta.etag = strip_quotes(props->child_text("Etag"));
    if (const XmlElement* lm = props->child("Last-Modified")) {
      auto ms = parse_http_date_ms(trim(lm->text));
      if (!ms) {
        return bad(kWhat, where + " has a malformed Last-Modified '" + shown(lm->text) + "'");
      }
      meta.modified_ms = *ms;
    }
    page.objects.push_back(std::move(meta));
  }
  return page;
}

// ---- dates ------------------------------------------------------------------

std::optional<int64_t> parse_iso8601_ms(std::string_view s) {
  Cursor c{s};
  int y, mo, d, h, mi, sec;
  if (!(c.digits(4, &y) && c.lit('-') && c.digits(2, &mo) && c.lit('-') && c.digits(2, &d))) {
    return std::nullopt;
  }
  if (!(c.lit('T') || c.lit('t'))) return std::nullopt;
  if (!c.time(&h, &mi, &sec)) return std::nullopt;
  int ms = 0;
  if (c.lit('.')) {
    size_t n = 0;
    int digit;
    while (c.digits(1, &digit)) {
      if (++n > 9) return std::nullopt;
      if (n <= 3) ms = ms * 10 + digit;
    }
    if (n == 0) return std::nullopt;
    for (size_t i = n; i < 3; ++i) ms *= 10;
  }
  int64_t offset_min = 0;
  if (c.lit('Z') || c.lit('z')) {
    // UTC
  } else if (c.p < s.size() && (s[c.p] == '+' || s[c.p] == '-')) {
    const bool minus = s[c.p] == '-';
    ++c.p;
    int oh, om;
    if (!(c.digits(2, &oh) && c.lit(':') && c.digits(2, &om)) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = (minus ? -1 : 1) * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (!c.done()) return std::nullopt;
  auto local = to_unix_ms(y, mo, d, h, mi, sec, ms);
  if (!local) return std::nullopt;
  return *local - offset_min * 60000;
}

std::optional<int64_t> parse_http_date_ms(std::string_view s) {
  Cursor c{s};
  int wd, d, mo, y, h, mi, sec;
  if (c.name(kDays, &wd)) {
    if (c.lit(',')) {
      // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
      if (!(c.lit(' ') && c.digits(2, &d) && c.lit(' ') && c.name(kMonths, &mo) && c.lit(' ') &&
            c.digits(4, &y) && c.lit(' ') && c.time(&h, &mi, &sec) && c.lit(" GMT"))) {
        return std::nullopt;
      }
    } else if (c.lit(' ')) {
      // asctime: "Sun Nov  6 08:49:37 1994"
      if (!c.name(kMonths, &mo) || !c.lit(' ')) return std::nullopt;
      if (c.lit(' ')) {
        if (!c.digits(1, &d)) return std::nullopt;
      } else if (!c.digits(2, &d)) {
        return std::nullopt;
      }
      if (!(c.lit(' ') && c.time(&h, &mi, &sec) && c.lit(' ') && c.digits(4, &y))) {
        return std::nullopt;
      }
    } else {
      // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
      c.p = 0;
      if (!c.name(kLongDays, &wd)) return std::nullopt;
      int yy;
      if (!(c.lit(", ") && c.digits(2, &d) && c.lit('-') && c.name(kMonths, &mo) && c.lit('-') &&
            c.digits(2, &yy) && c.lit(' ') && c.time(&h, &mi, &sec) && c.lit(" GMT"))) {
        return std::nullopt;
      }
      y = yy >= 70 ? 1900 + yy : 2000 + yy;
    }
  } else {
    return std::nullopt;
  }
  if (!c.done()) return std::nullopt;
  return to_unix_ms(y, mo + 1, d, h, mi, sec, 0);
}

}  // namespace isle
