// Tests of the XML reader and escaper (cloud/xml.h): well-formed documents
// decode as the contract says, and every malformed input (including every
// truncation of a valid one, and hostile nesting) gives Corruption with a
// byte offset instead of crashing.
#include "cloud/xml.h"

#include <gtest/gtest.h>

#include <string>

namespace isle {
namespace {

XmlElement parse_ok(std::string_view doc) {
  auto r = parse_xml(doc);
  EXPECT_TRUE(r.ok()) << r.status().to_string() << "\n" << doc;
  return r.ok() ? *r : XmlElement{};
}

// Expects Corruption whose message contains `what` and a byte offset.
void expect_corrupt(std::string_view doc, std::string_view what) {
  auto r = parse_xml(doc);
  ASSERT_FALSE(r.ok()) << "parsed: " << doc;
  EXPECT_TRUE(r.status().is_corruption()) << r.status().to_string();
  EXPECT_NE(r.status().message().find(what), std::string::npos)
      << r.status().message() << " (wanted '" << what << "')";
}

TEST(XmlTest, ElementsTextAndChildren) {
  XmlElement r = parse_ok(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!-- leading comment -->\n"
      "<Root><A>one</A><B/><A>two</A>tail<C><D>deep</D></C></Root>\n"
      "<!-- trailing -->\n");
  EXPECT_EQ(r.name, "Root");
  ASSERT_EQ(r.children.size(), 4u);
  EXPECT_EQ(r.child_text("A"), "one");  // the first one
  EXPECT_EQ(r.children[2].text, "two");
  EXPECT_EQ(r.child("B")->text, "");
  EXPECT_TRUE(r.child("B")->children.empty());
  EXPECT_EQ(r.child("Missing"), nullptr);
  EXPECT_EQ(r.child_text("Missing"), "");
  EXPECT_EQ(r.text, "tail");
  EXPECT_EQ(r.child("C")->child_text("D"), "deep");
}

TEST(XmlTest, WhitespaceBetweenChildrenIsKeptAsText) {
  XmlElement r = parse_ok("<a>\n  <b> x </b>\n</a>");
  EXPECT_EQ(r.text, "\n  \n");
  EXPECT_EQ(r.child_text("b"), " x ");
}

TEST(XmlTest, NamespacePrefixIsDropped) {
  XmlElement r = parse_ok(
      "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<s3:Name>b</s3:Name></s3:ListBucketResult>");
  EXPECT_EQ(r.name, "ListBucketResult");
  EXPECT_EQ(r.child_text("Name"), "b");
  ASSERT_NE(r.attribute("xmlns:s3"), nullptr);
  EXPECT_EQ(*r.attribute("xmlns:s3"), "http://s3.amazonaws.com/doc/2006-03-01/");
  // End tags must match the qualified name, not just the local one.
  expect_corrupt("<a:x></b:x>", "does not match");
}

TEST(XmlTest, Attributes) {
  XmlElement r = parse_ok(
      "<a one=\"1\" two='2' three = \"it's\" four='say \"hi\"' "
      "five=\"&lt;&amp;&gt;\" six='a\tb\nc\r\nd'/>");
  ASSERT_EQ(r.attributes.size(), 6u);
  EXPECT_EQ(*r.attribute("one"), "1");
  EXPECT_EQ(*r.attribute("two"), "2");
  EXPECT_EQ(*r.attribute("three"), "it's");
  EXPECT_EQ(*r.attribute("four"), "say \"hi\"");
  EXPECT_EQ(*r.attribute("five"), "<&>");
  EXPECT_EQ(*r.attribute("six"), "a b c d");  // attribute-value normalization
  EXPECT_EQ(r.attribute("seven"), nullptr);

  expect_corrupt("<a x=1/>", "quoted");
  expect_corrupt("<a x=\"1' />", "unterminated attribute value");
  expect_corrupt("<a x=\"1\"y=\"2\"/>", "expected whitespace");
  expect_corrupt("<a x=\"1\" x='2'/>", "duplicate attribute 'x'");
  expect_corrupt("<a x=\"<\"/>", "'<' in attribute value");
  expect_corrupt("<a x/>", "expected '='");
  expect_corrupt("<a x=\"&bogus;\"/>", "unknown entity &bogus;");
}

TEST(XmlTest, Entities) {
  XmlElement r = parse_ok(
      "<a>&amp;&lt;&gt;&quot;&apos; &#65;&#x42;&#x63; &#233;&#x20AC;&#x1F600;"
      "&#x0000041;</a>");
  EXPECT_EQ(r.text,
            "&<>\"' ABc \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
            "A");
  // Control characters by reference (XML 1.1 style) are accepted.
  EXPECT_EQ(parse_ok("<a>&#1;&#x1F;&#9;&#13;</a>").text, "\x01\x1F\t\r");

  expect_corrupt("<a>&#0;</a>", "U+0000");
  expect_corrupt("<a>&#x0;</a>", "U+0000");
  expect_corrupt("<a>&#xD800;</a>", "U+D800");
  expect_corrupt("<a>&#xFFFE;</a>", "U+FFFE");
  expect_corrupt("<a>&#x110000;</a>", "beyond U+10FFFF");
  expect_corrupt("<a>&#99999999999999999999999999;</a>", "beyond U+10FFFF");
  expect_corrupt("<a>&#xFFFFFFFFFFFFFFFFFFFFFFFF41;</a>", "beyond U+10FFFF");
  expect_corrupt("<a>&#;</a>", "malformed character reference");
  expect_corrupt("<a>&#x;</a>", "malformed character reference");
  expect_corrupt("<a>&#12a;</a>", "unterminated character reference");
  expect_corrupt("<a>&nbsp;</a>", "unknown entity &nbsp;");
  expect_corrupt("<a>&copy;</a>", "unknown entity");
  expect_corrupt("<a>&amp</a>", "unterminated entity reference");
  expect_corrupt("<a>& b</a>", "malformed entity reference");
  expect_corrupt("<a>&#X41;</a>", "malformed character reference");  // 'x' must be lower case
}

TEST(XmlTest, CdataAndLineEnds) {
  XmlElement r = parse_ok("<a>x<![CDATA[<b>&amp;]]]]>y</a>");
  EXPECT_EQ(r.text, "x<b>&amp;]]y");
  EXPECT_TRUE(r.children.empty());
  EXPECT_EQ(parse_ok("<a>1\r\n2\r3\n4<![CDATA[\r\n]]></a>").text, "1\n2\n3\n4\n");
  EXPECT_EQ(parse_ok("<a>] ]> ]]</a>").text, "] ]> ]]");
  expect_corrupt("<a>x]]>y</a>", "']]>' in text");
  expect_corrupt("<a><![CDATA[abc</a>", "unterminated CDATA");
  expect_corrupt("<![CDATA[x]]><a/>", "unexpected markup");
}

TEST(XmlTest, BomDeclarationCommentsAndPis) {
  XmlElement r = parse_ok(
      "\xEF\xBB\xBF<?xml version='1.0' encoding='utf-8' standalone='yes'?>"
      "<?xml-stylesheet href=\"x\"?><a><?pi data?><!-- c - d -->t</a><?end?>");
  EXPECT_EQ(r.name, "a");
  EXPECT_EQ(r.text, "t");
  parse_ok("<?xml version=\"1.0\"?><a/>");
  parse_ok("<a><!----></a>");

  expect_corrupt("\xFF\xFE<\0a\0/\0>\0", "UTF-16");
  expect_corrupt(" <?xml version=\"1.0\"?><a/>", "XML declaration not at the start");
  expect_corrupt("<a/><?xml version=\"1.0\"?>", "XML declaration not at the start");
  expect_corrupt("<?xml encoding=\"UTF-8\"?><a/>", "without version");
  expect_corrupt("<?xml version=\"2.0\"?><a/>", "bad version");
  expect_corrupt("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>", "unsupported encoding");
  expect_corrupt("<?xml version=\"1.0\" bogus=\"1\"?><a/>", "unknown field");
  expect_corrupt("<?xml version=\"1.0\"", "unterminated XML declaration");
  expect_corrupt("<a><!-- x -- y --></a>", "'--' inside a comment");
  expect_corrupt("<a><!-- x </a>", "unterminated comment");
  expect_corrupt("<a><?pi x </a>", "unterminated processing instruction");
  expect_corrupt("<a><?pi", "unterminated processing instruction");
}

TEST(XmlTest, DoctypeIsRejected) {
  expect_corrupt("<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
                 "DOCTYPE is not allowed");
  expect_corrupt("<a><!DOCTYPE a></a>", "unexpected markup");
  expect_corrupt("<a><!ENTITY x \"y\"></a>", "unexpected markup");
}

TEST(XmlTest, StructuralErrorsCarryOffsets) {
  auto r = parse_xml("<a><b></c></a>");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_corruption());
  EXPECT_NE(r.status().message().find("end tag </c> does not match <b> opened at byte 3 at byte 6"),
            std::string::npos)
      << r.status().message();

  expect_corrupt("", "no root element");
  expect_corrupt("   \n", "no root element");
  expect_corrupt("<!-- only a comment -->", "no root element");
  expect_corrupt("hello", "text outside the root element");
  expect_corrupt("<a/>junk", "content after the root element at byte 4");
  expect_corrupt("<a/><b/>", "content after the root element");
  expect_corrupt("<a>", "unterminated element <a> at byte 0");
  expect_corrupt("<a><b>", "unterminated element <b> at byte 3");
  expect_corrupt("<a", "unterminated start tag <a>");
  expect_corrupt("<a></a", "unterminated end tag </a>");
  expect_corrupt("<a></a x>", "expected '>' in end tag");
  expect_corrupt("<1a/>", "expected a name");
  expect_corrupt("<a:/>", "has no local part");
  expect_corrupt("<a></>", "expected a name");
  expect_corrupt("< a/>", "expected a name");
}

TEST(XmlTest, InvalidCharactersInTheInput) {
  expect_corrupt(std::string("<a>\0</a>", 8), "control character U+0000 at byte 3");
  expect_corrupt("<a>\x01</a>", "control character U+0001");
  expect_corrupt("<a>\x1B[31m</a>", "control character U+001B");
  expect_corrupt("<a>\xC3</a>", "invalid UTF-8");
  expect_corrupt("<a>\xC0\xAF</a>", "invalid UTF-8");          // overlong '/'
  expect_corrupt("<a>\xED\xA0\x80</a>", "invalid UTF-8");      // surrogate
  expect_corrupt("<a>\xF4\x90\x80\x80</a>", "invalid UTF-8");  // > U+10FFFF
  expect_corrupt("<a>\xEF\xBF\xBF</a>", "non-character U+FFFF");
  expect_corrupt("<a>\xF0\x9F\x98", "truncated UTF-8 sequence");
  // UTF-8 is fine everywhere, names included.
  XmlElement r =
      parse_ok("<\xC3\xA9t\xC3\xA9 \xC3\xA0=\"\xE2\x82\xAC\">\xF0\x9F\x98\x80</\xC3\xA9t\xC3\xA9>");
  EXPECT_EQ(r.name, "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(*r.attribute("\xC3\xA0"), "\xE2\x82\xAC");
  EXPECT_EQ(r.text, "\xF0\x9F\x98\x80");
  EXPECT_EQ(parse_ok("<a>\x7F\t</a>").text, "\x7F\t");
}

TEST(XmlTest, EveryTruncationIsCorruptionOrAParse) {
  const std::string doc =
      "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!-- c --><?pi x?>\n"
      "<r:Root xmlns:r=\"urn:x\" a='1' b=\"&quot;2&quot;\">\n"
      "  <Item k=\"v\">caf\xC3\xA9 &amp; &#x1F600; &#65;<![CDATA[<raw>]]></Item>\n"
      "  <Empty/>\n"
      "  <Deep><Deeper><Deepest>x</Deepest></Deeper></Deep>\n"
      "</r:Root>\n<!-- end -->\n";
  ASSERT_TRUE(parse_xml(doc).ok());
  for (size_t n = 0; n < doc.size(); ++n) {
    auto r = parse_xml(std::string_view(doc).substr(0, n));
    if (!r.ok()) {
      EXPECT_TRUE(r.status().is_corruption()) << n << ": " << r.status().to_string();
      EXPECT_NE(r.status().message().find("at byte "), std::string::npos) << r.status().message();
    }
    // Also every suffix (bytes lost at the front) and every single-byte corruption.
    auto s = parse_xml(std::string_view(doc).substr(n));
    if (!s.ok()) {
      EXPECT_TRUE(s.status().is_corruption()) << s.status().to_string();
    }
    for (char c : {'<', '>', '&', '"', '/', '\0', '\xFF'}) {
      std::string m = doc;
      m[n] = c;
      auto t = parse_xml(m);
      if (!t.ok()) {
        EXPECT_TRUE(t.status().is_corruption()) << t.status().to_string();
      }
    }
  }
  // Truncating just before the end of the root leaves an unterminated element.
  auto cut = parse_xml(std::string_view(doc).substr(0, doc.find("</r:Root>")));
  EXPECT_FALSE(cut.ok());
}

TEST(XmlTest, DeepNestingIsBoundedWithoutRecursion) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "<a>";
  for (int i = 0; i < 10000; ++i) deep += "</a>";
  expect_corrupt(deep, "nested deeper than 64");
  std::string deep_empty;
  for (int i = 0; i < 10000; ++i) deep_empty += "<a>";
  deep_empty += "<b/>";
  expect_corrupt(deep_empty, "nested deeper than 64");

  // Exactly the limit parses; one more does not.
  auto nest = [](size_t depth) {
    std::string s;
    for (size_t i = 0; i < depth; ++i) s += "<e>";
    for (size_t i = 0; i < depth; ++i) s += "</e>";
    return s;
  };
  auto ok = parse_xml(nest(kXmlMaxDepth));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  const XmlElement* e = &*ok;
  size_t depth = 1;
  while (!e->children.empty()) {
    e = &e->children[0];
    ++depth;
  }
  EXPECT_EQ(depth, kXmlMaxDepth);
  expect_corrupt(nest(kXmlMaxDepth + 1), "nested deeper than 64");
  // An empty element at the limit counts as a level too.
  std::string at_limit;
  for (size_t i = 0; i < kXmlMaxDepth; ++i) at_limit += "<e>";
  at_limit += "<x/>";
  expect_corrupt(at_limit, "nested deeper");
}

TEST(XmlTest, SizeLimits) {
  std::string big(kXmlMaxInput + 1, ' ');
  big.replace(0, 4, "<a/>");
  auto r = parse_xml(big);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_corruption());
  EXPECT_NE(r.status().message().find("exceeds the limit"), std::string::npos);

  std::string many = "<r>";
  for (size_t i = 0; i < kXmlMaxElements; ++i) many += "<e/>";
  many += "</r>";
  expect_corrupt(many, "more than 1048576 elements");
}

TEST(XmlTest, EscapeRoundTrips) {
  EXPECT_EQ(xml_escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(xml_escape(std::string("\x01\t\n\r\x1F\x7F \xC3\xA9", 9)),
            "&#1;\t\n\r&#31;\x7F \xC3\xA9");
  EXPECT_EQ(xml_escape(std::string("\0", 1)), "&#0;");
  EXPECT_EQ(xml_escape(""), "");

  const std::string nasty = "key with <tags> & \"quotes\" 'apos' \x01\x02 \xE2\x82\xAC ]]> \t\n";
  XmlElement r = parse_ok("<k v=\"" + xml_escape("a\"b'c&<>") + "\">" + xml_escape(nasty) + "</k>");
  EXPECT_EQ(r.text, nasty);
  EXPECT_EQ(*r.attribute("v"), "a\"b'c&<>");
}

TEST(XmlTest, IsXmlChars) {
  EXPECT_TRUE(is_xml_chars("plain/key \t\r\n \xC3\xA9\xF0\x9F\x98\x80"));
  EXPECT_TRUE(is_xml_chars(""));
  EXPECT_FALSE(is_xml_chars("a\x01"));
  EXPECT_FALSE(is_xml_chars(std::string("a\0", 2)));
  EXPECT_FALSE(is_xml_chars("\xC3"));
  EXPECT_FALSE(is_xml_chars("\xEF\xBF\xBE"));
}

}  // namespace
}  // namespace isle
