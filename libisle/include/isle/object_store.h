// ObjectStore: the one interface every bucket backend implements.
//
// IsleDB keeps all of its state in an object store and coordinates processes
// only through two primitives the store must provide atomically:
//   * create-only PUT  (S3 `If-None-Match: *`): exactly one concurrent
//     creator of a key wins; everyone else gets PreconditionFailed.
//   * if-match PUT     (S3 `If-Match: <etag>`): compare-and-swap on the
//     ETag of the current version; a stale ETag gets PreconditionFailed.
// Both are linearizable, also across processes and hosts.
//
// Contract for every implementation (checked by the conformance suite in
// cloud/conformance_test.cc):
//   * Keys are non-empty byte strings of at most 1024 bytes, '/'-separated.
//     Backends may reject keys they cannot represent (InvalidArgument).
//   * An ETag is an opaque token that changes on every successful write of
//     a key, even when the bytes written are the same.
//   * get() of a range returns the bytes in [offset, offset+length) clipped
//     to the object's end; an offset past the end is InvalidArgument.
//     A suffix range returns the last `length` bytes (all of them if the
//     object is shorter). GetResult::meta.size is always the full size.
//   * remove() of an absent key succeeds (idempotent, like S3 DELETE).
//   * list() returns keys with the prefix in ascending byte order, at most
//     max_keys per page, continuing after `start_after` (exclusive).
//   * Errors are typed (see status.h): NotFound, PreconditionFailed,
//     Transient, Throttled, UnknownOutcome, Permanent, InvalidArgument.
//   * All methods are safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isle/status.h"

namespace isle {

// Metadata of one stored object.
struct ObjectMeta {
  std::string key;
  uint64_t size = 0;
  std::string etag;          // opaque; changes on every write
  int64_t modified_ms = 0;   // last write, unix milliseconds (store's clock)
};

// A byte range of an object. `suffix` means "the last `length` bytes".
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool suffix = false;

  static ByteRange at(uint64_t offset, uint64_t length) { return {offset, length, false}; }
  static ByteRange last(uint64_t length) { return {0, length, true}; }
};

struct GetOptions {
  std::optional<ByteRange> range;  // whole object when empty
  // Conditional GET (HTTP If-None-Match): when non-empty and equal to the
  // object's current etag, the store sends no body and the result has
  // not_modified set (data empty, meta filled). For small objects polled
  // often, such as the manifest's CURRENT.
  std::string if_none_match;

  static GetOptions ranged(std::optional<ByteRange> r) {
    GetOptions o;
    o.range = r;
    return o;
  }
};

struct GetResult {
  std::string data;      // the requested bytes
  ObjectMeta meta;       // meta.size is the whole object's size
  uint64_t offset = 0;   // where `data` starts within the object
  bool not_modified = false;  // see GetOptions::if_none_match
};

enum class PutMode : unsigned char {
  kOverwrite,   // unconditional
  kCreateOnly,  // fail with PreconditionFailed if the key exists
  kIfMatch,     // fail with PreconditionFailed unless current etag == if_match
};

struct PutOptions {
  PutMode mode = PutMode::kOverwrite;
  std::string if_match;  // required for kIfMatch

  static PutOptions overwrite() { return {}; }
  static PutOptions create_only() { return {PutMode::kCreateOnly, {}}; }
  static PutOptions if_match_etag(std::string etag) { return {PutMode::kIfMatch, std::move(etag)}; }
};

struct ListOptions {
  std::string prefix;
  std::string start_after;  // exclusive; also the continuation token
  size_t max_keys = 1000;   // 1..1000 for every backend
};

struct ListPage {
  std::vector<ObjectMeta> objects;
  // When non-empty there may be more: pass it back as start_after.
  std::string next_start_after;
};

// The outcome of one key of a batch delete.
struct DeleteOutcome {
  std::string key;
  Status status;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Result<GetResult> get(std::string_view key, const GetOptions& options = {}) = 0;
  virtual Result<ObjectMeta> head(std::string_view key) = 0;
  // On success returns the new object's metadata (with its new etag).
  virtual Result<ObjectMeta> put(std::string_view key, std::string_view data,
                                 const PutOptions& options = {}) = 0;
  virtual Status remove(std::string_view key) = 0;
  // Deletes many keys (backends batch them, up to 1000 per request). The
  // returned vector has one outcome per key that failed; empty = all gone.
  virtual Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys);
  virtual Result<ListPage> list(const ListOptions& options) = 0;

  // The URL this store was opened from (credentials never included).
  virtual std::string url() const = 0;

  // Convenience: list every page. Stops at the first error.
  Result<std::vector<ObjectMeta>> list_all(std::string_view prefix);
};

using ObjectStorePtr = std::shared_ptr<ObjectStore>;

// Opens a store by URL:
//   mem://           a fresh, private in-memory store
//   mem://NAME       an in-memory store shared by every open of NAME in this
//                    process (for tests that run several roles in-process)
//   file:///ABS/DIR  a local folder (created if missing); atomic and durable
//                    across processes on one host
// Any other scheme returns NotSupported naming the scheme.
Result<ObjectStorePtr> open_object_store(std::string_view url);

}  // namespace isle
