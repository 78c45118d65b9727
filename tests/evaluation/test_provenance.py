"""Every results page says how it was measured: command, date, machine and versions."""

import re

import pytest

from tfvae.evaluation import provenance


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    path = tmp_path_factory.mktemp("results") / "page.md"
    record = provenance.provenance(command="python benchmarks/example.py --seconds 1")
    return provenance.results_page(path, "Example", "| a |\n|---|\n| 1 |\n", record).read_text()


def test_a_results_page_starts_with_its_title(page):
    assert page.splitlines()[0] == "# Example"


def test_a_results_page_keeps_its_table(page):
    assert "| a |\n|---|\n| 1 |" in page


def test_a_results_page_names_its_command(page):
    assert "- Command: `python benchmarks/example.py --seconds 1`" in page


def test_a_results_page_is_dated(page):
    assert re.search(r"- Date: \d{4}-\d{2}-\d{2}", page)


def test_a_results_page_names_the_cpu_and_its_core_count(page):
    cpu = provenance.cpu()
    assert f"- Machine: {cpu['model']}, {cpu['cores']} logical cores" in page


def test_a_results_page_names_the_tensorflow_and_keras_versions(page):
    versions = provenance.versions()
    assert f"keras {versions['keras']}" in page


def test_the_command_line_of_a_script_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = provenance.command_line([str(tmp_path / "benchmarks" / "x.py"), "--fast"], environ={})
    assert command == "python benchmarks/x.py --fast"


def test_the_command_line_of_the_console_command_starts_with_tfvae():
    assert provenance.command_line(["/usr/bin/tfvae", "evaluate", "--force"], environ={}) == "tfvae evaluate --force"


def test_the_command_line_starts_with_the_thread_counts_that_were_set():
    command = provenance.command_line(["/usr/bin/tfvae", "evaluate", "run"], environ={"OMP_NUM_THREADS": "1"})
    assert command == "OMP_NUM_THREADS=1 tfvae evaluate run"
