"""The import picture: model is a leaf (never imports training), ONNX runtime never imports ONNX export."""

import ast
import subprocess
import sys

from tests.conftest import ROOT

from model.cli import main


def imported_modules(path) -> set[str]:
    """Every module a file imports, as written (relative imports resolved within ``model``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(("model." if node.level else "") + (node.module or ""))
    return names


def test_no_module_of_model_imports_training():
    for path in sorted((ROOT / "model").glob("*.py")):
        assert not any(name == "training" or name.startswith("training.") for name in imported_modules(path)), path


def test_the_onnx_runtime_never_imports_the_export():
    assert not any("onnx_export" in name for name in imported_modules(ROOT / "model" / "onnx_runtime.py"))


def test_importing_model_and_scoring_never_loads_training(tiny_checkpoint, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("Russia and China signed a gas deal.\n")
    code = (
        "import sys, model; from model.cli import main; "
        "code = main(['score', sys.argv[1], '--checkpoint', sys.argv[2], '-o', sys.argv[3]]); "
        "print(code, sorted(m for m in sys.modules if m == 'training' or m.startswith('training.')))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(article), str(tiny_checkpoint), str(tmp_path / "o.jsonl")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0 []"


def test_train_and_evaluate_forward_their_arguments_and_help(capsys):
    for command, prog in (("train", "python -m training.train"), ("evaluate", "python -m training.evaluate")):
        try:
            main([command, "--help"])
        except SystemExit as e:
            assert e.code == 0
        assert f"usage: {prog}" in capsys.readouterr().out


def test_unknown_arguments_of_score_are_a_usage_error(capsys):
    try:
        main(["score", "x.txt", "--no-such-flag"])
    except SystemExit as e:
        assert e.code == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


def test_the_label_check_runs_only_with_check(capsys):
    from training.data import main as data_main

    assert data_main([]) == 0
    out = capsys.readouterr().out
    assert "--check" in out and "all valid" not in out
