// StoreOp: the six ObjectStore operations, named once so that the metrics
// and fault-injection decorators (and anything reporting on them) agree on
// the set and the spelling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace isle {

enum class StoreOp : uint8_t {
  kGet = 0,
  kHead,
  kPut,
  kRemove,
  kRemoveBatch,
  kList,
};
constexpr size_t kStoreOpCount = 6;

// Stable lower-case name: "get", "head", "put", "remove", "remove_batch",
// "list".
constexpr std::string_view store_op_name(StoreOp op) {
  switch (op) {
    case StoreOp::kGet: return "get";
    case StoreOp::kHead: return "head";
    case StoreOp::kPut: return "put";
    case StoreOp::kRemove: return "remove";
    case StoreOp::kRemoveBatch: return "remove_batch";
    case StoreOp::kList: return "list";
  }
  return "unknown";
}

// True for operations that only read (get, head, list).
constexpr bool store_op_is_read(StoreOp op) {
  return op == StoreOp::kGet || op == StoreOp::kHead || op == StoreOp::kList;
}

}  // namespace isle
