"""Run llama.cpp's compiled quantizer: ``python -m ... IN.gguf OUT.gguf q4_k_m``.

A separate process, because llama.cpp prints to the process's own stdout and can abort it.
"""

from __future__ import annotations

import ctypes
import sys


def main(argv: list[str]) -> int:
    source, target, kind = argv
    import llama_cpp  # compiled llama.cpp: only hosts with llama-cpp-python installed

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}", None)
    if ftype is None:
        print(f"llama.cpp has no ftype {kind!r}", file=sys.stderr)
        return 2
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    return int(
        llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params))
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
