"""One row's raw score from a LightGBM booster through LightGBM's single-row C API.

Why: `booster.predict` costs ~100 µs a call whatever its size: the Python wrapper and the
C API build a predictor for every call. A /predict scores one row with the serving
model and again with the challenger, so that was most of a prediction's time. LightGBM's
own "fast" single-row functions (`LGBM_BoosterPredictForMatSingleRowFastInit` once, then
`LGBM_BoosterPredictForMatSingleRowFast` per row, in its public c_api.h) keep that
predictor: ~6 µs a row, and the same trees walked by the same code, so the scores are
LightGBM's to the bit (tests/test_fast_path.py). Batches stay on `booster.predict`.

Measured against two other ways (benchmarks/prediction_path.py's machine, one row): the
trees compiled by lleaves ~22 µs through its Python wrapper (and LLVM, ~170 MB, and ~2 s
of compiling per model load); the trees flattened into numpy arrays ~150 µs (a dozen numpy
calls on tiny arrays cost more than LightGBM's C++ walk).

The handle is not picklable: a model holds one only while loaded (see core/models.py).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np
from lightgbm.basic import (
    _C_API_DTYPE_FLOAT64,
    _C_API_PREDICT_RAW_SCORE,
    _LIB,
    _c_str,
    _safe_call,
)


class SingleRowScorer:
    """Raw scores of one row at a time from `booster`, as `booster.predict(row,
    raw_score=True, num_threads=1)` gives them."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster  # kept alive as long as the handle that points into it
        self._handle = ctypes.c_void_p()
        self._row = np.zeros(booster.num_feature(), dtype=np.float64)
        self._out = np.zeros(1, dtype=np.float64)
        self._length = ctypes.c_int64()
        # The buffers' addresses, once: ndarray.ctypes costs more than the prediction.
        self._arguments = (
            self._handle,
            ctypes.c_void_p(self._row.ctypes.data),
            ctypes.byref(self._length),
            ctypes.c_void_p(self._out.ctypes.data),
        )
        self._lock = threading.Lock()  # one row buffer; API calls may run on a thread pool
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_C_API_PREDICT_RAW_SCORE),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(booster.best_iteration),  # as predict: 0 (all) unless early-stopped
                ctypes.c_int(_C_API_DTYPE_FLOAT64),
                ctypes.c_int32(len(self._row)),
                _c_str("num_threads=1"),
                ctypes.byref(self._handle),
            )
        )

    def score(self, row: np.ndarray) -> float:
        """The raw score of one row of features (float64, the booster's columns)."""
        with self._lock:
            self._row[:] = row
            _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFast(*self._arguments))
            return float(self._out[0])

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            _LIB.LGBM_FastConfigFree(handle)
