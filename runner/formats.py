"""ComfyUI's API prompt, and reading a graph file of either format.

API prompt ("Export (API)"): ``{id: {"class_type", "inputs": {name: value | [src_id, slot]}, "_meta"}}``,
literal lists wrapped as ``{"__value__": [...]}``. The UI workflow ("Save": nodes / links /
widgets_values) is runner/convert.py's; runner/load.py turns either into a prompt.
"""
from __future__ import annotations

import io
import json

from PIL import Image

from ..files import read_limited
from .outcome import GraphFormatError

MAX_NESTING = 100  # far deeper than a real graph nests; anything near Python's recursion limit is refused
MAX_GRAPH_BYTES = 100 * 2**20  # a big workflow is a few MB (a PNG carrying one, tens); hundreds is not a graph


def _no_duplicate_keys(pairs):
    """json object_pairs_hook: a key given twice is an error, not 'the last one wins'."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise GraphFormatError(f"the key {key!r} appears twice in one object; keep one")
        out[key] = value
    return out


def nesting_depth(data) -> int:
    """How deep lists and objects nest (iteratively, so any depth can be measured)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            todo.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def parse_json(text, where: str):
    """JSON text -> data, refusing duplicate keys and absurd nesting; errors name ``where``."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except GraphFormatError as e:
        raise GraphFormatError(f"{where}: {e}") from None
    except RecursionError:
        raise GraphFormatError(f"{where}: nested deeper than Python can read; a graph nests about 6 deep") from None
    except ValueError as e:  # JSONDecodeError, or an integer too long to convert
        raise GraphFormatError(f"{where}: not valid JSON ({e})") from None
    if nesting_depth(data) > MAX_NESTING:
        raise GraphFormatError(f"{where}: lists or objects nest more than {MAX_NESTING} deep; a graph nests "
                               "about 6 deep")
    return data


def read_graph(path: str) -> dict:
    """The graph in a .json file (either format), or in a PNG written by SaveImage.

    A PNG gives ``{"prompt": ..., "workflow": ...}`` from its text chunks, which
    ``load.load_prompt`` accepts too (the API prompt is what ran; the workflow is kept
    for the next SaveImage)."""
    data = read_limited(path, MAX_GRAPH_BYTES, "a graph .json or a PNG saved by SaveImage")
    if path.lower().endswith(".png"):
        try:
            with Image.open(io.BytesIO(data)) as img:
                info = img.info
        except Image.DecompressionBombError as e:
            raise GraphFormatError(f"{path}: {e}") from None
        except (OSError, ValueError, SyntaxError) as e:  # Pillow's errors for a file that is no PNG it can read
            raise GraphFormatError(f"{path}: not a PNG that can be read ({type(e).__name__})") from None
        chunks = {key: parse_json(info[key], f"{path}, its {key!r} text chunk")
                  for key in ("prompt", "workflow") if key in info}
        if not chunks:
            raise GraphFormatError(f"{path}: this PNG carries no ComfyUI graph (no 'prompt' or 'workflow' text chunk)")
        return {"png_chunks": chunks}
    return read_json(path, "a graph .json or a PNG saved by SaveImage", data)


def read_json(path: str, what: str, data: bytes | None = None):
    """The JSON in the file ``path`` (at most MAX_GRAPH_BYTES), which should be ``what``."""
    data = read_limited(path, MAX_GRAPH_BYTES, what) if data is None else data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GraphFormatError(f"{path}: not a text file ({e}); give {what}") from None
    return parse_json(text, path)


def normalize_api(prompt) -> dict:
    """Check the API shape and make link ids strings. Literal lists stay wrapped in {"__value__": [...]}
    (a bare 2-list is a link); validation unwraps them."""
    if not isinstance(prompt, dict) or not any(isinstance(v, dict) for v in prompt.values()):
        raise GraphFormatError("not a ComfyUI graph: expected an API prompt {id: {class_type, inputs}} "
                               "or a UI workflow with 'nodes' and 'links'")
    problems, out = [], {}
    for node_id, node in prompt.items():
        if not isinstance(node, dict):
            problems.append((node_id, f"must be an object {{class_type, inputs}}, got {brief(node)}"))
            continue
        if not isinstance(node.get("class_type"), str):
            problems.append((node_id, f"'class_type' must be the node type's name, got {brief(node.get('class_type'))}"))
        inputs = node.get("inputs") or {}
        if not isinstance(inputs, dict):
            problems.append((node_id, f"'inputs' must be an object of input name -> value, got {brief(inputs)}"))
            continue
        inputs = {k: ([str(v[0]), v[1]] if is_link(v) else v) for k, v in inputs.items()}
        out[str(node_id)] = {**node, "inputs": inputs}
    if problems:
        raise GraphFormatError(f"malformed API prompt, {len(problems)} problem(s):", problems)
    return out


def brief(value) -> str:
    """A malformed value as an error message shows it: its JSON if short, the type of a list or object."""
    text = json.dumps(value, default=repr) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def link_sources(node: dict) -> list[str]:
    """The ids of the nodes linked into an API node's inputs."""
    return [v[0] for v in node["inputs"].values() if is_link(v)]


def is_link(value) -> bool:
    """A link [source node id, output index]; ids are strings once normalize_api has run."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) \
        and not isinstance(value[0], bool) and isinstance(value[1], int) and not isinstance(value[1], bool)
