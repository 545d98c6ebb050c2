// Malformed IR text: the parser throws UserError naming line:column and what it expected.
#include <gtest/gtest.h>

#include <string>

#include "dsl/error.h"
#include "dsl/ir/parser.h"

namespace tilejit::ir {
namespace {

/// "line:column" (1-based) of the `nth` occurrence of `needle` in `text`.
std::string where(const std::string& text, const std::string& needle, int nth = 1) {
  size_t pos = std::string::npos;
  for (int i = 0; i < nth; ++i) pos = text.find(needle, pos == std::string::npos ? 0 : pos + 1);
  if (pos == std::string::npos) return "needle not found";
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

/// Parses `text`, expecting a UserError whose message holds `at` and `words`.
void expect_error(const std::string& text, const std::string& at, const std::string& words) {
  try {
    parse(text);
    ADD_FAILURE() << "no error for:\n" << text;
  } catch (const UserError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(" " + at + ":"), std::string::npos) << "want " << at << " in: " << msg;
    EXPECT_NE(msg.find(words), std::string::npos) << "want '" << words << "' in: " << msg;
  }
}

TEST(IrParseError, UnknownOp) {
  std::string t = "kernel k() {\n  %0 = frobnicate : i32\n}\n";
  expect_error(t, where(t, "frobnicate"), "expected an op name, found 'frobnicate'");
}

TEST(IrParseError, UndefinedValue) {
  std::string t = "kernel k() {\n  %0 = const 1 : i32\n  %1 = add %0, %5 : i32\n}\n";
  expect_error(t, where(t, "%5"), "value %5 is used but never defined");
  std::string dangling = "kernel k() {\n  store %?4, %?4\n}\n";
  expect_error(dangling, where(dangling, "%?4"), "refers to no definition");
}

TEST(IrParseError, BadTypes) {
  std::string t = "kernel k() {\n  %0 = const 1 : i33\n}\n";
  expect_error(t, where(t, "i33"), "expected a type");
  std::string w = "kernel k(a: <65 x f32>) {\n}\n";
  expect_error(w, where(w, "65"), "expected a vector width 2..64");
  std::string sp = "kernel k(a: ptr<local, f32>) {\n}\n";
  expect_error(sp, where(sp, "local"), "expected an address space");
}

TEST(IrParseError, MissingClosingBrace) {
  std::string t = "kernel k() {\n  barrier\n  if %0 {\n    barrier\n  }\n";
  expect_error(t, "6:1", "expected an op or '}', found end of input");
}

TEST(IrParseError, DuplicateDefinition) {
  std::string t = "kernel k() {\n  %0 = const 1 : i32\n  %0 = const 2 : i32\n}\n";
  expect_error(t, where(t, "%0", 2), "value %0 is defined twice");
}

TEST(IrParseError, MissingResultType) {
  std::string t = "kernel k() {\n  %0 = const 1 : i32\n  %1 = add %0, %0\n}\n";
  // The error is at the end of line 3, where the type should be.
  expect_error(t, where(t, "\n}"), "expected ':' and the result type, found end of line");
}

TEST(IrParseError, BadConstantLiterals) {
  std::string t = "kernel k() {\n  %0 = const 1.5x : f32\n}\n";
  expect_error(t, where(t, "1.5x"), "expected a f32 literal");
  std::string b = "kernel k() {\n  %0 = const true : bf16\n}\n";
  expect_error(b, where(b, "true"), "expected a float literal or 0x raw bits");
  std::string big = "kernel k() {\n  %0 = const 99999999999999999999 : i64\n}\n";
  expect_error(big, where(big, "9999"), "expected a 64-bit integer");
  std::string pred = "kernel k() {\n  %0 = const 1 : i32\n  %1 = icmp less %0, %0 : i1\n}\n";
  expect_error(pred, where(pred, "less"), "expected a comparison predicate");
}

TEST(IrParseError, BadHeaderAndTrailingText) {
  std::string t = "kern k() {\n}\n";
  expect_error(t, "1:1", "expected 'kernel', found 'kern'");
  std::string p = "kernel k(a i32) {\n}\n";
  expect_error(p, where(p, "i32"), "expected ':'");
  std::string tail = "kernel k() {\n}\nbarrier\n";
  expect_error(tail, "3:1", "expected end of input");
  std::string ch = "kernel k() {\n  barrier $\n}\n";
  expect_error(ch, where(ch, "$"), "unexpected character '$'");
  std::string eol = "kernel k() {\n  barrier barrier\n}\n";
  expect_error(eol, where(eol, "barrier", 2), "expected end of line, found 'barrier'");
}

}  // namespace
}  // namespace tilejit::ir
