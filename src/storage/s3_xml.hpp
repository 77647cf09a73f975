// The little XML that S3 speaks: reading elements out of ListObjectsV2, multipart and error responses, and
// escaping text for the request bodies walvault sends. Pure, no allocation beyond the results, and safe on any
// input (a truncated or hostile body yields missing elements, never a crash or an exception).
//
// This is not an XML parser: it finds <tag>...</tag> by name (attributes on the opening tag are allowed, <tag/> is
// empty), does not nest a tag inside itself, and decodes the five predefined entities and numeric character
// references. S3 responses need no more.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace walvault::storage {

// The raw contents of every <tag> element of xml, in document order.
[[nodiscard]] std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag);
// The decoded text of the first <tag> element of xml, or nullopt when there is none.
[[nodiscard]] std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);
// text with &, <, >, " and ' escaped, for element content.
[[nodiscard]] std::string xml_escape(std::string_view text);

}  // namespace walvault::storage
