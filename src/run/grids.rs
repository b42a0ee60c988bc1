//! Tensor metrics: a metric assigned to a grid (`assign_metric_to_grid`) and arrays of values
//! on it at a step (array-valued `log_metrics` in the Python client; protocol doc §4.6).
//!
//! Shapes here are in grid-axis order, axis 0 first, and values run along axis 0 fastest: the
//! memory of a Fortran array `f(nx, ny)` and of a C array `f[ny][nx]` (the C layer turns a
//! row-major shape around). The wire's nested list is the other way round (`model::TensorSet`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Run;
use crate::dispatch::MetricOptions;
use crate::error::{Error, Result};
use crate::model::Grid;
use crate::validate;

/// The most values an array metric may hold (`MAXIMUM_GRID_METRIC_SIZE` of the Python client,
/// which skips larger arrays with a warning).
pub const MAX_TENSOR_SIZE: usize = 50_000;

/// The most axes a grid may have here (2.6.2 itself creates grids of 1 or 2 axes).
pub const MAX_GRID_AXES: usize = 3;

/// The grids of a run and which metric is on which.
#[derive(Default)]
pub(super) struct Grids {
    /// Grids created by this run: the grid (with its attachments) and its id; the latest of a
    /// name is the one a name refers to.
    defined: Vec<(Grid, String)>,
    /// metric -> (grid id, grid shape).
    metrics: Vec<(String, Arc<str>, Vec<usize>)>,
}

impl Run {
    /// Assigns `metric` to a grid (`assign_metric_to_grid`): a new grid `grid_name` (default:
    /// the metric's name) with `axes` (the ticks of each axis, ascending; 1 to 3 axes) and one
    /// label each, or, without `axes`, a grid of that name this run created before.
    pub fn assign_metric_to_grid(
        &self,
        metric: &str,
        grid_name: Option<&str>,
        axes: Option<(&[&[f64]], &[&str])>,
    ) -> Result<()> {
        self.api((), || {
            validate::metric_name(metric)?;
            let grid_name = grid_name.unwrap_or(metric);
            validate::non_empty("grid name", grid_name)?;
            let new = axes
                .map(|(ticks, labels)| new_grid(grid_name, ticks, labels))
                .transpose()?;
            let a = self.active()?;
            let mut grids = a.grids.lock();
            if let Some(g) = new {
                let id = a.sink.create_grid(&g)?;
                grids.defined.push((g, id));
            }
            let Some(i) = grids.defined.iter().rposition(|(g, _)| g.name == grid_name) else {
                return Err(Error::invalid(format!(
                    "grid {grid_name:?} is not defined: give its axes and labels"
                )));
            };
            let (grid, id) = &mut grids.defined[i];
            grid.runs.push((a.id.clone(), metric.to_owned()));
            a.sink.attach_grid(id, grid, &a.id, metric)?;
            let (id, shape): (Arc<str>, _) = (id.as_str().into(), grid.shape());
            grids.metrics.retain(|(m, _, _)| m != metric);
            grids.metrics.push((metric.to_owned(), id, shape));
            Ok(())
        })
    }

    /// Logs an array of values of `metric` at one step (array-valued `log_metrics`): `shape`
    /// is the number of points along each grid axis (axis 0 first), `values` the values with
    /// axis 0 varying fastest. A metric not assigned to a grid gets one as in Python: named
    /// after it, with ticks evenly spaced from 0 to 1 and labels `axis_0`, `axis_1`, ... The
    /// step counts up as for `log_metrics`.
    pub fn log_tensor(
        &self,
        metric: &str,
        values: &[f64],
        shape: &[usize],
        opts: MetricOptions,
    ) -> Result<()> {
        self.api((), || {
            validate::metric_name(metric)?;
            if shape.is_empty() || shape.len() > MAX_GRID_AXES {
                return Err(Error::invalid(format!(
                    "an array metric has 1 to {MAX_GRID_AXES} dimensions, got {}",
                    shape.len()
                )));
            }
            let size = shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::invalid(format!("shape {shape:?} is empty")))?;
            if size != values.len() {
                return Err(Error::invalid(format!(
                    "shape {shape:?} holds {size} values, but {} were given",
                    values.len()
                )));
            }
            if size > MAX_TENSOR_SIZE {
                return Err(Error::invalid(format!(
                    "an array metric holds at most {MAX_TENSOR_SIZE} values (the Python client's MAXIMUM_GRID_METRIC_SIZE), got {size}"
                )));
            }
            let a = self.active()?;
            self.reporter.take_background()?;
            if !a.accepting.load(Ordering::Acquire) {
                return Err(Error::state(
                    "metrics can only be logged while the run is running",
                ));
            }
            if self.units_pending.load(Ordering::Relaxed) {
                self.send_metric_units()?;
            }
            let known = a
                .grids
                .lock()
                .metrics
                .iter()
                .find(|(m, _, _)| m == metric)
                .map(|(_, id, s)| (id.clone(), s.clone()));
            let (grid, grid_shape) = match known {
                Some(k) => k,
                None => {
                    self.assign_default_grid(metric, shape)?;
                    let g = a.grids.lock();
                    let (_, id, s) = g
                        .metrics
                        .iter()
                        .find(|(m, _, _)| m == metric)
                        .ok_or_else(|| Error::state("the metric's grid was not recorded"))?;
                    (id.clone(), s.clone())
                }
            };
            if grid_shape != shape {
                return Err(Error::invalid(format!(
                    "metric {metric:?} is on a grid of shape {grid_shape:?} (axis 0 first), the array has shape {shape:?}"
                )));
            }
            match &a.dispatcher {
                Some(d) => d.log_tensor(
                    metric.into(),
                    grid,
                    shape.to_vec(),
                    values.to_vec(),
                    opts,
                ),
                None => Err(Error::state(
                    "metrics can only be logged while the run is running",
                )),
            }
        })
    }

    /// The grid the Python client gives an array metric that has none: `np.linspace(0, 1, n)`
    /// for each axis and labels `axis_<i>` (run.py `log_metrics`).
    fn assign_default_grid(&self, metric: &str, shape: &[usize]) -> Result<()> {
        let ticks: Vec<Vec<f64>> = shape.iter().map(|&n| linspace01(n)).collect();
        let ticks: Vec<&[f64]> = ticks.iter().map(Vec::as_slice).collect();
        let labels: Vec<String> = (0..shape.len()).map(|i| format!("axis_{i}")).collect();
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        self.assign_metric_to_grid(metric, Some(metric), Some((&ticks, &labels)))
    }
}

/// `numpy.linspace(0, 1, n)`: `i * (1 / (n - 1))`, the last exactly 1.
fn linspace01(n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![0.0];
    }
    let step = 1.0 / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step).collect();
    if let Some(last) = v.last_mut() {
        *last = 1.0;
    }
    v
}

/// A checked grid: 1 to 3 axes of ascending finite ticks, a non-empty label each.
fn new_grid(name: &str, ticks: &[&[f64]], labels: &[&str]) -> Result<Grid> {
    if ticks.is_empty() || ticks.len() > MAX_GRID_AXES {
        return Err(Error::invalid(format!(
            "a grid has 1 to {MAX_GRID_AXES} axes, got {}",
            ticks.len()
        )));
    }
    if labels.len() != ticks.len() {
        return Err(Error::invalid(format!(
            "a grid needs one label per axis: {} axes, {} labels",
            ticks.len(),
            labels.len()
        )));
    }
    for (i, axis) in ticks.iter().enumerate() {
        if axis.is_empty() {
            return Err(Error::invalid(format!("axis {i} of the grid has no ticks")));
        }
        for &t in axis.iter() {
            validate::finite(&format!("a tick of axis {i}"), t)?;
        }
        if axis.windows(2).any(|w| w[1] < w[0]) {
            return Err(Error::invalid(format!(
                "axis {i} has unordered values (ticks must be ascending)"
            )));
        }
    }
    for l in labels {
        validate::non_empty("axis label", l)?;
    }
    Ok(Grid {
        name: name.to_owned(),
        axes: ticks.iter().map(|a| a.to_vec()).collect(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        runs: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::linspace01;

    #[test]
    fn default_ticks_are_numpys_linspace() {
        assert_eq!(linspace01(1), vec![0.0]);
        assert_eq!(linspace01(2), vec![0.0, 1.0]);
        assert_eq!(
            linspace01(4),
            vec![0.0, 0.3333333333333333, 0.6666666666666666, 1.0]
        );
    }
}
