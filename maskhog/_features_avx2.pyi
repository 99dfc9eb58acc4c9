# Type stubs of the AVX2 build of the kernels: the same functions as _features.pyi.
# Callers pass C-contiguous arrays of the right shapes; maskhog.features checks them.
import numpy as np
from numpy.typing import NDArray

class _LbpPlan:
    def __init__(self, dr_up: NDArray[np.float64], dr_down: NDArray[np.float64],
                 dc_right: NDArray[np.float64], dc_left: NDArray[np.float64],
                 uniform_code: NDArray[np.uint8], grid_r: int, grid_c: int,
                 row_cell: NDArray[np.intp], col_cell: NDArray[np.intp],
                 inv_area: NDArray[np.float32]) -> None: ...

def hog_batch(crops: NDArray[np.uint8] | NDArray[np.float64], out: NDArray[np.float32],
              orientations: int, cell_r: int, cell_c: int, block_r: int, block_c: int,
              norm: int, cos_e: NDArray[np.float64], sin_e: NDArray[np.float64]) -> None: ...
def lbp_codes_batch(crops: NDArray[np.uint8] | NDArray[np.float64], out: NDArray[np.uint8],
                    plan: _LbpPlan) -> None: ...
def lbp_hist_batch(crops: NDArray[np.uint8] | NDArray[np.float64], out: NDArray[np.float32],
                   plan: _LbpPlan, offset: int) -> None: ...
def hog_lbp_batch(crops: NDArray[np.uint8] | NDArray[np.float64], out: NDArray[np.float32],
                  orientations: int, cell_r: int, cell_c: int, block_r: int, block_c: int,
                  norm: int, cos_e: NDArray[np.float64], sin_e: NDArray[np.float64],
                  plan: _LbpPlan, offset: int) -> None: ...
def color_batch(crops: NDArray[np.uint8], out: NDArray[np.float32], skin_cell: int, grid: int,
                bounds: NDArray[np.intc]) -> None: ...
