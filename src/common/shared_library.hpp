// A shared library loaded at run time (dlopen), for the libraries only some commands need (libpq, libcurl): a
// process that does not use them never pays for loading them and their dependencies. `walvault wal-fetch`, which
// PostgreSQL starts once per segment of redo, needs neither when it serves a spooled segment.
//
// Lifetime: the library is never unloaded (function tables built from it live as long as the process).
// Errors: throws walvault::Error with the given code and hint when the library or a function cannot be loaded.
#pragma once

#include <string>

#include "common/error.hpp"

namespace walvault {

class SharedLibrary {
 public:
  SharedLibrary(const char* name, ErrorCode code, std::string hint);

  // Sets function to the library's symbol `symbol`.
  template <typename Function>
  void resolve(Function*& function, const char* symbol) const {
    function = reinterpret_cast<Function*>(address(symbol));
  }

 private:
  [[nodiscard]] void* address(const char* symbol) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::string name_;
  ErrorCode code_;
  std::string hint_;
  void* handle_;
};

}  // namespace walvault
