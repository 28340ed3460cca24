// Four doubles handled as one value (GCC/Clang vector extensions), for elementwise kernels that
// must vectorize without -ffast-math. Written over DoubleLanes, each operation is one SIMD
// instruction where the function is compiled for AVX (two SSE2 ones otherwise), whatever the
// auto-vectorizer would decide; it does not vectorize loops with selects on floating-point
// compares under the default -ftrapping-math. Arithmetic is IEEE as in scalar code, so NaN and
// infinities propagate the same way.
//
// The helpers are always inlined, so no 32-byte vector is ever passed to an out-of-line function
// (whose calling convention would differ with and without AVX); for that reason our targets
// build with -Wno-psabi (CMakeLists.txt).
#ifndef POLYTRAIN_LOSS_CORE_DOUBLE_LANES_H_
#define POLYTRAIN_LOSS_CORE_DOUBLE_LANES_H_

#include <cstdint>
#include <cstring>

namespace polytrain::loss {

inline constexpr int kLanes = 4;
using DoubleLanes = double __attribute__((vector_size(32)));
using LaneMask = int64_t __attribute__((vector_size(32)));  // per lane all ones or all zeros
using FloatLanes = float __attribute__((vector_size(16)));  // four floats, for loads and stores

namespace lanes_internal {
// The vector of kLanes T's that converts to and from DoubleLanes in one instruction.
template <typename T>
struct VectorOf;
template <>
struct VectorOf<float> {
  using type = FloatLanes;
};
template <>
struct VectorOf<double> {
  using type = DoubleLanes;
};
}  // namespace lanes_internal

#define POLYTRAIN_LANES_INLINE inline __attribute__((always_inline))

// a where `mask`, b elsewhere. One overload per kind of value, so that code templated on double
// or DoubleLanes reads the same for both.
POLYTRAIN_LANES_INLINE DoubleLanes Select(LaneMask mask, DoubleLanes a, DoubleLanes b) {
  return reinterpret_cast<DoubleLanes>((reinterpret_cast<LaneMask>(a) & mask) |
                                       (reinterpret_cast<LaneMask>(b) & ~mask));
}
POLYTRAIN_LANES_INLINE double Select(bool condition, double a, double b) {
  return condition ? a : b;
}

POLYTRAIN_LANES_INLINE DoubleLanes Broadcast(double value) {
  return DoubleLanes{value, value, value, value};
}

POLYTRAIN_LANES_INLINE bool AnyLane(LaneMask mask) {
  return (mask[0] | mask[1] | mask[2] | mask[3]) != 0;
}

POLYTRAIN_LANES_INLINE double SumLanes(DoubleLanes v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// Lanes p[0..count) converted to double, the others `pad`; count in [1, kLanes].
template <typename T>
POLYTRAIN_LANES_INLINE DoubleLanes LoadLanes(const T* p, int count, double pad = 0.0) {
  if (count == kLanes) {
    typename lanes_internal::VectorOf<T>::type source;
    std::memcpy(&source, p, sizeof(source));
    return __builtin_convertvector(source, DoubleLanes);
  }
  DoubleLanes lanes = Broadcast(pad);
  for (int i = 0; i < count; ++i) lanes[i] = static_cast<double>(p[i]);
  return lanes;
}

// Stores the first `count` lanes of `v` converted to T; count in [1, kLanes].
template <typename T>
POLYTRAIN_LANES_INLINE void StoreLanes(DoubleLanes v, T* p, int count) {
  if (count == kLanes) {
    using Target = typename lanes_internal::VectorOf<T>::type;
    const Target target = __builtin_convertvector(v, Target);
    std::memcpy(p, &target, sizeof(target));
    return;
  }
  for (int i = 0; i < count; ++i) p[i] = static_cast<T>(v[i]);
}

#undef POLYTRAIN_LANES_INLINE

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_CORE_DOUBLE_LANES_H_
