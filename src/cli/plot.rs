//! Small charts in the terminal: one column per value, drawn with the eighth-block characters,
//! so a user on a cluster without web access can see how a metric went.

/// The block characters from one eighth to a full cell.
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A chart of `values` (the last `width` of them), `height` rows high, with the largest and
/// smallest finite values as labels on the first and last rows. Non-finite values leave their
/// column empty but for a `!` on the bottom row.
pub fn chart(values: &[f64], width: usize, height: usize) -> Vec<String> {
    let height = height.max(1);
    let shown = &values[values.len().saturating_sub(width.max(1))..];
    let finite: Vec<f64> = shown.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return vec![format!("{:>11} | {}", "", "!".repeat(shown.len()))];
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    // Each value's height in eighths of a cell, at least one eighth so that every point shows.
    let eighths: Vec<Option<usize>> = shown
        .iter()
        .map(|v| {
            v.is_finite().then(|| {
                let frac = if span > 0.0 { (v - lo) / span } else { 0.5 };
                1 + (frac * (height * 8 - 1) as f64).round() as usize
            })
        })
        .collect();
    (0..height)
        .map(|row_from_top| {
            let row = height - 1 - row_from_top;
            let cells: String = eighths
                .iter()
                .map(|e| match e {
                    None if row == 0 => '!',
                    None => ' ',
                    Some(e) => {
                        let filled = e.saturating_sub(row * 8);
                        match filled {
                            0 => ' ',
                            n if n >= 8 => BLOCKS[7],
                            n => BLOCKS[n - 1],
                        }
                    }
                })
                .collect();
            let label = if row_from_top == 0 {
                number(hi)
            } else if row == 0 {
                number(lo)
            } else {
                String::new()
            };
            format!("{label:>11} |{cells}")
        })
        .collect()
}

/// A number in at most 11 characters: six significant digits, or scientific notation when
/// very large or small.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        return format!("{v}");
    }
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let magnitude = if a == 0.0 {
            0
        } else {
            a.log10().floor() as i32
        };
        let decimals = (5 - magnitude).clamp(0, 9) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            return s.trim_end_matches('0').trim_end_matches('.').to_owned();
        }
        return s;
    }
    format!("{v:.3e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ramp_climbs_and_the_labels_are_its_ends() {
        let values: Vec<f64> = (0..16).map(f64::from).collect();
        let lines = chart(&values, 60, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("         15 |"), "{lines:?}");
        assert!(lines[1].starts_with("          0 |▁"), "{lines:?}");
        assert!(
            lines[0].ends_with('█') && lines[1].ends_with('█'),
            "{lines:?}"
        );
        // Only the last `width` values are drawn.
        assert_eq!(
            chart(&values, 4, 1)[0]
                .chars()
                .filter(|c| BLOCKS.contains(c))
                .count(),
            4
        );
    }

    #[test]
    fn constant_and_non_finite_values_still_draw() {
        let lines = chart(&[2.0, f64::NAN, 2.0], 10, 3);
        assert_eq!(lines.len(), 3);
        assert!(
            lines[2].ends_with("▄!▄") || lines[2].ends_with("█!█"),
            "{lines:?}"
        );
        assert_eq!(
            chart(&[f64::NAN], 10, 3),
            vec!["            | !".to_string()]
        );
        assert_eq!(number(1234567.0), "1234567");
        assert_eq!(number(1.0 / 3.0), "0.333333");
        assert_eq!(number(0.1353352832366127), "0.135335");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(-1.5e-7), "-1.500e-7");
        assert_eq!(number(0.0), "0");
    }
}
