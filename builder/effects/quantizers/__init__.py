"""Quantizer plugins: catalog data in conf/quantizer/ plus one module each, in this registry.

A quantizer turns a folder of source weights into a variant's weights. It gets a
:class:`QuantizeJob` (the spec, the input folder, an empty folder to fill) and returns what it
ran; :mod:`builder.effects.variants` does the caching, hashing and atomic placement around
it, so a plugin only writes into ``job.out_dir`` and never decides where weights live.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol

from builder.core.variants import QUANTIZER_MODULES
from builder.effects.quantizers import gguf, llmcompressor
from builder.effects.quantizers.job import Produced, QuantizeJob
from builder.errors import ConfigError, unknown_name


class Quantizer(Protocol):
    def quantize(self, job: QuantizeJob) -> Produced: ...


__all__ = ["QUANTIZERS", "Produced", "QuantizeJob", "Quantizer", "quantizer"]

QUANTIZERS: Final[Mapping[str, Quantizer]] = {
    "gguf": gguf,
    "llmcompressor": llmcompressor,
}
# The pure core lists the same names (conf/ is checked against them without importing effects).
assert tuple(QUANTIZERS) == QUANTIZER_MODULES


def quantizer(module: str) -> Quantizer:
    try:
        return QUANTIZERS[module]
    except KeyError:
        raise ConfigError(unknown_name("quantizer module", module, QUANTIZERS)) from None
