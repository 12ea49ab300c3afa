// Host platform for the micro driver: stdio files, stdout, no cycle counter.
#include <stdio.h>

#include "platform.h"

bool plat_read_file(const char* path, void* buf, size_t cap, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return false;
  const size_t n = fread(buf, 1, cap, f);
  const bool more = fgetc(f) != EOF;
  fclose(f);
  *size = n;
  return !more;
}

bool plat_write_file(const char* path, const void* data, size_t size) {
  FILE* f = fopen(path, "wb");
  if (!f) return false;
  const bool ok = fwrite(data, 1, size, f) == size;
  return fclose(f) == 0 && ok;
}

void plat_print(const char* text) { fputs(text, stdout); }
uint64_t plat_ticks() { return 0; }
const char* plat_name() { return "host"; }
