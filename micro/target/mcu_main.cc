// The micro runtime's driver, the same source on the host (linger-micro-run)
// and on the emulated Cortex-M4 (scripts/mcu_check.sh):
//   linger-micro-run MODEL.lpk INPUTS.bin OUTPUTS.bin     (target: model.lpk inputs.bin outputs.bin)
// INPUTS.bin holds N raw inputs for input 0, back to back. For each, the model
// runs with the portable kernels and with the DSP kernels; OUTPUTS.bin gets
// output 0 of both (portable, then DSP) per input. It also checks that an arena
// one byte smaller than the model needs is refused with LM_ERR_ARENA_TOO_SMALL.
// Exit status 0 when everything ran and both kernel paths agree bit for bit.
#include <string.h>

#include "linger/micro/micro.h"
#include "platform.h"

namespace {

alignas(8) uint8_t g_model[768u << 10];
alignas(8) uint8_t g_arena[768u << 10];
alignas(8) uint8_t g_inputs[768u << 10];
alignas(8) uint8_t g_outputs[512u << 10];

struct Line {
  char buf[256];
  size_t n = 0;
  Line& s(const char* t) {
    while (*t && n + 1 < sizeof(buf)) buf[n++] = *t++;
    buf[n] = 0;
    return *this;
  }
  Line& u(uint64_t v) {
    char tmp[24];
    int k = 0;
    do {
      tmp[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (k && n + 1 < sizeof(buf)) buf[n++] = tmp[--k];
    buf[n] = 0;
    return *this;
  }
  Line& i(int64_t v) { return v < 0 ? s("-").u(static_cast<uint64_t>(-v)) : u(static_cast<uint64_t>(v)); }
  void print() {
    s("\n");
    plat_print(buf);
  }
};

int fail(const char* what, const lm_error* e) {
  Line l;
  l.s("lm: FAILED ").s(what);
  if (e)
    l.s(": ").s(lm_status_name(e->status)).s(" op ").i(e->op_index).s(" '").s(e->op_name).s("' (").s(e->op_type)
        .s(") tensor ").i(e->tensor_index).s(": ").s(e->detail);
  l.print();
  return 1;
}

// 2,000,000 instructions (subs + bne per iteration) to calibrate ticks -> instructions.
void calibration_loop() {
#if defined(__arm__)
  uint32_t n = 1000000;
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const char* model_path = argc > 1 ? argv[1] : "model.lpk";
  const char* inputs_path = argc > 2 ? argv[2] : "inputs.bin";
  const char* outputs_path = argc > 3 ? argv[3] : "outputs.bin";
  size_t model_size = 0, inputs_size = 0;
  if (!plat_read_file(model_path, g_model, sizeof(g_model), &model_size)) return fail("reading the model", nullptr);
  if (!plat_read_file(inputs_path, g_inputs, sizeof(g_inputs), &inputs_size)) return fail("reading the inputs", nullptr);

  const uint32_t need = lm_required_arena_size(g_model, model_size);
  lm_model m;
  lm_error e;
  if (need == 0 || need > sizeof(g_arena)) return fail("arena size", nullptr);
  // One byte short must be refused cleanly.
  const lm_status short_status = lm_model_init(&m, g_model, model_size, g_arena, need - 1, &e);
  Line().s("lm: arena ").u(need - 1).s(" bytes (one short) -> ").s(lm_status_name(short_status)).s(": ").s(e.detail).print();
  if (short_status != LM_ERR_ARENA_TOO_SMALL) return fail("the one-byte-short arena was not refused", nullptr);
  if (lm_model_init(&m, g_model, model_size, g_arena, need, &e) != LM_OK) return fail("lm_model_init", &e);

  lm_tensor in, out;
  lm_input(&m, 0, &in);
  lm_output(&m, 0, &out);
  const size_t n = inputs_size / in.nbytes;
  if (n == 0 || n * in.nbytes != inputs_size || 2u * n * out.nbytes > sizeof(g_outputs))
    return fail("the inputs file is not N inputs of the model's input size", nullptr);
  Line().s("lm: platform ").s(plat_name()).s(", model ").u(model_size).s(" bytes, arena ").u(need).s(" bytes, ").u(n)
      .s(" inputs of ").u(in.nbytes).s(" bytes, output ").u(out.nbytes).s(" bytes").print();

  plat_ticks();  // starts the counter
  const uint64_t c0 = plat_ticks();
  calibration_loop();
  Line().s("lm: calibration 2000000 instructions = ").u(plat_ticks() - c0).s(" ticks").print();

  uint64_t ticks[2] = {0, 0};
  size_t mismatched = 0;
  for (size_t k = 0; k < n; ++k) {
    for (int path = 0; path < 2; ++path) {
      memcpy(in.data, g_inputs + k * in.nbytes, in.nbytes);  // invoke overwrites its input (buffers are reused)
      const uint64_t t0 = plat_ticks();
      if (lm_invoke(&m, path == 0 ? LM_KERNELS_PORTABLE : LM_KERNELS_DSP, &e) != LM_OK) return fail("lm_invoke", &e);
      ticks[path] += plat_ticks() - t0;
      memcpy(g_outputs + (2 * k + path) * out.nbytes, out.data, out.nbytes);
    }
    if (memcmp(g_outputs + 2 * k * out.nbytes, g_outputs + (2 * k + 1) * out.nbytes, out.nbytes) != 0) ++mismatched;
  }
  // Where the instructions go: ops one at a time, on the first input.
  for (int path = 0; path < 2; ++path) {
    memcpy(in.data, g_inputs, in.nbytes);
    for (uint32_t i = 0; i < lm_op_count(&m); ++i) {
      const uint64_t t0 = plat_ticks();
      if (lm_invoke_ops(&m, i, i + 1, path == 0 ? LM_KERNELS_PORTABLE : LM_KERNELS_DSP, &e) != LM_OK)
        return fail("lm_invoke_ops", &e);
      const uint64_t t = plat_ticks() - t0;
      const char *name = "", *type = "";
      lm_op_describe(&m, i, &name, &type);
      Line().s("lm: op ").u(i).s(" ").s(type).s(" '").s(name).s("' ").s(path == 0 ? "portable" : "dsp").s(" ticks ").u(t).print();
    }
  }
  if (!plat_write_file(outputs_path, g_outputs, 2 * n * out.nbytes)) return fail("writing the outputs", nullptr);
  Line().s("lm: ticks per inference portable ").u(ticks[0] / n).s(" dsp ").u(ticks[1] / n).print();
  Line().s("lm: portable vs dsp bit-exact ").u(n - mismatched).s("/").u(n).print();
  return mismatched == 0 ? 0 : 2;
}
