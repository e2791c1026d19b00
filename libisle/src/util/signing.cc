// Ed25519 signing and verification over OpenSSL's EVP interface. See
// util/signing.h for the contract and docs/format/signatures.md for the
// format. Keys are immutable once built, so they are shared between copies
// and threads; every sign/verify call uses its own EVP_MD_CTX.
#include "util/signing.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "util/hash.h"

namespace isle {

namespace signing_detail {

struct Ed25519Key {
  EVP_PKEY* pkey = nullptr;  // owned
  bool has_private = false;
  std::string raw_public;    // 32 bytes
  std::string key_id;        // 16 hex chars

  Ed25519Key() = default;
  Ed25519Key(const Ed25519Key&) = delete;
  Ed25519Key& operator=(const Ed25519Key&) = delete;
  ~Ed25519Key() { EVP_PKEY_free(pkey); }
};

}  // namespace signing_detail

namespace {

using signing_detail::Ed25519Key;

// Key files are a few hundred bytes; anything this large is not a key.
constexpr size_t kMaxPemSize = 1 << 20;

constexpr std::string_view kMessagePrefix = "isle-sst-v1:";

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// Drains this thread's OpenSSL error queue, returning the reason of the
// most recent error ("" when there is none). Every failure path calls it so
// no stale error is left behind for unrelated OpenSSL users.
std::string take_openssl_error() {
  std::string reason;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    const char* r = ERR_reason_error_string(e);
    reason = r != nullptr ? r : "error " + std::to_string(e);
  }
  return reason;
}

// Out of memory inside OpenSSL, for operations that cannot fail otherwise.
[[noreturn]] void openssl_fatal(const char* what) {
  std::string reason = take_openssl_error();
  std::fprintf(stderr, "isle: OpenSSL failed in %s: %s\n", what, reason.c_str());
  std::abort();
}

// Never prompts: an encrypted PEM simply fails to load.
int no_passphrase(char*, int, int, void*) { return -1; }

// strerror_r comes in a GNU (returns char*) and an XSI (returns int) flavour.
[[maybe_unused]] std::string strerror_result(int, const char* buf) { return buf; }
[[maybe_unused]] std::string strerror_result(const char* msg, const char*) { return msg; }

std::string errno_text(int err) {
  char buf[256] = {0};
  return strerror_result(strerror_r(err, buf, sizeof buf), buf);
}

// A zero-length message may come with a null data(); OpenSSL wants a pointer.
const unsigned char* bytes_of(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.data() != nullptr ? reinterpret_cast<const unsigned char*>(s.data()) : &kEmpty;
}

Result<BioPtr> pem_bio(std::string_view pem) {
  if (pem.empty()) return Status::InvalidArgument("empty PEM text");
  if (pem.size() > kMaxPemSize) {
    return Status::InvalidArgument("PEM text too large (" + std::to_string(pem.size()) + " bytes)");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) openssl_fatal("BIO_new_mem_buf");
  return bio;
}

// Checks the type and fills the derived fields. Takes ownership of pkey.
Result<std::shared_ptr<const Ed25519Key>> wrap_key(EVP_PKEY* pkey, bool has_private) {
  auto key = std::make_shared<Ed25519Key>();
  key->pkey = pkey;
  key->has_private = has_private;
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
    const char* name = EVP_PKEY_get0_type_name(pkey);
    take_openssl_error();
    return Status::InvalidArgument(std::string("not an Ed25519 key (found ") +
                                   (name != nullptr ? name : "an unknown key type") + ")");
  }
  unsigned char raw[kEd25519PublicKeySize];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != sizeof raw) {
    return Status::InvalidArgument("cannot extract the Ed25519 public key: " + take_openssl_error());
  }
  key->raw_public.assign(reinterpret_cast<char*>(raw), len);
  key->key_id = sha256_hex(key->raw_public).substr(0, 16);
  return std::shared_ptr<const Ed25519Key>(std::move(key));
}

// Wording for a PEM that did not parse. OpenSSL 3 only reports "unsupported"
// here, so the message says what is wrong with the text instead, with a hint
// when it holds the other kind of key (the commonest mix-up).
Status pem_parse_error(std::string_view pem, bool want_private) {
  take_openssl_error();
  const std::string_view want = want_private ? "PKCS#8 PRIVATE KEY" : "PUBLIC KEY";
  std::string msg;
  if (pem.find("-----BEGIN ") == std::string_view::npos) {
    msg = "not PEM text (no -----BEGIN line)";
  } else if (want_private && pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos) {
    msg = "encrypted private keys are not supported; store the key unencrypted";
  } else if (want_private && pem.find("-----BEGIN PRIVATE KEY-----") == std::string_view::npos &&
             pem.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos) {
    msg = "the PEM holds a public key; signing needs the private key";
  } else if (!want_private && pem.find("-----BEGIN PUBLIC KEY-----") == std::string_view::npos &&
             pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    msg = "the PEM holds a private key; verifiers take the public key";
  } else {
    msg = "malformed or truncated PEM: no ";
    msg += want;
    msg += " could be decoded";
  }
  return Status::InvalidArgument(std::move(msg));
}

Result<std::shared_ptr<const Ed25519Key>> parse_private(std::string_view pem) {
  ISLE_ASSIGN_OR_RETURN(BioPtr bio, pem_bio(pem));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (pkey == nullptr) return pem_parse_error(pem, true);
  return wrap_key(pkey, true);
}

Result<std::shared_ptr<const Ed25519Key>> parse_public(std::string_view pem) {
  ISLE_ASSIGN_OR_RETURN(BioPtr bio, pem_bio(pem));
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr);
  if (pkey == nullptr) return pem_parse_error(pem, false);
  return wrap_key(pkey, false);
}

// Reads a whole (small) file. The buffer is wiped by the caller when it may
// hold a private key.
Result<std::string> read_key_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    return Status::IOError("cannot open key file " + path + ": " + errno_text(err));
  }
  std::string data;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    data.append(buf, n);
    if (data.size() > kMaxPemSize) break;
  }
  int read_err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  OPENSSL_cleanse(buf, sizeof buf);
  if (read_err != 0) {
    OPENSSL_cleanse(data.data(), data.size());
    return Status::IOError("cannot read key file " + path + ": " + errno_text(read_err));
  }
  if (data.size() > kMaxPemSize) {
    OPENSSL_cleanse(data.data(), data.size());
    return Status::InvalidArgument("key file " + path + " is too large to be a PEM key");
  }
  return data;
}

// Writes a key as PEM through `write` (PEM_write_bio_PrivateKey or _PUBKEY).
// Private keys go through a secure-memory BIO, which is wiped when freed.
template <typename Write>
std::string write_pem(bool secret, Write write) {
  BioPtr bio(BIO_new(secret ? BIO_s_secmem() : BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) openssl_fatal("PEM write");
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  if (n < 0 || (n > 0 && p == nullptr)) openssl_fatal("BIO_get_mem_data");
  return std::string(p, static_cast<size_t>(n));
}

std::string public_pem_of(const Ed25519Key& key) {
  return write_pem(false, [&](BIO* b) { return PEM_write_bio_PUBKEY(b, key.pkey); });
}

}  // namespace

// ---- Ed25519Signer ----

Result<Ed25519Signer> Ed25519Signer::from_pem(std::string_view private_key_pem) {
  ISLE_ASSIGN_OR_RETURN(auto key, parse_private(private_key_pem));
  return Ed25519Signer(std::move(key));
}

Result<Ed25519Signer> Ed25519Signer::from_pem_file(const std::string& path) {
  ISLE_ASSIGN_OR_RETURN(std::string pem, read_key_file(path));
  auto key = parse_private(pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key.ok()) return key.status().with_context("private key file " + path);
  return Ed25519Signer(std::move(key).value());
}

Result<Ed25519Signer> Ed25519Signer::generate() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &pkey) != 1) {
    EVP_PKEY_free(pkey);
    return Status::IOError("Ed25519 key generation failed: " + take_openssl_error());
  }
  ISLE_ASSIGN_OR_RETURN(auto key, wrap_key(pkey, true));
  return Ed25519Signer(std::move(key));
}

std::string Ed25519Signer::sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned char sig[kEd25519SignatureSize];
  size_t len = sizeof sig;
  // Ed25519 is "pure": no digest is named, the whole message is signed.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, bytes_of(message), message.size()) != 1 ||
      len != sizeof sig) {
    openssl_fatal("Ed25519 sign");
  }
  return std::string(reinterpret_cast<char*>(sig), len);
}

std::string Ed25519Signer::public_key_pem() const { return public_pem_of(*key_); }

std::string Ed25519Signer::private_key_pem() const {
  return write_pem(true, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key_->pkey, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

std::string Ed25519Signer::public_key_raw() const { return key_->raw_public; }

const std::string& Ed25519Signer::key_id() const { return key_->key_id; }

// ---- Ed25519Verifier ----

Result<Ed25519Verifier> Ed25519Verifier::from_pem(std::string_view public_key_pem) {
  ISLE_ASSIGN_OR_RETURN(auto key, parse_public(public_key_pem));
  return Ed25519Verifier(std::move(key));
}

Result<Ed25519Verifier> Ed25519Verifier::from_pem_file(const std::string& path) {
  ISLE_ASSIGN_OR_RETURN(std::string pem, read_key_file(path));
  auto key = parse_public(pem);
  // The file may be a private key given by mistake; don't leave it around.
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key.ok()) return key.status().with_context("public key file " + path);
  return Ed25519Verifier(std::move(key).value());
}

Result<Ed25519Verifier> Ed25519Verifier::from_raw(std::string_view public_key) {
  if (public_key.size() != kEd25519PublicKeySize) {
    return Status::InvalidArgument("an Ed25519 public key is 32 bytes, got " +
                                   std::to_string(public_key.size()));
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes_of(public_key),
                                               public_key.size());
  if (pkey == nullptr) {
    return Status::InvalidArgument("not a valid Ed25519 public key: " + take_openssl_error());
  }
  ISLE_ASSIGN_OR_RETURN(auto key, wrap_key(pkey, false));
  return Ed25519Verifier(std::move(key));
}

bool Ed25519Verifier::verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != kEd25519SignatureSize) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey) != 1) {
    take_openssl_error();
    return false;
  }
  int rc = EVP_DigestVerify(ctx.get(), bytes_of(signature), signature.size(), bytes_of(message),
                            message.size());
  if (rc != 1) take_openssl_error();  // a bad signature queues an error
  return rc == 1;
}

std::string Ed25519Verifier::public_key_pem() const { return public_pem_of(*key_); }

std::string Ed25519Verifier::public_key_raw() const { return key_->raw_public; }

const std::string& Ed25519Verifier::key_id() const { return key_->key_id; }

// ---- Ed25519KeyRing ----

Result<Ed25519KeyRing> Ed25519KeyRing::from_pem(std::string_view text) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  static constexpr std::string_view kDashes = "-----";
  std::vector<Ed25519Verifier> keys;
  size_t pos = 0;
  for (;;) {
    const size_t begin = text.find(kBegin, pos);
    if (begin == std::string_view::npos) break;
    const size_t label_at = begin + kBegin.size();
    const size_t label_end = text.find(kDashes, label_at);
    if (label_end == std::string_view::npos) {
      return Status::InvalidArgument("malformed PEM: a BEGIN line is not closed by -----");
    }
    const std::string label(text.substr(label_at, label_end - label_at));
    const std::string end_line = "-----END " + label + "-----";
    const size_t end = text.find(end_line, label_end);
    if (end == std::string_view::npos) {
      return Status::InvalidArgument("malformed PEM: no " + end_line + " line after block " +
                                     std::to_string(keys.size() + 1));
    }
    if (label != "PUBLIC KEY") {
      if (label.find("PRIVATE KEY") != std::string::npos) {
        return Status::InvalidArgument(
            "the PEM holds a private key; verifiers take the public key");
      }
      return Status::InvalidArgument("the PEM holds a " + label +
                                     " block; only PUBLIC KEY blocks are accepted");
    }
    const size_t block_end = end + end_line.size();
    auto key = parse_public(text.substr(begin, block_end - begin));
    if (!key.ok()) {
      return key.status().with_context("public key " + std::to_string(keys.size() + 1));
    }
    Ed25519Verifier v(std::move(key).value());
    bool duplicate = false;
    for (const auto& k : keys) {
      if (k.key_id() != v.key_id()) continue;
      if (k.public_key_raw() != v.public_key_raw()) {
        return Status::InvalidArgument("two different public keys share the key id " + v.key_id());
      }
      duplicate = true;
    }
    if (!duplicate) keys.push_back(std::move(v));
    pos = block_end;
  }
  if (keys.empty()) {
    return Status::InvalidArgument(text.find("-----BEGIN ") == std::string_view::npos
                                       ? "not PEM text (no -----BEGIN line)"
                                       : "no PUBLIC KEY block");
  }
  return Ed25519KeyRing(std::move(keys));
}

Result<Ed25519KeyRing> Ed25519KeyRing::from_pem_file(const std::string& path) {
  ISLE_ASSIGN_OR_RETURN(std::string pem, read_key_file(path));
  auto ring = from_pem(pem);
  // The file may hold a private key given by mistake; don't leave it around.
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!ring.ok()) return ring.status().with_context("public key file " + path);
  return ring;
}

const Ed25519Verifier* Ed25519KeyRing::find(std::string_view key_id) const {
  for (const auto& k : keys_) {
    if (k.key_id() == key_id) return &k;
  }
  return nullptr;
}

std::string Ed25519KeyRing::public_keys_pem() const {
  std::string out;
  for (const auto& k : keys_) out += k.public_key_pem();
  return out;
}

std::string Ed25519KeyRing::key_ids() const {
  std::string out;
  for (const auto& k : keys_) {
    if (!out.empty()) out += ",";
    out += k.key_id();
  }
  return out;
}

// ---- helpers ----

namespace {
std::string prefixed_digest(std::string_view prefix, std::string_view sha256_hex) {
  std::string m;
  m.reserve(prefix.size() + sha256_hex.size());
  m.append(prefix);
  for (char c : sha256_hex) m.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  return m;
}
}  // namespace

std::string sst_signature_message(std::string_view sha256_hex) {
  return prefixed_digest(kMessagePrefix, sha256_hex);
}

std::string inline_signature_message(std::string_view sha256_hex) {
  return prefixed_digest("isle-inline-v1:", sha256_hex);
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

}  // namespace isle
