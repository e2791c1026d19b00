// FileStore: the `file://` backend, an ObjectStore in a local folder.
//
// Layout (docs/format/file-store.md has the byte-level details):
//   <root>/K            object K; '/' in K become directories, so the folder
//                       is browsable. Each file is a 32-byte header (magic,
//                       version, 16-byte random ETag token, header checksum)
//                       followed by the payload.
//   <root>/.isle-tmp/   temp files being written (ignored by list)
//   <root>/.isle-locks/ 256 lock-stripe files for flock(2)
//
// Invariants:
//   * Every mutation of key K (put in any mode, remove) holds the exclusive
//     flock of stripe xxh3_64(K) % 256 while it checks and changes <root>/K, so
//     create-only and if-match are linearizable across threads and
//     processes on this host. Reads take no lock: a file is only ever
//     replaced whole by rename(2)/link(2), and get() reads the header and
//     payload from one open descriptor, so it sees exactly one version.
//   * A put reports success only after the object file, its directory, and
//     any directories it created are fsynced.
//   * The ETag is the hex of 16 random bytes written into the header, so it
//     changes on every write, even of identical bytes.
//   * Keys never escape the root: see check_file_key (file_key.h).
//   * A key cannot be both an object and a directory prefix of another
//     object ("a" and "a/b"); such a put fails with InvalidArgument and
//     changes nothing.
//   * If the final directory fsync fails after the new version became
//     visible, put returns UnknownOutcome (the write may not be durable).
//   * list() reports an object whose header is unreadable with an empty
//     etag (head/get return Corruption for it) so it can still be found
//     and deleted.
//   * Only for one host's local filesystem: flock(2) and rename(2) are
//     not trusted on network filesystems.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "isle/object_store.h"

namespace isle {

class FileStore : public ObjectStore {
 public:
  // Opens (creating if missing, with parents) the folder at absolute path
  // `root`.
  static Result<std::shared_ptr<FileStore>> open(const std::string& root);

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return url_; }

  // The folder, absolute and normalized, without a trailing '/'.
  const std::string& root() const { return root_; }

 private:
  class Fd;
  explicit FileStore(std::string root);

  std::string path_of(std::string_view key) const;
  Status lock_key(std::string_view key, Fd* lock) const;
  Status make_parent_dirs(std::string_view key) const;
  Status try_make_parent_dirs(std::string_view key) const;
  // fsyncs `dir`, or its nearest ancestor still present (up to the root).
  Status sync_nearest_dir(std::string dir) const;
  Status remove_empty_parents(std::string_view key) const;
  Status collect_keys(const std::string& rel_dir, const ListOptions& options,
                      std::vector<std::string>* out) const;
  // Reads the metadata of an open object file; `path` is for messages.
  static Result<ObjectMeta> read_meta(int fd, std::string_view key, const std::string& path);
  Result<ObjectMeta> head_path(std::string_view key, const std::string& path) const;

  const std::string root_;  // absolute, no trailing '/'
  const std::string url_;   // file:// + percent-encoded root
};

}  // namespace isle
