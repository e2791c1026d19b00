// FileStore implementation; see file_store.h for the invariants and
// docs/format/file-store.md for the on-disk layout and protocol.
//
// A put happens in three steps:
//   1. write header+payload to a fresh temp file in .isle-tmp/ and fsync it
//      (no lock held: the temp name is unique);
//   2. take the key's stripe lock (flock), create missing parent
//      directories (fsyncing the directory that gained each new entry),
//      check the condition and install the temp file: link(2) for
//      create-only (fails if the key exists), rename(2) otherwise;
//   3. fsync the object's directory, then release the lock.
// remove() unlinks under the same lock, then removes parent directories
// that became empty. That can race with a put of a sibling key that just
// created the directory, so step 2 retries when link/rename reports ENOENT.
#include "store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "store/file_key.h"
#include "store/file_object_header.h"
#include "store/store_common.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/random.h"

namespace isle {

namespace {

constexpr unsigned kLockStripes = 256;
constexpr int kMaxInstallAttempts = 100;
constexpr const char* kTmpDir = ".isle-tmp";
constexpr const char* kLockDir = ".isle-locks";
// Temp files untouched for this long belong to crashed writers.
constexpr int64_t kStaleTempMs = 60 * 60 * 1000;

// strerror_r comes in a GNU (returns char*) and an XSI (returns int)
// flavour; these overloads accept either.
[[maybe_unused]] std::string strerror_result(int, const char* buf) { return buf; }
[[maybe_unused]] std::string strerror_result(const char* msg, const char*) { return msg; }

std::string errno_text(int err) {
  char buf[128] = {0};
  return strerror_result(strerror_r(err, buf, sizeof buf), buf);
}

// Maps a failed system call to a Status naming the call and the path.
Status errno_status(std::string_view op, const std::string& path, int err) {
  std::string m = std::string(op) + " " + path + ": " + errno_text(err);
  switch (err) {
    case ENOENT:
      return Status::NotFound(std::move(m));
    case ENAMETOOLONG:
      return Status::InvalidArgument(std::move(m));
    default:
      return Status::IOError(std::move(m));
  }
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

int64_t mtime_ms(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

int retry_open(const std::string& path, int flags, mode_t mode = 0) {
  int fd;
  do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

// Reads up to `n` bytes at `offset`; *got tells how many (short only at EOF).
Status pread_all(int fd, char* buf, size_t n, uint64_t offset, const std::string& path,
                 size_t* got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = ::pread(fd, buf + *got, n - *got, static_cast<off_t>(offset + *got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_status("read", path, errno);
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return Status::OK();
}

Status fsync_dir(const std::string& dir) {
  int fd = retry_open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return errno_status("open directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status("fsync directory", dir, err);
  return Status::OK();
}

// mkdir -p of an absolute path; fsyncs the parent of every directory it
// creates.
Status make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); i++) {
    if (i != path.size() && path[i] != '/') continue;
    std::string dir = path.substr(0, i);
    if (::mkdir(dir.c_str(), 0777) == 0) {
      ISLE_RETURN_IF_ERROR(fsync_dir(parent_of(dir)));
    } else if (errno != EEXIST) {
      return errno_status("mkdir", dir, errno);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno_status("stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " is not a directory");
  return Status::OK();
}

// Percent-encodes everything but unreserved characters and '/'.
std::string encode_path(const std::string& path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// Removes `dir` if it holds nothing but (nested) empty directories, as a
// crash between mkdir and link can leave behind. False if anything else
// is inside or the removal failed.
bool remove_empty_tree(const std::string& dir, int depth) {
  if (depth > static_cast<int>(kMaxKeyBytes)) return false;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode) || !remove_empty_tree(dir + "/" + e->d_name, depth + 1)) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty && ::rmdir(dir.c_str()) == 0;
}

Status conflict(std::string_view key, const char* why) {
  return Status::InvalidArgument("object key '" + std::string(key) +
                                 "' cannot be stored by the file store: " + why);
}

// Deletes stale temp files left by writers that crashed (best effort).
void sweep_stale_temps(const std::string& tmp_dir) {
  DIR* d = ::opendir(tmp_dir.c_str());
  if (d == nullptr) return;
  const int64_t now = Clock::system()->now_ms();
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode) && now - mtime_ms(st) > kStaleTempMs) {
      ::unlinkat(::dirfd(d), e->d_name, 0);
    }
  }
  ::closedir(d);
}

}  // namespace

// An owned file descriptor; closing it also drops any flock on it.
class FileStore::Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Gives up ownership without closing.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

namespace {

// Unlinks a temp file on scope exit unless released.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

FileStore::FileStore(std::string root) : root_(std::move(root)), url_("file://" + encode_path(root_)) {}

Result<std::shared_ptr<FileStore>> FileStore::open(const std::string& root_in) {
  if (root_in.empty() || root_in[0] != '/') {
    return Status::InvalidArgument("file store root must be an absolute path: '" + root_in + "'");
  }
  std::string root = std::filesystem::path(root_in).lexically_normal().string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root == "/") return Status::InvalidArgument("refusing to use / as a file store root");
  ISLE_RETURN_IF_ERROR(make_dirs(root));
  ISLE_RETURN_IF_ERROR(make_dirs(root + "/" + kTmpDir));
  ISLE_RETURN_IF_ERROR(make_dirs(root + "/" + kLockDir));
  sweep_stale_temps(root + "/" + kTmpDir);
  return std::shared_ptr<FileStore>(new FileStore(std::move(root)));
}

std::string FileStore::path_of(std::string_view key) const {
  std::string p = root_;
  p += '/';
  p.append(key.data(), key.size());
  return p;
}

Status FileStore::lock_key(std::string_view key, Fd* lock) const {
  static const char kHex[] = "0123456789abcdef";
  unsigned stripe = static_cast<unsigned>(xxh3_64(key) % kLockStripes);
  std::string dir = root_ + "/" + kLockDir;
  std::string path = dir + "/" + kHex[stripe >> 4] + kHex[stripe & 15];
  int fd = retry_open(path, O_RDWR | O_CREAT, 0666);
  if (fd < 0 && errno == ENOENT) {  // someone deleted the lock folder
    ISLE_RETURN_IF_ERROR(make_dirs(dir));
    fd = retry_open(path, O_RDWR | O_CREAT, 0666);
  }
  if (fd < 0) return errno_status("open lock file", path, errno);
  lock->reset(fd);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return errno_status("flock", path, errno);
  }
  return Status::OK();
}

Status FileStore::make_parent_dirs(std::string_view key) const {
  // NotFound means a concurrent remove() pruned a directory on the way
  // (one we found or one we just made): start again from the root.
  for (int attempt = 1;; attempt++) {
    Status s = try_make_parent_dirs(key);
    if (!s.is_not_found() || attempt >= kMaxInstallAttempts) return s;
  }
}

Status FileStore::try_make_parent_dirs(std::string_view key) const {
  for (size_t slash = key.find('/'); slash != std::string_view::npos;
       slash = key.find('/', slash + 1)) {
    std::string dir = path_of(key.substr(0, slash));
    if (::mkdir(dir.c_str(), 0777) == 0) {
      ISLE_RETURN_IF_ERROR(fsync_dir(parent_of(dir)));
      continue;
    }
    int err = errno;
    if (err == EEXIST) continue;  // a directory, or an object: link/rename will tell
    if (err == ENOTDIR) return conflict(key, "a prefix of it is an existing object");
    return errno_status("mkdir", dir, err);  // ENOENT becomes NotFound: retried
  }
  return Status::OK();
}

Status FileStore::sync_nearest_dir(std::string dir) const {
  for (;;) {
    Status s = fsync_dir(dir);
    if (!s.is_not_found() || dir.size() <= root_.size()) return s;
    dir = parent_of(dir);
  }
}

Status FileStore::remove_empty_parents(std::string_view key) const {
  std::string dir = parent_of(path_of(key));
  while (dir.size() > root_.size()) {
    if (::rmdir(dir.c_str()) != 0) break;  // not empty (or gone): stop
    dir = parent_of(dir);
  }
  return Status::OK();
}

Result<ObjectMeta> FileStore::read_meta(int fd, std::string_view key, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno_status("fstat", path, errno);
  if (!S_ISREG(st.st_mode)) return Status::NotFound("no such object: " + path);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < kFileObjectHeaderSize) {
    return Status::Corruption(path + ": object file is " + std::to_string(size) +
                              " bytes, shorter than its header");
  }
  char header[kFileObjectHeaderSize];
  size_t got = 0;
  ISLE_RETURN_IF_ERROR(pread_all(fd, header, sizeof header, 0, path, &got));
  if (got != sizeof header) return Status::Corruption(path + ": object file shrank while read");
  auto etag = decode_file_object_header(std::string_view(header, sizeof header));
  if (!etag.ok()) return etag.status().with_context(path);
  return ObjectMeta{std::string(key), size - kFileObjectHeaderSize, std::move(etag).value(),
                    mtime_ms(st)};
}

namespace {
// Opens an object file for reading; NotFound when there is no object.
Status open_object(const std::string& path, int* fd) {
  // O_NONBLOCK keeps a stray FIFO from blocking us; O_NOFOLLOW refuses a
  // symlink planted in the folder.
  *fd = retry_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (*fd >= 0) return Status::OK();
  int err = errno;
  if (err == ENOENT || err == ENOTDIR || err == ELOOP) {
    return Status::NotFound("no such object: " + path);
  }
  return errno_status("open", path, err);
}
}  // namespace

Result<ObjectMeta> FileStore::head_path(std::string_view key, const std::string& path) const {
  int raw = -1;
  ISLE_RETURN_IF_ERROR(open_object(path, &raw));
  Fd fd(raw);
  return read_meta(fd.get(), key, path);
}

Result<ObjectMeta> FileStore::head(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_file_key(key));
  return head_path(key, path_of(key));
}

Result<GetResult> FileStore::get(std::string_view key, const GetOptions& options) {
  ISLE_RETURN_IF_ERROR(check_file_key(key));
  const std::string path = path_of(key);
  int raw = -1;
  ISLE_RETURN_IF_ERROR(open_object(path, &raw));
  Fd fd(raw);
  // Header and payload come from this one descriptor, so a concurrent
  // replace (a rename onto the path) cannot mix two versions.
  ISLE_ASSIGN_OR_RETURN(ObjectMeta meta, read_meta(fd.get(), key, path));
  GetResult out;
  if (!options.if_none_match.empty() && options.if_none_match == meta.etag) {
    out.meta = std::move(meta);
    out.not_modified = true;
    return out;
  }
  ISLE_ASSIGN_OR_RETURN(ResolvedRange r, resolve_range(options.range, meta.size));
  out.data.resize(r.length);
  size_t got = 0;
  ISLE_RETURN_IF_ERROR(
      pread_all(fd.get(), out.data.data(), r.length, kFileObjectHeaderSize + r.offset, path, &got));
  if (got != r.length) return Status::Corruption(path + ": object file shrank while read");
  out.meta = std::move(meta);
  out.offset = r.offset;
  return out;
}

Result<ObjectMeta> FileStore::put(std::string_view key, std::string_view data,
                                  const PutOptions& options) {
  ISLE_RETURN_IF_ERROR(check_file_key(key));
  if (options.mode == PutMode::kIfMatch && options.if_match.empty()) {
    return Status::InvalidArgument("if-match put without an etag");
  }
  const std::string target = path_of(key);

  // 1. The new version, complete and durable, under a unique temp name.
  const std::string token = new_file_object_token();
  TempFile tmp(root_ + "/" + kTmpDir + "/" + random_token() + ".tmp");
  struct stat st;
  {
    int raw = retry_open(tmp.path(), O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (raw < 0 && errno == ENOENT) {  // someone deleted the temp folder
      ISLE_RETURN_IF_ERROR(make_dirs(root_ + "/" + kTmpDir));
      raw = retry_open(tmp.path(), O_WRONLY | O_CREAT | O_EXCL, 0666);
    }
    if (raw < 0) {
      int err = errno;
      tmp.release();
      return errno_status("create temp file", root_ + "/" + kTmpDir, err);
    }
    Fd fd(raw);
    ISLE_RETURN_IF_ERROR(write_all(fd.get(), encode_file_object_header(token), tmp.path()));
    ISLE_RETURN_IF_ERROR(write_all(fd.get(), data, tmp.path()));
    if (::fsync(fd.get()) != 0) return errno_status("fsync", tmp.path(), errno);
    if (::fstat(fd.get(), &st) != 0) return errno_status("fstat", tmp.path(), errno);
    if (::close(fd.release()) != 0) return errno_status("close", tmp.path(), errno);
  }
  ObjectMeta meta{std::string(key), data.size(), to_hex(token), mtime_ms(st)};

  // 2. Install it under the key's lock.
  Fd lock;
  ISLE_RETURN_IF_ERROR(lock_key(key, &lock));
  for (int attempt = 1;; attempt++) {
    if (options.mode == PutMode::kIfMatch) {
      // The object exists (or we fail), so its directories do too, and
      // nobody can prune them while it is there.
      auto current = head_path(key, target);
      if (current.status().is_not_found()) {
        return Status::PreconditionFailed("if-match on a missing object: " + std::string(key));
      }
      if (!current.ok()) return current.status();
      if (current->etag != options.if_match) {
        return Status::PreconditionFailed("etag mismatch for " + std::string(key));
      }
    } else {
      ISLE_RETURN_IF_ERROR(make_parent_dirs(key));
    }
    const bool create = options.mode == PutMode::kCreateOnly;
    int rc = create ? ::link(tmp.path().c_str(), target.c_str())
                    : ::rename(tmp.path().c_str(), target.c_str());
    if (rc == 0) {
      if (!create) tmp.release();  // the rename consumed it
      break;
    }
    int err = errno;
    if (err == ENOENT && attempt < kMaxInstallAttempts) continue;  // parent pruned meanwhile
    if (err == ENOTDIR) return conflict(key, "a prefix of it is an existing object");
    struct stat tst;
    bool is_dir = (err == EEXIST || err == EISDIR || err == ENOTEMPTY) &&
                  ::lstat(target.c_str(), &tst) == 0 && S_ISDIR(tst.st_mode);
    if (is_dir) {
      // A directory sits where the object goes. If it is an empty leftover
      // it can go; if it holds other objects the key cannot be stored.
      if (remove_empty_tree(target, 0) && attempt < kMaxInstallAttempts) continue;
      return conflict(key, "other objects exist under it as a directory");
    }
    if (create && err == EEXIST) {
      return Status::PreconditionFailed("object already exists: " + std::string(key));
    }
    return errno_status(create ? "link" : "rename", target, err);
  }

  // 3. Durable before anyone is told.
  Status synced = fsync_dir(parent_of(target));
  if (!synced.ok()) {
    return Status::UnknownOutcome("object written but its directory was not synced: " +
                                  synced.to_string());
  }
  return meta;
}

Status FileStore::remove(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_file_key(key));
  const std::string target = path_of(key);
  Fd lock;
  ISLE_RETURN_IF_ERROR(lock_key(key, &lock));
  if (::unlink(target.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Status::OK();  // already absent
    struct stat st;
    if ((err == EISDIR || err == EPERM) && ::lstat(target.c_str(), &st) == 0 &&
        S_ISDIR(st.st_mode)) {
      return Status::OK();  // a directory of other keys, not an object
    }
    return errno_status("unlink", target, err);
  }
  // A concurrent remove of a sibling may already have pruned the parent;
  // then the nearest surviving ancestor is what must reach the disk.
  ISLE_RETURN_IF_ERROR(sync_nearest_dir(parent_of(target)));
  return remove_empty_parents(key);
}

Status FileStore::collect_keys(const std::string& rel_dir, const ListOptions& options,
                               std::vector<std::string>* out) const {
  const std::string dir_path = rel_dir.empty() ? root_ : root_ + "/" + rel_dir;
  DIR* d = ::opendir(dir_path.c_str());
  if (d == nullptr) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Status::OK();  // removed meanwhile
    return errno_status("opendir", dir_path, err);
  }
  Status status;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (rel_dir.empty() && name.starts_with(kReservedPrefix)) continue;  // .isle-tmp etc.
    std::string full = rel_dir;
    full += name;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_DIR) {
      full += '/';
      // Descend only if keys under full/ can have the prefix ...
      if (!full.starts_with(options.prefix) && !options.prefix.starts_with(full)) continue;
      // ... and can sort after start_after.
      if (full < options.start_after && !options.start_after.starts_with(full)) continue;
      if (full.size() >= kMaxKeyBytes) continue;
      status = collect_keys(full, options, out);
      if (!status.ok()) break;
    } else if (type == DT_REG) {
      if (!full.starts_with(options.prefix) || full <= options.start_after) continue;
      if (!check_file_key(full).ok()) continue;  // a stray file no put could have made
      out->push_back(std::move(full));
    }
  }
  ::closedir(d);
  return status;
}

Result<ListPage> FileStore::list(const ListOptions& options) {
  const size_t max_keys = clamp_max_keys(options.max_keys);
  std::vector<std::string> keys;
  ISLE_RETURN_IF_ERROR(collect_keys("", options, &keys));
  // Directory order is not key order ("a-b" < "a/b"), so sort.
  ListPage page;
  if (keys.size() > max_keys) {
    std::partial_sort(keys.begin(), keys.begin() + static_cast<ptrdiff_t>(max_keys), keys.end());
    keys.resize(max_keys);
    page.next_start_after = keys.back();
  } else {
    std::sort(keys.begin(), keys.end());
  }
  for (const auto& key : keys) {
    const std::string path = path_of(key);
    auto meta = head_path(key, path);
    if (meta.ok()) {
      page.objects.push_back(std::move(meta).value());
    } else if (meta.status().is_corruption()) {
      // Still listed, so it can be found and deleted; etag unknown.
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) continue;
      auto size = static_cast<uint64_t>(st.st_size);
      page.objects.push_back(ObjectMeta{
          key, size > kFileObjectHeaderSize ? size - kFileObjectHeaderSize : 0, "", mtime_ms(st)});
    } else if (!meta.status().is_not_found()) {
      return meta.status();
    }  // NotFound: removed since the directory walk
  }
  return page;
}

}  // namespace isle
