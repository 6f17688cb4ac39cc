"""A runbook as a notebook a paged engineer runs cell by cell (``kit runbooks notebook``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import REPO_ROOT, Config, resolve
from .runbook import Snippet, parse, relative_name

__all__ = ["to_notebook"]


def to_notebook(path: str | Path, out: str | Path | None = None, *, config: Config | None = None) -> Path:
    """Write the runbook as a notebook a paged engineer runs cell by cell; returns where it went.

    Prose becomes Markdown cells, each ``promql`` block a ``kit.query`` cell and
    each ``sh`` block a cell of ``!`` commands. Cells from Mitigations change
    the sandbox, so they carry the ``skip-execution`` tag that automated runs
    (nbclient) honour. Without ``out`` the notebook goes to ``<state>/runbooks/``.
    """
    import nbformat
    from nbformat import v4

    book = parse(path)
    starts = {s.line - 1: s for s in book.snippets if s.lang in ("promql", "sh")}
    headings = {s.line for s in book.sections}
    cells = [v4.new_markdown_cell(
        f"*Generated from `{relative_name(book.path, REPO_ROOT)}` by `kit runbooks notebook`: edit the Markdown, "
        "not this notebook.* Run the cells one by one. Cells under **Mitigations** change the sandbox; automated "
        "runs skip them (tag `skip-execution`), but *Run All* in JupyterLab does not."),
        v4.new_code_cell("import kit")]
    prose: list[str] = []

    def flush() -> None:
        if "".join(prose).strip():
            cells.append(v4.new_markdown_cell("\n".join(prose).strip("\n")))
        prose.clear()

    number = 1
    while number <= len(book.lines):
        snippet = starts.get(number)
        if snippet is None:
            if number in headings:
                flush()
            prose.append(book.lines[number - 1])
            number += 1
            continue
        flush()
        cells.append(_code_cell(snippet))
        number = snippet.end + 1
    flush()
    notebook = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    target = Path(out) if out else resolve(config).paths.runbook_notebooks / f"{book.path.stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(target))
    return target


def _code_cell(snippet: Snippet) -> Any:
    from nbformat import v4

    if snippet.lang == "promql":
        source = f"kit.query({_python_string(snippet.text.strip())})"
    else:
        source = "\n".join(line if not line.strip() or line.lstrip().startswith("#") else f"!{line.strip()}"
                           for line in snippet.text.splitlines())
    cell = v4.new_code_cell(source)
    if snippet.section == "Mitigations":
        cell.metadata["tags"] = ["mitigation", "skip-execution"]
    return cell


def _python_string(text: str) -> str:
    """A readable triple-quoted literal when that is safe, else repr."""
    if '"""' in text or "\\" in text or text.endswith('"'):
        return repr(text)
    return f'"""{text}"""'
