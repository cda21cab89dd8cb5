"""What machine and which libraries a figure came from (a leaf: no project imports).

Two machines that both call themselves "AMD EPYC" can be a Zen 3 without
bfloat16 and a Zen 4 with it, and their timings differ 2-3x. So the CPU is
described by its model name *and* its family/model numbers (with the AMD
microarchitecture when known) *and* the instruction-set flags that change what
mnistbench computes (AVX2, AVX-512, AVX512-BF16, AMX). Every record and table
header carries that description, and resuming a run compares it.
"""

from __future__ import annotations

import functools
import os
import platform
from importlib import metadata
from pathlib import Path

__all__ = ["cpu_info", "host_description", "library_versions"]

#: Flags that change what (or how fast) mnistbench computes, in the order shown.
_SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")

#: AMD family 25 (0x19) model ranges -> microarchitecture (AMD's own tables).
_AMD_FAMILY_25 = (
    (0x00, 0x0F, "Zen 3"), (0x10, 0x1F, "Zen 4"), (0x20, 0x5F, "Zen 3"),
    (0x60, 0x7F, "Zen 4"), (0xA0, 0xAF, "Zen 4"),
)


def _amd_codename(family: int, model: int) -> str | None:
    if family == 23:
        return "Zen/Zen 2"
    if family == 26:
        return "Zen 5"
    if family == 25:
        for low, high, name in _AMD_FAMILY_25:
            if low <= model <= high:
                return name
    return None


def _parse_cpuinfo(text: str) -> dict:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if fields:  # the first processor's block is enough
                break
            continue
        fields.setdefault(key.strip(), value.strip())
    return fields


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict:
    """The CPU as ``{"model_name", "vendor", "family", "model", "microarchitecture",
    "flags", "cores"}``; fields that cannot be read are None (non-Linux systems)."""
    fields = {}
    try:
        fields = _parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:
        pass
    return cpu_info_from(fields, os.cpu_count())


def cpu_info_from(fields: dict, cores) -> dict:
    """:func:`cpu_info` from parsed ``/proc/cpuinfo`` fields (split out for tests)."""
    flags = set(fields.get("flags", "").split())

    def number(key):
        try:
            return int(fields[key])
        except (KeyError, ValueError):
            return None

    family, model = number("cpu family"), number("model")
    vendor = fields.get("vendor_id")
    arch = (_amd_codename(family, model)
            if vendor == "AuthenticAMD" and family is not None and model is not None else None)
    return {
        "model_name": fields.get("model name") or platform.processor() or platform.machine(),
        "vendor": vendor,
        "family": family,
        "model": model,
        "microarchitecture": arch,
        "flags": [f for f in _SHOWN_FLAGS if f in flags],
        "cores": cores,
    }


def describe_cpu(info: dict) -> str:
    """One line, e.g. ``2 x AMD EPYC (Zen 4, family 25 model 17; avx2 avx512f avx512_bf16)``."""
    details = []
    if info.get("family") is not None:
        ident = f"family {info['family']} model {info['model']}"
        details.append(f"{info['microarchitecture']}, {ident}" if info.get("microarchitecture")
                       else ident)
    flags = " ".join(info.get("flags") or []) or ("no avx2" if info.get("family") is not None
                                                  else "")
    inside = "; ".join(x for x in (", ".join(details), flags) if x)
    return f"{info.get('cores')} x {info['model_name']}" + (f" ({inside})" if inside else "")


@functools.lru_cache(maxsize=1)
def host_description() -> str:
    """This machine's CPU, as every record and table header names it."""
    return describe_cpu(cpu_info())


@functools.lru_cache(maxsize=1)
def library_versions() -> dict:
    """Python and the versions of the libraries that shape a result."""

    out = {"python": platform.python_version()}
    for name in ("mnistbench", "numpy", "scikit-learn", "scikeras", "keras", "tensorflow",
                 "xgboost", "scikit-image", "pandas"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out
