// Shared basics of the engine: the host/device function qualifier used by every piece of
// arithmetic that both backends run, the typed exceptions the library throws, and the check
// macros that add file:line. The library never exits or aborts; apps catch ebm::Error at main.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__CUDACC__)
#define EBM_HD __host__ __device__ __forceinline__
#else
#define EBM_HD inline
#endif

namespace ebm {

// Builds a message from any streamable values: str("op ", name, " got ", shape).
template <class... Args>
std::string str(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

// Base of everything the engine throws. what() = "message (file:line)".
class Error : public std::runtime_error {
 public:
  Error(const std::string& msg, const char* file = nullptr, int line = 0)
      : std::runtime_error(file ? msg + " (" + file + ":" + std::to_string(line) + ")" : msg),
        message_(msg) {}
  // The message without the source location, for user-facing output.
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

class ShapeError : public Error { using Error::Error; };
class DTypeError : public Error { using Error::Error; };
class DeviceError : public Error { using Error::Error; };
class IOError : public Error { using Error::Error; };
class ValueError : public Error { using Error::Error; };
// Thrown by the checked CUDA/cuBLAS/cuDNN/cuRAND call macros of cuda/; declared here so that
// code without CUDA headers can catch it.
class CudaError : public Error { using Error::Error; };

}  // namespace ebm

#define EBM_THROW(ErrorType, ...) throw ErrorType(::ebm::str(__VA_ARGS__), __FILE__, __LINE__)

// EBM_CHECK(cond, ErrorType, message parts...): throws ErrorType with the message when !cond.
#define EBM_CHECK(cond, ErrorType, ...)   \
  do {                                    \
    if (!(cond)) EBM_THROW(ErrorType, __VA_ARGS__); \
  } while (0)
