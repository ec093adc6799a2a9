"""The benchmark prints figures (it is not a timed test): check that it measures what it says it does."""



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
