// Fuzz target: the reader of S3's XML responses (ListObjectsV2, multipart, errors). Any body must give elements
// or nothing, never a crash, read through the same calls S3Storage makes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/s3_xml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace walvault::storage;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const std::string_view entry : xml_elements(body, "Contents")) {
    (void)xml_text(entry, "Key");
    (void)xml_text(entry, "Size");
  }
  (void)xml_text(body, "NextContinuationToken");
  (void)xml_text(body, "Code");
  (void)xml_text(body, "Message");
  (void)xml_text(body, "UploadId");
  (void)xml_escape(body);
  return 0;
}
