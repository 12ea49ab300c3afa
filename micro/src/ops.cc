// The op table: code, name (the ONNX op it runs), input counts, validate, run.
// Constant-initialised (no static constructor).
#include "internal.h"

namespace lm {

namespace {

constexpr OpInfo kOps[] = {
    {LPK_OP_QUANT, "Quant", 1, 1, validate_quant, run_quant},
    {LPK_OP_DEQUANT, "Dequant", 1, 1, validate_dequant, run_dequant},
    {LPK_OP_CONV2D, "Conv2dInt", 2, 3, validate_conv2d, run_conv2d},
    {LPK_OP_CONV1D, "Conv1dInt", 2, 3, validate_conv1d, run_conv1d},
    {LPK_OP_CONVT2D, "ConvTranspose2dInt", 2, 3, validate_convt2d, run_convt2d},
    {LPK_OP_LINEAR, "LinearInt", 2, 3, validate_linear, run_linear},
    {LPK_OP_BATCHNORM, "BatchNorm2dInt", 3, 3, validate_batchnorm, run_batchnorm},
    {LPK_OP_MAXPOOL, "MaxPool", 1, 1, validate_maxpool, run_maxpool},
    {LPK_OP_AVGPOOL, "AvgPool2dInt", 1, 1, validate_avgpool, run_avgpool},
    {LPK_OP_RELU, "Relu", 1, 1, validate_relu, run_relu},
    {LPK_OP_IQADD, "iqAdd", 2, 2, validate_iqadd, run_iqadd},
};

static_assert(sizeof(kOps) / sizeof(kOps[0]) == LPK_OP_CODE_END - 1, "one table entry per op code");

}  // namespace

const OpInfo* op_info(uint32_t code) {
  for (const OpInfo& o : kOps)
    if (o.code == code) return &o;
  return nullptr;
}

}  // namespace lm
