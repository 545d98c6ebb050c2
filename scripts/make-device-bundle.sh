#!/usr/bin/env bash
# Builds the GPU test bundle: libtilejit with LLVM linked statically (AMDGPU + NVPTX only), the
# gpu-labelled tests, the examples and the benchmarks, stripped, the library xz-compressed, plus the
# few shared libraries a machine without LLVM, fmt or zstd lacks. Output: bundle/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset static-llvm >/dev/null  # (re)configure: new test programs appear in build.ninja
targets=(tilejit tilejit_cli vector_add silu_mul row_softmax moe_stage2_demo)
# Every gpu test program (test_*_gpu) the build defines.
targets+=($(grep -oE '^build test_[a-z0-9_]+_gpu: phony' build-static/build.ninja | sed -E 's/^build (test_[a-z0-9_]+_gpu).*/\1/' | sort -u))
for t in bench_moe_stage2 bench_compile_time bench_gemm; do
  grep -q "build $t:\|^build [^:]*/$t:" build-static/build.ninja 2>/dev/null && targets+=("$t")
done
cmake --build --preset static-llvm --target "${targets[@]}"
rm -rf bundle && mkdir -p bundle/bin bundle/lib
cp build-static/libtilejit.so bundle/lib/
strip --strip-unneeded bundle/lib/libtilejit.so
for exe in $(find build-static -maxdepth 4 -type f -executable \( -name 'test_*_gpu' -o -name 'bench_*' -o -name tilejit \
             -o -name vector_add -o -name silu_mul -o -name row_softmax -o -name moe_stage2_demo \)); do
  cp "$exe" bundle/bin/ && strip bundle/bin/"$(basename "$exe")"
done
# Shared libraries the device lacks (resolved from what the library and binaries need).
for lib in $(ldd bundle/lib/libtilejit.so bundle/bin/* 2>/dev/null | awk '/=> \// {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libfmt.so*|libxxhash.so*|libzstd.so*|libgtest*.so*) cp -L "$lib" bundle/lib/ ;;
  esac
done
xz -T2 -6 bundle/lib/libtilejit.so
cp scripts/device-test bundle/
du -sh bundle
