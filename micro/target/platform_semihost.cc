// Cortex-M platform for the micro driver under qemu: ARM semihosting (BKPT 0xAB)
// for files and text, SysTick at the core clock for timing (with qemu's
// -icount shift=0 one instruction is one virtual nanosecond, so ticks convert to
// instructions exactly; scripts/mcu_check.sh calibrates the factor).
#include "platform.h"

namespace {

enum { SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_FLEN = 0x0C };

int semihost(int op, const void* arg) {
  register int r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

size_t length(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

int open_file(const char* path, int mode) {
  const uint32_t args[3] = {reinterpret_cast<uint32_t>(path), static_cast<uint32_t>(mode),
                            static_cast<uint32_t>(length(path))};
  return semihost(SYS_OPEN, args);
}

volatile uint32_t* const kSyst = reinterpret_cast<volatile uint32_t*>(0xE000E010u);  // CSR, RVR, CVR
volatile uint32_t g_wraps = 0;
bool g_started = false;

}  // namespace

extern "C" void SysTick_Handler() { g_wraps = g_wraps + 1; }

bool plat_read_file(const char* path, void* buf, size_t cap, size_t* size) {
  const int fd = open_file(path, 1 /* "rb" */);
  if (fd < 0) return false;
  const uint32_t flen_arg[1] = {static_cast<uint32_t>(fd)};
  const int len = semihost(SYS_FLEN, flen_arg);
  bool ok = len >= 0 && static_cast<size_t>(len) <= cap;
  if (ok) {
    const uint32_t args[3] = {static_cast<uint32_t>(fd), reinterpret_cast<uint32_t>(buf), static_cast<uint32_t>(len)};
    ok = semihost(SYS_READ, args) == 0;  // returns the number of bytes NOT read
    *size = static_cast<size_t>(len);
  }
  semihost(SYS_CLOSE, flen_arg);
  return ok;
}

bool plat_write_file(const char* path, const void* data, size_t size) {
  const int fd = open_file(path, 5 /* "wb" */);
  if (fd < 0) return false;
  const uint32_t args[3] = {static_cast<uint32_t>(fd), reinterpret_cast<uint32_t>(data), static_cast<uint32_t>(size)};
  const bool ok = semihost(SYS_WRITE, args) == 0;
  semihost(SYS_CLOSE, args);
  return ok;
}

void plat_print(const char* text) { semihost(SYS_WRITE0, text); }

uint64_t plat_ticks() {
  if (!g_started) {
    kSyst[1] = 0x00FFFFFFu;  // reload
    kSyst[2] = 0;            // clear current
    kSyst[0] = 0x7u;         // processor clock, interrupt, enable
    while (kSyst[2] == 0) {
    }  // the first reload has happened: CVR now counts down from 0xFFFFFF
    g_started = true;
  }
  uint32_t w, v;
  do {
    w = g_wraps;
    v = kSyst[2];
  } while (w != g_wraps);
  return (static_cast<uint64_t>(w) << 24) + (0x00FFFFFFu - v);
}

const char* plat_name() { return "cortex-m4 (qemu mps2-an386)"; }
