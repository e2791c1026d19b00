// A small XML reader and escaper for the response bodies of S3, Azure Blob
// Storage and GCS (their XML API). Not a general XML processor: no DTDs,
// no external or custom entities, UTF-8 only.
//
// The input comes from the network, so the reader never recurses (an
// explicit stack bounded by kXmlMaxDepth), never reads past the input, and
// reports every problem as Corruption naming what was wrong and the byte
// offset where it was found.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isle/status.h"

namespace isle {

inline constexpr size_t kXmlMaxDepth = 64;                  // nested elements, root = 1
inline constexpr size_t kXmlMaxInput = size_t{64} << 20;    // bytes
inline constexpr size_t kXmlMaxElements = size_t{1} << 20;  // elements per document

// One element of a parsed document.
struct XmlElement {
  std::string name;  // local name: a namespace prefix "ns:" is dropped
  // Attributes in document order, names as written (prefix kept, e.g.
  // "xmlns:xsi"); values decoded (entities, and literal \t \n \r turned into
  // spaces as XML attribute-value normalization requires).
  std::vector<std::pair<std::string, std::string>> attributes;
  // All character data directly inside this element (not inside children),
  // concatenated: entities and CDATA decoded, line ends ("\r\n", lone "\r")
  // normalized to "\n". Not trimmed: whitespace between children is kept.
  std::string text;
  std::vector<XmlElement> children;

  // The first child with that local name, or nullptr.
  const XmlElement* child(std::string_view name) const;
  // The text of child(name), or "" when there is no such child.
  std::string child_text(std::string_view name) const;
  // The value of the attribute with exactly that (qualified) name, or nullptr.
  const std::string* attribute(std::string_view name) const;
};

// Parses a whole document: optional UTF-8 BOM, optional <?xml ...?>
// declaration (encoding, if given, must be UTF-8 or US-ASCII), comments and
// processing instructions around and inside the root, exactly one root
// element. Rejected with Corruption (message names the problem and the byte
// offset): a DOCTYPE, invalid UTF-8, raw control characters other than
// \t \n \r, mismatched or unterminated tags, duplicate attributes, unknown
// entities, character references to NUL, surrogates, U+FFFE/U+FFFF or past
// U+10FFFF, "]]>" in text, non-whitespace outside the root, nesting deeper
// than kXmlMaxDepth, more than kXmlMaxElements elements, input larger than
// kXmlMaxInput.
//
// Entities: &amp; &lt; &gt; &quot; &apos; &#N; &#xN; (emitted as UTF-8).
// As in XML 1.1, references to the control characters U+0001..U+001F are
// accepted (S3 writes keys holding them that way, and xml_escape() emits
// them); raw control characters in the input are not.
Result<XmlElement> parse_xml(std::string_view doc);

// Escapes text for use as element content or a quoted attribute value:
// & < > " ' become entities and bytes below 0x20 other than \t \n \r become
// &#N;. Other bytes pass through unchanged (the caller supplies UTF-8).
// Note that a conforming reader turns a literal \r into \n (and \t \n \r in
// attribute values into spaces); escape those yourself as &#N; when they
// must survive exactly. XML 1.0 readers reject &#N; for N < 0x20 other
// than 9, 10, 13.
std::string xml_escape(std::string_view text);

// True when `s` is well-formed UTF-8 made only of XML 1.0 characters (no
// control characters other than \t \n \r, no U+FFFE/U+FFFF): text an XML
// 1.0 document can carry, escaped, without character references.
bool is_xml_chars(std::string_view s);

}  // namespace isle
