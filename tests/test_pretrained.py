"""The offline EfficientNet-Lite0 (efficientnet_lite, torch_checkpoint), ImageNet classes (imagenet) and bases by
name (pretrained): the weights are the right ones, in the right places, and fail loudly otherwise.

Every test runs with KERAS_HOME in a temporary folder, so the real ~/.keras cache is never read or written.
"""
import json
import pickle
import shutil

import keras
import matplotlib.cbook
import numpy as np
import pytest
import sklearn.datasets
from PIL import Image

from course_utils import efficientnet_lite, imagenet, paths, pretrained, torch_checkpoint

# Keras' own save_weights sets this off on NumPy 2 for every variable; it says nothing about this code.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

TOTAL_VALUES = 4_694_073  # every tensor of the .pth, the 49 BatchNorm update counters included
ELEPHANT_BOX = (1100, 550, 2048, 950)


@pytest.fixture(scope="module")
def keras_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("keras_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def classifier(keras_home):
    """Built from an empty cache, so this converts the .pth and writes the cache."""
    return efficientnet_lite.efficientnet_lite0()


@pytest.fixture(scope="module")
def state_dict():
    return torch_checkpoint.read_torch_checkpoint(efficientnet_lite.pth_path(), sha256=efficientnet_lite.PTH_SHA256)


def center_square(image: Image.Image, size: int = 224) -> np.ndarray:
    return np.asarray(imagenet.central_square(image, size), dtype="float32")


def photos() -> dict[str, np.ndarray]:
    images = {
        "grace_hopper": Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")),
        "china": Image.fromarray(sklearn.datasets.load_sample_image("china.jpg")),
        "flower": Image.fromarray(sklearn.datasets.load_sample_image("flower.jpg")),
    }
    # The committed photo (data/images, CDLA-Permissive-1.0), wherever the data folder is: never skipped.
    # On the whole photo the elephants are small; this box is clearly elephants.
    images["elephants"] = Image.open(paths.committed_data_dir() / "images" / "african_elephants.jpg").crop(ELEPHANT_BOX)
    return {name: center_square(image) for name, image in images.items()}


@pytest.fixture(scope="module")
def images():
    return photos()


@pytest.fixture(scope="module")
def predictions(classifier, images):
    probabilities = classifier.predict(np.stack(list(images.values())), verbose=0)
    return dict(zip(images, imagenet.decode_predictions(probabilities, top=3)))


# What a person would answer; only classes that fit the photo.
@pytest.mark.parametrize(
    "photo, expected",
    [
        ("grace_hopper", {"military_uniform"}),
        ("china", {"palace"}),
        ("flower", {"daisy"}),
        ("elephants", {"African_elephant", "tusker", "Indian_elephant"}),
    ],
)
def test_top1_on_real_photos(predictions, photo, expected):
    top3 = predictions[photo]
    assert top3[0][1] in expected, f"{photo}: {top3}"


def test_input_scaling_matches_the_training_statistics(classifier, images):
    # A BatchNorm's running mean is the mean its input had in training. The stem conv is linear, so with the
    # input scaled as in training, its per-channel means on photos line up with stem_bn's running means
    # (correlation ~0.9); with ImageNet mean/std scaling instead, they are anti-correlated (~-0.9).
    stem = keras.Model(classifier.input, classifier.get_layer("stem_conv").output)
    photo_means = stem.predict(np.stack([images[n] for n in ("grace_hopper", "china", "flower")]), verbose=0)
    running_mean = classifier.get_layer("stem_bn").moving_mean.numpy()
    assert np.corrcoef(photo_means.mean(axis=(0, 1, 2)), running_mean)[0, 1] > 0.7


def test_every_tensor_mapped_once(state_dict, keras_home):
    model = efficientnet_lite.efficientnet_lite0(weights=None)
    mapping = efficientnet_lite.assign_torch_weights(model, state_dict)

    assert set(mapping) == set(state_dict)
    assert sum(array.size for array in state_dict.values()) == TOTAL_VALUES
    targets = [path for path in mapping.values() if path is not None]
    assert len(targets) == len(set(targets)), "two tensors went to the same variable"
    assert sorted(targets) == sorted(variable.path for variable in model.weights), "a variable was left out"
    skipped = [name for name, path in mapping.items() if path is None]
    assert len(skipped) == 49 and all(name.endswith(".num_batches_tracked") for name in skipped)
    assert all(state_dict[name] == 0 for name in skipped)
    assert model.count_params() == TOTAL_VALUES - 49

    variables = {variable.path: keras.ops.convert_to_numpy(variable) for variable in model.weights}
    for torch_name, path in mapping.items():
        if path is None:
            continue
        assert variables[path].size == state_dict[torch_name].size, torch_name
    # Spot checks of the layout conversions, value by value.
    np.testing.assert_array_equal(
        variables["block2a_dwconv/kernel"], state_dict["_blocks.1._depthwise_conv.weight"].transpose(2, 3, 0, 1)
    )
    np.testing.assert_array_equal(
        variables["stem_conv/kernel"], state_dict["_conv_stem.weight"].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(variables["predictions/kernel"], state_dict["_fc.weight"].T)
    np.testing.assert_array_equal(variables["top_bn/moving_variance"], state_dict["_bn1.running_var"])


def test_strided_tensors_are_read_by_their_strides(state_dict):
    # The file keeps kernels in TensorFlow's (kh, kw, in, out) memory order behind permuted views; read as
    # contiguous arrays they would be scrambled (median below 0.25 here). Read by their strides, the red and
    # green taps of each 3x3 stem filter are strongly (anti)correlated, as colour edge detectors are.
    kernel = state_dict["_conv_stem.weight"]  # (32, 3, 3, 3)
    correlations = [
        abs(np.corrcoef(k[0].ravel(), k[1].ravel())[0, 1]) for k in kernel if k[:2].std(axis=(1, 2)).all()
    ]
    assert np.median(correlations) > 0.5


@pytest.mark.parametrize("keep", [100, 30_000, 10_000_000, None])
def test_truncated_file_is_a_clear_error(tmp_path, keep):
    source = efficientnet_lite.pth_path()
    data = source.read_bytes()
    damaged = tmp_path / "truncated.pth"
    damaged.write_bytes(data[: keep if keep is not None else len(data) - 1])
    with pytest.raises(ValueError, match="truncated.pth"):
        torch_checkpoint.read_torch_checkpoint(damaged)
    with pytest.raises(ValueError, match=r"truncated\.pth: SHA-256"):
        torch_checkpoint.read_torch_checkpoint(damaged, sha256=efficientnet_lite.PTH_SHA256)


def test_flipped_bytes_are_a_clear_error(tmp_path):
    data = bytearray(efficientnet_lite.pth_path().read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the raw values, where only the hash can notice
    damaged = tmp_path / "flipped.pth"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"flipped\.pth: SHA-256 .* corrupted"):
        torch_checkpoint.read_torch_checkpoint(damaged, sha256=efficientnet_lite.PTH_SHA256)


def test_forbidden_global_is_refused_not_run(tmp_path):
    data = efficientnet_lite.pth_path().read_bytes()
    # Make each tensor rebuild call os.system instead: if the unpickler imported it, it would run.
    evil = data.replace(b"ctorch._utils\n_rebuild_tensor_v2\n", b"cos\nsystem\n", 1)
    assert evil != data
    damaged = tmp_path / "evil.pth"
    damaged.write_bytes(evil)
    with pytest.raises(ValueError, match=r"evil\.pth: .*names os\.system"):
        torch_checkpoint.read_torch_checkpoint(damaged)


def test_pickle_of_other_object_is_refused(tmp_path):
    damaged = tmp_path / "other.pth"
    with damaged.open("wb") as file:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, file, protocol=2)
        pickle.dump(shutil.rmtree, file, protocol=2)
    with pytest.raises(ValueError, match=r"other\.pth: .*names shutil\.rmtree"):
        torch_checkpoint.read_torch_checkpoint(damaged)


def test_second_build_reuses_the_cache(classifier, keras_home, monkeypatch):
    cache = keras_home / "models" / efficientnet_lite.CACHE_FILE
    assert cache.is_file()
    before = cache.stat().st_mtime_ns

    def no_conversion(*args, **kwargs):
        raise AssertionError("the .pth was read although a valid cache exists")

    monkeypatch.setattr(efficientnet_lite, "read_torch_checkpoint", no_conversion)
    again = efficientnet_lite.efficientnet_lite0()
    assert cache.stat().st_mtime_ns == before
    for name in ("stem_conv", "block6d_project_bn", "predictions"):
        for a, b in zip(classifier.get_layer(name).get_weights(), again.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_garbage_cache_is_rebuilt(classifier, keras_home, tmp_path, monkeypatch):
    good = keras_home / "models" / efficientnet_lite.CACHE_FILE
    models = tmp_path / "models"
    models.mkdir()
    cache = models / efficientnet_lite.CACHE_FILE
    shutil.copy(good.with_name(good.name + ".json"), models)  # a record that the garbage will not match
    cache.write_bytes(b"not an HDF5 file" * 100)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    with pytest.warns(UserWarning, match="Rebuilding"):
        rebuilt = efficientnet_lite.efficientnet_lite0()
    record = json.loads(cache.with_name(cache.name + ".json").read_text())
    assert record["size"] == cache.stat().st_size > 1_000_000
    np.testing.assert_array_equal(
        rebuilt.get_layer("predictions").get_weights()[0], classifier.get_layer("predictions").get_weights()[0]
    )


def test_efficientnet_base_gives_a_1280_channel_map(keras_home):
    model, preprocess = pretrained.load_base("efficientnet_lite0", input_shape=(180, 180, 3))
    assert model.output.shape == (None, 6, 6, 1280)  # 180 / 32, rounded up
    assert model.layers[-1].name == efficientnet_lite.LAST_CONV_LAYER
    x = np.full((1, 180, 180, 3), 127.0, dtype="float32")
    assert preprocess(x) is x
    with pytest.raises(ValueError, match="at least 32"):
        efficientnet_lite.efficientnet_lite0(include_top=False, input_shape=(31, 64, 3))


def test_decode_predictions_matches_keras_class_index():
    classes = imagenet.imagenet_classes()
    assert len(set(wnid for wnid, _ in classes)) == 1000
    index_file = paths.local_file("keras/models/imagenet_class_index.json")
    if index_file is None:
        pytest.skip("needs $COURSE_DATA_DIR/keras/models/imagenet_class_index.json")
    keras_index = json.loads(index_file.read_text())
    assert [tuple(keras_index[str(i)]) for i in range(1000)] == list(classes)


def test_mobilenet_v2_loads_offline(tmp_path, monkeypatch):
    name = pretrained.keras_weights_file("mobilenet_v2", include_top=False, input_shape=(180, 180, 3))
    assert name == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    if paths.local_file(f"keras/models/{name}") is None:
        pytest.skip(f"needs $COURSE_DATA_DIR/keras/models/{name}")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_download)
    model, preprocess = pretrained.load_base("mobilenet_v2", input_shape=(180, 180, 3))
    assert (tmp_path / "models" / name).is_file()
    assert model.output.shape == (None, 6, 6, 1280)
    assert preprocess is keras.applications.mobilenet_v2.preprocess_input
    # Freshly initialised BatchNorm variances are all ones; loaded ones are not.
    assert not np.allclose(model.get_layer("bn_Conv1").get_weights()[3], 1.0)


def test_unknown_base_is_refused():
    with pytest.raises(ValueError, match="unknown base"):
        pretrained.load_base("resnet1000")


def test_central_square_keeps_the_middle_undistorted():
    photo = Image.new("RGB", (300, 100), "black")
    photo.paste((255, 0, 0), (100, 0, 200, 100))  # the middle third is red
    square = imagenet.central_square(photo)
    assert square.size == (100, 100) and square.getpixel((0, 0)) == (255, 0, 0) == square.getpixel((99, 99))
    small = imagenet.central_square(photo.rotate(90, expand=True), 32)
    assert small.size == (32, 32) and small.getpixel((16, 16)) == (255, 0, 0)


CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def test_every_base_names_layers_it_has_for_fine_tuning():
    # Architectures only (weights=None): the prefixes must pick a few top layers, and no BatchNormalization-only set.
    for name, base in pretrained.BASES.items():
        size = max(base.native_size // 2, 75)  # small is enough to build; Xception needs >= 71
        model = base.constructor(include_top=False, weights=None, input_shape=(size, size, 3))
        chosen = [layer for layer in model.layers if layer.name.startswith(base.fine_tune)]
        convolutions = [layer for layer in chosen if isinstance(layer, CONVOLUTIONS)]
        assert 1 <= len(convolutions) <= 4, (name, [layer.name for layer in chosen])
        assert model.layers.index(chosen[0]) > len(model.layers) * 0.7, f"{name}: not the top of the base"
