//! Metric units as the Python client records them (`set_metric_units`, protocol doc §4.5): a
//! unit symbol, and its conversion to MKS units, which 2.6.2 works out with `unyt`
//! (`unyt_quantity.from_string(units).in_mks()`). This module reads the same expressions
//! for the units of physics and engineering that unyt knows (SI base and derived units with
//! their prefixes, and the common others), combined with `*`, `/` and `**<integer>`, and gives
//! the factor and the MKS unit as unyt writes them (`kg/(m*s)`, `m**(-3)`, named units such as
//! `J` or `Pa` where the MKS system has one). What it does not know gets no conversion, as in
//! Python when unyt cannot read the unit.

/// Dimensions: powers of m, kg, s, K, A, cd, rad (unyt's base dimensions that MKS keeps).
type Dims = [i32; 7];

const M: Dims = [1, 0, 0, 0, 0, 0, 0];
const KG: Dims = [0, 1, 0, 0, 0, 0, 0];
const S: Dims = [0, 0, 1, 0, 0, 0, 0];
const K: Dims = [0, 0, 0, 1, 0, 0, 0];
const A: Dims = [0, 0, 0, 0, 1, 0, 0];
const CD: Dims = [0, 0, 0, 0, 0, 1, 0];
const RAD: Dims = [0, 0, 0, 0, 0, 0, 1];
const NONE: Dims = [0; 7];
const BASE_SYMBOLS: [&str; 7] = ["m", "kg", "s", "K", "A", "cd", "rad"];

const fn dims(m: i32, kg: i32, s: i32, k: i32, a: i32, cd: i32, rad: i32) -> Dims {
    [m, kg, s, k, a, cd, rad]
}

/// The units of unyt's MKS system that have a name of their own (`unit_systems.py`).
const NAMED: [(&str, Dims); 14] = [
    ("J", dims(2, 1, -2, 0, 0, 0, 0)),
    ("J/kg", dims(2, 0, -2, 0, 0, 0, 0)),
    ("Pa", dims(-1, 1, -2, 0, 0, 0, 0)),
    ("N", dims(1, 1, -2, 0, 0, 0, 0)),
    ("T", dims(0, 1, -2, 0, -1, 0, 0)),
    ("C", dims(0, 0, 1, 0, 1, 0, 0)),
    ("Hz", dims(0, 0, -1, 0, 0, 0, 0)),
    ("W", dims(2, 1, -3, 0, 0, 0, 0)),
    ("V", dims(2, 1, -3, 0, -1, 0, 0)),
    ("F", dims(-2, -1, 4, 0, 2, 0, 0)),
    ("H", dims(2, 1, -2, 0, -2, 0, 0)),
    ("Ω", dims(2, 1, -3, 0, -2, 0, 0)),
    ("Wb", dims(2, 1, -2, 0, -1, 0, 0)),
    ("lm", dims(0, 0, 0, 0, 0, 1, 2)),
];

/// Units that take SI prefixes: symbol, value in MKS units, dimensions (unyt's values).
const PREFIXABLE: [(&str, f64, Dims); 22] = [
    ("m", 1.0, M),
    ("g", 0.001, KG),
    ("s", 1.0, S),
    ("K", 1.0, K),
    ("A", 1.0, A),
    ("cd", 1.0, CD),
    ("rad", 1.0, RAD),
    ("mol", 6.02214129011674e23, NONE),
    ("N", 1.0, NAMED[3].1),
    ("J", 1.0, NAMED[0].1),
    ("W", 1.0, NAMED[7].1),
    ("Pa", 1.0, NAMED[2].1),
    ("Hz", 1.0, NAMED[6].1),
    ("C", 1.0, NAMED[5].1),
    ("V", 1.0, NAMED[8].1),
    ("F", 1.0, NAMED[9].1),
    ("H", 1.0, NAMED[10].1),
    ("T", 1.0, NAMED[4].1),
    ("Wb", 1.0, NAMED[12].1),
    ("eV", 1.602176562e-19, NAMED[0].1),
    ("L", 0.001, dims(3, 0, 0, 0, 0, 0, 0)),
    ("bar", 100000.0, NAMED[2].1),
];

/// Other units, without prefixes (and the prefixed ones unyt knows under a name of their own).
const OTHERS: [(&str, f64, Dims); 39] = [
    ("ohm", 1.0, NAMED[11].1),
    ("Ω", 1.0, NAMED[11].1),
    ("lm", 1.0, NAMED[13].1),
    ("l", 0.001, dims(3, 0, 0, 0, 0, 0, 0)),
    ("Wh", 3600.0, NAMED[0].1),
    ("kWh", 3600000.0, NAMED[0].1),
    ("cal", 4.184, NAMED[0].1),
    ("kcal", 4184.0, NAMED[0].1),
    ("erg", 1e-07, NAMED[0].1),
    ("atm", 101325.0, NAMED[2].1),
    ("psi", 6894.757293168361, NAMED[2].1),
    ("G", 0.0001, NAMED[4].1),
    ("Gauss", 0.0001, NAMED[4].1),
    ("Sv", 1.0, NAMED[1].1),
    ("min", 60.0, S),
    ("minute", 60.0, S),
    ("hr", 3600.0, S),
    ("hour", 3600.0, S),
    ("day", 86400.0, S),
    ("yr", 31557600.0, S),
    ("year", 31557600.0, S),
    ("angstrom", 1e-10, M),
    ("inch", 0.0254, M),
    ("ft", 0.3048, M),
    ("mile", 1609.344, M),
    ("au", 149597870750.76672, M),
    ("pc", 3.085677580962325e16, M),
    ("ly", 9460528409678268.0, M),
    ("ha", 10000.0, dims(2, 0, 0, 0, 0, 0, 0)),
    ("lb", 0.45359237, KG),
    ("amu", 1.660538921e-27, KG),
    ("mph", 0.44704, dims(1, 0, -1, 0, 0, 0, 0)),
    ("knot", 0.5144444444444445, dims(1, 0, -1, 0, 0, 0, 0)),
    ("deg", 0.017453292519943295, RAD),
    ("sr", 1.0, dims(0, 0, 0, 0, 0, 0, 2)),
    ("percent", 0.01, NONE),
    ("dimensionless", 1.0, NONE),
    ("counts", 1.0, NONE),
    ("1", 1.0, NONE),
];

/// Spelled-out names unyt accepts for some units.
const LONG_NAMES: [(&str, &str); 7] = [
    ("meter", "m"),
    ("second", "s"),
    ("kilogram", "kg"),
    ("gram", "g"),
    ("kelvin", "K"),
    ("liter", "L"),
    ("litre", "L"),
];

/// SI prefixes (unyt's; `u` and the Greek `μ` for micro, not the micro sign `µ`).
const PREFIXES: [(&str, f64); 21] = [
    ("Y", 1e24),
    ("Z", 1e21),
    ("E", 1e18),
    ("P", 1e15),
    ("T", 1e12),
    ("G", 1e9),
    ("M", 1e6),
    ("k", 1e3),
    ("h", 1e2),
    ("da", 1e1),
    ("d", 1e-1),
    ("c", 1e-2),
    ("m", 1e-3),
    ("u", 1e-6),
    ("μ", 1e-6),
    ("n", 1e-9),
    ("p", 1e-12),
    ("f", 1e-15),
    ("a", 1e-18),
    ("z", 1e-21),
    ("y", 1e-24),
];

/// One unit symbol: its value in MKS units and its dimensions.
fn symbol(s: &str) -> Option<(f64, Dims)> {
    let s = LONG_NAMES
        .iter()
        .find(|(long, _)| *long == s)
        .map_or(s, |(_, short)| short);
    if let Some((_, v, d)) = OTHERS.iter().find(|(n, _, _)| *n == s) {
        return Some((*v, *d));
    }
    if let Some((_, v, d)) = PREFIXABLE.iter().find(|(n, _, _)| *n == s) {
        return Some((*v, *d));
    }
    PREFIXES.iter().find_map(|(p, factor)| {
        let rest = s.strip_prefix(p)?;
        let (_, v, d) = PREFIXABLE.iter().find(|(n, _, _)| *n == rest)?;
        Some((factor * v, *d))
    })
}

/// Temperatures with an offset are only read alone, as quantities of one degree (what
/// `unyt_quantity.from_string("degC").in_mks()` gives).
const OFFSET_UNITS: [(&str, f64); 2] = [("degC", 274.15), ("degF", 255.92777777777778)];

/// The factor to MKS units and the MKS unit of `units` as unyt writes them, or `None` when
/// unyt could not read it (or this module does not know it).
pub fn to_mks(units: &str) -> Option<(f64, String)> {
    if let Some((_, v)) = OFFSET_UNITS.iter().find(|(n, _)| *n == units) {
        return Some((*v, "K".to_owned()));
    }
    let mut value = 1.0_f64;
    let mut total: Dims = NONE;
    // term (('*' | '/') term)*, term = symbol ('**' integer)?; no spaces, no parentheses
    // (unyt refuses both).
    for (divide, term) in terms(units)? {
        let (name, power) = match term.split_once("**") {
            Some((n, p)) => (n, p.parse::<i32>().ok()?),
            None => (term, 1),
        };
        let (v, d) = symbol(name)?;
        let power = if divide { -power } else { power };
        if power >= 0 {
            value *= v.powf(power as f64);
        } else {
            value /= v.powf(-power as f64);
        }
        for (t, x) in total.iter_mut().zip(d) {
            *t += x * power;
        }
    }
    let unit = NAMED
        .iter()
        .find(|(_, d)| *d == total)
        .map(|(n, _)| (*n).to_owned())
        .unwrap_or_else(|| format_base(total));
    Some((value, unit))
}

/// The terms of a product and quotient, each with whether it divides; `None` for an empty
/// term. A `*` is a product unless it is part of `**`.
fn terms(units: &str) -> Option<Vec<(bool, &str)>> {
    let b = units.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut divide, mut i) = (0, false, 0);
    while i <= b.len() {
        let sep = i == b.len() || b[i] == b'/' || (b[i] == b'*' && b.get(i + 1) != Some(&b'*'));
        if b.get(i) == Some(&b'*') && b.get(i + 1) == Some(&b'*') {
            i += 2;
            continue;
        }
        if sep {
            if i == start {
                return None;
            }
            out.push((divide, &units[start..i]));
            divide = b.get(i) == Some(&b'/');
            start = i + 1;
        }
        i += 1;
    }
    Some(out)
}

/// Base units as sympy prints their product: factors in ASCII order of their symbols,
/// `a*b**2/(c*d)`, `1/m`, `m**(-3)`, `dimensionless`.
fn format_base(d: Dims) -> String {
    let mut factors: Vec<(&str, i32)> = BASE_SYMBOLS
        .iter()
        .zip(d)
        .filter(|(_, p)| *p != 0)
        .map(|(s, p)| (*s, p))
        .collect();
    factors.sort_by(|a, b| a.0.cmp(b.0));
    let fmt = |(s, p): (&str, i32)| {
        if p == 1 {
            s.to_owned()
        } else {
            format!("{s}**{p}")
        }
    };
    let num: Vec<String> = factors
        .iter()
        .filter(|(_, p)| *p > 0)
        .map(|f| fmt(*f))
        .collect();
    let den: Vec<String> = factors
        .iter()
        .filter(|(_, p)| *p < 0)
        .map(|(s, p)| fmt((s, -p)))
        .collect();
    match (num.is_empty(), den.len()) {
        (true, 0) => "dimensionless".to_owned(),
        (false, 0) => num.join("*"),
        (true, 1) => {
            let (s, p) = factors[0];
            if p == -1 {
                format!("1/{s}")
            } else {
                format!("{s}**({p})")
            }
        }
        (true, _) => format!("1/({})", den.join("*")),
        (false, 1) => format!("{}/{}", num.join("*"), den[0]),
        (false, _) => format!("{}/({})", num.join("*"), den.join("*")),
    }
}

#[cfg(test)]
mod tests {
    use super::to_mks;

    #[test]
    fn units_convert_as_unyt_converts_them() {
        // What unyt 3.2 (simvue 2.6.2's) gives: float(q.in_mks().value), str(q.in_mks().units).
        let cases: &[(&str, f64, &str)] = &[
            ("km", 1000.0, "m"),
            ("g", 0.001, "kg"),
            ("mg", 1e-06, "kg"),
            ("MeV", 1.6021765619999998e-13, "J"),
            ("degC", 274.15, "K"),
            ("mol", 6.02214129011674e+23, "dimensionless"),
            ("L", 0.001, "m**3"),
            ("W/m**2", 1.0, "kg/s**3"),
            ("g/cm**3", 999.9999999999999, "kg/m**3"),
            ("cm**3", 1.0000000000000002e-06, "m**3"),
            ("Pa*s", 1.0, "kg/(m*s)"),
            ("V/m", 1.0, "kg*m/(A*s**3)"),
            ("m**-3", 1.0, "m**(-3)"),
            ("1/s", 1.0, "Hz"),
            ("s**-1*m**-1", 1.0, "1/(m*s)"),
            ("A**2*s**4/kg/m**2", 1.0, "F"),
            ("K*A*cd", 1.0, "A*K*cd"),
            ("keV/um", 1.602176562e-10, "N"),
            ("uA*hr", 0.0036, "C"),
            ("deg/s", 0.017453292519943295, "rad/s"),
            ("percent", 0.01, "dimensionless"),
            ("ohm", 1.0, "Ω"),
        ];
        for (u, v, mks) in cases {
            assert_eq!(to_mks(u), Some((*v, (*mks).to_owned())), "{u}");
        }
        for u in [
            "Å", "h", "km/h", "m^2", "%", "weird", "kg/(m*s)", "kg m", "", "m/", "µm",
        ] {
            assert_eq!(to_mks(u), None, "{u}");
        }
    }
}
