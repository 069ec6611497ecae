"""Commands that run no model start without torch: `moodtape import` on a big playlist file should not pay
torch's seconds and ~200 MB before it reads a byte (issue: imports under 250 MB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

_PROBE = """
import json, sys
from moodtape.bot.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}))
"""


def run_cli(tmp_path: Path, *args: str) -> tuple[dict, str]:
    env = {**os.environ, "MOODTAPE_DB": str(tmp_path / "startup.db"), "MOODTAPE_DEVICE": "auto"}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    *output, probe = done.stdout.strip().splitlines()
    return json.loads(probe), "\n".join(output)


def test_import_and_stats_never_load_torch(tmp_path: Path) -> None:
    probe, output = run_cli(tmp_path, "import", "--json", str(FIXTURES / "mpd_slice.json"))
    assert probe == {"code": 0, "torch": False, "transformers": False}
    report = json.loads(output)
    assert report["playlists_added"] > 0 and report["tracks_new"] > 0  # it did import

    probe, output = run_cli(tmp_path, "stats", "--json")
    assert probe["code"] == 0 and not probe["torch"]
    assert json.loads(output)["tracks"]["total"] == report["tracks_new"]
