// open_object_store: turns a store URL into a backend instance.
//
// Accepted forms (see isle/object_store.h):
//   mem://            a fresh private in-memory store
//   mem://NAME        the process-wide in-memory store called NAME
//   file:///ABS/DIR   a local folder; the path is percent-decoded, must be
//                     absolute, and no host part is allowed
//   s3://BUCKET?...   S3 and S3-compatible servers (cloud/s3_store.h)
//   gs://BUCKET?...   Google Cloud Storage, XML API with HMAC keys (same)
//   azblob://CONTAINER?endpoint=...  Azure Blob Storage (cloud/azure_store.h)
// Network stores check access at open (a wrong credential, region, bucket
// or endpoint fails here, once, with a message naming what to fix).
#include <cctype>
#include <string>

#include "cloud/azure_store.h"
#include "cloud/cloud_retry.h"
#include "cloud/s3_store.h"
#include "isle/object_store.h"
#include "store/file_store.h"
#include "store/mem_store.h"

namespace isle {

namespace {

// Splits "scheme://rest"; InvalidArgument when there is no valid scheme.
Status split_url(std::string_view url, std::string* scheme, std::string_view* rest) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return Status::InvalidArgument("malformed object store URL '" + std::string(url) +
                                   "': expected scheme://...");
  }
  std::string_view s = url.substr(0, sep);
  if (!std::isalpha(static_cast<unsigned char>(s[0]))) {
    return Status::InvalidArgument("malformed scheme in object store URL '" + std::string(url) +
                                   "'");
  }
  scheme->clear();
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '+' && c != '-' && c != '.') {
      return Status::InvalidArgument("malformed scheme in object store URL '" +
                                     std::string(url) + "'");
    }
    scheme->push_back(static_cast<char>(std::tolower(u)));
  }
  *rest = url.substr(sep + 3);
  return Status::OK();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; rejects bad escapes and NUL.
Status percent_decode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); i++) {
    char c = in[i];
    if (c == '%') {
      int hi = i + 2 < in.size() ? hex_value(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) return Status::InvalidArgument("bad percent escape in URL path");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return Status::InvalidArgument("NUL byte in URL path");
    out->push_back(c);
  }
  return Status::OK();
}

Result<ObjectStorePtr> open_mem(std::string_view rest) {
  if (rest.empty()) return ObjectStorePtr(std::make_shared<MemStore>("mem://"));
  for (char c : rest) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '/' || c == '?' || c == '#') {
      return Status::InvalidArgument("bad mem:// store name '" + std::string(rest) +
                                     "': no '/', '?', '#' or control characters");
    }
  }
  return ObjectStorePtr(MemStore::named(std::string(rest)));
}

Result<ObjectStorePtr> open_file(std::string_view url, std::string_view rest) {
  if (rest.empty() || rest[0] != '/') {
    return Status::InvalidArgument("file store URL '" + std::string(url) +
                                   "' must be file:///ABSOLUTE/PATH (no host, no relative path)");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument("file store URL '" + std::string(url) +
                                   "' must not have a query or fragment");
  }
  std::string path;
  ISLE_RETURN_IF_ERROR(percent_decode(rest, &path).with_context(std::string(url)));
  ISLE_ASSIGN_OR_RETURN(auto store, FileStore::open(path));
  return ObjectStorePtr(std::move(store));
}

}  // namespace

Result<ObjectStorePtr> open_object_store(std::string_view url) {
  std::string scheme;
  std::string_view rest;
  ISLE_RETURN_IF_ERROR(split_url(url, &scheme, &rest));
  if (scheme == "mem") return open_mem(rest);
  if (scheme == "file") return open_file(url, rest);
  if (scheme == "s3" || scheme == "gs") {
    ISLE_ASSIGN_OR_RETURN(S3Config config, s3_config_from_url(url, process_env()));
    ISLE_ASSIGN_OR_RETURN(auto store, S3Store::open(std::move(config)));
    return with_cloud_retries(std::move(store));
  }
  if (scheme == "azblob") {
    ISLE_ASSIGN_OR_RETURN(AzureConfig config, azure_config_from_url(url, process_env()));
    ISLE_ASSIGN_OR_RETURN(auto store, AzureStore::open(std::move(config)));
    return with_cloud_retries(std::move(store));
  }
  return Status::NotSupported("unsupported object store scheme '" + scheme + "' in URL '" +
                              std::string(url) +
                              "' (supported: mem://, file://, s3://, gs://, azblob://)");
}

}  // namespace isle
