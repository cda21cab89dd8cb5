"""The machine named beside every figure: a Zen 3 and a Zen 4 must not look alike."""

from mnistbench.hostinfo import _parse_cpuinfo, cpu_info_from, describe_cpu, host_description

ZEN3 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 fma

processor\t: 1
vendor_id\t: AuthenticAMD
"""
ZEN4 = ZEN3.replace("model\t\t: 1", "model\t\t: 17").replace("avx2 fma", "avx2 fma avx512f avx512_bf16")


def test_zen3_and_zen4_called_amd_epyc_are_told_apart():
    zen3 = describe_cpu(cpu_info_from(_parse_cpuinfo(ZEN3), 2))
    zen4 = describe_cpu(cpu_info_from(_parse_cpuinfo(ZEN4), 2))
    assert zen3 == "2 x AMD EPYC (Zen 3, family 25 model 1; avx2)"
    assert zen4 == "2 x AMD EPYC (Zen 4, family 25 model 17; avx2 avx512f avx512_bf16)"


def test_unknown_cpus_still_get_a_name():
    assert describe_cpu(cpu_info_from({}, 4)).startswith("4 x ")
    intel = {"vendor_id": "GenuineIntel", "cpu family": "6", "model": "143",
             "model name": "Intel Xeon", "flags": "avx2 amx_bf16"}
    assert describe_cpu(cpu_info_from(intel, 8)) == "8 x Intel Xeon (family 6 model 143; avx2 amx_bf16)"


def test_this_machine_is_described():
    assert " x " in host_description()
