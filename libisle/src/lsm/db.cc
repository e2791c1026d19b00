// DB: option checks and the wiring of roles to one bucket prefix.
#include "isle/db.h"

#include "lsm/writer_impl.h"
#include "lsm/engine_store.h"

namespace isle {

Result<DB> DB::open(ObjectStorePtr store, DBOptions options) {
  if (!store) return Status::InvalidArgument("DB::open: no object store");
  if (options.lease.count() <= 0) return Status::InvalidArgument("lease must be positive");
  if (options.gc_grace <= options.lease) {
    return Status::InvalidArgument("gc_grace (" + std::to_string(options.gc_grace.count()) +
                                   " ms) must be longer than the lease (" +
                                   std::to_string(options.lease.count()) + " ms)");
  }
  return DB(std::move(store), std::move(options));
}

Result<std::unique_ptr<Writer>> DB::open_writer(WriterOptions options) const {
  ObjectStorePtr scoped =
      engine_store(store_, options_.prefix, options.retry_backoff, options_.hedging);
  ManifestStoragePtr storage = options_.manifest_storage
                                   ? options_.manifest_storage
                                   : object_store_manifest_storage(scoped);
  return open_writer_impl(std::move(scoped), options_, std::move(options), std::move(storage));
}

Result<std::unique_ptr<Reader>> DB::open_reader(ReaderOptions options) const {
  options.prefix = options_.prefix;
  if (!options.manifest_storage) options.manifest_storage = options_.manifest_storage;
  options.lease = options_.lease;
  if (!options.clock) options.clock = options_.clock;
  return Reader::open(store_, std::move(options));
}

}  // namespace isle
