// Umbrella header of the linger runtime's public API.
#pragma once

#include "linger/runtime/errors.h"
#include "linger/runtime/npy.h"
#include "linger/runtime/session.h"
#include "linger/runtime/tensor.h"
