// linger-pack MODEL.onnx -o MODEL.lpk [--plan]: validate an exported model as
// the runtime does and write the micro runtime's packed file.
// Exit status 0 on success, 1 on a model error, 2 on a usage error.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "linger/runtime/errors.h"
#include "linger/runtime/npy.h"
#include "packer.h"

namespace {

int usage(const char* msg) {
  if (msg) std::cerr << "linger-pack: " << msg << "\n";
  std::cerr << "usage: linger-pack MODEL.onnx -o MODEL.lpk [--plan] [--quiet]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string in, out;
  bool plan = false, quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-o" && i + 1 < argc) out = argv[++i];
    else if (a == "--plan") plan = true;
    else if (a == "--quiet") quiet = true;
    else if (a == "-h" || a == "--help") return usage(nullptr), 0;
    else if (!a.empty() && a[0] == '-') return usage(("unknown option " + a).c_str());
    else if (in.empty()) in = a;
    else return usage("more than one model given");
  }
  if (in.empty() || out.empty()) return usage("need MODEL.onnx and -o MODEL.lpk");
  try {
    const std::string bytes = linger::runtime::read_file(in);
    linger::micro_pack::PackReport report;
    const std::vector<uint8_t> packed = linger::micro_pack::pack_model(bytes.data(), bytes.size(), &report);
    std::ofstream f(out, std::ios::binary);
    f.write(reinterpret_cast<const char*>(packed.data()), static_cast<std::streamsize>(packed.size()));
    f.close();
    if (!f) {
      std::cerr << "linger-pack: cannot write " << out << "\n";
      return 1;
    }
    if (!quiet) {
      std::cout << "linger-pack: wrote " << out << " (" << packed.size() << " bytes, format "
                << 1 << "." << 0 << ")\n"
                << linger::micro_pack::describe(report, plan);
    }
  } catch (const linger::runtime::Error& e) {
    std::cerr << "linger-pack: " << in << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
