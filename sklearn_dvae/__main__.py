"""Command line of sklearn-dvae: ``python -m sklearn_dvae demo`` (what ``make demo`` runs)."""

import argparse
import sys

_DEMO_DESCRIPTION = """\
Train a plain VAE (beta=1) and a FactorVAE on dSprites with the same step budget,
score both with the FactorVAE, SAP, MIG and beta-VAE metrics on held-out images,
print a comparison table, and write latent traversals, reconstructions, the
FactorVAE-score votes, training curves and an HTML report to the output folder.

dSprites is rendered offline (no download) and cached after the first run. On a
CPU the demo uses squares at one orientation (6 scales x 32 x 32 positions) and
small MLP networks, and finishes in a few minutes on 2 cores; with CUDA it trains
the standard conv networks on all of dSprites for a longer schedule."""


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser():
    """The argument parser of ``python -m sklearn_dvae``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_dvae.__main__ import build_parser
    >>> build_parser().parse_args(["demo", "--quick"]).quick
    True
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_dvae",
        description="sklearn-dvae: disentangled VAEs as scikit-learn estimators.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="train a VAE and a FactorVAE on dSprites, score them, write a report",
        description=_DEMO_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--all",
        action="store_true",
        dest="all_models",
        help="also train beta-VAE, AnnealedVAE, DIP-VAE-II, beta-TCVAE and CHyVAE "
        "(about 3 times the default run's time on 2 cores)",
    )
    demo.add_argument(
        "--output",
        default="demo_output",
        metavar="DIR",
        help="folder for the PNG images and report.html (default: demo_output)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the train/test split, the models and the metrics (default: 0)",
    )
    demo.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="training budget: gradient steps per model, the same for every model, rounded "
        "up to whole passes over the data (default: 3000 on a CPU, 30000 on a GPU)",
    )
    demo.add_argument(
        "--quick",
        action="store_true",
        help="a run of a few seconds on 128 images and a few steps, to check that "
        "everything works (its scores mean nothing)",
    )
    demo.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to train; auto takes CUDA when torch sees a GPU (default: auto)",
    )
    demo.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="models trained at once in worker processes with one CPU core each "
        "(default: one per core; 1 with --quick or on a GPU, in this process)",
    )
    demo.add_argument(
        "--data-home",
        default=None,
        metavar="DIR",
        help="cache folder of the rendered dSprites (default: $SKLEARN_DVAE_DATA, else "
        "~/.cache/sklearn_dvae)",
    )
    return parser


def main(argv=None):
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success.
    """
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        try:
            import matplotlib
        except ImportError:
            print(
                "The demo draws its images with matplotlib: pip install sklearn-dvae[plot]",
                file=sys.stderr,
            )
            return 1
        # Files only: no window, whatever backend the environment would pick.
        matplotlib.use("Agg")
        from ._demo import run_demo

        run_demo(
            args.output,
            all_models=args.all_models,
            seed=args.seed,
            steps=args.steps,
            quick=args.quick,
            device=args.device,
            jobs=args.jobs,
            data_home=args.data_home,
        )
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
