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
    meta.sig_key_id = key.key_id();
  }
  Ed25519KeyRing verifier() const { return *Ed25519KeyRing::from_pem(key.public_key_pem()); }
};

TEST(SstVerify, TheSignersKeyAcceptsAndAnythingElseIsCorruption) {
  Signed s;
  EXPECT_TRUE(verify_sst_signature(s.meta, s.verifier()).ok());

  auto other = Ed25519Signer::generate();
  ASSERT_TRUE(other.ok());
  auto foreign_key = Ed25519KeyRing::from_pem(other->public_key_pem());
  ASSERT_TRUE(foreign_key.ok());
  Status foreign = verify_sst_signature(s.meta, *foreign_key);
  EXPECT_EQ(foreign.code(), Code::kCorruption);
  EXPECT_EQ(foreign.message(), "sst 0123abcd: signed by key " + s.key.key_id() +
                                   ", which is not among the verify keys (" + other->key_id() +
                                   ")");

  // A foreign key claiming the signer's key id: the signature decides.
  SstMeta claims_other = s.meta;
  claims_other.sig_key_id = other->key_id();
  Status wrong = verify_sst_signature(claims_other, *foreign_key);
  EXPECT_EQ(wrong.message(), "sst 0123abcd: invalid signature (verify_public_key_pem is set)");

  // No key id (written before key ids were recorded): any key of the ring
  // may verify it, none else.
  SstMeta no_id = s.meta;
  no_id.sig_key_id.clear();
  auto both = Ed25519KeyRing::from_pem(other->public_key_pem() + s.key.public_key_pem());
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(verify_sst_signature(no_id, *both).ok());
  EXPECT_EQ(verify_sst_signature(no_id, *foreign_key).code(), Code::kCorruption);

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

TEST(SstVerify, ARingPicksTheKeyBySigKeyId) {
  Signed writer, compactor;
  auto ring = Ed25519KeyRing::from_pem(writer.key.public_key_pem() + "\n" +
                                       compactor.key.public_key_pem());
  ASSERT_TRUE(ring.ok()) << ring.status().to_string();
  EXPECT_EQ(ring->keys().size(), 2u);
  EXPECT_TRUE(verify_sst_signature(writer.meta, *ring).ok());
  EXPECT_TRUE(verify_sst_signature(compactor.meta, *ring).ok());
  // Each SST under the other's key id fails.
  SstMeta swapped = writer.meta;
  swapped.sig_key_id = compactor.key.key_id();
  EXPECT_EQ(verify_sst_signature(swapped, *ring).code(), Code::kCorruption);
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
