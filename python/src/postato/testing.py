"""``postato.testing``: the test kit, shipped as its own package (``pip install
postato-testing``) so that the simulator is never part of the module production code loads.
This name re-exports it for tests written against ``postato.testing``."""

try:
    from postato_testing import DEFAULT_API_KEY, Simulator, SimulatorStats
except ImportError as error:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "postato.testing needs the test kit, a package of its own: pip install postato-testing"
    ) from error

__all__ = ["Simulator", "SimulatorStats", "DEFAULT_API_KEY"]
