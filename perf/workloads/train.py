"""mnist and cnn: milliseconds per SGD training step of JAX's from-scratch MNIST classifier
(784-1024-1024-10 tanh) and of a two-layer convolutional network, float32."""

from __future__ import annotations

import numpy as np

from perf.harness import Context
from perf.programs import (
    CNN_BATCH,
    CNN_CHANNELS,
    CNN_K,
    CNN_SIZE,
    MLP_BATCH,
    MNIST_SIZES,
    cnn_data,
    cnn_loss,
    cnn_step_numpy,
    mlp_data,
    mlp_loss,
    mlp_step_numpy,
)
from perf.report import Section
from perf.workloads.mlp import NOTES, PEERS, step_row


def mnist(ctx: Context) -> Section:
    section = Section("mnist", "ms per training step of JAX's examples/"
                      "mnist_classifier_fromscratch.py network (forward, backward, SGD)", PEERS)
    case = f"{'-'.join(map(str, MNIST_SIZES))} tanh, batch {MLP_BATCH}, float32"
    data = mlp_data(np.random.default_rng(0), sizes=MNIST_SIZES)
    section.rows.append(step_row(ctx, case, data, mlp_loss, mlp_step_numpy))
    section.notes += NOTES + [
        "the network, batch and loss of JAX's example (log-softmax cross-entropy; its "
        "logits - logsumexp is log_softmax), on random inputs; its SGD step size 0.001 is "
        "0.01 here, as in the mlp workload."]
    return section


def cnn(ctx: Context) -> Section:
    section = Section("cnn", "ms per training step of a two-layer convolutional network "
                      "(forward, backward, SGD)", PEERS)
    c0, c1, c2 = CNN_CHANNELS
    case = (f"x f32[{CNN_BATCH},{c0},{CNN_SIZE},{CNN_SIZE}]: conv {c0}->{c1}, tanh, conv "
            f"{c1}->{c2}, tanh ({CNN_K}x{CNN_K}, 'SAME'), dense -> 10, log-softmax")
    section.rows.append(step_row(ctx, case, cnn_data(np.random.default_rng(0)), cnn_loss,
                                 cnn_step_numpy))
    section.notes += NOTES[:1] + [
        "convolutions: jitgrad and JAX lax.conv_general_dilated, PyTorch conv2d, autograd "
        "scipy.signal.convolve (flipped kernel, padded input); numpy by hand: im2col with "
        "tensordot, the input's gradient a correlation with the flipped, transposed kernel.",
        NOTES[1]]
    return section
