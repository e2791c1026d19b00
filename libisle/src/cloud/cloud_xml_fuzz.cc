// libFuzzer target: the XML reader and the S3 / Azure / GCS body decoders
// (cloud/xml.h, cloud/cloud_xml.h) on arbitrary bytes, as they would arrive
// from the network. None of them may crash, hang, leak or read out of
// bounds. Beyond that, two round trips are checked and abort on mismatch:
//   * text an XML document can carry, put through xml_escape() as element
//     content and attribute value, reads back as written (modulo the
//     line-end / attribute-value normalization XML requires);
//   * the keys of a DeleteObjects body that build_s3_delete_body accepted
//     read back exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/cloud_xml.h"
#include "cloud/xml.h"

using namespace isle;

namespace {

// Touches every node the way a decoder would (bounded: depth <= 64).
size_t walk(const XmlElement& e) {
  size_t n = e.name.size() + e.text.size() + e.attributes.size();
  (void)e.child("Key");
  (void)e.child_text("Code");
  (void)e.attribute("Encoded");
  for (const auto& c : e.children) n += walk(c);
  return n;
}

std::string normalize_lines(std::string_view s, bool attribute) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
      out.push_back(attribute ? ' ' : '\n');
    } else if (attribute && (c == '\t' || c == '\n')) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  auto doc = parse_xml(in);
  if (doc.ok()) {
    (void)walk(*doc);
  } else {
    check(doc.status().is_corruption());
  }
  auto s3 = parse_s3_list_v2(in);
  if (s3.ok()) check(doc.ok());
  auto del = parse_s3_delete_result(in);
  if (del.ok()) check(doc.ok());
  auto az = parse_azure_list(in);
  if (az.ok()) check(doc.ok());
  CloudError err = parse_cloud_error(in);
  if (!err.code.empty()) check(doc.ok());
  (void)parse_iso8601_ms(in);
  (void)parse_http_date_ms(in);

  // Escaping round trip.
  if (size <= 4096) {
    const std::string escaped = xml_escape(in);
    auto back = parse_xml("<k v=\"" + escaped + "\">" + escaped + "</k>");
    if (is_xml_chars(in)) {
      check(back.ok());
      check(back->text == normalize_lines(in, false));
      check(back->attributes.size() == 1 &&
            back->attributes[0].second == normalize_lines(in, true));
    }
  }

  // DeleteObjects body round trip: the input split at '\0' into keys.
  if (size <= 4096) {
    std::vector<std::string> keys;
    size_t from = 0;
    while (from <= in.size()) {
      size_t end = in.find('\0', from);
      if (end == std::string_view::npos) end = in.size();
      keys.emplace_back(in.substr(from, end - from));
      from = end + 1;
    }
    auto body = build_s3_delete_body(keys);
    if (body.ok()) {
      auto parsed = parse_xml(*body);
      check(parsed.ok());
      size_t i = 0;
      for (const auto& o : parsed->children) {
        if (o.name != "Object") continue;
        check(i < keys.size() && o.child_text("Key") == keys[i]);
        ++i;
      }
      check(i == keys.size());
    } else {
      check(body.status().is_invalid_argument());
    }
  }
  return 0;
}
