#include "pg/libpq.hpp"

#include "common/shared_library.hpp"

namespace walvault::pg {
namespace {

Libpq load() {
  const SharedLibrary library("libpq.so.5", ErrorCode::kConnection,
                              "install PostgreSQL's client library (Debian/Ubuntu: apt-get install libpq5)");
  Libpq lib;
#define WALVAULT_LIBPQ_RESOLVE(name) library.resolve(lib.name, #name);
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
