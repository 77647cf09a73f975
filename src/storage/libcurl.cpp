#include "storage/libcurl.hpp"

#include "common/shared_library.hpp"

namespace walvault::storage {
namespace {

Libcurl load() {
  const SharedLibrary library("libcurl.so.4", ErrorCode::kIo,
                              "install libcurl for S3 repositories (Debian/Ubuntu: apt-get install libcurl4)");
  Libcurl lib;
#define WALVAULT_LIBCURL_RESOLVE(name) library.resolve(lib.name, #name);
  WALVAULT_LIBCURL_FUNCTIONS(WALVAULT_LIBCURL_RESOLVE)
#undef WALVAULT_LIBCURL_RESOLVE
  lib.curl_global_init(CURL_GLOBAL_DEFAULT);
  return lib;
}

}  // namespace

const Libcurl& libcurl() {
  static const Libcurl lib = load();
  return lib;
}

}  // namespace walvault::storage
