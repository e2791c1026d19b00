// SST signature and digest checks (see sst_verify.h).
#include "lsm/sst_verify.h"

#include "util/hash.h"

namespace isle {

Status verify_sst_signature(const SstMeta& meta, const Ed25519Verifier& verifier) {
  if (meta.sig.empty()) {
    return Status::Corruption("sst " + meta.id + ": no signature (verify_public_key_pem is set)");
  }
  auto sig = from_hex(meta.sig);
  if (!sig || !verifier.verify(sst_signature_message(meta.sha256), *sig)) {
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

}  // namespace isle
