// The XML reader behind the cloud backends (see xml.h for the contract).
//
// Invariants: the cursor p_ never exceeds the input size and every read
// checks it first; the element tree is built with an explicit stack whose
// size is bounded by kXmlMaxDepth, so neither parsing nor destroying a tree
// recurses more than that; every error is Corruption carrying a byte offset.
// UTF-8 and XML character validity are checked once over the whole input
// before parsing, so the parser itself only looks at ASCII syntax.
#include "cloud/xml.h"
#include "util/ascii.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace isle {

namespace {

Status corrupt(std::string_view what, size_t at) {
  return Status::Corruption("xml: " + std::string(what) + " at byte " + std::to_string(at));
}

// A name for an error message: arbitrary bytes from the input, so bounded.
std::string shown(std::string_view s) {
  if (s.size() <= 64) return std::string(s);
  return std::string(s.substr(0, 64)) + "...";
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04X", static_cast<unsigned>(v));
  return buf;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_name_start(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
}

bool is_name_char(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return is_name_start(ch) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// XML 1.0 Char, plus (as in XML 1.1) U+0001..U+001F when written as a reference.
bool is_referable(uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF) return false;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  return cp != 0xFFFE && cp != 0xFFFF;
}

void append_utf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Every byte of `s` (which starts at offset `base` of the document) must be
// well-formed UTF-8 encoding an XML 1.0 Char.
Status check_chars(std::string_view s, size_t base) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        return corrupt("control character U+" + hex(c), base + i);
      }
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1Fu;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0Fu;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07u;
      min = 0x10000;
    } else {
      return corrupt("invalid UTF-8", base + i);
    }
    if (s.size() - i < len) return corrupt("truncated UTF-8 sequence", base + i);
    for (size_t k = 1; k < len; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return corrupt("invalid UTF-8", base + i);
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return corrupt("invalid UTF-8", base + i);
    }
    if (cp == 0xFFFE || cp == 0xFFFF) return corrupt("non-character U+" + hex(cp), base + i);
    i += len;
  }
  return Status::OK();
}


class Parser {
 public:
  explicit Parser(std::string_view doc) : d_(doc) {}

  Result<XmlElement> run() {
    if (d_.size() > kXmlMaxInput) {
      return Status::Corruption("xml: document of " + std::to_string(d_.size()) +
                                " bytes exceeds the limit of " + std::to_string(kXmlMaxInput));
    }
    if (starts("\xEF\xBB\xBF")) {
      p_ = 3;
    } else if (starts("\xFE\xFF") || starts("\xFF\xFE")) {
      return corrupt("UTF-16 documents are not supported", 0);
    }
    ISLE_RETURN_IF_ERROR(check_chars(d_.substr(p_), p_));
    if (starts("<?xml") && p_ + 5 < d_.size() && (is_space(d_[p_ + 5]) || d_[p_ + 5] == '?')) {
      ISLE_RETURN_IF_ERROR(parse_declaration());
    }
    ISLE_RETURN_IF_ERROR(parse_misc());
    if (at_end()) return corrupt("no root element", p_);
    if (d_[p_] != '<') return corrupt("text outside the root element", p_);
    if (starts("<!")) return corrupt("unexpected markup before the root element", p_);
    ISLE_ASSIGN_OR_RETURN(XmlElement root, parse_tree());
    ISLE_RETURN_IF_ERROR(parse_misc());
    if (!at_end()) return corrupt("content after the root element", p_);
    return root;
  }

 private:
  bool at_end() const { return p_ >= d_.size(); }

  bool starts(std::string_view s) const {
    return p_ <= d_.size() && d_.size() - p_ >= s.size() && d_.compare(p_, s.size(), s) == 0;
  }

  bool skip_space() {
    size_t from = p_;
    while (p_ < d_.size() && is_space(d_[p_])) ++p_;
    return p_ != from;
  }

  Status parse_name(std::string_view* name) {
    if (at_end() || !is_name_start(d_[p_])) return corrupt("expected a name", p_);
    size_t from = p_;
    while (p_ < d_.size() && is_name_char(d_[p_])) ++p_;
    *name = d_.substr(from, p_ - from);
    return Status::OK();
  }

  // Appends `s` with line ends normalized ("\r\n" and lone "\r" become "\n").
  static void append_normalized(std::string* out, std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
      size_t cr = s.find('\r', i);
      if (cr == std::string_view::npos) {
        out->append(s.substr(i));
        return;
      }
      out->append(s.substr(i, cr - i));
      out->push_back('\n');
      i = cr + 1;
      if (i < s.size() && s[i] == '\n') ++i;
    }
  }

  // At '&': decodes one entity or character reference into *out.
  Status parse_reference(std::string* out) {
    const size_t start = p_;
    ++p_;
    if (!at_end() && d_[p_] == '#') {
      ++p_;
      uint32_t base = 10;
      if (!at_end() && d_[p_] == 'x') {
        base = 16;
        ++p_;
      }
      uint32_t value = 0;
      size_t digits = 0;
      while (!at_end()) {
        char c = d_[p_];
        uint32_t v;
        if (c >= '0' && c <= '9') {
          v = static_cast<uint32_t>(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
          v = static_cast<uint32_t>(c - 'a' + 10);
        } else if (base == 16 && c >= 'A' && c <= 'F') {
          v = static_cast<uint32_t>(c - 'A' + 10);
        } else {
          break;
        }
        value = value * base + v;  // value <= 0x10FFFF here, so no overflow
        if (value > 0x10FFFF) return corrupt("character reference beyond U+10FFFF", start);
        ++digits;
        ++p_;
      }
      if (digits == 0) return corrupt("malformed character reference", start);
      if (at_end() || d_[p_] != ';') return corrupt("unterminated character reference", start);
      ++p_;
      if (!is_referable(value)) {
        return corrupt("character reference to invalid character U+" + hex(value), start);
      }
      append_utf8(out, value);
      return Status::OK();
    }
    std::string_view name;
    if (!parse_name(&name).ok()) return corrupt("malformed entity reference", start);
    if (at_end() || d_[p_] != ';') return corrupt("unterminated entity reference", start);
    ++p_;
    if (name == "amp") {
      out->push_back('&');
    } else if (name == "lt") {
      out->push_back('<');
    } else if (name == "gt") {
      out->push_back('>');
    } else if (name == "quot") {
      out->push_back('"');
    } else if (name == "apos") {
      out->push_back('\'');
    } else {
      return corrupt("unknown entity &" + shown(name) + ";", start);
    }
    return Status::OK();
  }

  // At a quote: a quoted attribute value, decoded and normalized.
  Status parse_attr_value(std::string* out) {
    if (at_end() || (d_[p_] != '"' && d_[p_] != '\'')) {
      return corrupt("attribute value must be quoted", p_);
    }
    const size_t start = p_;
    const char quote = d_[p_++];
    while (true) {
      if (at_end()) return corrupt("unterminated attribute value", start);
      char c = d_[p_];
      if (c == quote) {
        ++p_;
        return Status::OK();
      }
      if (c == '<') return corrupt("'<' in attribute value", p_);
      if (c == '&') {
        ISLE_RETURN_IF_ERROR(parse_reference(out));
        continue;
      }
      ++p_;
      if (c == '\r') {
        if (!at_end() && d_[p_] == '\n') ++p_;
        out->push_back(' ');
      } else if (c == '\t' || c == '\n') {
        out->push_back(' ');
      } else {
        out->push_back(c);
      }
    }
  }

  // At "<!--".
  Status parse_comment() {
    const size_t start = p_;
    p_ += 4;
    size_t dash = d_.find("--", p_);
    if (dash == std::string_view::npos || dash + 2 >= d_.size()) {
      return corrupt("unterminated comment", start);
    }
    if (d_[dash + 2] != '>') return corrupt("'--' inside a comment", dash);
    p_ = dash + 3;
    return Status::OK();
  }

  // At "<?": a processing instruction other than the XML declaration.
  Status parse_pi() {
    const size_t start = p_;
    p_ += 2;
    std::string_view target;
    ISLE_RETURN_IF_ERROR(parse_name(&target));
    if (ascii_iequals(target, "xml")) {
      return corrupt("XML declaration not at the start of the document", start);
    }
    if (!starts("?>") && !skip_space()) {
      if (at_end()) return corrupt("unterminated processing instruction", start);
      return corrupt("malformed processing instruction", p_);
    }
    size_t end = d_.find("?>", p_);
    if (end == std::string_view::npos) return corrupt("unterminated processing instruction", start);
    p_ = end + 2;
    return Status::OK();
  }

  // At "<![CDATA[".
  Status parse_cdata(std::string* out) {
    const size_t start = p_;
    p_ += 9;
    size_t end = d_.find("]]>", p_);
    if (end == std::string_view::npos) return corrupt("unterminated CDATA section", start);
    append_normalized(out, d_.substr(p_, end - p_));
    p_ = end + 3;
    return Status::OK();
  }

  // At "<?xml" followed by whitespace or '?'.
  Status parse_declaration() {
    const size_t start = p_;
    p_ += 5;
    bool have_version = false;
    while (true) {
      bool spaced = skip_space();
      if (at_end()) return corrupt("unterminated XML declaration", start);
      if (starts("?>")) {
        p_ += 2;
        break;
      }
      if (!spaced) return corrupt("malformed XML declaration", p_);
      const size_t attr_at = p_;
      std::string_view name;
      ISLE_RETURN_IF_ERROR(parse_name(&name));
      skip_space();
      if (at_end() || d_[p_] != '=') return corrupt("expected '=' in XML declaration", p_);
      ++p_;
      skip_space();
      std::string value;
      ISLE_RETURN_IF_ERROR(parse_attr_value(&value));
      if (name == "version") {
        if (have_version || value.size() < 3 || value.compare(0, 2, "1.") != 0) {
          return corrupt("bad version in XML declaration", attr_at);
        }
        have_version = true;
      } else if (name == "encoding") {
        if (!ascii_iequals(value, "utf-8") && !ascii_iequals(value, "utf8") && !ascii_iequals(value, "us-ascii")) {
          return corrupt("unsupported encoding '" + shown(value) + "'", attr_at);
        }
      } else if (name != "standalone") {
        return corrupt("unknown field '" + shown(name) + "' in XML declaration", attr_at);
      }
    }
    if (!have_version) return corrupt("XML declaration without version", start);
    return Status::OK();
  }

  // Whitespace, comments and processing instructions outside the root.
  Status parse_misc() {
    while (true) {
      skip_space();
      if (starts("<!--")) {
        ISLE_RETURN_IF_ERROR(parse_comment());
      } else if (starts("<?")) {
        ISLE_RETURN_IF_ERROR(parse_pi());
      } else if (starts("<!DOCTYPE")) {
        return corrupt("DOCTYPE is not allowed", p_);
      } else {
        return Status::OK();
      }
    }
  }

  // At '<' + name: a start tag or empty-element tag.
  Status parse_start_tag(XmlElement* el, std::string_view* qname, bool* empty) {
    const size_t open = p_;
    if (++elements_ > kXmlMaxElements) {
      return corrupt("more than " + std::to_string(kXmlMaxElements) + " elements", open);
    }
    ++p_;
    ISLE_RETURN_IF_ERROR(parse_name(qname));
    std::string_view local = qname->substr(qname->rfind(':') + 1);
    if (local.empty()) {
      return corrupt("element name '" + shown(*qname) + "' has no local part", open);
    }
    el->name = std::string(local);
    while (true) {
      bool spaced = skip_space();
      if (at_end()) return corrupt("unterminated start tag <" + shown(*qname) + ">", open);
      if (d_[p_] == '>') {
        ++p_;
        *empty = false;
        break;
      }
      if (starts("/>")) {
        p_ += 2;
        *empty = true;
        break;
      }
      if (!spaced) return corrupt("expected whitespace, '>' or '/>' in a tag", p_);
      std::string_view name;
      ISLE_RETURN_IF_ERROR(parse_name(&name));
      skip_space();
      if (at_end() || d_[p_] != '=') return corrupt("expected '=' after attribute name", p_);
      ++p_;
      skip_space();
      std::string value;
      ISLE_RETURN_IF_ERROR(parse_attr_value(&value));
      el->attributes.emplace_back(std::string(name), std::move(value));
    }
    if (el->attributes.size() > 1) {
      std::vector<std::string_view> names;
      names.reserve(el->attributes.size());
      for (const auto& a : el->attributes) names.push_back(a.first);
      std::sort(names.begin(), names.end());
      auto dup = std::adjacent_find(names.begin(), names.end());
      if (dup != names.end()) return corrupt("duplicate attribute '" + shown(*dup) + "'", open);
    }
    return Status::OK();
  }

  // At the root's '<': the root element and everything inside it.
  Result<XmlElement> parse_tree() {
    struct Open {
      std::string_view qname;
      size_t at;
    };
    std::vector<XmlElement> stack;
    std::vector<Open> open;
    {
      XmlElement root;
      std::string_view qname;
      bool empty = false;
      const size_t at = p_;
      ISLE_RETURN_IF_ERROR(parse_start_tag(&root, &qname, &empty));
      if (empty) return root;
      stack.push_back(std::move(root));
      open.push_back({qname, at});
    }
    while (true) {
      if (at_end()) {
        return corrupt("unterminated element <" + shown(open.back().qname) + ">", open.back().at);
      }
      const char c = d_[p_];
      if (c == '&') {
        ISLE_RETURN_IF_ERROR(parse_reference(&stack.back().text));
        continue;
      }
      if (c != '<') {
        size_t end = d_.find_first_of("<&]", p_);
        if (end == std::string_view::npos) end = d_.size();
        if (end < d_.size() && d_[end] == ']') {
          if (starts_at(end, "]]>")) return corrupt("']]>' in text", end);
          ++end;  // a lone ']' is text
        }
        append_normalized(&stack.back().text, d_.substr(p_, end - p_));
        p_ = end;
        continue;
      }
      if (starts("</")) {
        const size_t at = p_;
        p_ += 2;
        std::string_view qname;
        ISLE_RETURN_IF_ERROR(parse_name(&qname));
        skip_space();
        if (at_end()) return corrupt("unterminated end tag </" + shown(qname) + ">", at);
        if (d_[p_] != '>') return corrupt("expected '>' in end tag", p_);
        ++p_;
        if (qname != open.back().qname) {
          return corrupt("end tag </" + shown(qname) + "> does not match <" +
                             shown(open.back().qname) + "> opened at byte " +
                             std::to_string(open.back().at),
                         at);
        }
        XmlElement done = std::move(stack.back());
        stack.pop_back();
        open.pop_back();
        if (stack.empty()) return done;
        stack.back().children.push_back(std::move(done));
      } else if (starts("<!--")) {
        ISLE_RETURN_IF_ERROR(parse_comment());
      } else if (starts("<![CDATA[")) {
        ISLE_RETURN_IF_ERROR(parse_cdata(&stack.back().text));
      } else if (starts("<?")) {
        ISLE_RETURN_IF_ERROR(parse_pi());
      } else if (starts("<!")) {
        return corrupt("unexpected markup '<!' inside an element", p_);
      } else {
        if (stack.size() >= kXmlMaxDepth) {
          return corrupt("elements nested deeper than " + std::to_string(kXmlMaxDepth), p_);
        }
        XmlElement child;
        std::string_view qname;
        bool empty = false;
        const size_t at = p_;
        ISLE_RETURN_IF_ERROR(parse_start_tag(&child, &qname, &empty));
        if (empty) {
          stack.back().children.push_back(std::move(child));
        } else {
          stack.push_back(std::move(child));
          open.push_back({qname, at});
        }
      }
    }
  }

  bool starts_at(size_t at, std::string_view s) const {
    return at <= d_.size() && d_.size() - at >= s.size() && d_.compare(at, s.size(), s) == 0;
  }

  std::string_view d_;
  size_t p_ = 0;
  size_t elements_ = 0;
};

}  // namespace

const XmlElement* XmlElement::child(std::string_view n) const {
  for (const auto& c : children) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

std::string XmlElement::child_text(std::string_view n) const {
  const XmlElement* c = child(n);
  return c == nullptr ? std::string() : c->text;
}

const std::string* XmlElement::attribute(std::string_view n) const {
  for (const auto& a : attributes) {
    if (a.first == n) return &a.second;
  }
  return nullptr;
}

Result<XmlElement> parse_xml(std::string_view doc) { return Parser(doc).run(); }

bool is_xml_chars(std::string_view s) { return check_chars(s, 0).ok(); }

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "&#" + std::to_string(static_cast<unsigned>(c)) + ";";
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

}  // namespace isle
