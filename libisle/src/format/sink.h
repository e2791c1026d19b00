// WritableSink: where an SstBuilder streams finished blocks.
//
// The builder only ever appends, in file order, so a sink can be an
// in-memory string (StringSink, for small SSTs and tests) or a local file
// (FileSink, for SSTs too big to hold in memory before upload).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "isle/status.h"

namespace isle {

class WritableSink {
 public:
  virtual ~WritableSink() = default;
  virtual Status append(std::string_view data) = 0;
  // Pushes buffered bytes to their destination (not necessarily durable).
  virtual Status flush() { return Status::OK(); }
};

class StringSink : public WritableSink {
 public:
  Status append(std::string_view data) override {
    contents_.append(data.data(), data.size());
    return Status::OK();
  }
  const std::string& contents() const { return contents_; }
  std::string release() { return std::move(contents_); }
  // Pre-sizes the buffer when the caller can estimate the output (saves
  // the copies and page faults of repeated doubling on large SSTs).
  void reserve(size_t n) { contents_.reserve(n); }

 private:
  std::string contents_;
};

// Writes a local file, created or truncated by open(). close() flushes,
// fsyncs when asked, and closes; the destructor closes without syncing.
class FileSink : public WritableSink {
 public:
  static Result<std::unique_ptr<FileSink>> open(const std::string& path);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  Status append(std::string_view data) override;
  Status flush() override;
  Status close(bool sync = true);
  const std::string& path() const { return path_; }

 private:
  FileSink(std::string path, std::FILE* f) : path_(std::move(path)), file_(f) {}
  Status error(std::string_view op) const;

  std::string path_;
  std::FILE* file_;
};

}  // namespace isle
