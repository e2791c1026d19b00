// Test support: fresh, empty stores on the real servers the test command
// starts (scripts/objstores/): Ceph RGW for s3:// and Azurite for azblob://.
//
// Each call makes a new bucket (container) with a random name, so every test
// starts empty and tests never see each other's objects. The returned
// store's url() names that bucket, so other processes can open it too. When
// the returned store is destroyed, its objects and the bucket are deleted
// (ISLE_TEST_KEEP_BUCKETS=1 keeps them). It has open_object_store's retry
// policy, like any store a user opens.
// When the server's variables are not set, the result is NotSupported with a
// message saying which script to run: tests GTEST_SKIP with that message
// rather than pass silently.
#pragma once

#include <string>

#include "isle/object_store.h"

namespace isle::testing {

// $ISLE_TEST_S3_URL with its bucket replaced by a fresh one.
Result<ObjectStorePtr> fresh_s3_store();
// $ISLE_TEST_AZURE_URL with its container replaced by a fresh one.
Result<ObjectStorePtr> fresh_azure_store();

// Replaces the bucket (the authority) of a store URL.
std::string with_bucket(const std::string& url, const std::string& bucket);

}  // namespace isle::testing
