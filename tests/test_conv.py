import numpy as np
import pytest
import tensorflow as tf

from course_utils import conv


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size,k", [((9, 9), 3), ((10, 7), 2), ((8, 11), 5)])
def test_conv2d_matches_tensorflow(stride, padding, size, k):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(*size, 3))
    w = rng.normal(size=(k, k, 3, 4))
    expected = tf.nn.conv2d(x[None], w, strides=stride, padding=padding.upper())[0].numpy()
    np.testing.assert_allclose(conv.conv2d(x, w, stride=stride, padding=padding), expected, atol=1e-10)


def test_conv2d_integer_padding_and_bias():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(6, 6, 2)), rng.normal(size=(3, 3, 2, 5)), rng.normal(size=5)
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    expected = tf.nn.conv2d(padded[None], w, strides=1, padding="VALID")[0].numpy() + b
    np.testing.assert_allclose(conv.conv2d(x, w, padding=1, bias=b), expected, atol=1e-10)


def test_conv2d_2d_book_example():
    image = np.array([[1, 0, 1, 0], [1, 0, 1, 0], [1, 1, 1, 1], [0, 0, 1, 0]])
    mask = np.array([[1, 0], [0, 1]])
    np.testing.assert_array_equal(conv.conv2d(image, mask), [[1, 1, 1], [2, 1, 2], [1, 2, 1]])


def test_conv2d_rejects_depth_mismatch():
    with pytest.raises(ValueError, match="depth"):
        conv.conv2d(np.zeros((5, 5, 3)), np.zeros((3, 3, 2, 1)))


@pytest.mark.parametrize("n,f,p,s,expected", [(5, 3, 0, 1, 3), (5, 3, 0, 2, 2), (5, 3, 1, 1, 5), (7, 3, 0, 2, 3),
                                               (28, 3, 0, 1, 26), (227, 11, 0, 4, 55)])
def test_output_size(n, f, p, s, expected):
    assert conv.output_size(n, f, p, s) == expected


def test_output_size_rejects_filter_larger_than_input():
    with pytest.raises(ValueError):
        conv.output_size(2, 3)


@pytest.mark.parametrize("n,f,s", [(5, 3, 1), (5, 3, 2), (6, 3, 2), (7, 4, 3), (4, 1, 1)])
def test_same_padding_matches_tensorflow_output_shape(n, f, s):
    before, after = conv.same_padding(n, f, s)
    out = tf.nn.conv2d(tf.zeros((1, n, n, 1)), tf.zeros((f, f, 1, 1)), strides=s, padding="SAME")
    assert conv.output_size(n + before + after, f, 0, s) == out.shape[1]


@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (2, 1)])
def test_pooling_matches_tensorflow(size, stride):
    x = np.random.default_rng(2).normal(size=(9, 8, 3))
    for mode, tf_pool in (("max", tf.nn.max_pool2d), ("avg", tf.nn.avg_pool2d)):
        expected = tf_pool(x[None], size, stride, "VALID")[0].numpy()
        np.testing.assert_allclose(conv.pool2d(x, size, stride, mode), expected, atol=1e-10)
    squares = tf.nn.avg_pool2d(x[None] ** 2, size, stride, "VALID")[0].numpy() * size * size
    np.testing.assert_allclose(conv.pool2d(x, size, stride, "l2"), np.sqrt(squares), atol=1e-10)


def test_pool_rejects_unknown_mode():
    with pytest.raises(ValueError):
        conv.pool2d(np.zeros((4, 4)), mode="median")
