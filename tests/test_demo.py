"""The command behind `make demo` runs end to end and prints numbers."""

import re

from sklearn_dvae.__main__ import main


def test_demo_prints_a_table_of_numbers(capsys):
    assert main(["demo", "--epochs", "2", "--latent-dim", "2"]) == 0
    out = capsys.readouterr().out
    elbo = re.search(r"test ELBO per image \(nats\)\s+(-?\d+\.\d+)", out)
    probe = re.search(r"linear probe on the latents\s+(\d\.\d+)", out)
    assert elbo and float(elbo.group(1)) < 0
    assert probe and 0.0 <= float(probe.group(1)) <= 1.0
