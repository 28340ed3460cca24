#include "common/pickle_nesting.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace polytrain {
namespace {

// The values a pickle builds, as a graph: node 0 stands for every scalar (no children); each
// container, object or tensor reference is a node of its own, with an edge to each value put
// in it. Depth is measured on the finished graph, since a container taken from the memo may be
// filled after it was put in another.
class ValueGraph {
 public:
  int32_t NewNode() { return nodes_++; }
  void Add(int32_t parent, int32_t child) {
    if (parent != 0 && child != 0) edges_.emplace_back(parent, child);
  }
  // The longest chain of containers, or stop_above + 1 once past it; back edges (a value that
  // holds itself through the memo) are not followed.
  int64_t Depth(int64_t stop_above) {
    std::vector<int32_t> children(edges_.size());
    std::vector<int32_t> start(static_cast<size_t>(nodes_) + 1, 0);
    for (const auto& [parent, child] : edges_) ++start[parent + 1];
    for (int32_t n = 0; n < nodes_; ++n) start[n + 1] += start[n];
    std::vector<int32_t> fill(start.begin(), start.end() - 1);
    for (const auto& [parent, child] : edges_) children[fill[parent]++] = child;
    edges_.clear();
    edges_.shrink_to_fit();
    constexpr int64_t kUnseen = -1, kOpen = -2;
    std::vector<int64_t> depth(static_cast<size_t>(nodes_), kUnseen);
    int64_t deepest = 0;
    // Iterative: the graph may be as deep as the pickle is long.
    std::vector<std::pair<int32_t, int32_t>> path;  // node, next child index
    for (int32_t root = 1; root < nodes_; ++root) {
      if (depth[root] != kUnseen) continue;
      depth[root] = kOpen;
      path.emplace_back(root, start[root]);
      while (!path.empty()) {
        auto& [node, next] = path.back();
        if (next < start[node + 1]) {
          const int32_t child = children[next++];
          if (depth[child] == kUnseen) {
            depth[child] = kOpen;
            path.emplace_back(child, start[child]);
            if (static_cast<int64_t>(path.size()) > stop_above) return stop_above + 1;
          }
          continue;
        }
        int64_t own = 1;
        for (int32_t c = start[node]; c < start[node + 1]; ++c) {
          if (depth[children[c]] >= 0) own = std::max(own, depth[children[c]] + 1);
        }
        depth[node] = own;
        deepest = std::max(deepest, own);
        if (deepest > stop_above) return stop_above + 1;
        path.pop_back();
      }
    }
    return deepest;
  }

 private:
  int32_t nodes_ = 1;  // node 0: the scalars
  std::vector<std::pair<int32_t, int32_t>> edges_;
};

uint64_t LittleEndian(absl::string_view bytes, size_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + static_cast<size_t>(i)]);
  }
  return value;
}

}  // namespace

int64_t PickleNesting(absl::string_view pickle, int64_t stop_above) {
  ValueGraph graph;
  std::vector<int32_t> stack;
  std::vector<size_t> marks;
  // LibTorch's memo: a vector, slots skipped over read as None.
  std::vector<int32_t> memo;
  size_t at = 0;
  // Each returns false where the pickle cannot be measured: the record is then refused.
  // As LibTorch's, a pop takes the top value whether or not a MARK is above it.
  auto pop = [&](int32_t* value) {
    if (stack.empty()) return false;
    *value = stack.back();
    stack.pop_back();
    return true;
  };
  auto pop_to_mark = [&](std::vector<int32_t>* items) {
    if (marks.empty() || marks.back() > stack.size()) return false;
    items->assign(stack.begin() + static_cast<std::ptrdiff_t>(marks.back()), stack.end());
    stack.resize(marks.back());
    marks.pop_back();
    return true;
  };
  auto container_of = [&](const std::vector<int32_t>& items) {
    const int32_t node = graph.NewNode();
    for (int32_t item : items) graph.Add(node, item);
    stack.push_back(node);
  };
  // An argument of `width` bytes (a length or memo index), or the bytes of a length-prefixed one.
  auto fixed = [&](int width, uint64_t* value) {
    if (pickle.size() - at < static_cast<size_t>(width)) return false;
    *value = LittleEndian(pickle, at, width);
    at += static_cast<size_t>(width);
    return true;
  };
  auto skip_counted = [&](int width) {
    uint64_t length = 0;
    if (!fixed(width, &length) || pickle.size() - at < length) return false;
    at += static_cast<size_t>(length);
    return true;
  };
  auto line = [&](uint64_t* number) {  // a text argument up to '\n'; `number` its digits, if any
    const size_t end = pickle.find('\n', at);
    if (end == absl::string_view::npos) return false;
    uint64_t parsed = 0;
    for (size_t i = at; i < end; ++i) {
      const char c = pickle[i];
      if (c >= '0' && c <= '9') parsed = parsed * 10 + static_cast<uint64_t>(c - '0');
    }
    if (number != nullptr) *number = parsed;
    at = end + 1;
    return true;
  };
  // Real memo indices are dense: one past the pickle's length is a request for gigabytes.
  auto put = [&](uint64_t index) {
    if (stack.empty() || index > pickle.size()) return false;
    if (index >= memo.size()) memo.resize(static_cast<size_t>(index) + 1, 0);
    memo[static_cast<size_t>(index)] = stack.back();
    return true;
  };
  auto get = [&](uint64_t index) {
    if (index >= memo.size()) return false;
    stack.push_back(memo[static_cast<size_t>(index)]);
    return true;
  };

  bool going = true, stopped = false;
  while (going && at < pickle.size()) {
    const unsigned char op = static_cast<unsigned char>(pickle[at++]);
    uint64_t n = 0;
    int32_t a = 0, b = 0, c = 0;
    std::vector<int32_t> items;
    switch (op) {
      case '.':  // STOP
        going = false;
        stopped = true;
        break;
      case '(':  // MARK
        marks.push_back(stack.size());
        break;
      // Scalars, and the names of globals and persistent ids by text.
      case 'N':
      case 0x88:
      case 0x89:  // NONE NEWTRUE NEWFALSE
      case 0x97:  // NEXT_BUFFER
        stack.push_back(0);
        break;
      case 'K':
        going = fixed(1, &n);
        stack.push_back(0);
        break;  // BININT1
      case 'M':
        going = fixed(2, &n);
        stack.push_back(0);
        break;  // BININT2
      case 'J':
        going = fixed(4, &n);
        stack.push_back(0);
        break;  // BININT
      case 'G':
        going = fixed(8, &n);
        stack.push_back(0);
        break;  // BINFLOAT
      case 0x82:
        going = fixed(1, &n);
        stack.push_back(0);
        break;  // EXT1
      case 0x83:
        going = fixed(2, &n);
        stack.push_back(0);
        break;  // EXT2
      case 0x84:
        going = fixed(4, &n);
        stack.push_back(0);
        break;  // EXT4
      case 'I':
      case 'L':
      case 'F':
      case 'S':
      case 'V':
      case 'P':  // INT LONG FLOAT STRING ...
        going = line(nullptr);
        stack.push_back(0);
        break;
      case 'c':  // GLOBAL: module and name lines
        going = line(nullptr) && line(nullptr);
        stack.push_back(0);
        break;
      case 'U':
      case 'C':
      case 0x8a:
      case 0x8c:  // one-byte lengths
        going = skip_counted(1);
        stack.push_back(0);
        break;
      case 'T':
      case 'X':
      case 'B':
      case 0x8b:  // four-byte lengths
        going = skip_counted(4);
        stack.push_back(0);
        break;
      case 0x8d:
      case 0x8e:
      case 0x96:  // eight-byte lengths
        going = skip_counted(8);
        stack.push_back(0);
        break;
      case 0x80:
        going = fixed(1, &n);
        break;  // PROTO
      case 0x95:
        going = fixed(8, &n);
        break;  // FRAME
      case 0x98:
        break;    // READONLY_BUFFER
      case 0x93:  // STACK_GLOBAL
        going = pop(&a) && pop(&b);
        stack.push_back(0);
        break;
      // Containers.
      case ']':
      case '}':
      case ')':
      case 0x8f:  // EMPTY_LIST EMPTY_DICT EMPTY_TUPLE EMPTY_SET
        stack.push_back(graph.NewNode());
        break;
      case 'l':
      case 'd':
      case 't':
      case 0x91:
      case 'o':  // LIST DICT TUPLE FROZENSET OBJ
        going = pop_to_mark(&items);
        if (going) container_of(items);
        break;
      case 'i':  // INST: module and name lines, the arguments from the mark
        going = line(nullptr) && line(nullptr) && pop_to_mark(&items);
        if (going) container_of(items);
        break;
      case 0x85:
      case 0x86:
      case 0x87:  // TUPLE1 TUPLE2 TUPLE3
        for (int k = 0; going && k < op - 0x84; ++k) {
          going = pop(&a);
          items.push_back(a);
        }
        if (going) container_of(items);
        break;
      case 'Q':   // BINPERSID: a tensor's storage, named by the value popped
      case 'R':   // REDUCE: callable and arguments
      case 0x81:  // NEWOBJ: class and arguments
        going = pop(&a) && (op == 'Q' || pop(&b));
        if (going) container_of(op == 'Q' ? std::vector<int32_t>{a} : std::vector<int32_t>{b, a});
        break;
      case 0x92:  // NEWOBJ_EX: class, arguments, keyword arguments
        going = pop(&a) && pop(&b) && pop(&c);
        if (going) container_of({c, b, a});
        break;
      // Filling the container under the popped values (a memoized one included).
      case 'a':
      case 'b':  // APPEND BUILD
        going = pop(&a) && !stack.empty();
        if (going) graph.Add(stack.back(), a);
        break;
      case 's':  // SETITEM
        going = pop(&a) && pop(&b) && !stack.empty();
        if (going) {
          graph.Add(stack.back(), a);
          graph.Add(stack.back(), b);
        }
        break;
      case 'e':
      case 'u':
      case 0x90:  // APPENDS SETITEMS ADDITEMS
        going = pop_to_mark(&items) && !stack.empty();
        for (int32_t item : items) {
          if (going) graph.Add(stack.back(), item);
        }
        break;
      // The stack and the memo.
      case '0':  // POP
        going = pop(&a);
        break;
      case '1':  // POP_MARK
        going = pop_to_mark(&items);
        break;
      case '2':  // DUP
        going = !stack.empty();
        if (going) stack.push_back(stack.back());
        break;
      case 'p':
        going = line(&n) && put(n);
        break;  // PUT
      case 'q':
        going = fixed(1, &n) && put(n);
        break;  // BINPUT
      case 'r':
        going = fixed(4, &n) && put(n);
        break;  // LONG_BINPUT
      case 0x94:
        going = put(memo.size());
        break;  // MEMOIZE
      case 'g':
        going = line(&n) && get(n);
        break;  // GET
      case 'h':
        going = fixed(1, &n) && get(n);
        break;  // BINGET
      case 'j':
        going = fixed(4, &n) && get(n);
        break;  // LONG_BINGET
      default:  // not an opcode
        going = false;
        break;
    }
  }
  // Fails closed: what a walk cannot follow to its STOP, LibTorch may still read past.
  if (!stopped) return kUnmeasurable;
  return graph.Depth(stop_above);
}

}  // namespace polytrain
