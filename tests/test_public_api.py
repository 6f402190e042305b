"""The package's public API stays complete and importable."""

import synthgate


def test_all_names_are_importable():
    for name in synthgate.__all__:
        assert hasattr(synthgate, name), name


def test_every_public_exception_is_exported():
    import synthgate.errors as errors

    public = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    assert public - {"Exception"} <= set(synthgate.__all__)
