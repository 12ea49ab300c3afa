// Window geometry shared by AvgPool2dInt and MaxPool: attributes
// kernel_shape / strides / pads / ceil_mode checked against an int8 NCHW input.
#pragma once

#include "kernels/kernel.h"
#include "linger/numerics/pool.h"

namespace linger {
namespace runtime {

// Checks input 0 and the window attributes, returns the output dims and,
// when ctx.complete(), fills *shape for the numerics kernels.
Dims infer_pool2d(InferContext& ctx, numerics::Pool2dShape* shape);

}  // namespace runtime
}  // namespace linger
