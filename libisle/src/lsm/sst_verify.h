// The integrity checks of an SST against its manifest entry, for every
// path that serves data from an SST under ReaderOptions::verify_sst_sha256
// or ::verify_public_key_pem (the Reader's table opener, the change feed).
//
// Invariants: the signature is checked against the manifest's sha256 (the
// signed message is sst_signature_message(meta.sha256)), and the bytes are
// checked against that same sha256 and size, so a verified SST's bytes are
// exactly what the key holder signed. Nothing may be read from the bytes
// before verify_sst_bytes accepted them. Every failure is Corruption
// naming the SST id.
#pragma once

#include <string_view>

#include "isle/status.h"
#include "manifest/manifest_types.h"
#include "util/signing.h"

namespace isle {

// OK when meta.sig is a valid signature by `verifier` of meta.sha256;
// Corruption ("no signature" / "invalid signature") otherwise.
Status verify_sst_signature(const SstMeta& meta, const Ed25519Verifier& verifier);

// OK when `data`, the whole SST object, has meta.size bytes and sha256
// meta.sha256; Corruption otherwise.
Status verify_sst_bytes(const SstMeta& meta, std::string_view data);

}  // namespace isle
