//! What the vendor faces' tests share: comparing a reply with a seed example.

use serde_json::Value;

/// The time formats the seeds use, each as (name, predicate).
fn time_format(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let base = b.len() >= 23
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23);
    match (base, &s.get(23..)) {
        (true, Some("Z")) => Some("RFC 3339 with milliseconds and Z"),
        (true, Some("+00:00")) => Some("RFC 3339 with milliseconds and +00:00"),
        _ => None,
    }
}

/// Asserts that `actual` has the shape of the seed's `expected`: the same keys
/// present, the same JSON types, the same nesting and the same time formats. Ids,
/// times and other values may differ.
pub fn assert_same_shape(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut a_keys: Vec<&String> = a.keys().collect();
            let mut e_keys: Vec<&String> = e.keys().collect();
            a_keys.sort();
            e_keys.sort();
            assert_eq!(a_keys, e_keys, "keys of {path}");
            for (key, e_value) in e {
                assert_same_shape(&a[key], e_value, &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "length of {path}");
            for (i, (a_item, e_item)) in a.iter().zip(e).enumerate() {
                assert_same_shape(a_item, e_item, &format!("{path}[{i}]"));
            }
        }
        (Value::String(a), Value::String(e)) => {
            assert_eq!(
                time_format(a),
                time_format(e),
                "time format of {path}: {a:?} vs {e:?}"
            );
        }
        (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        _ => panic!("{path}: {actual} is not of the type of {expected}"),
    }
}

pub fn seed(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("seed fixture")).expect("seed JSON")
}

#[test]
fn shapes_compare_keys_types_and_time_formats() {
    use serde_json::json;
    let seed = json!({"a": "2021-05-02T12:46:27.823Z", "b": [1], "c": {"d": true}});
    assert_same_shape(
        &json!({"a": "2026-01-01T00:00:00.000Z", "b": [7], "c": {"d": false}}),
        &seed,
        "$",
    );
    for wrong in [
        json!({"a": "2026-01-01T00:00:00Z", "b": [7], "c": {"d": false}}),
        json!({"a": "2026-01-01T00:00:00.000+00:00", "b": [7], "c": {"d": false}}),
        json!({"a": "2026-01-01T00:00:00.000Z", "b": ["7"], "c": {"d": false}}),
        json!({"a": "2026-01-01T00:00:00.000Z", "b": [7], "c": {}}),
        json!({"a": "2026-01-01T00:00:00.000Z", "b": [7], "c": {"d": false}, "e": 1}),
        json!({"a": null, "b": [7], "c": {"d": false}}),
    ] {
        let result = std::panic::catch_unwind(|| assert_same_shape(&wrong, &seed, "$"));
        assert!(result.is_err(), "{wrong} should not match");
    }
}
