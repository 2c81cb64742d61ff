"""The comment reader Spark ships to its executors unpickles and reads where this project is not
installed: a cluster's executors need Python and pyspark only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyspark
from pyspark import cloudpickle

from jobs.rules import load_rules
from jobs.sentiment import read_comment
from jobs.spark.comments import reader

RULES = load_rules()
# No site (so no .pth and no editable install of this project), run from a neutral folder, with
# only pyspark's own folder on the path.
EXECUTOR = """
import sys
sys.path.insert(0, sys.argv[1])
try:
    import jobs
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("the project is importable here")
from pyspark import cloudpickle
read = cloudpickle.loads(sys.stdin.buffer.read())
print(repr([read(text) for text in sys.argv[2:]]))
"""


def test_the_reader_runs_where_the_project_is_not_installed(tmp_path) -> None:
    texts = ["Not good. Boring.", "Loved it, so much fun 😍", "Didn't see that coming!"]
    pickled = cloudpickle.dumps(reader(RULES.sentiment))
    packages = str(Path(pyspark.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", EXECUTOR, packages, *texts],
        input=pickled, capture_output=True, cwd=tmp_path, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    expected = [
        (r.score, r.label, r.primary_emotion)
        for r in (read_comment(text, RULES.sentiment) for text in texts)
    ]
    assert done.stdout.decode().strip() == repr(expected)
