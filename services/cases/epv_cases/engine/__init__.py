"""Pure EPV valuation engine (shared/reference/epv-method.md, method epv-1.0).

No I/O, no framework: JSON-shaped dicts in, an ``EngineResult`` out, deterministic.

    analyse(inputs, *, share_price=None)        -> EngineResult   input document of section 2
    analyse_financial_data(financial_data, ...)  -> EngineResult   either stored shape
    map_legacy_dataset(dataset_v1, ...)          -> (inputs, warnings)   section 15
    detect_shape(financial_data)                 -> "epv_input" | "legacy_v1"
    validate_structure(financial_data)           -> list[FieldError]   for storing a draft
"""

from .analysis import analyse
from .errors import ERROR_CODES, WARNING_CODES, EngineError
from .legacy import analyse_financial_data, map_legacy_dataset
from .result import EngineResult, FieldError
from .structure import detect_shape, validate_structure
from .versions import ENGINE_VERSION, METHOD_VERSION

__all__ = [
    "ENGINE_VERSION",
    "ERROR_CODES",
    "METHOD_VERSION",
    "WARNING_CODES",
    "EngineError",
    "EngineResult",
    "FieldError",
    "analyse",
    "analyse_financial_data",
    "detect_shape",
    "map_legacy_dataset",
    "validate_structure",
]
