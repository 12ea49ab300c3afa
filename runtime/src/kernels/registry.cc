// OpKind -> kernel. An op listed in include/linger/ops.inc without a kernel
// here is rejected at load ("not implemented by this runtime").
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

std::unique_ptr<Kernel> make_quant_kernel();
std::unique_ptr<Kernel> make_dequant_kernel();
std::unique_ptr<Kernel> make_conv2d_int_kernel();
std::unique_ptr<Kernel> make_linear_int_kernel();
std::unique_ptr<Kernel> make_conv1d_int_kernel();
std::unique_ptr<Kernel> make_convtranspose2d_int_kernel();
std::unique_ptr<Kernel> make_batchnorm2d_int_kernel();
std::unique_ptr<Kernel> make_avgpool2d_int_kernel();
std::unique_ptr<Kernel> make_iqadd_kernel();
std::unique_ptr<Kernel> make_maxpool_kernel();
std::unique_ptr<Kernel> make_relu_kernel();
std::unique_ptr<Kernel> make_reshape_kernel();
std::unique_ptr<Kernel> make_flatten_kernel();
std::unique_ptr<Kernel> make_transpose_kernel();
std::unique_ptr<Kernel> make_squeeze_kernel();
std::unique_ptr<Kernel> make_unsqueeze_kernel();
std::unique_ptr<Kernel> make_slice_kernel();
std::unique_ptr<Kernel> make_gather_kernel();
std::unique_ptr<Kernel> make_concat_kernel();
std::unique_ptr<Kernel> make_identity_kernel();
std::unique_ptr<Kernel> make_constant_kernel();
std::unique_ptr<Kernel> make_shape_kernel();
std::unique_ptr<Kernel> make_cast_kernel();

std::unique_ptr<Kernel> create_kernel(const Node& node) {
  switch (node.kind) {
    case OpKind::Quant: return make_quant_kernel();
    case OpKind::Dequant: return make_dequant_kernel();
    case OpKind::Conv2dInt: return make_conv2d_int_kernel();
    case OpKind::LinearInt: return make_linear_int_kernel();
    case OpKind::Conv1dInt: return make_conv1d_int_kernel();
    case OpKind::ConvTranspose2dInt: return make_convtranspose2d_int_kernel();
    case OpKind::BatchNorm2dInt: return make_batchnorm2d_int_kernel();
    case OpKind::AvgPool2dInt: return make_avgpool2d_int_kernel();
    case OpKind::iqAdd: return make_iqadd_kernel();
    case OpKind::MaxPool: return make_maxpool_kernel();
    case OpKind::Relu: return make_relu_kernel();
    case OpKind::Reshape: return make_reshape_kernel();
    case OpKind::Flatten: return make_flatten_kernel();
    case OpKind::Transpose: return make_transpose_kernel();
    case OpKind::Squeeze: return make_squeeze_kernel();
    case OpKind::Unsqueeze: return make_unsqueeze_kernel();
    case OpKind::Slice: return make_slice_kernel();
    case OpKind::Gather: return make_gather_kernel();
    case OpKind::Concat: return make_concat_kernel();
    case OpKind::Identity: return make_identity_kernel();
    case OpKind::Constant: return make_constant_kernel();
    case OpKind::Shape: return make_shape_kernel();
    case OpKind::Cast: return make_cast_kernel();
    default: return nullptr;
  }
}

}  // namespace runtime
}  // namespace linger
