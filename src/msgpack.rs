//! MessagePack encoding of wire objects, as the Python client sends metrics and events
//! (`msgpack.packb(obj, use_bin_type=True)`: floats as float64, strings as str).

use crate::json::Json;
use crate::model::MetricBatch;

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = rmp::encode::write_str(out, s);
}

/// Encodes any wire tree.
pub fn encode(value: &Json, out: &mut Vec<u8>) {
    match value {
        Json::Null => rmp::encode::write_nil(out).unwrap_or(()),
        Json::Bool(b) => rmp::encode::write_bool(out, *b).unwrap_or(()),
        Json::Int(i) => {
            let _ = rmp::encode::write_sint(out, *i);
        }
        Json::Float(f) => {
            let _ = rmp::encode::write_f64(out, *f);
        }
        Json::Str(s) => write_str(out, s),
        Json::Array(items) => {
            let _ = rmp::encode::write_array_len(out, items.len() as u32);
            for item in items {
                encode(item, out);
            }
        }
        Json::Object(entries) => {
            let _ = rmp::encode::write_map_len(out, entries.len() as u32);
            for (k, v) in entries {
                write_str(out, k);
                encode(v, out);
            }
        }
    }
}

/// Encodes `{"run": run_id, "metrics": [...]}` straight from the batch's columns, names
/// copied from their ready-made encodings: the hot path of online uploads.
pub fn encode_metrics(run_id: &str, batch: &MetricBatch, out: &mut Vec<u8>) {
    let names = &*batch.names;
    // About what it takes (names of 10-odd bytes): one allocation, not a doubling series.
    out.reserve(64 + batch.len() * 64 + batch.values_len() * 24);
    let mut stamps = crate::model::TimestampText::new();
    let _ = rmp::encode::write_map_len(out, 2);
    write_str(out, "run");
    write_str(out, run_id);
    write_str(out, "metrics");
    let _ = rmp::encode::write_array_len(out, batch.len() as u32);
    for (h, ids, values) in batch.iter() {
        // fixmap(4), fixstr "time", float64
        out.extend_from_slice(b"\x84\xa4time\xcb");
        out.extend_from_slice(&h.time.to_be_bytes());
        // fixstr "timestamp", fixstr of 26 bytes
        out.extend_from_slice(b"\xa9timestamp\xba");
        out.extend_from_slice(stamps.get(h.timestamp));
        out.extend_from_slice(b"\xa4step");
        let _ = rmp::encode::write_uint(out, h.step);
        out.extend_from_slice(b"\xa6values");
        let _ = rmp::encode::write_map_len(out, ids.len() as u32);
        for (&id, &v) in ids.iter().zip(values) {
            out.extend_from_slice(names[id as usize].msgpack());
            out.push(0xcb);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn metrics_encode_like_the_generic_tree() {
        let items = vec![crate::model::MetricSet {
            time: 1.5,
            timestamp: Timestamp(1_000_000),
            step: 7,
            values: vec![("a".into(), 2.0), ("b".into(), f64::NAN)],
        }];
        let mut direct = Vec::new();
        encode_metrics("run1", &MetricBatch::from_sets(&items), &mut direct);
        let tree = Json::object().with("run", "run1").with(
            "metrics",
            Json::Array(vec![Json::Object(vec![
                ("time".into(), Json::Float(1.5)),
                (
                    "timestamp".into(),
                    Json::Str("1970-01-01T00:00:01.000000".into()),
                ),
                ("step".into(), Json::Int(7)),
                (
                    "values".into(),
                    Json::Object(vec![
                        ("a".into(), Json::Float(2.0)),
                        ("b".into(), Json::Float(f64::NAN)),
                    ]),
                ),
            ])]),
        );
        let mut generic = Vec::new();
        encode(&tree, &mut generic);
        assert_eq!(direct, generic);
        // fixmap(2), fixstr "run"
        assert_eq!(&direct[..5], &[0x82, 0xa3, b'r', b'u', b'n']);
        // floats are float64 (0xcb) as Python packs them
        assert!(direct
            .windows(9)
            .any(|w| w[0] == 0xcb && f64::from_be_bytes(w[1..].try_into().unwrap()) == 1.5));
    }
}
