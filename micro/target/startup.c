/* Minimal Cortex-M4 start-up for the micro driver under qemu (mps2-an386):
 * vector table, FPU enable, .data copy, .bss clear, main, semihosting exit.
 * No C library start-up files and no static constructors are used. */
#include <stdint.h>

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
extern int main(int argc, char** argv);
void SysTick_Handler(void);

static void semihost_exit(int status) {
  /* SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit (0x20026) -> qemu exits 0; another reason -> 1. */
  register int r0 __asm__("r0") = 0x18;
  register int r1 __asm__("r1") = status == 0 ? 0x20026 : 0x20023;
  __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
  for (;;) {
  }
}

void Reset_Handler(void) {
  *(volatile uint32_t*)0xE000ED88u |= 0xFu << 20; /* CPACR: full access to CP10/CP11 (FPU) */
  __asm__ volatile("dsb\n isb" ::: "memory");
  for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
  for (uint32_t* d = __bss_start; d < __bss_end;) *d++ = 0;
  semihost_exit(main(0, 0));
}

static void Fault_Handler(void) {
  static const char msg[] = "lm: FAULT (hard fault / exception)\n";
  register int r0 __asm__("r0") = 0x04; /* SYS_WRITE0 */
  register const char* r1 __asm__("r1") = msg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  semihost_exit(3);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, SysTick_Handler};
