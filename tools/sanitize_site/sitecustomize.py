"""Makes `pyalgo._C` load the AddressSanitizer/UBSan build of tools/sanitize.py.

tools/sanitize.py puts this directory on PYTHONPATH and the path of the sanitized extension in
$PYALGO_SANITIZED_EXT; Python imports `sitecustomize` at start-up (in every process, so also in the
children that tests and tools/probe.py start), and the finder below answers the import of
`pyalgo._C` with that file. The rest of the package is the checkout's own source, and the normal
pyalgo/_C*.so is neither read nor touched. Nothing happens when the variable is unset.
"""
import importlib.machinery
import importlib.util
import os
import sys

_PATH = os.environ.get("PYALGO_SANITIZED_EXT")


class _SanitizedExtension:
    """Meta-path finder: `pyalgo._C` -> $PYALGO_SANITIZED_EXT, every other module untouched."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname != "pyalgo._C":
            return None
        if not os.path.exists(_PATH):
            raise ImportError(f"PYALGO_SANITIZED_EXT={_PATH} does not exist: run `python tools/sanitize.py build`")
        loader = importlib.machinery.ExtensionFileLoader(fullname, _PATH)
        return importlib.util.spec_from_file_location(fullname, _PATH, loader=loader)


if _PATH:
    sys.meta_path.insert(0, _SanitizedExtension)
