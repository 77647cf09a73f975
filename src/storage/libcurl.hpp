// libcurl, loaded on first use instead of at process start (common/shared_library.hpp says why). Linking it cost
// every walvault process about 9 ms of start-up (libcurl pulls in GnuTLS, Kerberos, LDAP, SSH and more), which
// `walvault wal-fetch` pays between every two segments of redo, also for a local repository. Only the S3 client
// calls it. <curl/curl.h> still provides the types and prototypes; its GCC type-checking macros are turned off so
// that the table's members can have the functions' names.
//
// Errors: throws walvault::Error (kIo) with a hint when the library or one of its functions cannot be loaded.
#pragma once

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

namespace walvault::storage {

// Every libcurl function walvault calls. A new call site adds its function here.
#define WALVAULT_LIBCURL_FUNCTIONS(X)                                                                           \
  X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) X(curl_easy_perform) X(curl_easy_reset)           \
  X(curl_easy_setopt) X(curl_easy_strerror) X(curl_global_init) X(curl_slist_append) X(curl_slist_free_all)

struct Libcurl {
#define WALVAULT_LIBCURL_MEMBER(name) decltype(&::name) name = nullptr;
  WALVAULT_LIBCURL_FUNCTIONS(WALVAULT_LIBCURL_MEMBER)
#undef WALVAULT_LIBCURL_MEMBER
};

// The loaded library, globally initialised (curl_global_init); loads it on the first call (thread-safe).
[[nodiscard]] const Libcurl& libcurl();

}  // namespace walvault::storage
