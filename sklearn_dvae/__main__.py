"""Command line of sklearn-dvae: ``python -m sklearn_dvae demo``."""

import argparse
import sys
import time


def _demo(args):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from sklearn_dvae import BetaVAE

    digits = load_digits()
    # Grey levels 0..16 scaled to [0, 1]: a Bernoulli decoder is chosen automatically.
    X = (digits.images / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    print(
        f"Data: scikit-learn digits, {len(X_train)} training and {len(X_test)} test "
        "images of 8x8 pixels."
    )
    print(
        f"Model: BetaVAE(beta={args.beta}, latent_dim={args.latent_dim}), "
        f"{args.epochs} epochs on the CPU or GPU."
    )
    start = time.perf_counter()
    vae = BetaVAE(
        beta=args.beta,
        latent_dim=args.latent_dim,
        hidden_units=(256, 128),
        lr=1e-3,
        batch_size=64,
        max_epochs=args.epochs,
        random_state=args.seed,
    ).fit(X_train)
    seconds = time.perf_counter() - start
    Z_train, Z_test = vae.transform(X_train), vae.transform(X_test)
    reconstruction = vae.inverse_transform(Z_test)
    history = vae.history_
    mean_abs_error = np.abs(reconstruction - X_test).mean()
    accuracy = LogisticRegression(max_iter=2000).fit(Z_train, y_train).score(Z_test, y_test)
    rows = [
        ("training time (s)", f"{seconds:.1f}"),
        ("device", vae.device_),
        ("likelihood", vae.likelihood_),
        (
            "first / last epoch loss",
            f"{history[0, 'train_loss']:.2f} / {history[-1, 'train_loss']:.2f}",
        ),
        ("last epoch KL (nats)", f"{history[-1, 'train_kl']:.2f}"),
        ("test ELBO per image (nats)", f"{vae.score(X_test):.2f}"),
        ("test mean absolute reconstruction error", f"{mean_abs_error:.3f}"),
        ("digit accuracy of a linear probe on the latents", f"{accuracy:.3f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_dvae",
        description="sklearn-dvae: disentangled VAEs as scikit-learn estimators.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="fit a beta-VAE on built-in data and print what it learned",
        description="Fit a BetaVAE on scikit-learn's digits, then print training time, "
        "losses, the test ELBO, the reconstruction error and how well a linear probe "
        "reads the digit from the latents.",
    )
    demo.add_argument("--beta", type=float, default=1.0, help="KL weight (default 1)")
    demo.add_argument("--latent-dim", type=int, default=8, help="latent dimensions (8)")
    demo.add_argument("--epochs", type=int, default=100, help="training epochs (100)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
