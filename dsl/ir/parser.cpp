// The IR text parser: a small lexer and a recursive-descent reader of the printer's form.
#include "dsl/ir/parser.h"

#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <string>
#include <vector>

#include "dsl/error.h"
#include "dsl/ir/numeric.h"
#include "dsl/ir/printer.h"

namespace tilejit::ir {

namespace {

constexpr uint64_t kMaxValues = uint64_t(1) << 24;

enum class Tok { End, Newline, Ident, Number, Value, Dangling, String, Punct, Comment };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // identifier, number, comment body, decoded string, value digits, punct
  uint32_t line = 0, col = 0;
};

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::End: return "end of input";
    case Tok::Newline: return "end of line";
    case Tok::Comment: return "a comment";
    case Tok::Value: return "'%" + t.text + "'";
    case Tok::Dangling: return "'%?" + t.text + "'";
    case Tok::String: return "a quoted name";
    default: return "'" + t.text + "'";
  }
}

[[noreturn]] void fail_at(uint32_t line, uint32_t col, const std::string& msg) {
  throw UserError(fmt::format("IR text {}:{}: {}", line, col, msg));
}

[[noreturn]] void fail_expected(const Token& t, std::string_view expected) {
  fail_at(t.line, t.col, fmt::format("expected {}, found {}", expected, describe(t)));
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Splits the whole text into tokens (newlines are tokens: one op per line).
std::vector<Token> lex(std::string_view src) {
  std::vector<Token> out;
  size_t i = 0;
  uint32_t line = 1, col = 1;
  auto advance = [&](size_t n) {
    i += n;
    col += uint32_t(n);
  };
  while (i < src.size()) {
    char c = src[i];
    Token t;
    t.line = line;
    t.col = col;
    if (c == ' ' || c == '\t' || c == '\r') {
      advance(1);
      continue;
    }
    if (c == '\n') {
      t.kind = Tok::Newline;
      out.push_back(t);
      ++i;
      ++line;
      col = 1;
      continue;
    }
    if (c == '/' && i + 1 < src.size() && src[i + 1] == '/') {
      size_t end = src.find('\n', i);
      if (end == std::string_view::npos) end = src.size();
      t.kind = Tok::Comment;
      t.text = std::string(src.substr(i + 2, end - i - 2));
      advance(end - i);
      out.push_back(std::move(t));
      continue;
    }
    if (is_alpha(c)) {
      size_t j = i;
      while (j < src.size() && (is_alpha(src[j]) || is_digit(src[j]))) ++j;
      t.kind = Tok::Ident;
      t.text = std::string(src.substr(i, j - i));
      advance(j - i);
      out.push_back(std::move(t));
      continue;
    }
    if (is_digit(c) || (c == '-' && i + 1 < src.size() && (is_digit(src[i + 1]) || src[i + 1] == '.'))) {
      size_t j = i + 1;
      bool hex = src.substr(i).starts_with("0x");
      while (j < src.size()) {
        char d = src[j];
        bool sign_after_exp = (d == '+' || d == '-') && !hex && (src[j - 1] == 'e' || src[j - 1] == 'E');
        if (!(is_alpha(d) || is_digit(d) || d == '.' || sign_after_exp)) break;
        ++j;
      }
      t.kind = Tok::Number;
      t.text = std::string(src.substr(i, j - i));
      advance(j - i);
      out.push_back(std::move(t));
      continue;
    }
    if (c == '%') {
      size_t j = i + 1;
      t.kind = Tok::Value;
      if (j < src.size() && src[j] == '?') {
        t.kind = Tok::Dangling;
        ++j;
      }
      size_t start = j;
      while (j < src.size() && is_digit(src[j])) ++j;
      if (j == start) fail_at(line, col, "expected a value number after '%'");
      t.text = std::string(src.substr(start, j - start));
      advance(j - i);
      out.push_back(std::move(t));
      continue;
    }
    if (c == '"') {
      size_t j = i + 1;
      std::string s;
      while (true) {
        if (j >= src.size() || src[j] == '\n') fail_at(line, col, "unterminated quoted name");
        char d = src[j];
        if (d == '"') break;
        if (d == '\\') {
          if (j + 1 >= src.size()) fail_at(line, col, "unterminated quoted name");
          char e = src[j + 1];
          if (e == '"' || e == '\\') {
            s += e;
            j += 2;
          } else if (e == 'x' && j + 3 < src.size() && hex_digit(src[j + 2]) >= 0 &&
                     hex_digit(src[j + 3]) >= 0) {
            s += char(hex_digit(src[j + 2]) * 16 + hex_digit(src[j + 3]));
            j += 4;
          } else {
            fail_at(line, col + uint32_t(j - i), "expected an escape \\\\, \\\" or \\xHH");
          }
          continue;
        }
        s += d;
        ++j;
      }
      t.kind = Tok::String;
      t.text = std::move(s);
      advance(j + 1 - i);
      out.push_back(std::move(t));
      continue;
    }
    if (std::string_view("=,:(){}<>").find(c) != std::string_view::npos) {
      t.kind = Tok::Punct;
      t.text = std::string(1, c);
      advance(1);
      out.push_back(std::move(t));
      continue;
    }
    fail_at(line, col, fmt::format("unexpected character '{}'", c));
  }
  Token end;
  end.kind = Tok::End;
  end.line = line;
  end.col = col;
  out.push_back(end);
  return out;
}

bool has_keyword(OpCode c) {
  switch (c) {
    case OpCode::Const: case OpCode::Param: case OpCode::ThreadId: case OpCode::BlockId:
    case OpCode::BlockDim: case OpCode::GridDim: case OpCode::ICmp: case OpCode::FCmp:
    case OpCode::Mma:
      return true;
    default:
      return false;
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : toks_(lex(text)) {}

  Function run() {
    skip_blank();
    expect_word("kernel");
    fn_.name = name("the kernel name");
    expect_punct('(', "'('");
    if (!is_punct(peek(), ')')) {
      while (true) {
        Param p;
        p.name = name("a parameter name");
        expect_punct(':', "':'");
        p.type = type();
        fn_.params.push_back(std::move(p));
        if (is_punct(peek(), ',')) {
          next();
          continue;
        }
        break;
      }
    }
    expect_punct(')', "',' or ')'");
    if (peek().kind == Tok::Ident && peek().text == "block_size") {
      next();
      expect_punct('(', "'('");
      for (int d = 0; d < 3; ++d) {
        if (d) expect_punct(',', "','");
        const Token& t = next();
        int64_t v = integer(t);
        if (v < 0 || v > int64_t(UINT32_MAX)) fail_expected(t, "a block size 0..4294967295");
        fn_.block_size[d] = uint32_t(v);
      }
      expect_punct(')', "')'");
    }
    if (peek().kind == Tok::Ident && peek().text == "min_blocks_per_sm") {
      next();
      expect_punct('(', "'('");
      const Token& t = next();
      int64_t v = integer(t);
      if (v < 1 || v > 32) fail_expected(t, "a block count 1..32");
      fn_.min_blocks_per_sm = uint32_t(v);
      expect_punct(')', "')'");
    }
    expect_punct('{', "'{'");
    region_args(fn_.body);
    line_end(nullptr);
    region_body(fn_.body);
    skip_blank();
    if (peek().kind != Tok::End) fail_expected(peek(), "end of input after the kernel's '}'");
    for (const Use& u : uses_)
      if (u.v >= defined_.size() || !defined_[u.v])
        fail_at(u.line, u.col, fmt::format("value %{} is used but never defined", u.v));
    return std::move(fn_);
  }

 private:
  struct Use {
    ValueId v;
    uint32_t line, col;
  };

  const Token& peek(size_t k = 0) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < toks_.size() - 1) ++pos_;
    return t;
  }
  static bool is_punct(const Token& t, char c) { return t.kind == Tok::Punct && t.text[0] == c; }
  void expect_punct(char c, std::string_view what) {
    if (!is_punct(peek(), c)) fail_expected(peek(), what);
    next();
  }
  void expect_word(std::string_view w) {
    if (peek().kind != Tok::Ident || peek().text != w) fail_expected(peek(), fmt::format("'{}'", w));
    next();
  }
  std::string name(std::string_view what) {
    const Token& t = peek();
    if (t.kind != Tok::Ident && t.kind != Tok::String) fail_expected(t, what);
    return next().text;
  }
  void skip_blank() {
    while (peek().kind == Tok::Newline || peek().kind == Tok::Comment) next();
  }

  /// Integer literal: decimal int64 or 0x-prefixed raw 64-bit pattern.
  static int64_t integer(const Token& t) {
    if (t.kind != Tok::Number) fail_expected(t, "an integer");
    const std::string& s = t.text;
    if (s.starts_with("0x")) {
      uint64_t u = 0;
      auto r = std::from_chars(s.data() + 2, s.data() + s.size(), u, 16);
      if (s.size() == 2 || r.ec != std::errc() || r.ptr != s.data() + s.size())
        fail_expected(t, "a 64-bit hex integer");
      return std::bit_cast<int64_t>(u);
    }
    int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) fail_expected(t, "a 64-bit integer");
    return v;
  }

  static Scalar scalar(const Token& t) {
    if (t.kind == Tok::Ident)
      if (auto s = parse_scalar(t.text)) return *s;
    fail_expected(t, "a scalar type (i1, i8, i16, i32, i64, f16, bf16, f32, f64)");
  }

  Type value_type() {
    if (is_punct(peek(), '<')) {
      next();
      const Token& w = next();
      int64_t width = w.kind == Tok::Number ? integer(w) : 0;
      if (width < 2 || width > 64) fail_expected(w, "a vector width 2..64");
      expect_word("x");
      Scalar e = scalar(next());
      expect_punct('>', "'>'");
      return Type::vector(e, int(width));
    }
    return Type::scalar(scalar(next()));
  }

  Type type() {
    const Token& t = peek();
    if (t.kind == Tok::Ident && t.text == "void") {
      next();
      return Type::void_();
    }
    if (t.kind == Tok::Ident && t.text == "ptr") {
      next();
      expect_punct('<', "'<'");
      const Token& sp = next();
      AddrSpace space;
      if (sp.kind == Tok::Ident && sp.text == "global") space = AddrSpace::Global;
      else if (sp.kind == Tok::Ident && sp.text == "shared") space = AddrSpace::Shared;
      else fail_expected(sp, "an address space (global or shared)");
      expect_punct(',', "','");
      Scalar e = scalar(next());
      expect_punct('>', "'>'");
      return Type::pointer(e, space);
    }
    if (t.kind == Tok::Ident && t.text == "var") {
      next();
      expect_punct('<', "'<'");
      Type held = value_type();
      expect_punct('>', "'>'");
      return Type::slot(held);
    }
    if (t.kind == Tok::Ident && parse_scalar(t.text)) return value_type();
    if (is_punct(t, '<')) return value_type();
    fail_expected(t, "a type");
  }

  static ValueId number_of(const Token& t) {
    uint64_t n = 0;
    auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), n);
    if (r.ec != std::errc() || n >= kMaxValues)
      fail_at(t.line, t.col, fmt::format("value number %{} is too large", t.text));
    return ValueId(n);
  }

  ValueId define(const Token& t, Type ty) {
    if (t.kind != Tok::Value) fail_expected(t, "a value (%N)");
    ValueId v = number_of(t);
    if (v >= fn_.value_types.size()) {
      fn_.value_types.resize(v + 1, Type::void_());
      defined_.resize(v + 1, false);
    }
    if (defined_[v]) fail_at(t.line, t.col, fmt::format("value %{} is defined twice", v));
    defined_[v] = true;
    fn_.value_types[v] = ty;
    return v;
  }

  ValueId use(const Token& t) {
    if (t.kind == Tok::Dangling)
      fail_at(t.line, t.col, fmt::format("value %?{} refers to no definition", t.text));
    if (t.kind != Tok::Value) fail_expected(t, "a value (%N)");
    ValueId v = number_of(t);
    uses_.push_back({v, t.line, t.col});
    return v;
  }

  /// Optional `// file:line` (the op's location), then the end of the line.
  void line_end(Op* op) {
    if (peek().kind == Tok::Comment) {
      const std::string& c = next().text;
      if (op) op->loc = parse_location(c);
    }
    if (peek().kind != Tok::Newline) fail_expected(peek(), "end of line");
    next();
  }

  static SourceLoc parse_location(std::string_view c) {
    while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
    while (!c.empty() && c.back() == ' ') c.remove_suffix(1);
    auto colon = c.rfind(':');
    if (colon == std::string_view::npos) return {};
    uint32_t line = 0;
    auto digits = c.substr(colon + 1);
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), line);
    if (r.ec != std::errc() || r.ptr != digits.data() + digits.size() || line == 0) return {};
    return SourceLoc{std::string(c.substr(0, colon)), line};
  }

  void region_args(Region& r) {
    if (!is_punct(peek(), '(')) return;
    next();
    while (true) {
      const Token& v = next();
      expect_punct(':', "':'");
      Type t = type();
      r.args.push_back(define(v, t));
      if (is_punct(peek(), ',')) {
        next();
        continue;
      }
      break;
    }
    expect_punct(')', "',' or ')'");
  }

  /// Ops up to and including the region's closing '}'.
  void region_body(Region& r) {
    while (true) {
      skip_blank();
      if (is_punct(peek(), '}')) {
        next();
        return;
      }
      if (peek().kind == Tok::End) fail_expected(peek(), "an op or '}'");
      op_line(r);
    }
  }

  void keyword(Op& op, const Token& kw) {
    switch (op.code) {
      case OpCode::Const: {
        Type t = op.result != kNoValue ? fn_.value_types[op.result] : Type::void_();
        op.attrs.push_back(const_bits(kw, t));
        return;
      }
      case OpCode::Param:
        if (kw.kind == Tok::Ident) {
          for (size_t i = 0; i < fn_.params.size(); ++i)
            if (fn_.params[i].name == kw.text) {
              op.attrs.push_back(int64_t(i));
              return;
            }
          fail_expected(kw, "a parameter name or index");
        }
        break;
      case OpCode::ThreadId: case OpCode::BlockId: case OpCode::BlockDim: case OpCode::GridDim:
        if (kw.kind == Tok::Ident) {
          if (kw.text == "x" || kw.text == "y" || kw.text == "z") {
            op.attrs.push_back(kw.text[0] - 'x');
            return;
          }
          fail_expected(kw, "a dimension (x, y or z)");
        }
        break;
      case OpCode::ICmp: case OpCode::FCmp:
        if (kw.kind == Tok::Ident) {
          CmpPred p;
          if (!pred_from_name(kw.text, p)) fail_expected(kw, "a comparison predicate");
          op.attrs.push_back(int64_t(p));
          return;
        }
        break;
      case OpCode::Mma:
        if (kw.kind == Tok::Ident) {
          auto id = mma_instr_from_name(kw.text);
          if (!id) fail_expected(kw, "an mma instruction name");
          op.attrs.push_back(*id);
          return;
        }
        break;
      default:
        break;
    }
    op.attrs.push_back(integer(kw));
  }

  static int64_t const_bits(const Token& kw, const Type& t) {
    if (t.kind != Type::Kind::Value) return integer(kw);
    if (!t.is_float()) {
      if (kw.kind == Tok::Ident && (kw.text == "true" || kw.text == "false")) return kw.text == "true";
      return integer(kw);
    }
    if (kw.kind != Tok::Number) fail_expected(kw, "a float literal or 0x raw bits");
    if (kw.text.starts_with("0x")) return integer(kw);
    const char* b = kw.text.data();
    const char* e = b + kw.text.size();
    if (t.elem == Scalar::F64) {
      double d = 0;
      auto r = std::from_chars(b, e, d);
      if (r.ec != std::errc() || r.ptr != e) fail_expected(kw, "an f64 literal");
      return std::bit_cast<int64_t>(d);
    }
    float f = 0;
    auto r = std::from_chars(b, e, f);
    if (r.ec != std::errc() || r.ptr != e) fail_expected(kw, fmt::format("a {} literal", scalar_name(t.elem)));
    switch (t.elem) {
      case Scalar::F32: return int64_t(std::bit_cast<uint32_t>(f));
      case Scalar::BF16: return int64_t(f32_to_bf16(f));
      default: return int64_t(f32_to_f16(f));
    }
  }

  void op_line(Region& r) {
    Op op;
    const Token* result_tok = nullptr;
    if (peek().kind == Tok::Value || peek().kind == Tok::Dangling) {
      result_tok = &next();
      if (result_tok->kind == Tok::Dangling) fail_expected(*result_tok, "a result value (%N)");
      expect_punct('=', "'='");
    }
    const Token& name_tok = next();
    if (name_tok.kind != Tok::Ident || !op_from_name(name_tok.text, op.code))
      fail_expected(name_tok, "an op name");
    const bool pretty_for = op.code == OpCode::For && !result_tok && peek().kind == Tok::Value &&
                            is_punct(peek(1), ':');
    if (pretty_for) {
      const Token& iv = next();
      expect_punct(':', "':'");
      Type ivt = type();
      expect_punct('=', "'='");
      op.operands.push_back(use(next()));
      expect_word("to");
      op.operands.push_back(use(next()));
      expect_word("step");
      op.operands.push_back(use(next()));
      op.regions.emplace_back().args.push_back(define(iv, ivt));
      if (!is_punct(peek(), '{')) fail_expected(peek(), "'{'");
    } else {
      const Token* kw = nullptr;
      if (has_keyword(op.code) && (peek().kind == Tok::Ident || peek().kind == Tok::Number)) kw = &next();
      if (peek().kind == Tok::Value || peek().kind == Tok::Dangling || peek().kind == Tok::Number) {
        while (true) {
          const Token& it = next();
          if (it.kind == Tok::Number) op.attrs.push_back(integer(it));
          else op.operands.push_back(use(it));
          if (!is_punct(peek(), ',')) break;
          next();
        }
      }
      if (result_tok) {
        if (!is_punct(peek(), ':')) fail_expected(peek(), "':' and the result type");
        next();
        op.result = define(*result_tok, type());
      }
      if (kw) {
        // The keyword holds attr 0; items after it are the remaining attributes.
        std::vector<int64_t> rest = std::move(op.attrs);
        op.attrs.clear();
        keyword(op, *kw);
        op.attrs.insert(op.attrs.end(), rest.begin(), rest.end());
      }
    }
    if (!is_punct(peek(), '{')) {
      line_end(&op);
      r.ops.push_back(std::move(op));
      return;
    }
    for (size_t idx = 0;; ++idx) {
      next();  // '{'
      if (idx > 0 || !pretty_for) op.regions.emplace_back();
      Region& sub = op.regions.back();
      if (!(idx == 0 && pretty_for)) region_args(sub);
      line_end(idx == 0 ? &op : nullptr);
      region_body(sub);
      if (op.code == OpCode::If && idx == 0 && peek().kind == Tok::Ident && peek().text == "else") {
        next();
        if (!is_punct(peek(), '{')) fail_expected(peek(), "'{' after else");
        continue;
      }
      if (is_punct(peek(), '{')) continue;
      break;
    }
    if (op.code == OpCode::If && op.regions.size() == 1) op.regions.emplace_back();
    if (peek().kind != Tok::Newline) fail_expected(peek(), "end of line after '}'");
    next();
    r.ops.push_back(std::move(op));
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  Function fn_;
  std::vector<bool> defined_;
  std::vector<Use> uses_;
};

}  // namespace

Function parse(std::string_view text) { return Parser(text).run(); }

}  // namespace tilejit::ir
