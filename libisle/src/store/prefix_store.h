// PrefixStore: a view of one "folder" of another store. Every key the
// caller passes is joined under the prefix; list results come back with the
// prefix removed. A database lives under one prefix of a bucket
// (DBOptions::prefix), and everything above this layer speaks in keys
// relative to it ("manifest/CURRENT", "sstable/<id>.sst").
//
// An empty prefix returns the inner store itself (no wrapper). A non-empty
// prefix is normalised to end with exactly one '/'.
#pragma once

#include <string>

#include "isle/object_store.h"

namespace isle {

ObjectStorePtr with_prefix(ObjectStorePtr inner, std::string prefix);

}  // namespace isle
