"""The user guide's walkthrough, run as written: own data -> proven training -> verify -> export
-> load like PyTorch -> inference proof from the CLI (issue 14's "every command in it run by a
test")."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import runhelp as h


def _walkthrough_commands() -> list[str]:
    text = open(os.path.join(h.ROOT, "docs", "user-guide.md"), encoding="utf-8").read()
    block = re.search(r"<!-- walkthrough:begin -->\s*```\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S)
    assert block, "the walkthrough block is missing from docs/user-guide.md"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_user_guide_walkthrough_runs_as_written(tmp_path):
    cmds = _walkthrough_commands()
    assert cmds[0].startswith("zkdl train") and any(c.startswith("zkdl prove-inference") for c in cmds)
    os.symlink(os.path.join(h.ROOT, "docs"), tmp_path / "docs")
    env = h.env()
    outputs = []
    for cmd in cmds:
        # `zkdl` as the installed console script would run it (python -m zkdl: same entry point)
        argv = cmd.replace("zkdl ", f"{sys.executable} -m zkdl ", 1) if cmd.startswith("zkdl ") else \
            cmd.replace("python ", f"{sys.executable} ", 1)
        r = subprocess.run(argv, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
        outputs.append(r.stdout)
    verify_out = outputs[[i for i, c in enumerate(cmds) if c.startswith("zkdl verify ")][0]]
    assert "run complete" in verify_out and "VALID" in verify_out
    assert "VALID" in outputs[[i for i, c in enumerate(cmds) if c.startswith("zkdl verify-inference")][0]]
    assert "argmax agrees: True" in outputs[-1]
