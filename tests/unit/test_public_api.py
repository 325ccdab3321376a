"""The curated public API is exactly what ``__all__`` says."""

import pynenc


def test_all_is_exact() -> None:
    public = {name for name in vars(pynenc) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(pynenc, name)).__name__ == "module"}
    assert set(pynenc.__all__) == public - modules
    assert len(pynenc.__all__) == len(set(pynenc.__all__))


def test_background_runner_is_public() -> None:
    assert "BackgroundRunner" in pynenc.__all__
    assert callable(pynenc.Pynenc.running_in_background)
