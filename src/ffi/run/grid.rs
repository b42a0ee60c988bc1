//! Tensor metrics of a `simvue_run`: grids and arrays of values on them.

use std::ffi::c_char;

use super::super::convert::{cstr, opt_cstr, str_array};
use super::super::result::{simvue_result, FfiError, FfiResult};
use super::log::metric_options;
use super::{simvue_run, with_enabled_run};

/// Array layout: row-major (C): the last index varies fastest.
pub const SIMVUE_ROW_MAJOR: i32 = 0;
/// Array layout: column-major (Fortran): the first index varies fastest.
pub const SIMVUE_COLUMN_MAJOR: i32 = 1;

/// `n` sizes from a C array; NULL only when `n` is 0.
unsafe fn sizes<'a>(p: *const usize, n: usize, what: &str) -> FfiResult<&'a [usize]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(FfiError::null(format!(
            "{what} is NULL but its count is {n}"
        )));
    }
    Ok(std::slice::from_raw_parts(p, n))
}

/// Assigns metric `metric_name` to a grid (`assign_metric_to_grid`) for array values
/// (`simvue_run_log_metric_array`).
///
/// - With `n_axes` > 0: a new grid called `grid_name` (NULL: the metric's name) of `n_axes` axes
///   (1 to 3; offline 1 or 2, as simvue-sender 2.6.2 uploads no more). `axis_sizes[i]` is the
///   number of ticks of axis `i`, `ticks` all the ticks one axis after the other (ascending
///   within an axis), `labels` one label per axis.
/// - With `n_axes` 0 (`ticks`, `axis_sizes` and `labels` NULL): the grid called `grid_name`
///   that this run created before.
///
/// Axis 0 is the axis along which an array's values vary fastest: the last index of a
/// row-major C array (`double f[ny][nx]`: axes x, y) and the first of a Fortran array
/// (`f(nx, ny)`: axes x, y), so that both land on the server the same way.
///
/// # Safety
/// `run` is NULL or a live handle; strings are NULL or NUL-terminated; `axis_sizes` and
/// `labels` are NULL or hold `n_axes` elements, `ticks` the sum of `axis_sizes`.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_assign_metric_to_grid(
    run: *mut simvue_run,
    metric_name: *const c_char,
    grid_name: *const c_char,
    ticks: *const f64,
    axis_sizes: *const usize,
    n_axes: usize,
    labels: *const *const c_char,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let metric = cstr(metric_name, "metric_name")?;
        let grid_name = opt_cstr(grid_name, "grid_name")?;
        if n_axes == 0 {
            return Ok(run.assign_metric_to_grid(metric, grid_name, None)?);
        }
        let sizes = sizes(axis_sizes, n_axes, "axis_sizes")?;
        let labels = str_array(labels, n_axes, "labels")?;
        let total = sizes
            .iter()
            .try_fold(0usize, |t, &n| t.checked_add(n))
            .ok_or_else(|| FfiError::invalid("axis_sizes overflow"))?;
        if ticks.is_null() && total > 0 {
            return Err(FfiError::null(format!(
                "ticks is NULL but {total} are expected"
            )));
        }
        let all = if total == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(ticks, total)
        };
        let mut axes: Vec<&[f64]> = Vec::with_capacity(n_axes);
        let mut start = 0;
        for &n in sizes {
            axes.push(&all[start..start + n]);
            start += n;
        }
        Ok(run.assign_metric_to_grid(metric, grid_name, Some((&axes, &labels)))?)
    })
}

/// Logs an array of values of metric `name` at one step (the Python client's `log_metrics`
/// with a numpy array): a field over a grid, such as a temperature field or a density
/// profile. `values` holds the array of `ndim` (1 to 3) dimensions of sizes `shape`, in
/// `layout` `SIMVUE_ROW_MAJOR` (C: `double f[ny][nx]`, `shape = {ny, nx}`) or
/// `SIMVUE_COLUMN_MAJOR` (Fortran: `f(nx, ny)`, `shape = (nx, ny)`); both of these examples are
/// the same array on a grid with axes x, y (see `simvue_run_assign_metric_to_grid`). At most
/// 50000 values (the Python client's limit); NaN and infinities are allowed.
///
/// A metric not assigned to a grid gets one as in Python: named after the metric, with ticks
/// from 0 to 1 evenly spaced and labels `axis_0`, `axis_1`, ... The step counts up as for
/// `simvue_run_log_metrics`; `flags`, `step`, `time` and `timestamp` are those of
/// `simvue_run_log_metrics_ex` (to log an array at the step of other metrics, give the step).
///
/// # Safety
/// `run` is NULL or a live handle; `name` and `timestamp` are NULL or NUL-terminated; `shape`
/// is NULL or holds `ndim` sizes; `values` is NULL or holds their product.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_log_metric_array(
    run: *mut simvue_run,
    name: *const c_char,
    values: *const f64,
    shape: *const usize,
    ndim: usize,
    layout: i32,
    flags: u32,
    step: i64,
    time: f64,
    timestamp: *const c_char,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let name = cstr(name, "name")?;
        let shape = sizes(shape, ndim, "shape")?;
        // The grid's axis order, axis 0 first: the array's shape with its fastest index first.
        let axes: Vec<usize> = match layout {
            SIMVUE_ROW_MAJOR => shape.iter().rev().copied().collect(),
            SIMVUE_COLUMN_MAJOR => shape.to_vec(),
            l => {
                return Err(FfiError::unknown_enum(format!(
                    "{l} is not SIMVUE_ROW_MAJOR or SIMVUE_COLUMN_MAJOR"
                )))
            }
        };
        let n = shape
            .iter()
            .try_fold(1usize, |t, &d| t.checked_mul(d))
            .ok_or_else(|| FfiError::invalid(format!("shape {shape:?} overflows")))?;
        // Checked before reading: the core refuses more, and a wrong shape must not make this
        // read past the caller's array.
        if n > crate::run::MAX_TENSOR_SIZE {
            return Err(FfiError::invalid(format!(
                "an array metric holds at most {} values (the Python client's limit), got {n}",
                crate::run::MAX_TENSOR_SIZE
            )));
        }
        if values.is_null() && n > 0 {
            return Err(FfiError::null(format!(
                "values is NULL but shape holds {n}"
            )));
        }
        let data = if n == 0 || ndim == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(values, n)
        };
        let opts = metric_options(flags, step, time, timestamp)?;
        Ok(run.log_tensor(name, data, &axes, opts)?)
    })
}
