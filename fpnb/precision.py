"""One precision setting for training and inference: bfloat16 where the hardware does it natively.

``resolve`` decides once per run: ``$FPNB_PRECISION`` (``bf16`` / ``fp32``) wins, then the
profile's ``precision`` when it is not ``auto``, then detection: ``bf16`` on a CPU that reports
AMX-BF16 or AVX512-BF16 (or a CUDA device with bfloat16), else ``fp32``. Keras then trains under
``mixed_bfloat16`` (float32 weights, outputs and losses); torch under bfloat16 autocast with
``channels_last`` activations. Data, metrics and saved weights stay float32.
"""
from __future__ import annotations

import contextlib
import os
import platform
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fpnb.config import Profile

PRECISION_ENV = "FPNB_PRECISION"
PRECISIONS = ("bf16", "fp32")
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is missing)."""
    try:
        with open(cpuinfo) as handle:
            line = next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())


def device(cpuinfo: str = "/proc/cpuinfo") -> dict:
    """CPU model, core count and bfloat16 units: where a timing or a build was measured (reports and
    benchmarks record it; "AMD EPYC" names machines with and without AVX512-BF16 here)."""
    model = None
    try:
        with open(cpuinfo) as handle:
            model = next((line.partition(":")[2].strip() for line in handle if line.startswith("model name")), None)
    except OSError:
        pass
    return {"cpu_model": model or platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "bf16_units": sorted(cpu_flags(cpuinfo) & BF16_CPU_FLAGS)}


def detect(flags: frozenset[str] | None = None, cuda_bf16: bool | None = None) -> str:
    """``bf16`` when the CPU flags (or a CUDA device) support bfloat16 natively, else ``fp32``."""
    if cuda_bf16 is None:
        cuda_bf16 = _cuda_bf16()
    flags = cpu_flags() if flags is None else flags
    return "bf16" if cuda_bf16 or flags & BF16_CPU_FLAGS else "fp32"


def _cuda_bf16() -> bool:
    """Whether torch is already imported and sees a CUDA device with bfloat16 (never imports torch)."""
    import sys

    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def resolve(profile: Profile | None = None) -> str:
    """The run's precision: $FPNB_PRECISION, else the profile's setting, else ``detect()``."""
    chosen = os.environ.get(PRECISION_ENV) or (profile.precision if profile is not None else "auto")
    if chosen == "auto":
        return detect()
    if chosen not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS} or 'auto', got {chosen!r}")
    return chosen


def keras_policy(precision: str) -> str:
    """The Keras dtype policy of a precision."""
    return {"bf16": "mixed_bfloat16", "fp32": "float32"}[precision]


@contextlib.contextmanager
def keras_precision(precision: str):
    """Build Keras models under the precision's global dtype policy, restoring the old one after."""
    import keras

    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(keras_policy(precision))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def torch_autocast(precision: str, device: Any = "cpu"):
    """bfloat16 autocast on ``device`` for ``bf16``, a no-op context for ``fp32``."""
    import torch

    device_type = torch.device(device).type
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")
