"""`datacall run --once` from cron with nothing to do pays only for what it uses.

The schema check reads the revisions without Alembic, and the classifier package
loads numpy and the model code only when there is something to classify.
"""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from bot.cli.app import app

PROBE = (
    "import sys\n"
    "from bot.cli.app import main\n"
    "sys.argv = ['datacall', 'run', '--once', '--config', sys.argv[1]]\n"
    "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
    "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'numpy', 'spacy', 'thinc'})\n"
    "print('LOADED', loaded, file=sys.stderr)\n"
)


def test_run_once_with_nothing_to_do_imports_neither_alembic_nor_numpy(tmp_path):
    config = tmp_path / "datacall.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{(tmp_path / "d.db").as_posix()}"\n'
                      "[networks.sandbox]\nenabled = true\n", encoding="utf-8")
    assert CliRunner().invoke(app, ["init", "--config", str(config)]).exit_code == 0
    done = subprocess.run([sys.executable, "-c", PROBE, str(config)], capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    assert "LOADED []" in done.stderr, done.stderr
