"""The loops notebook 01 teaches (its cells tagged ``inline``) compute what TensorFlow and SciPy compute, on random
inputs, sizes, strides and paddings beyond the notebook's examples; 02's models have the book's architectures."""
import numpy as np
import pytest
import scipy.signal
import tensorflow as tf

from notebook_code import lesson_namespace


def tf_conv2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding="VALID") -> np.ndarray:
    """TensorFlow's convolution of one (H, W, C_in) image with a (kh, kw, C_in, C_out) kernel, in float64; 2-D
    image and kernel give a 2-D map. ``padding`` is "VALID", "SAME" or zeros per side."""
    flat = image.ndim == 2
    x = image[None, ..., None] if flat else image[None]
    k = kernel[:, :, None, None] if kernel.ndim == 2 else kernel
    if isinstance(padding, int):
        padding = [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    out = tf.nn.conv2d(x.astype("float64"), k.astype("float64"), strides=stride, padding=padding)[0].numpy()
    return out[..., 0] if flat else out


@pytest.fixture(scope="module")
def lesson01():
    return lesson_namespace("01")


@pytest.fixture(scope="module")
def lesson02():
    return lesson_namespace("02")


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("size,k", [((9, 9), 3), ((10, 7), 2), ((8, 11), 5), ((6, 6), 1)])
def test_loop_equals_tensorflow(lesson01, stride, padding, size, k):
    rng = np.random.default_rng(stride * 100 + padding * 10 + k)
    image, kernel = rng.normal(size=size), rng.normal(size=(k, k))
    loop = lesson01["cross_correlate"](np.pad(image, padding), kernel, stride)
    np.testing.assert_allclose(loop, tf_conv2d(image, kernel, stride, padding), atol=1e-12)
    if stride == 1 and padding == 0:  # SciPy's "valid" cross-correlation, a third opinion
        np.testing.assert_allclose(loop, scipy.signal.correlate2d(image, kernel, "valid"), atol=1e-12)


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("n,f", [(5, 3), (6, 3), (7, 4), (9, 2), (4, 1)])
def test_same_padding_gives_tensorflows_same_output(lesson01, stride, n, f):
    before, after = lesson01["same_padding"](n, f, stride)
    assert before + after == max((-(-n // stride) - 1) * stride + f - n, 0) and after - before in (0, 1)
    rng = np.random.default_rng(n * 10 + f)
    image, kernel = rng.normal(size=(n, n)), rng.normal(size=(f, f))
    loop = lesson01["cross_correlate"](np.pad(image, (before, after)), kernel, stride)
    by_tf = tf.nn.conv2d(image[None, :, :, None], kernel[:, :, None, None], strides=stride, padding="SAME")
    np.testing.assert_allclose(loop, by_tf[0, :, :, 0], atol=1e-12)
    assert loop.shape == (-(-n // stride),) * 2  # ceil(n / stride) outputs


@pytest.mark.parametrize("n,f,p,s,expected", [(5, 3, 0, 1, 3), (7, 3, 0, 3, 2), (32, 7, 2, 3, 10), (28, 3, 0, 1, 26),
                                              (227, 11, 0, 4, 55), (6, 4, 1, 2, 3)])  # (227, 11, 0, 4): AlexNet's 55
def test_output_size_formula(lesson01, n, f, p, s, expected):
    assert lesson01["output_size"](n, f, p, s) == expected
    assert lesson01["cross_correlate"](np.zeros((n + 2 * p,) * 2), np.ones((f, f)), s).shape == (expected, expected)


def test_neuron_formula_equals_tensorflow(lesson01):
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=(9, 8, 3)), rng.normal(size=(3, 3, 3, 5)), rng.normal(size=5)
    for stride in (1, 2):
        expected = tf_conv2d(x, w, stride) + b
        by_formula = np.array([[[lesson01["neuron_output"](x, w, b, i, j, k, stride) for k in range(5)]
                                for j in range(expected.shape[1])] for i in range(expected.shape[0])])
        np.testing.assert_allclose(by_formula, expected, atol=1e-12)


@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_pool_loop_equals_tensorflow(lesson01, size, stride):
    fmap = np.random.default_rng(size * 10 + stride).normal(size=(9, 8))
    pool, as_tensor = lesson01["pool"], fmap[None, :, :, None]
    by_tf = {"max": tf.nn.max_pool2d(as_tensor, size, stride, "VALID"),
             "avg": tf.nn.avg_pool2d(as_tensor, size, stride, "VALID"),
             "l2": tf.sqrt(tf.nn.avg_pool2d(as_tensor ** 2, size, stride, "VALID") * size * size)}  # √(sum of squares)
    for summary, mode in ((np.max, "max"), (np.mean, "avg"), (lesson01["l2_norm"], "l2")):
        np.testing.assert_allclose(pool(fmap, size, stride, summary), by_tf[mode][0, :, :, 0], atol=1e-12)


def test_mnist_models_have_the_books_architectures(lesson02):
    import keras

    model, dense, first, dropout = (lesson02[name] for name in ("model", "dense_model", "first_edition",
                                                                  "dropout_model"))
    assert model.count_params() == 104_202
    assert dense.count_params() == 407_050
    assert first.count_params() == 93_322
    assert dropout.count_params() == 104_202
    assert lesson02["deck_model"].count_params() == 1_199_882  # Keras' mnist_cnn example, the lecture deck's model
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense"]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size, c.activation.__name__) for c in convs] == [
        (32, (3, 3), "relu"), (64, (3, 3), "relu"), (128, (3, 3), "relu")]
    assert model.layers[-1].units == 10 and model.layers[-1].activation.__name__ == "softmax"
    assert [type(layer).__name__ for layer in dropout.layers][-3:] == ["Flatten", "Dropout", "Dense"]
    assert dropout.get_layer(index=-2).rate == 0.5
    # readable names: each model's layers are numbered from the start (clear_session in every model cell)
    assert [layer.name for layer in convs] == ["conv2d", "conv2d_1", "conv2d_2"]


def test_inline_convnet_is_compiled_and_trains(lesson02):
    model = lesson02["model"]
    assert model.loss == "sparse_categorical_crossentropy"
    rng = np.random.default_rng(0)
    images = rng.random((128, 28, 28, 1)).astype("float32")
    labels = (images[:, :14].mean(axis=(1, 2, 3)) > images[:, 14:].mean(axis=(1, 2, 3))).astype("int64")
    history = model.fit(images, labels, epochs=2, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    probabilities = model.predict(images[:4], verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_figures_of_lesson_01(lesson01):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils import plots

    image, kernel = np.arange(1, 26).reshape(5, 5), np.ones((3, 3))
    output = lesson01["cross_correlate"](np.pad(image, 1), kernel, 2)
    fig = plots.conv_diagram(image, kernel, output, position=(1, 2), stride=2, padding=1)
    assert len(fig.axes) == 3
    assert fig.axes[2].get_title().endswith(f"[1, 2] = {output[1, 2]:g}")
    assert len(fig.axes[0].patches) == 7 * 7 + 2  # the padded grid's cells, the window's fill and outline
    plt.close(fig)
    signed = np.array([[-4.0, 1.0], [2.0, 100.0]])
    fig = plots.signed_maps(np.zeros((2, 2)), {"edges": signed}, clip_percentile=50)
    shown = fig.axes[1].images[0]
    low, high = shown.get_clim()
    assert low == -high and 0 < high < 100  # centred at 0, clipped below the outlier
    assert len(fig.axes) == 3  # image, map, colorbar
    plt.close(fig)
