#include "common/shared_library.hpp"

#include <dlfcn.h>

namespace walvault {

SharedLibrary::SharedLibrary(const char* name, ErrorCode code, std::string hint)
    : name_(name), code_(code), hint_(std::move(hint)), handle_(::dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
  if (handle_ == nullptr) fail("cannot load " + name_);
}

void* SharedLibrary::address(const char* symbol) const {
  void* found = ::dlsym(handle_, symbol);
  if (found == nullptr) fail(name_ + " has no function " + symbol);
  return found;
}

void SharedLibrary::fail(const std::string& what) const {
  const char* reason = ::dlerror();
  throw Error(code_, what + ": " + (reason != nullptr ? reason : "unknown error"), hint_);
}

}  // namespace walvault
