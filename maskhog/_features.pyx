# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled HOG, uniform-LBP and colour-cue kernels: the hot path of maskhog.

Nothing but :mod:`maskhog.features` imports this module. The functions here
trust their callers: arrays are C-contiguous, shapes agree, parameters are
valid. All checking happens in ``features.py``.

Every batch entry point releases the GIL for the whole batch, so several
Python threads can extract features in parallel.

How the HOG kernel stays fast and still equals scikit-image
------------------------------------------------------------
scikit-image computes each pixel's orientation with ``arctan2`` and then
compares it with the bin edges. We never compute an angle: a gradient folded
into the upper half-plane lies at or above the bin edge at angle ``b`` exactly
when ``cos(b) * g_row - sin(b) * g_col >= 0``. Counting the edges a pixel
passes gives its bin. For 8-bit images the gradients are small integers and
this test gives the same bin as scikit-image for every possible gradient
(checked exhaustively in the tests). Per row, the work is a few flat loops
over float arrays that the C compiler turns into SIMD code.
"""

from libc.math cimport sqrt, sqrtf
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from libc.stdint cimport uint8_t

ctypedef fused pixel_t:
    uint8_t
    double

# Block normalisation methods, as in skimage.feature.hog.
cdef enum:
    NORM_L1 = 0
    NORM_L1_SQRT = 1
    NORM_L2 = 2
    NORM_L2_HYS = 3

cdef struct HogParams:
    int orientations      # number of bins
    int n_edges           # bin edges to test: orientations, or one less when the last is 180
    int cell_r, cell_c    # pixels per cell
    int block_r, block_c  # cells per block
    int n_cells_r, n_cells_c
    int norm
    const double* cos_e   # cos and sin of each bin edge after the first (edge 0 is 0 degrees)
    const double* sin_e


# ---------------------------------------------------------------- HOG --

ctypedef fused real_t:
    float
    double


cdef inline void _gradient_row(const pixel_t* img, Py_ssize_t H, Py_ssize_t W,
                               Py_ssize_t y, Py_ssize_t width,
                               real_t* fc, real_t* fr, float* mag) noexcept nogil:
    """Gradient of row ``y`` (first ``width`` columns), folded to unsigned orientation.

    Centred [-1, 0, 1] differences, zero on the image border, as in
    scikit-image. On return ``mag`` holds the magnitude and ``(fc, fr)`` the
    gradient turned into the upper half-plane (``fr >= 0``), whose angle is
    the unsigned orientation in [0, 180) degrees.
    """
    cdef Py_ssize_t x
    cdef const pixel_t* row = img + y * W
    cdef real_t gc, gr

    fc[0] = 0
    for x in range(1, min(width, W - 1)):
        fc[x] = <real_t>row[x + 1] - <real_t>row[x - 1]
    if width == W:
        fc[W - 1] = 0
    if y == 0 or y == H - 1:
        memset(fr, 0, width * sizeof(real_t))
    else:
        for x in range(width):
            fr[x] = <real_t>row[x + W] - <real_t>row[x - W]

    for x in range(width):
        gc = fc[x]
        gr = fr[x]
        if real_t is float:
            mag[x] = sqrtf(gc * gc + gr * gr)
        else:
            mag[x] = <float>sqrt(gc * gc + gr * gr)
        # atan2(gr, gc) mod 180 is the angle of this vector.
        fr[x] = gr if gr >= 0 else -gr
        fc[x] = -gc if gr < 0 else ((gc if gc >= 0 else -gc) if gr == 0 else gc)


cdef inline void _accumulate_row(const real_t* fc, const real_t* fr, const float* mag,
                                 Py_ssize_t width, const HogParams* p, float* acc) noexcept nogil:
    """Add each pixel's magnitude to row k of ``acc`` if it lies at or past edge k.

    Row 0 of ``acc`` sums every magnitude, row k those at or past bin edge k,
    so bin i is row i minus row i + 1. One flat pass per edge, no branches,
    no scatter: the compiler vectorises each pass.
    """
    cdef Py_ssize_t x, k
    cdef real_t ck, sk
    cdef float* a
    for x in range(width):
        acc[x] += mag[x]
    for k in range(p.n_edges):
        ck = <real_t>p.cos_e[k]
        sk = <real_t>p.sin_e[k]
        a = acc + (k + 1) * width
        for x in range(width):
            # Cross product >= 0: the gradient is at or past the edge direction.
            a[x] += mag[x] * <float>(ck * fr[x] - sk * fc[x] >= 0)


cdef void _hog_one(const pixel_t* img, Py_ssize_t H, Py_ssize_t W,
                   const HogParams* p, float* out, float* scratch) noexcept nogil:
    """HOG descriptor of one image, in scikit-image's order.

    ``scratch`` holds ``_hog_scratch_len(p)`` floats.
    """
    cdef int nb = p.orientations, ne = p.n_edges
    cdef Py_ssize_t width = p.n_cells_c * p.cell_c
    cdef void* grad = scratch                     # two rows of float or double
    cdef float* mag = scratch + 4 * width
    cdef float* acc = mag + width                 # (ne + 1, width) cumulative sums
    cdef float* hist = acc + (ne + 1) * width     # (n_cells_r, n_cells_c, nb)
    cdef Py_ssize_t cy, cx, y, x, i, k, x0
    cdef float area = <float>(p.cell_r * p.cell_c)
    cdef float sums[182]     # ne + 2 <= 182 as orientations <= 180
    cdef float* a

    for cy in range(p.n_cells_r):
        memset(acc, 0, (ne + 1) * width * sizeof(float))
        for y in range(cy * p.cell_r, (cy + 1) * p.cell_r):
            if pixel_t is uint8_t:
                # Integer gradients in [-255, 255]: float is exact for the
                # magnitude's square and the edge tests agree with scikit-image.
                _gradient_row(img, H, W, y, width, <float*>grad, <float*>grad + width, mag)
                _accumulate_row(<float*>grad, <float*>grad + width, mag, width, p, acc)
            else:
                _gradient_row(img, H, W, y, width, <double*>grad, <double*>grad + width, mag)
                _accumulate_row(<double*>grad, <double*>grad + width, mag, width, p, acc)
        for cx in range(p.n_cells_c):
            x0 = cx * p.cell_c
            for k in range(ne + 1):
                a = acc + k * width + x0
                sums[k] = 0
                for x in range(p.cell_c):
                    sums[k] += a[x]
            sums[ne + 1] = 0
            for i in range(nb):
                hist[(cy * p.n_cells_c + cx) * nb + i] = (sums[i] - sums[i + 1]) / area
    _normalize_blocks(hist, p, out)


cdef inline float _sum(const float* v, int n, bint squares) noexcept nogil:
    """Sum (of squares) with 8 independent partial sums.

    One running sum would chain every addition to the one before, and without
    -ffast-math the compiler may not split it; eight lanes make one SIMD add.
    """
    cdef float part[8]
    cdef int i, j, n8 = n - n % 8
    cdef float total = 0
    for j in range(8):
        part[j] = 0
    for i in range(0, n8, 8):
        for j in range(8):
            part[j] += v[i + j] * v[i + j] if squares else v[i + j]
    for i in range(n8, n):
        total += v[i] * v[i] if squares else v[i]
    for j in range(8):
        total += part[j]
    return total


cdef void _normalize_blocks(const float* hist, const HogParams* p, float* out) noexcept nogil:
    """Group cells into overlapping blocks and normalise each (Dalal & Triggs)."""
    cdef int nb = p.orientations
    cdef int n_blocks_r = p.n_cells_r - p.block_r + 1
    cdef int n_blocks_c = p.n_cells_c - p.block_c + 1
    cdef int cell_len = p.block_c * nb            # one block row of cells is contiguous
    cdef int block_len = p.block_r * cell_len
    cdef int br, bc, i, n
    cdef float eps = 1e-5, scale
    cdef float* dst = out
    cdef const float* src

    for br in range(n_blocks_r):
        for bc in range(n_blocks_c):
            for i in range(p.block_r):
                src = hist + ((br + i) * p.n_cells_c + bc) * nb
                for n in range(cell_len):
                    dst[i * cell_len + n] = src[n]
            if p.norm == NORM_L1 or p.norm == NORM_L1_SQRT:
                scale = 1 / (_sum(dst, block_len, False) + eps)   # histograms are >= 0
                for n in range(block_len):
                    dst[n] = dst[n] * scale
                if p.norm == NORM_L1_SQRT:
                    for n in range(block_len):
                        dst[n] = sqrtf(dst[n])
            else:
                scale = 1 / sqrtf(_sum(dst, block_len, True) + eps * eps)
                for n in range(block_len):
                    dst[n] = dst[n] * scale
                if p.norm == NORM_L2_HYS:
                    # Clip large values so that a few strong edges cannot dominate.
                    for n in range(block_len):
                        dst[n] = min(dst[n], <float>0.2)
                    scale = 1 / sqrtf(_sum(dst, block_len, True) + eps * eps)
                    for n in range(block_len):
                        dst[n] = dst[n] * scale
            dst += block_len


cdef HogParams _hog_params(int orientations, int cell_r, int cell_c, int block_r, int block_c,
                           int n_cells_r, int n_cells_c, int norm,
                           const double[::1] cos_e, const double[::1] sin_e):
    cdef HogParams p
    p.orientations = orientations
    p.n_edges = cos_e.shape[0]
    p.cell_r = cell_r
    p.cell_c = cell_c
    p.block_r = block_r
    p.block_c = block_c
    p.n_cells_r = n_cells_r
    p.n_cells_c = n_cells_c
    p.norm = norm
    p.cos_e = &cos_e[0] if p.n_edges > 0 else NULL
    p.sin_e = &sin_e[0] if p.n_edges > 0 else NULL
    return p


cdef inline Py_ssize_t _hog_scratch_len(const HogParams* p) noexcept nogil:
    # two rows of doubles for the gradient, then mag, acc, hist
    cdef Py_ssize_t width = p.n_cells_c * p.cell_c
    return ((p.n_edges + 2) * width + p.n_cells_r * p.n_cells_c * p.orientations
            + 4 * width)


def hog_batch(const pixel_t[:, :, ::1] crops, float[:, ::1] out,
              int orientations, int cell_r, int cell_c, int block_r, int block_c,
              int norm, const double[::1] cos_e, const double[::1] sin_e):
    """HOG of each crop of a ``(N, H, W)`` batch into ``out[:, :D]``."""
    cdef Py_ssize_t N = crops.shape[0], H = crops.shape[1], W = crops.shape[2], n
    cdef HogParams p = _hog_params(orientations, cell_r, cell_c, block_r, block_c,
                                   H // cell_r, W // cell_c, norm, cos_e, sin_e)
    cdef float* scratch
    with nogil:
        scratch = <float*>malloc(_hog_scratch_len(&p) * sizeof(float))
        if scratch == NULL:
            with gil:
                raise MemoryError()
        for n in range(N):
            _hog_one(&crops[n, 0, 0], H, W, &p, &out[n, 0], scratch)
        free(scratch)


# ---------------------------------------------------------------- LBP --

cdef struct LbpGeometry:
    # Bilinear weights of the diagonal neighbours, exactly as scikit-image
    # computes them: they differ in the last bits from row to row.
    const double* dr_up     # (H,) weight of the lower row, neighbours 1 and 3
    const double* dr_down   # (H,) the same for neighbours 5 and 7
    const double* dc_right  # (W,) weight of the right column, neighbours 1 and 7
    const double* dc_left   # (W,) the same for neighbours 3 and 5


cdef inline void _interpolate_row(const double* row, Py_ssize_t W, const LbpGeometry* g,
                                  double* right, double* left) noexcept nogil:
    """Interpolate a padded row half a diagonal step to the right and to the left.

    Each value is the ``top`` or ``bottom`` term of scikit-image's bilinear
    interpolation for four neighbours (two pixels above and below), so it is
    computed once here instead of four times.
    """
    cdef Py_ssize_t c
    for c in range(W):
        right[c] = (1 - g.dc_right[c]) * row[c] + g.dc_right[c] * row[c + 1]
    for c in range(W):
        left[c] = (1 - g.dc_left[c]) * row[c - 1] + g.dc_left[c] * row[c]


cdef inline void _lbp_codes_one(const pixel_t* img, Py_ssize_t H, Py_ssize_t W,
                                const LbpGeometry* g, const uint8_t* uniform_code,
                                double* scratch, uint8_t* codes) noexcept nogil:
    """Uniform LBP codes (P=8, R=1) of one image into ``codes`` (H x W).

    ``scratch`` holds ``_lbp_scratch_len(H, W)`` doubles: the image inside a
    zero border (scikit-image's constant mode, cval=0), three rows of
    interpolated values for each side, and the bit patterns of one row.
    """
    cdef Py_ssize_t PW = W + 2, r, c, i
    cdef double* pad = scratch
    cdef double* interp = pad + (H + 2) * PW          # 3 rows x (right, left) x W, a ring
    cdef double* pattern = interp + 6 * W
    cdef double* prow
    cdef const double* mid
    cdef const double* up_r
    cdef const double* up_l
    cdef const double* mid_r
    cdef const double* mid_l
    cdef const double* down_r
    cdef const double* down_l
    cdef double du, dd

    memset(pad, 0, PW * sizeof(double))
    memset(pad + (H + 1) * PW, 0, PW * sizeof(double))
    for r in range(H):
        prow = pad + (r + 1) * PW
        prow[0] = 0
        prow[W + 1] = 0
        for c in range(W):
            prow[c + 1] = <double>img[r * W + c]

    # Padded rows 0 and 1 (image rows -1 and 0) into ring slots 0 and 1.
    for i in range(2):
        _interpolate_row(pad + i * PW + 1, W, g, interp + 2 * i * W, interp + (2 * i + 1) * W)

    for r in range(H):
        i = (r + 2) % 3
        _interpolate_row(pad + (r + 2) * PW + 1, W, g, interp + 2 * i * W, interp + (2 * i + 1) * W)
        up_r = interp + 2 * (r % 3) * W
        up_l = up_r + W
        mid_r = interp + 2 * ((r + 1) % 3) * W
        mid_l = mid_r + W
        down_r = interp + 2 * i * W
        down_l = down_r + W
        du = g.dr_up[r]
        dd = g.dr_down[r]
        mid = pad + (r + 1) * PW + 1

        # Bit k is set when neighbour k is at least as bright as the centre.
        # The pattern is summed in a double (exact for 0..255) because the
        # compiler vectorises double-to-double selects, not double-to-int ones.
        # Neighbours 0, 2, 4, 6 (right, up, left, down) sit on the pixel grid.
        for c in range(W):
            pattern[c] = ((1.0 if mid[c + 1] - mid[c] >= 0 else 0.0)
                          + (4.0 if mid[c - PW] - mid[c] >= 0 else 0.0)
                          + (16.0 if mid[c - 1] - mid[c] >= 0 else 0.0)
                          + (64.0 if mid[c + PW] - mid[c] >= 0 else 0.0))
        # Neighbours 1, 3, 5, 7 (up-right, up-left, down-left, down-right) are
        # interpolated; one flat loop each so that they vectorise.
        for c in range(W):
            pattern[c] += 2.0 if ((1 - du) * up_r[c] + du * mid_r[c]) - mid[c] >= 0 else 0.0
        for c in range(W):
            pattern[c] += 8.0 if ((1 - du) * up_l[c] + du * mid_l[c]) - mid[c] >= 0 else 0.0
        for c in range(W):
            pattern[c] += 32.0 if ((1 - dd) * mid_l[c] + dd * down_l[c]) - mid[c] >= 0 else 0.0
        for c in range(W):
            pattern[c] += 128.0 if ((1 - dd) * mid_r[c] + dd * down_r[c]) - mid[c] >= 0 else 0.0
        for c in range(W):
            codes[r * W + c] = uniform_code[<int>pattern[c]]


cdef inline Py_ssize_t _lbp_scratch_len(Py_ssize_t H, Py_ssize_t W) noexcept nogil:
    # padded image, interpolation ring, one row of bit patterns
    return (H + 2) * (W + 2) + 6 * W + W


cdef inline void _lbp_hist_one(const uint8_t* codes, Py_ssize_t H, Py_ssize_t W,
                               const Py_ssize_t* row_cell, const Py_ssize_t* col_cell,
                               int grid_c, int n_cells, int* counts,
                               const float* inv_area, float* out) noexcept nogil:
    """Histogram of the 10 uniform codes in each cell of a grid, each summing to 1."""
    cdef Py_ssize_t r, c, base, i
    memset(counts, 0, n_cells * 10 * sizeof(int))
    for r in range(H):
        base = row_cell[r] * grid_c
        for c in range(W):
            counts[(base + col_cell[c]) * 10 + codes[r * W + c]] += 1
    for i in range(n_cells * 10):
        out[i] = counts[i] * inv_area[i // 10]


cdef class _LbpPlan:
    """Everything the LBP kernel needs for one crop shape and grid, computed once."""
    cdef double[::1] dr_up, dr_down, dc_right, dc_left
    cdef uint8_t[::1] uniform_code
    cdef Py_ssize_t[::1] row_cell, col_cell
    cdef float[::1] inv_area
    cdef int grid_r, grid_c

    def __init__(self, dr_up, dr_down, dc_right, dc_left, uniform_code,
                 int grid_r, int grid_c, row_cell, col_cell, inv_area):
        self.dr_up, self.dr_down = dr_up, dr_down
        self.dc_right, self.dc_left = dc_right, dc_left
        self.uniform_code = uniform_code
        self.grid_r, self.grid_c = grid_r, grid_c
        self.row_cell, self.col_cell, self.inv_area = row_cell, col_cell, inv_area

    cdef LbpGeometry geometry(self):
        cdef LbpGeometry g
        g.dr_up = &self.dr_up[0]
        g.dr_down = &self.dr_down[0]
        g.dc_right = &self.dc_right[0]
        g.dc_left = &self.dc_left[0]
        return g


def lbp_codes_batch(const pixel_t[:, :, ::1] crops, uint8_t[:, :, ::1] out, _LbpPlan plan):
    """Uniform LBP code image of each crop of a ``(N, H, W)`` batch."""
    cdef Py_ssize_t N = crops.shape[0], H = crops.shape[1], W = crops.shape[2], n
    cdef LbpGeometry g = plan.geometry()
    cdef const uint8_t* ucode = &plan.uniform_code[0]
    cdef double* scratch
    with nogil:
        scratch = <double*>malloc(_lbp_scratch_len(H, W) * sizeof(double))
        if scratch == NULL:
            with gil:
                raise MemoryError()
        for n in range(N):
            _lbp_codes_one(&crops[n, 0, 0], H, W, &g, ucode, scratch, &out[n, 0, 0])
        free(scratch)


def lbp_hist_batch(const pixel_t[:, :, ::1] crops, float[:, ::1] out,
                   _LbpPlan plan, Py_ssize_t offset):
    """LBP histograms of each crop of a batch into ``out[:, offset:]``."""
    _hog_lbp(crops, out, NULL, plan, offset)


def hog_lbp_batch(const pixel_t[:, :, ::1] crops, float[:, ::1] out,
                  int orientations, int cell_r, int cell_c, int block_r, int block_c,
                  int norm, const double[::1] cos_e, const double[::1] sin_e,
                  _LbpPlan plan, Py_ssize_t offset):
    """HOG into ``out[:, :offset]`` and LBP histograms into ``out[:, offset:]``, one crop at a time."""
    cdef Py_ssize_t H = crops.shape[1], W = crops.shape[2]
    cdef HogParams p = _hog_params(orientations, cell_r, cell_c, block_r, block_c,
                                   H // cell_r, W // cell_c, norm, cos_e, sin_e)
    _hog_lbp(crops, out, &p, plan, offset)


cdef void _hog_lbp(const pixel_t[:, :, ::1] crops, float[:, ::1] out, const HogParams* p,
                   _LbpPlan plan, Py_ssize_t offset) except *:
    cdef Py_ssize_t N = crops.shape[0], H = crops.shape[1], W = crops.shape[2], n
    cdef LbpGeometry g = plan.geometry()
    cdef const uint8_t* ucode = &plan.uniform_code[0]
    cdef const Py_ssize_t* row_cell = &plan.row_cell[0]
    cdef const Py_ssize_t* col_cell = &plan.col_cell[0]
    cdef const float* inv_area = &plan.inv_area[0]
    cdef int grid_c = plan.grid_c, n_cells = plan.grid_r * plan.grid_c
    cdef double* pad = NULL
    cdef uint8_t* codes = NULL
    cdef int* counts = NULL
    cdef float* scratch = NULL
    cdef bint ok
    with nogil:
        pad = <double*>malloc(_lbp_scratch_len(H, W) * sizeof(double))
        codes = <uint8_t*>malloc(H * W)
        counts = <int*>malloc(n_cells * 10 * sizeof(int))
        if p != NULL:
            scratch = <float*>malloc(_hog_scratch_len(p) * sizeof(float))
        ok = pad != NULL and codes != NULL and counts != NULL and (p == NULL or scratch != NULL)
        if ok:
            for n in range(N):
                if p != NULL:
                    _hog_one(&crops[n, 0, 0], H, W, p, &out[n, 0], scratch)
                _lbp_codes_one(&crops[n, 0, 0], H, W, &g, ucode, pad, codes)
                _lbp_hist_one(codes, H, W, row_cell, col_cell, grid_c, n_cells, counts,
                              inv_area, &out[n, offset])
        free(pad)
        free(codes)
        free(counts)
        free(scratch)
    if not ok:
        raise MemoryError()


# -------------------------------------------------------- colour cues --
#
# BGR to YCrCb exactly as OpenCV's 8-bit ``cv2.COLOR_BGR2YCrCb`` does it:
# BT.601 weights in 14-bit fixed point, rounded half up, clipped to 0..255.

cdef enum:
    YCC_SHIFT = 14
    YCC_HALF = 1 << (YCC_SHIFT - 1)
    Y_B = 1868      # 0.114 * 2**14
    Y_G = 9617      # 0.587 * 2**14
    Y_R = 4899      # 0.299 * 2**14
    CR_K = 11682    # 0.713 * 2**14
    CB_K = 9241     # 0.564 * 2**14
    YCC_DELTA = 128 << YCC_SHIFT


cdef inline int _clip8(int v) noexcept nogil:
    return 0 if v < 0 else (255 if v > 255 else v)


cdef void _color_one(const uint8_t* img, Py_ssize_t H, Py_ssize_t W,
                     int skin_cell, int grid, const int* bounds, int* row,
                     int* skin, int* cr_sum, int* cb_sum, float* out) noexcept nogil:
    """Skin share of every ``skin_cell`` square, then mean Cr and mean Cb of every grid cell.

    Each row is first converted whole (a flat loop the compiler vectorises)
    into ``row``: Cr, Cb and a 0/1 skin flag per pixel; then summed per cell.
    """
    cdef Py_ssize_t y, x, k, c
    cdef int b, g, r, luma, cr, cb, total
    cdef int n_sr = H // skin_cell, n_sc = W // skin_cell
    cdef int gh = H // grid, gw = W // grid    # pixels per chroma cell
    cdef int* row_cr = row
    cdef int* row_cb = row + W
    cdef int* row_skin = row + 2 * W
    cdef int* cell_skin
    cdef const uint8_t* px
    memset(skin, 0, n_sr * n_sc * sizeof(int))
    memset(cr_sum, 0, grid * grid * sizeof(int))
    memset(cb_sum, 0, grid * grid * sizeof(int))
    for y in range(H):
        px = img + 3 * y * W
        for x in range(W):
            b = px[3 * x]
            g = px[3 * x + 1]
            r = px[3 * x + 2]
            luma = (b * Y_B + g * Y_G + r * Y_R + YCC_HALF) >> YCC_SHIFT
            cr = _clip8(((r - luma) * CR_K + YCC_DELTA + YCC_HALF) >> YCC_SHIFT)
            cb = _clip8(((b - luma) * CB_K + YCC_DELTA + YCC_HALF) >> YCC_SHIFT)
            row_cr[x] = cr
            row_cb[x] = cb
            row_skin[x] = ((bounds[0] <= cr) & (cr <= bounds[1])
                           & (bounds[2] <= cb) & (cb <= bounds[3]))
        if y < n_sr * skin_cell:
            cell_skin = skin + (y // skin_cell) * n_sc
            for c in range(n_sc):
                total = 0
                for x in range(c * skin_cell, (c + 1) * skin_cell):
                    total += row_skin[x]
                cell_skin[c] += total
        if y < grid * gh:
            k = (y // gh) * grid
            for c in range(grid):
                total = 0
                for x in range(c * gw, (c + 1) * gw):
                    total += row_cr[x]
                cr_sum[k + c] += total
                total = 0
                for x in range(c * gw, (c + 1) * gw):
                    total += row_cb[x]
                cb_sum[k + c] += total
    for k in range(n_sr * n_sc):
        out[k] = skin[k] / <float>(skin_cell * skin_cell)
    out += n_sr * n_sc
    for k in range(grid * grid):
        out[k] = cr_sum[k] / <float>(255 * gh * gw)
        out[grid * grid + k] = cb_sum[k] / <float>(255 * gh * gw)


def color_batch(const uint8_t[:, :, :, ::1] crops, float[:, ::1] out, int skin_cell, int grid,
                const int[::1] bounds):
    """Colour cues of BGR crops ``(N, H, W, 3)`` into ``out``, one row per crop.

    ``bounds`` is the skin box ``(cr_lo, cr_hi, cb_lo, cb_hi)``, inclusive.
    """
    cdef Py_ssize_t N = crops.shape[0], H = crops.shape[1], W = crops.shape[2], n
    cdef int* skin = NULL
    cdef int* sums = NULL
    cdef int* row = NULL
    cdef bint ok
    with nogil:
        skin = <int*>malloc((H // skin_cell) * (W // skin_cell) * sizeof(int) + sizeof(int))
        sums = <int*>malloc(2 * grid * grid * sizeof(int))
        row = <int*>malloc(3 * W * sizeof(int))
        ok = skin != NULL and sums != NULL and row != NULL
        if ok:
            for n in range(N):
                _color_one(&crops[n, 0, 0, 0], H, W, skin_cell, grid, &bounds[0], row,
                           skin, sums, sums + grid * grid, &out[n, 0])
        free(skin)
        free(sums)
        free(row)
    if not ok:
        raise MemoryError()
