"""Training steps per second of each model against a bare PyTorch loop of the same network.

For every model the package's ``partial_fit`` (skorch net, callbacks, history, per-term
logging, finiteness checks) and a bare loop (the same ``VAEModule``, the same loss
function, the same optimizer and batch size, plain indexing of the same uint8 array)
run in alternating blocks in one process, so machine load affects both alike; the
table reports the median time per step of each and their ratio (package steps/s
divided by bare steps/s: 1.0 means no framework cost). Also reported: the time to
encode the data with ``transform`` against a bare ``no_grad`` loop, and the peak
resident memory. Conv 64x64 network, batch 64, as in the published setting.

    python benchmarks/bench_training.py [--device cuda] [--blocks 5] [--steps 20]
        [--compile MODE] [--precision bfloat16] [--memory-format channels_last]

``--compile``, ``--precision`` and ``--memory-format`` apply the speed option to both
sides (the bare loop runs ``torch.compile`` of the same module, captures its whole
step as a CUDA graph for ``--compile cuda-graph``, or runs ``torch.autocast``;
it drives the estimator's own module, whose conv weights the memory format converted
and whose ``prepare`` makes its batches channels-last), so the ratio stays the
framework's cost. Writes ``benchmarks/results/bench_training_<device>[_<options>].json``.
Not a test.
"""

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sklearn_dvae import DIPVAE, BetaTCVAE, BetaVAE, CHyVAE, FactorVAE
from sklearn_dvae._net import compile_options
from sklearn_dvae.nn import permute_dims

MODELS = {
    "BetaVAE": lambda **kw: BetaVAE(beta=4.0, **kw),
    "FactorVAE": lambda **kw: FactorVAE(gamma=35.0, **kw),
    "DIPVAE": lambda **kw: DIPVAE(lambda_od=10.0, **kw),
    "BetaTCVAE": lambda **kw: BetaTCVAE(beta=6.0, **kw),
    "CHyVAE": lambda **kw: CHyVAE(nu=200.0, **kw),
}


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _bare_state(estimator, state):
    module = estimator.net_.module_
    if "optimizer" not in state:
        mode = estimator.net_.compile_mode
        graph = mode == "cuda-graph"
        state["optimizer"] = torch.optim.Adam(
            module.parameters(), lr=estimator.lr, capturable=graph
        )
        state["forward"] = (
            module
            if mode in (None, "cuda-graph")
            else torch.compile(module, options=compile_options(mode))
        )
        if isinstance(estimator, FactorVAE):
            state["discriminator"] = estimator.net_.discriminator_
            state["d_optimizer"] = torch.optim.Adam(
                state["discriminator"].parameters(), lr=1e-4, betas=(0.5, 0.9), capturable=graph
            )
    return module


def bare_step(estimator, state, x, batch_size, step):
    """One training step of the bare loop on the device batch ``x``; returns the loss."""
    module = _bare_state(estimator, state)
    factor = isinstance(estimator, FactorVAE)
    x_vae, x_other = (x[:batch_size], x[batch_size:]) if factor else (x, None)
    if factor:
        state["discriminator"].requires_grad_(False)
    if estimator.precision == "bfloat16":
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            out = state["forward"](x_vae)
        out = type(out)(*(t.float() if torch.is_tensor(t) else t for t in out))
    else:
        out = state["forward"](x_vae)
    criterion = estimator.net_.criterion_
    criterion.training_step = step
    loss, _ = criterion(out)
    state["optimizer"].zero_grad(set_to_none=True)
    loss.backward()
    state["optimizer"].step()
    if factor:
        discriminator = state["discriminator"]
        discriminator.requires_grad_(True)
        with torch.no_grad():
            mu, logvar = module.encode(module.prepare(x_other))
            z_perm = permute_dims(module.reparameterize(mu, logvar))
        logits_real, logits_perm = discriminator(out.z.detach()), discriminator(z_perm)
        zeros = torch.zeros(len(logits_real), dtype=torch.long, device=x.device)
        d_loss = 0.5 * (
            F.cross_entropy(logits_real, zeros) + F.cross_entropy(logits_perm, 1 - zeros)
        )
        state["d_optimizer"].zero_grad(set_to_none=True)
        d_loss.backward()
        state["d_optimizer"].step()
    return loss


def _bare_graph(estimator, state, x, batch_size):
    """Capture the bare step as one CUDA graph (three eager warm-up steps first)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for step in range(3):
            bare_step(estimator, state, x, batch_size, step)
    torch.cuda.current_stream().wait_stream(side)
    static_x = x.clone()
    state["optimizer"].zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = bare_step(estimator, state, static_x, batch_size, 0)
    state["graph"] = (graph, static_x, static_loss)


def bare_steps(estimator, X, n_steps, batch_size, device, state):
    """The same network, loss and optimizer driven by a plain loop; seconds per step.

    With ``compile="cuda-graph"`` the bare loop captures its own step as one CUDA
    graph and replays it, as the package does.
    """
    module = _bare_state(estimator, state)
    graphed = estimator.net_.compile_mode == "cuda-graph"
    factor = isinstance(estimator, FactorVAE)
    rows_per_step = 2 * batch_size if factor else batch_size
    order = torch.randperm(len(X)).numpy()
    module.train()
    _sync(device)
    start = time.perf_counter()
    for step in range(n_steps):
        rows = order[(step * rows_per_step) % (len(X) - rows_per_step) :][:rows_per_step]
        x = torch.from_numpy(X[np.sort(rows)]).to(device)
        if graphed:
            if "graph" not in state:
                _bare_graph(estimator, state, x, batch_size)
            graph, static_x, loss = state["graph"]
            static_x.copy_(x)
            graph.replay()
        else:
            loss = bare_step(estimator, state, x, batch_size, step)
        loss.item()  # the package logs each step's loss: the same host sync
    _sync(device)
    return (time.perf_counter() - start) / n_steps


def package_steps(estimator, X, n_steps, device):
    before = estimator.training_steps_
    _sync(device)
    start = time.perf_counter()
    estimator.partial_fit(X, epochs=1)
    _sync(device)
    return (time.perf_counter() - start) / (estimator.training_steps_ - before)


def bare_encode(estimator, X, device):
    module = estimator.net_.module_
    module.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(X), estimator.batch_size):
            module.encode(
                module.prepare(torch.from_numpy(X[i : i + estimator.batch_size]).to(device))
            )
    _sync(device)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks per model")
    parser.add_argument("--steps", type=int, default=20, help="training steps per block")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--compile", default=None, help="torch.compile mode (both sides)")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument(
        "--memory-format", default="contiguous", choices=["contiguous", "channels_last"]
    )
    args = parser.parse_args()
    batch_size = 64
    rng = np.random.default_rng(0)
    # dSprites-like binary images; the content does not change the cost of a step.
    n_rows = args.steps * batch_size
    X = (rng.random((2 * n_rows, 64, 64)) > 0.957).astype(np.uint8)

    results = {}
    for name in args.models:
        kwargs = dict(
            latent_dim=10,
            lr=1e-4,
            batch_size=batch_size,
            device=args.device,
            random_state=0,
            compile=args.compile or False,
            precision=args.precision,
            memory_format=args.memory_format,
        )
        estimator = MODELS[name](**kwargs)
        # FactorVAE draws two batches per step: give it twice the rows per epoch.
        data = X if name == "FactorVAE" else X[:n_rows]
        estimator.fit(data[: 2 * batch_size * 2])  # build, warm up allocator and kernels
        state = {}
        bare_steps(estimator, data, 3, batch_size, args.device, state)
        package, bare = [], []
        for _ in range(args.blocks):
            package.append(package_steps(estimator, data, args.steps, args.device))
            bare.append(bare_steps(estimator, data, args.steps, batch_size, args.device, state))
        package_s, bare_s = statistics.median(package), statistics.median(bare)
        _sync(args.device)
        start = time.perf_counter()
        estimator.transform(X)
        _sync(args.device)
        encode_package = time.perf_counter() - start
        encode_bare = bare_encode(estimator, X, args.device)
        results[name] = {
            "package_s_per_step": package_s,
            "bare_s_per_step": bare_s,
            "package_steps_per_s": 1 / package_s,
            "bare_steps_per_s": 1 / bare_s,
            "ratio": bare_s / package_s,
            "encode_package_s": encode_package,
            "encode_bare_s": encode_bare,
            "n_encoded": len(X),
        }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    device_peak = (
        torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else None
    )
    print(
        f"device {args.device}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}; conv 64x64, "
        f"batch {batch_size}; {args.blocks} alternating blocks of {args.steps} steps; "
        f"compile {args.compile}, precision {args.precision}, "
        f"memory format {args.memory_format}"
    )
    header = f"{'model':<11}{'package steps/s':>17}{'bare steps/s':>14}{'ratio':>8}"
    print(header + f"{'encode pkg/bare (s)':>22}")
    for name, r in results.items():
        print(
            f"{name:<11}{r['package_steps_per_s']:>17.2f}{r['bare_steps_per_s']:>14.2f}"
            f"{r['ratio']:>8.3f}{r['encode_package_s']:>13.2f} / {r['encode_bare_s']:.2f}"
        )
    print(
        f"peak resident memory {peak_mb:.0f} MB"
        + (f", peak device memory {device_peak:.0f} MB" if device_peak else "")
    )
    suffix = "".join(
        [
            f"_compile-{args.compile}" if args.compile else "",
            "_bf16" * (args.precision != "float32"),
            "_channels-last" * (args.memory_format == "channels_last"),
        ]
    )
    out = (
        Path(__file__).resolve().parent / "results" / f"bench_training_{args.device}{suffix}.json"
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "results": results,
                "peak_rss_mb": peak_mb,
                "peak_device_mb": device_peak,
                "device": args.device,
                "compile": args.compile,
                "precision": args.precision,
                "memory_format": args.memory_format,
                "load": os.getloadavg()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
