// Tests for Ed25519 SST signing: round trips, tampering, key parsing and
// rejection of other key types, the RFC 8032 known answers, from_hex, the
// SST message format, and concurrent use.
#include "util/signing.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <thread>
#include <vector>

#include "testutil/testutil.h"
#include "util/hash.h"

namespace isle {
namespace {

// RFC 8032 section 7.1, TEST 1, as PEM.
constexpr std::string_view kRfcPrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kRfcPublicPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kRfcPublicHex =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kRfcEmptySigHex =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
    "d25bf5f0595bbe24655141438e7a100b";

std::string hex_decode(std::string_view hex) {
  auto b = from_hex(hex);
  EXPECT_TRUE(b.has_value()) << hex;
  return b.value_or("");
}

Ed25519Signer new_signer() {
  auto s = Ed25519Signer::generate();
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return std::move(s).value();
}

Ed25519Verifier verifier_of(const Ed25519Signer& s) {
  auto v = Ed25519Verifier::from_pem(s.public_key_pem());
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  return std::move(v).value();
}

void write_file(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << path;
}

// A non-Ed25519 key made with OpenSSL, in both PEM forms.
struct ForeignPem {
  std::string private_pem;
  std::string public_pem;
};

std::string drain(BIO* b) {
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  std::string s(p, static_cast<size_t>(n));
  BIO_free(b);
  return s;
}

ForeignPem foreign_key(std::string_view type) {
  EVP_PKEY* pkey = nullptr;
  if (type == "EC") {
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  } else if (type == "RSA") {
    // Small keeps the test fast; the size does not matter here.
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
  } else {
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, std::string(type).c_str());
  }
  EXPECT_NE(pkey, nullptr) << type;
  ForeignPem out;
  if (pkey == nullptr) return out;
  BIO* b = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PrivateKey(b, pkey, nullptr, nullptr, 0, nullptr, nullptr), 1);
  out.private_pem = drain(b);
  b = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(b, pkey), 1);
  out.public_pem = drain(b);
  EVP_PKEY_free(pkey);
  return out;
}

TEST(Signing, SignVerifyRoundTrip) {
  Ed25519Signer s = new_signer();
  Ed25519Verifier v = verifier_of(s);
  const std::string sst_message = sst_signature_message(sha256_hex("abc"));
  for (std::string_view m : {std::string_view(""), std::string_view("x"), std::string_view(sst_message)}) {
    std::string sig = s.sign(m);
    ASSERT_EQ(sig.size(), kEd25519SignatureSize);
    EXPECT_EQ(s.sign(m), sig) << "Ed25519 is deterministic";
    EXPECT_TRUE(v.verify(m, sig));
  }
  std::string big(1 << 20, 'q');
  EXPECT_TRUE(v.verify(big, s.sign(big)));
  EXPECT_EQ(v.key_id(), s.key_id());
  EXPECT_EQ(v.public_key_raw(), s.public_key_raw());
}

TEST(Signing, FlippedBitFails) {
  Ed25519Signer s = new_signer();
  Ed25519Verifier v = verifier_of(s);
  const std::string m = sst_signature_message(sha256_hex("sst bytes"));
  const std::string sig = s.sign(m);
  ASSERT_TRUE(v.verify(m, sig));
  for (size_t i = 0; i < m.size() * 8; i++) {
    std::string t = m;
    t[i / 8] = static_cast<char>(t[i / 8] ^ (1 << (i % 8)));
    EXPECT_FALSE(v.verify(t, sig)) << "message bit " << i;
  }
  for (size_t i = 0; i < sig.size() * 8; i++) {
    std::string t = sig;
    t[i / 8] = static_cast<char>(t[i / 8] ^ (1 << (i % 8)));
    EXPECT_FALSE(v.verify(m, t)) << "signature bit " << i;
  }
}

TEST(Signing, MalformedSignaturesFail) {
  Ed25519Signer s = new_signer();
  Ed25519Verifier v = verifier_of(s);
  const std::string m = "message";
  const std::string sig = s.sign(m);
  EXPECT_FALSE(v.verify(m, ""));
  EXPECT_FALSE(v.verify(m, sig.substr(0, 63)));
  EXPECT_FALSE(v.verify(m, sig + '\0'));
  EXPECT_FALSE(v.verify(m, std::string(64, '\0')));
  EXPECT_FALSE(v.verify(m, std::string(64, '\xff')));  // S >= group order
  EXPECT_FALSE(v.verify(m, to_hex(sig)));              // hex instead of raw
  EXPECT_FALSE(v.verify(m + "x", sig));
  EXPECT_FALSE(v.verify(m.substr(1), sig));
  EXPECT_TRUE(v.verify(m, sig));  // failures left nothing behind
}

TEST(Signing, OtherKeyFails) {
  Ed25519Signer a = new_signer();
  Ed25519Signer b = new_signer();
  ASSERT_NE(a.key_id(), b.key_id());
  const std::string m = "same message";
  EXPECT_FALSE(verifier_of(b).verify(m, a.sign(m)));
  EXPECT_FALSE(verifier_of(a).verify(m, b.sign(m)));
  EXPECT_NE(a.sign(m), b.sign(m));
}

TEST(Signing, PemRoundTrip) {
  Ed25519Signer s = new_signer();
  const std::string priv = s.private_key_pem();
  EXPECT_EQ(priv.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << priv;
  const std::string pub = s.public_key_pem();
  EXPECT_EQ(pub.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u) << pub;

  auto s2 = Ed25519Signer::from_pem(priv);
  ASSERT_TRUE(s2.ok()) << s2.status().to_string();
  EXPECT_EQ(s2->key_id(), s.key_id());
  EXPECT_EQ(s2->private_key_pem(), priv);
  EXPECT_EQ(s2->public_key_pem(), pub);
  auto v = Ed25519Verifier::from_pem(s2->public_key_pem());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->public_key_pem(), pub);
  EXPECT_EQ(v->key_id(), s.key_id());
  EXPECT_TRUE(v->verify("m", s.sign("m")));
  EXPECT_TRUE(v->verify("m", s2->sign("m")));

  auto raw = Ed25519Verifier::from_raw(s.public_key_raw());
  ASSERT_TRUE(raw.ok()) << raw.status().to_string();
  EXPECT_EQ(raw->key_id(), s.key_id());
  EXPECT_TRUE(raw->verify("m", s.sign("m")));

  // Copies share the key and stay usable after the original is gone.
  Ed25519Verifier copy = *v;
  v = Status::Aborted("drop");
  EXPECT_TRUE(copy.verify("m", s.sign("m")));
}

TEST(Signing, Rfc8032KnownAnswer) {
  auto s = Ed25519Signer::from_pem(kRfcPrivatePem);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(to_hex(s->public_key_raw()), kRfcPublicHex);
  EXPECT_EQ(s->public_key_pem(), kRfcPublicPem);
  EXPECT_EQ(to_hex(s->sign("")), kRfcEmptySigHex);
  // key id = first 16 hex chars of sha256(raw public key).
  EXPECT_EQ(s->key_id(), sha256_hex(hex_decode(kRfcPublicHex)).substr(0, 16));
  EXPECT_EQ(s->key_id(), "21fe31dfa154a261");

  auto v = Ed25519Verifier::from_pem(kRfcPublicPem);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->key_id(), "21fe31dfa154a261");
  EXPECT_TRUE(v->verify("", hex_decode(kRfcEmptySigHex)));

  // The worked example of docs/format/signatures.md.
  const std::string m = sst_signature_message(sha256_hex(""));
  EXPECT_EQ(m, "isle-sst-v1:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(s->sign(m)),
            "d72e9ecc9a1b172f78ffd7f0fa6fb9526dab202e680443610d50931e956b596d"
            "774117cba08d1a77bd11d8964bbe8e6584917cb3baf8c3d07d0f4e3dad2cbc0e");
}

TEST(Signing, SstSignatureMessage) {
  const std::string h = sha256_hex("x");
  EXPECT_EQ(sst_signature_message(h), "isle-sst-v1:" + h);
  std::string upper = h;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(sst_signature_message(upper), "isle-sst-v1:" + h);
  EXPECT_EQ(sst_signature_message(""), "isle-sst-v1:");
}

TEST(Signing, InlineSignatureMessageIsDistinctAndMatchesTheDocumentedVector) {
  const std::string h = sha256_hex("x");
  EXPECT_EQ(inline_signature_message(h), "isle-inline-v1:" + h);
  std::string upper = h;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(inline_signature_message(upper), "isle-inline-v1:" + h);
  EXPECT_NE(inline_signature_message(h), sst_signature_message(h));
  // The worked example of docs/format/signatures.md ("Inline SSTs"); the
  // signature was computed independently with `openssl pkeyutl -sign -rawin`.
  auto s = Ed25519Signer::from_pem(kRfcPrivatePem);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  const std::string m = inline_signature_message(sha256_hex(""));
  EXPECT_EQ(m, "isle-inline-v1:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string sig = s->sign(m);
  EXPECT_EQ(to_hex(sig),
            "34e47305b8d88635be1b62a647100b4adca6e2e241083239aeb82176e66290e8"
            "66727cba0321949174d0e450844c094326b69737185088c7c7a093abd9a57204");
  // A signature over one message never verifies for the other.
  auto v = Ed25519Verifier::from_pem(kRfcPublicPem);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->verify(m, sig));
  EXPECT_FALSE(v->verify(sst_signature_message(sha256_hex("")), sig));
}

void expect_invalid_signer(std::string_view pem, std::string_view what) {
  auto s = Ed25519Signer::from_pem(pem);
  ASSERT_FALSE(s.ok()) << what;
  EXPECT_TRUE(s.status().is_invalid_argument()) << what << ": " << s.status().to_string();
  EXPECT_FALSE(s.status().message().empty()) << what;
}

void expect_invalid_verifier(std::string_view pem, std::string_view what) {
  auto v = Ed25519Verifier::from_pem(pem);
  ASSERT_FALSE(v.ok()) << what;
  EXPECT_TRUE(v.status().is_invalid_argument()) << what << ": " << v.status().to_string();
  EXPECT_FALSE(v.status().message().empty()) << what;
}

TEST(Signing, GarbagePemRejected) {
  const std::string priv(kRfcPrivatePem);
  const std::string pub(kRfcPublicPem);
  for (std::string_view bad :
       {std::string_view(""), std::string_view("garbage"), std::string_view("\0\0\0", 3),
        std::string_view("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"),
        std::string_view("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"),
        std::string_view("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n")}) {
    expect_invalid_signer(bad, "garbage");
    expect_invalid_verifier(bad, "garbage");
  }
  // Every truncation of a valid PEM, except dropping just the final newline,
  // is rejected.
  for (size_t n = 0; n + 1 < priv.size(); n++) {
    expect_invalid_signer(std::string_view(priv).substr(0, n), "truncated private " + std::to_string(n));
  }
  for (size_t n = 0; n + 1 < pub.size(); n++) {
    expect_invalid_verifier(std::string_view(pub).substr(0, n), "truncated public " + std::to_string(n));
  }
  // A corrupted body (valid base64, wrong DER).
  std::string corrupt = priv;
  corrupt[40] = corrupt[40] == 'A' ? 'B' : 'A';
  expect_invalid_signer(corrupt, "corrupt DER");
  // Oversized input.
  expect_invalid_signer(std::string(2 << 20, 'a'), "too large");
}

TEST(Signing, WrongKindOfKeyRejected) {
  // Public key where a private key is expected, and the reverse.
  auto s = Ed25519Signer::from_pem(kRfcPublicPem);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().is_invalid_argument());
  EXPECT_NE(s.status().message().find("holds a public key"), std::string::npos) << s.status().to_string();
  auto v = Ed25519Verifier::from_pem(kRfcPrivatePem);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(v.status().is_invalid_argument());
  EXPECT_NE(v.status().message().find("holds a private key"), std::string::npos) << v.status().to_string();

  // Raw keys of the wrong size.
  EXPECT_TRUE(Ed25519Verifier::from_raw("").status().is_invalid_argument());
  EXPECT_TRUE(Ed25519Verifier::from_raw(std::string(31, 'a')).status().is_invalid_argument());
  EXPECT_TRUE(Ed25519Verifier::from_raw(std::string(33, 'a')).status().is_invalid_argument());
}

TEST(Signing, OtherKeyTypesRejected) {
  for (std::string_view type : {"EC", "RSA", "X25519", "ED448"}) {
    SCOPED_TRACE(type);
    ForeignPem pem = foreign_key(type);
    ASSERT_FALSE(pem.private_pem.empty());
    ASSERT_FALSE(pem.public_pem.empty());
    auto s = Ed25519Signer::from_pem(pem.private_pem);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(s.status().is_invalid_argument()) << s.status().to_string();
    EXPECT_NE(s.status().message().find("not an Ed25519 key"), std::string::npos) << s.status().to_string();
    EXPECT_NE(s.status().message().find(type), std::string::npos) << s.status().to_string();
    auto v = Ed25519Verifier::from_pem(pem.public_pem);
    ASSERT_FALSE(v.ok());
    EXPECT_TRUE(v.status().is_invalid_argument()) << v.status().to_string();
    EXPECT_NE(v.status().message().find("not an Ed25519 key"), std::string::npos) << v.status().to_string();
  }
}

TEST(Signing, EncryptedPrivateKeyRejectedWithoutPrompt) {
  Ed25519Signer s = new_signer();
  auto parsed = Ed25519Signer::from_pem(s.private_key_pem());
  ASSERT_TRUE(parsed.ok());
  // Re-encode the key encrypted under a passphrase.
  EVP_PKEY* pkey = nullptr;
  {
    const std::string priv = s.private_key_pem();
    BIO* in = BIO_new_mem_buf(priv.data(), static_cast<int>(priv.size()));
    pkey = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
    BIO_free(in);
  }
  ASSERT_NE(pkey, nullptr);
  BIO* b = BIO_new(BIO_s_mem());
  char pass[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(b, pkey, EVP_aes_256_cbc(), pass, 6, nullptr, nullptr), 1);
  const std::string encrypted = drain(b);
  EVP_PKEY_free(pkey);
  ASSERT_NE(encrypted.find("ENCRYPTED PRIVATE KEY"), std::string::npos);

  auto r = Ed25519Signer::from_pem(encrypted);  // must not wait on a terminal
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_invalid_argument()) << r.status().to_string();
  EXPECT_NE(r.status().message().find("encrypted"), std::string::npos) << r.status().to_string();
}

TEST(Signing, PemFiles) {
  isle::testing::TempDir dir;
  Ed25519Signer s = new_signer();
  const std::string priv_path = dir.path() + "/isle.key";
  const std::string pub_path = dir.path() + "/isle.pub";
  write_file(priv_path, s.private_key_pem());
  write_file(pub_path, s.public_key_pem());

  auto s2 = Ed25519Signer::from_pem_file(priv_path);
  ASSERT_TRUE(s2.ok()) << s2.status().to_string();
  auto v = Ed25519Verifier::from_pem_file(pub_path);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->key_id(), s.key_id());
  EXPECT_TRUE(v->verify("m", s2->sign("m")));

  // Missing files: IOError naming the path.
  const std::string missing = dir.path() + "/no-such.key";
  auto ms = Ed25519Signer::from_pem_file(missing);
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().code(), Code::kIOError) << ms.status().to_string();
  EXPECT_NE(ms.status().message().find(missing), std::string::npos) << ms.status().to_string();
  auto mv = Ed25519Verifier::from_pem_file(missing);
  ASSERT_FALSE(mv.ok());
  EXPECT_EQ(mv.status().code(), Code::kIOError) << mv.status().to_string();
  EXPECT_NE(mv.status().message().find(missing), std::string::npos) << mv.status().to_string();

  // A directory is not a key file.
  auto d = Ed25519Signer::from_pem_file(dir.path());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find(dir.path()), std::string::npos) << d.status().to_string();

  // Bad contents: InvalidArgument naming the path.
  const std::string bad_path = dir.path() + "/bad.pem";
  write_file(bad_path, "not a key\n");
  auto bs = Ed25519Signer::from_pem_file(bad_path);
  ASSERT_FALSE(bs.ok());
  EXPECT_TRUE(bs.status().is_invalid_argument()) << bs.status().to_string();
  EXPECT_NE(bs.status().message().find(bad_path), std::string::npos) << bs.status().to_string();
  // Swapped files.
  auto swapped = Ed25519Verifier::from_pem_file(priv_path);
  ASSERT_FALSE(swapped.ok());
  EXPECT_TRUE(swapped.status().is_invalid_argument()) << swapped.status().to_string();
  EXPECT_NE(swapped.status().message().find(priv_path), std::string::npos);
  // Empty file.
  const std::string empty_path = dir.path() + "/empty.pem";
  write_file(empty_path, "");
  auto es = Ed25519Verifier::from_pem_file(empty_path);
  ASSERT_FALSE(es.ok());
  EXPECT_TRUE(es.status().is_invalid_argument()) << es.status().to_string();
}

TEST(Signing, KeyRingHoldsEveryPublicKeyBlock) {
  Ed25519Signer a = new_signer(), b = new_signer(), c = new_signer();
  const std::string text = "# writer\n" + a.public_key_pem() + "\n# compactor\n" +
                           b.public_key_pem() + a.public_key_pem();  // a twice
  auto ring = Ed25519KeyRing::from_pem(text);
  ASSERT_TRUE(ring.ok()) << ring.status().to_string();
  ASSERT_EQ(ring->keys().size(), 2u) << "the same key twice is kept once";
  ASSERT_NE(ring->find(a.key_id()), nullptr);
  ASSERT_NE(ring->find(b.key_id()), nullptr);
  EXPECT_EQ(ring->find(c.key_id()), nullptr);
  EXPECT_TRUE(ring->find(b.key_id())->verify("m", b.sign("m")));
  EXPECT_FALSE(ring->find(a.key_id())->verify("m", b.sign("m")));
  EXPECT_EQ(ring->key_ids(), a.key_id() + "," + b.key_id());
  // public_keys_pem() round-trips.
  auto again = Ed25519KeyRing::from_pem(ring->public_keys_pem());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->key_ids(), ring->key_ids());
  // Blocks glued without a newline still parse.
  std::string glued = a.public_key_pem();
  while (!glued.empty() && glued.back() == '\n') glued.pop_back();
  auto g = Ed25519KeyRing::from_pem(glued + b.public_key_pem());
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->keys().size(), 2u);
  // One key.
  auto one = Ed25519KeyRing::from_pem(c.public_key_pem());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->keys().size(), 1u);
}

TEST(Signing, KeyRingRejectsTextWithoutPublicKeysOrWithOtherBlocks) {
  Ed25519Signer a = new_signer();
  for (const std::string& bad :
       {std::string(), std::string("no pem here\n"), a.private_key_pem(),
        a.public_key_pem() + a.private_key_pem(),                 // a private key among them
        a.public_key_pem() + "-----BEGIN PUBLIC KEY-----\nAAAA\n",  // no END line
        a.public_key_pem() + "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    auto r = Ed25519KeyRing::from_pem(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().is_invalid_argument()) << r.status().to_string();
  }
  EXPECT_NE(Ed25519KeyRing::from_pem(a.private_key_pem()).status().message().find("private key"),
            std::string::npos);
}

TEST(Signing, KeyRingFiles) {
  isle::testing::TempDir dir;
  Ed25519Signer a = new_signer(), b = new_signer();
  const std::string path = dir.path() + "/ring.pub";
  write_file(path, a.public_key_pem() + b.public_key_pem());
  auto ring = Ed25519KeyRing::from_pem_file(path);
  ASSERT_TRUE(ring.ok()) << ring.status().to_string();
  EXPECT_EQ(ring->keys().size(), 2u);
  const std::string missing = dir.path() + "/missing.pub";
  auto m = Ed25519KeyRing::from_pem_file(missing);
  EXPECT_EQ(m.status().code(), Code::kIOError);
  EXPECT_NE(m.status().message().find(missing), std::string::npos);
  const std::string priv = dir.path() + "/a.key";
  write_file(priv, a.private_key_pem());
  auto p = Ed25519KeyRing::from_pem_file(priv);
  EXPECT_TRUE(p.status().is_invalid_argument());
  EXPECT_NE(p.status().message().find(priv), std::string::npos);
}

TEST(Signing, FromHex) {
  EXPECT_EQ(from_hex(""), std::optional<std::string>(""));
  EXPECT_EQ(from_hex("00"), std::optional<std::string>(std::string(1, '\0')));
  EXPECT_EQ(from_hex("0aFf7f80"), std::optional<std::string>("\x0a\xff\x7f\x80"));
  EXPECT_EQ(from_hex("DEADbeef"), std::optional<std::string>("\xde\xad\xbe\xef"));
  for (std::string_view bad : {"0", "abc", "0g", "g0", "  ", "0x00", "-1", "zz", "12 4",
                               "\xc3\xa9\xc3\xa9"}) {
    EXPECT_FALSE(from_hex(bad).has_value()) << bad;
  }
  EXPECT_FALSE(from_hex(std::string_view("0\0", 2)).has_value());
  // Round trip with to_hex over every byte value.
  std::string all;
  for (int i = 0; i < 256; i++) all.push_back(static_cast<char>(i));
  EXPECT_EQ(from_hex(to_hex(all)), std::optional<std::string>(all));
}

TEST(Signing, ConcurrentSignAndVerify) {
  Ed25519Signer s = new_signer();
  Ed25519Verifier v = verifier_of(s);
  const std::string m = sst_signature_message(sha256_hex("concurrent"));
  const std::string sig = s.sign(m);
  std::string bad = sig;
  bad[5] = static_cast<char>(bad[5] ^ 1);

  constexpr int kThreads = 6;
  constexpr int kIters = 300;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      // Copies share the key; use both the shared object and a copy.
      Ed25519Verifier mine = v;
      for (int i = 0; i < kIters; i++) {
        const Ed25519Verifier& use = (i % 2 == 0) ? v : mine;
        if (!use.verify(m, sig)) failures++;
        if (use.verify(m, bad)) failures++;
        if (i % 10 == t % 10) {
          const std::string own = m + std::to_string(t * kIters + i);
          if (!use.verify(own, s.sign(own))) failures++;
          if (s.sign(m) != sig) failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace isle
