"""The command line: --version and --help without torch, one-line errors, subcommand usage."""
import subprocess
import sys

import pytest

from pyalgo import __version__, cli

LIGHT = """
import sys
from pyalgo.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "numpy", "gymnasium", "matplotlib", "sklearn", "tqdm") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


def _light(argv):
    out = subprocess.run([sys.executable, "-c", LIGHT.format(argv=argv)], capture_output=True, text=True, timeout=120)
    return out.stdout


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["reproduce", "--help"], ["bench", "--help"]])
def test_help_and_version_do_not_import_torch(argv):
    out = _light(argv)
    assert "HEAVY:\n" in out or out.rstrip().endswith("HEAVY:"), out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"pyalgo {__version__}"


def test_subcommand_errors_print_that_subcommands_usage(capsys):
    for argv, message in [(["reproduce", "--bogus"], "unrecognized arguments: --bogus"),
                          (["reproduce", "nosuch"], "unknown name nosuch"),
                          (["bench", "--device", "tpu"], "invalid choice: 'tpu'"),
                          (["reproduce", "energy", "discrete", "--dataset", "x.csv"], "--dataset works with energy only")]:
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and f"usage: pyalgo {argv[0]}" in err and message in err, err


def test_bad_out_is_one_line(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert cli.main(["reproduce", "discrete", "--out", str(afile / "sub")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pyalgo reproduce: --out") and "not a writable folder" in err[0]
    assert cli.main(["bench", "discrete", "--out", str(afile)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"pyalgo bench: --out {str(afile)!r} is a file, not a folder"]


def test_render_of_a_folder_without_results(tmp_path, capsys):
    assert cli.main(["render", str(tmp_path)]) == 2
    assert "holds no results.json" in capsys.readouterr().err


def test_bench_cuda_without_gpu_is_one_line(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert cli.main(["bench", "discrete", "--device", "cuda"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "no CUDA device" in out[0]
