// Placeholder: implemented next.
#include "relay/transform/render.hpp"
