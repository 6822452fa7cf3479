// The error path of the C++ side: checks throw C++ exceptions, which nanobind turns into Python
// exceptions (std::invalid_argument -> ValueError, std::runtime_error -> RuntimeError). Host code
// only: kernels never throw, they are launched after every check has passed.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace rs {

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

}  // namespace rs

// RS_CHECK(cond, "message parts", value, ...): raise ValueError with the parts joined.
#define RS_CHECK(cond, ...)                                   \
  do {                                                        \
    if (!(cond)) throw std::invalid_argument(rs::concat(__VA_ARGS__)); \
  } while (0)
