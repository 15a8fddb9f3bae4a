"""The command behind `make demo`: trains, scores, prints a table and writes a report."""

import io
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.image as mpimg  # noqa: E402
import torch  # noqa: E402

from sklearn_dvae import BetaVAE, FactorVAE  # noqa: E402
from sklearn_dvae import _demo as demo  # noqa: E402
from sklearn_dvae.__main__ import build_parser, main  # noqa: E402

NUMBER = r"(-?[\d,]+(?:\.\d+)?)"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def table_rows(out, labels):
    """The printed table's numbers for each model label, as floats."""
    rows = {}
    for label in labels:
        match = re.search(re.escape(label) + r"((?:\s+" + NUMBER + r"){7})\s*$", out, re.M)
        assert match, f"no table row for {label!r} in:\n{out}"
        rows[label] = [float(v.replace(",", "")) for v in match.group(1).split()]
    return rows


def check_outputs(output, slugs, rows):
    report = (output / "report.html").read_text(encoding="utf-8")
    assert report.count('<img src="data:image/png;base64,') == 4 * len(slugs)
    for values in rows.values():
        assert f"{values[1]:.3f}" in report  # the FactorVAE score, as printed
    for slug in slugs:
        for kind in ("traversals", "reconstructions", "votes", "training"):
            path = output / f"{kind}_{slug}.png"
            assert path.read_bytes()[:8] == PNG_SIGNATURE
            image = mpimg.imread(path)
            assert image.std() > 0.01, f"{path.name} is blank"


def test_quick_demo_prints_a_table_and_writes_images_and_a_report(tmp_path, capsys):
    output = tmp_path / "out"
    args = ["demo", "--quick", "--output", str(output), "--data-home", str(tmp_path / "data")]
    assert main(args) == 0
    out = capsys.readouterr().out
    labels = ["VAE (beta=1)", "FactorVAE (gamma=20)"]
    rows = table_rows(out, labels)
    for steps, *scores, elbo, seconds in rows.values():
        assert steps == rows[labels[0]][0] > 0  # the same budget for both models
        assert all(0.0 <= score <= 1.0 for score in scores)
        assert elbo < 0 and seconds >= 0
    check_outputs(output, ["vae", "factor_vae"], rows)
    assert re.search(r"Total time: \d+ min \d+ s", out)


@pytest.mark.slow
def test_all_models_train_in_two_worker_processes(tmp_path, capsys):
    output = tmp_path / "out"
    result = demo.run_demo(
        output, all_models=True, quick=True, jobs=2, data_home=tmp_path / "data"
    )
    out = capsys.readouterr().out
    labels = [label for label, _ in result["rows"]]
    assert len(labels) == 7 and "CHyVAE (nu=200)" in labels
    rows = table_rows(out, labels)
    assert len({values[0] for values in rows.values()}) == 1  # equal step counts
    slugs = [path.stem.split("_", 1)[1] for path in result["images"] if "traversals" in path.name]
    check_outputs(output, slugs, rows)


def test_every_model_gets_the_same_number_of_steps():
    settings = demo.demo_settings("cpu")
    n_train = 4864  # a multiple of two batches, as the demo's split makes it
    for model in (BetaVAE(), FactorVAE()):
        epochs = demo._epochs_for(model, settings.steps, n_train, settings.batch_size)
        steps = epochs * (n_train // (settings.batch_size * model._net_class.batches_per_step))
        assert steps == 3040


def test_a_gpu_selects_all_of_dsprites_and_the_conv_networks(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    device = demo._resolve_device("auto")
    settings = demo.demo_settings(demo._profile_for(device, quick=False))
    assert device == "cuda"
    assert settings.subset is None and settings.encoder == "conv"
    assert settings.steps > demo.demo_settings("cpu").steps
    assert demo._profile_for(device, quick=True) == "quick"


def test_cuda_asked_for_without_a_gpu_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert demo._resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="no CUDA device"):
        demo._resolve_device("cuda")


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    demo_parser = build_parser()._subparsers._group_actions[0].choices["demo"]
    actions = [action for action in demo_parser._actions if action.option_strings]
    names = {action.option_strings[-1] for action in actions}
    assert {"--all", "--output", "--seed", "--steps", "--quick", "--device", "--jobs"} <= names
    for action in actions:
        assert action.help, f"{action.option_strings} has no help"
        assert " ".join(action.help.split()[:4]) in text


def test_a_non_positive_budget_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--steps", "0"])
    assert "positive integer" in capsys.readouterr().err


def test_the_table_aligns_its_columns():
    values = {
        "steps": 3040,
        "factor_vae": 0.5,
        "sap": 0.1,
        "mig": 0.2,
        "beta_vae": 0.9,
        "test_elbo": -50.0,
        "train_seconds": 60.0,
    }
    lines = demo.format_table([("VAE", values), ("FactorVAE (gamma=20)", values)]).splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[1].split()[1:] == ["3,040", "0.500", "0.100", "0.200", "0.900", "-50.0", "60.0"]
    assert lines[0].split()[0] == "model"


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_rewrites_one_status_line_on_a_terminal():
    terminal = FakeTerminal()
    display = demo._ProgressDisplay(total_steps=200, stream=terminal)
    display.update("VAE", 50)
    display._drawn = 0.0  # let the next update redraw at once
    display.update("FactorVAE", 100)
    display.finish("VAE", 200, 10.0)
    display.update("VAE", 200)  # a late report of a finished model is ignored
    text = terminal.getvalue()
    status_lines = text.split("\r")
    assert "VAE  25%" in status_lines[1]
    assert "VAE  25% | FactorVAE  50%" in status_lines[2]
    assert "VAE                          200 steps in   10.0 s (50 ms/step)\n" in text
    assert status_lines[-1].startswith("  training: FactorVAE  50%")
    assert text.count("\n") == 1


def test_progress_prints_only_final_lines_elsewhere():
    log = io.StringIO()
    display = demo._ProgressDisplay(total_steps=200, stream=log)
    display.update("VAE", 50)
    display.finish("VAE", 200, 10.0)
    assert "\r" not in log.getvalue() and log.getvalue().count("\n") == 1


# The diverged VAE's codes are degenerate, which the beta-VAE metric's solver notes.
@pytest.mark.filterwarnings("ignore:The inner solver")
def test_a_model_that_diverges_is_scored_as_it_stood_and_the_demo_goes_on(
    tmp_path, capsys, monkeypatch
):
    make_models = demo._models

    def models_with_a_diverging_vae(settings, all_models, n_train):
        models = make_models(settings, all_models, n_train)
        models[0][2].set_params(lr=1e6)  # Adam steps of 1e6 send the KL to infinity
        return models

    monkeypatch.setattr(demo, "_models", models_with_a_diverging_vae)
    result = demo.run_demo(tmp_path / "out", quick=True, data_home=tmp_path / "data")
    out = capsys.readouterr().out
    assert re.search(r"VAE \(beta=1\)\s+stopped after \d+ steps .*non-finite", out)
    assert "Note: VAE (beta=1) stopped early" in out
    (vae_label, vae), (_, factor_vae) = result["rows"]
    assert vae["steps"] < factor_vae["steps"]
    assert all(np.isfinite(vae[key]) for key in ("factor_vae", "sap", "mig", "beta_vae"))
    assert "stopped early" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
