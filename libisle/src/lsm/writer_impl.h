// Internal constructor of a Writer (DB::open_writer calls it): validates
// the options, claims the writer fence and starts the flush thread.
#pragma once

#include <memory>

#include "isle/manifest_storage.h"
#include "isle/object_store.h"
#include "isle/options.h"
#include "isle/writer.h"

namespace isle {

// `store` is already scoped to the database prefix.
Result<std::unique_ptr<Writer>> open_writer_impl(ObjectStorePtr store, const DBOptions& db,
                                                 WriterOptions options,
                                                 ManifestStoragePtr storage);

}  // namespace isle
