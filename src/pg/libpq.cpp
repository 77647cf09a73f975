#include "pg/libpq.hpp"

#include <dlfcn.h>

#include <string>

#include "common/error.hpp"

namespace walvault::pg {
namespace {

constexpr const char* kLibrary = "libpq.so.5";

[[noreturn]] void fail(const std::string& what) {
  const char* reason = ::dlerror();
  throw Error(ErrorCode::kConnection, what + ": " + (reason != nullptr ? reason : "unknown error"),
              "install PostgreSQL's client library (Debian/Ubuntu: apt-get install libpq5)");
}

Libpq load() {
  void* handle = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);  // never closed: the table lives as long as the process
  if (handle == nullptr) fail(std::string("cannot load ") + kLibrary);
  Libpq lib;
#define WALVAULT_LIBPQ_RESOLVE(name)                                                \
  lib.name = reinterpret_cast<decltype(lib.name)>(::dlsym(handle, #name));          \
  if (lib.name == nullptr) fail(std::string(kLibrary) + " has no function " #name);
  WALVAULT_LIBPQ_FUNCTIONS(WALVAULT_LIBPQ_RESOLVE)
#undef WALVAULT_LIBPQ_RESOLVE
  return lib;
}

}  // namespace

const Libpq& libpq() {
  static const Libpq lib = load();
  return lib;
}

}  // namespace walvault::pg
