"""The engine's hand-written pieces against references: masked batch norm (and its gradient), stacked Adam."""

import keras
import numpy as np
import pytest
from keras import ops

from me_resnet.parallel.stacked_model import StackedAdam, masked_batch_norm

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the engine's step is TensorFlow")

EPSILON = 1e-3


def reference_batch_norm(x, gamma, beta, member):
    """Masked moments written plainly; TensorFlow differentiates it."""
    rows = member[:, None, None, :, None]  # (B, 1, 1, F, 1)
    count = tf.reduce_sum(rows, axis=(0, 1, 2)) * x.shape[1] * x.shape[2]  # (F, 1)
    mean = tf.reduce_sum(x * rows, axis=(0, 1, 2)) / count
    variance = tf.reduce_sum(tf.square(x - mean) * rows, axis=(0, 1, 2)) / count
    return (x - mean) * tf.math.rsqrt(variance + EPSILON) * gamma + beta, mean, variance


def inputs(seed=0, batch=6, folds=3, channels=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.5, 2.0, size=(batch, 4, 5, folds, channels)).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, size=(folds, channels)).astype(np.float32)
    gamma[0, 0] = -0.7  # a negative scale too
    beta = rng.normal(size=(folds, channels)).astype(np.float32)
    member = (rng.uniform(size=(batch, folds)) > 0.3).astype(np.float32)
    member[0, :] = 1.0
    member[1, 0] = 0.0  # every fold misses at least one row somewhere
    member[2, 1:] = 0.0
    upstream = rng.normal(size=x.shape).astype(np.float32) * member[:, None, None, :, None]  # masked loss
    return [tf.constant(a) for a in (x, gamma, beta, member, upstream)]


def test_masked_batch_norm_and_its_gradient_equal_the_plain_masked_formula():
    x, gamma, beta, member, upstream = inputs()
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, gamma, beta])
        y, mean, variance, count = masked_batch_norm(x, gamma, beta, member, EPSILON)
        loss = tf.reduce_sum(y * upstream)
        y_ref, mean_ref, variance_ref = reference_batch_norm(x, gamma, beta, member)
        loss_ref = tf.reduce_sum(y_ref * upstream)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(variance, variance_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(count[:, 0], ops.sum(member, axis=0) * 20)
    for mine, reference in zip(tape.gradient(loss, [x, gamma, beta]), tape.gradient(loss_ref, [x, gamma, beta])):
        np.testing.assert_allclose(mine, reference, rtol=1e-3, atol=1e-4)


def test_a_row_outside_a_fold_changes_nothing_of_that_fold():
    x, gamma, beta, member, upstream = inputs(seed=1)
    outside = np.argwhere(member.numpy() == 0)[0]  # (row, fold)
    changed = x.numpy().copy()
    changed[outside[0], :, :, outside[1], :] += 100.0
    results = []
    for value in (x, tf.constant(changed)):
        with tf.GradientTape() as tape:
            tape.watch([value, gamma, beta])
            y, mean, variance, _ = masked_batch_norm(value, gamma, beta, member, EPSILON)
            loss = tf.reduce_sum(y * upstream)
        grads = tape.gradient(loss, [value, gamma, beta])
        results.append((y, mean, variance, grads))
    (y0, m0, v0, g0), (y1, m1, v1, g1) = results
    f = outside[1]
    own = member.numpy()[:, f] > 0
    np.testing.assert_allclose(m0[f], m1[f], rtol=1e-6)
    np.testing.assert_allclose(v0[f], v1[f], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(y0)[own, :, :, f], np.asarray(y1)[own, :, :, f], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g0[1][f], g1[1][f], rtol=1e-4, atol=1e-5)  # gamma
    np.testing.assert_allclose(g0[2][f], g1[2][f], rtol=1e-5, atol=1e-5)  # beta


def test_stacked_adam_equals_keras_adam_and_skips_folds_without_an_update():
    rng = np.random.default_rng(2)
    start = rng.normal(size=(3, 4, 5)).astype(np.float32)
    gradients = [rng.normal(size=start.shape).astype(np.float32) for _ in range(3)]
    updates = [np.array(u, np.float32) for u in ([1, 0, 1], [1, 1, 1], [1, 1, 0])]  # fold 1 skips step 1
    adam = StackedAdam(0.01)
    variable, m, v = (tf.constant(start), tf.zeros_like(start), tf.zeros_like(start))
    steps = np.zeros(3, np.float32)
    for gradient, update in zip(gradients, updates):
        steps = steps + update
        variable, m, v = adam.apply(variable, tf.constant(gradient), m, v, tf.constant(steps), tf.constant(update))
    for fold in range(3):
        reference = keras.Variable(start[fold])
        optimizer = keras.optimizers.Adam(0.01)
        for gradient, update in zip(gradients, updates):
            if update[fold]:
                optimizer.apply_gradients([(tf.constant(gradient[fold]), reference)])
        np.testing.assert_allclose(np.asarray(variable)[fold], reference.numpy(), rtol=1e-6, atol=1e-7)
