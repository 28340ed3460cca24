// How deep a pickle (a torch.save or torch.jit.save record: data.pkl, constants.pkl, a
// .debug_pkl) nests its values, found by running its opcodes over a stack of placeholders
// before LibTorch unpickles it: LibTorch builds and frees nested lists, tuples and dicts by
// recursion, so a file of a few hundred kilobytes nesting a list 200,000 deep ends a worker
// with a stack overflow. Real files nest a few levels (a dict of tensors; a module's attributes
// by its submodules' depth).
#ifndef POLYTRAIN_COMMON_PICKLE_NESTING_H_
#define POLYTRAIN_COMMON_PICKLE_NESTING_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace polytrain {

// The most a record may nest its values (a container in a container ... `kMaxPickleNesting`
// deep). Far above any real file's, far below what overflows a thread's stack.
inline constexpr int64_t kMaxPickleNesting = 1000;

// kUnmeasurable: a pickle the walk cannot follow to its STOP (an opcode it does not know, a
// stack or memo used past its end, the data cut short). Refused: LibTorch may read on where the
// walk cannot, and a real pickle never does any of these.
inline constexpr int64_t kUnmeasurable = -1;

// The depth of the deepest value the pickle builds (0: none but scalars; 1: a container of
// scalars), counting containers filled after they were put in another (through the memo), or
// `stop_above` + 1 as soon as it is past `stop_above`; kUnmeasurable as above.
int64_t PickleNesting(absl::string_view pickle, int64_t stop_above = kMaxPickleNesting);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_PICKLE_NESTING_H_
