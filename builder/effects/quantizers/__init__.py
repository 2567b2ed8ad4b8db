"""Quantizer plugins: catalog data in conf/quantizer/ plus one module each in this package.

A quantizer turns a folder of source weights into a variant's weights. It gets a
:class:`QuantizeJob` (the spec, the input folder, an empty folder to fill) and returns what it
ran; :mod:`builder.effects.variants` does the caching, hashing and atomic placement around
it, so a plugin only writes into ``job.out_dir`` and never decides where weights live. A
quantizer's conf/ entry names its module (``module: gguf``); adding one is
conf/quantizer/<name>.yaml plus <module>.py here.
"""

from __future__ import annotations

from typing import Final, Protocol

from builder.core.registry import Registry
from builder.effects.quantizers._job import Produced, QuantizeJob, run_tool


class Quantizer(Protocol):
    """What a quantizer module provides."""

    def quantize(self, job: QuantizeJob) -> Produced:
        """Fill ``job.out_dir`` with the variant's files; raise QuantizeError on failure."""
        ...


__all__ = ["REGISTRY", "Produced", "QuantizeJob", "Quantizer", "run_tool"]

REGISTRY: Final = Registry[Quantizer](
    kind="quantizer module", package=__name__, path=__path__, provides=("quantize",)
)
