#!/usr/bin/env bash
# The microcontroller check: packs the Fashion-MNIST demo model (a small one: the demo's conv-bn CNN
# through trace_layers -> init -> a few QAT batches -> linger.onnx.export, at opset 12, where torch writes
# the int8 ReLU as Cast -> Relu -> Cast, and at opset 14), runs N test images on an emulated Cortex-M4
# (qemu mps2-an386, semihosting) and on the x86 runtime, and prints: outputs bit-exact N/N, flash bytes,
# arena bytes, instructions per inference.
#   bash scripts/mcu_check.sh [N]        N test images (default 8)
# Environment: LINGER_BUILD_DIR (default build/, as scripts/setup.sh builds it), MCU_FUZZ_SECONDS (run
# the packed-file fuzzer that long afterwards; default 0), MCU_OPSETS (default "12 14").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-8}"
BUILD="${LINGER_BUILD_DIR:-build}"
PY=/usr/bin/python3
OPSETS="${MCU_OPSETS:-12 14}"

for tool in arm-none-eabi-g++ arm-none-eabi-nm qemu-system-arm; do
  command -v "$tool" >/dev/null || {
    echo "mcu_check: $tool not found: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" \
         "libstdc++-arm-none-eabi-newlib qemu-system-arm (scripts/setup.sh installs them)"
    exit 1
  }
done
PACK="$BUILD/micro/linger-pack"
HOSTRUN="$BUILD/micro/linger-micro-run"
if [ ! -x "$PACK" ] || [ ! -x "$HOSTRUN" ]; then
  cmake --build "$BUILD" --target linger-pack linger-micro-run >/dev/null
fi
mkdir -p "$BUILD"
WORK="$(cd "$BUILD" && pwd)/mcu"
rm -rf "$WORK"
mkdir -p "$WORK/fw/lib"

echo "== firmware: micro runtime + driver for Cortex-M4 (arm-none-eabi-g++ -O2, hard float, DSP extension)"
ARCH=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
CXXFLAGS=(-std=c++17 -O2 -Wall -Wextra -Wshadow -Werror -fno-exceptions -fno-rtti -fno-threadsafe-statics
          -ffunction-sections -fdata-sections -Imicro/include -Iinclude)
pids=()
for src in micro/src/*.cc micro/src/ops/*.cc; do
  arm-none-eabi-g++ "${ARCH[@]}" "${CXXFLAGS[@]}" -c "$src" -o "$WORK/fw/lib/$(basename "$src" .cc).o" &
  pids+=($!)
  if [ "${#pids[@]}" -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done
arm-none-eabi-ar rcs "$WORK/fw/liblinger_micro.a" "$WORK"/fw/lib/*.o
for src in micro/target/mcu_main.cc micro/target/platform_semihost.cc; do
  arm-none-eabi-g++ "${ARCH[@]}" "${CXXFLAGS[@]}" -c "$src" -o "$WORK/fw/$(basename "$src" .cc).o"
done
arm-none-eabi-gcc "${ARCH[@]}" -O2 -Wall -Werror -c micro/target/startup.c -o "$WORK/fw/startup.o"
arm-none-eabi-g++ "${ARCH[@]}" -nostartfiles -T micro/target/mps2_an386.ld -Wl,--gc-sections --specs=nano.specs \
  "$WORK/fw/startup.o" "$WORK/fw/mcu_main.o" "$WORK/fw/platform_semihost.o" "$WORK/fw/liblinger_micro.a" \
  -lm -lc -lgcc -o "$WORK/fw/fw.elf"

# The library's promises, checked on the objects: no static constructors, no heap, no exceptions, no I/O.
if arm-none-eabi-objdump -h "$WORK"/fw/lib/*.o | grep -qE '\.init_array|\.ctors'; then
  echo "mcu_check: the micro runtime has static constructors"; exit 1
fi
BAD="$(arm-none-eabi-nm -u "$WORK/fw/liblinger_micro.a" | awk '{print $2}' | sort -u |
       grep -E '^(malloc|free|calloc|realloc|_Zn[wa]|_Zd[la]|__cxa_|_Unwind|f?open|f?read|f?write|printf|puts|_sbrk|abort|exit)' || true)"
if [ -n "$BAD" ]; then echo "mcu_check: the micro runtime references: $BAD"; exit 1; fi
echo "  no static constructors, no heap, no exceptions, no file I/O in the micro runtime's objects"

for opset in $OPSETS; do
  D="$WORK/opset$opset"
  mkdir -p "$D"
  echo "== demo model, opset $opset"
  "$PY" scripts/mcu_model.py "$D" --n "$N" --batches 20 --opset "$opset"
  "$PACK" "$D/model.onnx" -o "$D/model.lpk" | tee "$D/pack.txt" | sed 's/^/  /'
  cp "$D/model.lpk" "$WORK/seed_opset$opset.lpk"
  (cd "$D" && timeout 600 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
      -semihosting-config enable=on,target=native -icount shift=0,align=off,sleep=off \
      -kernel "$WORK/fw/fw.elf") > "$D/qemu.txt" 2>&1 || { cat "$D/qemu.txt"; echo "mcu_check: the firmware failed"; exit 1; }
  sed 's/^/  [cortex-m4] /' "$D/qemu.txt"
  "$HOSTRUN" "$D/model.lpk" "$D/inputs.bin" "$D/host_outputs.bin" > "$D/host.txt" || { cat "$D/host.txt"; exit 1; }
done

"$PY" - "$WORK" "$OPSETS" <<'PYEOF'
import os, re, subprocess, sys
import numpy as np

work, opsets = sys.argv[1], sys.argv[2].split()

def nm_sizes(path):
    out = subprocess.run(["arm-none-eabi-nm", "-S", "--defined-only", path], capture_output=True, text=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2].lower() in "tTrRwW" and parts[2].lower() in ("t", "r", "w"):
            sizes[parts[3]] = int(parts[1], 16)
    return sizes

fw = os.path.join(work, "fw")
elf = nm_sizes(os.path.join(fw, "fw.elf"))
lib = set(nm_sizes(os.path.join(fw, "liblinger_micro.a")))
driver = set()
for o in ("mcu_main.o", "platform_semihost.o", "startup.o"):
    driver |= set(nm_sizes(os.path.join(fw, o)))
code = sum(s for n, s in elf.items() if n in lib)
support = sum(s for n, s in elf.items() if n not in lib and n not in driver)
text = int(subprocess.run(["arm-none-eabi-size", os.path.join(fw, "fw.elf")], capture_output=True,
                          text=True).stdout.splitlines()[1].split()[0])

ok_all = True
print("\n== microcontroller check (qemu mps2-an386 Cortex-M4 vs the x86 runtime)")
for opset in opsets:
    d = os.path.join(work, f"opset{opset}")
    exp = np.fromfile(os.path.join(d, "expected.bin"), dtype=np.float32)
    n = int(open(os.path.join(d, "qemu.txt")).read().split(" inputs of ")[0].split()[-1])
    exp = exp.reshape(n, -1)
    mcu = np.fromfile(os.path.join(d, "outputs.bin"), dtype=np.float32).reshape(n, 2, -1)
    host = np.fromfile(os.path.join(d, "host_outputs.bin"), dtype=np.float32).reshape(n, 2, -1)
    same = lambda a: int((a.view(np.uint32) == exp.view(np.uint32)).all(axis=1).sum())
    dsp, port, hdsp, hport = same(mcu[:, 1]), same(mcu[:, 0]), same(host[:, 1]), same(host[:, 0])
    q = open(os.path.join(d, "qemu.txt")).read()
    ticks = re.search(r"ticks per inference portable (\d+) dsp (\d+)", q)
    cal = int(re.search(r"calibration 2000000 instructions = (\d+) ticks", q).group(1))
    tp, td = int(ticks.group(1)), int(ticks.group(2))
    pack = open(os.path.join(d, "pack.txt")).read()
    arena = int(re.search(r"arena size: (\d+)", pack).group(1))
    size = int(re.search(r"wrote .* \((\d+) bytes", pack).group(1))
    weights = int(re.search(r"incl. weights (\d+)", pack).group(1))
    estimate = int(re.search(r"flash size: (\d+)", pack).group(1))
    peak = re.search(r"peak-memory layer: (.*)", pack).group(1)
    flash = size + code + support
    print(f"-- opset {opset} ({'Cast->Relu->Cast folded into the convs' if opset == '12' else 'int8 Relu'})")
    print(f"outputs bit-exact, Cortex-M4 DSP kernels vs x86 runtime        {dsp}/{n}")
    print(f"outputs bit-exact, Cortex-M4 portable kernels vs x86 runtime   {port}/{n}")
    print(f"outputs bit-exact, x86 micro runtime (both paths) vs x86 runtime {min(hdsp, hport)}/{n}")
    print(f"flash bytes  {flash}  (packed model {size} incl. weights {weights}; micro runtime code {code}; "
          f"libm/libgcc/libc helpers {support}; linger-pack's estimate {estimate}; whole firmware .text {text})")
    print(f"arena bytes  {arena}  (peak-memory layer: {peak})")
    print(f"instructions per inference  DSP kernels {td * 40:,}   portable kernels {tp * 40:,}   "
          f"(qemu -icount shift=0: 1 instruction = 1 virtual ns; SysTick at 25 MHz = 40 instructions/tick; "
          f"calibration loop of 2,000,000 instructions measured {cal * 40:,})")
    ok_all = ok_all and dsp == port == hdsp == hport == n
if not ok_all:
    sys.exit("mcu_check: NOT bit-exact")
PYEOF

if [ "${MCU_FUZZ_SECONDS:-0}" -gt 0 ]; then
  echo "== packed-file loader fuzzer (${MCU_FUZZ_SECONDS}s)"
  LPK_FUZZ_DIR="$BUILD/fuzz-lpk" LPK_PACK="$PACK" bash tests/fuzz/lpk/run.sh "$MCU_FUZZ_SECONDS" "$WORK"/seed_opset*.lpk
fi
