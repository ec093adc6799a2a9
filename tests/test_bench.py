"""The benchmark prints figures (it is not a timed test): check that it measures what it says it does."""

from pathlib import Path

from tests.conftest import MODELS
from training.bench import bench, cpu_description


def test_bench_measures_each_method_in_its_own_process(capsys):
    result = bench([MODELS / "prefill-unet.onnx"], [(64, 96)], repeats=1, threads=1, classical=False)
    (row,) = result["rows"]
    assert row["method"] == "prefill-unet" and row["size"] == "96x64"
    assert row["median_seconds"] > 0 and row["megapixels_per_second"] > 0
    assert 50 < row["peak_rss_mb"] < 4000  # onnxruntime and Python loaded, a 96x64 image: not 0, not GBs
    assert result["sgemm_gflops"] > 0 and result["cpu"] == cpu_description() and result["threads"] == 1
    assert "prefill-unet" in capsys.readouterr().out


def test_cpu_description_names_the_vector_unit():
    assert cpu_description().endswith(("AVX-512", "AVX2", "no AVX2", "with VNNI"))


def test_an_int8_twin_is_timed_against_its_float_model_in_turn(capsys):
    from training.bench import twin_pairs

    models = [MODELS / "prefill-unet-int8.onnx", MODELS / "prefill-unet.onnx", MODELS / "seed-autoencoder.onnx"]
    assert twin_pairs(models) == [(MODELS / "prefill-unet.onnx", MODELS / "prefill-unet-int8.onnx")]
    assert twin_pairs(models[:1]) == []  # a twin without its float model in the list: nothing to pair
    result = bench(models[:2], [(64, 64)], repeats=2, threads=1, classical=False)
    (pair,) = result["int8_pairs"]
    assert (pair["float"], pair["int8"], pair["size"], pair["pairs"]) == ("prefill-unet", "prefill-unet-int8", "64x64", 2)
    assert 0 < pair["speedup_min"] <= pair["speedup_median"] <= pair["speedup_max"]
    assert "prefill-unet-int8 vs float" in capsys.readouterr().out


def test_a_pair_is_timed_in_turn_as_the_first_models_time_over_the_seconds(capsys, monkeypatch):
    import training.bench as bench_module

    now = [0.0]
    costs = {"blind-unet": 3.0, "prefill-unet": 2.0}  # seconds each call of the stand-in models takes
    calls: list[str] = []

    def fake_run(path, image, threads):
        def run():
            calls.append(Path(path).stem)
            now[0] += costs[Path(path).stem]
        return run

    monkeypatch.setattr(bench_module, "_model_run", fake_run)
    monkeypatch.setattr(bench_module.time, "perf_counter", lambda: now[0])
    pair = bench_module.measure_pair(str(MODELS / "blind-unet.onnx"), str(MODELS / "prefill-unet.onnx"), 64, 64,
                                     repeats=3, threads=1, density=0.3)
    assert calls == ["blind-unet", "prefill-unet"] * 4  # a warm-up each, then in turn
    assert (pair["first"], pair["second"], pair["pairs"]) == ("blind-unet", "prefill-unet", 3)
    assert pair["ratio_median"] == pair["ratio_min"] == pair["ratio_max"] == 1.5


def test_bench_runs_the_pairs_it_is_given(capsys):
    one = MODELS / "prefill-unet.onnx"
    result = bench([], [(64, 64)], repeats=1, threads=1, classical=False, pairs=[(one, one)])
    (pair,) = result["pairs"]
    assert (pair["first"], pair["second"], pair["size"]) == ("prefill-unet", "prefill-unet", "64x64")
    assert "prefill-unet / prefill-unet" in capsys.readouterr().out
