import numpy as np
import pytest

from tfvae.data.images import check_images

GOOD = np.full((2, 8, 8, 1), 0.5, np.float32)


def test_accepts_the_contract_and_returns_same_values():
    out = check_images(GOOD)
    assert out.dtype == np.float32 and out.shape == (2, 8, 8, 1)
    np.testing.assert_array_equal(out, GOOD)


@pytest.mark.parametrize(
    "bad, message",
    [
        ((GOOD * 255).astype(np.uint8), "dtype=uint8"),
        (GOOD.astype(np.float64), "dtype=float64"),
        (GOOD[0], "rank 3"),
        (GOOD[:0], "at least one image"),
        (np.full((2, 8, 8, 2), 0.5, np.float32), "1 or 3 channels"),
        (GOOD * 255, "divide by 255"),
        (GOOD - 1, "values in [-0.5"),
        (np.where(GOOD > 0, np.nan, GOOD).astype(np.float32), "NaN/Inf"),
    ],
)
def test_rejects_bad_images_with_what_was_received(bad, message):
    with pytest.raises(ValueError, match="Received") as error:
        check_images(bad)
    assert message in str(error.value)


def test_checks_required_channels_and_size():
    with pytest.raises(ValueError, match="3 channels"):
        check_images(GOOD, channels=3)
    with pytest.raises(ValueError, match="28x28"):
        check_images(GOOD, size=(28, 28))
