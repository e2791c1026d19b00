// Tests for SigV4 signing against published vectors: the AWS Signature
// Version 4 test suite (canonical request, string to sign and Authorization
// for every case the input model can express), the four S3 single-chunk
// examples from the S3 API reference, and the Google GOOG4-HMAC-SHA256
// flavour derived by hand. Also the encoding, timestamp, query and URI
// helpers, the signing-key cache across dates, and that the secret never
// leaks into any output.
#include "cloud/sigv4.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "util/hash.h"

namespace isle {
namespace {

constexpr std::string_view kEmptySha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// ---------------------------------------------------------------------------
// The AWS SigV4 test suite ("aws-sig-v4-test-suite", 2015-08-30 edition,
// formerly at docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html).
// Credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region
// us-east-1, service "service", 20150830T123600Z. Every request carries
// Host:example.amazonaws.com and X-Amz-Date:20150830T123600Z; `headers` lists
// the others in .req order. Paths and queries are the .req request line
// bytes (raw UTF-8 and spaces included), signed with generic_path=true.
//
// All 31 cases of the suite are covered. Notes on a few:
//  * get-header-value-multiline: the folded value is passed as one value with
//    line breaks (the HTTP layer never sends such a value; the signer folds
//    it as the suite specifies).
//  * post-sts-token/post-sts-header-after: the token is added after signing,
//    so it is not among the signed headers (same result as post-vanilla).
//  * post-x-www-form-urlencoded and -parameters: copies of the suite disagree
//    on these two .creq files (some list content-length:13, one says
//    "charset=utf-8"); the .sts and .authz, identical in every copy, were
//    computed from the canonical request below (no content-length,
//    "charset=utf8"), whose SHA-256 is the hash in the .sts. We assert that.
// The expected values were copied from the suite files as reproduced in
// several independent public copies (e.g. awslabs/aws-c-auth for the
// Authorization values); each .sts hash was checked to be the SHA-256 of the
// .creq given here.
struct SuiteCase {
  const char* name;
  const char* method;
  const char* path;
  const char* query;
  HttpHeaders headers;  // besides Host and X-Amz-Date
  std::string_view payload_hash;
  const char* creq;
  const char* sts_hash;    // last line of the .sts
  const char* signed_headers;
  const char* signature;   // from the .authz
};

const std::vector<SuiteCase>& suite_cases() {
  static const std::vector<SuiteCase> cases = {
      {"get-header-key-duplicate", "GET", "/", "",
       {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}, kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
       "host;my-header1;x-amz-date",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-multiline", "GET", "/", "",
       {{"My-Header1", "value1\n  value2\n     value3"}}, kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1,value2,value3\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "b7b6cbfd8a0430b78891e986784da2630c8a135a8595cec25b26ea94f926ee55",
       "host;my-header1;x-amz-date",
       "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790"},
      {"get-header-value-order", "GET", "/", "",
       {{"My-Header1", "value4"},
        {"My-Header1", "value1"},
        {"My-Header1", "value3"},
        {"My-Header1", "value2"}},
       kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
       "host;my-header1;x-amz-date",
       "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-value-trim", "GET", "/", "",
       {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}, kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
       "host;my-header1;my-header2;x-amz-date",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"get-unreserved", "GET",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", {}, kEmptySha,
       "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n"
       "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9", "host;x-amz-date",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-utf8", "GET", "/\xE1\x88\xB4", "", {}, kEmptySha,
       "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102", "host;x-amz-date",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-vanilla", "GET", "/", "", {}, kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-empty-query-key", "GET", "/", "Param1=value1", {}, kEmptySha,
       "GET\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab", "host;x-amz-date",
       "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-vanilla-query", "GET", "/", "", {}, kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", {}, kEmptySha,
       "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89", "host;x-amz-date",
       "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
      {"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", {}, kEmptySha,
       "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0", "host;x-amz-date",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", {}, kEmptySha,
       "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606", "host;x-amz-date",
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
      {"get-vanilla-query-unreserved", "GET", "/",
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {}, kEmptySha,
       "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n"
       "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177", "host;x-amz-date",
       "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query", "GET", "/", "\xE1\x88\xB4=bar", {}, kEmptySha,
       "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073", "host;x-amz-date",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"normalize-path/get-relative", "GET", "/example/..", "", {}, kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"normalize-path/get-relative-relative", "GET", "/example1/example2/../..", "", {},
       kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"normalize-path/get-slash", "GET", "//", "", {}, kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"normalize-path/get-slash-dot-slash", "GET", "/./", "", {}, kEmptySha,
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"normalize-path/get-slash-pointless-dot", "GET", "/./example", "", {}, kEmptySha,
       "GET\n/example\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702", "host;x-amz-date",
       "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
      {"normalize-path/get-slashes", "GET", "//example//", "", {}, kEmptySha,
       "GET\n/example/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015", "host;x-amz-date",
       "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
      {"normalize-path/get-space", "GET", "/example space/", "", {}, kEmptySha,
       "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86", "host;x-amz-date",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"post-header-key-case", "POST", "/", "", {}, kEmptySha,
       "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87", "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-header-key-sort", "POST", "/", "", {{"My-Header1", "value1"}}, kEmptySha,
       "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
       "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case", "POST", "/", "", {{"My-Header1", "VALUE1"}}, kEmptySha,
       "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
       "host;my-header1;x-amz-date",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"post-sts-token/post-sts-header-after", "POST", "/", "", {}, kEmptySha,
       "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87", "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-sts-token/post-sts-header-before", "POST", "/", "",
       {{"X-Amz-Security-Token",
         "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRX"
         "mxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsbur"
         "EDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPk"
         "UL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="}},
       kEmptySha,
       "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
       "x-amz-security-token:"
       "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRX"
       "mxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsbur"
       "EDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPk"
       "UL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n\n"
       "host;x-amz-date;x-amz-security-token\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
       "host;x-amz-date;x-amz-security-token",
       "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
      {"post-vanilla", "POST", "/", "", {}, kEmptySha,
       "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87", "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-empty-query-value", "POST", "/", "Param1=value1", {}, kEmptySha,
       "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd", "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-vanilla-query", "POST", "/", "Param1=value1", {}, kEmptySha,
       "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd", "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-x-www-form-urlencoded", "POST", "/", "",
       {{"Content-Type", "application/x-www-form-urlencoded"}},
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
       "content-type;host;x-amz-date",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
      {"post-x-www-form-urlencoded-parameters", "POST", "/", "",
       {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf8\n"
       "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c",
       "content-type;host;x-amz-date",
       "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
  };
  return cases;
}

SigV4Signer suite_signer() {
  return SigV4Signer(SigV4Flavor::kAws, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                     "us-east-1", "service");
}

TEST(SigV4Suite, AllPublishedCasesMatch) {
  const SigV4Signer signer = suite_signer();
  ASSERT_EQ(suite_cases().size(), 31u);
  for (const SuiteCase& c : suite_cases()) {
    SCOPED_TRACE(c.name);
    HttpHeaders headers = {{"Host", "example.amazonaws.com"}};
    // The .req files list X-Amz-Date after the other headers except in the
    // sts-token cases; order only matters among equal names.
    for (const auto& h : c.headers) headers.push_back(h);
    headers.emplace_back("X-Amz-Date", "20150830T123600Z");
    SigV4Input in;
    in.method = c.method;
    in.path = c.path;
    in.query = c.query;
    in.headers = &headers;
    in.payload_hash = c.payload_hash;
    in.generic_path = true;
    const SigV4Result r = signer.sign(in, "20150830T123600Z");

    EXPECT_EQ(r.canonical_request, c.creq);
    // The .creq and .sts agree: the hash is of exactly this canonical request.
    EXPECT_EQ(sha256_hex(c.creq), c.sts_hash);
    EXPECT_EQ(r.string_to_sign, std::string("AWS4-HMAC-SHA256\n20150830T123600Z\n"
                                            "20150830/us-east-1/service/aws4_request\n") +
                                    c.sts_hash);
    EXPECT_EQ(r.signed_headers, c.signed_headers);
    EXPECT_EQ(r.signature, c.signature);
    EXPECT_EQ(r.authorization,
              std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                          "aws4_request, SignedHeaders=") +
                  c.signed_headers + ", Signature=" + c.signature);
  }
}

// The generic rules double-encode what is already encoded (the suite's
// older get-space case: "/%20/foo" is signed as "/%2520/foo"); S3 rules
// keep the wire path, dots and empty segments included.
TEST(SigV4Uri, GenericAndS3Rules) {
  EXPECT_EQ(sigv4_canonical_uri("/%20/foo", true), "/%2520/foo");
  EXPECT_EQ(sigv4_canonical_uri("", true), "/");
  EXPECT_EQ(sigv4_canonical_uri("/a/b/../c/./d/", true), "/a/c/d/");
  EXPECT_EQ(sigv4_canonical_uri("/a/b/..", true), "/a/");
  EXPECT_EQ(sigv4_canonical_uri("/../../a", true), "/a");
  EXPECT_EQ(sigv4_canonical_uri("/a/./b//c", false), "/a/./b//c");
  EXPECT_EQ(sigv4_canonical_uri("/my%20key/x%2Fy", false), "/my%20key/x%2Fy");
  EXPECT_EQ(sigv4_canonical_uri("", false), "/");
}

// ---------------------------------------------------------------------------
// Amazon S3 API Reference, "Signature Calculations for the Authorization
// Header: Transferring Payload in a Single Chunk (AWS Signature Version 4)",
// section "Examples: Signature Calculations". AKIAIOSFODNN7EXAMPLE /
// wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, us-east-1, s3, 20130524T000000Z,
// bucket examplebucket (virtual-hosted). The page prints the Authorization
// header without spaces after the commas; the signer emits ", " as the SigV4
// suite does (S3 accepts both), so the comparison is on the signature.
struct S3Case {
  const char* name;
  const char* method;
  const char* path;
  const char* query;
  HttpHeaders headers;
  std::string_view payload_hash;
  const char* creq;
  const char* sts_hash;
  const char* signature;
};

TEST(SigV4S3Examples, DocumentedSignatures) {
  const std::string put_hash = sha256_hex("Welcome to Amazon S3.");
  ASSERT_EQ(put_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const std::string host = "examplebucket.s3.amazonaws.com";
  const std::string empty(kEmptySha);
  const std::vector<S3Case> cases = {
      {"GET Object", "GET", "/test.txt", "",
       {{"Host", host},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", empty},
        {"x-amz-date", "20130524T000000Z"}},
       kEmptySha,
       "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
       "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
       "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
      {"PUT Object", "PUT", "/test%24file.text", "",
       {{"Host", host},
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"x-amz-content-sha256", put_hash}},
       put_hash,
       "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
       "host:examplebucket.s3.amazonaws.com\n"
       "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
       "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
       "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
       "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
       "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
       "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
      {"GET Bucket Lifecycle", "GET", "/", "lifecycle",
       {{"Host", host}, {"x-amz-date", "20130524T000000Z"}, {"x-amz-content-sha256", empty}},
       kEmptySha,
       "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
       "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
       "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
       "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
      {"GET Bucket (List Objects)", "GET", "/", "max-keys=2&prefix=J",
       {{"Host", host}, {"x-amz-date", "20130524T000000Z"}, {"x-amz-content-sha256", empty}},
       kEmptySha,
       "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
       "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
       "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
  };
  const SigV4Signer signer(SigV4Flavor::kAws, "AKIAIOSFODNN7EXAMPLE",
                           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3");
  for (const S3Case& c : cases) {
    SCOPED_TRACE(c.name);
    SigV4Input in;
    in.method = c.method;
    in.path = c.path;
    in.query = c.query;
    in.headers = &c.headers;
    in.payload_hash = c.payload_hash;
    in.generic_path = false;
    const SigV4Result r = signer.sign(in, "20130524T000000Z");
    EXPECT_EQ(r.canonical_request, c.creq);
    EXPECT_EQ(r.string_to_sign,
              std::string("AWS4-HMAC-SHA256\n20130524T000000Z\n"
                          "20130524/us-east-1/s3/aws4_request\n") +
                  c.sts_hash);
    EXPECT_EQ(r.signature, c.signature);
    EXPECT_EQ(r.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
              "aws4_request, SignedHeaders=" +
                  r.signed_headers + ", Signature=" + c.signature);
  }
}

// ---------------------------------------------------------------------------
// Google GOOG4-HMAC-SHA256. Google documents the algorithm (Cloud Storage
// "Signatures": signing key = HMAC chain starting from "GOOG4" + secret over
// date, location, "storage", "goog4_request"; algorithm GOOG4-HMAC-SHA256;
// x-goog-date / x-goog-content-sha256) but publishes no numeric HMAC
// example, so this test derives the expected values by hand from hmac_sha256
// and checks that the canonical request is the AWS one for the same input.
TEST(SigV4Google, MatchesHandDerivation) {
  const std::string secret = "bGoa+V7g/yqDXvKRqq+JTFn4uQZbPiQJo4pf9RzJ";
  HttpHeaders headers = {{"Host", "storage.googleapis.com"},
                         {"x-goog-content-sha256", std::string(kEmptySha)},
                         {"x-goog-date", "20240514T083000Z"}};
  SigV4Input in;
  in.method = "GET";
  in.path = "/isle-bucket/db1/manifest/00000001";
  in.query = "generation=1715675400123456";
  in.headers = &headers;
  in.payload_hash = kEmptySha;

  const SigV4Signer goog(SigV4Flavor::kGoogle, "GOOG1EXAMPLEACCESSID", secret, "auto", "storage");
  const SigV4Signer aws(SigV4Flavor::kAws, "GOOG1EXAMPLEACCESSID", secret, "auto", "storage");
  const SigV4Result g = goog.sign(in, "20240514T083000Z");
  const SigV4Result a = aws.sign(in, "20240514T083000Z");

  EXPECT_EQ(g.canonical_request, a.canonical_request);
  EXPECT_EQ(g.canonical_request,
            "GET\n/isle-bucket/db1/manifest/00000001\ngeneration=1715675400123456\n"
            "host:storage.googleapis.com\nx-goog-content-sha256:" +
                std::string(kEmptySha) + "\nx-goog-date:20240514T083000Z\n\n" +
                "host;x-goog-content-sha256;x-goog-date\n" + std::string(kEmptySha));
  const std::string sts =
      "GOOG4-HMAC-SHA256\n20240514T083000Z\n20240514/auto/storage/goog4_request\n" +
      sha256_hex(g.canonical_request);
  EXPECT_EQ(g.string_to_sign, sts);

  std::string key = hmac_sha256("GOOG4" + secret, "20240514");
  key = hmac_sha256(key, "auto");
  key = hmac_sha256(key, "storage");
  key = hmac_sha256(key, "goog4_request");
  const std::string sig = to_hex(hmac_sha256(key, sts));
  EXPECT_EQ(g.signature, sig);
  EXPECT_NE(g.signature, a.signature);
  EXPECT_EQ(g.authorization,
            "GOOG4-HMAC-SHA256 Credential=GOOG1EXAMPLEACCESSID/20240514/auto/storage/"
            "goog4_request, SignedHeaders=host;x-goog-content-sha256;x-goog-date, Signature=" +
                sig);
  EXPECT_EQ(goog.algorithm(), "GOOG4-HMAC-SHA256");
  EXPECT_EQ(goog.date_header(), "x-goog-date");
  EXPECT_EQ(goog.content_sha256_header(), "x-goog-content-sha256");
  EXPECT_EQ(aws.date_header(), "x-amz-date");
  EXPECT_EQ(aws.content_sha256_header(), "x-amz-content-sha256");

  // The AWS flavour with the same hand derivation ("AWS4", aws4_request)
  // gives the AWS signature: the two differ only in those constants.
  std::string akey = hmac_sha256("AWS4" + secret, "20240514");
  akey = hmac_sha256(akey, "auto");
  akey = hmac_sha256(akey, "storage");
  akey = hmac_sha256(akey, "aws4_request");
  EXPECT_EQ(a.signature, to_hex(hmac_sha256(akey, a.string_to_sign)));
}

// RFC 4231 test case 2, so hmac_sha256 itself is pinned to a published value.
TEST(SigV4Hmac, Rfc4231Case2) {
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// AWS "Examples of how to derive a signing key for Signature Version 4":
// secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
TEST(SigV4Hmac, DocumentedSigningKey) {
  std::string k = hmac_sha256("AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215");
  EXPECT_EQ(to_hex(k), "969fbb94feb542b71ede6f87fe4d5fa29c789342b0f407474670f0c2489e0a0d");
  k = hmac_sha256(k, "us-east-1");
  EXPECT_EQ(to_hex(k), "69daa0209cd9c5ff5c8ced464a696fd4252e981430b10e3d3fd8e2f197d7a70c");
  k = hmac_sha256(k, "iam");
  EXPECT_EQ(to_hex(k), "f72cfd46f26bc4643f06a11eabb6c0ba18780c19a8da0c31ace671265e3c87fa");
  k = hmac_sha256(k, "aws4_request");
  EXPECT_EQ(to_hex(k), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

// ---------------------------------------------------------------------------
// Helpers.

TEST(SigV4Encode, UriEncode) {
  EXPECT_EQ(sigv4_uri_encode("", true), "");
  EXPECT_EQ(sigv4_uri_encode("AZaz09-._~", true), "AZaz09-._~");
  EXPECT_EQ(sigv4_uri_encode("a b+c*d%e", true), "a%20b%2Bc%2Ad%25e");
  EXPECT_EQ(sigv4_uri_encode("a/b", true), "a%2Fb");
  EXPECT_EQ(sigv4_uri_encode("a/b", false), "a/b");
  EXPECT_EQ(sigv4_uri_encode("test$file.text", false), "test%24file.text");
  EXPECT_EQ(sigv4_uri_encode("!'()=&:,;@", true), "%21%27%28%29%3D%26%3A%2C%3B%40");
  EXPECT_EQ(sigv4_uri_encode("\xC3\xA9t\xC3\xA9", true), "%C3%A9t%C3%A9");
  EXPECT_EQ(sigv4_uri_encode(std::string_view("\x00\x7F\xFF", 3), true), "%00%7F%FF");
}

TEST(SigV4Encode, PercentDecodeIsLenient) {
  EXPECT_EQ(uri_percent_decode("a%20b%2fc"), "a b/c");
  EXPECT_EQ(uri_percent_decode("a+b"), "a+b");
  EXPECT_EQ(uri_percent_decode("100%"), "100%");
  EXPECT_EQ(uri_percent_decode("%2"), "%2");
  EXPECT_EQ(uri_percent_decode("%zz%41"), "%zzA");
  EXPECT_EQ(uri_percent_decode("%E1%88%B4"), "\xE1\x88\xB4");
}

TEST(SigV4Query, Canonicalization) {
  EXPECT_EQ(sigv4_canonical_query(""), "");
  EXPECT_EQ(sigv4_canonical_query("uploads"), "uploads=");
  EXPECT_EQ(sigv4_canonical_query("b=2&&a=1&"), "a=1&b=2");
  EXPECT_EQ(sigv4_canonical_query("a=b=c"), "a=b%3Dc");
  // Already-encoded and raw forms of the same value sign the same.
  EXPECT_EQ(sigv4_canonical_query("prefix=a%2Fb%20c"), "prefix=a%2Fb%20c");
  EXPECT_EQ(sigv4_canonical_query("prefix=a/b c"), "prefix=a%2Fb%20c");
  EXPECT_EQ(sigv4_canonical_query("prefix=a%2fb"), "prefix=a%2Fb");
  // '+' is a literal plus, never a space.
  EXPECT_EQ(sigv4_canonical_query("k=a+b"), "k=a%2Bb");
  // Sorted by encoded name, then value.
  EXPECT_EQ(sigv4_canonical_query("list-type=2&continuation-token=x&prefix=p&delimiter=%2F"),
            "continuation-token=x&delimiter=%2F&list-type=2&prefix=p");
  EXPECT_EQ(sigv4_canonical_query("a=2&A=1&a=1"), "A=1&a=1&a=2");
}

TEST(SigV4Time, Timestamps) {
  EXPECT_EQ(sigv4_timestamp(0), "19700101T000000Z");
  EXPECT_EQ(sigv4_timestamp(1440938160), "20150830T123600Z");
  EXPECT_EQ(sigv4_timestamp(1369353600), "20130524T000000Z");
  EXPECT_EQ(sigv4_timestamp(1709210096), "20240229T123456Z");  // leap day
  EXPECT_EQ(sigv4_timestamp(1709251199), "20240229T235959Z");
  EXPECT_EQ(sigv4_timestamp(1709251200), "20240301T000000Z");
  EXPECT_EQ(sigv4_timestamp(951782400), "20000229T000000Z");   // 400-year leap
  EXPECT_EQ(sigv4_timestamp(4107542400 - 1), "21000228T235959Z");  // 2100 is not leap
  EXPECT_EQ(sigv4_timestamp(4107542400), "21000301T000000Z");
  EXPECT_EQ(sigv4_timestamp(-1), "19691231T235959Z");
  EXPECT_EQ(sigv4_timestamp(-86401), "19691230T235959Z");
  EXPECT_EQ(sigv4_timestamp(253402300799), "99991231T235959Z");
  EXPECT_EQ(utc_civil(0).weekday, 4);           // Thursday
  EXPECT_EQ(utc_civil(1709210096).weekday, 4);  // 2024-02-29 was a Thursday
  EXPECT_EQ(utc_civil(-86400).weekday, 3);
}

SigV4Result sign_vanilla(const SigV4Signer& s, std::string_view ts) {
  HttpHeaders headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", std::string(ts)}};
  SigV4Input in;
  in.method = "GET";
  in.path = "/";
  in.headers = &headers;
  in.payload_hash = kEmptySha;
  in.generic_path = true;
  return s.sign(in, ts);
}

TEST(SigV4Cache, SigningKeyFollowsTheScopeDate) {
  const SigV4Signer shared = suite_signer();
  const std::string d1 = "20150830T123600Z";
  const std::string d2 = "20150831T000001Z";
  const std::string d3 = "20150830T235959Z";  // same scope date as d1
  const SigV4Result a1 = sign_vanilla(shared, d1);
  const SigV4Result b = sign_vanilla(shared, d2);
  const SigV4Result a2 = sign_vanilla(shared, d1);
  const SigV4Result c = sign_vanilla(shared, d3);
  EXPECT_EQ(a1.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(a2.signature, a1.signature);
  EXPECT_EQ(b.signature, sign_vanilla(suite_signer(), d2).signature);  // fresh signer agrees
  EXPECT_EQ(c.signature, sign_vanilla(suite_signer(), d3).signature);
  EXPECT_NE(b.signature, a1.signature);
  EXPECT_NE(b.authorization.find("/20150831/us-east-1/"), std::string::npos);

  // By hand for d2, so a stale cached key could not pass.
  std::string k = hmac_sha256("AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150831");
  k = hmac_sha256(hmac_sha256(hmac_sha256(k, "us-east-1"), "service"), "aws4_request");
  EXPECT_EQ(b.signature, to_hex(hmac_sha256(k, b.string_to_sign)));

  // A copy shares the cache and must still be right.
  const SigV4Signer copy = shared;
  EXPECT_EQ(sign_vanilla(copy, d2).signature, b.signature);
  EXPECT_EQ(sign_vanilla(copy, d1).signature, a1.signature);
}

TEST(SigV4Cache, ConcurrentSigningAcrossDates) {
  const SigV4Signer signer = suite_signer();
  const std::string dates[2] = {"20150830T123600Z", "20150901T120000Z"};
  const std::string want[2] = {sign_vanilla(suite_signer(), dates[0]).signature,
                               sign_vanilla(suite_signer(), dates[1]).signature};
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const int d = (i + t) % 2;
        if (sign_vanilla(signer, dates[d]).signature != want[d]) ++bad[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

TEST(SigV4Secret, NeverInOutput) {
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  for (SigV4Flavor f : {SigV4Flavor::kAws, SigV4Flavor::kGoogle}) {
    const SigV4Signer s(f, "AKIDEXAMPLE", secret, "us-east-1", "service");
    // Headers and query that even mention pieces of the secret's alphabet.
    HttpHeaders headers = {{"Host", "example.amazonaws.com"},
                           {"X-Amz-Date", "20150830T123600Z"},
                           {"X-Amz-Meta-Note", "hello"}};
    SigV4Input in;
    in.method = "PUT";
    in.path = "/bucket/key";
    in.query = "partNumber=1&uploadId=abc";
    in.headers = &headers;
    in.payload_hash = "UNSIGNED-PAYLOAD";
    const SigV4Result r = s.sign(in, "20150830T123600Z");
    for (const std::string* out :
         {&r.canonical_request, &r.string_to_sign, &r.signed_headers, &r.signature,
          &r.authorization}) {
      EXPECT_EQ(out->find(secret), std::string::npos);
      EXPECT_EQ(out->find("EXAMPLEKEY"), std::string::npos);
      EXPECT_EQ(out->find(to_hex(secret)), std::string::npos);
    }
    EXPECT_NE(r.canonical_request.find("\nUNSIGNED-PAYLOAD"), std::string::npos);
  }
}

TEST(SigV4Headers, NormalizationRules) {
  const SigV4Signer signer = suite_signer();
  HttpHeaders headers = {{" Host ", "example.amazonaws.com"},
                         {"X-Amz-Date", "20150830T123600Z"},
                         {"X-Amz-Meta-B", "\t two \t\t words  "},
                         {"x-amz-meta-a", "1"},
                         {"X-AMZ-META-A", "2"},
                         {"x-amz-meta-empty", ""}};
  SigV4Input in;
  in.method = "GET";
  in.path = "/";
  in.headers = &headers;
  in.payload_hash = kEmptySha;
  const SigV4Result r = signer.sign(in, "20150830T123600Z");
  EXPECT_EQ(r.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
            "x-amz-meta-a:1,2\nx-amz-meta-b:two words\nx-amz-meta-empty:\n\n"
            "host;x-amz-date;x-amz-meta-a;x-amz-meta-b;x-amz-meta-empty\n" +
                std::string(kEmptySha));
}

}  // namespace
}  // namespace isle
