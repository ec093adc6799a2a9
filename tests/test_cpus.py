"""available_cpus: the affinity mask, capped by the cgroup quota (a container's --cpus)."""

import os

import pytest

from app.cpus import available_cpus


@pytest.fixture
def four_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})


@pytest.mark.parametrize("cpu_max,expected", [("max 100000", 4), ("250000 100000", 2), ("50000 100000", 1),
                                              ("800000 100000", 4), ("garbage", 4)])
def test_quota_caps_the_affinity(tmp_path, four_cpus, cpu_max, expected):
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max + "\n")
    assert available_cpus(path) == expected


def test_no_cgroup_file_means_the_affinity(tmp_path, four_cpus):
    assert available_cpus(tmp_path / "missing") == 4
