// Every op of include/linger/ops.inc must be complete: the runtime knows it under its
// (domain, op_type), has a schema and a kernel for it, and the Python parity suite
// (tests/python/test_parity.py) has a case that covers it. A new row in ops.inc fails here,
// naming the op and what it lacks, until all of these exist.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/op_kind.h"
#include "graph/op_schema.h"
#include "kernels/kernel.h"

#ifndef LINGER_SOURCE_DIR
#error "LINGER_SOURCE_DIR must name the source tree (tests/runtime/CMakeLists.txt)"
#endif

namespace lr = linger::runtime;

namespace {

struct OpRow {
  const char* name;
  const char* domain;
  const char* op_type;
  const char* family;
  lr::OpKind kind;
};

const std::vector<OpRow>& op_rows() {
  static const std::vector<OpRow> rows = {
#define LINGER_OP(name, domain, op_type, family) {#name, domain, op_type, #family, lr::OpKind::name},
#include "linger/ops.inc"
#undef LINGER_OP
  };
  return rows;
}

// Python source with comments blanked (a '#' outside a string literal up to the line end).
std::string strip_python_comments(const std::string& src) {
  std::string out;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < src.size(); ++i) {
    const char c = src[i];
    if (c == '\n') {
      comment = false;
      quote = 0;  // the suite's string literals are single-line
      out.push_back(c);
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (c == '\\' && i + 1 < src.size()) {
        out.push_back(c);
        out.push_back(src[++i]);
        continue;
      }
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      comment = true;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The names in the parity suite's covered-ops sets: set literals made only of quoted strings,
// written as the first element of a case tuple, `({"iqMul"}, ...)` or `({"Quant", "Conv2dInt"}, ...)`.
// (Dict literals such as {"a": 1} and sets elsewhere, e.g. of case names, do not count.)
std::set<std::string> parity_covered_ops(const std::string& path, int* set_count) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string src = strip_python_comments(ss.str());
  std::set<std::string> names;
  *set_count = 0;
  for (size_t open = src.find('{'); open != std::string::npos; open = src.find('{', open + 1)) {
    size_t b = open;
    while (b > 0 && is_space(src[b - 1])) --b;
    if (b == 0 || src[b - 1] != '(') continue;  // not the first element of a tuple
    std::vector<std::string> items;
    size_t i = open + 1;
    bool ok = false;
    while (i < src.size()) {
      while (i < src.size() && is_space(src[i])) ++i;
      if (i < src.size() && src[i] == '}') {
        ok = !items.empty();
        break;
      }
      if (i >= src.size() || (src[i] != '"' && src[i] != '\'')) break;
      const char q = src[i];
      const size_t end = src.find(q, i + 1);
      if (end == std::string::npos) break;
      items.push_back(src.substr(i + 1, end - i - 1));
      i = end + 1;
      while (i < src.size() && is_space(src[i])) ++i;
      if (i < src.size() && src[i] == ',') {
        ++i;
        continue;
      }
      if (i < src.size() && src[i] == '}') {
        ok = true;
        break;
      }
      break;  // ':' (a dict) or anything else
    }
    if (!ok) continue;
    ++*set_count;
    names.insert(items.begin(), items.end());
  }
  return names;
}

const std::string kParityFile = std::string(LINGER_SOURCE_DIR) + "/tests/python/test_parity.py";

}  // namespace

TEST(OpCoverage, OpsIncIsNonEmptyAndMatchesTheRuntimeEnum) {
  ASSERT_FALSE(op_rows().empty());
  for (size_t i = 0; i < op_rows().size(); ++i)
    EXPECT_EQ(static_cast<size_t>(op_rows()[i].kind), i) << op_rows()[i].name << ": OpKind must follow ops.inc order";
}

TEST(OpCoverage, EveryOpIsKnownByDomainAndType) {
  for (const OpRow& r : op_rows()) {
    EXPECT_STREQ(lr::op_type_name(r.kind), r.op_type) << "op " << r.name << ": runtime op_type name differs from ops.inc";
    EXPECT_STREQ(lr::op_domain(r.kind), r.domain) << "op " << r.name << ": runtime domain differs from ops.inc";
    lr::OpKind found = lr::OpKind::kCount;
    EXPECT_TRUE(lr::find_op(r.domain, r.op_type, &found)) << "op " << r.name << ": find_op(\"" << r.domain << "\", \""
                                                           << r.op_type << "\") does not know it";
    EXPECT_EQ(found, r.kind) << "op " << r.name << ": find_op resolves to another op";
  }
}

TEST(OpCoverage, EveryOpHasASchemaAndAKernel) {
  for (const OpRow& r : op_rows()) {
    const lr::OpSchema* schema = lr::op_schema(r.kind);
    EXPECT_NE(schema, nullptr) << "op " << r.name << " (family " << r.family
                               << ") lacks a runtime schema: op_schema() returns null (runtime/src/graph/op_schema.cc)";
    lr::Node node;
    node.name = std::string("coverage_") + r.name;
    node.op_type = r.op_type;
    node.domain = r.domain;
    node.kind = r.kind;
    node.schema = schema;
    const std::unique_ptr<lr::Kernel> kernel = lr::create_kernel(node);
    EXPECT_NE(kernel, nullptr) << "op " << r.name << " (family " << r.family
                               << ") lacks a runtime kernel: create_kernel() returns null (runtime/src/kernels/registry.cc)";
    if (schema) {
      EXPECT_LE(schema->min_inputs, schema->max_inputs) << "op " << r.name << ": schema input counts";
      EXPECT_GE(schema->min_outputs, 1) << "op " << r.name << ": schema has no output";
    }
  }
}

TEST(OpCoverage, EveryOpHasAParityCase) {
  int sets = 0;
  const std::set<std::string> covered = parity_covered_ops(kParityFile, &sets);
  ASSERT_GT(sets, 0) << "found no covered-ops set literal ({\"Op\", ...} as the first element of a case tuple) in "
                     << kParityFile << " (missing or unreadable?)";
  for (const OpRow& r : op_rows())
    EXPECT_TRUE(covered.count(r.name)) << "op " << r.name << " (family " << r.family
                                       << ") lacks a parity case: no covered-ops set in " << kParityFile
                                       << " names \"" << r.name << "\"";
}

TEST(OpCoverage, ParityParserSelfCheck) {
  // The parser on a small snippet: tuple-first sets count, dicts / comments / other sets do not.
  const std::string path = testing::TempDir() + "linger_parity_parser_check.py";
  {
    std::ofstream f(path);
    f << "CASES = {\n"
         "    \"a\": ({\"iqMul\"}, lambda a, b: a * b),\n"
         "    \"b\": ( { 'Quant', \"Conv2dInt\" ,\n      \"Dequant\", }, lambda: 1),\n"
         "    # \"c\": ({\"CommentedOut\"}, lambda: 1),\n"
         "    \"d\": ({\"x\": 1}, 2),\n"
         "}\n"
         "OTHER = {\"NotAnOp\"}\n"
         "t = ({\"Inline\"}, 1)  # ({\"AfterHash\"})\n";
  }
  int sets = 0;
  const std::set<std::string> got = parity_covered_ops(path, &sets);
  EXPECT_EQ(sets, 3);
  EXPECT_EQ(got, (std::set<std::string>{"iqMul", "Quant", "Conv2dInt", "Dequant", "Inline"}));
  std::remove(path.c_str());
}
