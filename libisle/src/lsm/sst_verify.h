// The integrity checks of an SST against its manifest entry, for every
// path that serves data from an SST under ReaderOptions::verify_sst_sha256
// or ::verify_public_key_pem (the Reader's table opener, the change feed).
//
// Invariants: the signature is checked against the manifest's sha256 (the
// signed message is sst_signature_message(meta.sha256), or
// inline_signature_message(meta.sha256) for an inline SST), and the bytes are
// checked against that same sha256 and size, so a verified SST's bytes are
// exactly what the key holder signed. Nothing may be read from the bytes
// before verify_sst_bytes accepted them. Every failure is Corruption
// naming the SST id.
#pragma once

#include <cstdint>
#include <string_view>

#include "isle/status.h"
#include "manifest/manifest_types.h"
#include "util/hash.h"
#include "util/signing.h"

namespace isle {

// OK when meta.sig is a valid signature of meta.sha256 by the ring's key
// named meta.sig_key_id; Corruption ("no signature" / "signed by key <id>,
// which is not among the verify keys" / "invalid signature") otherwise. An
// SST whose manifest entry carries a signature but no key id is accepted
// when any key of the ring verifies it (the key id only picks the key; the
// signature is what is checked).
Status verify_sst_signature(const SstMeta& meta, const Ed25519KeyRing& keys);

// OK when `data`, the whole SST object, has meta.size bytes and sha256
// meta.sha256; Corruption otherwise.
Status verify_sst_bytes(const SstMeta& meta, std::string_view data);

// The streaming form of verify_sst_bytes, for SSTs too big to hold whole:
// update() with every byte of the object in order, then finish() (once)
// says OK or gives the same Corruption as verify_sst_bytes.
class SstBytesVerifier {
 public:
  explicit SstBytesVerifier(const SstMeta& meta) : meta_(meta) {}
  void update(std::string_view bytes) {
    seen_ += bytes.size();
    sha_.update(bytes);
  }
  Status finish();

 private:
  const SstMeta& meta_;
  uint64_t seen_ = 0;
  Sha256 sha_;
};

}  // namespace isle
