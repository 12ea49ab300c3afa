// What the micro driver (mcu_main.cc) needs from its platform: files, text
// output, a cycle counter. Host: stdio (platform_host.cc). Cortex-M4 under
// qemu: ARM semihosting and SysTick (platform_semihost.cc). The micro runtime
// itself uses none of this.
#pragma once

#include <stddef.h>
#include <stdint.h>

// Reads at most cap bytes of path into buf; false on error or when the file is larger.
bool plat_read_file(const char* path, void* buf, size_t cap, size_t* size);
bool plat_write_file(const char* path, const void* data, size_t size);
void plat_print(const char* text);
// A monotonically increasing tick count and what it counts ("ticks" on the target:
// SysTick at the core clock; 0 when there is no counter).
uint64_t plat_ticks();
const char* plat_name();
