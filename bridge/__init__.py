"""R Bridge: serve R models over HTTP from an embedded R session."""

__all__ = ["load_model"]
__version__ = "0.1.0"


def __getattr__(name):
    # Imported on first use, so `bridge.client` works without R or rpy2.
    if name == "load_model":
        from .r.model import load_model

        return load_model
    raise AttributeError(f"module 'bridge' has no attribute {name!r}")
