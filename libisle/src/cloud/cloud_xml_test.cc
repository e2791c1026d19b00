// Tests of the cloud service body decoders/encoders (cloud/cloud_xml.h) on
// response bodies shaped like those of S3, Azure Blob Storage and GCS, and
// on malformed ones: every decoder must give a clear Status, never crash.
#include "cloud/cloud_xml.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cloud/xml.h"

namespace isle {
namespace {

constexpr std::string_view kS3ListPage1 = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>isle-test-bucket</Name>
  <Prefix>db1/sst/</Prefix>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <StartAfter>db1/sst/000009.sst</StartAfter>
  <Contents>
    <Key>db1/sst/000010.sst</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>db1/sst/000011.sst</Key>
    <LastModified>2024-02-29T23:59:59.999Z</LastModified>
    <ETag>"3b8f1e0b6a5c0f1f9e8e0b35c0a1e2d4-3"</ETag>
    <Size>0</Size>
    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
</ListBucketResult>
)";

constexpr std::string_view kS3ListPage2 = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>isle-test-bucket</Name>
  <Prefix>db1/sst/</Prefix>
  <KeyCount>1</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>false</IsTruncated>
  <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>
  <Contents>
    <Key>db1/sst/000012.sst</Key>
    <LastModified>2100-03-01T00:00:00Z</LastModified>
    <ETag>"e1"</ETag>
    <Size>18446744073709551615</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
</ListBucketResult>
)";

// Keys: "odd/a b.sst", "odd/1+1=2", "odd/100%", "odd/café", "odd/\x01ctl\x7F",
// "odd/a&b<c>" with encoding-type=url (S3 writes ' ' as '+' and '+' as %2B).
constexpr std::string_view kS3ListUrlEncoded = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>isle-test-bucket</Name>
  <Prefix>odd%2F</Prefix>
  <KeyCount>6</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>%2F</Delimiter>
  <EncodingType>url</EncodingType>
  <IsTruncated>false</IsTruncated>
  <StartAfter>odd%2F%00</StartAfter>
  <Contents><Key>odd/a+b.sst</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"a"</ETag><Size>1</Size></Contents>
  <Contents><Key>odd/1%2B1%3D2</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"b"</ETag><Size>2</Size></Contents>
  <Contents><Key>odd/100%25</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"c"</ETag><Size>3</Size></Contents>
  <Contents><Key>odd/caf%C3%A9</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"d"</ETag><Size>4</Size></Contents>
  <Contents><Key>odd/%01ctl%7F</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"e"</ETag><Size>5</Size></Contents>
  <Contents><Key>odd/a%26b%3Cc%3E</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>"f"</ETag><Size>6</Size></Contents>
  <CommonPrefixes><Prefix>odd%2Fsub%2F</Prefix></CommonPrefixes>
</ListBucketResult>
)";

constexpr std::string_view kS3ListEmpty = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>isle-test-bucket</Name>
  <Prefix>nothing/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>false</IsTruncated></ListBucketResult>)";

constexpr std::string_view kS3DeleteResult = R"(<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted><Key>db1/a</Key></Deleted>
  <Error><Key>db1/b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
  <Error><Key>db1/c</Key><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>
    </Error>
  <Error><Key>db1/d</Key><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>
    </Error>
  <Error><Key>db1/e</Key><Code>InternalError</Code>
    <Message>We encountered an internal error. Please try again.</Message></Error>
  <Error><Key>db1/f</Key><Code>ServiceUnavailable</Code>
    <Message>Please reduce your request rate.</Message></Error>
  <Error><Key>db1/g&amp;h&#x1;</Key><VersionId>null</VersionId><Code>InvalidObjectState</Code>
    <Message>The operation is not valid for the object&apos;s storage class</Message></Error>
  <Deleted><Key>db1/i</Key><DeleteMarker>true</DeleteMarker>
    <DeleteMarkerVersionId>NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s</DeleteMarkerVersionId></Deleted>
</DeleteResult>
)";

constexpr std::string_view kS3ErrorPrecondition = R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>PreconditionFailed</Code>
  <Message>At least one of the pre-conditions you specified did not hold</Message>
  <Condition>If-Match</Condition><RequestId>4442587FB7D0A2F9</RequestId>
  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId></Error>)";

constexpr std::string_view kAzureErrorWithBom =
    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobAlreadyExists</Code>"
    "<Message>The specified blob already exists.\n"
    "RequestId:7e3f2a10-601e-0042-1b2c-3d4e5f000000\n"
    "Time:2024-02-29T10:00:00.1234567Z</Message></Error>";

constexpr std::string_view kAzureList =
    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    R"(<EnumerationResults ServiceEndpoint="https://isleacct.blob.core.windows.net/"
    ContainerName="isle">
  <Prefix>db1/</Prefix>
  <Marker>2!48!MDAwMDE0IWRiMS8wMDAwMDAuc3N0ITAwMDAyOCE5OTk5LQ--</Marker>
  <MaxResults>5</MaxResults>
  <Delimiter>/</Delimiter>
  <Blobs>
    <Blob>
      <Name>db1/000001.sst</Name>
      <Properties>
        <Creation-Time>Thu, 29 Feb 2024 10:00:00 GMT</Creation-Time>
        <Last-Modified>Thu, 29 Feb 2024 10:00:01 GMT</Last-Modified>
        <Etag>0x8DC3A1B2C3D4E5F</Etag>
        <Content-Length>1024</Content-Length>
        <Content-Type>application/octet-stream</Content-Type>
        <Content-MD5 />
        <BlobType>BlockBlob</BlobType>
        <AccessTier>Hot</AccessTier>
        <AccessTierInferred>true</AccessTierInferred>
        <LeaseStatus>unlocked</LeaseStatus>
        <LeaseState>available</LeaseState>
        <ServerEncrypted>true</ServerEncrypted>
      </Properties>
      <OrMetadata />
    </Blob>
    <BlobPrefix><Name>db1/sub/</Name></BlobPrefix>
    <Blob>
      <Name Encoded="true">db1/%01ctl%20a+b%25%C3%A9</Name>
      <Properties>
        <Last-Modified>Sun, 31 Dec 2023 23:00:00 GMT</Last-Modified>
        <Etag>"0x8DC3A1B2C3D4E60"</Etag>
        <Content-Length>0</Content-Length>
      </Properties>
    </Blob>
    <Blob>
      <Name Encoded='false'>db1/plain &amp; simple</Name>
      <Properties><Content-Length>7</Content-Length><Etag>0x1</Etag></Properties>
    </Blob>
    <Blob>
      <Name>db1/000001.sst</Name>
      <Snapshot>2024-02-29T10:05:00.0000000Z</Snapshot>
      <Properties><Content-Length>1</Content-Length></Properties>
    </Blob>
    <Blob>
      <Name>db1/gone</Name>
      <Deleted>true</Deleted>
      <Properties><Content-Length>1</Content-Length></Properties>
    </Blob>
  </Blobs>
  <NextMarker>2!48!MDAwMDE0IWRiMS8wMDAwMDIuc3N0ITAwMDAyOCE5OTk5LQ--</NextMarker>
</EnumerationResults>)";

constexpr std::string_view kAzureListEmpty =
    R"(<?xml version="1.0" encoding="utf-8"?><EnumerationResults
  ServiceEndpoint="https://isleacct.blob.core.windows.net/" ContainerName="isle">
  <Prefix>nothing/</Prefix><MaxResults>5000</MaxResults><Blobs /><NextMarker />
</EnumerationResults>)";

std::string replace(std::string_view doc, std::string_view from, std::string_view to) {
  std::string s(doc);
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

template <typename T>
void expect_corrupt(const Result<T>& r, std::string_view what) {
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_corruption()) << r.status().to_string();
  EXPECT_NE(r.status().message().find(what), std::string::npos)
      << r.status().message() << " (wanted '" << what << "')";
}

// ---- S3 ListObjectsV2 -------------------------------------------------------

TEST(CloudXmlTest, S3ListPages) {
  auto p1 = parse_s3_list_v2(kS3ListPage1);
  ASSERT_TRUE(p1.ok()) << p1.status().to_string();
  EXPECT_TRUE(p1->truncated);
  EXPECT_EQ(p1->next_continuation_token,
            "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  ASSERT_EQ(p1->objects.size(), 2u);
  EXPECT_EQ(p1->objects[0].key, "db1/sst/000010.sst");
  EXPECT_EQ(p1->objects[0].size, 434234u);
  EXPECT_EQ(p1->objects[0].etag, "fba9dede5f27731c9771645a39863328");
  EXPECT_EQ(p1->objects[0].modified_ms, 1255369830000);
  EXPECT_EQ(p1->objects[1].key, "db1/sst/000011.sst");
  EXPECT_EQ(p1->objects[1].size, 0u);
  EXPECT_EQ(p1->objects[1].etag, "3b8f1e0b6a5c0f1f9e8e0b35c0a1e2d4-3");
  EXPECT_EQ(p1->objects[1].modified_ms, 1709251199999);

  auto p2 = parse_s3_list_v2(kS3ListPage2);
  ASSERT_TRUE(p2.ok()) << p2.status().to_string();
  EXPECT_FALSE(p2->truncated);
  EXPECT_EQ(p2->next_continuation_token, "");
  ASSERT_EQ(p2->objects.size(), 1u);
  EXPECT_EQ(p2->objects[0].size, UINT64_MAX);
  EXPECT_EQ(p2->objects[0].modified_ms, 4107542400000);
}

TEST(CloudXmlTest, S3ListUrlEncodedKeys) {
  auto p = parse_s3_list_v2(kS3ListUrlEncoded);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  std::vector<std::string> keys;
  for (const auto& o : p->objects) keys.push_back(o.key);
  const std::vector<std::string> want = {"odd/a b.sst",
                                         "odd/1+1=2",
                                         "odd/100%",
                                         "odd/caf\xC3\xA9",
                                         "odd/\x01"
                                         "ctl\x7F",
                                         "odd/a&b<c>"};
  EXPECT_EQ(keys, want);
  EXPECT_EQ(p->objects[5].size, 6u);
  EXPECT_EQ(p->objects[5].etag, "f");

  // Without EncodingType the same text is taken literally.
  auto literal =
      parse_s3_list_v2(replace(kS3ListUrlEncoded, "<EncodingType>url</EncodingType>", ""));
  ASSERT_TRUE(literal.ok());
  EXPECT_EQ(literal->objects[0].key, "odd/a+b.sst");
  EXPECT_EQ(literal->objects[2].key, "odd/100%25");

  expect_corrupt(parse_s3_list_v2(replace(kS3ListUrlEncoded, "odd/100%25", "odd/100%")),
                 "malformed url-encoded Key 'odd/100%'");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListUrlEncoded, "odd/100%25", "odd/%G0")),
                 "Contents #3 has a malformed url-encoded Key");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListUrlEncoded, "odd/100%25", "odd/%4")),
                 "malformed url-encoded Key");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListUrlEncoded, ">url<", ">base64<")),
                 "unsupported EncodingType 'base64'");
}

TEST(CloudXmlTest, S3ListControlCharacterByReference) {
  // Without encoding-type S3 writes such a key with a character reference,
  // which XML 1.0 forbids; the reader accepts it.
  auto p = parse_s3_list_v2(replace(kS3ListPage2, "000012.sst", "&#x1;ctl&#13;"));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->objects[0].key,
            "db1/sst/\x01"
            "ctl\r");
}

TEST(CloudXmlTest, S3ListEmpty) {
  auto p = parse_s3_list_v2(kS3ListEmpty);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_TRUE(p->objects.empty());
  EXPECT_FALSE(p->truncated);
  EXPECT_EQ(p->next_continuation_token, "");
  // The smallest body: no IsTruncated at all.
  auto tiny = parse_s3_list_v2("<ListBucketResult/>");
  ASSERT_TRUE(tiny.ok());
  EXPECT_TRUE(tiny->objects.empty());
}

TEST(CloudXmlTest, S3ListMalformed) {
  expect_corrupt(parse_s3_list_v2(""), "S3 ListObjectsV2 response: xml: no root element");
  expect_corrupt(parse_s3_list_v2(kS3ListPage1.substr(0, 300)), "unterminated element");
  expect_corrupt(parse_s3_list_v2(kS3ErrorPrecondition),
                 "root element is <Error>, expected <ListBucketResult>");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListPage1, "<IsTruncated>true", "<IsTruncated>yes")),
                 "IsTruncated is 'yes'");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListPage1, "<Size>434234", "<Size>-1")),
                 "Contents #1 has a malformed Size '-1'");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListPage1, "<Size>434234", "<Size>12a")),
                 "malformed Size");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListPage1, "<Size>434234", "<Size>")),
                 "malformed Size");
  expect_corrupt(
      parse_s3_list_v2(replace(kS3ListPage2, "18446744073709551615", "18446744073709551616")),
      "malformed Size");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListPage1, "<Size>434234</Size>", "")),
                 "Contents #1 has no Size");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListPage1, "<Key>db1/sst/000011.sst</Key>", "")),
                 "Contents #2 has no Key");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListPage1, "db1/sst/000011.sst", "")),
                 "Contents #2 has an empty Key");
  expect_corrupt(parse_s3_list_v2(
                     replace(kS3ListPage1, "2009-10-12T17:50:30.000Z", "2009-13-12T17:50:30.000Z")),
                 "malformed LastModified '2009-13-12T17:50:30.000Z'");
  expect_corrupt(parse_s3_list_v2(replace(kS3ListPage1, "&quot;fba9", "&quote;fba9")),
                 "unknown entity &quote;");
  // ETag and LastModified may be missing (some S3-compatible stores).
  auto bare = parse_s3_list_v2(
      "<ListBucketResult><Contents><Key>k</Key><Size> 5 </Size></Contents></ListBucketResult>");
  ASSERT_TRUE(bare.ok()) << bare.status().to_string();
  EXPECT_EQ(bare->objects[0].size, 5u);
  EXPECT_EQ(bare->objects[0].etag, "");
  EXPECT_EQ(bare->objects[0].modified_ms, 0);
}

// ---- S3 DeleteObjects -------------------------------------------------------

TEST(CloudXmlTest, S3DeleteBody) {
  auto body = build_s3_delete_body({"db1/a", "db1/b&c"});
  ASSERT_TRUE(body.ok()) << body.status().to_string();
  EXPECT_EQ(*body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            "<Object><Key>db1/a</Key></Object><Object><Key>db1/b&amp;c</Key></Object></Delete>");

  // Odd but legal keys survive an XML reader unchanged, \r included.
  const std::vector<std::string> keys = {
      "x<y>",    "q\"u'o",      "tab\tkey", "cr\rkey",
      "lf\nkey", "crlf\r\nkey", " spaced ", "caf\xC3\xA9 \xF0\x9F\x98\x80",
      "]]>",     "%41+"};
  auto odd = build_s3_delete_body(keys);
  ASSERT_TRUE(odd.ok()) << odd.status().to_string();
  auto doc = parse_xml(*odd);
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  EXPECT_EQ(doc->name, "Delete");
  EXPECT_EQ(doc->child_text("Quiet"), "true");
  std::vector<std::string> back;
  for (const auto& o : doc->children) {
    if (o.name == "Object") back.push_back(o.child_text("Key"));
  }
  EXPECT_EQ(back, keys);
}

TEST(CloudXmlTest, S3DeleteBodyRejectsWhatXmlCannotCarry) {
  auto invalid = [](const std::vector<std::string>& keys) {
    auto r = build_s3_delete_body(keys);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.status().is_invalid_argument()) << r.status().to_string();
  };
  invalid({});
  invalid({"ok", ""});
  invalid({"ok", "ctl\x01"});
  invalid({std::string("nul\0", 4)});
  invalid({"esc\x1B[0m"});
  invalid({"bad utf8 \xC3"});
  invalid({"nonchar \xEF\xBF\xBF"});
  invalid({"surrogate \xED\xA0\x80"});
  invalid(std::vector<std::string>(1001, "k"));
  EXPECT_TRUE(build_s3_delete_body(std::vector<std::string>(1000, "k")).ok());
}

TEST(CloudXmlTest, S3DeleteResultMixed) {
  auto r = parse_s3_delete_result(kS3DeleteResult);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 5u);  // a and i deleted, c already absent
  const auto& o = *r;
  EXPECT_EQ(o[0].key, "db1/b");
  EXPECT_EQ(o[0].status.code(), Code::kPermanent);
  EXPECT_NE(o[0].status.message().find("AccessDenied"), std::string::npos);
  EXPECT_NE(o[0].status.message().find("db1/b"), std::string::npos);
  EXPECT_EQ(o[1].key, "db1/d");
  EXPECT_EQ(o[1].status.code(), Code::kThrottled);
  EXPECT_EQ(o[2].key, "db1/e");
  EXPECT_EQ(o[2].status.code(), Code::kTransient);
  EXPECT_EQ(o[3].key, "db1/f");
  EXPECT_EQ(o[3].status.code(), Code::kTransient);
  EXPECT_TRUE(o[3].status.is_retryable());
  EXPECT_EQ(o[4].key, "db1/g&h\x01");
  EXPECT_EQ(o[4].status.code(), Code::kPermanent);
  EXPECT_NE(o[4].status.message().find("InvalidObjectState: The operation is not valid for the "
                                       "object's storage class"),
            std::string::npos)
      << o[4].status.message();
}

TEST(CloudXmlTest, S3DeleteResultEdgeCases) {
  // Quiet mode and everything deleted: an empty result.
  auto quiet = parse_s3_delete_result(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></DeleteResult>");
  ASSERT_TRUE(quiet.ok()) << quiet.status().to_string();
  EXPECT_TRUE(quiet->empty());
  auto self_closed = parse_s3_delete_result("<DeleteResult/>");
  ASSERT_TRUE(self_closed.ok());
  EXPECT_TRUE(self_closed->empty());

  // The whole request failed (an <Error> document, possibly with 200 OK).
  auto slow = parse_s3_delete_result(
      "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), Code::kThrottled);
  auto malformed = parse_s3_delete_result(
      "<Error><Code>MalformedXML</Code><Message>The XML you provided was not well-formed"
      "</Message></Error>");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().code(), Code::kPermanent);
  EXPECT_NE(malformed.status().message().find("MalformedXML"), std::string::npos);
  auto internal = parse_s3_delete_result("<Error><Code>InternalError</Code></Error>");
  EXPECT_EQ(internal.status().code(), Code::kTransient);
  auto weird = parse_s3_delete_result("<Error><Code>NoSuchKey</Code></Error>");
  EXPECT_EQ(weird.status().code(), Code::kPermanent);

  // An entry without a code is still a failure.
  auto no_code = parse_s3_delete_result("<DeleteResult><Error><Key>k</Key></Error></DeleteResult>");
  ASSERT_TRUE(no_code.ok());
  ASSERT_EQ(no_code->size(), 1u);
  EXPECT_EQ((*no_code)[0].status.code(), Code::kPermanent);
  EXPECT_NE((*no_code)[0].status.message().find("no error code"), std::string::npos);

  expect_corrupt(parse_s3_delete_result(
                     "<DeleteResult><Error><Code>AccessDenied</Code></Error></DeleteResult>"),
                 "Error #1 has no Key");
  expect_corrupt(parse_s3_delete_result("<ListBucketResult/>"),
                 "root element is <ListBucketResult>, expected <DeleteResult>");
  expect_corrupt(parse_s3_delete_result(""), "S3 DeleteObjects response: xml: no root element");
}

// ---- error bodies -----------------------------------------------------------

TEST(CloudXmlTest, ErrorBodies) {
  CloudError s3 = parse_cloud_error(kS3ErrorPrecondition);
  EXPECT_EQ(s3.code, "PreconditionFailed");
  EXPECT_EQ(s3.message, "At least one of the pre-conditions you specified did not hold");

  CloudError az = parse_cloud_error(kAzureErrorWithBom);
  EXPECT_EQ(az.code, "BlobAlreadyExists");
  EXPECT_EQ(az.message.substr(0, 34), "The specified blob already exists.");
  EXPECT_NE(az.message.find("\nRequestId:"), std::string::npos);

  CloudError gcs = parse_cloud_error(
      "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code><Message>The specified "
      "key does not exist.</Message><Details>No such object: isle-test-bucket/db1/x</Details>"
      "</Error>");
  EXPECT_EQ(gcs.code, "NoSuchKey");
  EXPECT_EQ(gcs.message, "The specified key does not exist.");

  CloudError no_message = parse_cloud_error("<Error><Code> AccessDenied\n</Code></Error>");
  EXPECT_EQ(no_message.code, "AccessDenied");
  EXPECT_EQ(no_message.message, "");

  for (std::string_view junk :
       {std::string_view(""), std::string_view("Service Unavailable"),
        std::string_view("<html><body>502 Bad Gateway</body></html>"),
        std::string_view("<Error><Code>Truncat"),
        std::string_view("<Error><Code>X</Code></Error>x"), std::string_view("\xEF\xBB\xBF"),
        std::string_view("<Error><Code>&bad;</Code></Error>")}) {
    CloudError e = parse_cloud_error(junk);
    EXPECT_EQ(e.code, "") << junk;
    EXPECT_EQ(e.message, "") << junk;
  }
}

// ---- Azure List Blobs -------------------------------------------------------

TEST(CloudXmlTest, AzureList) {
  auto p = parse_azure_list(kAzureList);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  ASSERT_EQ(p->objects.size(), 3u);  // the prefix, snapshot and soft-deleted blob are skipped
  EXPECT_EQ(p->objects[0].key, "db1/000001.sst");
  EXPECT_EQ(p->objects[0].size, 1024u);
  EXPECT_EQ(p->objects[0].etag, "0x8DC3A1B2C3D4E5F");
  EXPECT_EQ(p->objects[0].modified_ms, 1709200801000);
  EXPECT_EQ(p->objects[1].key,
            "db1/\x01"
            "ctl a+b%\xC3\xA9");  // '+' is not a space here
  EXPECT_EQ(p->objects[1].size, 0u);
  EXPECT_EQ(p->objects[1].etag, "0x8DC3A1B2C3D4E60");
  EXPECT_EQ(p->objects[1].modified_ms, 1704063600000);
  EXPECT_EQ(p->objects[2].key, "db1/plain & simple");
  EXPECT_EQ(p->objects[2].modified_ms, 0);
  EXPECT_EQ(
      p->next_marker,
      "2!48!MDAwMDE0IWRiMS8wMDAwMDIuc3N0ITAwMDAyOCE5OTk5LQ--");
}

TEST(CloudXmlTest, AzureListEmptyAndMalformed) {
  auto e = parse_azure_list(kAzureListEmpty);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_TRUE(e->objects.empty());
  EXPECT_EQ(e->next_marker, "");
  auto no_blobs = parse_azure_list("<EnumerationResults/>");
  ASSERT_TRUE(no_blobs.ok());
  EXPECT_TRUE(no_blobs->objects.empty());

  expect_corrupt(parse_azure_list(replace(kAzureList, "%20a", "%2")),
                 "Blob #2 has a malformed encoded Name");
  expect_corrupt(
      parse_azure_list(replace(kAzureList, "<Content-Length>1024", "<Content-Length>1k")),
      "Blob #1 has a malformed Content-Length '1k'");
  expect_corrupt(parse_azure_list(replace(kAzureList, "<Content-Length>1024</Content-Length>", "")),
                 "Blob #1 has no Content-Length");
  expect_corrupt(parse_azure_list(replace(kAzureList, "Thu, 29 Feb 2024 10:00:01 GMT",
                                          "Thu, 30 Feb 2024 10:00:01 GMT")),
                 "Blob #1 has a malformed Last-Modified 'Thu, 30 Feb 2024 10:00:01 GMT'");
  expect_corrupt(parse_azure_list("<EnumerationResults><Blobs><Blob><Properties><Content-Length>1"
                                  "</Content-Length></Properties></Blob></Blobs>"
                                  "</EnumerationResults>"),
                 "Blob #1 has no Name");
  expect_corrupt(parse_azure_list("<EnumerationResults><Blobs><Blob><Name>x</Name></Blob></Blobs>"
                                  "</EnumerationResults>"),
                 "Blob #1 has no Properties");
  expect_corrupt(parse_azure_list(kAzureErrorWithBom),
                 "root element is <Error>, expected <EnumerationResults>");
  expect_corrupt(parse_azure_list(kAzureList.substr(0, kAzureList.size() - 5)),
                 "Azure List Blobs response: xml: unterminated");
}

// ---- all decoders on every truncation ---------------------------------------

TEST(CloudXmlTest, EveryPrefixOfEveryBodyIsSafe) {
  const std::vector<std::string_view> bodies = {
      kS3ListPage1,         kS3ListPage2,       kS3ListUrlEncoded, kS3ListEmpty,   kS3DeleteResult,
      kS3ErrorPrecondition, kAzureErrorWithBom, kAzureList,        kAzureListEmpty};
  for (std::string_view body : bodies) {
    ASSERT_TRUE(parse_xml(body).ok()) << body;
    for (size_t n = 0; n <= body.size(); ++n) {
      std::string_view cut = body.substr(0, n);
      auto x = parse_xml(cut);
      if (!x.ok()) {
        ASSERT_TRUE(x.status().is_corruption()) << x.status().to_string();
      }
      auto s3 = parse_s3_list_v2(cut);
      if (!s3.ok()) {
        ASSERT_TRUE(s3.status().is_corruption()) << s3.status().to_string();
      }
      auto az = parse_azure_list(cut);
      if (!az.ok()) {
        ASSERT_TRUE(az.status().is_corruption()) << az.status().to_string();
      }
      auto del = parse_s3_delete_result(cut);
      if (!del.ok() && n < body.size()) {
        ASSERT_TRUE(del.status().is_corruption()) << del.status().to_string();
      }
      (void)parse_cloud_error(cut);
      // A truncated body never parses as the complete document (the root's
      // end tag is the last thing before trailing whitespace).
      if (n < body.find_last_of('>')) {
        ASSERT_FALSE(x.ok()) << n << ": " << cut;
      }
    }
  }
}

// ---- dates ------------------------------------------------------------------

TEST(CloudXmlTest, Iso8601) {
  EXPECT_EQ(parse_iso8601_ms("2009-10-12T17:50:30.000Z"), 1255369830000);
  EXPECT_EQ(parse_iso8601_ms("2009-10-12T17:50:30Z"), 1255369830000);
  EXPECT_EQ(parse_iso8601_ms("2009-10-12T17:50:30.5Z"), 1255369830500);
  EXPECT_EQ(parse_iso8601_ms("2009-10-12T17:50:30.12Z"), 1255369830120);
  EXPECT_EQ(parse_iso8601_ms("2009-10-12T17:50:30.123456789Z"), 1255369830123);
  EXPECT_EQ(parse_iso8601_ms("2009-10-12T17:50:30.000+00:00"), 1255369830000);
  EXPECT_EQ(parse_iso8601_ms("2009-10-12T19:50:30+02:00"), 1255369830000);
  EXPECT_EQ(parse_iso8601_ms("2009-10-12T12:20:30-05:30"), 1255369830000);
  EXPECT_EQ(parse_iso8601_ms("2009-10-12t17:50:30z"), 1255369830000);
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601_ms("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(parse_iso8601_ms("0000-01-01T00:00:00Z"), -62167219200000);
  EXPECT_EQ(parse_iso8601_ms("9999-12-31T23:59:59.999Z"), 253402300799999);
  // Leap days: 2024 and 2000 have one, 2023 and 2100 do not.
  EXPECT_EQ(parse_iso8601_ms("2024-02-29T23:59:59.999Z"), 1709251199999);
  EXPECT_EQ(parse_iso8601_ms("2000-02-29T00:00:00Z"), 951782400000);
  EXPECT_EQ(parse_iso8601_ms("2023-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601_ms("2100-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601_ms("2100-03-01T00:00:00Z"), 4107542400000);
  EXPECT_EQ(parse_iso8601_ms("2100-12-31T23:59:59Z"), 4133980799000);
  EXPECT_EQ(parse_iso8601_ms("2016-12-31T23:59:60Z"), parse_iso8601_ms("2017-01-01T00:00:00Z"));

  for (std::string_view bad : {"",
                               "2009",
                               "2009-10-12",
                               "2009-10-12T17:50:30",
                               "2009-10-12 17:50:30Z",
                               "2009-13-12T17:50:30Z",
                               "2009-00-12T17:50:30Z",
                               "2009-10-00T17:50:30Z",
                               "2009-10-32T17:50:30Z",
                               "2009-04-31T17:50:30Z",
                               "2009-10-12T24:00:00Z",
                               "2009-10-12T17:60:30Z",
                               "2009-10-12T17:50:61Z",
                               "2009-10-12T17:50:30.Z",
                               "2009-10-12T17:50:30.1234567890Z",
                               "2009-10-12T17:50:30+24:00",
                               "2009-10-12T17:50:30+02:60",
                               "2009-10-12T17:50:30+0200",
                               "2009-10-12T17:50:30+02",
                               "2009-10-12T17:50:30ZZ",
                               "2009-10-12T17:50:30Z ",
                               " 2009-10-12T17:50:30Z",
                               "2009-1-12T17:50:30Z",
                               "+2009-10-12T17:50:30Z",
                               "2009-10-12T17:5:30Z",
                               "20091012T175030Z",
                               "2009-10-12T17:50:30.-1Z",
                               "2009-10-12T17:50:30,5Z",
                               "abcd-ef-ghTij:kl:mnZ"}) {
    EXPECT_EQ(parse_iso8601_ms(bad), std::nullopt) << bad;
  }
}

TEST(CloudXmlTest, HttpDate) {
  EXPECT_EQ(parse_http_date_ms("Wed, 12 Oct 2009 17:50:00 GMT"), 1255369800000);
  EXPECT_EQ(parse_http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777000);
  EXPECT_EQ(parse_http_date_ms("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777000);
  EXPECT_EQ(parse_http_date_ms("Sun Nov  6 08:49:37 1994"), 784111777000);
  EXPECT_EQ(parse_http_date_ms("Wednesday, 12-Oct-09 17:50:00 GMT"), 1255369800000);
  EXPECT_EQ(parse_http_date_ms("Wed Oct 12 17:50:00 2009"), 1255369800000);
  EXPECT_EQ(parse_http_date_ms("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date_ms("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date_ms("Sunday, 01-Jan-68 00:00:00 GMT"), 3092601600000);
  EXPECT_EQ(parse_http_date_ms("Thu, 29 Feb 2024 23:59:59 GMT"), 1709251199000);
  EXPECT_EQ(parse_http_date_ms("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400000);
  EXPECT_EQ(parse_http_date_ms("Fri, 31 Dec 2100 23:59:59 GMT"), 4133980799000);
  EXPECT_EQ(parse_http_date_ms("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799000);
  // The weekday name must be valid but is not checked against the date.
  EXPECT_EQ(parse_http_date_ms("Mon, 12 Oct 2009 17:50:00 GMT"), 1255369800000);

  for (std::string_view bad : {"",
                               "Wed",
                               "Wed, 12 Oct 2009 17:50:00",
                               "Wed, 12 Oct 2009 17:50:00 UTC",
                               "Wed, 12 Oct 2009 17:50:00 GMT ",
                               " Wed, 12 Oct 2009 17:50:00 GMT",
                               "Wed, 12 Okt 2009 17:50:00 GMT",
                               "Wed, 12 oct 2009 17:50:00 GMT",
                               "Wed, 12 October 2009 17:50:00 GMT",
                               "Wen, 12 Oct 2009 17:50:00 GMT",
                               "wed, 12 Oct 2009 17:50:00 GMT",
                               "Wed,12 Oct 2009 17:50:00 GMT",
                               "Wed, 1 Oct 2009 17:50:00 GMT",
                               "Wed, 12 Oct 09 17:50:00 GMT",
                               "Wed, 29 Feb 2023 00:00:00 GMT",
                               "Mon, 29 Feb 2100 00:00:00 GMT",
                               "Wed, 32 Oct 2009 17:50:00 GMT",
                               "Wed, 00 Oct 2009 17:50:00 GMT",
                               "Wed, 31 Apr 2009 17:50:00 GMT",
                               "Wed, 12 Oct 2009 24:00:00 GMT",
                               "Wed, 12 Oct 2009 17:60:00 GMT",
                               "Wed, 12 Oct 2009 17:50:61 GMT",
                               "Wed, 12 Oct 2009 17:50 GMT",
                               "Wed, 12 Oct 2009 1:50:00 GMT",
                               "Wednesday, 12-Oct-2009 17:50:00 GMT",
                               "Wednesday, 12 Oct 09 17:50:00 GMT",
                               "Wedday, 12-Oct-09 17:50:00 GMT",
                               "Wed Oct 12 17:50:00 09",
                               "Wed Oct 6 08:49:37 1994",
                               "Wed Oct  6 08:49:37 1994 GMT",
                               "2009-10-12T17:50:30Z",
                               "Wed, 12 Oct 2009 17:50:00 GMT\n"}) {
    EXPECT_EQ(parse_http_date_ms(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace isle
