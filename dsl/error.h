// The error classes every part of tilejit throws.
#pragma once
#include <source_location>
#include <stdexcept>
#include <string>

namespace tilejit {

/// Base of all tilejit errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A mistake in the user's kernel or arguments; the message names the user's
/// file:line when known and says what was expected.
class UserError : public Error {
 public:
  using Error::Error;
  UserError(const std::string& what, const std::source_location& loc);
};

/// A bug inside tilejit (a pass produced invalid IR, a lowering missed an op).
class InternalError : public Error {
 public:
  using Error::Error;
};

/// A driver or device failure; the message carries the driver's own text.
class RuntimeError : public Error {
 public:
  using Error::Error;
};

/// A kernel needs more than the device has (shared memory, registers, threads).
class OutOfResources : public Error {
 public:
  using Error::Error;
};

/// Out-of-bounds access or other fault found by the emulator: names kernel, op, lane, address.
class EmulatorFault : public Error {
 public:
  using Error::Error;
};

/// "file:line" of a source location, with the path shortened to its last two parts.
std::string format_location(const std::source_location& loc);

}  // namespace tilejit
