"""What the Comfy Registry and ComfyUI-Manager read: requirements.txt is pyproject's dependencies (Manager
installs from it), [tool.comfy] names an icon the repository holds, and the installed package's Python files
keep the Registry's security standards: no eval/exec, no unpickling (torch.load only with weights_only=True),
no package installs at run time."""
import ast
import tomllib
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RAW = "https://raw.githubusercontent.com/noisekit/noisekit/main/"


def test_requirements_txt_is_pyprojects_dependencies():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert [line for line in lines if line] == PYPROJECT["project"]["dependencies"]


def test_registry_metadata_and_a_square_icon_of_at_most_400_pixels():
    comfy = PYPROJECT["tool"]["comfy"]
    assert comfy["PublisherId"] and comfy["DisplayName"] and comfy["requires-comfyui"].startswith(">=")
    assert comfy["Icon"].startswith(RAW)  # the Registry takes a URL: the file on the default branch
    with Image.open(ROOT / comfy["Icon"].removeprefix(RAW)) as icon:
        assert icon.format == "PNG" and icon.width == icon.height <= 400


def installed_files() -> list[Path]:
    """The Python files pip installs: those of every package pyproject.toml lists (not training/, bench/)."""
    setup = PYPROJECT["tool"]["setuptools"]
    root = ROOT / setup["package-dir"]["noisekit"]
    return sorted(f for package in setup["packages"] for f in root.joinpath(*package.split(".")[1:]).glob("*.py"))


def imported_names(tree: ast.AST) -> dict:
    """Local name -> the dotted name it was imported as (import subprocess as sp: sp -> subprocess)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update({a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                          for a in node.names})
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return names


def called(call: ast.Call, names: dict) -> str:
    """The dotted name a call calls, its first part resolved through the imports ("" for computed callees)."""
    parts, func = [], call.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return ""
    return ".".join([names.get(func.id, func.id), *reversed(parts)])


RUNS_COMMANDS = ("subprocess.", "os.system", "os.popen", "os.exec", "os.spawn", "pty.spawn")


def registry_problems(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    names, problems = imported_names(tree), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            problems += [f"{where}:{node.lineno}: imports {m}" for m in modules if m.split(".")[0] in ("pip", "ensurepip")]
        if not isinstance(node, ast.Call):
            continue
        name, line = called(node, names), f"{where}:{node.lineno}"
        if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
            problems.append(f"{line}: calls {name}")
        elif name.split(".")[0] in ("pickle", "dill", "cloudpickle", "marshal") and name.rsplit(".", 1)[-1] in (
                "load", "loads", "Unpickler"):
            problems.append(f"{line}: unpickles with {name}")
        elif name == "torch.load" and not any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                                              and k.value.value is True for k in node.keywords):
            problems.append(f"{line}: torch.load without weights_only=True")
        elif name.startswith(RUNS_COMMANDS):
            words = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            if any("pip" in w or "install" in w for w in words):
                problems.append(f"{line}: installs a package at run time ({name})")
    return problems


def test_the_checks_catch_what_the_registry_forbids():
    bad = ("import subprocess as sp, sys\nfrom pickle import loads\nimport torch\nimport pip\n"
           "eval('1')\nexec('x = 1')\nloads(b'')\ntorch.load('m.pt')\ntorch.load('m.pt', weights_only=False)\n"
           "sp.check_call([sys.executable, '-m', 'pip', 'install', 'x'])\n"
           "model.eval()\ntorch.load('m.pt', weights_only=True)\nsp.run(['git', 'status'])\n")
    assert [p.split(": ", 1)[1] for p in registry_problems(bad, "bad.py")] == [
        "imports pip", "calls eval", "calls exec", "unpickles with pickle.loads", "torch.load without weights_only=True",
        "torch.load without weights_only=True", "installs a package at run time (subprocess.check_call)"]


def test_installed_python_files_keep_the_registrys_security_standards():
    files = installed_files()
    assert ROOT / "__init__.py" in files and ROOT / "nodes" / "photo.py" in files
    assert not [f for f in files if f.parent.name in ("training", "bench", "tests")]
    problems = [p for f in files for p in registry_problems(f.read_text(), str(f.relative_to(ROOT)))]
    assert not problems
