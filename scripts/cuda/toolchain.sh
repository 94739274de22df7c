#!/usr/bin/env bash
# Assemble a CUDA 13.0 toolchain from PyPI wheels (nvcc, nvvm, crt, cudart, cccl, nvrtc, curand,
# cublas) plus a link-time stub of the driver library, for building `--features cuda` on a
# machine without a system CUDA install (or without a GPU). Prints the environment to export:
#   eval "$(bash scripts/cuda/toolchain.sh PREFIX)"
# With a normal CUDA install you do not need this: point CUDA_ROOT at it.
set -euo pipefail
prefix=${1:?usage: cuda-toolchain.sh PREFIX}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$prefix"
if [ ! -x "$prefix/venv/bin/python" ]; then
  python3 -m venv "$prefix/venv" >&2
  "$prefix/venv/bin/pip" install -q nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 \
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cuda-nvrtc==13.0.88 \
    nvidia-curand==10.4.0.35 nvidia-cublas==13.0.2.14 >&2
fi
cu=$("$prefix/venv/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')
root=$prefix/cuda
mkdir -p "$root/lib64/stubs"
for d in bin include nvvm; do ln -sfn "$cu/$d" "$root/$d"; done
for f in "$cu"/lib/*; do ln -sfn "$f" "$root/lib64/$(basename "$f")"; done
for f in "$root"/lib64/lib*.so.*; do b=$(basename "$f"); ln -sfn "$f" "$root/lib64/${b%%.so.*}.so"; done
# The driver library comes with the GPU's driver, not with the toolkit: link against a stub
# whose every entry point returns CUDA_ERROR_STUB_LIBRARY; the real one is found at run time.
if [ ! -f "$root/lib64/stubs/libcuda.so" ]; then
  { echo '/* link-time stub of the CUDA driver API */'
    sed 's/.*/int &(void){return 34;}/' "$here/driver-symbols.txt"; } > "$root/lib64/stubs/libcuda_stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib64/stubs/libcuda.so" "$root/lib64/stubs/libcuda_stub.c"
fi
cat <<OUT
export CUDA_ROOT=$root CUDA_HOME=$root CUDA_PATH=$root
export PATH=$root/bin:\$PATH NVCC=$root/bin/nvcc CUDA_COMPUTE_CAP=\${CUDA_COMPUTE_CAP:-90}
export LIBRARY_PATH=$root/lib64:$root/lib64/stubs:\${LIBRARY_PATH:-}
export LD_LIBRARY_PATH=$root/lib64:\${LD_LIBRARY_PATH:-}
OUT
