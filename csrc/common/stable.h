// The one place where pyalgo's C++ glue meets torch: torch's stable ABI (torch/csrc/stable and
// torch/headeronly), targeted at torch 2.10 (setup.py defines TORCH_TARGET_VERSION), so that one
// compiled extension loads on every torch >= 2.10. Nothing here includes ATen or c10 headers with
// non-inline code: the extension calls torch only through the stable C shim.
//
// What the glue uses: Tensor, ScalarType, the allocation helpers below (named apart from
// torch::stable's, which argument-dependent lookup would also find), PYALGO_CHECK (raises
// RuntimeError with exactly the message given), PYALGO_CHECK_VALUE (the same, tagged so that the
// Python wrapper re-raises ValueError: the stable ABI has no way to raise a Python ValueError from
// C++), PYALGO_DISPATCH_* (dtype switches), parallel_for and DeviceGuard.
#pragma once
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/library.h>
#include <torch/csrc/stable/ops.h>
#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/core/ScalarType.h>
#include <torch/headeronly/util/BFloat16.h>
#include <torch/headeronly/util/Half.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace pyalgo {

using Tensor = torch::stable::Tensor;
using ScalarType = torch::headeronly::ScalarType;
using Device = torch::stable::Device;
using DeviceType = torch::headeronly::DeviceType;
using IntArrayRef = torch::headeronly::IntHeaderOnlyArrayRef;
using Half = c10::Half;
using BFloat16 = c10::BFloat16;

constexpr ScalarType kFloat = ScalarType::Float;
constexpr ScalarType kDouble = ScalarType::Double;
constexpr ScalarType kHalf = ScalarType::Half;
constexpr ScalarType kBFloat16 = ScalarType::BFloat16;
constexpr ScalarType kInt = ScalarType::Int;
constexpr ScalarType kLong = ScalarType::Long;
constexpr ScalarType kByte = ScalarType::Byte;
constexpr ScalarType kComplexFloat = ScalarType::ComplexFloat;
constexpr ScalarType kComplexDouble = ScalarType::ComplexDouble;

// ---- messages ------------------------------------------------------------------------------
// Shapes print as torch prints them ("[2, 3]"), devices as "cpu" / "cuda:0".
struct ShapeText {
  IntArrayRef shape;
};
inline ShapeText shape_text(IntArrayRef s) { return {s}; }
inline std::ostream& operator<<(std::ostream& os, const ShapeText& s) {
  os << '[';
  for (size_t i = 0; i < s.shape.size(); ++i) os << (i ? ", " : "") << s.shape[i];
  return os << ']';
}
inline std::ostream& operator<<(std::ostream& os, const Device& d) {
  switch (d.type()) {
    case DeviceType::CPU: os << "cpu"; break;
    case DeviceType::CUDA: os << "cuda"; break;
    default: os << "device type " << static_cast<int>(d.type()); break;
  }
  if (d.type() != DeviceType::CPU && d.index() >= 0) os << ':' << static_cast<int>(d.index());
  return os;
}

template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;  // default formatting, as torch's TORCH_CHECK messages
  ((os << args), ...);
  return os.str();
}

// Marks a message whose Python exception should be ValueError (see pyalgo/_ext.py).
constexpr const char* kValueErrorTag = "[ValueError] ";

}  // namespace pyalgo

#define PYALGO_CHECK(cond, ...) \
  if (!(cond)) throw std::runtime_error(::pyalgo::str(__VA_ARGS__))
#define PYALGO_CHECK_VALUE(cond, ...) \
  if (!(cond)) throw std::runtime_error(::pyalgo::str(::pyalgo::kValueErrorTag, __VA_ARGS__))

// ---- dtype dispatch --------------------------------------------------------------------------
// PYALGO_DISPATCH_FLOATING_TYPES(dtype, "name", [&] { ... scalar_t ... }) runs the lambda with
// scalar_t = float or double (the AT_DISPATCH_FLOATING_TYPES convention); the _AND_HALF variant
// adds c10::Half and c10::BFloat16.
#define PYALGO_DISPATCH_CASE_(enum_, type_, ...) \
  case enum_: {                                  \
    using scalar_t = type_;                      \
    __VA_ARGS__();                               \
    break;                                       \
  }
#define PYALGO_DISPATCH_FLOATING_TYPES(dtype, name, ...)                                    \
  switch (dtype) {                                                                           \
    PYALGO_DISPATCH_CASE_(::pyalgo::kDouble, double, __VA_ARGS__)                            \
    PYALGO_DISPATCH_CASE_(::pyalgo::kFloat, float, __VA_ARGS__)                              \
    default:                                                                                 \
      throw std::runtime_error(::pyalgo::str(name, ": unsupported dtype ", (dtype)));       \
  }
#define PYALGO_DISPATCH_FLOATING_TYPES_AND_HALF(dtype, name, ...)                           \
  switch (dtype) {                                                                           \
    PYALGO_DISPATCH_CASE_(::pyalgo::kDouble, double, __VA_ARGS__)                            \
    PYALGO_DISPATCH_CASE_(::pyalgo::kFloat, float, __VA_ARGS__)                              \
    PYALGO_DISPATCH_CASE_(::pyalgo::kHalf, ::pyalgo::Half, __VA_ARGS__)                      \
    PYALGO_DISPATCH_CASE_(::pyalgo::kBFloat16, ::pyalgo::BFloat16, __VA_ARGS__)              \
    default:                                                                                 \
      throw std::runtime_error(::pyalgo::str(name, ": unsupported dtype ", (dtype)));       \
  }

namespace pyalgo {

// The accumulation type of a dtype: float for the half types, else the type itself.
template <typename T>
struct OpMath {
  using type = T;
};
template <>
struct OpMath<Half> {
  using type = float;
};
template <>
struct OpMath<BFloat16> {
  using type = float;
};
template <typename T>
using opmath_t = typename OpMath<T>::type;
inline ScalarType opmath_dtype(ScalarType t) { return t == kHalf || t == kBFloat16 ? kFloat : t; }
inline ScalarType real_dtype(ScalarType t) {
  return t == kComplexFloat ? kFloat : t == kComplexDouble ? kDouble : t;
}
template <typename T>
constexpr ScalarType dtype_of() {
  return c10::CppTypeToScalarType<T>::value;
}

// ---- tensors -------------------------------------------------------------------------------
template <typename T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.mutable_data_ptr());
}

inline bool same_shape(IntArrayRef a, IntArrayRef b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// Bytes of one element of the dtypes pyalgo allocates (1 for any other: the only use is the
// huge-page size test below, which then errs towards not advising).
constexpr int64_t element_bytes(ScalarType t) {
  switch (t) {
    case ScalarType::ComplexDouble: return 16;
    case ScalarType::Double: case ScalarType::Long: case ScalarType::ComplexFloat: return 8;
    case ScalarType::Float: case ScalarType::Int: return 4;
    case ScalarType::Half: case ScalarType::BFloat16: case ScalarType::Short: return 2;
    default: return 1;
  }
}

// CPU buffers of at least this many bytes are advised to use transparent huge pages.
constexpr int64_t kHugePageAdviseBytes = int64_t(8) << 20;

// madvise(MADV_HUGEPAGE) on the 2 MiB-aligned interior of [p, p + nbytes), before first touch.
// glibc serves such sizes by a fresh mmap, so the first write into each 4 KiB page faults (a
// 256 MB output: 65536 minor faults, more system time than the kernel's own work); with THP in
// `madvise` mode an advised range faults 2 MiB at a time instead. Linux only; a no-op where THP
// is `never` or absent (the call's result is ignored: the advice is only an optimisation). The
// ends outside the aligned interior keep 4 KiB pages (at most 2 MiB each side, the allocator's
// header page included).
inline void advise_huge_pages(void* p, int64_t nbytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t b = (a + kHuge - 1) & ~(kHuge - 1), e = (a + static_cast<uintptr_t>(nbytes)) & ~(kHuge - 1);
  if (e > b) (void)madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
#else
  (void)p;
  (void)nbytes;
#endif
}

// A new uninitialised contiguous tensor of `shape` and `dtype` on `device`. Straight through the
// C shim's aoti_torch_empty_strided: torch::stable::empty and empty_like go through the boxed
// dispatcher, a few microseconds per tensor, which small calls feel. CPU tensors of at least
// kHugePageAdviseBytes get advise_huge_pages (the size test is one compare; never on CUDA).
inline Tensor empty(IntArrayRef shape, ScalarType dtype, const Device& device) {
  namespace sd = torch::stable::detail;
  const int64_t n = static_cast<int64_t>(shape.size());
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1, numel = 1;
  for (int64_t i = n - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= shape[i] > 1 ? shape[i] : 1;
    numel *= shape[i];
  }
  AtenTensorHandle handle = nullptr;
  STABLE_TORCH_ERROR_CODE_CHECK(aoti_torch_empty_strided(n, shape.data(), strides.data(),
                                                         sd::to<int32_t>(sd::from(dtype)),
                                                         sd::to<int32_t>(sd::from(device.type())), device.index(),
                                                         &handle));
  Tensor t(handle);
  const int64_t nbytes = numel * element_bytes(dtype);
  if (nbytes >= kHugePageAdviseBytes && device.type() == DeviceType::CPU) advise_huge_pages(t.mutable_data_ptr(), nbytes);
  return t;
}
inline Tensor empty(std::initializer_list<int64_t> shape, ScalarType dtype, const Device& device) {
  return empty(IntArrayRef(shape.begin(), shape.end()), dtype, device);
}
// The same on the device of `like`.
inline Tensor empty(IntArrayRef shape, ScalarType dtype, const Tensor& like) { return empty(shape, dtype, like.device()); }
inline Tensor empty(std::initializer_list<int64_t> shape, ScalarType dtype, const Tensor& like) {
  return empty(IntArrayRef(shape.begin(), shape.end()), dtype, like.device());
}
// A new tensor shaped like the contiguous `x`, of its dtype and device.
inline Tensor alloc_like(const Tensor& x) { return empty(x.sizes(), x.scalar_type(), x.device()); }
inline Tensor zeros(IntArrayRef shape, ScalarType dtype, const Tensor& like) {
  Tensor t = empty(shape, dtype, like);
  torch::stable::zero_(t);
  return t;
}
inline Tensor zeros(std::initializer_list<int64_t> shape, ScalarType dtype, const Tensor& like) {
  return zeros(IntArrayRef(shape.begin(), shape.end()), dtype, like);
}
inline Tensor contig(const Tensor& x) { return x.is_contiguous() ? x : torch::stable::contiguous(x); }
inline Tensor copy_of(const Tensor& x) { return torch::stable::clone(x); }
inline Tensor to_dtype(const Tensor& x, ScalarType dtype) {
  return x.scalar_type() == dtype ? x : torch::stable::to(x, dtype);
}
inline std::vector<int64_t> shape_vec(const Tensor& x) {
  const IntArrayRef s = x.sizes();
  return std::vector<int64_t>(s.begin(), s.end());
}

// Sets the current device to a CUDA tensor's device for the guard's lifetime (nothing on CPU).
class DeviceGuard {
 public:
  explicit DeviceGuard(const Tensor& x) {
    if (!x.is_cpu()) guard_.emplace(x.get_device_index());
  }

 private:
  std::optional<torch::stable::accelerator::DeviceGuard> guard_;
};

// Splits [begin, end) over torch's intra-op threads (torch.set_num_threads applies).
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  torch::stable::parallel_for(begin, end, grain, f);
}

}  // namespace pyalgo
