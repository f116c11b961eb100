"""What ``noisekit test`` leaves for CI and for people: a JUnit XML file (what GitLab, Jenkins and GitHub's test
reporters read: a testcase per graph, a <failure> for outputs or checks that differ, an <error> for a graph that
did not run through) and a static HTML page with every output image as golden | output | diff, the timings and
the messages (the pictures are files beside the page)."""
from __future__ import annotations

import html
import os
import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from PIL import Image

from ..files import write_new
from . import golden


def junit(outcomes, seconds: float) -> bytes:
    count = {s: sum(o.status == s for o in outcomes) for s in ("failed", "error")}
    attrs = {"tests": str(len(outcomes)), "failures": str(count["failed"]), "errors": str(count["error"]),
             "skipped": "0", "time": f"{seconds:.3f}"}
    root = ET.Element("testsuites", {"name": "noisekit test", **attrs})
    suite = ET.SubElement(root, "testsuite", {"name": "noisekit", **attrs, "hostname": socket.gethostname(),
                                              "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    for o in outcomes:
        folder = os.path.dirname(o.case.graph)
        case = ET.SubElement(suite, "testcase", {"classname": folder.strip(os.sep).replace(os.sep, ".") or ".",
                                                 "name": os.path.basename(o.case.name), "file": o.case.graph,
                                                 "time": f"{o.seconds:.3f}"})
        if o.status != "passed":
            tag = "failure" if o.status == "failed" else "error"
            text = "\n".join(o.messages)
            ET.SubElement(case, tag, {"message": text.splitlines()[0] if text else o.status, "type": tag}).text = text
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_junit(path: str, outcomes, seconds: float):
    data = junit(outcomes, seconds)
    write_new(path, lambda f: f.write(data))


CSS = """body{font:14px system-ui,sans-serif;margin:1.5em;background:#fafafa;color:#222}
h1{font-size:1.4em}.case{background:#fff;border:1px solid #ddd;border-left:6px solid #2a2;margin:1em 0;padding:.6em 1em}
.case.failed{border-left-color:#d22}.case.error{border-left-color:#e80}.status{font-weight:bold;text-transform:uppercase}
.passed .status{color:#2a2}.failed .status{color:#d22}.error .status{color:#e80}
pre{background:#f4f4f4;padding:.5em;white-space:pre-wrap}figure{display:inline-block;margin:.3em;vertical-align:top}
figure img{min-width:96px;max-width:360px;max-height:280px;border:1px solid #ccc;image-rendering:pixelated}
figcaption{font-size:12px;color:#555}table{border-collapse:collapse;font-size:12px}td{padding:0 .6em}"""


def write_html(directory: str, outcomes, title: str, seconds: float) -> str:
    """DIR/index.html and, per case, its pictures in DIR/<case>/; nothing replaced."""
    os.makedirs(directory, exist_ok=True)
    body = [f"<h1>{html.escape(title)}</h1>"]
    bad = [(f"{i:03}-{o.case.slug}", o) for i, o in enumerate(outcomes, 1) if o.status != "passed"]
    if bad:
        items = "".join(f'<li><a href="#{a}">{html.escape(o.case.name)}</a> {o.status}</li>' for a, o in bad)
        body.append(f"<ul>{items}</ul>")
    for i, o in enumerate(outcomes, 1):
        folder = f"{i:03}-{o.case.slug}"
        body.append(f'<section class="case {o.status}" id="{folder}"><h2>{html.escape(o.case.name)} '
                    f'<span class="status">{o.status}</span> <small>{o.seconds:.2f} s</small></h2>'
                    f'<div>graph: <code>{html.escape(o.case.graph)}</code></div>')
        if o.messages:
            body.append(f"<pre>{html.escape(chr(10).join(o.messages))}</pre>")
        for image in o.images:
            body.append(pictures(directory, folder, image))
        if o.timings:
            rows = "".join(f"<tr><td>node {html.escape(n)}</td><td>{t:.3f} s</td></tr>" for n, t in o.timings.items())
            body.append(f"<details><summary>timings</summary><table>{rows}</table></details>")
        body.append("</section>")
    page = (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    return write_new(os.path.join(directory, "index.html"), lambda f: f.write(page.encode("utf-8")))


def pictures(directory: str, folder: str, image: dict) -> str:
    """golden | output | diff of one output image, as figures whose pictures are copied beside the page."""
    os.makedirs(os.path.join(directory, folder), exist_ok=True)
    stem, figures, arrays = os.path.splitext(image["name"])[0], [], {}
    for role in ("golden", "output"):
        source = image[role]
        if source is None:
            figures.append(figure(None, f"{role}: none"))
            continue
        name = f"{folder}/{stem}.{role}{os.path.splitext(source)[1].lower()}"
        write_new(os.path.join(directory, name), lambda f, s=source: golden.copy_into(s, f))
        arrays[role] = golden.read_pixels(source)
        figures.append(figure(name, role))
    if len(arrays) == 2 and arrays["golden"].shape == arrays["output"].shape:
        name = f"{folder}/{stem}.diff.png"
        diff = golden.diff_picture(arrays["golden"], arrays["output"])
        write_new(os.path.join(directory, name), lambda f: Image.fromarray(diff).save(f, format="PNG"))
        figures.append(figure(name, "|output - golden|, stretched"))
    verdict = image.get("verdict") or {}
    measures = ", ".join(f"{k} {v:.4g}" for k, v in verdict.items() if k in ("psnr", "ssim", "max_abs")
                         and isinstance(v, float))
    note = html.escape(verdict.get("reason") or measures or "")
    return f'<div class="image"><h3>{html.escape(image["name"])}</h3>{"".join(figures)}<div>{note}</div></div>'


def figure(src: str | None, caption: str) -> str:
    img = f'<img src="{html.escape(src)}" alt="{html.escape(caption)}">' if src else ""
    return f"<figure>{img}<figcaption>{html.escape(caption)}</figcaption></figure>"

