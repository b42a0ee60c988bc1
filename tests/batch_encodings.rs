//! A metrics batch is serialised three ways: as a generic tree (`model::metrics_batch`, the
//! reference), as compact text straight from the batch's columns (`model::metrics_batch_text`,
//! the offline writer's hot path) and as msgpack straight from the columns
//! (`msgpack::encode_metrics`, the online sender's). The fast writers must say exactly what the
//! tree says, for any batch: the text byte for byte the tree's compact form (the tree's
//! indented form, what simvue 2.6.2 writes, differs only in whitespace, which
//! `src/model.rs` checks against a file it wrote), the msgpack byte for byte the tree's
//! encoding. This checks it over many random batches, weighted towards the awkward values (NaN,
//! infinities, negative zero, subnormals, extreme magnitudes, escapes and non-ASCII in names,
//! empty sets).
//!
//! The generator is a seeded xorshift, so a failure names the seed and the case that found it;
//! `SIMVUE_PROPTEST_CASES` and `SIMVUE_PROPTEST_SEED` run more cases or replay one.

use std::sync::Arc;

use simvue::json::Json;
use simvue::model::{metrics_batch, metrics_batch_text, MetricBatch, MetricSet};
use simvue::msgpack;
use simvue::time::Timestamp;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn float(&mut self) -> f64 {
        match self.below(12) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -0.0,
            4 => f64::MIN_POSITIVE / (1u64 << self.below(52)) as f64, // subnormal
            5 => f64::MAX / (1 + self.below(4)) as f64,
            6 => self.below(1000) as f64,             // integral
            7 => (self.below(1 << 20) as f64) * 1e-7, // short decimals
            8 => 1e16 * (1 + self.below(9)) as f64,   // around repr's switch to exponent
            9 => 1e-5 * (1 + self.below(9)) as f64,   // ... and at the small end
            _ => f64::from_bits(self.next()),         // anything, NaN payloads included
        }
    }

    fn name(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "T",
            "residual",
            "/",
            "_",
            "-",
            ".",
            " ",
            "0",
            "\u{e9}",
            "\u{3c0}",
            "\u{1f600}",
            "\"",
            "\\",
            "\t",
            "\u{7f}",
            "\u{1}",
            "\u{2028}",
        ];
        let len = 1 + self.below(6);
        (0..len)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }

    fn metric_set(&mut self) -> MetricSet {
        let n = self.below(5) as usize; // 0 values is allowed on the wire
        let mut values: Vec<(Arc<str>, f64)> = Vec::with_capacity(n);
        while values.len() < n {
            let name = self.name();
            if !values.iter().any(|(k, _)| **k == *name) {
                values.push((Arc::from(name.as_str()), self.float()));
            }
        }
        MetricSet {
            time: self.float(),
            // From 1970 to about 2100, microseconds.
            timestamp: Timestamp((self.next() % 4_102_444_800_000_000) as i64),
            step: match self.below(3) {
                0 => self.below(10),
                // Steps are at most i64::MAX: the dispatcher refuses larger ones.
                1 => (self.next() >> 1) >> self.below(63),
                _ => i64::MAX as u64 - self.below(3),
            },
            values,
        }
    }
}

/// The msgpack body of a batch, built the slow way from the generic tree.
fn msgpack_of_tree(run: &str, items: &[MetricSet]) -> Vec<u8> {
    let tree = Json::object().with("run", run).with(
        "metrics",
        Json::Array(items.iter().map(MetricSet::to_json).collect()),
    );
    let mut out = Vec::new();
    msgpack::encode(&tree, &mut out);
    out
}

#[test]
fn fast_writers_match_the_tree_on_random_batches() {
    let cases: u64 = std::env::var("SIMVUE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("SIMVUE_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_cafe_f00d_d00d);
    let mut rng = Rng(seed | 1);
    let mut values_seen = 0;
    for case in 0..cases {
        let items: Vec<MetricSet> = (0..rng.below(6)).map(|_| rng.metric_set()).collect();
        values_seen += items.iter().map(|m| m.values.len()).sum::<usize>();
        let run = if case % 2 == 0 {
            "offline_x"
        } else {
            "r\u{e9}\"1"
        };
        let batch = MetricBatch::from_sets(&items);
        // Debug tells NaN from NaN and 0.0 from -0.0 as `==` does not.
        assert_eq!(
            format!("{:?}", batch.to_sets()),
            format!("{items:?}"),
            "the columns hold the sets (seed {seed}, case {case})"
        );
        let tree = metrics_batch(run, &items).to_compact_json();
        let text = metrics_batch_text(run, &batch);
        assert_eq!(
            text, tree,
            "text writer differs from the tree (seed {seed}, case {case})"
        );
        let mut direct = Vec::new();
        msgpack::encode_metrics(run, &batch, &mut direct);
        assert_eq!(
            direct,
            msgpack_of_tree(run, &items),
            "msgpack writer differs from the tree (seed {seed}, case {case})"
        );
    }
    assert!(
        values_seen > cases as usize,
        "the generator produced values"
    );
}

#[test]
fn the_generator_reaches_the_awkward_values() {
    // A property test is only as good as its inputs: make sure the weighted generator really
    // produces every kind of value and name piece the writers treat specially.
    let mut rng = Rng(12345);
    let floats: Vec<f64> = (0..5000).map(|_| rng.float()).collect();
    assert!(floats.iter().any(|f| f.is_nan()));
    assert!(floats.contains(&f64::INFINITY));
    assert!(floats.contains(&f64::NEG_INFINITY));
    assert!(floats.iter().any(|f| *f == 0.0 && f.is_sign_negative()));
    assert!(floats.iter().any(|f| f.is_subnormal()));
    assert!(floats.iter().any(|f| f.abs() >= 1e16 && f.is_finite()));
    let names: Vec<String> = (0..2000).map(|_| rng.name()).collect();
    for needle in ["\"", "\\", "\u{1}", "\u{1f600}", "\u{7f}"] {
        assert!(names.iter().any(|n| n.contains(needle)), "{needle:?}");
    }
}
