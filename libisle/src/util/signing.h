// Ed25519 signatures over SST digests (the writer signs each SST's sha256;
// readers verify). The signed message, the key id and where signatures are
// stored are specified in docs/format/signatures.md.
//
// Keys come in PEM: PKCS#8 "PRIVATE KEY" for signers, SubjectPublicKeyInfo
// "PUBLIC KEY" for verifiers. Only Ed25519 keys are accepted; any other key
// type, an encrypted key, or malformed text is InvalidArgument. OpenSSL
// stays behind the .cc: nothing here needs its headers.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isle/status.h"

namespace isle {

// Length in bytes of a raw Ed25519 signature and public key.
inline constexpr size_t kEd25519SignatureSize = 64;
inline constexpr size_t kEd25519PublicKeySize = 32;

namespace signing_detail {
struct Ed25519Key;  // the EVP_PKEY plus derived fields; defined in signing.cc
}  // namespace signing_detail

// Holds a private key. Copies are cheap and share the immutable key; all
// const methods may be called from any number of threads at once.
class Ed25519Signer {
 public:
  // Parses a PKCS#8 "PRIVATE KEY" PEM holding an Ed25519 key. Encrypted keys
  // are rejected (there is no passphrase prompt). Leading text before the
  // BEGIN line is ignored, as OpenSSL does; only the first key is read.
  static Result<Ed25519Signer> from_pem(std::string_view private_key_pem);
  // Reads the file and parses it like from_pem. A file that cannot be read
  // is IOError; bad contents are InvalidArgument. Messages name the path.
  static Result<Ed25519Signer> from_pem_file(const std::string& path);
  // A fresh random key (for tests and `isle keygen`).
  static Result<Ed25519Signer> generate();

  // Pure Ed25519 (RFC 8032, no prehash) signature of `message`: 64 raw bytes.
  // Deterministic: the same key and message give the same signature.
  // Cannot fail with a valid key; if OpenSSL itself fails (out of memory)
  // the process aborts rather than return a signature that is not one.
  std::string sign(std::string_view message) const;

  std::string public_key_pem() const;   // SubjectPublicKeyInfo "PUBLIC KEY"
  std::string private_key_pem() const;  // unencrypted PKCS#8 "PRIVATE KEY"
  std::string public_key_raw() const;   // the 32-byte RFC 8032 public key
  // First 16 lower-case hex chars of sha256(raw 32-byte public key). Equal
  // to the key_id() of a verifier built from public_key_pem().
  const std::string& key_id() const;

 private:
  explicit Ed25519Signer(std::shared_ptr<const signing_detail::Ed25519Key> key)
      : key_(std::move(key)) {}
  std::shared_ptr<const signing_detail::Ed25519Key> key_;  // never null; holds the private key
};

// Holds a public key. Copies are cheap; verify() is thread-safe.
class Ed25519Verifier {
 public:
  // Parses a SubjectPublicKeyInfo "PUBLIC KEY" PEM holding an Ed25519 key.
  // A private key PEM is rejected: configure readers with the public key.
  static Result<Ed25519Verifier> from_pem(std::string_view public_key_pem);
  // As from_pem, reading the file; IOError / InvalidArgument name the path.
  static Result<Ed25519Verifier> from_pem_file(const std::string& path);
  // From the 32-byte RFC 8032 public key; InvalidArgument on a wrong size.
  static Result<Ed25519Verifier> from_raw(std::string_view public_key);

  // True only if `signature` is a valid 64-byte Ed25519 signature of exactly
  // `message` under this key. False on any mismatch, wrong length or
  // malformed (e.g. non-canonical) signature; never fails otherwise.
  bool verify(std::string_view message, std::string_view signature) const;

  std::string public_key_pem() const;
  std::string public_key_raw() const;
  const std::string& key_id() const;  // as Ed25519Signer::key_id()

 private:
  friend class Ed25519KeyRing;
  explicit Ed25519Verifier(std::shared_ptr<const signing_detail::Ed25519Key> key)
      : key_(std::move(key)) {}
  std::shared_ptr<const signing_detail::Ed25519Key> key_;  // never null; public part only
};

// A set of public keys, picked by key id: what a reader or the compactor
// verifies SST signatures with, so that SSTs signed by the writer's key and
// by the compactor's key verify side by side, and a key can be rotated by
// adding the new public key before the signer switches to it
// (docs/format/signatures.md). Never empty. Copies are cheap; all methods
// are thread-safe.
class Ed25519KeyRing {
 public:
  // Parses every "PUBLIC KEY" PEM block in `text` (blocks simply
  // concatenated, text between them ignored). InvalidArgument when the text
  // holds no block, any block is not an Ed25519 public key (a private key
  // is rejected: verifiers take public keys), a BEGIN line has no matching
  // END line, or two different keys share a key id. The same key twice is
  // kept once.
  static Result<Ed25519KeyRing> from_pem(std::string_view text);
  // As from_pem, reading the file; IOError / InvalidArgument name the path.
  static Result<Ed25519KeyRing> from_pem_file(const std::string& path);
  // A ring of one key.
  explicit Ed25519KeyRing(Ed25519Verifier key) : keys_{std::move(key)} {}

  // The key with this key id; nullptr when the ring has none.
  const Ed25519Verifier* find(std::string_view key_id) const;
  const std::vector<Ed25519Verifier>& keys() const { return keys_; }
  // Every key's PUBLIC KEY PEM, concatenated: from_pem() of it gives the
  // same ring (how the daemons pass a key file through the options).
  std::string public_keys_pem() const;
  // The key ids, comma-separated, for messages.
  std::string key_ids() const;

 private:
  explicit Ed25519KeyRing(std::vector<Ed25519Verifier> keys) : keys_(std::move(keys)) {}
  std::vector<Ed25519Verifier> keys_;  // never empty; distinct key ids
};

// The exact message signed for an SST: "isle-sst-v1:" followed by the SST's
// SHA-256 as 64 lower-case hex chars. `sha256_hex` should be those 64 chars;
// upper-case letters are lower-cased so the message always follows the
// format, and nothing else is checked.
std::string sst_signature_message(std::string_view sha256_hex);

// The exact message signed for an INLINE SST (one whose bytes travel in its
// manifest log entry; docs/format/manifest.md, "Inline flushes"):
// "isle-inline-v1:" followed by the 64 lower-case hex chars of the SST's
// SHA-256, lower-cased as above. A distinct prefix, so a signature made for
// an inline SST can never pass as one for an SST object, nor the reverse.
std::string inline_signature_message(std::string_view sha256_hex);

// Decodes hex (either case) to raw bytes; nullopt on an odd length or any
// non-hex character. The empty string decodes to the empty string. The
// inverse of to_hex() in util/hash.h.
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace isle
