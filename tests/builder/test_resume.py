"""A build killed in the middle of a stage resumes without paying again for the replies it received."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from culturebench.builder import build_dataset
from culturebench.judges import parse_spec
from culturebench.loaders import load_items
from tests.builder.conftest import build_config
from tests.builder.script import respond
from tests.judges.stub_server import StubJudgeServer

CULTUREBENCH = str(Path(sys.executable).parent / "culturebench")


def answered(stub: StubJudgeServer) -> list:
    return [entry for entry in list(stub.log) if entry.status == 200]


def test_killed_build_resumes(seeds_file, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "CULTUREBENCH_CACHE": str(tmp_path / "user-cache"), "OMP_NUM_THREADS": "1"}
    with StubJudgeServer(latency_s=0.3, responder=respond) as stub:
        spec = f"openai-compatible:{stub.openai_base_url}:qwen2.5-7b-instruct"
        command = [CULTUREBENCH, "build-dataset", "--seeds", str(seeds_file), "--generator", spec, "--out", str(out),
                   "--concurrency", "1", "--timeout", "10", "--no-progress"]

        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while len(answered(stub)) < 6:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the build sent fewer than 6 requests in 120 s"
            time.sleep(0.05)
        process.kill()
        process.wait(timeout=30)
        process.stderr.close()

        first_run = list(stub.log)
        paid = {entry.prompt_key for entry in first_run if entry.status == 200}
        assert (out / "stages" / "01-seeds.report.json").exists()
        assert not (out / "stages" / "02-experts.report.json").exists()
        assert not (out / "english.yaml").exists()

        stub.state.latency_s = 0.0
        resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        second_run = stub.log[len(first_run):]
        # Only a reply that arrived in the instant before the kill can be missing from the cache.
        resent = [entry for entry in second_run if entry.prompt_key in paid]
        assert len(resent) <= 1

        reference = tmp_path / "reference"
        build_dataset(build_config(seeds_file, parse_spec(spec), reference, tmp_path / "reference-cache"))

    built = [item.to_dict() for item in load_items(out)]
    expected = [item.to_dict() for item in load_items(reference)]
    assert built == expected
    assert (out / "stats.csv").read_text(encoding="utf-8") == (reference / "stats.csv").read_text(encoding="utf-8")
