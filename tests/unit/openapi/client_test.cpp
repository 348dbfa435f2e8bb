// How Ocean's Open API answers are sorted into retryable and permanent.
#include "relay/openapi/client.hpp"

#include <gtest/gtest.h>

namespace relay::openapi {
namespace {

TEST(OpenApiStatus, RetryableAndPermanent) {
    for (int status : {401, 403, 408, 425, 429, 500, 502, 503, 504}) {
        EXPECT_EQ(classify_open_api_status(status).kind, ErrorKind::kRetryable) << status;
    }
    for (int status : {300, 400, 404, 405, 410, 422}) {
        EXPECT_EQ(classify_open_api_status(status).kind, ErrorKind::kPermanent) << status;
    }
    EXPECT_EQ(classify_open_api_status(404).reason, "ocean-not-found");
    EXPECT_EQ(classify_open_api_status(503).reason, "ocean-server-error");
    EXPECT_EQ(classify_open_api_status(401).status, 401);
}

}  // namespace
}  // namespace relay::openapi
