// DB: the entry point of the embedded API. It names a database — an object
// store plus a prefix — and opens its roles:
//
//   auto store = open_object_store("file:///var/lib/isle");
//   DBOptions options;
//   options.prefix = "events";
//   auto db = DB::open(*store, options);
//   auto writer = db->open_writer({});   // at most one live writer
//   auto reader = db->open_reader({});   // as many as you like
//
// DB itself holds no connection and no state beyond its options; it is a
// cheap value to copy. Roles coordinate only through the manifest in the
// bucket (DESIGN §3), so they may as well live in different processes.
#pragma once

#include <memory>

#include "isle/object_store.h"
#include "isle/options.h"
#include "isle/reader.h"
#include "isle/status.h"
#include "isle/writer.h"

namespace isle {

class DB {
 public:
  // Validates the options (lease < grace, ...). Touches no object.
  static Result<DB> open(ObjectStorePtr store, DBOptions options = {});

  // Claims the writer fence (fencing any previous writer) and replays the
  // manifest. Fails if the store cannot be read or the manifest is corrupt.
  Result<std::unique_ptr<Writer>> open_writer(WriterOptions options = {}) const;
  // Reader::open with this database's prefix, manifest storage, lease and
  // clock filled in.
  Result<std::unique_ptr<Reader>> open_reader(ReaderOptions options = {}) const;

  const ObjectStorePtr& store() const { return store_; }
  const DBOptions& options() const { return options_; }

 private:
  DB(ObjectStorePtr store, DBOptions options)
      : store_(std::move(store)), options_(std::move(options)) {}
  ObjectStorePtr store_;
  DBOptions options_;
};

}  // namespace isle
