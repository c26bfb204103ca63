"""The Spark engine leaves nothing behind in the temp dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_scratch_folder_is_removed_when_the_process_exits(tmp_path):
    # Every ``--engine spark`` command makes one; without the cleanup, each left an
    # empty floodmark-spark-* folder in /tmp for good.
    code = (
        "from floodmark.spark.session import temporary_scratch\n"
        "scratch = temporary_scratch()\n"
        "(scratch / 'local').mkdir()\n"
        "(scratch / 'local' / 'block').write_bytes(b'x')\n"
        "print(scratch)\n"
    )
    env = {"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    scratch = Path(done.stdout.strip())
    assert scratch.parent == tmp_path
    assert not scratch.exists()
