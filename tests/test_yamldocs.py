"""kit.yamldocs: documents that know their file and position; YAML syntax errors in one line."""

import pytest

from kit import yamldocs
from kit.errors import InvalidInput


def test_documents_are_numbered_by_position_and_empty_ones_are_skipped(tmp_path):
    path = tmp_path / "specs.yml"
    path.write_text("a: 1\n---\n# only a comment\n---\nb: 2\n---\n")
    docs = yamldocs.read(path)
    assert [(d.data, d.index, d.where) for d in docs] == [
        ({"a": 1}, 1, f"{path} (document 1)"), ({"b": 2}, 3, f"{path} (document 3)")]


def test_one_document_is_named_by_its_file_alone_and_a_mapping_by_nothing(tmp_path):
    path = tmp_path / "one.yml"
    path.write_text("a: 1\n---\n")
    assert [d.where for d in yamldocs.read(path)] == [str(path)]
    assert [d.where for d in yamldocs.read({"a": 1})] == [""]


def test_syntax_error_is_one_line_with_file_line_and_column(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text("a: 1\n---\nb:\n  c: [1, 2\n  d: 3\n")
    with pytest.raises(InvalidInput) as caught:
        yamldocs.read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:5:") and ": not valid YAML: " in message
    assert "\n" not in message and "^" not in message  # no source excerpt with a caret under it
    assert caught.value.source.startswith(f"{path}:5:")


def test_syntax_error_in_text_is_placed_too():
    with pytest.raises(InvalidInput, match=r"^<text>:2:1: not valid YAML: "):
        yamldocs.read("a: 'open\n")


def test_an_empty_file_says_so(tmp_path):
    path = tmp_path / "empty.yml"
    path.write_text("# nothing yet\n")
    with pytest.raises(InvalidInput, match=f"^{path}: is empty"):
        yamldocs.read(path)


def test_located_adds_the_document_and_prefix_but_keeps_an_error_already_placed(tmp_path):
    path = tmp_path / "two.yml"
    path.write_text("a: 1\n---\nb: 2\n")
    first, second = yamldocs.read(path)
    with pytest.raises(InvalidInput) as caught, second.located("[3]."):
        raise InvalidInput("spec.service", "is required")
    assert str(caught.value) == f"{path} (document 2): [3].spec.service: is required"
    with pytest.raises(InvalidInput) as caught, second.located():
        with first.located():
            raise InvalidInput("kind", "is required")
    assert caught.value.source == f"{path} (document 1)"
