"""A short run of the load script (the full run is documented in docs/load-test.md)."""

from tests.conftest import load_script


def test_short_load_run_has_no_errors_but_deliberate_503s():
    loadtest = load_script("loadtest")
    result = loadtest.main(["--clients", "4", "--seconds", "4", "--warmup-seconds", "1", "--count", "2", "--max-requests", "200"])
    assert result["statuses"].get("200", 0) > 0
    assert set(result["statuses"]) <= {"200", "503"}, result["statuses"]
    assert result["latency_ms"]["p50"] > 0 and result["server_rss_mb"]["before"] > 0
