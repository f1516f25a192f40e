"""The folder shows the flow: each stage imports only the stages before it, and the web
app only the facade (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What each part may import of ``indexer`` besides itself.
ALLOWED = {
    "indexer.analysis": set(),
    "indexer.cluster": set(),
    "indexer.corpus": {"indexer.analysis.text"},
    "indexer.storage": {"indexer.analysis", "indexer.corpus", "indexer.cluster"},
    "indexer.ranking": {"indexer.analysis", "indexer.storage"},
    "indexer.search": {
        "indexer.analysis",
        "indexer.storage",
        "indexer.ranking",
        "indexer.cluster",
    },
    "webapp": {"indexer.search"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("indexer", "webapp")}


def test_each_stage_imports_only_the_stages_before_it():
    wrong = []
    for part, allowed in ALLOWED.items():
        folder = ROOT.joinpath(*part.split("."))
        for path in sorted(folder.rglob("*.py")):
            for name in _imports(path):
                own = name == part or name.startswith(part + ".")
                if not own and not any(name == a or name.startswith(a + ".") for a in allowed):
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_codec_imports_only_storage():
    """Plain Whoosh unpickles the codec: it must not pull in the rest of the product."""
    for name in ("codec.py", "blocks.py"):
        imported = _imports(ROOT / "indexer" / "storage" / name)
        assert all(n.startswith("indexer.storage") for n in imported), imported
