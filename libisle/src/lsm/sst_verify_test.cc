// The SST integrity checks on their own: a signature by the right key over
// the manifest's sha256 passes; a missing, malformed or foreign signature,
// a changed byte or a changed size is Corruption naming the SST.
#include "lsm/sst_verify.h"

#include <gtest/gtest.h>

#include "util/hash.h"
#include "util/signing.h"

namespace isle {
namespace {

struct Signed {
  std::string bytes = "pretend these are the bytes of an SST";
  SstMeta meta;
  Ed25519Signer key = *Ed25519Signer::generate();

  Signed() {
    meta.id = "0123abcd";
    meta.size = bytes.size();
    meta.sha256 = sha256_hex(bytes);
    meta.sig = to_hex(key.sign(sst_signature_message(meta.sha256)));
  }
  Ed25519Verifier verifier() const { return *Ed25519Verifier::from_pem(key.public_key_pem()); }
};

TEST(SstVerify, TheSignersKeyAcceptsAndAnythingElseIsCorruption) {
  Signed s;
  EXPECT_TRUE(verify_sst_signature(s.meta, s.verifier()).ok());

  auto other = Ed25519Signer::generate();
  ASSERT_TRUE(other.ok());
  auto foreign_key = Ed25519Verifier::from_pem(other->public_key_pem());
  ASSERT_TRUE(foreign_key.ok());
  Status foreign = verify_sst_signature(s.meta, *foreign_key);
  EXPECT_EQ(foreign.code(), Code::kCorruption);
  EXPECT_EQ(foreign.message(), "sst 0123abcd: invalid signature (verify_public_key_pem is set)");

  SstMeta unsigned_meta = s.meta;
  unsigned_meta.sig.clear();
  Status none = verify_sst_signature(unsigned_meta, s.verifier());
  EXPECT_EQ(none.code(), Code::kCorruption);
  EXPECT_EQ(none.message(), "sst 0123abcd: no signature (verify_public_key_pem is set)");

  SstMeta bad_hex = s.meta;
  bad_hex.sig[0] = 'z';
  EXPECT_EQ(verify_sst_signature(bad_hex, s.verifier()).code(), Code::kCorruption);

  // The signature covers the digest: another sha256 in the manifest fails.
  SstMeta other_digest = s.meta;
  other_digest.sha256 = sha256_hex("other bytes");
  EXPECT_EQ(verify_sst_signature(other_digest, s.verifier()).code(), Code::kCorruption);
}

TEST(SstVerify, BytesMustHaveTheManifestsSizeAndDigest) {
  Signed s;
  EXPECT_TRUE(verify_sst_bytes(s.meta, s.bytes).ok());
  std::string flipped = s.bytes;
  flipped[5] ^= 0x01;
  Status changed = verify_sst_bytes(s.meta, flipped);
  EXPECT_EQ(changed.code(), Code::kCorruption);
  EXPECT_EQ(changed.message(), "sst 0123abcd: sha256 or size does not match the manifest");
  EXPECT_EQ(verify_sst_bytes(s.meta, s.bytes + "x").code(), Code::kCorruption);
  EXPECT_EQ(verify_sst_bytes(s.meta, s.bytes.substr(1)).code(), Code::kCorruption);
  EXPECT_EQ(verify_sst_bytes(s.meta, "").code(), Code::kCorruption);
}

}  // namespace
}  // namespace isle
