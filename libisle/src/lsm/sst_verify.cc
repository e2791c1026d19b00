// SST signature and digest checks (see sst_verify.h).
#include "lsm/sst_verify.h"

#include "util/hash.h"

namespace isle {

Status verify_sst_signature(const SstMeta& meta, const Ed25519KeyRing& keys) {
  if (meta.sig.empty()) {
    return Status::Corruption("sst " + meta.id + ": no signature (verify_public_key_pem is set)");
  }
  auto sig = from_hex(meta.sig);
  const std::string message = meta.is_inline() ? inline_signature_message(meta.sha256)
                                               : sst_signature_message(meta.sha256);
  bool ok = false;
  if (!meta.sig_key_id.empty()) {
    const Ed25519Verifier* key = keys.find(meta.sig_key_id);
    if (key == nullptr) {
      return Status::Corruption("sst " + meta.id + ": signed by key " + meta.sig_key_id +
                                ", which is not among the verify keys (" + keys.key_ids() + ")");
    }
    ok = sig && key->verify(message, *sig);
  } else if (sig) {
    for (const auto& key : keys.keys()) {
      if (key.verify(message, *sig)) {
        ok = true;
        break;
      }
    }
  }
  if (!ok) {
    return Status::Corruption("sst " + meta.id +
                              ": invalid signature (verify_public_key_pem is set)");
  }
  return Status::OK();
}

Status verify_sst_bytes(const SstMeta& meta, std::string_view data) {
  if (data.size() != meta.size || sha256_hex(data) != meta.sha256) {
    return Status::Corruption("sst " + meta.id + ": sha256 or size does not match the manifest");
  }
  return Status::OK();
}

Status SstBytesVerifier::finish() {
  if (seen_ != meta_.size || sha_.hex() != meta_.sha256) {
    return Status::Corruption("sst " + meta_.id + ": sha256 or size does not match the manifest");
  }
  return Status::OK();
}

}  // namespace isle
