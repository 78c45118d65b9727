"""The README, the docs site and the model cards do not drift from the code.

Every `tfvae ...` command they show parses with the real argument parser (and, for `train` and
`tune`, makes a valid TrainConfig); every shipped model they name exists under saved_models/;
the README stays a short page for users.
"""

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from tfvae import cli

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO / "docs" / "results" / "archive.md"  # a record of earlier runs, kept verbatim
PAGES = sorted(
    [REPO / "README.md", REPO / "saved_models" / "README.md"]
    + [p for p in (REPO / "docs").rglob("*.md") if p != ARCHIVE and "figures" not in p.parts]
    + list((REPO / "saved_models").glob("*/README.md"))
)
CARDS = sorted((REPO / "saved_models").glob("*/card.json"))
SHIPPED_NAMES = sorted(p.parent.name for p in CARDS)
EARLIER_VERSIONS = re.compile(r"### Earlier versions.*?(?=<!-- /numbers -->)", re.S)  # a card's history table


def page_text(path):
    return EARLIER_VERSIONS.sub("", path.read_text())


def command_lines(text):
    """The `tfvae ...` commands of a Markdown text: whole command lines of its code blocks (joined
    across `\\`), and code spans in prose and tables (which may name a command and a few flags only)."""
    lines, spans, in_code = [], [], False
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        line = line.strip()
        if line.startswith("```"):
            in_code = not in_code
        elif in_code and re.match(r"^([A-Z_]+=\S+\s+)*tfvae\s", line.removeprefix("$ ")):
            lines.append(line.removeprefix("$ "))
        elif not in_code:
            spans += re.findall(r"`(tfvae [^`]+)`", line)
    return lines, spans


def tokens(command):
    """The arguments after `tfvae` of one shell command line (no env prefix, comment or trailing &)."""
    words = shlex.split(command, comments=True)
    words = words[words.index("tfvae") + 1 :]
    return words[:-1] if words and words[-1] == "&" else words


def split_chain(page, line):
    return [(page.relative_to(REPO), part.strip()) for part in line.split("&&") if "tfvae" in part]


def documented_commands():
    """([(page, whole command)], [(page, command span)]) of every page and card."""
    commands, spans = [], []
    for page in PAGES:
        page_lines, page_spans = command_lines(page_text(page))
        commands += [command for line in page_lines for command in split_chain(page, line)]
        spans += [command for span in page_spans for command in split_chain(page, span)]
    for card in CARDS:
        commands += split_chain(card, json.loads(card.read_text())["training"]["retrain"])
    return commands, spans


COMMANDS, SPANS = documented_commands()


def subcommand_parser(words):
    """The parser of the (sub)command that `words` name, and the words after its name."""
    parser = cli.build_parser()
    while words:
        choices = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if not choices or words[0] not in choices:
            break
        parser, words = choices[words[0]], words[1:]
    return parser, words


def test_the_docs_show_commands():
    assert len(COMMANDS) > 40


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[f"{p}: {c[:60]}" for p, c in COMMANDS])
def test_a_documented_command_parses(page, command):
    parser = cli.build_parser()
    try:
        args = parser.parse_args(tokens(command))
    except SystemExit as exit:
        assert exit.code == 0, f"{page}: `{command}` does not parse"
        return
    if args.run in (cli.train, cli.tune):
        cli.train_config(args)  # the flags make a valid TrainConfig (raises ValueError otherwise)


@pytest.mark.parametrize(("page", "span"), SPANS, ids=[f"{p}: {c[:60]}" for p, c in SPANS])
def test_a_command_named_in_the_text_exists_with_its_flags(page, span):
    parser, rest = subcommand_parser(tokens(span))
    known = {option for action in parser._actions for option in action.option_strings}
    named = [word.split("=")[0] for word in rest if word.startswith("-")]
    assert set(named) <= known, f"{page}: `{span}` names {named}; `{parser.prog}` has {sorted(known)}"


@pytest.mark.parametrize(("page", "span"), SPANS, ids=[f"{p}: {c[:60]}" for p, c in SPANS])
def test_a_command_named_in_the_text_is_a_tfvae_command(page, span):
    parser, rest = subcommand_parser(tokens(span))
    assert parser.prog != "tfvae" or rest in (["--help"], ["-h"]), f"{page}: `{span}` names no tfvae command"


MODEL_PATH = re.compile(r"saved_models/([a-z0-9_]+)(?:/(\d+))?")
MODEL_VERSION = re.compile(r"\b(" + "|".join(SHIPPED_NAMES) + r")/(\d+)\b")
# an earlier version named together with where to get it
RESTORED = re.compile(r"git checkout [0-9a-f]+ -- saved_models/([a-z0-9_]+)/(\d+)")


def named_models():
    """(page, name, version or None) of every shipped model a page names, except earlier versions
    the page says how to restore from git."""
    named = set()
    for page in PAGES:
        text = page_text(page)
        found = {(name, version or None) for name, version in MODEL_PATH.findall(text) if name != "README"}
        found |= set(MODEL_VERSION.findall(text))
        named |= {(page.relative_to(REPO), *entry) for entry in found - set(RESTORED.findall(text))}
    return sorted(named, key=str)


NAMED = named_models()


def shipped_version(name):
    return json.loads((REPO / "saved_models" / name / "card.json").read_text())["version"]


@pytest.mark.parametrize(("page", "name", "version"), NAMED, ids=[f"{p}: {n}/{v}" for p, n, v in NAMED])
def test_a_model_the_docs_name_is_shipped(page, name, version):
    # a version above the shipped one is what a retrain writes (make pretrained-mnist VERSION=9)
    stale = version is not None and int(version) < shipped_version(name)
    assert (REPO / "saved_models" / name).is_dir() and not stale, f"{page} names {name}/{version}, which is not shipped"


def test_every_shipped_model_has_a_docs_page():
    assert sorted(p.stem for p in (REPO / "docs" / "models").glob("*.md") if p.stem != "index") == SHIPPED_NAMES


def test_the_readme_is_short():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("lab_mark", ["../shared", "this machine", "issue "])
def test_the_readme_holds_no_lab_notes(lab_mark):
    assert lab_mark not in (REPO / "README.md").read_text().lower()


RESULTS = sorted((REPO / "benchmarks" / "results").glob("*.md"))


def test_every_results_page_is_in_the_docs():
    included = {p.stem for p in (REPO / "docs" / "results").glob("*.md")}
    assert {p.stem for p in RESULTS} <= included


NOT_REGENERATED = '!!! note "Not regenerated yet"'  # a page from before pages recorded their machine
MEASURED = [p for p in RESULTS if NOT_REGENERATED not in p.read_text()]


@pytest.mark.parametrize("page", MEASURED, ids=[p.stem for p in MEASURED])
@pytest.mark.parametrize("line", ["- Command: `", "- Date: ", "- Machine: ", "- Versions: "])
def test_a_results_page_says_how_it_was_measured(page, line):
    assert line in page.read_text()


@pytest.mark.parametrize("page", sorted(set(RESULTS) - set(MEASURED)), ids=lambda p: p.stem)
def test_a_page_not_regenerated_yet_names_its_command(page):
    assert re.search(r"`python benchmarks/\w+\.py[^`]*` wrote this table on \d{4}-\d{2}-\d{2}", page.read_text())


@pytest.mark.parametrize("card", CARDS, ids=[p.parent.name for p in CARDS])
def test_a_card_holds_its_scores_with_their_command(card):
    assert "python benchmarks/model_cards.py" in json.loads(card.read_text())["scores"]["provenance"]["command"]
